package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchyard/internal/engine"
)

func TestGGUFInspect(t *testing.T) {
	src := storiesPath(t)
	code, out, errs := sy(t, "gguf", "inspect", src)
	if code != 0 {
		t.Fatal(errs)
	}
	for _, want := range []string{"GGUF v3", "general.architecture", `"llama"`, "llama.context_length", "uint32", "2048",
		"tokenizer.ggml.tokens", "array[string]", "[512 strings]", "token_embd.weight", "[64 × 512]"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q", want)
		}
	}
	_, out, _ = sy(t, "gguf", "inspect", "--json", src)
	var j struct {
		Metadata []struct {
			Key   string
			Len   *int
			Value any
		}
		Tensors []struct{ Name string }
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatal(err)
	}
	keys := map[string]any{}
	for _, kv := range j.Metadata {
		keys[kv.Key] = kv.Value
		if kv.Key == "tokenizer.ggml.tokens" && (kv.Len == nil || *kv.Len != 512 || kv.Value != nil) {
			t.Errorf("tokens entry %+v", kv)
		}
	}
	if diff := cmp.Diff(map[string]any{"general.architecture": "llama", "llama.block_count": 5.0},
		map[string]any{"general.architecture": keys["general.architecture"], "llama.block_count": keys["llama.block_count"]}); diff != "" || len(j.Tensors) != 48 {
		t.Errorf("json (-want +got):\n%s, %d tensors", diff, len(j.Tensors))
	}
}

func TestGGUFSynthAndBenchEngine(t *testing.T) {
	synthShapes = map[string]engine.Shape{}
	for k, v := range engine.Shapes {
		synthShapes[k] = v
	}
	synthShapes["tiny-1m"] = engine.Shape{Arch: "qwen2", Name: "tiny", Embd: 64, Layers: 2, Heads: 4, KVHeads: 2, FF: 96, Vocab: 600, Context: 512, RopeBase: 1e6, RMSEps: 1e-6, Tied: true, Pre: "qwen2"}
	t.Cleanup(func() { synthShapes = engine.Shapes })
	out := filepath.Join(t.TempDir(), "tiny.gguf")
	if code, so, errs := sy(t, "gguf", "synth", "--arch", "qwen2", "--shape", "1m", "--type", "q8_0", "-o", out); code != 0 || !strings.Contains(so, "wrote") {
		t.Fatalf("synth: %d %s %s", code, so, errs)
	}
	m, err := engine.Load(out, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if info := m.Info(); info.Arch != "qwen2" || info.FileType != "Q8_0" {
		t.Errorf("synthesised %+v", info)
	}
	m.Close()
	if code, _, errs := sy(t, "gguf", "synth", "--arch", "qwen2", "--shape", "9t", "-o", out); code != 1 || !strings.Contains(errs, "qwen2 0.5b") {
		t.Errorf("unknown shape: %d %q", code, errs)
	}
	_, help, _ := sy(t, "gguf", "synth", "--help")
	if !strings.Contains(help, "--arch qwen2  --shape 0.5b") || !strings.Contains(help, "q4_k") {
		t.Errorf("help:\n%s", help)
	}
	for _, typ := range synthTypes {
		if code, _, errs := sy(t, "gguf", "synth", "--shape", "tiny-1m", "--type", typ, "-o", filepath.Join(t.TempDir(), typ+".gguf")); code != 0 && !strings.Contains(errs, "block size") {
			t.Errorf("synth --type %s: %s", typ, errs)
		}
	}

	code, so, errs := sy(t, "bench", "engine", "--model", storiesPath(t), "--prompt", "32", "--gen", "8")
	if code != 0 {
		t.Fatalf("bench engine: %s", errs)
	}
	for _, want := range []string{"prompt   32 tokens", "gen      8 tokens", "tok/s", "ttft", "rss"} {
		if !strings.Contains(so, want) {
			t.Errorf("bench output lacks %q:\n%s", want, so)
		}
	}
}
