package tensor

import (
	"fmt"
	"testing"
)

// Benchmarks report the weight bytes streamed per second (b.SetBytes is the
// size of the weights read per operation), the figure to compare with the
// machine's memory bandwidth.
//
//	go test -run XXX -bench . ./internal/engine/tensor

// BenchmarkRowDot measures one row kernel at a time on a cache-resident row
// (4096 elements), per kernel set: compute speed without the memory wall.
func BenchmarkRowDot(b *testing.B) {
	r := newRand(10)
	const cols = 4096
	x := randVec(r, cols, 1)
	for _, ks := range kernelSets {
		for _, typ := range Types() {
			b.Run(fmt.Sprintf("%s/%s", ks.name, typ), func(b *testing.B) {
				w, _ := Quantize(typ, randVec(r, cols, 1))
				var a act
				if a.prepare(typ, 1, cols) {
					a.quantize(typ, 0, x)
				}
				qd, fd := ks.rowFuncs(typ)
				b.SetBytes(int64(len(w)))
				var sink float32
				for b.Loop() {
					if qd != nil {
						sink += qd(w, a.qs, a.d, a.bs)
					} else {
						sink += fd(w, x)
					}
				}
				_ = sink
			})
		}
	}
}

// BenchmarkQwenMatVec runs the matrix-vector products of one Qwen2.5-0.5B
// layer (hidden 896, FFN 4864, 2 KV heads of 64) and its output projection
// split, over the default pool. The weights (≈ 8.7 MiB per layer in Q8_0)
// exceed the caches, so this is the memory-bound generation case.
func BenchmarkQwenMatVec(b *testing.B) {
	r := newRand(11)
	shapes := []struct {
		name       string
		rows, cols int
	}{
		{"q_896x896", 896, 896},
		{"kv_128x896", 128, 896},
		{"gate_4864x896", 4864, 896},
		{"down_896x4864", 896, 4864},
	}
	for _, typ := range []Type{Q4_0, Q8_0, F16, F32} {
		for _, sh := range shapes {
			b.Run(fmt.Sprintf("%s/%s", typ, sh.name), func(b *testing.B) {
				benchMatMul(b, r, typ, sh.rows, sh.cols, 1)
			})
		}
	}
	// The K types need 256-element rows; Llama-3.2-1B's 2048×8192 shapes.
	for _, typ := range []Type{Q4_K, Q5_K, Q6_K} {
		b.Run(fmt.Sprintf("%s/up_8192x2048", typ), func(b *testing.B) {
			benchMatMul(b, r, typ, 8192, 2048, 1)
		})
	}
}

// BenchmarkQwenMatMul is the prefill case: 64 tokens through the FFN
// gate projection.
func BenchmarkQwenMatMul(b *testing.B) {
	r := newRand(12)
	for _, typ := range []Type{Q4_0, Q8_0, F16} {
		b.Run(fmt.Sprintf("%s/gate_4864x896/n=64", typ), func(b *testing.B) {
			benchMatMul(b, r, typ, 4864, 896, 64)
		})
	}
}

func benchMatMul(b *testing.B, r interface{ NormFloat64() float64 }, typ Type, rows, cols, n int) {
	// Several copies of the matrix, used in turn, so the weights come from
	// memory rather than the last-level cache.
	copies := max(1, (64<<20)/max(1, typ.rowBytes(cols)*rows))
	ws := make([][]byte, copies)
	base := make([]float32, rows*cols)
	for i := range base {
		base[i] = float32(r.NormFloat64())
	}
	for i := range ws {
		ws[i], _ = Quantize(typ, base)
	}
	x := make([]float32, n*cols)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	dst := make([]float32, n*rows)
	p := Default()
	b.SetBytes(int64(len(ws[0])))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p.MatMul(dst, x, n, ws[i%copies], typ, rows, cols)
		i++
	}
	if n > 1 {
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "tok/s")
	}
}

// BenchmarkOps measures the float32 helpers on a hidden-size vector.
func BenchmarkOps(b *testing.B) {
	r := newRand(13)
	x, y := randVec(r, 4864, 1), randVec(r, 4864, 1)
	out := make([]float32, len(x))
	for _, ks := range kernelSets {
		b.Run(ks.name+"/Dot", func(b *testing.B) {
			b.SetBytes(int64(8 * len(x)))
			var s float32
			for b.Loop() {
				s += ks.dot(x, y)
			}
			_ = s
		})
	}
	b.Run("RMSNorm", func(b *testing.B) {
		for b.Loop() {
			RMSNorm(out, x, y, 1e-6)
		}
	})
	b.Run("SwiGLU", func(b *testing.B) {
		for b.Loop() {
			SwiGLU(out, x, y)
		}
	})
	b.Run("Softmax", func(b *testing.B) {
		for b.Loop() {
			copy(out, x)
			Softmax(out)
		}
	})
}
