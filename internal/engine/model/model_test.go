package model

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"switchyard/internal/engine/gguf"
	"switchyard/internal/engine/tensor"
)

// buildModel writes a random model with cfg to memory and loads it.
func buildModel(t testing.TB, cfg Config, typ tensor.Type, tied bool) (*Model, *gguf.File) {
	t.Helper()
	w := &gguf.Writer{}
	if err := RandomWeights(w, cfg, typ, tied, 42); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m, f
}

// refModel is the slow, obviously-correct reference: float64 everywhere,
// every weight dequantised up front, the whole sequence recomputed with no
// cache.
type refModel struct {
	m *Model
}

func (r refModel) mat(w Weight) [][]float64 {
	out := make([][]float64, w.Rows)
	row := make([]float32, w.Cols)
	for i := range out {
		if err := w.Row(i, row); err != nil {
			panic(err)
		}
		out[i] = make([]float64, w.Cols)
		for j, v := range row {
			out[i][j] = float64(v)
		}
	}
	return out
}

func matvec(w [][]float64, x []float64) []float64 {
	y := make([]float64, len(w))
	for i, row := range w {
		for j, v := range row {
			y[i] += v * x[j]
		}
	}
	return y
}

func rmsnorm(x []float64, w []float32, eps float32) []float64 {
	ss := 0.0
	for _, v := range x {
		ss += v * v
	}
	s := 1 / math.Sqrt(ss/float64(len(x))+float64(eps))
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = v * s * float64(w[i])
	}
	return y
}

func (r refModel) rope(v []float64, pos int) {
	m := r.m
	for i := 0; i < m.RopeDim/2; i++ {
		theta := float64(pos) * float64(m.RopeFreq) / math.Pow(float64(m.RopeBase), float64(2*i)/float64(m.RopeDim))
		if m.RopeFreqs != nil {
			theta /= float64(m.RopeFreqs[i])
		}
		a, b := 2*i, 2*i+1
		if m.RopeNeoX {
			a, b = i, i+m.RopeDim/2
		}
		x0, x1 := v[a], v[b]
		v[a] = x0*math.Cos(theta) - x1*math.Sin(theta)
		v[b] = x0*math.Sin(theta) + x1*math.Cos(theta)
	}
}

// logits returns the logits after every position of tokens.
func (r refModel) logits(tokens []int) [][]float64 {
	m := r.m
	T, hd := len(tokens), m.HeadDim
	emb := r.mat(m.TokEmbd)
	x := make([][]float64, T)
	for i, t := range tokens {
		x[i] = append([]float64(nil), emb[t]...)
	}
	for _, L := range m.Blocks {
		wq, wk, wv, wo := r.mat(L.Wq), r.mat(L.Wk), r.mat(L.Wv), r.mat(L.Wo)
		q, k, v := make([][]float64, T), make([][]float64, T), make([][]float64, T)
		for i := range T {
			xn := rmsnorm(x[i], L.AttnNorm, m.RMSEps)
			q[i], k[i], v[i] = matvec(wq, xn), matvec(wk, xn), matvec(wv, xn)
			for j := range q[i] {
				if L.Bq != nil {
					q[i][j] += float64(L.Bq[j])
				}
			}
			for j := range k[i] {
				if L.Bk != nil {
					k[i][j] += float64(L.Bk[j])
					v[i][j] += float64(L.Bv[j])
				}
			}
			for h := range m.Heads {
				hv := q[i][h*hd : (h+1)*hd]
				if L.QNorm != nil {
					copy(hv, rmsnorm(hv, L.QNorm, m.RMSEps))
				}
				r.rope(hv, i)
			}
			for h := range m.KVHeads {
				hv := k[i][h*hd : (h+1)*hd]
				if L.KNorm != nil {
					copy(hv, rmsnorm(hv, L.KNorm, m.RMSEps))
				}
				r.rope(hv, i)
			}
		}
		for i := range T {
			att := make([]float64, m.Heads*hd)
			for h := range m.Heads {
				kh := h * m.KVHeads / m.Heads
				s := make([]float64, i+1)
				mx := math.Inf(-1)
				for j := 0; j <= i; j++ {
					for d := range hd {
						s[j] += q[i][h*hd+d] * k[j][kh*hd+d]
					}
					s[j] /= math.Sqrt(float64(hd))
					mx = math.Max(mx, s[j])
				}
				sum := 0.0
				for j := range s {
					s[j] = math.Exp(s[j] - mx)
					sum += s[j]
				}
				for j := range s {
					for d := range hd {
						att[h*hd+d] += s[j] / sum * v[j][kh*hd+d]
					}
				}
			}
			o := matvec(wo, att)
			for j := range o {
				x[i][j] += o[j]
			}
		}
		wg, wu, wd := r.mat(L.Gate), r.mat(L.Up), r.mat(L.Down)
		for i := range T {
			xn := rmsnorm(x[i], L.FFNNorm, m.RMSEps)
			g, u := matvec(wg, xn), matvec(wu, xn)
			for j := range g {
				g[j] = g[j] / (1 + math.Exp(-g[j])) * u[j]
			}
			d := matvec(wd, g)
			for j := range d {
				x[i][j] += d[j]
			}
		}
	}
	out := r.mat(m.Output)
	res := make([][]float64, T)
	for i := range T {
		res[i] = matvec(out, rmsnorm(x[i], m.OutNorm, m.RMSEps))
	}
	return res
}

func TestForwardMatchesReference(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		typ  tensor.Type
		tied bool
		tol  float64 // max |diff| relative to the logits' max |value|
	}{
		{"llama gqa", Config{Arch: "llama", Embd: 32, Layers: 2, Heads: 4, KVHeads: 2, FF: 48, Vocab: 40, RopeBase: 10000}, tensor.F32, false, 1e-4},
		{"llama tied mha f16 scaled rope", Config{Arch: "llama", Embd: 32, Layers: 2, Heads: 4, KVHeads: 4, FF: 40, Vocab: 50, RopeBase: 500000, RopeFreq: 0.25}, tensor.F16, true, 1e-4},
		{"qwen2 bias", Config{Arch: "qwen2", Embd: 48, Layers: 2, Heads: 6, KVHeads: 2, FF: 64, Vocab: 37, RopeBase: 1000000}, tensor.F32, true, 1e-4},
		{"qwen3 qk-norm head dim", Config{Arch: "qwen3", Embd: 32, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 12, FF: 48, Vocab: 45, RopeBase: 1000000}, tensor.F32, false, 1e-4},
		{"llama q8_0", Config{Arch: "llama", Embd: 64, Layers: 2, Heads: 4, KVHeads: 2, FF: 96, Vocab: 40}, tensor.Q8_0, false, 0.03},
		{"qwen2 q4_0", Config{Arch: "qwen2", Embd: 64, Layers: 1, Heads: 2, KVHeads: 1, FF: 64, Vocab: 40}, tensor.Q4_0, true, 0.06},
	}
	tokens := []int{1, 5, 9, 2, 33, 7, 7, 0, 12, 30, 3}
	batches := []int{4, 1, 3, 1, 2} // mixed prefill and single-token steps
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := buildModel(t, tt.cfg, tt.typ, tt.tied)
			if m.Tied != tt.tied {
				t.Fatalf("Tied = %v", m.Tied)
			}
			want := refModel{m}.logits(tokens)
			c := m.NewCache(len(tokens))
			logits := make([]float32, m.Vocab)
			pos := 0
			for _, b := range batches {
				if err := m.Forward(c, tokens[pos:pos+b], logits); err != nil {
					t.Fatal(err)
				}
				pos += b
				ref := want[pos-1]
				scale := 0.0
				for _, v := range ref {
					scale = math.Max(scale, math.Abs(v))
				}
				worst := 0.0
				for i, v := range ref {
					worst = math.Max(worst, math.Abs(float64(logits[i])-v)/scale)
				}
				if worst > tt.tol {
					t.Fatalf("after %d tokens: max relative logit error %.3g > %.3g", pos, worst, tt.tol)
				}
			}
			if c.Len() != pos {
				t.Errorf("cache length %d, want %d", c.Len(), pos)
			}
			if err := m.Forward(c, []int{1}, logits); !errors.Is(err, ErrCacheFull) {
				t.Errorf("forward past capacity: %v", err)
			}
		})
	}
}

func TestUnsupportedArchitecture(t *testing.T) {
	w := &gguf.Writer{}
	w.Set("general.architecture", "mamba")
	var buf bytes.Buffer
	w.WriteTo(&buf)
	f, err := gguf.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(f, nil); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("err = %v, want ErrUnsupported", err)
	}
}

func TestBadToken(t *testing.T) {
	m, _ := buildModel(t, Config{Arch: "llama", Embd: 32, Layers: 1, Heads: 4, FF: 32, Vocab: 10}, tensor.F32, true)
	if err := m.Forward(m.NewCache(8), []int{10}, nil); err == nil {
		t.Fatal("out-of-range token accepted")
	}
}
