package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Quantize encodes src in type t. len(src) must be a multiple of t's block
// size. Q4_0 and Q8_0 use ggml's reference rounding, so their output is
// byte-identical to ggml's; the K types use a simpler search for scales than
// llama-quantize (same layout, slightly larger error).
func Quantize(t Type, src []float32) ([]byte, error) {
	n, err := t.RowBytes(len(src))
	if err != nil {
		return nil, fmt.Errorf("quantizing %s: %w", t, err)
	}
	dst := make([]byte, n)
	switch t {
	case F32:
		for i, v := range src {
			binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
		}
	case F16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], F32ToF16(v))
		}
	case BF16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], F32ToBF16(v))
		}
	case Q4_0:
		quantQ4_0(src, dst)
	case Q4_1:
		quantQ4_1(src, dst)
	case Q5_0:
		quantQ5_0(src, dst)
	case Q5_1:
		quantQ5_1(src, dst)
	case Q8_0:
		quantQ8_0(src, dst)
	case Q4_K:
		quantQ4K(src, dst)
	case Q5_K:
		quantQ5K(src, dst)
	case Q6_K:
		quantQ6K(src, dst)
	}
	return dst, nil
}

// roundHalfAway rounds to the nearest integer, halves away from zero (C's
// roundf).
func roundHalfAway(x float32) int { return int(math.Round(float64(x))) }

// quantQ4_0 follows ggml's quantize_row_q4_0_ref: the element of largest
// magnitude maps to -8.
func quantQ4_0(src []float32, dst []byte) {
	for b := 0; b < len(src)/QK; b++ {
		x := src[b*QK : b*QK+QK]
		var amax, max float32
		for _, v := range x {
			if a := abs32(v); amax < a {
				amax, max = a, v
			}
		}
		d := max / -8
		var id float32
		if d != 0 {
			id = 1 / d
		}
		blk := dst[b*18 : b*18+18]
		binary.LittleEndian.PutUint16(blk, F32ToF16(d))
		for j := 0; j < QK/2; j++ {
			x0 := x[j]*id + 8.5
			x1 := x[j+QK/2]*id + 8.5
			blk[2+j] = uint8(min(15, int8(x0))) | uint8(min(15, int8(x1)))<<4
		}
	}
}

// minMax returns the smallest and largest of x.
func minMax(x []float32) (lo, hi float32) {
	lo, hi = x[0], x[0]
	for _, v := range x[1:] {
		lo, hi = min(lo, v), max(hi, v)
	}
	return lo, hi
}

// quantQ4_1 follows ggml's quantize_row_q4_1_ref.
func quantQ4_1(src []float32, dst []byte) {
	for b := 0; b < len(src)/QK; b++ {
		x := src[b*QK : b*QK+QK]
		lo, hi := minMax(x)
		d := (hi - lo) / 15
		var id float32
		if d != 0 {
			id = 1 / d
		}
		blk := dst[b*20 : b*20+20]
		binary.LittleEndian.PutUint16(blk, F32ToF16(d))
		binary.LittleEndian.PutUint16(blk[2:], F32ToF16(lo))
		for j := 0; j < QK/2; j++ {
			x0 := (x[j]-lo)*id + 0.5
			x1 := (x[j+QK/2]-lo)*id + 0.5
			blk[4+j] = uint8(min(15, int8(x0))) | uint8(min(15, int8(x1)))<<4
		}
	}
}

// quantQ5_0 follows ggml's quantize_row_q5_0_ref: the element of largest
// magnitude maps to -16.
func quantQ5_0(src []float32, dst []byte) {
	for b := 0; b < len(src)/QK; b++ {
		x := src[b*QK : b*QK+QK]
		var amax, mx float32
		for _, v := range x {
			if a := abs32(v); amax < a {
				amax, mx = a, v
			}
		}
		d := mx / -16
		var id float32
		if d != 0 {
			id = 1 / d
		}
		blk := dst[b*22 : b*22+22]
		binary.LittleEndian.PutUint16(blk, F32ToF16(d))
		var qh uint32
		for j := 0; j < QK/2; j++ {
			xi0 := uint8(min(31, int8(x[j]*id+16.5)))
			xi1 := uint8(min(31, int8(x[j+QK/2]*id+16.5)))
			blk[6+j] = xi0&0xf | (xi1&0xf)<<4
			qh |= uint32(xi0>>4) << j
			qh |= uint32(xi1>>4) << (j + QK/2)
		}
		binary.LittleEndian.PutUint32(blk[2:], qh)
	}
}

// quantQ5_1 follows ggml's quantize_row_q5_1_ref.
func quantQ5_1(src []float32, dst []byte) {
	for b := 0; b < len(src)/QK; b++ {
		x := src[b*QK : b*QK+QK]
		lo, hi := minMax(x)
		d := (hi - lo) / 31
		var id float32
		if d != 0 {
			id = 1 / d
		}
		blk := dst[b*24 : b*24+24]
		binary.LittleEndian.PutUint16(blk, F32ToF16(d))
		binary.LittleEndian.PutUint16(blk[2:], F32ToF16(lo))
		var qh uint32
		for j := 0; j < QK/2; j++ {
			xi0 := uint8(min(31, int8((x[j]-lo)*id+0.5)))
			xi1 := uint8(min(31, int8((x[j+QK/2]-lo)*id+0.5)))
			blk[8+j] = xi0&0xf | (xi1&0xf)<<4
			qh |= uint32(xi0>>4) << j
			qh |= uint32(xi1>>4) << (j + QK/2)
		}
		binary.LittleEndian.PutUint32(blk[4:], qh)
	}
}

// quantQ8_0 follows ggml's quantize_row_q8_0_ref.
func quantQ8_0(src []float32, dst []byte) {
	for b := 0; b < len(src)/QK; b++ {
		x := src[b*QK : b*QK+QK]
		var amax float32
		for _, v := range x {
			amax = max(amax, abs32(v))
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		blk := dst[b*34 : b*34+34]
		binary.LittleEndian.PutUint16(blk, F32ToF16(d))
		for j, v := range x {
			blk[2+j] = uint8(int8(roundHalfAway(v * id)))
		}
	}
}

func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }

// nearestInt rounds to nearest and clamps to [lo, hi].
func nearestInt(x float32, lo, hi int) int {
	if x != x { // NaN
		return 0
	}
	return max(lo, min(hi, int(math.RoundToEven(float64(x)))))
}

// affineSub finds a scale and a (non-negative) min for one sub-block so that
// x ≈ scale*q - min with q in [0, nmax]: the min/max range, refined by a few
// least-squares passes over the chosen quants.
func affineSub(x []float32, nmax int) (scale, mn float32) {
	lo, hi := x[0], x[0]
	for _, v := range x {
		lo, hi = min(lo, v), max(hi, v)
	}
	lo = min(lo, 0) // the min term can only shift down
	if hi == lo {
		return 0, -lo
	}
	scale, mn = (hi-lo)/float32(nmax), -lo
	best := affineErr(x, scale, mn, nmax)
	for range 4 {
		// Least squares for (scale, min) given the current quants.
		var sq, sqq, sx, sqx float64
		n := float64(len(x))
		for _, v := range x {
			q := float64(nearestInt((v+mn)/scale, 0, nmax))
			sq += q
			sqq += q * q
			sx += float64(v)
			sqx += q * float64(v)
		}
		det := n*sqq - sq*sq
		if det == 0 {
			break
		}
		s := (n*sqx - sq*sx) / det
		m := (sq*sqx - sqq*sx) / det // x ≈ s*q - m
		if s <= 0 || m < 0 {
			break
		}
		if e := affineErr(x, float32(s), float32(m), nmax); e < best {
			best, scale, mn = e, float32(s), float32(m)
		} else {
			break
		}
	}
	return scale, mn
}

func affineErr(x []float32, scale, mn float32, nmax int) float64 {
	var e float64
	for _, v := range x {
		q := nearestInt((v+mn)/scale, 0, nmax)
		d := float64(scale*float32(q) - mn - v)
		e += d * d
	}
	return e
}

// packScaleMinK4 is the inverse of scaleMinK4.
func packScaleMinK4(sc, m *[8]uint8, q []byte) {
	for j := 0; j < 8; j++ {
		if j < 4 {
			q[j] = sc[j] & 63
			q[j+4] = m[j] & 63
		} else {
			q[j+4] = sc[j]&0xf | (m[j]&0xf)<<4
			q[j-4] |= (sc[j] >> 4) << 6
			q[j] |= (m[j] >> 4) << 6
		}
	}
}

// quantKAffine computes, for one 256-element super-block, the Q4_K/Q5_K
// header (d, dmin, packed scales) and the quants in [0, nmax] of every element.
func quantKAffine(x []float32, nmax int, hdr []byte, q *[QKK]uint8) {
	var scales, mins [8]float32
	var maxScale, maxMin float32
	for j := 0; j < 8; j++ {
		scales[j], mins[j] = affineSub(x[32*j:32*j+32], nmax)
		maxScale, maxMin = max(maxScale, scales[j]), max(maxMin, mins[j])
	}
	var d, dmin float32
	var isc, imn [8]uint8
	if maxScale > 0 {
		d = F16ToF32(F32ToF16(maxScale / 63))
	}
	if maxMin > 0 {
		dmin = F16ToF32(F32ToF16(maxMin / 63))
	}
	for j := 0; j < 8; j++ {
		if d > 0 {
			isc[j] = uint8(nearestInt(scales[j]/d, 0, 63))
		}
		if dmin > 0 {
			imn[j] = uint8(nearestInt(mins[j]/dmin, 0, 63))
		}
	}
	binary.LittleEndian.PutUint16(hdr, F32ToF16(d))
	binary.LittleEndian.PutUint16(hdr[2:], F32ToF16(dmin))
	clear(hdr[4:16])
	packScaleMinK4(&isc, &imn, hdr[4:16])
	for j := 0; j < 8; j++ {
		ds, dm := d*float32(isc[j]), dmin*float32(imn[j])
		for l := 0; l < 32; l++ {
			var v int
			if ds > 0 {
				v = nearestInt((x[32*j+l]+dm)/ds, 0, nmax)
			}
			q[32*j+l] = uint8(v)
		}
	}
}

func quantQ4K(src []float32, dst []byte) {
	var q [QKK]uint8
	for b := 0; b < len(src)/QKK; b++ {
		blk := dst[b*144 : b*144+144]
		quantKAffine(src[b*QKK:b*QKK+QKK], 15, blk, &q)
		qs := blk[16:144]
		for k := 0; k < 4; k++ {
			for l := 0; l < 32; l++ {
				qs[32*k+l] = q[64*k+l] | q[64*k+32+l]<<4
			}
		}
	}
}

func quantQ5K(src []float32, dst []byte) {
	var q [QKK]uint8
	for b := 0; b < len(src)/QKK; b++ {
		blk := dst[b*176 : b*176+176]
		quantKAffine(src[b*QKK:b*QKK+QKK], 31, blk, &q)
		qh, qs := blk[16:48], blk[48:176]
		clear(qh)
		for k := 0; k < 4; k++ {
			for l := 0; l < 32; l++ {
				a, c := q[64*k+l], q[64*k+32+l]
				qs[32*k+l] = a&0xf | (c&0xf)<<4
				qh[l] |= (a>>4)<<(2*k) | (c>>4)<<(2*k+1)
			}
		}
	}
}

// quantQ6K: each 16-element sub-block gets a symmetric scale (its element
// of largest magnitude maps to -32); the sixteen scales are then quantised
// to int8 against a common f16 d.
func quantQ6K(src []float32, dst []byte) {
	for b := 0; b < len(src)/QKK; b++ {
		x := src[b*QKK : b*QKK+QKK]
		blk := dst[b*210 : b*210+210]
		var sub [16]float32
		var maxScale, maxAbs float32
		for j := 0; j < 16; j++ {
			var amax, mx float32
			for _, v := range x[16*j : 16*j+16] {
				if a := abs32(v); a > amax {
					amax, mx = a, v
				}
			}
			sub[j] = mx / -32
			if a := abs32(sub[j]); a > maxAbs {
				maxAbs, maxScale = a, sub[j]
			}
		}
		var d float32
		var isc [16]int8
		if maxAbs > 0 {
			d = F16ToF32(F32ToF16(maxScale / -127))
			for j := range sub {
				isc[j] = int8(nearestInt(sub[j]/d, -127, 127))
			}
		}
		var q [QKK]uint8
		for j := 0; j < 16; j++ {
			s := d * float32(isc[j])
			for l := 0; l < 16; l++ {
				v := 0
				if s != 0 {
					v = nearestInt(x[16*j+l]/s, -32, 31)
				}
				q[16*j+l] = uint8(v + 32)
			}
		}
		ql, qh, sc := blk[0:128], blk[128:192], blk[192:208]
		for n := 0; n < 2; n++ {
			for l := 0; l < 32; l++ {
				q1, q2, q3, q4 := q[128*n+l], q[128*n+l+32], q[128*n+l+64], q[128*n+l+96]
				ql[64*n+l] = q1&0xf | (q3&0xf)<<4
				ql[64*n+l+32] = q2&0xf | (q4&0xf)<<4
				qh[32*n+l] = q1>>4 | (q2>>4)<<2 | (q3>>4)<<4 | (q4>>4)<<6
			}
		}
		for j := range isc {
			sc[j] = uint8(isc[j])
		}
		binary.LittleEndian.PutUint16(blk[208:], F32ToF16(d))
	}
}
