package tokenizer

import (
	"math"

	"switchyard/internal/heapq"
)

// SentencePiece-style BPE (llama.cpp's llm_tokenizer_spm): start from one
// symbol per UTF-8 character, repeatedly merge the adjacent pair whose
// concatenation is the highest-scoring vocabulary token (leftmost on ties),
// then emit each symbol's token, or its bytes through <0xNN> byte tokens.

type symbol struct {
	start, n   int // byte range in the text
	prev, next int
}

// bigram is a merge candidate of both BPE flavours: the symbols at left
// and right, which together span size bytes when the pair was queued.
type bigram struct {
	left, right, size int32
}

// spmKey orders the merge queue: higher score first, then leftmost. The
// score's bits are mapped to an unsigned integer in the same order (-0
// counts as 0), then inverted so the highest score is the least key.
func spmKey(score float32, left int) uint64 {
	if score == 0 {
		score = 0 // -0 and 0 tie
	}
	bits := math.Float32bits(score)
	if bits&(1<<31) != 0 {
		bits = ^bits
	} else {
		bits |= 1 << 31
	}
	return uint64(^bits)<<32 | uint64(uint32(left))
}

// utf8Len is the length of the UTF-8 sequence a lead byte announces (1 for
// continuation bytes), as llama.cpp's unicode_len_utf8.
func utf8Len(b byte) int {
	switch {
	case b < 0x80:
		return 1
	case b < 0xC0:
		return 1
	case b < 0xE0:
		return 2
	case b < 0xF0:
		return 3
	default:
		return 4
	}
}

func (t *Tokenizer) encodeSPM(out []int, text []byte) []int {
	if len(text) == 0 {
		return out
	}
	syms := make([]symbol, 0, len(text))
	for off := 0; off < len(text); {
		n := min(utf8Len(text[off]), len(text)-off)
		idx := len(syms)
		next := idx + 1
		if off+n == len(text) {
			next = -1
		}
		syms = append(syms, symbol{start: off, n: n, prev: idx - 1, next: next})
		off += n
	}
	var h []heapq.Item[bigram]
	tryAdd := func(left, right int) {
		if left == -1 || right == -1 {
			return
		}
		a, b := syms[left], syms[right]
		s := text[a.start : b.start+b.n]
		if len(s) > t.maxLen {
			return
		}
		id, ok := t.toID[string(s)]
		if !ok {
			return
		}
		h = heapq.Push(h, spmKey(t.scores[id], left), bigram{left: int32(left), right: int32(right), size: int32(len(s))})
	}
	for i := 1; i < len(syms); i++ {
		tryAdd(i-1, i)
	}
	for len(h) > 0 {
		var top heapq.Item[bigram]
		h, top = heapq.Pop(h)
		bl, br := int(top.Value.left), int(top.Value.right)
		l, r := &syms[bl], &syms[br]
		if l.n == 0 || r.n == 0 || l.n+r.n != int(top.Value.size) {
			continue // one side was merged away since this pair was queued
		}
		l.n += r.n
		r.n = 0
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = bl
		}
		tryAdd(l.prev, bl)
		tryAdd(bl, l.next)
	}
	for i := 0; i != -1; i = syms[i].next {
		s := syms[i]
		if id, ok := t.toID[string(text[s.start:s.start+s.n])]; ok {
			out = append(out, id)
			continue
		}
		// Every merged symbol is a vocabulary token, so only single
		// characters get here: fall back to their bytes.
		for _, b := range text[s.start : s.start+s.n] {
			if id := t.byteTok[b]; id != None {
				out = append(out, id)
			}
		}
	}
	return out
}
