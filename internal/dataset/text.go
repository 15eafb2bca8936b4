package dataset

import (
	"slices"
	"unicode"
	"unicode/utf8"

	"switchyard/internal/hashmix"
)

// isCJK reports whether r is written without spaces between words: Han,
// kana, Hangul syllables.
func isCJK(r rune) bool {
	switch {
	case r < 0x2E80:
		return false
	case r >= 0x3040 && r <= 0x30FF, // kana
		r >= 0x3400 && r <= 0x4DBF,   // Han extension A
		r >= 0x4E00 && r <= 0x9FFF,   // Han
		r >= 0xAC00 && r <= 0xD7AF,   // Hangul
		r >= 0xF900 && r <= 0xFAFF,   // compatibility ideographs
		r >= 0x20000 && r <= 0x3134F: // Han extensions B–G
		return true
	}
	return false
}

// normalise appends to buf the text used for exact-duplicate detection:
// lower case, full-width ASCII folded, runs of spaces collapsed to one,
// trimmed.
func normalise(buf []byte, s string) []byte {
	space := false
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' {
				space = true
				continue
			}
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if space && len(buf) > 0 {
				buf = append(buf, ' ')
			}
			space = false
			buf = append(buf, c)
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		if r >= 0xFF01 && r <= 0xFF5E { // full-width ASCII
			r -= 0xFEE0
		}
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && len(buf) > 0 {
			buf = append(buf, ' ')
		}
		space = false
		buf = utf8.AppendRune(buf, unicode.ToLower(r))
	}
	return buf
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// textStats are what one pass over a text measures.
type textStats struct {
	runes    int // all runes
	nonText  int // runes that are neither letters, digits, spaces nor punctuation
	han      int // CJK runes
	latin    int // ASCII letters and Latin letters
	words    int // Latin-script words
	enWords  int // of which common English words
	shingles int // shingle occurrences (before de-duplication)
}

// shingler turns texts into sets of shingle hashes: word k-grams, where a
// run of CJK characters counts each character as a word, so CJK text gets
// character k-grams. It reuses its buffers; one per goroutine.
type shingler struct {
	k      int
	tokens []uint64
	word   []byte
}

// shingles appends the sorted, de-duplicated shingle hashes of s to out and
// measures s on the way.
func (sh *shingler) shingles(s string, out []uint32, st *textStats) []uint32 {
	*st = textStats{}
	sh.tokens = sh.tokens[:0]
	word := sh.word[:0]
	var h uint64 = fnvOffset
	inWord := false
	endWord := func() {
		if !inWord {
			return
		}
		sh.tokens = append(sh.tokens, hashmix.Mix64(h))
		st.words++
		if commonEnglish(word) {
			st.enWords++
		}
		h, inWord, word = fnvOffset, false, word[:0]
	}
	for i := 0; i < len(s); {
		c := s[i]
		var r rune
		if c < utf8.RuneSelf {
			r = rune(c)
			i++
		} else {
			var n int
			r, n = utf8.DecodeRuneInString(s[i:])
			i += n
		}
		st.runes++
		switch {
		case r < utf8.RuneSelf && ('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'):
			st.latin++
			c := byte(r) | 0x20
			h = (h ^ uint64(c)) * fnvPrime
			if len(word) < 16 {
				word = append(word, c)
			}
			inWord = true
		case r < utf8.RuneSelf && '0' <= r && r <= '9':
			h = (h ^ uint64(r)) * fnvPrime
			inWord = true
		case r < utf8.RuneSelf:
			endWord()
			if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f {
				st.nonText++ // control characters
			}
		case isCJK(r):
			endWord()
			st.han++
			sh.tokens = append(sh.tokens, hashmix.Mix64(uint64(r)|1<<40))
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
			if r <= 0x24F {
				st.latin++
			}
			r = unicode.ToLower(r)
			h = (h ^ uint64(r)) * fnvPrime
			inWord = true
		default:
			endWord()
			if !unicode.IsSpace(r) && !unicode.IsPunct(r) {
				st.nonText++ // symbols, emoji, private use, U+FFFD…
			}
		}
	}
	endWord()
	sh.word = word
	toks := sh.tokens
	start := len(out)
	switch {
	case len(toks) == 0:
	case len(toks) < sh.k:
		var x uint64 = fnvOffset
		for _, t := range toks {
			x = hashmix.Mix64(x ^ t)
		}
		out = append(out, uint32(x>>32))
	default:
		for i := 0; i+sh.k <= len(toks); i++ {
			var x uint64 = fnvOffset
			for _, t := range toks[i : i+sh.k] {
				x = hashmix.Mix64(x ^ t)
			}
			out = append(out, uint32(x>>32))
		}
	}
	st.shingles = len(out) - start
	set := out[start:]
	slices.Sort(set)
	set = slices.Compact(set)
	return out[:start+len(set)]
}

// english holds common English words (up to 16 letters, lower case).
var english = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range []string{
		"the", "be", "to", "of", "and", "a", "in", "that", "have", "i", "it", "for", "not", "on", "with",
		"he", "as", "you", "do", "at", "this", "but", "his", "by", "from", "they", "we", "say", "her",
		"she", "or", "an", "will", "my", "one", "all", "would", "there", "their", "what", "so", "up",
		"out", "if", "about", "who", "get", "which", "go", "me", "when", "make", "can", "like", "no",
		"just", "him", "know", "take", "into", "your", "some", "could", "them", "see", "other", "than",
		"then", "now", "only", "its", "also", "how", "our", "well", "is", "are", "was", "were", "been",
		"has", "had", "did", "does", "am", "these", "those", "any", "more", "very", "here", "please",
		"thanks", "thank", "should", "may", "need", "want", "why", "where", "yes", "us", "too",
	} {
		m[w] = true
	}
	return m
}()

func commonEnglish(w []byte) bool { return len(w) <= 7 && english[string(w)] }

// language guesses "zh", "en" or "other" from script shares and common
// words: CJK characters at least 30% of the letters means Chinese (Japanese
// and Korean count too — the check is by script); otherwise mostly Latin
// letters with at least 20% common English words means English. A simple
// heuristic, meant for filtering, not a language identifier.
func language(st *textStats) string {
	letters := st.han + st.latin
	switch {
	case letters == 0:
		return "other"
	case float64(st.han) >= 0.3*float64(letters):
		return "zh"
	case st.words > 0 && float64(st.enWords) >= 0.2*float64(st.words) && st.latin*2 >= letters:
		return "en"
	}
	return "other"
}
