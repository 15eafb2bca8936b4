//go:build !purego

#include "textflag.h"

DATA  x4mask0F<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA  x4mask0F<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA  x4mask0F<>+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA  x4mask0F<>+24(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL x4mask0F<>(SB), RODATA|NOPTR, $32

DATA  x4shift<>+0(SB)/8, $0
DATA  x4shift<>+8(SB)/8, $0
DATA  x4shift<>+16(SB)/8, $0x0000000400000004
DATA  x4shift<>+24(SB)/8, $0x0000000400000004
GLOBL x4shift<>(SB), RODATA|NOPTR, $32

DATA  x4bytes8<>+0(SB)/8, $0x0808080808080808
DATA  x4bytes8<>+8(SB)/8, $0x0808080808080808
DATA  x4bytes8<>+16(SB)/8, $0x0808080808080808
DATA  x4bytes8<>+24(SB)/8, $0x0808080808080808
GLOBL x4bytes8<>(SB), RODATA|NOPTR, $32

// Four-token row kernels for batched products (prompt processing): one
// weight row times four activation rows. Each weight block is loaded and
// decoded once for the four tokens. Every token keeps two accumulators,
// even blocks in one and odd blocks in the other, and adds them at the end
// exactly as dotQ8_0AVX2/dotQ4_0AVX2 do, so each result is bit-identical to
// the one-token kernel's.
//
// Arguments: w (weight row), xq (token 0's quants; token c's at xq+c·xs),
// xd (the four tokens' scales interleaved by block: xd[4·b+c]), nb blocks,
// xs (quant stride in bytes), out (token 0's result; token c's at
// out+c·os4 bytes), os4.
//
// Registers: Y0-Y3 even-block and Y4-Y7 odd-block accumulators of tokens
// 0-3, Y8 the block's weight scale, Y9 its signed quants, Y10 their
// magnitudes, Y11/Y14 scratch, Y15 int16 ones, Y12/Y13 Q4_0 constants.
// DI+R8·k addresses token k = 1, 2; R9 holds 3·xs. The four products of
// the weight scale with the tokens' scales take one 128-bit multiply; they
// go through the stack frame to be broadcast by the load unit, which keeps
// a multiply per token off the vector ports.

// TOK multiplies the block's weights with one token's block at xoff (quants)
// and doff (scale) and adds the scaled sum to acc.
#define TOK(xoff, soff, acc) \
	VMOVDQU      xoff, Y11 \
	VPSIGNB      Y9, Y11, Y11 \
	VPMADDUBSW   Y11, Y10, Y11 \
	VPMADDWD     Y15, Y11, Y11 \
	VCVTDQ2PS    Y11, Y11 \
	VBROADCASTSS soff, Y14 \
	VFMADD231PS  Y11, Y14, acc

#define TOKS(a0, a1, a2, a3) \
	VMULPS  (DX), X8, X14 \
	VMOVUPS X14, (SP) \
	TOK((DI), (SP), a0) \
	TOK((DI)(R8*1), 4(SP), a1) \
	TOK((DI)(R8*2), 8(SP), a2) \
	TOK((DI)(R9*1), 12(SP), a3)

// SCALE sets Y8 to the f16 weight scale at off(SI) in every lane.
#define SCALE(off) \
	VPBROADCASTW off(SI), X8 \
	VCVTPH2PS    X8, Y8

#define Q8W \
	SCALE(0) \
	VMOVDQU 2(SI), Y9 \
	VPSIGNB Y9, Y9, Y10

#define Q4W \
	SCALE(0) \
	VMOVDQU     2(SI), X9 \
	VPSRLW      $4, X9, X11 \
	VINSERTI128 $1, X11, Y9, Y9 \
	VPAND       Y13, Y9, Y9 \
	VPSUBB      Y12, Y9, Y9 \
	VPSIGNB     Y9, Y9, Y10

#define SETUP \
	MOVQ   w+0(FP), SI \
	MOVQ   xq+8(FP), DI \
	MOVQ   xd+16(FP), DX \
	MOVQ   nb+24(FP), CX \
	MOVQ   xs+32(FP), R8 \
	LEAQ   (R8)(R8*2), R9 \
	VXORPS Y0, Y0, Y0 \
	VXORPS Y1, Y1, Y1 \
	VXORPS Y2, Y2, Y2 \
	VXORPS Y3, Y3, Y3 \
	VXORPS Y4, Y4, Y4 \
	VXORPS Y5, Y5, Y5 \
	VXORPS Y6, Y6, Y6 \
	VXORPS Y7, Y7, Y7 \
	VPCMPEQW Y15, Y15, Y15 \
	VPSRLW   $15, Y15, Y15

// STORE1 adds accumulators a and b, sums the lanes and stores the result at
// off(AX) (the same order of additions as the one-token kernels).
#define STORE1(a, b, xa) \
	VADDPS       b, a, a \
	VEXTRACTF128 $1, a, X11 \
	VADDPS       X11, xa, xa \
	VHADDPS      xa, xa, xa \
	VHADDPS      xa, xa, xa \
	MOVSS        xa, (AX)

#define STORE \
	MOVQ out+40(FP), AX \
	MOVQ os4+48(FP), BX \
	STORE1(Y0, Y4, X0) \
	ADDQ BX, AX \
	STORE1(Y1, Y5, X1) \
	ADDQ BX, AX \
	STORE1(Y2, Y6, X2) \
	ADDQ BX, AX \
	STORE1(Y3, Y7, X3) \
	VZEROUPPER

// func dotQ8_0x4AVX2(w *byte, xq *int8, xd *float32, nb, xs int, out *float32, os4 int)
TEXT ·dotQ8_0x4AVX2(SB), NOSPLIT, $16-56
	SETUP

q8x4pair:
	CMPQ CX, $2
	JLT  q8x4tail
	Q8W
	TOKS(Y0, Y1, Y2, Y3)
	ADDQ $34, SI
	ADDQ $32, DI
	ADDQ $16, DX
	Q8W
	TOKS(Y4, Y5, Y6, Y7)
	ADDQ $34, SI
	ADDQ $32, DI
	ADDQ $16, DX
	SUBQ $2, CX
	JMP  q8x4pair

q8x4tail:
	TESTQ CX, CX
	JZ    q8x4done
	Q8W
	TOKS(Y0, Y1, Y2, Y3)

q8x4done:
	STORE
	RET

// func dotQ4_0x4AVX2(w *byte, xq *int8, xd *float32, nb, xs int, out *float32, os4 int)
TEXT ·dotQ4_0x4AVX2(SB), NOSPLIT, $16-56
	SETUP
	VMOVDQU x4mask0F<>(SB), Y13
	VMOVDQU x4bytes8<>(SB), Y12

q4x4pair:
	CMPQ CX, $2
	JLT  q4x4tail
	Q4W
	TOKS(Y0, Y1, Y2, Y3)
	ADDQ $18, SI
	ADDQ $32, DI
	ADDQ $16, DX
	Q4W
	TOKS(Y4, Y5, Y6, Y7)
	ADDQ $18, SI
	ADDQ $32, DI
	ADDQ $16, DX
	SUBQ $2, CX
	JMP  q4x4pair

q4x4tail:
	TESTQ CX, CX
	JZ    q4x4done
	Q4W
	TOKS(Y0, Y1, Y2, Y3)

q4x4done:
	STORE
	RET

// Four-row kernels for one token (generation): four consecutive weight rows
// (rb bytes apart) times one activation row, whose block is loaded once for
// the four rows. As above, each row keeps even and odd blocks in separate
// accumulators and its result equals the one-row kernel's exactly.
//
// Registers: Y0-Y3 even-block and Y4-Y7 odd-block accumulators of rows 0-3,
// Y8 the activation block (Q8_0) or its pair sums (Q4_0), Y9 its scale,
// Y10/Y11/Y14 scratch, Y15 int16 ones, Y12/Y13 Q4_0 constants. SI+R8·k
// addresses row k = 1, 2; R9 holds 3·rb. The four rows are four short
// interleaved streams that the hardware prefetcher follows
// poorly, so R10 prefetches linearly the rows two calls ahead (8·rb on).

// ROWSCALE sets Y14 to the weight scale at sc times the activation scale.
#define ROWSCALE(sc) \
	VPBROADCASTW sc, X14 \
	VCVTPH2PS    X14, Y14 \
	VMULPS       Y9, Y14, Y14

// ROWDOT multiplies the signed weight quants in Y10 with the activation
// block and adds the scaled sum to acc.
#define ROWDOT(acc) \
	VPSIGNB     Y10, Y10, Y11 \
	VPSIGNB     Y10, Y8, Y10 \
	VPMADDUBSW  Y10, Y11, Y10 \
	VPMADDWD    Y15, Y10, Y10 \
	VCVTDQ2PS   Y10, Y10 \
	VFMADD231PS Y10, Y14, acc

#define ROWQ8(sc, q, acc) \
	ROWSCALE(sc) \
	VMOVDQU q, Y10 \
	ROWDOT(acc)

// ROWQ4 does the same for Q4_0 nibbles q in [0, 16) standing for q-8: one
// 128-bit broadcast and a per-lane shift (0 for the low half, 4 for the
// high) give the 32 nibbles; they go unsigned straight into VPMADDUBSW with
// the activation (at (DI)), and 8·(x pair sums), in Y8, is taken off each
// int16 pair sum. That leaves exactly the pair sums of (q-8)·x that the
// one-row kernel forms, with three fewer vector instructions per row.
#define ROWQ4(sc, q, acc) \
	ROWSCALE(sc) \
	VBROADCASTI128 q, Y10 \
	VPSRLVD        Y12, Y10, Y10 \
	VPAND          Y13, Y10, Y10 \
	VPMADDUBSW     (DI), Y10, Y10 \
	VPSUBW         Y8, Y10, Y10 \
	VPMADDWD       Y15, Y10, Y10 \
	VCVTDQ2PS      Y10, Y10 \
	VFMADD231PS    Y10, Y14, acc

#define ACT \
	VMOVDQU      (DI), Y8 \
	VBROADCASTSS (DX), Y9

// ACTQ4 sets Y8 to the int16 sums of 8·x over each pair of the activation
// block (for ROWQ4) and Y9 to its scale.
#define ACTQ4 \
	VMOVDQU      x4bytes8<>(SB), Y11 \
	VPMADDUBSW   (DI), Y11, Y8 \
	VBROADCASTSS (DX), Y9

#define RSETUP \
	VXORPS Y0, Y0, Y0 \
	VXORPS Y1, Y1, Y1 \
	VXORPS Y2, Y2, Y2 \
	VXORPS Y3, Y3, Y3 \
	VXORPS Y4, Y4, Y4 \
	VXORPS Y5, Y5, Y5 \
	VXORPS Y6, Y6, Y6 \
	VXORPS Y7, Y7, Y7 \
	VPCMPEQW Y15, Y15, Y15 \
	VPSRLW   $15, Y15, Y15

#define RSTORE \
	STORE1(Y0, Y4, X0) \
	ADDQ $4, AX \
	STORE1(Y1, Y5, X1) \
	ADDQ $4, AX \
	STORE1(Y2, Y6, X2) \
	ADDQ $4, AX \
	STORE1(Y3, Y7, X3) \
	VZEROUPPER

#define Q8ROWS(a0, a1, a2, a3) \
	ACT \
	ROWQ8((SI), 2(SI), a0) \
	ROWQ8((SI)(R8*1), 2(SI)(R8*1), a1) \
	ROWQ8((SI)(R8*2), 2(SI)(R8*2), a2) \
	ROWQ8((SI)(R9*1), 2(SI)(R9*1), a3)

#define Q4ROWS(a0, a1, a2, a3) \
	ACTQ4 \
	ROWQ4((SI), 2(SI), a0) \
	ROWQ4((SI)(R8*1), 2(SI)(R8*1), a1) \
	ROWQ4((SI)(R8*2), 2(SI)(R8*2), a2) \
	ROWQ4((SI)(R9*1), 2(SI)(R9*1), a3)

// func dotQ8_0r4AVX2(w *byte, rb int, xq *int8, xd *float32, nb int, out *float32)
TEXT ·dotQ8_0r4AVX2(SB), NOSPLIT, $0-48
	MOVQ w+0(FP), SI
	MOVQ rb+8(FP), R8
	LEAQ (R8)(R8*2), R9
	MOVQ xq+16(FP), DI
	MOVQ xd+24(FP), DX
	MOVQ nb+32(FP), CX
	LEAQ (SI)(R8*8), R10
	RSETUP

q8r4pair:
	PREFETCHT0 (R10)
	PREFETCHT0 64(R10)
	PREFETCHT0 128(R10)
	PREFETCHT0 192(R10)
	PREFETCHT0 256(R10)
	ADDQ       $272, R10
	CMPQ CX, $2
	JLT  q8r4tail
	Q8ROWS(Y0, Y1, Y2, Y3)
	ADDQ $34, SI
	ADDQ $32, DI
	ADDQ $4, DX
	Q8ROWS(Y4, Y5, Y6, Y7)
	ADDQ $34, SI
	ADDQ $32, DI
	ADDQ $4, DX
	SUBQ $2, CX
	JMP  q8r4pair

q8r4tail:
	TESTQ CX, CX
	JZ    q8r4done
	Q8ROWS(Y0, Y1, Y2, Y3)

q8r4done:
	MOVQ out+40(FP), AX
	RSTORE
	RET

// func dotQ4_0r4AVX2(w *byte, rb int, xq *int8, xd *float32, nb int, out *float32)
TEXT ·dotQ4_0r4AVX2(SB), NOSPLIT, $0-48
	MOVQ w+0(FP), SI
	MOVQ rb+8(FP), R8
	LEAQ (R8)(R8*2), R9
	MOVQ xq+16(FP), DI
	MOVQ xd+24(FP), DX
	MOVQ nb+32(FP), CX
	LEAQ (SI)(R8*8), R10
	RSETUP
	VMOVDQU x4mask0F<>(SB), Y13
	VMOVDQU x4shift<>(SB), Y12

q4r4pair:
	PREFETCHT0 (R10)
	PREFETCHT0 64(R10)
	PREFETCHT0 128(R10)
	ADDQ       $144, R10
	CMPQ CX, $2
	JLT  q4r4tail
	Q4ROWS(Y0, Y1, Y2, Y3)
	ADDQ $18, SI
	ADDQ $32, DI
	ADDQ $4, DX
	Q4ROWS(Y4, Y5, Y6, Y7)
	ADDQ $18, SI
	ADDQ $32, DI
	ADDQ $4, DX
	SUBQ $2, CX
	JMP  q4r4pair

q4r4tail:
	TESTQ CX, CX
	JZ    q4r4done
	Q4ROWS(Y0, Y1, Y2, Y3)

q4r4done:
	MOVQ out+40(FP), AX
	RSTORE
	RET
