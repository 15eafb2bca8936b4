package tensor

import (
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTypeInfo(t *testing.T) {
	tests := []struct {
		t            Type
		name         string
		block, bytes int
	}{
		{F32, "F32", 1, 4},
		{F16, "F16", 1, 2},
		{BF16, "BF16", 1, 2},
		{Q4_0, "Q4_0", 32, 18},
		{Q4_1, "Q4_1", 32, 20},
		{Q5_0, "Q5_0", 32, 22},
		{Q5_1, "Q5_1", 32, 24},
		{Q8_0, "Q8_0", 32, 34},
		{Q4_K, "Q4_K", 256, 144},
		{Q5_K, "Q5_K", 256, 176},
		{Q6_K, "Q6_K", 256, 210},
	}
	for _, tt := range tests {
		if tt.t.String() != tt.name || tt.t.BlockSize() != tt.block || tt.t.BytesPerBlock() != tt.bytes || !tt.t.Valid() {
			t.Errorf("%d: got %s %d %d %v", uint32(tt.t), tt.t, tt.t.BlockSize(), tt.t.BytesPerBlock(), tt.t.Valid())
		}
		if p, err := ParseType(tt.name); err != nil || p != tt.t {
			t.Errorf("ParseType(%q) = %v, %v", tt.name, p, err)
		}
		if n, err := tt.t.RowBytes(4 * tt.block); err != nil || n != 4*tt.bytes {
			t.Errorf("%s.RowBytes(%d) = %d, %v", tt.t, 4*tt.block, n, err)
		}
	}
	if _, err := Q4_K.RowBytes(100); !errors.Is(err, ErrLength) {
		t.Errorf("Q4_K.RowBytes(100) error = %v, want ErrLength", err)
	}
	if _, err := Type(4).RowBytes(32); !errors.Is(err, ErrUnknownType) {
		t.Errorf("Type(4).RowBytes error = %v, want ErrUnknownType", err)
	}
	if s := Type(99).String(); s != "type(99)" {
		t.Errorf("Type(99).String() = %q", s)
	}
	if _, err := ParseType("Q3_K"); !errors.Is(err, ErrUnknownType) {
		t.Errorf("ParseType(Q3_K) error = %v", err)
	}
}

func TestDequantizeErrors(t *testing.T) {
	tests := []struct {
		name string
		t    Type
		src  int
		dst  int
		want error
	}{
		{"unknown type", Type(5), 34, 32, ErrUnknownType},
		{"partial block", Q8_0, 34, 31, ErrLength},
		{"short source", Q8_0, 33, 32, ErrLength},
		{"long source", Q4_K, 145, 256, ErrLength},
		{"f32 odd bytes", F32, 7, 2, ErrLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Dequantize(tt.t, make([]byte, tt.src), make([]float32, tt.dst))
			if !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
		})
	}
}

// The blocks below are written byte by byte from the ggml layouts, and the
// expected values are computed from the layout description independently of
// the package's decoders.

// Packed Q4_K/Q5_K scales used by the K-type tests, and their values worked
// out by hand: scales 0-3 and mins 0-3 are the low 6 bits of bytes 0-3 and
// 4-7; scales 4-7 are the low nibbles of bytes 8-11 with the top two bits of
// bytes 0-3 above them; mins 4-7 the high nibbles of bytes 8-11 with the top
// two bits of bytes 4-7.
var (
	k4Scales = []byte{0xC1, 0x42, 0x03, 0xC4, 0x45, 0x86, 0x07, 0x48, 0x21, 0x43, 0x65, 0x87}
	k4Sc     = [8]float64{1, 2, 3, 4, 49, 19, 5, 55}
	k4Min    = [8]float64{5, 6, 7, 8, 18, 36, 6, 24}
)

func TestDequantizeKnownBlocks(t *testing.T) {
	tests := []struct {
		name string
		t    Type
		blk  func() []byte
		want func(e int, blk []byte) float64
	}{
		{
			name: "F32", t: F32,
			blk:  func() []byte { return []byte{0, 0, 0x80, 0x3f, 0, 0, 0x20, 0xc1} }, // 1, -10
			want: func(e int, _ []byte) float64 { return []float64{1, -10}[e] },
		},
		{
			name: "F16", t: F16,
			blk:  func() []byte { return []byte{0x00, 0x3c, 0x00, 0xc5, 0x01, 0x00} }, // 1, -5, 2^-24
			want: func(e int, _ []byte) float64 { return []float64{1, -5, math.Ldexp(1, -24)}[e] },
		},
		{
			name: "BF16", t: BF16,
			blk:  func() []byte { return []byte{0x80, 0x3f, 0x49, 0x40} }, // 1, 3.140625
			want: func(e int, _ []byte) float64 { return []float64{1, 3.140625}[e] },
		},
		{
			name: "Q8_0", t: Q8_0,
			blk: func() []byte {
				b := []byte{0x00, 0x38} // d = 0.5
				for j := 0; j < 32; j++ {
					b = append(b, byte(int8(8*j-128)))
				}
				return b
			},
			want: func(e int, _ []byte) float64 { return 0.5 * float64(8*e-128) },
		},
		{
			name: "Q4_0", t: Q4_0,
			blk: func() []byte {
				b := []byte{0x00, 0x40} // d = 2
				for j := 0; j < 16; j++ {
					b = append(b, byte(j)|byte(15-j)<<4)
				}
				return b
			},
			want: func(e int, _ []byte) float64 {
				if e < 16 {
					return 2 * float64(e-8)
				}
				return 2 * float64(7-(e-16))
			},
		},
		{
			name: "Q4_1", t: Q4_1,
			blk: func() []byte {
				b := []byte{0x00, 0x3c, 0x00, 0xc0} // d = 1, m = -2
				for j := 0; j < 16; j++ {
					b = append(b, byte(15-j)|byte(j)<<4)
				}
				return b
			},
			want: func(e int, _ []byte) float64 {
				if e < 16 {
					return float64(15-e) - 2
				}
				return float64(e-16) - 2
			},
		},
		{
			name: "Q5_0", t: Q5_0,
			blk: func() []byte {
				// d = 0.5; fifth bits set for elements 1, 3, 16 and 31.
				b := []byte{0x00, 0x38, 0x0a, 0x00, 0x01, 0x80}
				for j := 0; j < 16; j++ {
					b = append(b, byte(j)|byte(j)<<4)
				}
				return b
			},
			want: func(e int, _ []byte) float64 {
				q := e % 16
				if e == 1 || e == 3 || e == 16 || e == 31 {
					q += 16
				}
				return 0.5 * float64(q-16)
			},
		},
		{
			name: "Q5_1", t: Q5_1,
			blk: func() []byte {
				// d = 2, m = 0.5; fifth bits for elements 0 and 17.
				b := []byte{0x00, 0x40, 0x00, 0x38, 0x01, 0x00, 0x02, 0x00}
				for j := 0; j < 16; j++ {
					b = append(b, byte(j)<<4|byte(15-j))
				}
				return b
			},
			want: func(e int, _ []byte) float64 {
				q := 15 - e
				if e >= 16 {
					q = e - 16
				}
				if e == 0 || e == 17 {
					q += 16
				}
				return 2*float64(q) + 0.5
			},
		},
		{
			name: "Q4_K", t: Q4_K,
			blk: func() []byte {
				b := []byte{0x00, 0x3c, 0x00, 0x38} // d = 1, dmin = 0.5
				b = append(b, k4Scales...)
				for i := 0; i < 128; i++ {
					b = append(b, byte(i*7+3))
				}
				return b
			},
			want: func(e int, blk []byte) float64 {
				// 64-element chunk k uses bytes 32k..32k+31 of qs: low
				// nibbles for its first half, high nibbles for its second.
				k, w, s := e/64, e%64, e/32
				q := blk[16+32*k+w%32]
				if w >= 32 {
					q >>= 4
				}
				return k4Sc[s]*float64(q&15) - 0.5*k4Min[s]
			},
		},
		{
			name: "Q5_K", t: Q5_K,
			blk: func() []byte {
				b := []byte{0x00, 0x3c, 0x00, 0x38}
				b = append(b, k4Scales...)
				for l := 0; l < 32; l++ {
					b = append(b, byte(l*37+11)) // qh
				}
				for i := 0; i < 128; i++ {
					b = append(b, byte(i*13+5))
				}
				return b
			},
			want: func(e int, blk []byte) float64 {
				// As Q4_K; the fifth bit of element e is bit (e/32) of
				// qh[e%32].
				k, w, s := e/64, e%64, e/32
				q := blk[48+32*k+w%32]
				if w >= 32 {
					q >>= 4
				}
				hi := blk[16+e%32] >> s & 1
				return k4Sc[s]*float64(int(q&15)+16*int(hi)) - 0.5*k4Min[s]
			},
		},
		{
			name: "Q6_K", t: Q6_K,
			blk: func() []byte {
				var b []byte
				for i := 0; i < 128; i++ {
					b = append(b, byte(i*29+7)) // ql
				}
				for i := 0; i < 64; i++ {
					b = append(b, byte(i*53+1)) // qh
				}
				for j := 0; j < 16; j++ {
					b = append(b, byte(int8(9*j-70))) // scales, some negative
				}
				return append(b, 0x00, 0x34) // d = 0.25
			},
			want: func(e int, blk []byte) float64 {
				// Half n, quarter i within it, position l within the
				// quarter: low 4 bits from ql[64n + l + 32(i&1)] (high
				// nibble for i >= 2), high 2 bits from bits 2i, 2i+1 of
				// qh[32n + l]; scale e/16.
				n, i, l := e/128, e%128/32, e%32
				lo := blk[64*n+l+32*(i&1)]
				if i >= 2 {
					lo >>= 4
				}
				hi := blk[128+32*n+l] >> (2 * i) & 3
				q := int(lo&15) | int(hi)<<4
				sc := float64(int8(blk[192+e/16]))
				return 0.25 * sc * float64(q-32)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blk := tt.blk()
			if len(blk) != tt.t.BytesPerBlock()*max(1, len(blk)/tt.t.BytesPerBlock()) {
				t.Fatalf("test block is %d bytes", len(blk))
			}
			n := len(blk) / tt.t.BytesPerBlock() * tt.t.BlockSize()
			got := make([]float32, n)
			if err := Dequantize(tt.t, blk, got); err != nil {
				t.Fatal(err)
			}
			want := make([]float32, n)
			for e := range want {
				want[e] = float32(tt.want(e, blk))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Dequantize mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestQuantizeRoundTrip checks Quantize→Dequantize against each type's
// error bound.
func TestQuantizeRoundTrip(t *testing.T) {
	r := newRand(2)
	for _, typ := range Types() {
		t.Run(typ.String(), func(t *testing.T) {
			const n = 4 * QKK
			x := randVec(r, n, 1)
			roundTrip(t, typ, x, false)
			// Pure Gaussian data, for the RMS figure.
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
			roundTrip(t, typ, x, true)
		})
	}
	if _, err := Quantize(Q8_0, make([]float32, 33)); !errors.Is(err, ErrLength) {
		t.Errorf("Quantize(Q8_0, 33 values) error = %v", err)
	}
}

func roundTrip(t *testing.T, typ Type, x []float32, checkRMS bool) {
	t.Helper()
	{
		{
			n := len(x)
			x[5] = 0 // zeros and a constant block exercise the degenerate paths
			for i := 3 * QKK; i < 3*QKK+QK; i++ {
				x[i] = 0.25
			}
			q, err := Quantize(typ, x)
			if err != nil {
				t.Fatal(err)
			}
			if want, _ := typ.RowBytes(n); len(q) != want {
				t.Fatalf("Quantize gave %d bytes, want %d", len(q), want)
			}
			y := make([]float32, n)
			if err := Dequantize(typ, q, y); err != nil {
				t.Fatal(err)
			}
			var se, sx float64
			for i := range x {
				e := math.Abs(float64(y[i] - x[i]))
				se += e * e
				sx += float64(x[i]) * float64(x[i])
				if b := elemBound(typ, x, i); e > b {
					t.Fatalf("element %d: %g → %g, error %g > bound %g", i, x[i], y[i], e, b)
				}
			}
			rel := math.Sqrt(se / sx)
			if lim := rmsBound[typ]; checkRMS && rel > lim {
				t.Errorf("relative RMS error %.4f > %.4f", rel, lim)
			}
			t.Logf("relative RMS error %.5f", rel)
		}
	}
}

// rmsBound is the largest relative RMS error each type's quantiser may give
// on normally distributed data (llama.cpp's own figures are about 0.002 for
// Q8_0, 0.1 for Q4_0, 0.06/0.03/0.015 for Q4_K/Q5_K/Q6_K).
var rmsBound = map[Type]float64{
	F32: 0, F16: 1e-3, BF16: 4e-3, Q8_0: 7e-3, Q4_0: 0.12, Q4_1: 0.1, Q5_0: 0.06, Q5_1: 0.05,
	Q4_K: 0.08, Q5_K: 0.04, Q6_K: 0.02,
}

// elemBound is the largest error element i of x may get from a round trip.
func elemBound(t Type, x []float32, i int) float64 {
	blockMax := func(size int) float64 {
		var m float64
		for _, v := range x[i/size*size : i/size*size+size] {
			m = max(m, math.Abs(float64(v)))
		}
		return m
	}
	v := math.Abs(float64(x[i]))
	switch t {
	case F32:
		return 0
	case F16:
		return v*math.Ldexp(1, -11) + math.Ldexp(1, -25)
	case BF16:
		return v * math.Ldexp(1, -8)
	case Q8_0:
		// half a step, plus 127 steps' worth of the f16 rounding of d
		return blockMax(QK) / 127 * (0.5 + 127*math.Ldexp(1, -11)) * 1.0001
	case Q4_0:
		// The extreme maps to -8; its opposite clamps at +7: one step.
		return blockMax(QK) / 8 * (1 + 8*math.Ldexp(1, -11)) * 1.0001
	case Q5_0:
		// As Q4_0 with 16 steps a side.
		return blockMax(QK) / 16 * (1 + 16*math.Ldexp(1, -11)) * 1.0001
	case Q4_1, Q5_1:
		// Half a step of the block's range, plus the f16 rounding of d
		// (times up to nmax steps) and of the min.
		lo, hi := minMax(x[i/QK*QK : i/QK*QK+QK])
		steps := map[Type]float64{Q4_1: 15, Q5_1: 31}[t]
		d := float64(hi-lo) / steps
		return (d/2+d*steps*math.Ldexp(1, -11)+math.Max(math.Abs(float64(lo)), math.Abs(float64(hi)))*math.Ldexp(1, -11))*1.001 + 1e-7
	case Q4_K, Q5_K:
		// At worst a sub-block's own range split into nmax steps, with
		// the 6-bit scale and min rounding on top: a loose bound of two
		// steps of the super-block's largest range.
		steps := map[Type]float64{Q4_K: 15, Q5_K: 31}[t]
		return 2 * 2 * blockMax(QKK) / steps
	case Q6_K:
		// Half a step of the sub-block's own scale, plus up to 32 times
		// the int8 rounding of that scale against the super-block's.
		return (blockMax(16)/32 + blockMax(QKK)/254) * 1.05
	}
	return math.Inf(1)
}
