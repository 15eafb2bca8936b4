package dataset

import (
	"context"
	"math"
	"slices"
	"sync"

	"switchyard/internal/hashmix"
)

// numHashes is the MinHash signature length.
const numHashes = 128

// minhasher computes MinHash signatures with numHashes multiply-shift
// hash functions over 32-bit shingle hashes.
type minhasher struct {
	a, b [numHashes]uint64
}

func newMinhasher() *minhasher {
	m := &minhasher{}
	x := uint64(0x5eed_da7a_5e7)
	for i := range numHashes {
		x = hashmix.Mix64(x + 0x9e3779b97f4a7c15)
		m.a[i] = x | 1
		x = hashmix.Mix64(x + 0x9e3779b97f4a7c15)
		m.b[i] = x
	}
	return m
}

// sign writes the signature of a shingle set to sig.
func (m *minhasher) sign(set []uint32, sig *[numHashes]uint32) {
	for i := range sig {
		sig[i] = math.MaxUint32
	}
	for _, s := range set {
		x := uint64(s)
		for i := 0; i < numHashes; i++ {
			v := uint32((m.a[i]*x + m.b[i]) >> 32)
			if v < sig[i] {
				sig[i] = v
			}
		}
	}
}

// bandsFor picks r rows per band (b = numHashes/r bands) for a Jaccard
// threshold t: the largest r whose candidate probability 1-(1-t^r)^b at t
// is at least 0.99, so that few true pairs are missed while pairs well
// below t rarely become candidates.
func bandsFor(t float64) (b, r int) {
	b, r = numHashes, 1
	for rr := 1; rr <= 16; rr++ {
		bb := numHashes / rr
		if 1-math.Pow(1-math.Pow(t, float64(rr)), float64(bb)) >= 0.99 {
			b, r = bb, rr
		}
	}
	return b, r
}

// jaccard is |a∩b|/|a∪b| of two sorted sets.
func jaccard(a, b []uint32) float64 {
	if len(a) == 0 && len(b) == 0 {
		return 1
	}
	i, j, inter := 0, 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			inter++
			i++
			j++
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	return float64(inter) / float64(len(a)+len(b)-inter)
}

// maxBucketPeers bounds how many earlier members of one LSH bucket each
// row is compared with, so that a huge bucket stays linear.
const maxBucketPeers = 32

// nearDuplicates finds clusters of rows whose shingle sets have Jaccard
// similarity at least t, among the rows with keep[i] true. It returns, for
// each row, the first row of its cluster (itself when it is the first or
// not a duplicate). Sets are sorted shingle hashes; sigs their signatures.
func nearDuplicates(ctx context.Context, sets [][]uint32, sigs [][numHashes]uint32, keep []bool, t float64, workers int) ([]int32, error) {
	n := len(sets)
	nb, r := bandsFor(t)
	// Candidate pairs from each band, found by sorting (band key, row).
	type entry struct {
		key uint64
		row int32
	}
	pairCh := make(chan []uint64, nb)
	var wg sync.WaitGroup
	bandCh := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			es := make([]entry, 0, n)
			for band := range bandCh {
				es = es[:0]
				for i := range n {
					if !keep[i] || len(sets[i]) == 0 {
						continue
					}
					var k uint64 = fnvOffset ^ uint64(band)
					for _, v := range sigs[i][band*r : band*r+r] {
						k = (k ^ uint64(v)) * fnvPrime
					}
					es = append(es, entry{hashmix.Mix64(k), int32(i)})
				}
				slices.SortFunc(es, func(a, b entry) int {
					if a.key != b.key {
						if a.key < b.key {
							return -1
						}
						return 1
					}
					return int(a.row - b.row)
				})
				var pairs []uint64
				for s := 0; s < len(es); {
					e := s + 1
					for e < len(es) && es[e].key == es[s].key {
						e++
					}
					for j := s + 1; j < e; j++ {
						for i := max(s, j-maxBucketPeers); i < j; i++ {
							pairs = append(pairs, uint64(es[i].row)<<32|uint64(es[j].row))
						}
					}
					s = e
				}
				pairCh <- pairs
			}
		}()
	}
	go func() {
		defer close(bandCh)
		for band := range nb {
			if ctx.Err() != nil {
				return
			}
			bandCh <- band
		}
	}()
	go func() { wg.Wait(); close(pairCh) }()
	var cand []uint64
	for p := range pairCh {
		cand = append(cand, p...)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	slices.Sort(cand)
	cand = slices.Compact(cand)

	// Verify candidates with the exact Jaccard of the shingle sets.
	ok := make([]bool, len(cand))
	chunk := (len(cand) + workers - 1) / max(workers, 1)
	for w := range workers {
		lo, hi := w*chunk, min((w+1)*chunk, len(cand))
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := lo; k < hi; k++ {
				i, j := cand[k]>>32, cand[k]&0xffffffff
				ok[k] = jaccard(sets[i], sets[j]) >= t
			}
		}()
	}
	wg.Wait()

	// Union-find whose root is the smallest row of the cluster.
	parent := make([]int32, n)
	for i := range parent {
		parent[i] = int32(i)
	}
	var find func(int32) int32
	find = func(x int32) int32 {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	for k, c := range cand {
		if !ok[k] {
			continue
		}
		a, b := find(int32(c>>32)), find(int32(c&0xffffffff))
		if a == b {
			continue
		}
		if a < b {
			parent[b] = a
		} else {
			parent[a] = b
		}
	}
	for i := range parent {
		parent[i] = find(int32(i))
	}
	return parent, nil
}
