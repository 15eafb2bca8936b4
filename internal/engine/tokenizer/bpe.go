package tokenizer

import (
	"strings"
	"unicode/utf8"

	"switchyard/internal/heapq"
)

// GPT-2 byte-level BPE (llama.cpp's llm_tokenizer_bpe): the pre-tokenizer
// splits text into words, each word's bytes are mapped to printable
// characters, and adjacent symbols are merged by lowest merge rank
// (leftmost on ties) until no ranked pair is left.

// byteToRune maps each byte to the character GPT-2 uses for it; runeToByte
// is its inverse.
var (
	byteToRune [256]string
	runeToByte map[rune]byte
)

func init() {
	runeToByte = make(map[rune]byte, 256)
	n := 0
	for b := 0; b < 256; b++ {
		r := rune(b)
		printable := ('!' <= b && b <= '~') || (0xA1 <= b && b <= 0xAC) || (0xAE <= b && b <= 0xFF)
		if !printable {
			r = rune(256 + n)
			n++
		}
		byteToRune[b] = string(r)
		runeToByte[r] = byte(b)
	}
}

// decodeByteLevel maps a byte-level token text back to raw bytes. A
// character outside the mapping is kept as its UTF-8 text.
func decodeByteLevel(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if b, ok := runeToByte[r]; ok {
			out = append(out, b)
		} else {
			out = utf8.AppendRune(out, r)
		}
	}
	return out
}

// bpeKey orders the merge queue: lowest rank first, then leftmost.
func bpeKey(rank, left int) uint64 { return uint64(uint32(rank))<<32 | uint64(uint32(left)) }

// bpeState holds the scratch buffers of one Encode call.
type bpeState struct {
	cpts []rune
	word strings.Builder
	syms []symbol
	heap []heapq.Item[bigram]
}

func (t *Tokenizer) encodeBPE(out []int, text string) []int {
	var st bpeState
	st.cpts = decodeLenient(st.cpts[:0], text)
	for _, w := range t.pre.split(st.cpts) {
		st.word.Reset()
		for _, r := range st.cpts[w.start:w.end] {
			// Map the UTF-8 bytes of each code point to GPT-2 characters.
			var tmp [utf8.UTFMax]byte
			for _, b := range encodeLenient(tmp[:0], r) {
				st.word.WriteString(byteToRune[b])
			}
		}
		out = t.bpeWord(out, st.word.String(), &st)
	}
	return out
}

func (t *Tokenizer) bpeWord(out []int, word string, st *bpeState) []int {
	if t.ignoreMerges {
		if id, ok := t.toID[word]; ok {
			return append(out, id)
		}
	}
	syms := st.syms[:0]
	for off := 0; off < len(word); {
		n := min(utf8Len(word[off]), len(word)-off)
		idx := len(syms)
		next := idx + 1
		if off+n == len(word) {
			next = -1
		}
		syms = append(syms, symbol{start: off, n: n, prev: idx - 1, next: next})
		off += n
	}
	h := st.heap[:0]
	add := func(left, right int) {
		if left == -1 || right == -1 {
			return
		}
		a, b := syms[left], syms[right]
		rank, ok := t.ranks[mergePair{word[a.start : a.start+a.n], word[b.start : b.start+b.n]}]
		if !ok {
			return
		}
		h = heapq.Push(h, bpeKey(rank, left), bigram{left: int32(left), right: int32(right), size: int32(a.n + b.n)})
	}
	for i := 1; i < len(syms); i++ {
		add(i-1, i)
	}
	for len(h) > 0 {
		var top heapq.Item[bigram]
		h, top = heapq.Pop(h)
		bl, br := int(top.Value.left), int(top.Value.right)
		l, r := &syms[bl], &syms[br]
		if l.n == 0 || r.n == 0 || l.n+r.n != int(top.Value.size) || l.next != br {
			continue // outdated
		}
		l.n += r.n
		r.n = 0
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = bl
		}
		add(l.prev, bl)
		add(bl, l.next)
	}
	for i := 0; i != -1 && len(syms) > 0; i = syms[i].next {
		s := word[syms[i].start : syms[i].start+syms[i].n]
		if id, ok := t.toID[s]; ok {
			out = append(out, id)
			continue
		}
		for j := 0; j < len(s); j++ {
			if id, ok := t.toID[s[j:j+1]]; ok {
				out = append(out, id)
			}
		}
	}
	st.syms, st.heap = syms, h
	return out
}

// decodeLenient decodes UTF-8 the way llama.cpp's unicode_cpts_from_utf8
// does: a well-formed lead byte with the right number of continuation
// bytes gives a code point (overlong forms and surrogates included);
// anything else gives U+FFFD for one byte.
func decodeLenient(dst []rune, s string) []rune {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c < 0x80:
			dst = append(dst, rune(c))
			i++
			continue
		case c&0x40 == 0:
		case c&0x20 == 0:
			if i+1 < len(s) && s[i+1]&0xC0 == 0x80 {
				dst = append(dst, rune(c&0x1F)<<6|rune(s[i+1]&0x3F))
				i += 2
				continue
			}
		case c&0x10 == 0:
			if i+2 < len(s) && s[i+1]&0xC0 == 0x80 && s[i+2]&0xC0 == 0x80 {
				dst = append(dst, rune(c&0x0F)<<12|rune(s[i+1]&0x3F)<<6|rune(s[i+2]&0x3F))
				i += 3
				continue
			}
		case c&0x08 == 0:
			if i+3 < len(s) && s[i+1]&0xC0 == 0x80 && s[i+2]&0xC0 == 0x80 && s[i+3]&0xC0 == 0x80 {
				dst = append(dst, rune(c&0x07)<<18|rune(s[i+1]&0x3F)<<12|rune(s[i+2]&0x3F)<<6|rune(s[i+3]&0x3F))
				i += 4
				continue
			}
		}
		dst = append(dst, utf8.RuneError)
		i++
	}
	return dst
}

// encodeLenient is the inverse of decodeLenient: it writes surrogates and
// overlong-decoded values back as the bytes they came from.
func encodeLenient(dst []byte, r rune) []byte {
	switch {
	case r < 0x80:
		return append(dst, byte(r))
	case r < 0x800:
		return append(dst, 0xC0|byte(r>>6), 0x80|byte(r&0x3F))
	case r < 0x10000:
		return append(dst, 0xE0|byte(r>>12), 0x80|byte(r>>6&0x3F), 0x80|byte(r&0x3F))
	default:
		return append(dst, 0xF0|byte(r>>18&0x07), 0x80|byte(r>>12&0x3F), 0x80|byte(r>>6&0x3F), 0x80|byte(r&0x3F))
	}
}
