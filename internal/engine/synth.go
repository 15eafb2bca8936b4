package engine

import (
	"fmt"
	"sort"
	"strings"

	"switchyard/internal/engine/gguf"
	"switchyard/internal/engine/model"
	"switchyard/internal/engine/tensor"
)

// Shape is a published model configuration for Synth.
type Shape struct {
	Arch     string
	Name     string
	Embd     int
	Layers   int
	Heads    int
	KVHeads  int
	HeadDim  int // 0: Embd/Heads
	FF       int
	Vocab    int
	Context  int
	RopeBase float32
	RMSEps   float32
	Tied     bool
	Pre      string // tokenizer pre-tokenizer name
}

// Shapes are the configurations Synth knows, by short name, taken from
// the models' published config.json files.
var Shapes = map[string]Shape{
	"qwen2.5-0.5b": {Arch: "qwen2", Name: "Qwen2.5-0.5B (random)", Embd: 896, Layers: 24, Heads: 14, KVHeads: 2, FF: 4864, Vocab: 151936, Context: 32768, RopeBase: 1000000, RMSEps: 1e-6, Tied: true, Pre: "qwen2"},
	"qwen3-0.6b":   {Arch: "qwen3", Name: "Qwen3-0.6B (random)", Embd: 1024, Layers: 28, Heads: 16, KVHeads: 8, HeadDim: 128, FF: 3072, Vocab: 151936, Context: 40960, RopeBase: 1000000, RMSEps: 1e-6, Tied: true, Pre: "qwen2"},
	"smollm2-135m": {Arch: "llama", Name: "SmolLM2-135M (random)", Embd: 576, Layers: 30, Heads: 9, KVHeads: 3, FF: 1536, Vocab: 49152, Context: 8192, RopeBase: 100000, RMSEps: 1e-5, Tied: true, Pre: "smollm"},
	"smollm2-360m": {Arch: "llama", Name: "SmolLM2-360M (random)", Embd: 960, Layers: 32, Heads: 15, KVHeads: 5, FF: 2560, Vocab: 49152, Context: 8192, RopeBase: 100000, RMSEps: 1e-5, Tied: true, Pre: "smollm"},
	"llama3.2-1b":  {Arch: "llama", Name: "Llama-3.2-1B (random)", Embd: 2048, Layers: 16, Heads: 32, KVHeads: 8, FF: 8192, Vocab: 128256, Context: 131072, RopeBase: 500000, RMSEps: 1e-5, Tied: true, Pre: "llama-bpe"},
}

// ShapeNames returns the names of Shapes, sorted.
func ShapeNames() []string {
	var names []string
	for n := range Shapes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Synth writes a model with the named shape (a key of Shapes), random
// weights and matrices of type typ (a ggml type name such as "q8_0") to
// path, with a byte-level BPE tokenizer of the right vocabulary size and a
// ChatML chat template, so that Load and Generate work on it. The weights
// are random: the output is gibberish, the speed is real.
func Synth(shape, typ, path string) error {
	s, ok := Shapes[strings.ToLower(shape)]
	if !ok {
		return fmt.Errorf("engine: unknown shape %q (known: %s)", shape, strings.Join(ShapeNames(), ", "))
	}
	return SynthShape(s, typ, path)
}

// SynthShape is Synth for a shape given in full.
func SynthShape(s Shape, typ, path string) error {
	t, err := tensor.ParseType(strings.ToUpper(typ))
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	hd := s.HeadDim
	if hd == 0 {
		hd = s.Embd / s.Heads
	}
	for _, cols := range []int{s.Embd, s.Heads * hd, s.FF} {
		if cols%t.BlockSize() != 0 {
			return fmt.Errorf("engine: shape %s has rows of %d, not a multiple of the %s block size %d", s.Name, cols, t, t.BlockSize())
		}
	}
	w := &gguf.Writer{}
	cfg := model.Config{
		Arch: s.Arch, Name: s.Name, Embd: s.Embd, Layers: s.Layers, Heads: s.Heads, KVHeads: s.KVHeads,
		HeadDim: hd, FF: s.FF, Vocab: s.Vocab, CtxTrain: s.Context, RopeBase: s.RopeBase, RMSEps: s.RMSEps,
	}
	if err := model.RandomWeights(w, cfg, t, s.Tied, 1); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	w.Set("general.file_type", uint32(t))
	synthTokenizer(w, s.Vocab, s.Pre)
	if err := w.WriteFile(path); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	return nil
}

// synthTokenizer adds a GPT-2 style byte-level BPE vocabulary of n tokens:
// the 256 byte tokens, merges for a few common English words, ChatML
// control tokens at the end and unused filler in between.
func synthTokenizer(w *gguf.Writer, n int, pre string) {
	var tokens []string
	var types []int32
	index := map[string]bool{}
	add := func(s string, typ int32) {
		index[s] = true
		tokens = append(tokens, s)
		types = append(types, typ)
	}
	for b := range 256 {
		add(string(byteRune(byte(b))), 1)
	}
	var merges []string
	for _, word := range strings.Fields(" the and to of a in is that it was for on with as he she they said you one day little girl boy") {
		pieces := []string{}
		for _, b := range []byte(" " + word) {
			pieces = append(pieces, string(byteRune(b)))
		}
		cur := pieces[0]
		for _, p := range pieces[1:] {
			next := cur + p
			if !index[next] {
				merges = append(merges, cur+" "+p)
				add(next, 1)
			}
			cur = next
		}
	}
	specials := []string{"<|endoftext|>", "<|im_start|>", "<|im_end|>"}
	for i := 0; len(tokens) < n-len(specials); i++ {
		add(fmt.Sprintf("<|unused_%d|>", i), 5)
	}
	for _, s := range specials {
		add(s, 3)
	}
	w.Set("tokenizer.ggml.model", "gpt2")
	w.Set("tokenizer.ggml.pre", pre)
	w.Set("tokenizer.ggml.tokens", gguf.Array{Elem: gguf.TypeString, Values: tokens})
	w.Set("tokenizer.ggml.token_type", gguf.Array{Elem: gguf.TypeInt32, Values: types})
	w.Set("tokenizer.ggml.merges", gguf.Array{Elem: gguf.TypeString, Values: merges})
	w.Set("tokenizer.ggml.bos_token_id", uint32(n-3))
	w.Set("tokenizer.ggml.eos_token_id", uint32(n-1))
	w.Set("tokenizer.ggml.eot_token_id", uint32(n-1))
	w.Set("tokenizer.ggml.padding_token_id", uint32(n-3))
	w.Set("tokenizer.ggml.add_bos_token", false)
	w.Set("tokenizer.chat_template", chatML)
}

const chatML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"

// byteRune is GPT-2's printable stand-in for byte b.
func byteRune(b byte) rune {
	switch {
	case b >= '!' && b <= '~', b >= 0xA1 && b <= 0xAC, b >= 0xAE:
		return rune(b)
	}
	// The other 68 bytes map to 256, 257, … in byte order.
	n := 0
	for c := 0; c < int(b); c++ {
		cb := byte(c)
		if !(cb >= '!' && cb <= '~' || cb >= 0xA1 && cb <= 0xAC || cb >= 0xAE) {
			n++
		}
	}
	return rune(256 + n)
}
