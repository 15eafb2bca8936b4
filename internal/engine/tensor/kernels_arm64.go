//go:build !purego

package tensor

import "golang.org/x/sys/cpu"

// NEON assembly kernels (kernels_arm64.s). Pointers and counts only: the Go
// wrappers below check every length first, so the assembly reads whole
// blocks inside its slices.
//
// Two sets are registered: "neon" uses only the base Advanced SIMD
// instructions every arm64 CPU has (SMULL/SADALP for the int8 products);
// "neondot" uses SDOT from the ARMv8.2 dot-product extension where the CPU
// reports it. Both keep the Go kernels for the K types, Q4_1, Q5_0, Q5_1,
// BF16 and activation quantisation.

//go:noescape
func dotQ8_0SDOT(w *byte, xq *int8, xd *float32, nb int) float32

//go:noescape
func dotQ8_0NEON(w *byte, xq *int8, xd *float32, nb int) float32

//go:noescape
func dotQ4_0SDOT(w *byte, xq *int8, xd *float32, nb int) float32

//go:noescape
func dotQ4_0NEON(w *byte, xq *int8, xd *float32, nb int) float32

//go:noescape
func dotF32NEON(a, b *float32, n int) float32

//go:noescape
func dotF16NEON(w *byte, x *float32, n int) float32

func init() {
	k := goKernels
	k.name = "neon"
	k.q8_0 = armBlockWrap(dotQ8_0NEON, 34)
	k.q4_0 = armBlockWrap(dotQ4_0NEON, 18)
	k.f32 = dotF32BytesNEON
	k.f16 = dotF16NEONWrap
	k.dot = dotNEON
	kernelSets = append(kernelSets, k)
	if cpu.ARM64.HasASIMDDP {
		k.name = "neondot"
		k.q8_0 = armBlockWrap(dotQ8_0SDOT, 34)
		k.q4_0 = armBlockWrap(dotQ4_0SDOT, 18)
		kernelSets = append(kernelSets, k)
	}
	kern = k
}

// armBlockDot is a block kernel for a 32-element block type.
type armBlockDot func(w *byte, xq *int8, xd *float32, nb int) float32

// armBlockWrap adapts a block kernel for a type of bpb bytes per 32-element
// block to a row kernel.
func armBlockWrap(f armBlockDot, bpb int) qDotFunc {
	return func(w []byte, xq []int8, xd []float32, _ []int16) float32 {
		nb := len(xd)
		if nb == 0 {
			return 0
		}
		_, _ = w[nb*bpb-1], xq[nb*QK-1]
		return f(&w[0], &xq[0], &xd[0], nb)
	}
}

// dotNEON is the float32 dot product; the assembly takes whole groups of 4.
func dotNEON(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	m := n &^ 3
	var s float32
	if m > 0 {
		s = dotF32NEON(&a[0], &b[0], m)
	}
	for i := m; i < n; i++ {
		s += a[i] * b[i]
	}
	return s
}

func dotF32BytesNEON(w []byte, x []float32) float32 {
	if v, ok := f32View(w); ok {
		return dotNEON(v[:len(x)], x)
	}
	return dotF32BytesGo(w, x)
}

func dotF16NEONWrap(w []byte, x []float32) float32 {
	n := len(x)
	m := n &^ 7
	var s float32
	if m > 0 {
		_ = w[2*m-1]
		s = dotF16NEON(&w[0], &x[0], m)
	}
	if m < n {
		s += dotF16Go(w[2*m:], x[m:])
	}
	return s
}
