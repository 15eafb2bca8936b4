//go:build !purego

#include "textflag.h"

// Activation quantisation to 32-element Q8 blocks with AVX2, the same
// arithmetic as quantActQ8Go: d = max|x|/127 and q = round(x·(1/d)), halves
// away from zero, all in float32.

DATA  qabs<>+0(SB)/4, $0x7fffffff
GLOBL qabs<>(SB), RODATA|NOPTR, $4
DATA  qsign<>+0(SB)/4, $0x80000000
GLOBL qsign<>(SB), RODATA|NOPTR, $4
DATA  qone<>+0(SB)/4, $0x3f800000
GLOBL qone<>(SB), RODATA|NOPTR, $4
DATA  qhalf<>+0(SB)/4, $0x3f000000
GLOBL qhalf<>(SB), RODATA|NOPTR, $4
DATA  qinf<>+0(SB)/4, $0x7f800000
GLOBL qinf<>(SB), RODATA|NOPTR, $4
DATA  q127<>+0(SB)/4, $0x42fe0000
GLOBL q127<>(SB), RODATA|NOPTR, $4

// packssdw/packsswb interleave the 128-bit lanes; this puts the dwords of
// four quants each back in element order.
DATA  qperm<>+0(SB)/4, $0
DATA  qperm<>+4(SB)/4, $4
DATA  qperm<>+8(SB)/4, $1
DATA  qperm<>+12(SB)/4, $5
DATA  qperm<>+16(SB)/4, $2
DATA  qperm<>+20(SB)/4, $6
DATA  qperm<>+24(SB)/4, $3
DATA  qperm<>+28(SB)/4, $7
GLOBL qperm<>(SB), RODATA|NOPTR, $32

// ROUNDQ rounds the eight floats of y (already scaled) half away from zero
// and converts them to int32 in place: trunc(y), plus ±1 where the
// fraction's magnitude is at least one half.
#define ROUNDQ(y) \
	VROUNDPS $3, y, Y4 \
	VSUBPS   Y4, y, Y5 \
	VANDPS   Y10, Y5, Y5 \
	VCMPPS   $0x1d, Y13, Y5, Y5 \
	VANDPS   Y11, y, Y6 \
	VORPS    Y12, Y6, Y6 \
	VANDPS   Y5, Y6, Y6 \
	VADDPS   Y6, Y4, y \
	VCVTPS2DQ y, y

// func quantQ8AVX2(x *float32, qs *int8, d *float32, nb int)
TEXT ·quantQ8AVX2(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ qs+8(FP), DI
	MOVQ d+16(FP), DX
	MOVQ nb+24(FP), CX
	VBROADCASTSS qabs<>(SB), Y10
	VBROADCASTSS qsign<>(SB), Y11
	VBROADCASTSS qone<>(SB), Y12
	VBROADCASTSS qhalf<>(SB), Y13
	VMOVDQU      qperm<>(SB), Y14
	VMOVSS       q127<>(SB), X15

qblock:
	TESTQ CX, CX
	JZ    qdone
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3

	// amax of the 32 magnitudes into every lane of X4
	VANDPS       Y10, Y0, Y4
	VANDPS       Y10, Y1, Y5
	VMAXPS       Y5, Y4, Y4
	VANDPS       Y10, Y2, Y5
	VMAXPS       Y5, Y4, Y4
	VANDPS       Y10, Y3, Y5
	VMAXPS       Y5, Y4, Y4
	VEXTRACTF128 $1, Y4, X5
	VMAXPS       X5, X4, X4
	VPERMILPS    $0x4e, X4, X5
	VMAXPS       X5, X4, X4
	VPERMILPS    $0xb1, X4, X5
	VMAXPS       X5, X4, X4

	VDIVSS X15, X4, X4 // d = amax/127
	VMOVSS X4, (DX)
	VXORPS   X5, X5, X5
	VUCOMISS X5, X4
	JEQ      qzero // d = 0
	VDIVSS   X4, X12, X5 // id = 1/d
	VUCOMISS qinf<>(SB), X5
	JNE      qscale

qzero:
	// d = 0, or d so small that 1/d overflows (every x·id is then 0·∞ or
	// ±∞, which the portable code turns into 0): every quant is 0.
	VXORPS  Y5, Y5, Y5
	VMOVDQU Y5, (DI)
	JMP     qnext

qscale:
	VBROADCASTSS X5, Y5
	VMULPS       Y5, Y0, Y0
	VMULPS       Y5, Y1, Y1
	VMULPS       Y5, Y2, Y2
	VMULPS       Y5, Y3, Y3
	ROUNDQ(Y0)
	ROUNDQ(Y1)
	ROUNDQ(Y2)
	ROUNDQ(Y3)
	VPACKSSDW Y1, Y0, Y0
	VPACKSSDW Y3, Y2, Y2
	VPACKSSWB Y2, Y0, Y0
	VPERMD    Y0, Y14, Y0
	VMOVDQU   Y0, (DI)

qnext:
	ADDQ $128, SI
	ADDQ $32, DI
	ADDQ $4, DX
	DECQ CX
	JMP  qblock

qdone:
	VZEROUPPER
	RET
