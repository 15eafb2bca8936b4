package tensor

import (
	"fmt"
	"math"
	"sync/atomic"
	"testing"
)

// refMatMul is the obviously-correct reference: dequantised weights times
// the unquantised activations, summed in float64. It also returns, per
// output, the error that 8-bit quantisation of the activations may add
// (Σ|w|·half a quantisation step, per activation block).
func refMatMul(t *testing.T, typ Type, w []byte, x []float32, n, rows, cols int) (want, tol []float64) {
	t.Helper()
	wf := make([]float32, rows*cols)
	if err := Dequantize(typ, w, wf); err != nil {
		t.Fatal(err)
	}
	bs := map[Type]int{Q4_0: QK, Q4_1: QK, Q5_0: QK, Q5_1: QK, Q8_0: QK, Q4_K: QKK, Q5_K: QKK, Q6_K: QKK}[typ]
	want, tol = make([]float64, n*rows), make([]float64, n*rows)
	for i := 0; i < n; i++ {
		xi := x[i*cols : (i+1)*cols]
		for r := 0; r < rows; r++ {
			wr := wf[r*cols : (r+1)*cols]
			var s, mag, qerr float64
			for c := range xi {
				s += float64(wr[c]) * float64(xi[c])
				mag += math.Abs(float64(wr[c]) * float64(xi[c]))
			}
			if bs > 0 {
				for b := 0; b < cols; b += bs {
					var amax, wsum float64
					for c := b; c < b+bs; c++ {
						amax = max(amax, math.Abs(float64(xi[c])))
						wsum += math.Abs(float64(wr[c]))
					}
					qerr += wsum * amax / 254
				}
			}
			want[i*rows+r] = s
			tol[i*rows+r] = qerr*1.001 + 2e-5*mag + 1e-6
		}
	}
	return want, tol
}

func TestMatMul(t *testing.T) {
	r := newRand(3)
	shapes := []struct{ rows, cols, n int }{
		{1, 256, 1}, {7, 512, 1}, {37, 768, 1}, {64, 256, 3}, {5, 1024, 17},
	}
	for _, threads := range []int{1, 3} {
		p := NewPool(threads)
		defer p.Close()
		for _, typ := range Types() {
			for _, sh := range shapes {
				t.Run(fmt.Sprintf("%s/%dx%dx%d/threads=%d", typ, sh.rows, sh.cols, sh.n, threads), func(t *testing.T) {
					w, err := Quantize(typ, randVec(r, sh.rows*sh.cols, 0.5))
					if err != nil {
						t.Fatal(err)
					}
					x := randVec(r, sh.n*sh.cols, 1)
					want, tol := refMatMul(t, typ, w, x, sh.n, sh.rows, sh.cols)
					got := make([]float32, sh.n*sh.rows+1)
					got[len(got)-1] = 42 // must stay untouched
					if sh.n == 1 {
						p.MatVec(got, x, w, typ, sh.rows, sh.cols)
					} else {
						p.MatMul(got, x, sh.n, w, typ, sh.rows, sh.cols)
					}
					for i := range want {
						if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol[i]) {
							t.Fatalf("output %d = %g, want %g ± %g (off by %g)", i, got[i], want[i], tol[i], d)
						}
					}
					if got[len(got)-1] != 42 {
						t.Errorf("wrote past n*rows")
					}
				})
			}
		}
	}
}

// TestMatVecQuantizedExact checks the integer kernels tightly: against the
// float64 product of the dequantised weights and the dequantised (8-bit)
// activations they actually use.
func TestMatVecQuantizedExact(t *testing.T) {
	r := newRand(4)
	const rows, cols = 9, 1024
	for _, typ := range []Type{Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K} {
		t.Run(typ.String(), func(t *testing.T) {
			w, _ := Quantize(typ, randVec(r, rows*cols, 0.5))
			wf := make([]float32, rows*cols)
			if err := Dequantize(typ, w, wf); err != nil {
				t.Fatal(err)
			}
			x := randVec(r, cols, 1)
			var a act
			a.prepare(typ, 1, cols)
			a.quantize(typ, 0, x)
			bs := cols / len(a.d)
			xq := make([]float64, cols)
			for c := range xq {
				xq[c] = float64(a.qs[c]) * float64(a.d[c/bs])
			}
			got := make([]float32, rows)
			MatVec(got, x, w, typ, rows, cols)
			for row := 0; row < rows; row++ {
				var s, mag float64
				for c := 0; c < cols; c++ {
					s += float64(wf[row*cols+c]) * xq[c]
					mag += math.Abs(float64(wf[row*cols+c]) * xq[c])
				}
				if d := math.Abs(float64(got[row]) - s); d > 1e-5*mag+1e-6 {
					t.Errorf("row %d = %g, want %g (off by %g, magnitude %g)", row, got[row], s, d, mag)
				}
			}
		})
	}
}

func TestActivationQuantization(t *testing.T) {
	r := newRand(5)
	x := randVec(r, 2*QKK, 1)
	for _, typ := range []Type{Q8_0, Q4_K} {
		var a act
		a.prepare(typ, 1, len(x))
		a.quantize(typ, 0, x)
		bs := len(x) / len(a.d)
		for c, v := range x {
			d := a.d[c/bs]
			if e := math.Abs(float64(a.qs[c])*float64(d) - float64(v)); e > float64(d)/2*1.0001 {
				t.Fatalf("%s: x[%d] = %g quantised to %d×%g", typ, c, v, a.qs[c], d)
			}
		}
		for g := range a.bs {
			var s int
			for _, q := range a.qs[16*g : 16*g+16] {
				s += int(q)
			}
			if int(a.bs[g]) != s {
				t.Fatalf("%s: group sum %d = %d, want %d", typ, g, a.bs[g], s)
			}
		}
	}
}

func TestMatMulPanics(t *testing.T) {
	tests := []struct {
		name             string
		t                Type
		rows, cols, n    int
		wLen, xLen, dLen int
	}{
		{"cols not a block multiple", Q8_0, 1, 48, 1, 51, 48, 1},
		{"short weights", Q8_0, 2, 32, 1, 34, 32, 2},
		{"short x", F32, 1, 4, 2, 16, 4, 2},
		{"short dst", F32, 2, 4, 1, 32, 4, 1},
		{"unknown type", Type(5), 1, 32, 1, 100, 32, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			MatMul(make([]float32, tt.dLen), make([]float32, tt.xLen), tt.n, make([]byte, tt.wLen), tt.t, tt.rows, tt.cols)
		})
	}
}

func TestPoolFor(t *testing.T) {
	p := NewPool(4)
	defer p.Close()
	for _, n := range []int{0, 1, 5, 100, 1001} {
		counts := make([]atomic.Int32, n)
		p.For(n, 3, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				counts[i].Add(1)
			}
		})
		for i := range counts {
			if c := counts[i].Load(); c != 1 {
				t.Fatalf("n=%d: index %d visited %d times", n, i, c)
			}
		}
	}
}

func TestPoolConcurrentUse(t *testing.T) {
	p := NewPool(2)
	defer p.Close()
	r := newRand(6)
	const rows, cols = 64, 512
	w, _ := Quantize(Q8_0, randVec(r, rows*cols, 1))
	x := randVec(r, cols, 1)
	want := make([]float32, rows)
	p.MatVec(want, x, w, Q8_0, rows, cols)
	done := make(chan []float32)
	for range 4 {
		go func() {
			got := make([]float32, rows)
			for range 20 {
				p.MatVec(got, x, w, Q8_0, rows, cols)
			}
			done <- got
		}()
	}
	for range 4 {
		got := <-done
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("concurrent result %d = %g, want %g", i, got[i], want[i])
			}
		}
	}
}
