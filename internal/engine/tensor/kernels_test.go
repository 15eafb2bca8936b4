package tensor

import (
	"math"
	"testing"
)

// TestKernelsMatchGo compares every kernel of the set in use with its
// plain-Go twin on random rows of many lengths, tails included, and on raw
// random bytes (weights the quantisers would never write, such as -128).
func TestKernelsMatchGo(t *testing.T) {
	if len(kernelSets) == 1 {
		t.Skipf("kernel set %q is the portable one", kern.name)
	}
	for _, ks := range kernelSets[1:] {
		t.Run(ks.name, func(t *testing.T) { testKernelSet(t, ks) })
	}
}

func testKernelSet(t *testing.T, ks kernels) {
	r := newRand(20)
	for _, typ := range Types() {
		bs := typ.BlockSize()
		lengths := []int{1, 2, 3, 5, 7, 8, 9, 16, 31, 33, 64, 100}
		if bs > 1 {
			lengths = []int{1, 2, 3, 4, 5, 7, 28}
		}
		for _, nblk := range lengths {
			cols := nblk * bs
			for trial := range 4 {
				var w []byte
				if trial == 3 && bs > 1 {
					w = make([]byte, typ.rowBytes(cols))
					for i := range w {
						w[i] = byte(r.IntN(256))
					}
					// keep the f16 scales finite and modest
					fixScales(typ, w, r)
				} else {
					w, _ = Quantize(typ, randVec(r, cols, 1))
				}
				x := randVec(r, cols, 1)
				var a act
				if a.prepare(typ, 1, cols) {
					a.quantize(typ, 0, x)
				}
				gq, gf := goKernels.rowFuncs(typ)
				vq, vf := ks.rowFuncs(typ)
				var want, got float32
				if gq != nil {
					want, got = gq(w, a.qs, a.d, a.bs), vq(w, a.qs, a.d, a.bs)
				} else {
					want, got = gf(w, x), vf(w, x)
				}
				wf := make([]float32, cols)
				_ = Dequantize(typ, w, wf)
				var mag float64
				for i := range wf {
					mag += math.Abs(float64(wf[i]) * float64(x[i]))
				}
				if d := math.Abs(float64(got - want)); !(d <= 1e-5*mag+1e-6) {
					t.Errorf("%s %s cols=%d trial %d: %g, Go gives %g (magnitude %g)", ks.name, typ, cols, trial, got, want, mag)
				}
			}
		}
	}
	// Float dot products of every length up to 70.
	for n := 0; n <= 70; n++ {
		a, b := randVec(r, n, 1), randVec(r, n, 1)
		want, got := goKernels.dot(a, b), ks.dot(a, b)
		var mag float64
		for i := range a {
			mag += math.Abs(float64(a[i] * b[i]))
		}
		if d := math.Abs(float64(got - want)); !(d <= 1e-5*mag+1e-7) {
			t.Errorf("%s Dot n=%d: %g, Go gives %g", ks.name, n, got, want)
		}
	}
}

// fixScales overwrites the f16 scales of raw random blocks with values in
// [-1, 1).
func fixScales(t Type, w []byte, r interface{ Float64() float64 }) {
	put := func(off int) {
		h := F32ToF16(float32(r.Float64()*2 - 1))
		w[off], w[off+1] = byte(h), byte(h>>8)
	}
	bb := t.BytesPerBlock()
	for b := 0; b < len(w)/bb; b++ {
		switch t {
		case Q4_0, Q5_0, Q8_0:
			put(b * bb)
		case Q4_1, Q5_1, Q4_K, Q5_K:
			put(b * bb)
			put(b*bb + 2)
		case Q6_K:
			put(b*bb + 208)
		}
	}
}
