// Package heapq is a binary min-heap kept in a plain slice, for the merge
// queues of the BPE tokenizers (internal/engine/tokenizer and
// internal/metering/tokenize). The caller owns the slice, so one backing
// array is reused across calls without allocation.
//
// Elements are ordered by an unsigned 64-bit key that the caller packs
// (e.g. rank<<32 | position), so a comparison is one integer compare the
// compiler emits in place: an ordering method or func value on a type
// parameter would be an indirect call per comparison, which measured
// about a third slower on the tokenizers' merge loops. Unlike
// container/heap it boxes nothing in interfaces and needs no wrapper type.
package heapq

// Item is one heap element: Key orders it, least first; Value rides along.
type Item[V any] struct {
	Key   uint64
	Value V
}

// Init arranges h into a heap in O(len(h)).
func Init[V any](h []Item[V]) {
	for i := len(h)/2 - 1; i >= 0; i-- {
		down(h, i)
	}
}

// Push adds the element (key, v) to the heap h and returns the grown slice.
func Push[V any](h []Item[V], key uint64, v V) []Item[V] {
	h = append(h, Item[V]{key, v})
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h[i].Key >= h[p].Key {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	return h
}

// Pop removes the element with the least key from the non-empty heap h
// and returns the shrunk slice and that element.
func Pop[V any](h []Item[V]) ([]Item[V], Item[V]) {
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	down(h, 0)
	return h, top
}

func down[V any](h []Item[V], i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h[r].Key < h[l].Key {
			m = r
		}
		if h[m].Key >= h[i].Key {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
