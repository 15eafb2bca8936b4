package tensor

import "math"

// Dot returns Σ a[i]·b[i] over len(a) elements (len(b) must be at least
// len(a)).
func Dot(a, b []float32) float32 { return kern.dot(a, b) }

// RMSNorm sets dst[i] = x[i] / sqrt(mean(x²) + eps) · weight[i], as
// llama.cpp's rms_norm followed by the weight multiply (the sum of squares is
// accumulated in float64). weight may be nil for no weight. dst may be x.
func RMSNorm(dst, x, weight []float32, eps float32) {
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	scale := float32(1 / math.Sqrt(ss/float64(len(x))+float64(eps)))
	dst = dst[:len(x)]
	if weight == nil {
		for i, v := range x {
			dst[i] = v * scale
		}
		return
	}
	weight = weight[:len(x)]
	for i, v := range x {
		dst[i] = v * scale * weight[i]
	}
}

// Softmax replaces x with exp(x - max) / Σ exp(x - max). Entries of -Inf
// become 0 (masked positions).
func Softmax(x []float32) {
	if len(x) == 0 {
		return
	}
	mx := x[0]
	for _, v := range x[1:] {
		mx = max(mx, v)
	}
	var sum float64
	for i, v := range x {
		e := float32(math.Exp(float64(v - mx)))
		x[i] = e
		sum += float64(e)
	}
	inv := float32(1 / sum)
	for i := range x {
		x[i] *= inv
	}
}

// silu is x·σ(x).
func silu(x float32) float32 { return x / (1 + float32(math.Exp(float64(-x)))) }

// SiLU sets dst[i] = x[i]·σ(x[i]). dst may be x.
func SiLU(dst, x []float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = silu(v)
	}
}

// SwiGLU sets dst[i] = SiLU(gate[i])·up[i], the gated feed-forward
// activation of the Llama and Qwen families. dst may alias gate or up.
func SwiGLU(dst, gate, up []float32) {
	dst, up = dst[:len(gate)], up[:len(gate)]
	for i, g := range gate {
		dst[i] = silu(g) * up[i]
	}
}

// Add sets dst[i] = a[i] + b[i]. dst may alias a or b.
func Add(dst, a, b []float32) {
	dst, b = dst[:len(a)], b[:len(a)]
	for i, v := range a {
		dst[i] = v + b[i]
	}
}

// Mul sets dst[i] = a[i]·b[i]. dst may alias a or b.
func Mul(dst, a, b []float32) {
	dst, b = dst[:len(a)], b[:len(a)]
	for i, v := range a {
		dst[i] = v * b[i]
	}
}

// Scale multiplies every element of x by s.
func Scale(x []float32, s float32) {
	for i := range x {
		x[i] *= s
	}
}

// AXPY adds a·x to y (y[i] += a·x[i]), the inner step of the attention
// weighted sum over values.
func AXPY(y []float32, a float32, x []float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += a * x[i]
	}
}
