package tokenizer

import (
	"errors"
	"fmt"
	"strings"

	"switchyard/internal/engine/gguf"
)

// VocabFromGGUF reads the tokenizer.ggml.* metadata of f into a Vocab,
// with llama.cpp's defaults for keys the file leaves out.
func VocabFromGGUF(f *gguf.File) (Vocab, error) {
	var v Vocab
	model, ok := f.String("tokenizer.ggml.model")
	if !ok {
		return v, errors.New("tokenizer: no tokenizer.ggml.model in file")
	}
	v.Model = model
	v.Pre, _ = f.String("tokenizer.ggml.pre")
	tokens, ok := f.Strings("tokenizer.ggml.tokens")
	if !ok {
		return v, errors.New("tokenizer: no tokenizer.ggml.tokens in file")
	}
	v.Tokens = tokens
	if _, present := f.Get("tokenizer.ggml.scores"); present {
		if v.Scores, ok = f.Float32s("tokenizer.ggml.scores"); !ok {
			return v, errors.New("tokenizer: tokenizer.ggml.scores is not a float32 array")
		}
	}
	if _, present := f.Get("tokenizer.ggml.token_type"); present {
		types, ok := f.Int32s("tokenizer.ggml.token_type")
		if !ok {
			return v, errors.New("tokenizer: tokenizer.ggml.token_type is not an integer array")
		}
		v.Types = make([]TokenType, len(types))
		for i, t := range types {
			v.Types[i] = TokenType(t)
		}
	}
	for _, p := range []*int{&v.BOS, &v.EOS, &v.EOT, &v.EOM, &v.UNK, &v.PAD, &v.SEP} {
		*p = None
	}
	switch model {
	case "llama":
		v.BOS, v.EOS, v.UNK = 1, 2, 0
		v.AddBOS, v.AddSpacePrefix = true, true
	case "gpt2":
		if v.Merges, ok = f.Strings("tokenizer.ggml.merges"); !ok {
			return v, errors.New("tokenizer: no tokenizer.ggml.merges in file")
		}
		v.BOS, v.EOS = 11, 11
		switch v.Pre {
		case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2":
			v.AddBOS = true
		}
	default:
		return v, fmt.Errorf("tokenizer: unsupported tokenizer model %q", model)
	}
	if b, ok := f.Bool("tokenizer.ggml.add_space_prefix"); ok {
		v.AddSpacePrefix = b
	}
	if model != "llama" {
		v.AddSpacePrefix = false
	}
	n := uint32(len(tokens))
	for _, k := range []struct {
		key string
		dst *int
	}{
		{"bos_token_id", &v.BOS}, {"eos_token_id", &v.EOS}, {"eot_token_id", &v.EOT}, {"eom_token_id", &v.EOM},
		{"unknown_token_id", &v.UNK}, {"seperator_token_id", &v.SEP}, {"padding_token_id", &v.PAD},
	} {
		// llama.cpp ignores ids past the vocabulary (with a warning).
		if id, ok := f.Uint32("tokenizer.ggml." + k.key); ok && id < n {
			*k.dst = int(id)
		}
	}
	if b, ok := f.Bool("tokenizer.ggml.add_bos_token"); ok {
		v.AddBOS = b
	}
	if b, ok := f.Bool("tokenizer.ggml.add_eos_token"); ok {
		v.AddEOS = b
	}
	// Defaults that point past a small vocabulary are dropped.
	for _, p := range []*int{&v.BOS, &v.EOS, &v.UNK} {
		if *p >= len(tokens) {
			*p = None
		}
	}
	if v.BOS == None {
		v.AddBOS = false
	}
	if v.EOS == None {
		v.AddEOS = false
	}
	name, _ := f.String("general.name")
	name = strings.ToLower(name)
	v.RStripSpecial = strings.Contains(name, "phi-3") || strings.Contains(name, "phi3")
	return v, nil
}

// FromGGUF builds the tokenizer described by the metadata of f.
func FromGGUF(f *gguf.File) (*Tokenizer, error) {
	v, err := VocabFromGGUF(f)
	if err != nil {
		return nil, err
	}
	return New(v)
}
