package tensor

import (
	"encoding/binary"
	"math"
	"unsafe"
)

// This file holds the portable (plain Go) row kernels. The assembly kernels
// in the *_amd64.go / *_arm64.go files compute the same sums and are tested
// against these.

// qDotFunc multiplies one quantised weight row with a quantised activation:
// xq holds the int8 quants, xd one float32 scale per activation block (32
// elements for Q4_0/Q8_0, 256 for the K types), bs the sums of each
// 16-element group of xq (only the K types use it).
type qDotFunc func(w []byte, xq []int8, xd []float32, bs []int16) float32

// qDot4Func multiplies one quantised weight row with four quantised
// activation rows at once: token c's quants start at xq[c*cols], its scale
// of block b is xd[4*b+c] (see act.interleave), and its result goes to
// dst[c*ds]. Each result equals the matching qDotFunc's exactly.
type qDot4Func func(w []byte, xq []int8, xd []float32, cols int, dst []float32, ds int)

// qDotR4Func multiplies four consecutive quantised weight rows (rb bytes
// apart, starting at w) with one quantised activation row, into dst[0:4].
// Each result equals the matching qDotFunc's exactly.
type qDotR4Func func(w []byte, rb int, xq []int8, xd []float32, dst []float32)

// fDotFunc multiplies one float weight row (F32, F16 or BF16 bytes) with x.
type fDotFunc func(w []byte, x []float32) float32

// kernels is the set of row kernels in use; init code in the
// architecture-specific files replaces entries with vector versions.
type kernels struct {
	name                      string
	q8_0, q4_0, q4K, q5K, q6K qDotFunc
	q4_1, q5_0, q5_1          qDotFunc
	q8_0x4, q4_0x4            qDot4Func  // nil where a set has none
	q8_0r4, q4_0r4            qDotR4Func // nil where a set has none
	f32, f16, bf16            fDotFunc
	dot                       func(a, b []float32) float32
	quantQ8, quantQ8K         func(x []float32, qs []int8, d []float32, bs []int16)
}

var goKernels = kernels{
	name: "go",
	q8_0: dotQ8_0Go, q4_0: dotQ4_0Go, q4K: dotQ4KGo, q5K: dotQ5KGo, q6K: dotQ6KGo,
	q4_1: dotQ4_1Go, q5_0: dotQ5_0Go, q5_1: dotQ5_1Go,
	f32: dotF32BytesGo, f16: dotF16Go, bf16: dotBF16Go,
	dot:     dotGo,
	quantQ8: quantActQ8Go, quantQ8K: quantActQ8KGo,
}

// kern is the kernel set chosen at start-up: the last of kernelSets.
var kern = goKernels

// kernelSets lists the kernel sets this CPU can run, portable first; tests
// and benchmarks compare each with the portable one.
var kernelSets = []kernels{goKernels}

// Kernels names the kernel set in use ("go", "avx2", "avx512", "neon").
func Kernels() string { return kern.name }

// rowFuncs returns the row kernel of ks for t: a quantised one or a float
// one.
func (ks *kernels) rowFuncs(t Type) (qDotFunc, fDotFunc) {
	switch t {
	case F32:
		return nil, ks.f32
	case F16:
		return nil, ks.f16
	case BF16:
		return nil, ks.bf16
	case Q8_0:
		return ks.q8_0, nil
	case Q4_0:
		return ks.q4_0, nil
	case Q4_1:
		return ks.q4_1, nil
	case Q5_0:
		return ks.q5_0, nil
	case Q5_1:
		return ks.q5_1, nil
	case Q4_K:
		return ks.q4K, nil
	case Q5_K:
		return ks.q5K, nil
	case Q6_K:
		return ks.q6K, nil
	}
	return nil, nil
}

// rowFuncs4 returns the four-token kernel of ks for t, or nil.
func (ks *kernels) rowFuncs4(t Type) qDot4Func {
	switch t {
	case Q8_0:
		return ks.q8_0x4
	case Q4_0:
		return ks.q4_0x4
	}
	return nil
}

// rowFuncsR4 returns the four-row kernel of ks for t, or nil.
func (ks *kernels) rowFuncsR4(t Type) qDotR4Func {
	switch t {
	case Q8_0:
		return ks.q8_0r4
	case Q4_0:
		return ks.q4_0r4
	}
	return nil
}

// quantActQ8Go quantises x to 32-element blocks: qs = round(x/d), d =
// max|x|/127 per block (ggml's Q8_0 rounding, with a float32 scale).
func quantActQ8Go(x []float32, qs []int8, d []float32, _ []int16) {
	for b := 0; b < len(x)/QK; b++ {
		xb := x[b*QK : b*QK+QK]
		var amax float32
		for _, v := range xb {
			amax = max(amax, abs32(v))
		}
		db := amax / 127
		var id float32
		if db != 0 {
			id = 1 / db
		}
		d[b] = db
		q := qs[b*QK : b*QK+QK]
		for j, v := range xb {
			q[j] = int8(roundHalfAway(v * id))
		}
	}
}

// quantActQ8KGo quantises x to 256-element super-blocks (ggml's Q8_K, with
// a symmetric ±127 range) and records the sum of each 16 quants in bs.
func quantActQ8KGo(x []float32, qs []int8, d []float32, bs []int16) {
	for b := 0; b < len(x)/QKK; b++ {
		xb := x[b*QKK : b*QKK+QKK]
		var amax float32
		for _, v := range xb {
			amax = max(amax, abs32(v))
		}
		db := amax / 127
		var id float32
		if db != 0 {
			id = 1 / db
		}
		d[b] = db
		q := qs[b*QKK : b*QKK+QKK]
		for j, v := range xb {
			q[j] = int8(roundHalfAway(v * id))
		}
		for g := 0; g < QKK/16; g++ {
			var s int16
			for _, v := range q[16*g : 16*g+16] {
				s += int16(v)
			}
			bs[b*QKK/16+g] = s
		}
	}
}

func dotQ8_0Go(w []byte, xq []int8, xd []float32, _ []int16) float32 {
	tab := f16Table()
	var sum float32
	for b := range xd {
		blk := w[b*34 : b*34+34]
		q := blk[2:34]
		x := xq[b*QK : b*QK+QK]
		var s int32
		for j := range x {
			s += int32(int8(q[j])) * int32(x[j])
		}
		sum += tab[binary.LittleEndian.Uint16(blk)] * xd[b] * float32(s)
	}
	return sum
}

func dotQ4_0Go(w []byte, xq []int8, xd []float32, _ []int16) float32 {
	tab := f16Table()
	var sum float32
	for b := range xd {
		blk := w[b*18 : b*18+18]
		q := blk[2:18]
		x := xq[b*QK : b*QK+QK]
		var s int32
		for j := 0; j < QK/2; j++ {
			s += (int32(q[j]&0xf)-8)*int32(x[j]) + (int32(q[j]>>4)-8)*int32(x[j+QK/2])
		}
		sum += tab[binary.LittleEndian.Uint16(blk)] * xd[b] * float32(s)
	}
	return sum
}

// dotQ4_1Go: Σ (q·d + m)·x = d·Σ q·x + m·Σ x per block.
func dotQ4_1Go(w []byte, xq []int8, xd []float32, _ []int16) float32 {
	tab := f16Table()
	var sum float32
	for b := range xd {
		blk := w[b*20 : b*20+20]
		q := blk[4:20]
		x := xq[b*QK : b*QK+QK]
		var s, sx int32
		for j := 0; j < QK/2; j++ {
			s += int32(q[j]&0xf)*int32(x[j]) + int32(q[j]>>4)*int32(x[j+QK/2])
			sx += int32(x[j]) + int32(x[j+QK/2])
		}
		d, m := tab[binary.LittleEndian.Uint16(blk)], tab[binary.LittleEndian.Uint16(blk[2:])]
		sum += xd[b] * (d*float32(s) + m*float32(sx))
	}
	return sum
}

func dotQ5_0Go(w []byte, xq []int8, xd []float32, _ []int16) float32 {
	tab := f16Table()
	var sum float32
	for b := range xd {
		blk := w[b*22 : b*22+22]
		qh := binary.LittleEndian.Uint32(blk[2:])
		q := blk[6:22]
		x := xq[b*QK : b*QK+QK]
		var s int32
		for j := 0; j < QK/2; j++ {
			q0 := int32(q[j]&0xf) | int32(qh>>j&1)<<4
			q1 := int32(q[j]>>4) | int32(qh>>(j+16)&1)<<4
			s += (q0-16)*int32(x[j]) + (q1-16)*int32(x[j+QK/2])
		}
		sum += tab[binary.LittleEndian.Uint16(blk)] * xd[b] * float32(s)
	}
	return sum
}

func dotQ5_1Go(w []byte, xq []int8, xd []float32, _ []int16) float32 {
	tab := f16Table()
	var sum float32
	for b := range xd {
		blk := w[b*24 : b*24+24]
		qh := binary.LittleEndian.Uint32(blk[4:])
		q := blk[8:24]
		x := xq[b*QK : b*QK+QK]
		var s, sx int32
		for j := 0; j < QK/2; j++ {
			q0 := int32(q[j]&0xf) | int32(qh>>j&1)<<4
			q1 := int32(q[j]>>4) | int32(qh>>(j+16)&1)<<4
			s += q0*int32(x[j]) + q1*int32(x[j+QK/2])
			sx += int32(x[j]) + int32(x[j+QK/2])
		}
		d, m := tab[binary.LittleEndian.Uint16(blk)], tab[binary.LittleEndian.Uint16(blk[2:])]
		sum += xd[b] * (d*float32(s) + m*float32(sx))
	}
	return sum
}

// unpackScalesK4 unpacks all eight 6-bit scales and mins of a Q4_K/Q5_K
// super-block.
func unpackScalesK4(q []byte) (sc, m [8]int32) {
	for j := 0; j < 8; j++ {
		s, mm := scaleMinK4(j, q)
		sc[j], m[j] = int32(s), int32(mm)
	}
	return sc, m
}

func dotQ4KGo(w []byte, xq []int8, xd []float32, bs []int16) float32 {
	tab := f16Table()
	var sum float32
	for b := range xd {
		blk := w[b*144 : b*144+144]
		sc, m := unpackScalesK4(blk[4:16])
		qs := blk[16:144]
		x := xq[b*QKK : b*QKK+QKK]
		g := bs[b*16 : b*16+16]
		var sumi, summ int32
		for k := 0; k < 4; k++ {
			q := qs[32*k : 32*k+32]
			var s1, s2 int32
			for l := 0; l < 32; l++ {
				s1 += int32(q[l]&0xf) * int32(x[64*k+l])
				s2 += int32(q[l]>>4) * int32(x[64*k+32+l])
			}
			sumi += sc[2*k]*s1 + sc[2*k+1]*s2
			summ += m[2*k]*int32(g[4*k]+g[4*k+1]) + m[2*k+1]*int32(g[4*k+2]+g[4*k+3])
		}
		d := tab[binary.LittleEndian.Uint16(blk)] * xd[b]
		dmin := tab[binary.LittleEndian.Uint16(blk[2:])] * xd[b]
		sum += d*float32(sumi) - dmin*float32(summ)
	}
	return sum
}

func dotQ5KGo(w []byte, xq []int8, xd []float32, bs []int16) float32 {
	tab := f16Table()
	var sum float32
	for b := range xd {
		blk := w[b*176 : b*176+176]
		sc, m := unpackScalesK4(blk[4:16])
		qh, qs := blk[16:48], blk[48:176]
		x := xq[b*QKK : b*QKK+QKK]
		g := bs[b*16 : b*16+16]
		var sumi, summ int32
		for k := 0; k < 4; k++ {
			q := qs[32*k : 32*k+32]
			var s1, s2 int32
			for l := 0; l < 32; l++ {
				h1 := int32(qh[l]>>(2*k)&1) << 4
				h2 := int32(qh[l]>>(2*k+1)&1) << 4
				s1 += (int32(q[l]&0xf) | h1) * int32(x[64*k+l])
				s2 += (int32(q[l]>>4) | h2) * int32(x[64*k+32+l])
			}
			sumi += sc[2*k]*s1 + sc[2*k+1]*s2
			summ += m[2*k]*int32(g[4*k]+g[4*k+1]) + m[2*k+1]*int32(g[4*k+2]+g[4*k+3])
		}
		d := tab[binary.LittleEndian.Uint16(blk)] * xd[b]
		dmin := tab[binary.LittleEndian.Uint16(blk[2:])] * xd[b]
		sum += d*float32(sumi) - dmin*float32(summ)
	}
	return sum
}

func dotQ6KGo(w []byte, xq []int8, xd []float32, bs []int16) float32 {
	tab := f16Table()
	var sum float32
	for b := range xd {
		blk := w[b*210 : b*210+210]
		ql, qh, sc := blk[0:128], blk[128:192], blk[192:208]
		x := xq[b*QKK : b*QKK+QKK]
		g := bs[b*16 : b*16+16]
		var sub [16]int32 // Σ q*x per 16-element group, q in [0, 63]
		for n := 0; n < 2; n++ {
			l0, h0, x0 := ql[64*n:], qh[32*n:], x[128*n:]
			for l := 0; l < 32; l++ {
				is := 8*n + l/16
				sub[is] += int32(l0[l]&0xf|(h0[l]&3)<<4) * int32(x0[l])
				sub[is+2] += int32(l0[l+32]&0xf|(h0[l]>>2&3)<<4) * int32(x0[l+32])
				sub[is+4] += int32(l0[l]>>4|(h0[l]>>4&3)<<4) * int32(x0[l+64])
				sub[is+6] += int32(l0[l+32]>>4|(h0[l]>>6&3)<<4) * int32(x0[l+96])
			}
		}
		var sumi int32
		for j := range sub {
			sumi += int32(int8(sc[j])) * (sub[j] - 32*int32(g[j]))
		}
		sum += tab[binary.LittleEndian.Uint16(blk[208:])] * xd[b] * float32(sumi)
	}
	return sum
}

// f32View reinterprets little-endian float32 bytes as []float32 when b is
// suitably aligned; ok is false otherwise.
func f32View(b []byte) (v []float32, ok bool) {
	if len(b) == 0 {
		return nil, true
	}
	if uintptr(unsafe.Pointer(&b[0]))%4 != 0 {
		return nil, false
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4), true
}

func dotF32BytesGo(w []byte, x []float32) float32 {
	if v, ok := f32View(w); ok {
		return dotGo(v, x)
	}
	var s float32
	for i := range x {
		s += math.Float32frombits(binary.LittleEndian.Uint32(w[4*i:])) * x[i]
	}
	return s
}

func dotF16Go(w []byte, x []float32) float32 {
	tab := f16Table()
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += tab[binary.LittleEndian.Uint16(w[2*i:])] * x[i]
		s1 += tab[binary.LittleEndian.Uint16(w[2*i+2:])] * x[i+1]
		s2 += tab[binary.LittleEndian.Uint16(w[2*i+4:])] * x[i+2]
		s3 += tab[binary.LittleEndian.Uint16(w[2*i+6:])] * x[i+3]
	}
	for ; i < len(x); i++ {
		s0 += tab[binary.LittleEndian.Uint16(w[2*i:])] * x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func dotBF16Go(w []byte, x []float32) float32 {
	var s0, s1 float32
	i := 0
	for ; i+2 <= len(x); i += 2 {
		s0 += BF16ToF32(binary.LittleEndian.Uint16(w[2*i:])) * x[i]
		s1 += BF16ToF32(binary.LittleEndian.Uint16(w[2*i+2:])) * x[i+1]
	}
	for ; i < len(x); i++ {
		s0 += BF16ToF32(binary.LittleEndian.Uint16(w[2*i:])) * x[i]
	}
	return s0 + s1
}

// dotGo is the portable float32 dot product (four partial sums).
func dotGo(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}
