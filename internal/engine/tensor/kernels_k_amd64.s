//go:build !purego

#include "textflag.h"

// AVX2 row kernels for the K types, against activations quantised to
// 256-element super-blocks (xq int8, one float32 scale xd per super-block, bs
// the sums of each 16 quants). They compute what dotQ4KGo, dotQ5KGo and
// dotQ6KGo in dot.go compute; see dequant.go for the block layouts.

DATA  kmask0F<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA  kmask0F<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA  kmask0F<>+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA  kmask0F<>+24(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL kmask0F<>(SB), RODATA|NOPTR, $32

DATA  kmask03<>+0(SB)/8, $0x0303030303030303
DATA  kmask03<>+8(SB)/8, $0x0303030303030303
DATA  kmask03<>+16(SB)/8, $0x0303030303030303
DATA  kmask03<>+24(SB)/8, $0x0303030303030303
GLOBL kmask03<>(SB), RODATA|NOPTR, $32

DATA  kmask01<>+0(SB)/8, $0x0101010101010101
DATA  kmask01<>+8(SB)/8, $0x0101010101010101
DATA  kmask01<>+16(SB)/8, $0x0101010101010101
DATA  kmask01<>+24(SB)/8, $0x0101010101010101
GLOBL kmask01<>(SB), RODATA|NOPTR, $32

// K4SCALES unpacks the eight 6-bit scales and mins of the Q4_K/Q5_K
// super-block at SI (12 bytes at 4(SI)) into 0(SP) (8 scale bytes) and
// 8(SP) (8 min bytes), as ggml's get_scale_min_k4 reads them:
//   sc0-3 = b[0:4] & 63            m0-3 = b[4:8] & 63
//   sc4-7 = b[8:12] & 15 | (b[0:4] >> 6) << 4
//   m4-7  = b[8:12] >> 4 | (b[4:8] >> 6) << 4
// working on four bytes at a time in 32-bit registers.
#define K4SCALES \
	MOVL 4(SI), AX \
	MOVL 8(SI), R8 \
	MOVL 12(SI), R9 \
	MOVL AX, R10 \
	ANDL $0x3f3f3f3f, R10 \
	MOVL R9, R11 \
	ANDL $0x0f0f0f0f, R11 \
	SHRL $6, AX \
	ANDL $0x03030303, AX \
	SHLL $4, AX \
	ORL  AX, R11 \
	MOVL R8, R12 \
	ANDL $0x3f3f3f3f, R12 \
	SHRL $4, R9 \
	ANDL $0x0f0f0f0f, R9 \
	SHRL $6, R8 \
	ANDL $0x03030303, R8 \
	SHLL $4, R8 \
	ORL  R8, R9 \
	MOVL R10, 0(SP) \
	MOVL R11, 4(SP) \
	MOVL R12, 8(SP) \
	MOVL R9, 12(SP)

// K4MINS adds dmin·xd·Σ_j m_j·(bs[2j]+bs[2j+1]) into the four lanes of X13:
// the min term of one Q4_K/Q5_K super-block. Expects the min bytes at
// 8(SP), the group sums at BX.
#define K4MINS \
	VPMOVZXBW    8(SP), X9 \
	VMOVDQU      (BX), Y5 \
	VEXTRACTI128 $1, Y5, X6 \
	VPHADDW      X6, X5, X5 \
	VPMADDWD     X9, X5, X5 \
	VCVTDQ2PS    X5, X5 \
	VPBROADCASTW 2(SI), X10 \
	VCVTPH2PS    X10, X10 \
	VBROADCASTSS (DX), X11 \
	VMULPS       X11, X10, X10 \
	VFMADD231PS  X5, X10, X13

// K4SCALEWORDS widens the scale bytes at 0(SP) to int16 at 16(SP), ready
// for VPBROADCASTW.
#define K4SCALEWORDS \
	VPMOVZXBW 0(SP), X8 \
	VMOVDQU   X8, 16(SP)

// KSUB32 multiplies the 32 unsigned quants in Y1 with the 32 activations at
// xoff(DI), scales the pair sums by the int16 at soff(SP) and adds them to
// the eight int32 lanes of Y7.
#define KSUB32(xoff, soff) \
	VPMADDUBSW   xoff(DI), Y1, Y1 \
	VPBROADCASTW soff(SP), Y3 \
	VPMADDWD     Y3, Y1, Y1 \
	VPADDD       Y1, Y7, Y7

// KFINISH converts the integer sums in Y7 and adds them, times d·xd (d the
// f16 at doff(SI)), into Y0.
#define KFINISH(doff) \
	VCVTDQ2PS    Y7, Y7 \
	VPBROADCASTW doff(SI), X10 \
	VCVTPH2PS    X10, Y10 \
	VBROADCASTSS (DX), Y11 \
	VMULPS       Y11, Y10, Y10 \
	VFMADD231PS  Y7, Y10, Y0

// KRESULT returns hsum(Y0) - hsum(X13).
#define KRESULT(ret) \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS       X1, X0, X0 \
	VSUBPS       X13, X0, X0 \
	VHADDPS      X0, X0, X0 \
	VHADDPS      X0, X0, X0 \
	VZEROUPPER \
	MOVSS        X0, ret

// Q4CHUNK handles 64-element chunk k of a Q4_K super-block: 32 bytes of
// nibbles at qoff(SI), low nibbles for sub-block 2k, high for 2k+1.
#define Q4CHUNK(qoff, xoff, xoff2, soff, soff2) \
	VMOVDQU qoff(SI), Y1 \
	VPSRLW  $4, Y1, Y2 \
	VPAND   Y14, Y1, Y1 \
	VPAND   Y14, Y2, Y2 \
	KSUB32(xoff, soff) \
	VMOVDQA Y2, Y1 \
	KSUB32(xoff2, soff2)

// func dotQ4KAVX2(w *byte, xq *int8, xd *float32, bs *int16, nb int) float32
// Q4_K super-block (144 bytes): d, dmin f16; scales[12]; qs[128].
TEXT ·dotQ4KAVX2(SB), NOSPLIT, $32-44
	MOVQ    w+0(FP), SI
	MOVQ    xq+8(FP), DI
	MOVQ    xd+16(FP), DX
	MOVQ    bs+24(FP), BX
	MOVQ    nb+32(FP), CX
	VXORPS  Y0, Y0, Y0
	VXORPS  Y13, Y13, Y13
	VMOVDQU kmask0F<>(SB), Y14
	TESTQ   CX, CX
	JZ      q4kdone

q4kloop:
	PREFETCHT0 768(SI) // prefetch about 1 KiB ahead
	PREFETCHT0 832(SI)
	PREFETCHT0 896(SI)
	K4SCALES
	K4MINS
	K4SCALEWORDS
	VPXOR Y7, Y7, Y7
	Q4CHUNK(16, 0, 32, 16, 18)
	Q4CHUNK(48, 64, 96, 20, 22)
	Q4CHUNK(80, 128, 160, 24, 26)
	Q4CHUNK(112, 192, 224, 28, 30)
	KFINISH(0)
	ADDQ $144, SI
	ADDQ $256, DI
	ADDQ $4, DX
	ADDQ $32, BX
	DECQ CX
	JNZ  q4kloop

q4kdone:
	KRESULT(ret+40(FP))
	RET

// Q5CHUNK is Q4CHUNK plus the fifth bits: Y8 holds qh, shifted right by one
// bit per sub-block already done, so bit 0 of each byte is the next
// sub-block's bit (Y12 = 0x01 bytes).
#define Q5CHUNK(qoff, xoff, xoff2, soff, soff2) \
	VMOVDQU qoff(SI), Y1 \
	VPSRLW  $4, Y1, Y2 \
	VPAND   Y14, Y1, Y1 \
	VPAND   Y14, Y2, Y2 \
	VPAND   Y12, Y8, Y4 \
	VPSLLW  $4, Y4, Y4 \
	VPOR    Y4, Y1, Y1 \
	VPSRLW  $1, Y8, Y8 \
	VPAND   Y12, Y8, Y4 \
	VPSLLW  $4, Y4, Y4 \
	VPOR    Y4, Y2, Y2 \
	VPSRLW  $1, Y8, Y8 \
	KSUB32(xoff, soff) \
	VMOVDQA Y2, Y1 \
	KSUB32(xoff2, soff2)

// func dotQ5KAVX2(w *byte, xq *int8, xd *float32, bs *int16, nb int) float32
// Q5_K super-block (176 bytes): d, dmin f16; scales[12]; qh[32]; qs[128].
TEXT ·dotQ5KAVX2(SB), NOSPLIT, $32-44
	MOVQ    w+0(FP), SI
	MOVQ    xq+8(FP), DI
	MOVQ    xd+16(FP), DX
	MOVQ    bs+24(FP), BX
	MOVQ    nb+32(FP), CX
	VXORPS  Y0, Y0, Y0
	VXORPS  Y13, Y13, Y13
	VMOVDQU kmask0F<>(SB), Y14
	VMOVDQU kmask01<>(SB), Y12
	TESTQ   CX, CX
	JZ      q5kdone

q5kloop:
	PREFETCHT0 768(SI) // prefetch about 1 KiB ahead
	PREFETCHT0 832(SI)
	PREFETCHT0 896(SI)
	K4SCALES
	K4MINS
	K4SCALEWORDS
	VMOVDQU 16(SI), Y8
	VPXOR   Y7, Y7, Y7
	Q5CHUNK(48, 0, 32, 16, 18)
	Q5CHUNK(80, 64, 96, 20, 22)
	Q5CHUNK(112, 128, 160, 24, 26)
	Q5CHUNK(144, 192, 224, 28, 30)
	KFINISH(0)
	ADDQ $176, SI
	ADDQ $256, DI
	ADDQ $4, DX
	ADDQ $32, BX
	DECQ CX
	JNZ  q5kloop

q5kdone:
	KRESULT(ret+40(FP))
	RET

// Q6QUARTER handles 32 elements of a Q6_K half: low 4 bits in lo (already
// masked), high 2 bits at bit hshift of each byte of Y3 (qh). The int16 pair
// sums in the low 128 bits cover one 16-element group (scale word at
// soff(SP)), the high 128 bits the next (soff2).
#define Q6QUARTER(lo, hshift, xoff, soff, soff2) \
	VPSRLW       $hshift, Y3, Y5 \
	VPAND        Y12, Y5, Y5 \
	VPSLLW       $4, Y5, Y5 \
	VPOR         lo, Y5, Y4 \
	VPMADDUBSW   xoff(DI), Y4, Y4 \
	VPBROADCASTW soff(SP), X5 \
	VPBROADCASTW soff2(SP), X6 \
	VINSERTI128  $1, X6, Y5, Y5 \
	VPMADDWD     Y5, Y4, Y4 \
	VPADDD       Y4, Y7, Y7

// Q6HALF handles 128-element half n of a Q6_K super-block: ql at
// qloff(SI) (64 bytes), qh at qhoff(SI) (32 bytes).
#define Q6HALF(qloff, qloff2, qhoff, x0, x1, x2, x3, s0, s1, s2, s3, s4, s5, s6, s7) \
	VMOVDQU qloff(SI), Y1 \
	VMOVDQU qloff2(SI), Y2 \
	VMOVDQU qhoff(SI), Y3 \
	VPSRLW  $4, Y1, Y10 \
	VPAND   Y14, Y10, Y10 \
	VPSRLW  $4, Y2, Y11 \
	VPAND   Y14, Y11, Y11 \
	VPAND   Y14, Y1, Y1 \
	VPAND   Y14, Y2, Y2 \
	Q6QUARTER(Y1, 0, x0, s0, s1) \
	Q6QUARTER(Y2, 2, x1, s2, s3) \
	Q6QUARTER(Y10, 4, x2, s4, s5) \
	Q6QUARTER(Y11, 6, x3, s6, s7)

// func dotQ6KAVX2(w *byte, xq *int8, xd *float32, bs *int16, nb int) float32
// Q6_K super-block (210 bytes): ql[128]; qh[64]; scales[16] int8; d f16.
// Quants are q-32 with q in [0, 63]: Σ sc·(q-32)·x is computed as
// Σ sc·q·x - 32·Σ sc·bs.
TEXT ·dotQ6KAVX2(SB), NOSPLIT, $32-44
	MOVQ    w+0(FP), SI
	MOVQ    xq+8(FP), DI
	MOVQ    xd+16(FP), DX
	MOVQ    bs+24(FP), BX
	MOVQ    nb+32(FP), CX
	VXORPS  Y0, Y0, Y0
	VXORPS  Y13, Y13, Y13
	VMOVDQU kmask0F<>(SB), Y14
	VMOVDQU kmask03<>(SB), Y12
	TESTQ   CX, CX
	JZ      q6kdone

q6kloop:
	PREFETCHT0 768(SI) // prefetch about 1 KiB ahead
	PREFETCHT0 832(SI)
	PREFETCHT0 896(SI)
	PREFETCHT0 960(SI)
	VPMOVSXBW 192(SI), Y8 // sixteen int8 scales → int16
	VMOVDQU   Y8, 0(SP)
	VPMADDWD  (BX), Y8, Y9 // Σ sc·bs, in pairs
	VPSLLD    $5, Y9, Y9
	VPXOR     Y7, Y7, Y7
	Q6HALF(0, 32, 128, 0, 32, 64, 96, 0, 2, 4, 6, 8, 10, 12, 14)
	Q6HALF(64, 96, 160, 128, 160, 192, 224, 16, 18, 20, 22, 24, 26, 28, 30)
	VPSUBD Y9, Y7, Y7
	KFINISH(208)
	ADDQ $210, SI
	ADDQ $256, DI
	ADDQ $4, DX
	ADDQ $32, BX
	DECQ CX
	JNZ  q6kloop

q6kdone:
	KRESULT(ret+40(FP))
	RET
