package tensor

import (
	"math"
	"testing"
)

func TestF16ToF32(t *testing.T) {
	tests := []struct {
		h    uint16
		want float32
	}{
		{0x0000, 0},
		{0x3c00, 1},
		{0xc000, -2},
		{0x3800, 0.5},
		{0x3555, 0.333251953125},
		{0x7bff, 65504},
		{0x0400, 1.0 / 16384},        // smallest normal, 2^-14
		{0x0001, 1.0 / (1 << 24)},    // smallest subnormal, 2^-24
		{0x03ff, 1023.0 / (1 << 24)}, // largest subnormal
		{0x8001, -1.0 / (1 << 24)},
		{0x7c00, float32(math.Inf(1))},
		{0xfc00, float32(math.Inf(-1))},
	}
	for _, tt := range tests {
		if got := F16ToF32(tt.h); got != tt.want {
			t.Errorf("F16ToF32(%#04x) = %v, want %v", tt.h, got, tt.want)
		}
	}
	if f := F16ToF32(0x7e00); f == f {
		t.Errorf("F16ToF32(0x7e00) = %v, want NaN", f)
	}
	if b := math.Float32bits(F16ToF32(0x8000)); b != 1<<31 {
		t.Errorf("F16ToF32(0x8000) bits = %#x, want negative zero", b)
	}
}

func TestF32ToF16(t *testing.T) {
	tests := []struct {
		f    float32
		want uint16
	}{
		{1, 0x3c00},
		{-2, 0xc000},
		{65504, 0x7bff},
		{65520, 0x7c00}, // rounds up to Inf
		{1e6, 0x7c00},
		{1 + 1.0/2048, 0x3c00}, // tie, to even (down)
		{1 + 3.0/2048, 0x3c02}, // tie, to even (up)
		{1 + 1.0/2048 + 1e-7, 0x3c01},
		{1.0 / (1 << 24), 0x0001},
		{1.0 / (1 << 25), 0x0000},    // tie, to even zero
		{1.5 / (1 << 24), 0x0002},    // tie 1.5 → 2
		{2047.0 / (1 << 25), 0x0400}, // rounds up into the normals
		{float32(math.Inf(-1)), 0xfc00},
		{1e-10, 0},
	}
	for _, tt := range tests {
		if got := F32ToF16(tt.f); got != tt.want {
			t.Errorf("F32ToF16(%v) = %#04x, want %#04x", tt.f, got, tt.want)
		}
	}
	// Every finite half value survives the round trip.
	for h := 0; h < 1<<16; h++ {
		if h&0x7c00 == 0x7c00 && h&0x3ff != 0 {
			continue // NaN
		}
		if got := F32ToF16(F16ToF32(uint16(h))); got != uint16(h) {
			t.Fatalf("round trip of %#04x gave %#04x", h, got)
		}
	}
	if h := F32ToF16(float32(math.NaN())); h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
		t.Errorf("F32ToF16(NaN) = %#04x, want a NaN", h)
	}
}

func TestF32ToF16Nearest(t *testing.T) {
	// Against a brute-force nearest search over the neighbouring halves.
	r := newRand(1)
	for range 20000 {
		f := float32(r.NormFloat64() * math.Pow(2, float64(r.IntN(40)-25)))
		h := F32ToF16(f)
		d := math.Abs(float64(F16ToF32(h)) - float64(f))
		for _, n := range []uint16{h - 1, h + 1} {
			if n&0x7c00 == 0x7c00 {
				continue
			}
			if dn := math.Abs(float64(F16ToF32(n)) - float64(f)); dn < d {
				t.Fatalf("F32ToF16(%g) = %#04x (err %g) but %#04x is closer (err %g)", f, h, d, n, dn)
			}
		}
	}
}

func TestBF16(t *testing.T) {
	tests := []struct {
		f    float32
		want uint16
	}{
		{1, 0x3f80},
		{-2, 0xc000},
		{1 + 1.0/256, 0x3f80}, // tie, to even
		{1 + 3.0/256, 0x3f82}, // tie, to even (up)
		{3.140625, 0x4049},    // exactly representable
		{float32(math.Inf(1)), 0x7f80},
	}
	for _, tt := range tests {
		if got := F32ToBF16(tt.f); got != tt.want {
			t.Errorf("F32ToBF16(%v) = %#04x, want %#04x", tt.f, got, tt.want)
		}
		if tt.f == 3.140625 && BF16ToF32(tt.want) != tt.f {
			t.Errorf("BF16ToF32(%#04x) = %v", tt.want, BF16ToF32(tt.want))
		}
	}
	if h := F32ToBF16(float32(math.NaN())); BF16ToF32(h) == BF16ToF32(h) {
		t.Errorf("F32ToBF16(NaN) = %#04x, not a NaN", h)
	}
}
