package model

import (
	"flag"
	"testing"

	"switchyard/internal/engine/gguf"
	"switchyard/internal/engine/tensor"
)

var benchFile = flag.String("model", "", "GGUF file for the benchmarks (default: a small random Q8_0 llama)")

func benchModel(b *testing.B) *Model {
	b.Helper()
	if *benchFile == "" {
		m, _ := buildModel(b, Config{Arch: "llama", Embd: 512, Layers: 4, Heads: 8, KVHeads: 4, FF: 1536, Vocab: 8192}, tensor.Q8_0, true)
		return m
	}
	f, err := gguf.Open(*benchFile)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	m, err := New(f, nil)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkDecode measures one-token forward passes (generation speed)
// after a 16-token prompt.
func BenchmarkDecode(b *testing.B) {
	m := benchModel(b)
	c := m.NewCache(512)
	logits := make([]float32, m.Vocab)
	prompt := make([]int, 16)
	for i := range prompt {
		prompt[i] = (i * 37) % m.Vocab
	}
	if err := m.Forward(c, prompt, logits); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if c.Len() == c.Cap() {
			c.Truncate(16)
		}
		if err := m.Forward(c, []int{i % m.Vocab}, logits); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
}

// BenchmarkPrefill measures batched prompt processing of 128 tokens.
func BenchmarkPrefill(b *testing.B) {
	m := benchModel(b)
	c := m.NewCache(128)
	logits := make([]float32, m.Vocab)
	prompt := make([]int, 128)
	for i := range prompt {
		prompt[i] = (i * 37) % m.Vocab
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Truncate(0)
		if err := m.Forward(c, prompt, logits); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(prompt))/b.Elapsed().Seconds(), "tok/s")
}
