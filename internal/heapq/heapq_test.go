package heapq

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestPopsInKeyOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 200 {
		var all []Item[int]
		for i := range n {
			all = append(all, Item[int]{Key: uint64(r.IntN(10))<<32 | uint64(i), Value: i})
		}
		// Half heapified at once, half pushed one by one.
		h := slices.Clone(all[:n/2])
		Init(h)
		for _, x := range all[n/2:] {
			h = Push(h, x.Key, x.Value)
		}
		var got []Item[int]
		for len(h) > 0 {
			var x Item[int]
			h, x = Pop(h)
			got = append(got, x)
		}
		want := slices.Clone(all)
		slices.SortFunc(want, func(a, b Item[int]) int { return cmp.Compare(a.Key, b.Key) })
		if !slices.Equal(got, want) {
			t.Fatalf("n=%d: popped %v, want %v", n, got, want)
		}
	}
}
