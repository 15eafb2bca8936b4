//go:build !purego

package tensor

import "golang.org/x/sys/cpu"

// Assembly kernels (kernels_amd64.s). Pointers and counts only: the Go
// wrappers below check every length first, so the assembly reads whole
// blocks inside its slices.

//go:noescape
func dotQ8_0AVX2(w *byte, xq *int8, xd *float32, nb int) float32

//go:noescape
func dotQ8_0VNNI(w *byte, xq *int8, xd *float32, nb int) float32

//go:noescape
func dotQ4_0AVX2(w *byte, xq *int8, xd *float32, nb int) float32

//go:noescape
func dotQ4_0VNNI(w *byte, xq *int8, xd *float32, nb int) float32

//go:noescape
func dotF32AVX2(a, b *float32, n int) float32

//go:noescape
func dotF16AVX2(w *byte, x *float32, n int) float32

//go:noescape
func dotBF16AVX2(w *byte, x *float32, n int) float32

func init() {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA || !cpu.X86.HasF16C {
		return
	}
	k := goKernels
	k.name = "avx2"
	k.q8_0 = blockWrap(dotQ8_0AVX2, 34)
	k.q4_0 = blockWrap(dotQ4_0AVX2, 18)
	k.q8_0x4 = x4Wrap(dotQ8_0x4AVX2, 34)
	k.q4_0x4 = x4Wrap(dotQ4_0x4AVX2, 18)
	k.q8_0r4 = r4Wrap(dotQ8_0r4AVX2, 34)
	k.q4_0r4 = r4Wrap(dotQ4_0r4AVX2, 18)
	k.q4K = kWrap(dotQ4KAVX2, 144)
	k.q5K = kWrap(dotQ5KAVX2, 176)
	k.q6K = kWrap(dotQ6KAVX2, 210)
	k.f32 = f32BytesDot(dotAVX2)
	k.f16 = halfDot(dotF16AVX2)
	k.bf16 = dotBF16AVX2Wrap
	k.dot = dotAVX2
	k.quantQ8 = quantQ8AVX2Wrap
	kernelSets = append(kernelSets, k)
	if cpu.X86.HasAVX512VNNI && cpu.X86.HasAVX512VL {
		k.name = "avx512vnni"
		k.q8_0 = blockWrap(dotQ8_0VNNI, 34)
		k.q4_0 = blockWrap(dotQ4_0VNNI, 18)
		kernelSets = append(kernelSets, k)
	}
	kern = k
}

// dotAVX2 is the float32 dot product; the assembly takes whole groups of 8.
var dotAVX2 = floatDot(dotF32AVX2, 8)

func dotBF16AVX2Wrap(w []byte, x []float32) float32 {
	n := len(x)
	m := n &^ 7
	var s float32
	if m > 0 {
		_ = w[2*m-1]
		s = dotBF16AVX2(&w[0], &x[0], m)
	}
	if m < n {
		s += dotBF16Go(w[2*m:], x[m:])
	}
	return s
}

//go:noescape
func dotQ4KAVX2(w *byte, xq *int8, xd *float32, bs *int16, nb int) float32

//go:noescape
func dotQ5KAVX2(w *byte, xq *int8, xd *float32, bs *int16, nb int) float32

//go:noescape
func dotQ6KAVX2(w *byte, xq *int8, xd *float32, bs *int16, nb int) float32

type superDot func(w *byte, xq *int8, xd *float32, bs *int16, nb int) float32

// kWrap adapts a K-type assembly kernel (bpb bytes per super-block) to a row
// kernel.
func kWrap(f superDot, bpb int) qDotFunc {
	return func(w []byte, xq []int8, xd []float32, bs []int16) float32 {
		nb := len(xd)
		if nb == 0 {
			return 0
		}
		_, _, _ = w[nb*bpb-1], xq[nb*QKK-1], bs[nb*16-1]
		return f(&w[0], &xq[0], &xd[0], &bs[0], nb)
	}
}

// Four-token kernels (kernels_x4_amd64.s).

//go:noescape
func dotQ8_0x4AVX2(w *byte, xq *int8, xd *float32, nb, xs int, out *float32, os4 int)

//go:noescape
func dotQ4_0x4AVX2(w *byte, xq *int8, xd *float32, nb, xs int, out *float32, os4 int)

type blockDot4 func(w *byte, xq *int8, xd *float32, nb, xs int, out *float32, os4 int)

// x4Wrap adapts a four-token assembly kernel for a 32-element block type of
// bpb bytes per block to a qDot4Func.
func x4Wrap(f blockDot4, bpb int) qDot4Func {
	return func(w []byte, xq []int8, xd []float32, cols int, dst []float32, ds int) {
		nb := cols / QK
		if nb == 0 {
			dst[0], dst[ds], dst[2*ds], dst[3*ds] = 0, 0, 0, 0
			return
		}
		_, _, _, _ = w[nb*bpb-1], xq[3*cols+nb*QK-1], xd[4*nb-1], dst[3*ds]
		f(&w[0], &xq[0], &xd[0], nb, cols, &dst[0], 4*ds)
	}
}

// Four-row kernels (kernels_x4_amd64.s).

//go:noescape
func dotQ8_0r4AVX2(w *byte, rb int, xq *int8, xd *float32, nb int, out *float32)

//go:noescape
func dotQ4_0r4AVX2(w *byte, rb int, xq *int8, xd *float32, nb int, out *float32)

type rowDot4 func(w *byte, rb int, xq *int8, xd *float32, nb int, out *float32)

// r4Wrap adapts a four-row assembly kernel for a 32-element block type of
// bpb bytes per block to a qDotR4Func.
func r4Wrap(f rowDot4, bpb int) qDotR4Func {
	return func(w []byte, rb int, xq []int8, xd []float32, dst []float32) {
		nb := len(xd)
		if nb == 0 {
			clear(dst[:4])
			return
		}
		if rb < nb*bpb {
			panic("tensor: four-row kernel with rows shorter than the activation")
		}
		_, _, _ = w[3*rb+nb*bpb-1], xq[nb*QK-1], dst[3]
		f(&w[0], rb, &xq[0], &xd[0], nb, &dst[0])
	}
}

//go:noescape
func quantQ8AVX2(x *float32, qs *int8, d *float32, nb int)

// quantQ8AVX2Wrap is quantActQ8Go in assembly (quant_amd64.s).
func quantQ8AVX2Wrap(x []float32, qs []int8, d []float32, _ []int16) {
	nb := len(x) / QK
	if nb == 0 {
		return
	}
	_, _ = qs[nb*QK-1], d[nb-1]
	quantQ8AVX2(&x[0], &qs[0], &d[0], nb)
}
