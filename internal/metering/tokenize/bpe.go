package tokenize

import "switchyard/internal/heapq"

// This file holds the byte-pair merge: a piece (one pre-token) starts as
// single bytes, and the adjacent pair whose concatenation has the lowest rank
// is merged, the leftmost one on ties, until no adjacent pair is a token.
// That is tiktoken's rule; two implementations of it follow, a linear scan
// for short pieces and a heap for long ones, which the tests hold equal.

// smallPiece is the longest piece, in bytes, merged by the linear scan;
// BenchmarkMerge puts the crossover with the heap below 48 bytes.
const smallPiece = 32

// part is a boundary in a piece being merged: the token starting at start,
// and the rank of merging it with the following token.
type part struct {
	start int32
	rank  uint32
}

// mergeScan merges piece (2 ≤ len ≤ smallPiece is expected, any length
// works) and returns the token boundaries: parts[k].start for every token,
// then len(piece). It uses parts' storage when large enough.
func (v *vocab) mergeScan(piece string, parts []part) []part {
	parts = parts[:0]
	minRank, minAt := noRank, 0
	for i := 0; i < len(piece)-1; i++ {
		r := v.rank(piece[i : i+2])
		if r < minRank {
			minRank, minAt = r, i
		}
		parts = append(parts, part{int32(i), r})
	}
	parts = append(parts, part{int32(len(piece) - 1), noRank}, part{int32(len(piece)), noRank})
	for minRank != noRank {
		i := minAt
		// parts[i] and parts[i+1] become one token ending at parts[i+2];
		// the pairs that change are (i-1, i) and (i, i+2).
		if i > 0 {
			parts[i-1].rank = v.pairRank(piece, parts, i-1)
		}
		parts[i].rank = v.pairRank(piece, parts, i)
		parts = append(parts[:i+1], parts[i+2:]...)
		minRank = noRank
		for k, p := range parts[:len(parts)-1] {
			if p.rank < minRank {
				minRank, minAt = p.rank, k
			}
		}
	}
	return parts
}

// pairRank is the rank of the token at i merged with the one after it,
// seen before parts[i+1] is removed: the bytes parts[i]…parts[i+3].
func (v *vocab) pairRank(piece string, parts []part, i int) uint32 {
	if i+3 >= len(parts) {
		return noRank
	}
	return v.rank(piece[parts[i].start:parts[i+3].start])
}

// node is one token of a piece in mergeHeap: a doubly linked list indexed by
// the byte offset where the token starts, which never changes.
type node struct {
	prev, next int32
	rank       uint32 // rank of merging this token with the next
}

// candKey is a merge candidate's place in the heap: the token at pos
// merged with its successor, at rank; lowest rank first, then leftmost.
func candKey(rank uint32, pos int32) uint64 { return uint64(rank)<<32 | uint64(uint32(pos)) }

// heapScratch is reusable storage for mergeHeap.
type heapScratch struct {
	parts []part
	nodes []node
	heap  []heapq.Item[struct{}]
}

// mergeHeap merges piece like mergeScan, in O(n log n): candidates sit in a
// min-heap ordered by (rank, position); an entry whose token has since been
// merged away or whose rank has changed is stale and skipped (a token's
// span only grows, so its rank never returns to an old value).
func (v *vocab) mergeHeap(piece string, parts []part, sc *heapScratch) []part {
	n := len(piece)
	if cap(sc.nodes) < n+1 {
		sc.nodes = make([]node, n+1)
	}
	nodes := sc.nodes[:n+1]
	h := sc.heap[:0]
	for i := range n {
		r := noRank
		if i+2 <= n {
			r = v.rank(piece[i : i+2])
		}
		nodes[i] = node{prev: int32(i - 1), next: int32(i + 1), rank: r}
		if r != noRank {
			h = append(h, heapq.Item[struct{}]{Key: candKey(r, int32(i))})
		}
	}
	nodes[n] = node{prev: int32(n - 1), next: int32(n + 1), rank: noRank}
	heapq.Init(h)
	// end returns where the token after the one at i ends.
	end := func(i int32) int32 {
		nx := nodes[i].next
		if int(nx) >= n {
			return -1
		}
		return nodes[nx].next
	}
	for len(h) > 0 {
		var top heapq.Item[struct{}]
		h, top = heapq.Pop(h)
		rank, pos := uint32(top.Key>>32), int32(uint32(top.Key))
		nd := &nodes[pos]
		if nd.rank != rank || nd.prev == -2 {
			continue // stale
		}
		// Merge the token at pos with the next one.
		gone := nd.next
		nd.next = nodes[gone].next
		nodes[nd.next].prev = pos
		nodes[gone].prev = -2 // dead
		nd.rank = noRank
		if e := end(pos); e >= 0 {
			nd.rank = v.rank(piece[pos:e])
			if nd.rank != noRank {
				h = heapq.Push(h, candKey(nd.rank, pos), struct{}{})
			}
		}
		if p := nd.prev; p >= 0 {
			pn := &nodes[p]
			pn.rank = v.rank(piece[p:nodes[pos].next])
			if pn.rank != noRank {
				h = heapq.Push(h, candKey(pn.rank, p), struct{}{})
			}
		}
	}
	sc.heap = h
	parts = parts[:0]
	for i := int32(0); int(i) <= n; i = nodes[i].next {
		parts = append(parts, part{start: i, rank: noRank})
	}
	return parts
}
