package tensor

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestMatMulMatchesMatVec checks that a batched product gives every token
// exactly the result of a one-token product, whichever kernels the batch
// uses (the four-token kernels keep the one-token order of additions), so
// prompt processing and generation agree bit for bit.
func TestMatMulMatchesMatVec(t *testing.T) {
	r := newRand(21)
	tests := []struct{ rows, cols, n int }{
		{1, 32, 4}, {3, 64, 5}, {17, 96, 8}, {70, 896, 9}, {5, 4864, 4}, {130, 256, 13},
	}
	for _, threads := range []int{1, 2} {
		p := NewPool(threads)
		defer p.Close()
		for _, typ := range []Type{Q8_0, Q4_0, Q4_K, F16} {
			for _, tc := range tests {
				t.Run(fmt.Sprintf("%s/%dx%dx%d/threads=%d", typ, tc.rows, tc.cols, tc.n, threads), func(t *testing.T) {
					if tc.cols%typ.BlockSize() != 0 {
						t.Skip("cols not a whole number of blocks")
					}
					w, err := Quantize(typ, randVec(r, tc.rows*tc.cols, 0.5))
					if err != nil {
						t.Fatal(err)
					}
					x := randVec(r, tc.n*tc.cols, 1)
					got := make([]float32, tc.n*tc.rows)
					p.MatMul(got, x, tc.n, w, typ, tc.rows, tc.cols)
					want := make([]float32, tc.n*tc.rows)
					for i := range tc.n {
						p.MatVec(want[i*tc.rows:(i+1)*tc.rows], x[i*tc.cols:(i+1)*tc.cols], w, typ, tc.rows, tc.cols)
					}
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("MatMul differs from MatVec per token (-want +got):\n%s", diff)
					}
				})
			}
		}
	}
}

// TestMultiKernelsMatchOneRow checks the four-token and four-row kernels of
// every kernel set against its one-row kernel, bit for bit.
func TestMultiKernelsMatchOneRow(t *testing.T) {
	r := newRand(22)
	for _, ks := range kernelSets {
		for _, typ := range []Type{Q8_0, Q4_0} {
			q4, qr4 := ks.rowFuncs4(typ), ks.rowFuncsR4(typ)
			if q4 == nil && qr4 == nil {
				continue
			}
			one, _ := ks.rowFuncs(typ)
			for _, nb := range []int{1, 2, 3, 28, 29} {
				t.Run(fmt.Sprintf("%s/%s/blocks=%d", ks.name, typ, nb), func(t *testing.T) {
					cols := nb * QK
					rb := typ.rowBytes(cols) + 6 // rows need not be packed
					w := make([]byte, 4*rb)
					for k := range 4 {
						wr, _ := Quantize(typ, randVec(r, cols, 0.5))
						copy(w[k*rb:], wr)
					}
					var a act
					a.prepare(typ, 4, cols)
					for i := range 4 {
						a.quantize(typ, i, randVec(r, cols, 1))
					}
					a.interleave(4)
					want := make([]float32, 16) // [token][row]
					for i := range 4 {
						qs, d, bs := a.row(i, cols)
						for k := range 4 {
							want[i*4+k] = one(w[k*rb:(k+1)*rb], qs, d, bs)
						}
					}
					if q4 != nil {
						got := make([]float32, 16)
						for k := range 4 {
							q4(w[k*rb:(k+1)*rb], a.qs, a.d4, cols, got[k:], 4)
						}
						if diff := cmp.Diff(want, got); diff != "" {
							t.Errorf("four-token kernel (-want +got):\n%s", diff)
						}
					}
					if qr4 != nil {
						got := make([]float32, 16)
						for i := range 4 {
							qs, d, _ := a.row(i, cols)
							qr4(w, rb, qs, d, got[i*4:i*4+4])
						}
						if diff := cmp.Diff(want, got); diff != "" {
							t.Errorf("four-row kernel (-want +got):\n%s", diff)
						}
					}
				})
			}
		}
	}
}

// TestQuantQ8MatchesGo checks every kernel set's activation quantiser
// against the portable one, byte for byte, including halves (which round
// away from zero), values just under a half, and an all-zero block.
func TestQuantQ8MatchesGo(t *testing.T) {
	r := newRand(23)
	halves := []float32{127, 2.5, -2.5, 0.5, -0.5, 0.49999997, -0.49999997, 126.5, -126.5, 1.5, -1.5, 3.4999998, 0, -0, 64, -127}
	tests := []struct {
		name string
		x    []float32
	}{
		{"random", randVec(r, 30*QK, 1)},
		{"tiny", randVec(r, 2*QK, 1e-30)},
		{"subnormal scale", randVec(r, 2*QK, 1e-40)},
		{"large", randVec(r, 3*QK, 1e6)},
		{"halves", append(append([]float32{}, halves...), halves...)},
		{"zeros", make([]float32, 2*QK)},
	}
	for _, ks := range kernelSets {
		for _, tc := range tests {
			t.Run(ks.name+"/"+tc.name, func(t *testing.T) {
				nb := len(tc.x) / QK
				wantQ, wantD := make([]int8, nb*QK), make([]float32, nb)
				gotQ, gotD := make([]int8, nb*QK), make([]float32, nb)
				quantActQ8Go(tc.x, wantQ, wantD, nil)
				ks.quantQ8(tc.x, gotQ, gotD, nil)
				if diff := cmp.Diff(wantD, gotD); diff != "" {
					t.Errorf("scales (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(wantQ, gotQ); diff != "" {
					t.Errorf("quants (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// BenchmarkQuantQ8 measures activation quantisation of one Qwen2.5-0.5B
// FFN row (4864 elements) per kernel set.
func BenchmarkQuantQ8(b *testing.B) {
	x := randVec(newRand(24), 4864, 1)
	qs, d := make([]int8, len(x)), make([]float32, len(x)/QK)
	for _, ks := range kernelSets {
		b.Run(ks.name, func(b *testing.B) {
			b.SetBytes(int64(4 * len(x)))
			for b.Loop() {
				ks.quantQ8(x, qs, d, nil)
			}
		})
	}
}

// BenchmarkMultiKernels compares, on cache-resident data (896 columns, as
// Qwen2.5-0.5B's hidden size), four calls of the one-row kernel with one
// call of the four-row and of the four-token kernel: compute speed without
// the memory wall.
func BenchmarkMultiKernels(b *testing.B) {
	r := newRand(25)
	const cols = 896
	for _, typ := range []Type{Q8_0, Q4_0} {
		rb := typ.rowBytes(cols)
		w := make([]byte, 4*rb)
		for k := range 4 {
			wr, _ := Quantize(typ, randVec(r, cols, 1))
			copy(w[k*rb:], wr)
		}
		var a act
		a.prepare(typ, 4, cols)
		for i := range 4 {
			a.quantize(typ, i, randVec(r, cols, 1))
		}
		a.interleave(4)
		qs, d, _ := a.row(0, cols)
		one, _ := kern.rowFuncs(typ)
		r4, x4 := kern.rowFuncsR4(typ), kern.rowFuncs4(typ)
		dst := make([]float32, 16)
		b.Run(typ.String()+"/one-row×4", func(b *testing.B) {
			for b.Loop() {
				for k := range 4 {
					dst[k] = one(w[k*rb:(k+1)*rb], qs, d, nil)
				}
			}
		})
		if r4 != nil {
			b.Run(typ.String()+"/four-row", func(b *testing.B) {
				for b.Loop() {
					r4(w, rb, qs, d, dst)
				}
			})
		}
		if x4 != nil {
			b.Run(typ.String()+"/four-token", func(b *testing.B) {
				for b.Loop() {
					x4(w, a.qs, a.d4, cols, dst, 4)
				}
			})
		}
	}
}
