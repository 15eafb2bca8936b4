package tensor

import (
	"math"
	"testing"
)

func closeTo(a, b, tol float64) bool { return math.Abs(a-b) <= tol*(1+math.Abs(b)) }

func TestOps(t *testing.T) {
	r := newRand(7)
	for _, n := range []int{1, 3, 8, 17, 896} {
		x, y, w := randVec(r, n, 1), randVec(r, n, 1), randVec(r, n, 1)
		var dot, ss float64
		for i := range x {
			dot += float64(x[i]) * float64(y[i])
			ss += float64(x[i]) * float64(x[i])
		}
		if got := Dot(x, y); !closeTo(float64(got), dot, 1e-5*math.Sqrt(float64(n))) {
			t.Errorf("n=%d: Dot = %g, want %g", n, got, dot)
		}
		out := make([]float32, n)
		RMSNorm(out, x, w, 1e-6)
		inv := 1 / math.Sqrt(ss/float64(n)+1e-6)
		for i := range x {
			if want := float64(x[i]) * inv * float64(w[i]); !closeTo(float64(out[i]), want, 1e-6) {
				t.Fatalf("n=%d: RMSNorm[%d] = %g, want %g", n, i, out[i], want)
			}
		}
		sm := append([]float32(nil), x...)
		Softmax(sm)
		var z float64
		for _, v := range x {
			z += math.Exp(float64(v))
		}
		for i := range x {
			if want := math.Exp(float64(x[i])) / z; !closeTo(float64(sm[i]), want, 1e-6) {
				t.Fatalf("n=%d: Softmax[%d] = %g, want %g", n, i, sm[i], want)
			}
		}
		SwiGLU(out, x, y)
		for i := range x {
			g := float64(x[i])
			if want := g / (1 + math.Exp(-g)) * float64(y[i]); !closeTo(float64(out[i]), want, 1e-6) {
				t.Fatalf("SwiGLU[%d] = %g, want %g", i, out[i], want)
			}
		}
		SiLU(out, x)
		Add(out, out, y)
		for i := range x {
			g := float64(x[i])
			if want := g/(1+math.Exp(-g)) + float64(y[i]); !closeTo(float64(out[i]), want, 1e-6) {
				t.Fatalf("SiLU+Add[%d] = %g, want %g", i, out[i], want)
			}
		}
		Mul(out, x, y)
		Scale(out, 2)
		AXPY(out, 0.5, w)
		for i := range x {
			if want := 2*float64(x[i])*float64(y[i]) + 0.5*float64(w[i]); !closeTo(float64(out[i]), want, 1e-6) {
				t.Fatalf("Mul/Scale/AXPY[%d] = %g, want %g", i, out[i], want)
			}
		}
	}
	// Masked entries.
	m := []float32{0, float32(math.Inf(-1)), 0}
	Softmax(m)
	if m[0] != 0.5 || m[1] != 0 || m[2] != 0.5 {
		t.Errorf("Softmax with -Inf = %v", m)
	}
}

func TestExpf(t *testing.T) {
	check := func(x float32) {
		got := float64(expf(x))
		want := math.Exp(float64(x))
		if want < 1.2e-38 { // below float32's normal range: flushed
			if got != 0 && math.Abs(got-want) > 1.2e-38 {
				t.Fatalf("expf(%g) = %g, want %g", x, got, want)
			}
			return
		}
		if want > math.MaxFloat32 {
			if !math.IsInf(got, 1) {
				t.Fatalf("expf(%g) = %g, want +Inf", x, got)
			}
			return
		}
		ulp := float64(math.Nextafter32(float32(want), float32(math.Inf(1)))) - float64(float32(want))
		if math.Abs(got-want) > 2*ulp {
			t.Fatalf("expf(%g) = %g, want %g (%.1f ulp off)", x, got, want, math.Abs(got-want)/ulp)
		}
	}
	for x := float32(-90); x < 90; x += 0.00731 {
		check(x)
	}
	r := newRand(8)
	for range 100000 {
		check(float32(r.Float64()*180 - 90))
	}
	for _, x := range []float32{0, 1, -1, 88.72, 88.7228, 88.72284, -87.3365, -87.33655, float32(math.Inf(-1)), float32(math.Inf(1))} {
		check(x)
	}
	if v := expf(float32(math.NaN())); v == v {
		t.Errorf("expf(NaN) = %g", v)
	}
}
