package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Dequantize decodes the elements of src, stored in type t, into dst.
// len(dst) must be a multiple of t's block size and len(src) must be exactly
// t.RowBytes(len(dst)).
func Dequantize(t Type, src []byte, dst []float32) error {
	need, err := t.RowBytes(len(dst))
	if err != nil {
		return fmt.Errorf("dequantizing %s: %w", t, err)
	}
	if len(src) != need {
		return fmt.Errorf("dequantizing %s: %w: %d elements need %d bytes, have %d", t, ErrLength, len(dst), need, len(src))
	}
	switch t {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case F16:
		tab := f16Table()
		for i := range dst {
			dst[i] = tab[binary.LittleEndian.Uint16(src[2*i:])]
		}
	case BF16:
		for i := range dst {
			dst[i] = BF16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case Q4_0:
		dequantQ4_0(src, dst)
	case Q4_1:
		dequantQ4_1(src, dst)
	case Q5_0:
		dequantQ5_0(src, dst)
	case Q5_1:
		dequantQ5_1(src, dst)
	case Q8_0:
		dequantQ8_0(src, dst)
	case Q4_K:
		dequantQ4K(src, dst)
	case Q5_K:
		dequantQ5K(src, dst)
	case Q6_K:
		dequantQ6K(src, dst)
	}
	return nil
}

// f16At reads the half-precision value at b[0:2].
func f16At(b []byte) float32 { return f16Table()[binary.LittleEndian.Uint16(b)] }

// Q4_0 block (18 bytes): d f16, qs[16]; element j is the low nibble of qs[j],
// element j+16 the high nibble, both offset by 8.
func dequantQ4_0(src []byte, dst []float32) {
	for b := 0; b < len(dst)/QK; b++ {
		blk := src[b*18 : b*18+18]
		d := f16At(blk)
		qs := blk[2:18]
		y := dst[b*QK : b*QK+QK]
		for j := 0; j < QK/2; j++ {
			y[j] = float32(int(qs[j]&0xf)-8) * d
			y[j+QK/2] = float32(int(qs[j]>>4)-8) * d
		}
	}
}

// Q4_1 block (20 bytes): d f16, m f16, qs[16]; nibbles as Q4_0, value
// q·d + m.
func dequantQ4_1(src []byte, dst []float32) {
	for b := 0; b < len(dst)/QK; b++ {
		blk := src[b*20 : b*20+20]
		d, m := f16At(blk), f16At(blk[2:])
		qs := blk[4:20]
		y := dst[b*QK : b*QK+QK]
		for j := 0; j < QK/2; j++ {
			y[j] = float32(qs[j]&0xf)*d + m
			y[j+QK/2] = float32(qs[j]>>4)*d + m
		}
	}
}

// Q5_0 block (22 bytes): d f16, qh uint32, qs[16]. Element j takes its
// fifth bit from bit j of qh (elements 16-31 from bits 16-31); value
// (q-16)·d.
func dequantQ5_0(src []byte, dst []float32) {
	for b := 0; b < len(dst)/QK; b++ {
		blk := src[b*22 : b*22+22]
		d := f16At(blk)
		qh := binary.LittleEndian.Uint32(blk[2:])
		qs := blk[6:22]
		y := dst[b*QK : b*QK+QK]
		for j := 0; j < QK/2; j++ {
			h0 := byte(qh>>j&1) << 4
			h1 := byte(qh>>(j+16)&1) << 4
			y[j] = float32(int(qs[j]&0xf|h0)-16) * d
			y[j+QK/2] = float32(int(qs[j]>>4|h1)-16) * d
		}
	}
}

// Q5_1 block (24 bytes): d f16, m f16, qh uint32, qs[16]; bits as Q5_0,
// value q·d + m.
func dequantQ5_1(src []byte, dst []float32) {
	for b := 0; b < len(dst)/QK; b++ {
		blk := src[b*24 : b*24+24]
		d, m := f16At(blk), f16At(blk[2:])
		qh := binary.LittleEndian.Uint32(blk[4:])
		qs := blk[8:24]
		y := dst[b*QK : b*QK+QK]
		for j := 0; j < QK/2; j++ {
			h0 := byte(qh>>j&1) << 4
			h1 := byte(qh>>(j+16)&1) << 4
			y[j] = float32(qs[j]&0xf|h0)*d + m
			y[j+QK/2] = float32(qs[j]>>4|h1)*d + m
		}
	}
}

// Q8_0 block (34 bytes): d f16, qs[32] int8.
func dequantQ8_0(src []byte, dst []float32) {
	for b := 0; b < len(dst)/QK; b++ {
		blk := src[b*34 : b*34+34]
		d := f16At(blk)
		y := dst[b*QK : b*QK+QK]
		for j := range y {
			y[j] = float32(int8(blk[2+j])) * d
		}
	}
}

// scaleMinK4 unpacks the j-th 6-bit scale and min of a Q4_K/Q5_K super-block
// from its 12 packed bytes (ggml's get_scale_min_k4).
func scaleMinK4(j int, q []byte) (sc, m uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return q[j+4]&0xf | (q[j-4]>>6)<<4, q[j+4]>>4 | (q[j]>>6)<<4
}

// Q4_K super-block (144 bytes): d f16, dmin f16, scales[12] (eight 6-bit
// scale/min pairs), qs[128]. Each 64-element chunk k uses qs[32k:32k+32]: low
// nibbles for its first 32 elements (sub-block 2k), high nibbles for the next
// 32 (sub-block 2k+1). Element value: d*scale*q - dmin*min.
func dequantQ4K(src []byte, dst []float32) {
	for b := 0; b < len(dst)/QKK; b++ {
		blk := src[b*144 : b*144+144]
		d, dmin := f16At(blk), f16At(blk[2:])
		scales, qs := blk[4:16], blk[16:144]
		y := dst[b*QKK : b*QKK+QKK]
		for k := 0; k < 4; k++ {
			sc1, m1 := scaleMinK4(2*k, scales)
			sc2, m2 := scaleMinK4(2*k+1, scales)
			d1, mm1 := d*float32(sc1), dmin*float32(m1)
			d2, mm2 := d*float32(sc2), dmin*float32(m2)
			q := qs[32*k : 32*k+32]
			for l := 0; l < 32; l++ {
				y[64*k+l] = d1*float32(q[l]&0xf) - mm1
				y[64*k+32+l] = d2*float32(q[l]>>4) - mm2
			}
		}
	}
}

// Q5_K super-block (176 bytes): d f16, dmin f16, scales[12], qh[32],
// qs[128]. As Q4_K, plus a fifth bit per element: bit 2k of qh[l] for element
// 64k+l, bit 2k+1 for element 64k+32+l.
func dequantQ5K(src []byte, dst []float32) {
	for b := 0; b < len(dst)/QKK; b++ {
		blk := src[b*176 : b*176+176]
		d, dmin := f16At(blk), f16At(blk[2:])
		scales, qh, qs := blk[4:16], blk[16:48], blk[48:176]
		y := dst[b*QKK : b*QKK+QKK]
		for k := 0; k < 4; k++ {
			sc1, m1 := scaleMinK4(2*k, scales)
			sc2, m2 := scaleMinK4(2*k+1, scales)
			d1, mm1 := d*float32(sc1), dmin*float32(m1)
			d2, mm2 := d*float32(sc2), dmin*float32(m2)
			q := qs[32*k : 32*k+32]
			for l := 0; l < 32; l++ {
				h1 := (qh[l] >> (2 * k) & 1) << 4
				h2 := (qh[l] >> (2*k + 1) & 1) << 4
				y[64*k+l] = d1*float32(q[l]&0xf|h1) - mm1
				y[64*k+32+l] = d2*float32(q[l]>>4|h2) - mm2
			}
		}
	}
}

// Q6_K super-block (210 bytes): ql[128] (low 4 bits), qh[64] (high 2 bits),
// scales[16] int8 (one per 16 elements), d f16. Each 128-element half n uses
// ql[64n:64n+64] and qh[32n:32n+32]; for l < 32 the four elements
// 128n+l+32i (i = 0..3) take the low or high nibble of ql[64n+l] or
// ql[64n+32+l] and bits 2i..2i+1 of qh[32n+l]. Element value:
// d*scale*(q-32).
func dequantQ6K(src []byte, dst []float32) {
	for b := 0; b < len(dst)/QKK; b++ {
		blk := src[b*210 : b*210+210]
		ql, qh, sc := blk[0:128], blk[128:192], blk[192:208]
		d := f16At(blk[208:])
		y := dst[b*QKK : b*QKK+QKK]
		for n := 0; n < 2; n++ {
			l0, h0, y0 := ql[64*n:], qh[32*n:], y[128*n:]
			for l := 0; l < 32; l++ {
				is := 8*n + l/16
				q1 := int(l0[l]&0xf|(h0[l]>>0&3)<<4) - 32
				q2 := int(l0[l+32]&0xf|(h0[l]>>2&3)<<4) - 32
				q3 := int(l0[l]>>4|(h0[l]>>4&3)<<4) - 32
				q4 := int(l0[l+32]>>4|(h0[l]>>6&3)<<4) - 32
				y0[l] = d * float32(int8(sc[is])) * float32(q1)
				y0[l+32] = d * float32(int8(sc[is+2])) * float32(q2)
				y0[l+64] = d * float32(int8(sc[is+4])) * float32(q3)
				y0[l+96] = d * float32(int8(sc[is+6])) * float32(q4)
			}
		}
	}
}
