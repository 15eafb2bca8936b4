//go:build !purego

package tensor

import (
	"fmt"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/cpu"
)

// TestNEONSetsRegistered checks that init registered the plain NEON set,
// the SDOT set exactly when the CPU has the dot-product extension, and
// chose the last one.
func TestNEONSetsRegistered(t *testing.T) {
	var got []string
	for _, ks := range kernelSets {
		got = append(got, ks.name)
	}
	want := []string{"go", "neon"}
	if cpu.ARM64.HasASIMDDP {
		want = append(want, "neondot")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("kernel sets (-want +got):\n%s", diff)
	}
	if kern.name != want[len(want)-1] {
		t.Errorf("kernel set in use is %q, want %q", kern.name, want[len(want)-1])
	}
	t.Logf("HasASIMDDP=%v, in use: %s", cpu.ARM64.HasASIMDDP, kern.name)
}

// neonBlockKernels lists the arm64 block kernels with their Go twins; the
// SDOT ones only where the CPU can run them.
func neonBlockKernels() []struct {
	name string
	typ  Type
	f    qDotFunc
	ref  qDotFunc
} {
	type kc = struct {
		name string
		typ  Type
		f    qDotFunc
		ref  qDotFunc
	}
	ks := []kc{
		{"Q8_0/neon", Q8_0, blockWrap(dotQ8_0NEON, 34), dotQ8_0Go},
		{"Q4_0/neon", Q4_0, blockWrap(dotQ4_0NEON, 18), dotQ4_0Go},
	}
	if cpu.ARM64.HasASIMDDP {
		ks = append(ks,
			kc{"Q8_0/sdot", Q8_0, blockWrap(dotQ8_0SDOT, 34), dotQ8_0Go},
			kc{"Q4_0/sdot", Q4_0, blockWrap(dotQ4_0SDOT, 18), dotQ4_0Go})
	}
	return ks
}

// TestNEONBlockKernels compares each arm64 block kernel with its Go twin on
// quantised random rows and on raw random blocks (weights such as -128 that
// the quantiser never writes), for block counts with and without an odd
// last block.
func TestNEONBlockKernels(t *testing.T) {
	r := newRand(64)
	for _, k := range neonBlockKernels() {
		for _, nb := range []int{1, 2, 3, 7, 64} {
			for _, raw := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/nb=%d/raw=%v", k.name, nb, raw), func(t *testing.T) {
					cols := nb * QK
					var w []byte
					if raw {
						w = make([]byte, k.typ.rowBytes(cols))
						for i := range w {
							w[i] = byte(r.IntN(256))
						}
						fixScales(k.typ, w, r)
					} else {
						w, _ = Quantize(k.typ, randVec(r, cols, 1))
					}
					var a act
					a.prepare(k.typ, 1, cols)
					a.quantize(k.typ, 0, randVec(r, cols, 1))
					want, got := k.ref(w, a.qs, a.d, a.bs), k.f(w, a.qs, a.d, a.bs)
					// Per-block integer sums are exact; only the float
					// summation order differs.
					var mag float64
					tab := f16Table()
					bpb := k.typ.BytesPerBlock()
					for b := range nb {
						h := uint16(w[b*bpb]) | uint16(w[b*bpb+1])<<8
						mag += math.Abs(float64(tab[h])*float64(a.d[b])) * 32 * 128 * 127
					}
					if d := math.Abs(float64(got - want)); !(d <= 1e-6*mag+1e-6) {
						t.Errorf("got %g, Go gives %g (bound %g)", got, want, mag)
					}
				})
			}
		}
	}
}

// TestNEONBlockKernelsExtremes uses the most extreme quants (weights -128 or
// 127, activations ±127) with unit scales, where every partial sum is an
// integer that float32 holds exactly: the results must be equal.
func TestNEONBlockKernelsExtremes(t *testing.T) {
	one := F32ToF16(1)
	for _, k := range neonBlockKernels() {
		for _, nb := range []int{1, 2, 3, 7} {
			for _, sign := range []int{1, -1} {
				t.Run(fmt.Sprintf("%s/nb=%d/sign=%d", k.name, nb, sign), func(t *testing.T) {
					bpb := k.typ.BytesPerBlock()
					w := make([]byte, nb*bpb)
					xq := make([]int8, nb*QK)
					xd := make([]float32, nb)
					for b := range nb {
						w[b*bpb], w[b*bpb+1] = byte(one), byte(one>>8)
						for i := 2; i < bpb; i++ {
							if k.typ == Q8_0 {
								w[b*bpb+i] = 0x80 // -128
							} else {
								w[b*bpb+i] = 0x00 // both nibbles 0: -8
							}
						}
						xd[b] = 1
					}
					for i := range xq {
						xq[i] = int8(127 * sign)
					}
					want, got := k.ref(w, xq, xd, nil), k.f(w, xq, xd, nil)
					if got != want {
						t.Errorf("got %g, Go gives %g", got, want)
					}
				})
			}
		}
	}
}
