//go:build !purego

#include "textflag.h"

// AVX2/FMA (and AVX-512 VNNI) row kernels. Each computes the same sum as its
// plain-Go twin in dot.go; kernels_amd64.go checks lengths and bounds before
// calling them, so they see whole blocks only.
//
// Go assembler operand order is reversed from Intel's: the destination is
// last (VFMADD231PS a, b, acc  means  acc += a·b).

// Byte masks and constants, 32 bytes each.
DATA  mask0F<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA  mask0F<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA  mask0F<>+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA  mask0F<>+24(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL mask0F<>(SB), RODATA|NOPTR, $32

DATA  bytes8<>+0(SB)/8, $0x0808080808080808
DATA  bytes8<>+8(SB)/8, $0x0808080808080808
DATA  bytes8<>+16(SB)/8, $0x0808080808080808
DATA  bytes8<>+24(SB)/8, $0x0808080808080808
GLOBL bytes8<>(SB), RODATA|NOPTR, $32

DATA  mask03<>+0(SB)/8, $0x0303030303030303
DATA  mask03<>+8(SB)/8, $0x0303030303030303
DATA  mask03<>+16(SB)/8, $0x0303030303030303
DATA  mask03<>+24(SB)/8, $0x0303030303030303
GLOBL mask03<>(SB), RODATA|NOPTR, $32

DATA  mask01<>+0(SB)/8, $0x0101010101010101
DATA  mask01<>+8(SB)/8, $0x0101010101010101
DATA  mask01<>+16(SB)/8, $0x0101010101010101
DATA  mask01<>+24(SB)/8, $0x0101010101010101
GLOBL mask01<>(SB), RODATA|NOPTR, $32

// HSUM8 adds the eight float32 lanes of Y0 into the low lane of X0,
// using X1 as scratch.
#define HSUM8 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS       X1, X0, X0 \
	VHADDPS      X0, X0, X0 \
	VHADDPS      X0, X0, X0

// ONES16 sets Y15 to sixteen int16 ones (for VPMADDWD pair sums).
#define ONES16 \
	VPCMPEQW Y15, Y15, Y15 \
	VPSRLW   $15, Y15, Y15

// BLOCKSCALE sets Y1 to d(weight block at off(SI), f16) × d(activation at
// (DX), f32) in every lane.
#define BLOCKSCALE(off) \
	VPBROADCASTW off(SI), X1 \
	VCVTPH2PS    X1, Y1 \
	VBROADCASTSS (DX), Y2 \
	VMULPS       Y2, Y1, Y1

// SDOT32 leaves in Y4 the eight int32 sums of products of the signed bytes
// of Y2 (weights) and Y3 (activations, never -128): |w| is unsigned, x takes
// w's sign, and VPMADDUBSW/VPMADDWD add the products in pairs then quads.
#define SDOT32 \
	VPSIGNB    Y2, Y2, Y4 \
	VPSIGNB    Y2, Y3, Y3 \
	VPMADDUBSW Y3, Y4, Y4 \
	VPMADDWD   Y15, Y4, Y4

// SDOT32VNNI is SDOT32 with one VPDPBUSD (AVX-512 VNNI, on 256-bit
// registers) in place of the two multiply-adds.
#define SDOT32VNNI \
	VPSIGNB  Y2, Y2, Y5 \
	VPSIGNB  Y2, Y3, Y3 \
	VPXOR    Y4, Y4, Y4 \
	VPDPBUSD Y3, Y5, Y4

// func dotQ8_0AVX2(w *byte, xq *int8, xd *float32, nb int) float32
// Q8_0 block: f16 d, 32 int8 quants (34 bytes).
TEXT ·dotQ8_0AVX2(SB), NOSPLIT, $0-36
	MOVQ w+0(FP), SI
	MOVQ xq+8(FP), DI
	MOVQ xd+16(FP), DX
	MOVQ nb+24(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y6, Y6, Y6 // second accumulator, to overlap FMA latency
	ONES16

q80pair:
	PREFETCHT0 768(SI) // about 1 KiB ahead: start the next lines early
	CMPQ CX, $2
	JLT  q80tail
	BLOCKSCALE(0)
	VMOVDQU 2(SI), Y2
	VMOVDQU (DI), Y3
	SDOT32
	VCVTDQ2PS   Y4, Y4
	VFMADD231PS Y4, Y1, Y0
	ADDQ        $34, SI
	ADDQ        $32, DI
	ADDQ        $4, DX
	BLOCKSCALE(0)
	VMOVDQU 2(SI), Y2
	VMOVDQU (DI), Y3
	SDOT32
	VCVTDQ2PS   Y4, Y4
	VFMADD231PS Y4, Y1, Y6
	ADDQ        $34, SI
	ADDQ        $32, DI
	ADDQ        $4, DX
	SUBQ        $2, CX
	JMP         q80pair

q80tail:
	TESTQ CX, CX
	JZ    q80done
	BLOCKSCALE(0)
	VMOVDQU 2(SI), Y2
	VMOVDQU (DI), Y3
	SDOT32
	VCVTDQ2PS   Y4, Y4
	VFMADD231PS Y4, Y1, Y0

q80done:
	VADDPS Y6, Y0, Y0
	HSUM8
	VZEROUPPER
	MOVSS X0, ret+32(FP)
	RET

// func dotQ8_0VNNI(w *byte, xq *int8, xd *float32, nb int) float32
TEXT ·dotQ8_0VNNI(SB), NOSPLIT, $0-36
	MOVQ w+0(FP), SI
	MOVQ xq+8(FP), DI
	MOVQ xd+16(FP), DX
	MOVQ nb+24(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y6, Y6, Y6

q80vpair:
	PREFETCHT0 768(SI) // about 1 KiB ahead: start the next lines early
	CMPQ CX, $2
	JLT  q80vtail
	BLOCKSCALE(0)
	VMOVDQU 2(SI), Y2
	VMOVDQU (DI), Y3
	SDOT32VNNI
	VCVTDQ2PS   Y4, Y4
	VFMADD231PS Y4, Y1, Y0
	ADDQ        $34, SI
	ADDQ        $32, DI
	ADDQ        $4, DX
	BLOCKSCALE(0)
	VMOVDQU 2(SI), Y2
	VMOVDQU (DI), Y3
	SDOT32VNNI
	VCVTDQ2PS   Y4, Y4
	VFMADD231PS Y4, Y1, Y6
	ADDQ        $34, SI
	ADDQ        $32, DI
	ADDQ        $4, DX
	SUBQ        $2, CX
	JMP         q80vpair

q80vtail:
	TESTQ CX, CX
	JZ    q80vdone
	BLOCKSCALE(0)
	VMOVDQU 2(SI), Y2
	VMOVDQU (DI), Y3
	SDOT32VNNI
	VCVTDQ2PS   Y4, Y4
	VFMADD231PS Y4, Y1, Y0

q80vdone:
	VADDPS Y6, Y0, Y0
	HSUM8
	VZEROUPPER
	MOVSS X0, ret+32(FP)
	RET

// Q4_0 block: f16 d, 16 bytes of nibbles (18 bytes). LOADQ4 sets Y2 to the
// block's 32 quants as signed bytes: low nibbles (elements 0-15) in the low
// half, high nibbles (16-31) in the high half, each minus 8.
#define LOADQ4 \
	VMOVDQU     2(SI), X2 \
	VPSRLW      $4, X2, X3 \
	VINSERTI128 $1, X3, Y2, Y2 \
	VPAND       Y13, Y2, Y2 \
	VPSUBB      Y12, Y2, Y2

// func dotQ4_0AVX2(w *byte, xq *int8, xd *float32, nb int) float32
TEXT ·dotQ4_0AVX2(SB), NOSPLIT, $0-36
	MOVQ w+0(FP), SI
	MOVQ xq+8(FP), DI
	MOVQ xd+16(FP), DX
	MOVQ nb+24(FP), CX
	VXORPS  Y0, Y0, Y0
	VXORPS  Y6, Y6, Y6
	VMOVDQU mask0F<>(SB), Y13
	VMOVDQU bytes8<>(SB), Y12
	ONES16

q40pair:
	PREFETCHT0 768(SI) // about 1 KiB ahead: start the next lines early
	CMPQ CX, $2
	JLT  q40tail
	BLOCKSCALE(0)
	LOADQ4
	VMOVDQU (DI), Y3
	SDOT32
	VCVTDQ2PS   Y4, Y4
	VFMADD231PS Y4, Y1, Y0
	ADDQ        $18, SI
	ADDQ        $32, DI
	ADDQ        $4, DX
	BLOCKSCALE(0)
	LOADQ4
	VMOVDQU (DI), Y3
	SDOT32
	VCVTDQ2PS   Y4, Y4
	VFMADD231PS Y4, Y1, Y6
	ADDQ        $18, SI
	ADDQ        $32, DI
	ADDQ        $4, DX
	SUBQ        $2, CX
	JMP         q40pair

q40tail:
	TESTQ CX, CX
	JZ    q40done
	BLOCKSCALE(0)
	LOADQ4
	VMOVDQU (DI), Y3
	SDOT32
	VCVTDQ2PS   Y4, Y4
	VFMADD231PS Y4, Y1, Y0

q40done:
	VADDPS Y6, Y0, Y0
	HSUM8
	VZEROUPPER
	MOVSS X0, ret+32(FP)
	RET

// func dotQ4_0VNNI(w *byte, xq *int8, xd *float32, nb int) float32
TEXT ·dotQ4_0VNNI(SB), NOSPLIT, $0-36
	MOVQ w+0(FP), SI
	MOVQ xq+8(FP), DI
	MOVQ xd+16(FP), DX
	MOVQ nb+24(FP), CX
	VXORPS  Y0, Y0, Y0
	VXORPS  Y6, Y6, Y6
	VMOVDQU mask0F<>(SB), Y13
	VMOVDQU bytes8<>(SB), Y12

q40vpair:
	PREFETCHT0 768(SI) // about 1 KiB ahead: start the next lines early
	CMPQ CX, $2
	JLT  q40vtail
	BLOCKSCALE(0)
	LOADQ4
	VMOVDQU (DI), Y3
	SDOT32VNNI
	VCVTDQ2PS   Y4, Y4
	VFMADD231PS Y4, Y1, Y0
	ADDQ        $18, SI
	ADDQ        $32, DI
	ADDQ        $4, DX
	BLOCKSCALE(0)
	LOADQ4
	VMOVDQU (DI), Y3
	SDOT32VNNI
	VCVTDQ2PS   Y4, Y4
	VFMADD231PS Y4, Y1, Y6
	ADDQ        $18, SI
	ADDQ        $32, DI
	ADDQ        $4, DX
	SUBQ        $2, CX
	JMP         q40vpair

q40vtail:
	TESTQ CX, CX
	JZ    q40vdone
	BLOCKSCALE(0)
	LOADQ4
	VMOVDQU (DI), Y3
	SDOT32VNNI
	VCVTDQ2PS   Y4, Y4
	VFMADD231PS Y4, Y1, Y0

q40vdone:
	VADDPS Y6, Y0, Y0
	HSUM8
	VZEROUPPER
	MOVSS X0, ret+32(FP)
	RET

// func dotF32AVX2(a, b *float32, n int) float32
// n must be a multiple of 8; four accumulators over 32 elements a step.
TEXT ·dotF32AVX2(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

f32four:
	CMPQ        CX, $32
	JLT         f32one
	PREFETCHT0  1024(SI)
	PREFETCHT0  1088(SI)
	VMOVUPS     (SI), Y1
	VMOVUPS     32(SI), Y2
	VMOVUPS     64(SI), Y3
	VMOVUPS     96(SI), Y4
	VFMADD231PS (DI), Y1, Y0
	VFMADD231PS 32(DI), Y2, Y5
	VFMADD231PS 64(DI), Y3, Y6
	VFMADD231PS 96(DI), Y4, Y7
	ADDQ        $128, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	JMP         f32four

f32one:
	CMPQ        CX, $8
	JLT         f32done
	VMOVUPS     (SI), Y1
	VFMADD231PS (DI), Y1, Y0
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         f32one

f32done:
	VADDPS Y5, Y0, Y0
	VADDPS Y7, Y6, Y6
	VADDPS Y6, Y0, Y0
	HSUM8
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func dotF16AVX2(w *byte, x *float32, n int) float32
// w holds n half-precision values; n must be a multiple of 8.
TEXT ·dotF16AVX2(SB), NOSPLIT, $0-28
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

f16four:
	CMPQ        CX, $32
	JLT         f16one
	PREFETCHT0  1024(SI)
	VCVTPH2PS   (SI), Y1
	VCVTPH2PS   16(SI), Y2
	VCVTPH2PS   32(SI), Y3
	VCVTPH2PS   48(SI), Y4
	VFMADD231PS (DI), Y1, Y0
	VFMADD231PS 32(DI), Y2, Y5
	VFMADD231PS 64(DI), Y3, Y6
	VFMADD231PS 96(DI), Y4, Y7
	ADDQ        $64, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	JMP         f16four

f16one:
	CMPQ        CX, $8
	JLT         f16done
	VCVTPH2PS   (SI), Y1
	VFMADD231PS (DI), Y1, Y0
	ADDQ        $16, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         f16one

f16done:
	VADDPS Y5, Y0, Y0
	VADDPS Y7, Y6, Y6
	VADDPS Y6, Y0, Y0
	HSUM8
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func dotBF16AVX2(w *byte, x *float32, n int) float32
// bfloat16 is the top half of a float32: widen to 32 bits and shift left.
TEXT ·dotBF16AVX2(SB), NOSPLIT, $0-28
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y5, Y5, Y5

bf16two:
	CMPQ        CX, $16
	JLT         bf16one
	VPMOVZXWD   (SI), Y1
	VPMOVZXWD   16(SI), Y2
	VPSLLD      $16, Y1, Y1
	VPSLLD      $16, Y2, Y2
	VFMADD231PS (DI), Y1, Y0
	VFMADD231PS 32(DI), Y2, Y5
	ADDQ        $32, SI
	ADDQ        $64, DI
	SUBQ        $16, CX
	JMP         bf16two

bf16one:
	CMPQ        CX, $8
	JLT         bf16done
	VPMOVZXWD   (SI), Y1
	VPSLLD      $16, Y1, Y1
	VFMADD231PS (DI), Y1, Y0
	ADDQ        $16, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         bf16one

bf16done:
	VADDPS Y5, Y0, Y0
	HSUM8
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET
