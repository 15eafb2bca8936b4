package tokenizer

// SentencePiece-style BPE (llama.cpp's llm_tokenizer_spm): start from one
// symbol per UTF-8 character, repeatedly merge the adjacent pair whose
// concatenation is the highest-scoring vocabulary token (leftmost on ties),
// then emit each symbol's token, or its bytes through <0xNN> byte tokens.

type symbol struct {
	start, n   int // byte range in the text
	prev, next int
}

type spmBigram struct {
	left, right int
	score       float32
	size        int
}

// spmLess orders the max-heap: higher score first, then leftmost.
func spmLess(a, b spmBigram) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	return a.left < b.left
}

type spmHeap []spmBigram

func (h *spmHeap) push(b spmBigram) {
	*h = append(*h, b)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !spmLess(s[i], s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *spmHeap) pop() spmBigram {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(s) {
			break
		}
		m := l
		if r := l + 1; r < len(s) && spmLess(s[r], s[l]) {
			m = r
		}
		if !spmLess(s[m], s[i]) {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
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
	var h spmHeap
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
		h.push(spmBigram{left: left, right: right, score: t.scores[id], size: len(s)})
	}
	for i := 1; i < len(syms); i++ {
		tryAdd(i-1, i)
	}
	for len(h) > 0 {
		bg := h.pop()
		l, r := &syms[bg.left], &syms[bg.right]
		if l.n == 0 || r.n == 0 || l.n+r.n != bg.size {
			continue // one side was merged away since this pair was queued
		}
		l.n += r.n
		r.n = 0
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = bg.left
		}
		tryAdd(l.prev, bg.left)
		tryAdd(bg.left, l.next)
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
