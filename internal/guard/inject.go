package guard

import (
	"bytes"
	"encoding/binary"
	"sort"
	"strings"
	"unicode/utf8"
)

// injRule is one family of injection phrases with a weight in 0..1.
type injRule struct {
	name    string
	weight  float64
	phrases []string
}

// injRules are matched on normalised text (lower case, zero-width characters
// removed, homoglyphs and full-width letters folded to ASCII).
var injRules = []injRule{
	{"override.ignore", 0.85, []string{
		"ignore previous instructions", "ignore all previous", "ignore the previous", "ignore the above", "ignore above",
		"ignore all the instructions", "ignore your instructions", "ignore all instructions", "ignore the instructions",
		"ignore all preceding", "ignore prior instructions", "ignore any previous", "ignore everything",
		"ignore all provided", "ignore all documents", "disregard previous", "disregard all previous", "disregard the above",
		"disregard your instructions", "disregard any previous", "disregarding the",
		"ignoriere alle", "ignorieren sie die", "ignoriere die", "obigen anweisungen", "ausführungen ignorieren",
		"abweichend zu vorherigen", "olvida todas las instrucciones", "olvide todo", "ignora las instrucciones",
		"oubliez toutes les instructions", "ignorez les instructions", "zaboravi sve",
		"忽略之前", "忽略以上", "忽略上面", "忽略前面", "忽略所有", "忽略你的指令", "忽略先前", "忽略此前", "无视之前", "无视以上",
		"无视所有", "无视你的", "不要理会之前", "忽视之前", "忽略上述", "忘记之前", "忘掉之前", "忘记以上", "忘记你的指令",
		"忘记所有", "忘掉所有", "忘记前面", "忽略任何", "忽略系统",
	}},
	{"override.forget", 0.75, []string{
		"forget all previous", "forget previous", "forget everything", "forget all your instructions", "forget your instructions",
		"forget about all", "forget about everything", "forget all the", "forget what you", "remove all previous",
		"leave all the previous", "leave all previous", "drop all your instructions", "drop your instructions",
		"vergiss alle", "vergiss alles", "vergiss nun", "vergiss deine", "alle vorherigen", "aus dem kopf zu streichen",
		"olvida todo", "tienes que olvidar", "oubliez tout",
	}},
	{"override.new_task", 0.45, []string{
		"new task", "new instructions", "new instruction", "now new tasks", "further tasks", "additional instruction",
		"your instructions are now", "from now on", "now focus on your new task", "now concentrate on",
		"instead output", "but just output", "just output", "i command you", "do not answer this question",
		"do not look in the documents", "not by the articles", "answer by your own knowledge", "start over",
		"neue aufgabe", "neue anweisungen", "folgen neue", "weitere aufgaben", "von neu", "stattdessen",
		"新的任务", "新任务", "新的指令", "从现在开始", "从现在起", "接下来你只需", "不要回答",
	}},
	{"exfil.prompt", 0.6, []string{
		"system prompt", "your prompt", "prompt text", "prompt-text", "your instructions", "initial instructions",
		"beginning of this prompt", "what is written above", "what was written", "the full prompt", "print your",
		"reveal your", "show me all your", "repeat the words above",
		"系统提示", "提示词", "你的指令", "初始指令", "泄露", "原始指令", "上面的内容", "你的设定",
	}},
	{"exfil.secret", 0.3, []string{"secret key", "the password", "your password", "the secret", "密码", "密钥"}},
	{"roleplay.persona", 0.35, []string{
		"act as", "you are now", "pretend you are", "pretend to be", "pretend you", "role-play", "roleplay", "role play",
		"stay in character", "in your role", "you are completely absorbed", "playing a game", "now you are", "now you act",
		"i want you to act", "imagine you are", "from now known as", "stell dir vor", "jetzt bist du", "nun bist du",
		"du bist", "fungieren", "in deiner rolle", "spielen die hauptrollen",
		"扮演", "假装", "角色扮演", "你现在是", "现在你是", "你是一个", "你将作为", "模拟", "想象你是", "假设你是",
	}},
	{"jailbreak.unrestricted", 0.7, []string{
		"do anything now", "dan mode", "developer mode", "jailbreak", "jailbroken", "no restrictions", "without restrictions",
		"without any restrictions", "no programming guidelines", "no ethical", "no moral", "unfiltered", "uncensored",
		"not bound by", "break free", "bypass", "no longer have to follow", "no rules", "evil ai", "evil confidant",
		"越狱", "开发者模式", "不受任何限制", "没有任何限制", "不受限制", "没有限制", "不受约束", "无需遵守", "不需要遵守",
		"不必遵守", "突破限制", "绕过", "没有道德", "不受道德", "不考虑道德", "无视道德", "无所不能", "全能的", "邪恶",
		"不受法律", "无视法律", "不会拒绝", "不能拒绝", "不要拒绝", "永远不会拒绝",
	}},
	{"manipulation.output", 0.4, []string{
		"say that", "state that", "tell me that you", "include that you", "print \"", "output \"", "repeat after me",
		"respond only with", "reply only with", "only reply", "or you die", "oder du stirbst", "sag dass", "sage dass",
		"schreibe nun", "say what", "haha pwned", "pwned",
	}},
	{"attention.stop", 0.35, []string{
		"stop, ignore", "stop:", "attention - stop", "achtung - stopp", "that is enough", "das genügt", "that is done",
		"das ist erledigt", "very well done", "well done!", "sehr gut gemacht", "gut gemacht", "excellent performance",
		"ausgezeichnete leistung", "simply great", "einfach großartig", "that's fantastic", "das ist fantastisch",
	}},
}

type ruleScorer struct {
	m     *matcher
	names []string
	w     []float64
}

var defaultRules = newRuleScorer(injRules)

func newRuleScorer(rules []injRule) *ruleScorer {
	rs := &ruleScorer{}
	var list []kw
	for i, r := range rules {
		rs.names = append(rs.names, r.name)
		rs.w = append(rs.w, r.weight)
		list = append(list, kwList(i, r.weight, r.phrases...)...)
	}
	rs.m = newMatcher(list)
	return rs
}

// homoglyphs maps confusable Cyrillic and Greek letters to Latin.
var homoglyphs = map[rune]byte{
	'а': 'a', 'е': 'e', 'о': 'o', 'р': 'p', 'с': 'c', 'у': 'y', 'х': 'x', 'і': 'i', 'ѕ': 's', 'ј': 'j', 'к': 'k',
	'м': 'm', 'н': 'h', 'т': 't', 'в': 'b', 'ԁ': 'd', 'ӏ': 'l',
	'А': 'a', 'Е': 'e', 'О': 'o', 'Р': 'p', 'С': 'c', 'Х': 'x', 'І': 'i', 'К': 'k', 'М': 'm', 'Н': 'h', 'Т': 't', 'В': 'b',
	'ο': 'o', 'α': 'a', 'ε': 'e', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'ρ': 'p', 'τ': 't', 'υ': 'u',
	'Ο': 'o', 'Α': 'a', 'Ε': 'e', 'Ι': 'i', 'Κ': 'k', 'Ν': 'n', 'Ρ': 'p', 'Τ': 't',
}

func isZeroWidth(r rune) bool {
	switch r {
	case 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD, 0x180E:
		return true
	}
	return false
}

func isBidi(r rune) bool { return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 }

// lowerASCII maps every byte to itself, ASCII capitals to lower case.
var lowerASCII = func() (t [256]byte) {
	for c := range t {
		t[c] = lower(byte(c))
	}
	return
}()

// lowerInPlace lowers the ASCII capitals of b.
func lowerInPlace(b []byte) {
	k := 0
	for ; k+8 <= len(b); k += 8 {
		binary.LittleEndian.PutUint64(b[k:], lower8(binary.LittleEndian.Uint64(b[k:])))
	}
	for ; k < len(b); k++ {
		b[k] = lowerASCII[b[k]]
	}
}

// normalise folds text for injection and category matching and reports
// hidden-text tricks it removed.
func normalise(text string, buf []byte) (out []byte, zw, homo, tags, bidi int) {
	out = buf[:0]
	if cap(out) < len(text) {
		out = make([]byte, 0, len(text)+8)
	}
	prevLatin := false
	for i := 0; i < len(text); {
		c := text[i]
		if c < 0x80 {
			// a run of ASCII, lowered as it is copied
			j := i + 1
			for j+8 <= len(text) && load64(text[j:j+8])&(0x80*0x0101010101010101) == 0 {
				j += 8
			}
			for j < len(text) && text[j] < 0x80 {
				j++
			}
			o := len(out)
			out = append(out, text[i:j]...)
			lowerInPlace(out[o:])
			prevLatin = isAlpha(text[j-1])
			i = j
			continue
		}
		// a well-formed three-byte character none of the cases below
		// touches (CJK, most of all) is copied as it is
		if i+2 < len(text) && (c >= 0xE4 && c <= 0xEC || c == 0xEE) &&
			text[i+1]&0xC0 == 0x80 && text[i+2]&0xC0 == 0x80 {
			out = append(out, c, text[i+1], text[i+2])
			prevLatin = false
			i += 3
			continue
		}
		r, w := utf8.DecodeRuneInString(text[i:])
		i += w
		switch {
		case isZeroWidth(r):
			zw++
			continue
		case r >= 0xE0000 && r <= 0xE007F:
			tags++
			if r >= 0xE0020 && r <= 0xE007E {
				out = append(out, lower(byte(r-0xE0000)))
			}
			continue
		case isBidi(r):
			bidi++
			continue
		case r >= 0xFF01 && r <= 0xFF5E:
			out = append(out, lower(byte(r-0xFF01+0x21)))
			prevLatin = true
			continue
		case r == 0x3000:
			out = append(out, ' ')
			continue
		}
		if r < 0x370 || r > 0x52F {
			prevLatin = false
			out = utf8.AppendRune(out, r)
			continue
		}
		if b, ok := homoglyphs[r]; ok {
			next := i < len(text) && isAlpha(text[i])
			if prevLatin || next {
				homo++
			}
			out = append(out, b)
			prevLatin = true
			continue
		}
		prevLatin = false
		out = utf8.AppendRune(out, r)
	}
	return out, zw, homo, tags, bidi
}

// ScoreInjection implements InjectionScorer with phrase rules and hidden-
// text checks. The score is 1 − Π(1 − w) over the distinct rules that fired.
func (rs *ruleScorer) ScoreInjection(text string) (float64, []string) {
	sp := getScratch()
	defer putScratch(sp)
	norm, zw, homo, tags, bidi := normalise(text, sp.norm)
	sp.norm = norm[:0]
	return rs.scoreNorm(norm, zw, homo, tags, bidi)
}

func (rs *ruleScorer) scoreNorm(norm []byte, zw, homo, tags, bidi int) (float64, []string) {
	var fired [16]bool
	var nfired int
	rs.m.find(bytesString(norm), func(h kwHit) {
		if !fired[h.id] {
			fired[h.id] = true
			nfired++
		}
	})
	return rs.scoreFired(norm, fired, nfired, zw, homo, tags, bidi)
}

// scoreFired finishes scoreNorm from the rules that fired on norm.
func (rs *ruleScorer) scoreFired(norm []byte, fired [16]bool, nfired int, zw, homo, tags, bidi int) (float64, []string) {
	// spaced-out letters: "S a y t h a t"
	if nfired == 0 && spacedLetters(norm) {
		again, _, _, _, _ := normalise(despace(string(norm)), nil)
		rs.m.find(string(again), func(h kwHit) { fired[h.id] = true })
	}
	var rules []string
	keep := 1.0
	for i, f := range fired[:len(rs.names)] {
		if f {
			rules = append(rules, rs.names[i])
			keep *= 1 - rs.w[i]
		}
	}
	hidden := func(name string, w float64) {
		rules = append(rules, name)
		keep *= 1 - w
	}
	if zw > 0 {
		hidden("hidden.zero_width", 0.3)
	}
	if homo > 0 {
		hidden("hidden.homoglyph", 0.4)
	}
	if tags > 0 {
		hidden("hidden.unicode_tags", 0.7)
	}
	if bidi > 0 {
		hidden("hidden.bidi", 0.3)
	}
	sort.Strings(rules)
	return round3(1 - keep), rules
}

// spacedLetters reports whether text has a long run of single letters
// separated by spaces: eight letter-space pairs in a row.
func spacedLetters(b []byte) bool {
	// Walk the spaces; a space after a letter ends a pair, and pairs chain
	// when their spaces are two bytes apart.
	run, last := 0, -3
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], ' ')
		if j < 0 {
			return false
		}
		sp := i + j
		if sp > 0 && isAlpha(b[sp-1]) {
			if sp == last+2 {
				run++
			} else {
				run = 1
			}
			if run >= 8 {
				return true
			}
			last = sp
		}
		i = sp + 1
	}
	return false
}

func despace(s string) string {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' && i > 0 && i+1 < len(s) && isAlpha(s[i-1]) && isAlpha(s[i+1]) && (i+2 >= len(s) || s[i+2] == ' ') {
			continue
		}
		sb.WriteByte(s[i])
	}
	return sb.String()
}
