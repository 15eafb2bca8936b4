package tokenizer

import (
	"fmt"
	"sync"
	"unicode"
)

// Pre-tokenizers split text into words before BPE. Each model family names
// one by a regex in its tokenizer.json; Go's regexp has no lookahead, so
// each is a hand-written scanner over code points that yields exactly the
// matches of that regex (and of llama.cpp's own scanners for them).
// A pre-tokenizer may be a sequence of steps, each applied to every piece
// the previous step produced, keeping both matches and the text between
// them, as llama.cpp's unicode_regex_split does.

type span struct{ start, end int }

type splitFunc func(c []rune, a, b int, out []span) []span

type preTokenizer struct {
	name  string
	steps []splitFunc
}

func (p preTokenizer) split(c []rune) []span {
	pieces := []span{{0, len(c)}}
	if len(c) == 0 {
		return nil
	}
	for _, step := range p.steps {
		next := make([]span, 0, len(pieces)+len(c)/4)
		for _, s := range pieces {
			next = step(c, s.start, s.end, next)
		}
		pieces = next
	}
	return pieces
}

// lookupPre returns the pre-tokenizer llama.cpp uses for a
// tokenizer.ggml.pre name, and whether whole words found in the vocabulary
// skip merging (ignore_merges).
func lookupPre(name string) (preTokenizer, bool, error) {
	switch name {
	case "", "default":
		return preTokenizer{"default", []splitFunc{splitPunctRuns, splitGPT2, splitNumberRuns, splitThreeDigits}}, false, nil
	case "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "mpt", "olmo", "jais",
		"roberta-bpe", "jina-v1-en", "jina-v2-code", "exaone4", "modern-bert", "mellum", "trillion":
		return preTokenizer{"gpt-2", []splitFunc{splitGPT2}}, false, nil
	case "starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b", "mellum2":
		return preTokenizer{"starcoder", []splitFunc{splitEachNumber, splitGPT2}}, false, nil
	case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "dbrx", "smaug-bpe":
		return preTokenizer{"llama3", []splitFunc{splitLlama3}}, name != "dbrx" && name != "smaug-bpe", nil
	case "qwen2", "deepseek-r1-qwen", "megrez", "stablelm2", "hunyuan":
		return preTokenizer{"qwen2", []splitFunc{splitQwen2}}, false, nil
	}
	return preTokenizer{}, false, fmt.Errorf("tokenizer: unsupported pre-tokenizer %q", name)
}

// Code point classes, as llama.cpp's unicode flags: \p{L}, \p{N}, \p{P}
// by general category, \s by the White_Space property.
const (
	flagLetter = 1 << iota
	flagNumber
	flagPunct
	flagSpace
)

var (
	bmpFlagsOnce sync.Once
	bmpFlags     []uint8
)

func computeFlags(r rune) uint8 {
	var f uint8
	switch {
	case unicode.IsLetter(r):
		f |= flagLetter
	case unicode.IsNumber(r):
		f |= flagNumber
	case unicode.IsPunct(r):
		f |= flagPunct
	}
	if unicode.In(r, unicode.White_Space) {
		f |= flagSpace
	}
	return f
}

func flagsOf(r rune) uint8 {
	if r < 0x10000 && r >= 0 {
		bmpFlagsOnce.Do(func() {
			bmpFlags = make([]uint8, 0x10000)
			for i := range bmpFlags {
				bmpFlags[i] = computeFlags(rune(i))
			}
		})
		return bmpFlags[r]
	}
	return computeFlags(r)
}

// outside is the flags value of a position past the piece: no class, and
// (unlike any code point) not "other" either.
const outside = 0xFF

func at(c []rune, b, i int) uint8 {
	if i >= b {
		return outside
	}
	return flagsOf(c[i])
}

func isL(f uint8) bool     { return f != outside && f&flagLetter != 0 }
func isN(f uint8) bool     { return f != outside && f&flagNumber != 0 }
func isS(f uint8) bool     { return f != outside && f&flagSpace != 0 }
func isOther(f uint8) bool { return f != outside && f&(flagLetter|flagNumber|flagSpace) == 0 }

// contraction returns the length of 's 't 're 've 'm 'll 'd at i (0 if
// none), optionally case-insensitive.
func contraction(c []rune, b, i int, fold bool) int {
	if c[i] != '\'' || i+1 >= b {
		return 0
	}
	lower := func(r rune) rune {
		if fold {
			return unicode.ToLower(r)
		}
		return r
	}
	n := lower(c[i+1])
	if n == 's' || n == 't' || n == 'm' || n == 'd' {
		return 2
	}
	if i+2 < b {
		nn := lower(c[i+2])
		if (n == 'r' && nn == 'e') || (n == 'v' && nn == 'e') || (n == 'l' && nn == 'l') {
			return 3
		}
	}
	return 0
}

// whitespaceMatch handles the shared tail \s+(?!\S)|\s+ at i, where c[i]
// is whitespace; it returns the end of the match.
func whitespaceMatch(c []rune, b, i int) int {
	j := i
	for j < b && isS(flagsOf(c[j])) {
		j++
	}
	if j-i > 1 && j < b {
		return j - 1 // leave the last space to prefix the next word
	}
	return j
}

// splitGPT2 implements
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
func splitGPT2(c []rune, a, b int, out []span) []span {
	for i := a; i < b; {
		start := i
		if n := contraction(c, b, i, false); n > 0 {
			i += n
			out = append(out, span{start, i})
			continue
		}
		f := at(c, b, i)
		f2 := f
		if c[i] == ' ' {
			f2 = at(c, b, i+1)
		}
		switch {
		case isL(f2):
			if c[i] == ' ' {
				i++
			}
			for isL(at(c, b, i)) {
				i++
			}
		case isN(f2):
			if c[i] == ' ' {
				i++
			}
			for isN(at(c, b, i)) {
				i++
			}
		case isOther(f2):
			if c[i] == ' ' {
				i++
			}
			for isOther(at(c, b, i)) {
				i++
			}
		case isS(f):
			i = whitespaceMatch(c, b, i)
		default:
			i++
		}
		out = append(out, span{start, i})
	}
	return out
}

// splitLlama3 implements Llama 3's
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
func splitLlama3(c []rune, a, b int, out []span) []span { return splitModern(c, a, b, out, 3) }

// splitQwen2 implements Qwen2's regex: Llama 3's with \p{N} instead of
// \p{N}{1,3}, so every digit is its own word.
func splitQwen2(c []rune, a, b int, out []span) []span { return splitModern(c, a, b, out, 1) }

func splitModern(c []rune, a, b int, out []span, maxDigits int) []span {
	for i := a; i < b; {
		start := i
		if n := contraction(c, b, i, true); n > 0 {
			i += n
			out = append(out, span{start, i})
			continue
		}
		r := c[i]
		f := flagsOf(r)
		// [^\r\n\p{L}\p{N}]?\p{L}+
		if r != '\r' && r != '\n' && f&flagNumber == 0 && (f&flagLetter != 0 || isL(at(c, b, i+1))) {
			i++
			for isL(at(c, b, i)) {
				i++
			}
			out = append(out, span{start, i})
			continue
		}
		// \p{N}{1,maxDigits}
		if f&flagNumber != 0 {
			for i < b && isN(flagsOf(c[i])) && i-start < maxDigits {
				i++
			}
			out = append(out, span{start, i})
			continue
		}
		// ?[^\s\p{L}\p{N}]+[\r\n]*
		f2 := f
		if r == ' ' {
			f2 = at(c, b, i+1)
		}
		if isOther(f2) {
			if r == ' ' {
				i++
			}
			for isOther(at(c, b, i)) {
				i++
			}
			for i < b && (c[i] == '\r' || c[i] == '\n') {
				i++
			}
			out = append(out, span{start, i})
			continue
		}
		if f&flagSpace != 0 {
			// \s*[\r\n]+ : up to the last newline of the whitespace run.
			j, lastNL := i, -1
			for j < b && isS(flagsOf(c[j])) {
				if c[j] == '\r' || c[j] == '\n' {
					lastNL = j + 1
				}
				j++
			}
			if lastNL > 0 {
				i = lastNL
			} else {
				i = whitespaceMatch(c, b, i)
			}
			out = append(out, span{start, i})
			continue
		}
		i++
		out = append(out, span{start, i})
	}
	return out
}

// classSplit splits a piece at the matches of a one-class regex: runs of
// code points for which in is true, between min and max long (max 0 for
// unbounded), keeping the text between matches as pieces of its own.
func classSplit(c []rune, a, b int, out []span, in func(rune) bool, minLen, maxLen int) []span {
	gap := a
	for i := a; i < b; {
		if !in(c[i]) {
			i++
			continue
		}
		j := i
		for j < b && in(c[j]) && (maxLen == 0 || j-i < maxLen) {
			j++
		}
		if j-i < minLen {
			i++
			continue
		}
		if i > gap {
			out = append(out, span{gap, i})
		}
		out = append(out, span{i, j})
		i, gap = j, j
	}
	if gap < b {
		out = append(out, span{gap, b})
	}
	return out
}

func isNumberRune(r rune) bool { return flagsOf(r)&flagNumber != 0 && flagsOf(r)&flagSpace == 0 }

// splitEachNumber implements \p{N}.
func splitEachNumber(c []rune, a, b int, out []span) []span {
	return classSplit(c, a, b, out, isNumberRune, 1, 1)
}

// splitNumberRuns implements \p{N}+.
func splitNumberRuns(c []rune, a, b int, out []span) []span {
	return classSplit(c, a, b, out, isNumberRune, 1, 0)
}

// splitThreeDigits implements [0-9][0-9][0-9].
func splitThreeDigits(c []rune, a, b int, out []span) []span {
	return classSplit(c, a, b, out, func(r rune) bool { return '0' <= r && r <= '9' }, 3, 3)
}

// splitPunctRuns implements [\p{P}\$\+<=>\^~\|]+.
func splitPunctRuns(c []rune, a, b int, out []span) []span {
	return classSplit(c, a, b, out, func(r rune) bool {
		switch r {
		case '$', '+', '<', '=', '>', '^', '~', '|':
			return true
		}
		f := flagsOf(r)
		return f&flagPunct != 0 && f&flagSpace == 0
	}, 1, 0)
}
