package tokenize

import (
	"sync"
	"unicode"
	"unicode/utf8"
)

// This file holds the pre-tokenizers: scanners that cut text into the same
// pieces as the encodings' published regular expressions (which need
// lookahead, absent from Go's regexp). Each scanner returns the end of the
// piece that starts at i; alternatives are tried in the pattern's order with
// the outcome a backtracking engine would reach. A byte that is not valid
// UTF-8 is one character of its own that is neither letter, number nor
// space, like U+FFFD; pieces keep the original bytes, so decoding restores
// the input exactly.

// Character classes, as bits.
const (
	cLetter  uint8 = 1 << iota // \p{L}
	cNumber                    // \p{N}
	cSpace                     // \s: Unicode White_Space
	cNewline                   // \r or \n
	cUpper                     // o200k's [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
	cLower                     // o200k's [\p{Ll}\p{Lm}\p{Lo}\p{M}]
)

// classTableSize covers Latin, Greek, Cyrillic, Armenian, Hebrew, Arabic…
const classTableSize = 0x800

var (
	classOnce  sync.Once
	classTable [classTableSize]uint8
)

func initClasses() {
	classOnce.Do(func() {
		for r := range rune(classTableSize) {
			classTable[r] = classifySlow(r)
		}
	})
}

func classifySlow(r rune) uint8 {
	var c uint8
	switch {
	case unicode.IsLetter(r):
		c |= cLetter
		if unicode.Is(unicode.Ll, r) {
			c |= cLower
		} else if unicode.In(r, unicode.Lu, unicode.Lt) {
			c |= cUpper
		} else { // Lm, Lo
			c |= cUpper | cLower
		}
	case unicode.IsMark(r):
		c |= cUpper | cLower
	case unicode.IsNumber(r):
		c |= cNumber
	case unicode.IsSpace(r):
		c |= cSpace
		if r == '\r' || r == '\n' {
			c |= cNewline
		}
	}
	return c
}

// classAt returns the class of the character at s[i] and its length in
// bytes; i < len(s).
func classAt(s string, i int) (uint8, int) {
	if b := s[i]; b < utf8.RuneSelf {
		return classTable[b], 1
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	switch {
	case r == utf8.RuneError && n == 1:
		return 0, 1
	case r < classTableSize:
		return classTable[r], n
	case r >= 0x4e00 && r <= 0x9fff, r >= 0xac00 && r <= 0xd7a3:
		// CJK unified ideographs and Hangul syllables: all Lo.
		return cLetter | cUpper | cLower, n
	}
	return classifySlow(r), n
}

// runOf returns the end of the run of characters from i that have any of
// the class bits in want.
func runOf(s string, i int, want uint8) int {
	for i < len(s) {
		c, n := classAt(s, i)
		if c&want == 0 {
			break
		}
		i += n
	}
	return i
}

// contraction returns the length of (?i:'s|'t|'re|'ve|'m|'ll|'d) at s[i:],
// or 0. Case folding is ASCII only, as in tiktoken.
func contraction(s string, i int) int {
	if i+1 >= len(s) || s[i] != '\'' {
		return 0
	}
	switch s[i+1] | 0x20 {
	case 's', 't', 'm', 'd':
		return 2
	case 'r', 'v':
		if i+2 < len(s) && s[i+2]|0x20 == 'e' {
			return 3
		}
	case 'l':
		if i+2 < len(s) && s[i+2]|0x20 == 'l' {
			return 3
		}
	}
	return 0
}

// punctRun matches ` ?[^\s\p{L}\p{N}]+` at i and returns its end, or -1.
func punctRun(s string, i int) int {
	j := i
	if s[j] == ' ' {
		j++
	}
	start := j
	for j < len(s) {
		c, n := classAt(s, j)
		if c&(cLetter|cNumber|cSpace) != 0 {
			break
		}
		j += n
	}
	if j == start {
		return -1
	}
	return j
}

// spaceRun matches `\s*[\r\n]+|\s+(?!\S)|\s+` at i, where s[i] is white
// space, and returns its end.
func spaceRun(s string, i int) int {
	end, lastNewline, lastStart := i, -1, i
	for end < len(s) {
		c, n := classAt(s, end)
		if c&cSpace == 0 {
			break
		}
		lastStart = end
		end += n
		if c&cNewline != 0 {
			lastNewline = end
		}
	}
	switch {
	case lastNewline >= 0: // \s*[\r\n]+ backtracks to the last newline
		return lastNewline
	case end == len(s): // \s+(?!\S) at the end of the text
		return end
	case lastStart > i: // \s+(?!\S) leaves the last space to the next word
		return lastStart
	}
	return end // \s+, one character
}

// numberRun matches \p{N}{1,3} at i, where s[i] is a number.
func numberRun(s string, i int, n0 int) int {
	j := i + n0
	for k := 1; k < 3 && j < len(s); k++ {
		c, n := classAt(s, j)
		if c&cNumber == 0 {
			break
		}
		j += n
	}
	return j
}

// splitCL100K returns the end of the piece at i (< len(s)) under
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
func splitCL100K(s string, i int) int {
	if n := contraction(s, i); n > 0 {
		return i + n
	}
	c0, n0 := classAt(s, i)
	if c0&cLetter != 0 {
		return runOf(s, i+n0, cLetter)
	}
	if c0&(cNumber|cNewline) == 0 && i+n0 < len(s) {
		if c1, n1 := classAt(s, i+n0); c1&cLetter != 0 {
			return runOf(s, i+n0+n1, cLetter)
		}
	}
	if c0&cNumber != 0 {
		return numberRun(s, i, n0)
	}
	if j := punctRun(s, i); j >= 0 {
		for j < len(s) && (s[j] == '\r' || s[j] == '\n') {
			j++
		}
		return j
	}
	return spaceRun(s, i)
}

// splitO200K returns the end of the piece at i (< len(s)) under
//
//	[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//	|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//	|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
func splitO200K(s string, i int) int {
	c0, n0 := classAt(s, i)
	prefix := c0&(cLetter|cNumber|cNewline) == 0 && i+n0 < len(s)
	if prefix {
		if j := wordLower(s, i+n0); j >= 0 {
			return j
		}
	}
	if j := wordLower(s, i); j >= 0 {
		return j
	}
	if prefix {
		if j := wordUpper(s, i+n0); j >= 0 {
			return j
		}
	}
	if j := wordUpper(s, i); j >= 0 {
		return j
	}
	if c0&cNumber != 0 {
		return numberRun(s, i, n0)
	}
	if j := punctRun(s, i); j >= 0 {
		for j < len(s) && (s[j] == '\r' || s[j] == '\n' || s[j] == '/') {
			j++
		}
		return j
	}
	return spaceRun(s, i)
}

// wordLower matches [Upper]*[Lower]+(contraction)? at i and returns its end,
// or -1. Greedy [Upper]* takes the whole run of upper-class characters; if
// the next character is not lower-class, backtracking gives characters back
// until the last lower-class one inside the run (Lm, Lo and marks are in
// both classes), which then ends the match.
func wordLower(s string, i int) int {
	j, lastLower := i, -1
	for j < len(s) {
		c, n := classAt(s, j)
		if c&cUpper == 0 {
			break
		}
		j += n
		if c&cLower != 0 {
			lastLower = j
		}
	}
	if j < len(s) {
		if c, n := classAt(s, j); c&cLower != 0 {
			end := runOf(s, j+n, cLower)
			return end + contraction(s, end)
		}
	}
	if lastLower < 0 {
		return -1
	}
	return lastLower + contraction(s, lastLower)
}

// wordUpper matches [Upper]+[Lower]*(contraction)? at i and returns its
// end, or -1.
func wordUpper(s string, i int) int {
	j := runOf(s, i, cUpper)
	if j == i {
		return -1
	}
	end := runOf(s, j, cLower)
	return end + contraction(s, end)
}
