// Package model runs the transformer forward pass of the decoder-only
// architectures the engine supports (llama, qwen2, qwen3) over weights that
// stay in the memory-mapped GGUF file, with a per-sequence KV cache and
// batched prompt processing.
package model

import (
	"errors"
	"fmt"
	"math"

	"switchyard/internal/engine/gguf"
	"switchyard/internal/engine/tensor"
)

// ErrUnsupported is wrapped by errors about architectures or tensor types
// the engine cannot run.
var ErrUnsupported = errors.New("unsupported model")

// Architectures lists the supported general.architecture values.
var Architectures = []string{"llama", "qwen2", "qwen3"}

// Config is the hyper-parameters of a model, read from GGUF metadata.
type Config struct {
	Arch     string
	Name     string
	Embd     int // hidden size
	Layers   int
	Heads    int
	KVHeads  int
	HeadDim  int
	FF       int
	Vocab    int
	CtxTrain int
	RMSEps   float32
	RopeBase float32
	RopeDim  int     // dimensions rotated per head
	RopeNeoX bool    // rotate (i, i+d/2) pairs instead of (2i, 2i+1)
	RopeFreq float32 // linear position scale (1/scaling factor)
	QKVBias  bool    // qwen2
	QKNorm   bool    // qwen3
}

func readConfig(f *gguf.File) (Config, error) {
	c := Config{Arch: f.Architecture()}
	c.Name, _ = f.String("general.name")
	switch c.Arch {
	case "llama":
	case "qwen2":
		c.RopeNeoX, c.QKVBias = true, true
	case "qwen3":
		c.RopeNeoX, c.QKNorm = true, true
	case "":
		return c, fmt.Errorf("%w: no general.architecture", ErrUnsupported)
	default:
		return c, fmt.Errorf("%w: architecture %q (supported: llama, qwen2, qwen3)", ErrUnsupported, c.Arch)
	}
	a := c.Arch + "."
	var missing []string
	geti := func(key string, def int) int {
		if v, ok := f.Uint32(a + key); ok {
			return int(v)
		}
		if def < 0 {
			missing = append(missing, a+key)
		}
		return def
	}
	c.Embd = geti("embedding_length", -1)
	c.Layers = geti("block_count", -1)
	c.FF = geti("feed_forward_length", -1)
	c.Heads = geti("attention.head_count", -1)
	c.CtxTrain = geti("context_length", 2048)
	if len(missing) > 0 {
		return c, fmt.Errorf("model: missing metadata %v", missing)
	}
	c.KVHeads = geti("attention.head_count_kv", c.Heads)
	if c.Heads <= 0 || c.Embd <= 0 || c.Layers <= 0 || c.KVHeads <= 0 || c.Heads%c.KVHeads != 0 {
		return c, fmt.Errorf("model: bad shape: embd %d, layers %d, heads %d, kv heads %d", c.Embd, c.Layers, c.Heads, c.KVHeads)
	}
	c.HeadDim = geti("attention.key_length", c.Embd/c.Heads)
	if v := geti("attention.value_length", c.HeadDim); v != c.HeadDim || c.HeadDim <= 0 || c.HeadDim%2 != 0 {
		return c, fmt.Errorf("model: key length %d and value length %d unsupported", c.HeadDim, v)
	}
	c.RopeDim = geti("rope.dimension_count", c.HeadDim)
	if c.RopeDim > c.HeadDim || c.RopeDim%2 != 0 {
		return c, fmt.Errorf("model: rope dimension %d with head dim %d", c.RopeDim, c.HeadDim)
	}
	c.RMSEps = 1e-5
	if v, ok := f.Float32(a + "attention.layer_norm_rms_epsilon"); ok {
		c.RMSEps = v
	}
	c.RopeBase = 10000
	if v, ok := f.Float32(a + "rope.freq_base"); ok {
		c.RopeBase = v
	}
	c.RopeFreq = 1
	if st, _ := f.String(a + "rope.scaling.type"); st != "" && st != "none" {
		if st != "linear" {
			return c, fmt.Errorf("%w: rope scaling %q", ErrUnsupported, st)
		}
		if v, ok := f.Float32(a + "rope.scaling.factor"); ok && v > 0 {
			c.RopeFreq = 1 / v
		}
	} else if v, ok := f.Float32(a + "rope.scale_linear"); ok && v > 0 {
		c.RopeFreq = 1 / v
	}
	if toks, ok := f.Strings("tokenizer.ggml.tokens"); ok {
		c.Vocab = len(toks)
	}
	if v, ok := f.Uint32(a + "vocab_size"); ok {
		c.Vocab = int(v)
	}
	return c, nil
}

// Weight is a matrix of Rows rows of Cols elements, in the file's encoding.
type Weight struct {
	Data []byte
	Type tensor.Type
	Rows int
	Cols int
}

// Row decodes row r into dst (len Cols).
func (w Weight) Row(r int, dst []float32) error {
	rb, err := w.Type.RowBytes(w.Cols)
	if err != nil {
		return err
	}
	return tensor.Dequantize(w.Type, w.Data[r*rb:(r+1)*rb], dst)
}

// Layer is one transformer block.
type Layer struct {
	AttnNorm       []float32
	Wq, Wk, Wv, Wo Weight
	Bq, Bk, Bv     []float32 // qwen2
	QNorm, KNorm   []float32 // qwen3, per head
	FFNNorm        []float32
	Gate, Up, Down Weight
}

// Model is a loaded model: its configuration and weights, which point into
// the GGUF mapping (except small vectors decoded to float32).
type Model struct {
	Config
	TokEmbd   Weight
	OutNorm   []float32
	Output    Weight // token_embd when the file has no output.weight
	Tied      bool
	RopeFreqs []float32 // per-pair frequency divisors (rope_freqs.weight), or nil
	Blocks    []Layer
	Params    int64 // parameter count

	pool *tensor.Pool
}

// New builds a model over the tensors of f, which must stay open while the
// model is used. Products run on pool (tensor.Default() if nil).
func New(f *gguf.File, pool *tensor.Pool) (*Model, error) {
	cfg, err := readConfig(f)
	if err != nil {
		return nil, err
	}
	if pool == nil {
		pool = tensor.Default()
	}
	m := &Model{Config: cfg, pool: pool}
	for _, t := range f.Tensors {
		m.Params += int64(t.Elements())
	}
	l := loader{f: f}
	m.TokEmbd = l.weight("token_embd.weight", cfg.Embd, -1)
	if l.err == nil {
		if cfg.Vocab == 0 {
			m.Vocab = m.TokEmbd.Rows
		}
		if m.TokEmbd.Rows != m.Vocab {
			return nil, fmt.Errorf("model: token_embd has %d rows, vocabulary %d", m.TokEmbd.Rows, m.Vocab)
		}
	}
	m.OutNorm = l.vec("output_norm.weight", cfg.Embd)
	if _, ok := f.Tensor("output.weight"); ok {
		m.Output = l.weight("output.weight", cfg.Embd, m.Vocab)
	} else {
		m.Output, m.Tied = m.TokEmbd, true
	}
	if _, ok := f.Tensor("rope_freqs.weight"); ok {
		m.RopeFreqs = l.vec("rope_freqs.weight", cfg.RopeDim/2)
	}
	qd, kvd := cfg.Heads*cfg.HeadDim, cfg.KVHeads*cfg.HeadDim
	m.Blocks = make([]Layer, cfg.Layers)
	for i := range m.Blocks {
		p := fmt.Sprintf("blk.%d.", i)
		L := &m.Blocks[i]
		L.AttnNorm = l.vec(p+"attn_norm.weight", cfg.Embd)
		L.Wq = l.weight(p+"attn_q.weight", cfg.Embd, qd)
		L.Wk = l.weight(p+"attn_k.weight", cfg.Embd, kvd)
		L.Wv = l.weight(p+"attn_v.weight", cfg.Embd, kvd)
		L.Wo = l.weight(p+"attn_output.weight", qd, cfg.Embd)
		if cfg.QKVBias {
			L.Bq = l.vec(p+"attn_q.bias", qd)
			L.Bk = l.vec(p+"attn_k.bias", kvd)
			L.Bv = l.vec(p+"attn_v.bias", kvd)
		}
		if cfg.QKNorm {
			L.QNorm = l.vec(p+"attn_q_norm.weight", cfg.HeadDim)
			L.KNorm = l.vec(p+"attn_k_norm.weight", cfg.HeadDim)
		}
		L.FFNNorm = l.vec(p+"ffn_norm.weight", cfg.Embd)
		L.Gate = l.weight(p+"ffn_gate.weight", cfg.Embd, cfg.FF)
		L.Up = l.weight(p+"ffn_up.weight", cfg.Embd, cfg.FF)
		L.Down = l.weight(p+"ffn_down.weight", cfg.FF, cfg.Embd)
	}
	if l.err != nil {
		return nil, l.err
	}
	return m, nil
}

type loader struct {
	f   *gguf.File
	err error
}

func (l *loader) weight(name string, cols, rows int) Weight {
	if l.err != nil {
		return Weight{}
	}
	t, ok := l.f.Tensor(name)
	if !ok {
		l.err = fmt.Errorf("model: missing tensor %s", name)
		return Weight{}
	}
	typ := tensor.Type(t.Type)
	if !typ.Valid() {
		l.err = fmt.Errorf("%w: tensor %s has type %s", ErrUnsupported, name, t.Type)
		return Weight{}
	}
	if len(t.Shape) != 2 || int(t.Shape[0]) != cols || (rows >= 0 && int(t.Shape[1]) != rows) {
		l.err = fmt.Errorf("model: tensor %s has shape %v, want [%d %d]", name, t.Shape, cols, rows)
		return Weight{}
	}
	data, err := l.f.TensorData(name)
	if err != nil {
		l.err = err
		return Weight{}
	}
	return Weight{Data: data, Type: typ, Rows: int(t.Shape[1]), Cols: cols}
}

func (l *loader) vec(name string, n int) []float32 {
	if l.err != nil {
		return nil
	}
	t, ok := l.f.Tensor(name)
	if !ok {
		l.err = fmt.Errorf("model: missing tensor %s", name)
		return nil
	}
	if t.Elements() != uint64(n) {
		l.err = fmt.Errorf("model: tensor %s has shape %v, want %d elements", name, t.Shape, n)
		return nil
	}
	data, err := l.f.TensorData(name)
	if err != nil {
		l.err = err
		return nil
	}
	out := make([]float32, n)
	if err := tensor.Dequantize(tensor.Type(t.Type), data, out); err != nil {
		l.err = fmt.Errorf("model: tensor %s: %w", name, err)
		return nil
	}
	return out
}

// ropeTheta returns the rotation angle of pair i at position pos.
func (m *Model) ropeTheta(pos, i int) float64 {
	theta := float64(pos) * float64(m.RopeFreq) * math.Pow(float64(m.RopeBase), -2*float64(i)/float64(m.RopeDim))
	if m.RopeFreqs != nil {
		theta /= float64(m.RopeFreqs[i])
	}
	return theta
}
