package model

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"

	"switchyard/internal/engine/gguf"
	"switchyard/internal/engine/tensor"
)

// RandomWeights adds to w the metadata and tensors of a model with the
// shape of cfg and random weights, matrices encoded as typ (norms and
// biases stay F32). Tensor data is generated while w writes, so models of
// any size can be written without holding them in memory. When tied is
// true no output.weight is written. The tokenizer metadata is the caller's.
func RandomWeights(w *gguf.Writer, cfg Config, typ tensor.Type, tied bool, seed uint64) error {
	switch cfg.Arch {
	case "llama", "qwen2", "qwen3":
	default:
		return fmt.Errorf("%w: architecture %q", ErrUnsupported, cfg.Arch)
	}
	if cfg.HeadDim == 0 && cfg.Heads > 0 {
		cfg.HeadDim = cfg.Embd / cfg.Heads
	}
	if cfg.KVHeads == 0 {
		cfg.KVHeads = cfg.Heads
	}
	a := cfg.Arch + "."
	w.Set("general.architecture", cfg.Arch)
	if cfg.Name != "" {
		w.Set("general.name", cfg.Name)
	}
	u32 := func(k string, v int) { w.Set(a+k, uint32(v)) }
	u32("context_length", max(cfg.CtxTrain, 1))
	u32("embedding_length", cfg.Embd)
	u32("block_count", cfg.Layers)
	u32("feed_forward_length", cfg.FF)
	u32("attention.head_count", cfg.Heads)
	u32("attention.head_count_kv", cfg.KVHeads)
	if cfg.HeadDim != cfg.Embd/cfg.Heads {
		u32("attention.key_length", cfg.HeadDim)
		u32("attention.value_length", cfg.HeadDim)
	}
	if cfg.RopeDim != 0 {
		u32("rope.dimension_count", cfg.RopeDim)
	}
	if cfg.RopeBase != 0 {
		w.Set(a+"rope.freq_base", cfg.RopeBase)
	}
	if cfg.RopeFreq != 0 && cfg.RopeFreq != 1 {
		w.Set(a+"rope.scaling.type", "linear")
		w.Set(a+"rope.scaling.factor", 1/cfg.RopeFreq)
	}
	eps := cfg.RMSEps
	if eps == 0 {
		eps = 1e-6
	}
	w.Set(a+"attention.layer_norm_rms_epsilon", eps)
	w.Set(a+"vocab_size", uint32(cfg.Vocab))

	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var err error
	matrix := func(name string, cols, rows int) {
		if err != nil {
			return
		}
		// Each tensor gets its own generator seeded now, so the data
		// does not depend on the order in which the writer asks for it.
		s1, s2 := rng.Uint64(), rng.Uint64()
		scale := float32(1 / math.Sqrt(float64(cols)))
		err = w.AddTensorFunc(name, gguf.TensorType(typ), []uint64{uint64(cols), uint64(rows)}, func(out io.Writer) error {
			r := rand.New(rand.NewPCG(s1, s2))
			row := make([]float32, cols)
			for range rows {
				for i := range row {
					row[i] = (2*r.Float32() - 1) * scale
				}
				b, err := tensor.Quantize(typ, row)
				if err != nil {
					return err
				}
				if _, err := out.Write(b); err != nil {
					return err
				}
			}
			return nil
		})
	}
	vec := func(name string, n int, center, spread float32) {
		if err != nil {
			return
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = center + (2*rng.Float32()-1)*spread
		}
		b, _ := tensor.Quantize(tensor.F32, v)
		err = w.AddTensor(name, gguf.F32, []uint64{uint64(n)}, b)
	}
	qd, kvd := cfg.Heads*cfg.HeadDim, cfg.KVHeads*cfg.HeadDim
	matrix("token_embd.weight", cfg.Embd, cfg.Vocab)
	for l := range cfg.Layers {
		p := fmt.Sprintf("blk.%d.", l)
		vec(p+"attn_norm.weight", cfg.Embd, 1, 0.2)
		matrix(p+"attn_q.weight", cfg.Embd, qd)
		matrix(p+"attn_k.weight", cfg.Embd, kvd)
		matrix(p+"attn_v.weight", cfg.Embd, kvd)
		if cfg.Arch == "qwen2" {
			vec(p+"attn_q.bias", qd, 0, 0.5)
			vec(p+"attn_k.bias", kvd, 0, 0.5)
			vec(p+"attn_v.bias", kvd, 0, 0.5)
		}
		if cfg.Arch == "qwen3" {
			vec(p+"attn_q_norm.weight", cfg.HeadDim, 1, 0.2)
			vec(p+"attn_k_norm.weight", cfg.HeadDim, 1, 0.2)
		}
		matrix(p+"attn_output.weight", qd, cfg.Embd)
		vec(p+"ffn_norm.weight", cfg.Embd, 1, 0.2)
		matrix(p+"ffn_gate.weight", cfg.Embd, cfg.FF)
		matrix(p+"ffn_up.weight", cfg.Embd, cfg.FF)
		matrix(p+"ffn_down.weight", cfg.FF, cfg.Embd)
	}
	vec("output_norm.weight", cfg.Embd, 1, 0.2)
	if !tied {
		matrix("output.weight", cfg.Embd, cfg.Vocab)
	}
	return err
}
