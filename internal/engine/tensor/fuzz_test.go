package tensor

import (
	"errors"
	"math"
	"testing"
)

// FuzzDequantize feeds arbitrary bytes, types and lengths to Dequantize: it
// must never panic, must reject lengths that do not fit, and must decode
// every well-sized input to the values its per-block decode gives.
func FuzzDequantize(f *testing.F) {
	f.Add(uint32(Q4_K), uint16(256), make([]byte, 144))
	f.Add(uint32(Q8_0), uint16(32), make([]byte, 34))
	f.Add(uint32(Q6_K), uint16(256), make([]byte, 210))
	f.Add(uint32(F16), uint16(3), []byte{0, 0x3c, 0, 0x7c, 1, 0x7e})
	f.Add(uint32(7), uint16(32), make([]byte, 34))
	f.Fuzz(func(t *testing.T, typ uint32, n uint16, src []byte) {
		tt := Type(typ)
		dst := make([]float32, n)
		err := Dequantize(tt, src, dst)
		need, rerr := tt.RowBytes(int(n))
		switch {
		case rerr != nil:
			if err == nil {
				t.Fatalf("%s with %d elements: accepted, RowBytes says %v", tt, n, rerr)
			}
		case len(src) != need:
			if !errors.Is(err, ErrLength) {
				t.Fatalf("%s: %d bytes for %d elements: error %v, want ErrLength", tt, len(src), n, err)
			}
		case err != nil:
			t.Fatalf("%s: %d bytes for %d elements: %v", tt, len(src), n, err)
		default:
			// Block by block decoding agrees with the whole.
			bs, bb := tt.BlockSize(), tt.BytesPerBlock()
			one := make([]float32, bs)
			for b := 0; b < int(n)/bs; b++ {
				if err := Dequantize(tt, src[b*bb:(b+1)*bb], one); err != nil {
					t.Fatal(err)
				}
				for i, v := range one {
					w := dst[b*bs+i]
					if math.Float32bits(v) != math.Float32bits(w) && !(v != v && w != w) {
						t.Fatalf("block %d element %d: %g alone, %g in the whole", b, i, v, w)
					}
				}
			}
		}
	})
}

// FuzzQuantizeRoundTrip quantises arbitrary finite values and checks the
// dequantised result stays within the type's error bound.
func FuzzQuantizeRoundTrip(f *testing.F) {
	f.Add(uint8(3), []byte{1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, ti uint8, raw []byte) {
		types := Types()
		typ := types[int(ti)%len(types)]
		bs := typ.BlockSize()
		x := make([]float32, bs*max(1, (len(raw)/4+bs-1)/bs))
		for i := range x {
			if 4*i+4 <= len(raw) {
				v := math.Float32frombits(uint32(raw[4*i]) | uint32(raw[4*i+1])<<8 | uint32(raw[4*i+2])<<16 | uint32(raw[4*i+3])<<24)
				if !math.IsNaN(float64(v)) && math.Abs(float64(v)) < 1e4 && math.Abs(float64(v)) > 1e-4 {
					x[i] = v
				}
			}
		}
		q, err := Quantize(typ, x)
		if err != nil {
			t.Fatal(err)
		}
		y := make([]float32, len(x))
		if err := Dequantize(typ, q, y); err != nil {
			t.Fatal(err)
		}
		for i := range x {
			if e := math.Abs(float64(y[i] - x[i])); e > elemBound(typ, x, i)+1e-6 {
				t.Fatalf("%s: element %d: %g → %g (bound %g)", typ, i, x[i], y[i], elemBound(typ, x, i))
			}
		}
	})
}
