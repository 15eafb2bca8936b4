package openai

import "bytes"

// Each calls fn with the span of every element of the array at sp, or of
// every member value (with its raw key) of the object at sp. The body must
// already have passed Scan. It stops early when fn returns false.
func Each(body []byte, sp Span, fn func(key []byte, v Span) bool) {
	if !sp.Present() {
		return
	}
	s := scanner{b: body[:sp.End], i: sp.Start}
	open := body[sp.Start]
	if open != '[' && open != '{' {
		return
	}
	s.i++
	for {
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] == ']' || s.b[s.i] == '}' {
			return
		}
		var key []byte
		if open == '{' {
			ks := s.i
			if s.str() != nil {
				return
			}
			key = body[ks+1 : s.i-1]
			s.ws()
			s.i++ // ':'
			s.ws()
		}
		vs := s.i
		if _, err := s.value(1); err != nil {
			return
		}
		if !fn(key, Span{vs, s.i}) {
			return
		}
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == ',' {
			s.i++
		}
	}
}

// Member returns the span of the member key of the object at sp.
func Member(body []byte, sp Span, key string) Span {
	var out Span
	Each(body, sp, func(k []byte, v Span) bool {
		if string(k) == key {
			out = v
		}
		return true
	})
	return out
}

// Iter steps through the elements of an array, or the members of an
// object, of a body that already passed Scan. Unlike Each it does not
// validate values again: it skips them by their brackets and quotes, so
// walking nested values costs about one pass over their bytes per level.
// On a body that did not pass Scan it stops early and never panics.
type Iter struct {
	b   []byte
	i   int
	obj bool
	ix  *Index
	ord int // the ix entry of the next nested container
}

// NewIter returns an iterator over the container at sp. A span that is
// absent or not an array or object yields nothing.
func NewIter(body []byte, sp Span) Iter {
	if !sp.Present() || sp.End > len(body) || sp.Start < 0 {
		return Iter{}
	}
	switch body[sp.Start] {
	case '[':
		return Iter{b: body[:sp.End], i: sp.Start + 1}
	case '{':
		return Iter{b: body[:sp.End], i: sp.Start + 1, obj: true}
	}
	return Iter{}
}

// Next returns the next member's raw key (its bytes between the quotes,
// escapes not decoded; nil for array elements) and value span. ok is false
// at the end.
func (it *Iter) Next() (key []byte, v Span, ok bool) {
	b := it.b
	i := skipWS(b, it.i)
	if i < len(b) && b[i] == ',' {
		i = skipWS(b, i+1)
	}
	if i >= len(b) || b[i] == ']' || b[i] == '}' {
		it.i = len(b)
		return nil, Span{}, false
	}
	if it.obj {
		if b[i] != '"' {
			it.i = len(b)
			return nil, Span{}, false
		}
		ke := skipString(b, i)
		if ke >= len(b) {
			it.i = len(b)
			return nil, Span{}, false
		}
		key = b[i+1 : ke-1]
		i = skipWS(b, ke)
		if i >= len(b) || b[i] != ':' {
			it.i = len(b)
			return nil, Span{}, false
		}
		i = skipWS(b, i+1)
		if i >= len(b) {
			it.i = len(b)
			return nil, Span{}, false
		}
	}
	var e int
	if ix := it.ix; ix != nil && (b[i] == '{' || b[i] == '[') && it.ord < len(ix.c) && int(ix.c[it.ord].start) == i {
		c := ix.c[it.ord]
		ix.last = it.ord
		e, it.ord = int(c.end), int(c.after)
	} else {
		if b[i] == '{' || b[i] == '[' {
			it.ix = nil // off the index: skip from here on
		}
		e = Skip(b, i)
	}
	if e <= i || e > len(b) {
		it.i = len(b)
		return nil, Span{}, false
	}
	it.i = e
	return key, Span{i, e}, true
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the offset just past the string starting at b[i]
// (a '"'), or len(b) when it is unterminated. Short strings (keys, types,
// ids) are stepped through byte by byte; long ones jump from quote to
// quote.
func skipString(b []byte, i int) int {
	j := i + 1
	for n := min(len(b), j+32); j < n; j++ {
		switch b[j] {
		case '"':
			return j + 1
		case '\\':
			j++
		}
	}
	if j > len(b) {
		return len(b)
	}
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return len(b)
		}
		q := j + k
		n := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		j = q + 1
	}
}

// Skip returns the offset just past the JSON value starting at b[i] in a
// body that passed Scan, without validating it.
func Skip(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(b)
	}
	for i < len(b) {
		switch b[i] {
		case ',', ']', '}', ' ', '\n', '\t', '\r':
			return i
		}
		i++
	}
	return i
}

// maxIndexed is the largest body ScanIndexed indexes (offsets are int32).
const maxIndexed = 1<<31 - 1

// Index records where each nested array and object of a body ends, in the
// order they open. ScanIndexed fills it; Iter uses it to step over a
// nested container in constant time instead of reading it. The zero Index
// is empty and ready to use; a nil *Index indexes nothing.
//
// An Index is not safe for concurrent use: Iter and Next keep a hint in it.
type Index struct {
	c    []container
	last int // the entry Next last stepped over: the likeliest next Iter
}

type container struct {
	start, end int32
	after      int32 // the entry after the last container nested in this one
}

func (ix *Index) reset() {
	if ix != nil {
		ix.c, ix.last = ix.c[:0], 0
	}
}

// Iter is NewIter for the indexed body (the one last given to
// ScanIndexed); containers the index does not know are skipped by reading.
func (ix *Index) Iter(body []byte, sp Span) Iter {
	it := NewIter(body, sp)
	if ix == nil || it.b == nil {
		return it
	}
	// The first container after sp.Start is sp's first nested one.
	if l := ix.last; l < len(ix.c) && int(ix.c[l].start) == sp.Start {
		it.ix, it.ord = ix, l+1
		return it
	}
	lo, hi := 0, len(ix.c)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if int(ix.c[m].start) <= sp.Start {
			lo = m + 1
		} else {
			hi = m
		}
	}
	it.ix, it.ord = ix, lo
	return it
}
