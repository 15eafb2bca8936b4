//go:build !purego

package tensor

// Go adapters shared by the assembly kernel sets of every architecture:
// they check every length before the assembly runs (so it reads whole
// blocks inside its slices) and finish tails in Go.

// blockDot is an assembly kernel for a 32-element block type.
type blockDot func(w *byte, xq *int8, xd *float32, nb int) float32

// blockWrap adapts a block kernel for a type of bpb bytes per block
// (34 for Q8_0, 18 for Q4_0) to a row kernel.
func blockWrap(f blockDot, bpb int) qDotFunc {
	return func(w []byte, xq []int8, xd []float32, _ []int16) float32 {
		nb := len(xd)
		if nb == 0 {
			return 0
		}
		_, _ = w[nb*bpb-1], xq[nb*QK-1]
		return f(&w[0], &xq[0], &xd[0], nb)
	}
}

// floatDot adapts an assembly float32 dot product over whole groups of
// group elements; the tail is summed in Go.
func floatDot(f func(a, b *float32, n int) float32, group int) func(a, b []float32) float32 {
	return func(a, b []float32) float32 {
		n := len(a)
		b = b[:n]
		m := n - n%group
		var s float32
		if m > 0 {
			s = f(&a[0], &b[0], m)
		}
		for i := m; i < n; i++ {
			s += a[i] * b[i]
		}
		return s
	}
}

// f32BytesDot is a row kernel for F32 weights given as bytes, using dot
// when the bytes can be viewed as float32s in place.
func f32BytesDot(dot func(a, b []float32) float32) func(w []byte, x []float32) float32 {
	return func(w []byte, x []float32) float32 {
		if v, ok := f32View(w); ok {
			return dot(v[:len(x)], x)
		}
		return dotF32BytesGo(w, x)
	}
}

// halfDot adapts an assembly F16 dot product over whole groups of 8; the
// tail is summed in Go.
func halfDot(f func(w *byte, x *float32, n int) float32) func(w []byte, x []float32) float32 {
	return func(w []byte, x []float32) float32 {
		n := len(x)
		m := n &^ 7
		var s float32
		if m > 0 {
			_ = w[2*m-1]
			s = f(&w[0], &x[0], m)
		}
		if m < n {
			s += dotF16Go(w[2*m:], x[m:])
		}
		return s
	}
}
