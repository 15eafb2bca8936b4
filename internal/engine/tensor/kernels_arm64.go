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
	k.q8_0 = blockWrap(dotQ8_0NEON, 34)
	k.q4_0 = blockWrap(dotQ4_0NEON, 18)
	k.f32 = f32BytesDot(dotNEON)
	k.f16 = halfDot(dotF16NEON)
	k.dot = dotNEON
	kernelSets = append(kernelSets, k)
	if cpu.ARM64.HasASIMDDP {
		k.name = "neondot"
		k.q8_0 = blockWrap(dotQ8_0SDOT, 34)
		k.q4_0 = blockWrap(dotQ4_0SDOT, 18)
		kernelSets = append(kernelSets, k)
	}
	kern = k
}

// dotNEON is the float32 dot product; the assembly takes whole groups of 4.
var dotNEON = floatDot(dotF32NEON, 4)
