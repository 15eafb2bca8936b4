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
		e := expf(v - mx)
		x[i] = e
		sum += float64(e)
	}
	inv := float32(1 / sum)
	for i := range x {
		x[i] *= inv
	}
}

// silu is x·σ(x).
func silu(x float32) float32 { return x / (1 + expf(-x)) }

// expf is e^x in float32, within 2 ulp of the exact value for normal
// results, several times faster than converting through math.Exp: x = n·ln2
// + r with |r| ≤ ln2/2, e^r by a degree-7 Taylor polynomial, 2^n put into
// the exponent bits. Results below the normal range flush to zero.
func expf(x float32) float32 {
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693145751953125 // ln2 split so n·ln2hi is exact
		ln2lo = 1.42860682030941723212e-6
	)
	switch {
	case x != x:
		return x
	case x > 88.72283:
		return float32(math.Inf(1))
	case x < -87.33654:
		return 0
	}
	n := float32(math.Floor(float64(x*log2e + 0.5)))
	r := x - n*ln2hi - n*ln2lo
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040)))))))
	if n > 127 { // x just below the overflow threshold: p·2 · 2^127
		return p * 2 * math.Float32frombits(uint32(127+127)<<23)
	}
	return p * math.Float32frombits(uint32(int32(n)+127)<<23)
}

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
