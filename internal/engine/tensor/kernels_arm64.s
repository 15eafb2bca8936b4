//go:build !purego

#include "textflag.h"

// NEON row kernels for arm64. Each computes the same sum as its plain-Go twin
// in dot.go; kernels_arm64.go checks lengths and bounds before calling them,
// so they see whole blocks (or whole groups of 4 or 8 floats) only.
//
// Go's assembler has no mnemonics for several of the instructions used here,
// so they are encoded with WORD; the macros take register numbers (d, n, m:
// destination and sources, as in the Arm manual's operand order). Encodings
// were checked against llvm-mc.
//
// Go operand order for the named vector instructions is source(s) first:
// VFMLA Vm.S4, Vn.S4, Vd.S4  means  Vd += Vn·Vm.

// SDOT Vd.4S, Vn.16B, Vm.16B (ARMv8.2 dot product): each int32 lane of d
// gains the sum of four signed byte products.
#define SDOT(d, n, m) WORD $(0x4E809400 | (m)<<16 | (n)<<5 | (d))

// SMULL Vd.8H, Vn.8B, Vm.8B and SMULL2 (high halves): signed byte products
// widened to int16.
#define SMULL(d, n, m) WORD $(0x0E20C000 | (m)<<16 | (n)<<5 | (d))
#define SMULL2(d, n, m) WORD $(0x4E20C000 | (m)<<16 | (n)<<5 | (d))

// SADALP Vd.4S, Vn.8H: d gains the sums of adjacent int16 pairs of n.
#define SADALP(d, n) WORD $(0x4E606800 | (n)<<5 | (d))

// SCVTF Vd.4S, Vn.4S: int32 lanes to float32.
#define SCVTF(d, n) WORD $(0x4E21D800 | (n)<<5 | (d))

// FADD Vd.4S, Vn.4S, Vm.4S and FADDP (pairwise).
#define FADD4(d, n, m) WORD $(0x4E20D400 | (m)<<16 | (n)<<5 | (d))
#define FADDP4(d, n, m) WORD $(0x6E20D400 | (m)<<16 | (n)<<5 | (d))

// FCVTL Vd.4S, Vn.4H and FCVTL2 Vd.4S, Vn.8H: half to single precision.
#define FCVTL(d, n) WORD $(0x0E217800 | (n)<<5 | (d))
#define FCVTL2(d, n) WORD $(0x4E217800 | (n)<<5 | (d))

// HSUM4 leaves the sum of the four float32 lanes of V0 in F0.
#define HSUM4 \
	FADDP4(0, 0, 0) \
	FADDP4(0, 0, 0)

// BLOCKSCALE sets every lane of V16 to d(weight block at (R0), f16) ×
// d(activation at (R2), f32) and steps R2 to the next activation scale.
#define BLOCKSCALE \
	MOVHU   (R0), R4 \
	FMOVS   R4, F16 \
	FCVTHS  F16, F16 \
	FMOVS.P 4(R2), F17 \
	FMULS   F17, F16, F16 \
	VDUP    V16.S[0], V16.S4

// LOADQ8 loads a Q8_0 block's 32 quants (after its 2-byte scale) into V2,
// V3 and steps R0 to the next block.
#define LOADQ8 \
	ADD  $2, R0, R5 \
	VLD1 (R5), [V2.B16, V3.B16] \
	ADD  $34, R0

// LOADQ4 loads a Q4_0 block's 32 quants into V2 (low nibbles: elements
// 0-15) and V3 (high nibbles: 16-31) as signed bytes, each minus 8, and steps
// R0 to the next block. V30 holds 0x0f bytes, V31 holds 8s.
#define LOADQ4 \
	ADD   $2, R0, R5 \
	VLD1  (R5), [V2.B16] \
	VUSHR $4, V2.B16, V3.B16 \
	VAND  V30.B16, V2.B16, V2.B16 \
	VSUB  V31.B16, V2.B16, V2.B16 \
	VSUB  V31.B16, V3.B16, V3.B16 \
	ADD   $18, R0

// LOADX loads 32 activation quants into V4, V5 and steps R1.
#define LOADX \
	VLD1.P 32(R1), [V4.B16, V5.B16]

// IDOT_SDOT sets V6 to four int32 partial sums of V2·V4 + V3·V5 with SDOT.
#define IDOT_SDOT \
	VEOR V6.B16, V6.B16, V6.B16 \
	SDOT(6, 2, 4) \
	SDOT(6, 3, 5)

// IDOT_NEON does the same with plain NEON: byte products widened to int16
// (|product| ≤ 16384, so no overflow), then pairwise added into int32.
#define IDOT_NEON \
	SMULL(7, 2, 4) \
	SMULL2(8, 2, 4) \
	SMULL(9, 3, 5) \
	SMULL2(10, 3, 5) \
	VEOR V6.B16, V6.B16, V6.B16 \
	SADALP(6, 7) \
	SADALP(6, 8) \
	SADALP(6, 9) \
	SADALP(6, 10)

// ACCUM adds float(V6) × V16 to the float32 accumulator acc (Vn.S4).
#define ACCUM(acc) \
	SCVTF(6, 6) \
	VFMLA V16.S4, V6.S4, acc

// QPROLOGUE loads the arguments of a block kernel
// (w *byte, xq *int8, xd *float32, nb int) and clears V0, V1.
#define QPROLOGUE \
	MOVD w+0(FP), R0 \
	MOVD xq+8(FP), R1 \
	MOVD xd+16(FP), R2 \
	MOVD nb+24(FP), R3 \
	VEOR V0.B16, V0.B16, V0.B16 \
	VEOR V1.B16, V1.B16, V1.B16

// QLOOP is the body of a block kernel: blocks two at a time into the two
// accumulators V0 and V1 (to overlap latencies), then a last odd block.
// LOAD and IDOT name the load and integer-dot macros; pair, tail and done
// are the labels, distinct for each kernel.
#define QLOOP(LOAD, IDOT, pair, tail, done) \
pair: \
	CMP    $2, R3 \
	BLT    tail \
	BLOCKSCALE \
	LOAD \
	LOADX \
	IDOT \
	ACCUM(V0.S4) \
	BLOCKSCALE \
	LOAD \
	LOADX \
	IDOT \
	ACCUM(V1.S4) \
	SUB    $2, R3 \
	B      pair \
tail: \
	CBZ    R3, done \
	BLOCKSCALE \
	LOAD \
	LOADX \
	IDOT \
	ACCUM(V0.S4) \
done: \
	FADD4(0, 0, 1) \
	HSUM4 \
	FMOVS  F0, ret+32(FP) \
	RET

// func dotQ8_0SDOT(w *byte, xq *int8, xd *float32, nb int) float32
// Q8_0 block: f16 d, 32 int8 quants (34 bytes).
TEXT ·dotQ8_0SDOT(SB), NOSPLIT, $0-36
	QPROLOGUE
	QLOOP(LOADQ8, IDOT_SDOT, q80dpair, q80dtail, q80ddone)

// func dotQ8_0NEON(w *byte, xq *int8, xd *float32, nb int) float32
TEXT ·dotQ8_0NEON(SB), NOSPLIT, $0-36
	QPROLOGUE
	QLOOP(LOADQ8, IDOT_NEON, q80npair, q80ntail, q80ndone)

// func dotQ4_0SDOT(w *byte, xq *int8, xd *float32, nb int) float32
// Q4_0 block: f16 d, 16 bytes of nibbles (18 bytes).
TEXT ·dotQ4_0SDOT(SB), NOSPLIT, $0-36
	QPROLOGUE
	VMOVI $15, V30.B16
	VMOVI $8, V31.B16
	QLOOP(LOADQ4, IDOT_SDOT, q40dpair, q40dtail, q40ddone)

// func dotQ4_0NEON(w *byte, xq *int8, xd *float32, nb int) float32
TEXT ·dotQ4_0NEON(SB), NOSPLIT, $0-36
	QPROLOGUE
	VMOVI $15, V30.B16
	VMOVI $8, V31.B16
	QLOOP(LOADQ4, IDOT_NEON, q40npair, q40ntail, q40ndone)

// func dotF32NEON(a, b *float32, n int) float32
// n must be a multiple of 4; four accumulators over 16 elements a step.
TEXT ·dotF32NEON(SB), NOSPLIT, $0-28
	MOVD a+0(FP), R0
	MOVD b+8(FP), R1
	MOVD n+16(FP), R3
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	VEOR V3.B16, V3.B16, V3.B16

f32four:
	CMP    $16, R3
	BLT    f32one
	VLD1.P 64(R0), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1.P 64(R1), [V8.S4, V9.S4, V10.S4, V11.S4]
	VFMLA  V8.S4, V4.S4, V0.S4
	VFMLA  V9.S4, V5.S4, V1.S4
	VFMLA  V10.S4, V6.S4, V2.S4
	VFMLA  V11.S4, V7.S4, V3.S4
	SUB    $16, R3
	B      f32four

f32one:
	CBZ    R3, f32done
	VLD1.P 16(R0), [V4.S4]
	VLD1.P 16(R1), [V8.S4]
	VFMLA  V8.S4, V4.S4, V0.S4
	SUB    $4, R3
	B      f32one

f32done:
	FADD4(0, 0, 1)
	FADD4(2, 2, 3)
	FADD4(0, 0, 2)
	HSUM4
	FMOVS F0, ret+24(FP)
	RET

// func dotF16NEON(w *byte, x *float32, n int) float32
// w holds n half-precision values; n must be a multiple of 8.
TEXT ·dotF16NEON(SB), NOSPLIT, $0-28
	MOVD w+0(FP), R0
	MOVD x+8(FP), R1
	MOVD n+16(FP), R3
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	VEOR V3.B16, V3.B16, V3.B16

f16two:
	CMP    $16, R3
	BLT    f16one
	VLD1.P 32(R0), [V12.H8, V13.H8]
	FCVTL(4, 12)
	FCVTL2(5, 12)
	FCVTL(6, 13)
	FCVTL2(7, 13)
	VLD1.P 64(R1), [V8.S4, V9.S4, V10.S4, V11.S4]
	VFMLA  V8.S4, V4.S4, V0.S4
	VFMLA  V9.S4, V5.S4, V1.S4
	VFMLA  V10.S4, V6.S4, V2.S4
	VFMLA  V11.S4, V7.S4, V3.S4
	SUB    $16, R3
	B      f16two

f16one:
	CBZ    R3, f16done
	VLD1.P 16(R0), [V12.H8]
	FCVTL(4, 12)
	FCVTL2(5, 12)
	VLD1.P 32(R1), [V8.S4, V9.S4]
	VFMLA  V8.S4, V4.S4, V0.S4
	VFMLA  V9.S4, V5.S4, V1.S4
	SUB    $8, R3
	B      f16one

f16done:
	FADD4(0, 0, 1)
	FADD4(2, 2, 3)
	FADD4(0, 0, 2)
	HSUM4
	FMOVS F0, ret+24(FP)
	RET
