package guard

import (
	"encoding/base64"
	"slices"
	"strings"
	"unicode/utf8"
)

// Views of a text that undo common obfuscations, each built in one linear
// pass with a size cap. The built-in injection detector scores each view
// that differs from the normalised text and reports which one it needed.

// maxViewBytes caps the bytes any one view (and all decoded base64 text
// of a scan together) may hold; text beyond it is not looked at again.
const maxViewBytes = 64 << 10

// maxDecodeDepth bounds nested encodings (base64 of base64 …).
const maxDecodeDepth = 3

// leetMap maps the digits and symbols of leetspeak to letters.
var leetMap = [256]byte{'0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '8': 'b', '@': 'a', '$': 's', '!': 'i', '|': 'l', '+': 't'}

// unleet rewrites words that mix letters with leetspeak digits or
// symbols ("1gn0r3", "pr3v!0us") into letters; other bytes are copied.
// It reports how many words it changed.
func unleet(norm []byte, buf []byte) ([]byte, int) {
	if !hasLeet(norm) || leetWords(norm, nil) == 0 {
		return nil, 0
	}
	out := buf[:0]
	return out, leetWords(norm, &out)
}

// leetWords counts the words unleet rewrites and, when out is not nil,
// appends the rewritten text to it.
func leetWords(norm []byte, out *[]byte) int {
	changed := 0
	put := func(c byte) {
		if out != nil {
			*out = append(*out, c)
		}
	}
	n := min(len(norm), maxViewBytes)
	for i := 0; i < n; {
		// a "word" is a run of ASCII letters, digits and leet symbols
		j := i
		letters, leets := 0, 0
		for j < n && (isAlpha(norm[j]) || leetMap[norm[j]] != 0) {
			if isAlpha(norm[j]) {
				letters++
			} else {
				leets++
			}
			j++
		}
		if j == i {
			put(norm[i])
			i++
			continue
		}
		// '@' inside a word is an e-mail address, not leetspeak
		email := false
		for k := i + 1; k < j; k++ {
			if norm[k] == '@' {
				email = true
			}
		}
		if letters >= 2 && leets >= 1 && leets <= letters+1 && !email {
			changed++
			for k := i; k < j; k++ {
				if c := leetMap[norm[k]]; c != 0 && !isAlpha(norm[k]) {
					put(c)
				} else {
					put(norm[k])
				}
			}
		} else {
			if out != nil {
				*out = append(*out, norm[i:j]...)
			}
		}
		i = j
	}
	return changed
}

// hasLeet reports whether some ASCII letter is next to a leet digit or
// symbol: the cheap test before unleet builds a view.
func hasLeet(norm []byte) bool {
	n := min(len(norm), maxViewBytes)
	for i := 1; i < n; i++ {
		a, b := norm[i-1], norm[i]
		if isAlpha(a) && leetMap[b] != 0 || leetMap[a] != 0 && isAlpha(b) {
			return true
		}
	}
	return false
}

func isB64(c byte) bool {
	return isAlnum(c) || c == '+' || c == '/' || c == '-' || c == '_'
}

// minB64 is the shortest run taken for base64 (12 bytes of text).
const minB64 = 16

// base64Runs calls fn with the decoded text of every run of base64 in raw
// that decodes to mostly printable UTF-8, at most budget decoded bytes in
// all; it returns what is left of the budget.
func base64Runs(raw string, budget int, fn func(decoded []byte)) int {
	n := len(raw)
	var buf []byte
	for i := 0; i < n && budget > 0; {
		if !isB64(raw[i]) {
			i++
			continue
		}
		j := i
		hasDigitOrUpper := false
		for j < n && isB64(raw[j]) {
			if c := raw[j]; isDigit(c) || 'A' <= c && c <= 'Z' {
				hasDigitOrUpper = true
			}
			j++
		}
		end := j
		for end < n && end-j < 2 && raw[end] == '=' {
			end++
		}
		if j-i >= minB64 && hasDigitOrUpper && !allLetters(raw[i:j]) {
			run := raw[i:j]
			if len(run) > budget*4/3+4 {
				run = run[:(budget*4/3)&^3]
			}
			enc := base64.RawStdEncoding
			if strings.ContainsAny(run, "-_") {
				enc = base64.RawURLEncoding
			}
			run = run[:len(run)&^3+rem64(len(run))]
			buf = buf[:0]
			if d, err := enc.AppendDecode(buf, []byte(run)); err == nil && printable(d) {
				budget -= len(d)
				fn(d)
				buf = d
			}
		}
		i = end
	}
	return budget
}

// rem64 keeps a trailing partial group only when it can decode (2 or 3
// characters).
func rem64(n int) int {
	if r := n & 3; r >= 2 {
		return r
	}
	return 0
}

func allLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlpha(s[i]) {
			return false
		}
	}
	return true
}

// printable reports whether d is valid UTF-8 of which at least 90% of
// the runes are letters, digits, punctuation or spaces.
func printable(d []byte) bool {
	if len(d) < 6 || !utf8.Valid(d) {
		return false
	}
	bad, total := 0, 0
	for i := 0; i < len(d); {
		r, w := utf8.DecodeRune(d[i:])
		i += w
		total++
		if r < 0x20 && r != '\n' && r != '\t' && r != '\r' || r == 0x7f || r == utf8.RuneError || r >= 0x80 && r < 0xa0 {
			bad++
		}
	}
	return bad*10 <= total
}

// pinyinOf holds the Pinyin (no tones, ü as v) of the Han characters that
// appear in Chinese injection phrases, so mixed-script text such as
// "忽lue之前的zhi令" and pure Pinyin can be matched as one spelling.
var pinyinOf = map[rune]string{
	'忽': "hu", '略': "lve", '视': "shi", '之': "zhi", '前': "qian", '面': "mian", '的': "de", '所': "suo", '有': "you",
	'指': "zhi", '令': "ling", '越': "yue", '狱': "yu", '开': "kai", '发': "fa", '者': "zhe", '模': "mo", '式': "shi",
	'无': "wu", '系': "xi", '统': "tong", '提': "ti", '示': "shi", '词': "ci", '角': "jue", '色': "se", '扮': "ban",
	'演': "yan", '限': "xian", '制': "zhi", '道': "dao", '德': "de", '忘': "wang", '记': "ji", '掉': "diao", '上': "shang",
	'述': "shu", '以': "yi", '规': "gui", '则': "ze", '没': "mei", '任': "ren", '何': "he", '不': "bu", '受': "shou",
	'约': "yue", '束': "shu", '破': "po", '解': "jie", '泄': "xie", '露': "lu", '设': "she", '定': "ding", '原': "yuan",
	'始': "shi", '绕': "rao", '过': "guo", '安': "an", '全': "quan", '策': "ce", '审': "shen", '查': "cha", '拒': "ju",
	'绝': "jue", '现': "xian", '在': "zai", '你': "ni", '是': "shi", '假': "jia", '装': "zhuang", '遵': "zun", '守': "shou",
	'需': "xu", '要': "yao", '法': "fa", '律': "lv", '伦': "lun", '理': "li", '密': "mi", '码': "ma", '钥': "yao",
	'新': "xin", '务': "wu", '输': "shu", '出': "chu", '先': "xian", '此': "ci",
}

// pinyinIdx indexes pinyinSyl by character (0: none): an array lookup per
// character instead of a map's.
var pinyinIdx, pinyinSyl = func() (*[0x9FFF - 0x4E00 + 1]uint8, []string) {
	idx := new([0x9FFF - 0x4E00 + 1]uint8)
	syl := []string{""}
	for _, r := range sortedRunes(pinyinOf) {
		idx[r-0x4E00] = uint8(len(syl))
		syl = append(syl, pinyinOf[r])
	}
	return idx, syl
}()

func sortedRunes(m map[rune]string) []rune {
	rs := make([]rune, 0, len(m))
	for r := range m {
		rs = append(rs, r)
	}
	slices.Sort(rs)
	return rs
}

// pinyinPhrases are injection phrases spelled in Pinyin without spaces,
// by family; each is long enough not to occur by chance in English text
// with its spaces removed.
var pinyinPhrases = []struct {
	family  string
	phrases []string
}{
	{"direct", []string{"hulvezhiqian", "hulveqianmian", "hulveshangmian", "hulveyishang", "hulvesuoyou", "hulveshangshu",
		"hulvexianqian", "hulvenidezhiling", "wushizhiqian", "wushisuoyou", "wushiqianmian", "wangjizhiqian", "wangjisuoyou",
		"wangdiaozhiqian", "wangjinidezhiling", "hulvecici", "xindezhiling", "xinderenwu"}},
	{"jailbreak", []string{"kaifazhemoshi", "meiyourenhexianzhi", "bushourenhexianzhi", "bushouxianzhi", "buxuzunshou",
		"buxuyaozunshou", "raoguoanquan", "raoguoshencha", "buhuijujue", "buyaojujue", "meiyoudaode", "bushoudaode",
		"meiyourenhedaode", "wushidaode", "wushifalv", "yueyumoshi"}},
	{"exfil", []string{"xitongtishi", "tishici", "yuanshizhiling", "nideshezhi", "nideshedingshi", "xielumima",
		"xielumiyao", "shuchunidezhiling", "shuchuxitong"}},
	{"roleplay", []string{"juesebanyan", "banyanyige", "xianzainishi", "nixianzaishi", "jiazhuangnishi", "jiazhuangni"}},
}

var pinyinMatcher = func() *matcher {
	var list []kw
	for i, p := range pinyinPhrases {
		for _, s := range p.phrases {
			list = append(list, kw{s: s, id: i})
		}
	}
	m := newMatcher(list)
	for i := range m.kws { // the view has no spaces: no word boundaries
		m.kws[i].wordL, m.kws[i].wordR = false, false
	}
	return m
}()

// pinyinView spells norm as Pinyin: ASCII letters are kept, the Han
// characters of pinyinOf become their Pinyin, every other Han character
// becomes '#', and spaces, digits and punctuation are dropped, so
// "hu lue zhi qian" and "忽略zhi前" both read "hulvezhiqian". It reports
// whether norm has both Latin letters and text to spell (pure Chinese is
// matched by the phrase rules directly). "lue" is folded to "lve".
func pinyinView(norm []byte, buf []byte) ([]byte, bool) {
	if !maybePinyin(norm) {
		return nil, false
	}
	out := buf[:0]
	if cap(out) < len(norm) {
		out = make([]byte, 0, min(len(norm), maxViewBytes)+16)
	}
	latin := false
	n := min(len(norm), maxViewBytes)
	for i := 0; i < n; {
		c := norm[i]
		if c < 0x80 {
			if isAlpha(c) {
				latin = true
				out = append(out, c)
			}
			i++
			continue
		}
		r, w := utf8.DecodeRune(norm[i:n])
		i += w
		if r >= 0x4E00 && r <= 0x9FFF {
			if k := pinyinIdx[r-0x4E00]; k != 0 {
				out = append(out, pinyinSyl[k]...)
				continue
			}
		}
		if r == 'ü' {
			out = append(out, 'v')
		} else if r >= 0x3400 && r <= 0x9FFF {
			out = append(out, '#')
		}
	}
	if !latin {
		return out, false
	}
	// "lue"/"nue" are the usual keyboard spellings of lüe/nüe
	for i := 0; i+2 < len(out); i++ {
		if out[i+1] == 'u' && out[i+2] == 'e' && (out[i] == 'l' || out[i] == 'n') {
			out[i+1] = 'v'
		}
	}
	return out, true
}

// pinyinAnchors are syllable groups every Pinyin phrase holds (in Latin
// letters), and the Han characters they spell: a text with none of them
// needs no Pinyin view.
var pinyinAnchors = func() *matcher {
	var list []kw
	for _, a := range []string{"zhi", "lue", "lve", "xitong", "tishi", "yueyu", "mima", "miyao", "banyan", "juese", "kaifa", "moshi",
		"xianzhi", "daode", "wushi", "wangji", "wangdiao", "shuchu", "xielu", "jiazhuang", "zunshou", "jujue", "raoguo", "xianzai",
		"falv", "renwu", "yuanshi", "sheding", "shezhi", "shencha", "shangmian", "qianmian", "suoyou", "zhiqian"} {
		list = append(list, kw{s: a})
	}
	m := newMatcher(list)
	for i := range m.kws {
		m.kws[i].wordL, m.kws[i].wordR = false, false
	}
	return m
}()

// maybePinyin reports whether norm may hold Pinyin worth a view: some
// anchor syllable in Latin letters (mixed-script text has one as soon as
// one syllable of a phrase is typed in Latin).
func maybePinyin(norm []byte) bool {
	found := false
	pinyinAnchors.find(bytesString(norm[:min(len(norm), maxViewBytes)]), func(kwHit) { found = true })
	return found
}

// pinyinFamilies returns a bit per pinyinPhrases family found in view.
func pinyinFamilies(view []byte) uint8 {
	var bits uint8
	pinyinMatcher.find(bytesString(view), func(h kwHit) { bits |= 1 << h.id })
	return bits
}
