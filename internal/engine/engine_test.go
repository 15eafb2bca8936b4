package engine

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchyard/internal/engine/chat"
)

const modelsDir = "../../../shared/models"

type reference struct {
	Runs []struct {
		Prompt          string    `json:"prompt"`
		PromptTokens    []int     `json:"prompt_token_ids"`
		Generated       []int     `json:"generated_token_ids"`
		GeneratedText   string    `json:"generated_text"`
		FirstStepLogits []float32 `json:"first_step_logits"`
	} `json:"runs"`
}

func loadStories(t testing.TB, opts Options) (*Model, reference) {
	t.Helper()
	path := filepath.Join(modelsDir, "stories260K.gguf")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("fixture missing: %v", err)
	}
	m, err := Load(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	b, err := os.ReadFile(filepath.Join(modelsDir, "stories260K.reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref reference
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Runs) == 0 {
		t.Fatal("no reference runs")
	}
	return m, ref
}

// generate runs req and returns the generated token ids (collected from
// the logprobs) and text.
func generate(t testing.TB, m *Model, req Request) ([]int, string, Result) {
	t.Helper()
	req.Logprobs = true
	var ids []int
	var text strings.Builder
	res, err := m.Generate(context.Background(), req, func(ev Event) error {
		text.WriteString(ev.Text)
		for _, lp := range ev.Logprobs {
			ids = append(ids, lp.Token)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids, text.String(), res
}

// TestStoriesMatchesLlamaCpp is the acceptance test: greedy decoding of
// stories260K reproduces llama.cpp's 64 token ids for every reference
// prompt, from token ids and from text, and the first-step logits agree.
func TestStoriesMatchesLlamaCpp(t *testing.T) {
	m, ref := loadStories(t, Options{Context: 512, Threads: 2})
	for _, run := range ref.Runs {
		t.Run(run.Prompt, func(t *testing.T) {
			ids, _, res := generate(t, m, Request{Tokens: run.PromptTokens, MaxTokens: len(run.Generated)})
			if diff := cmp.Diff(run.Generated, ids); diff != "" {
				t.Fatalf("generated ids from token ids (-llama.cpp +ours):\n%s", diff)
			}
			if res.FinishReason != "length" || res.CompletionTokens != 64 || res.PromptTokens != len(run.PromptTokens) {
				t.Errorf("result %+v", res)
			}

			if got := m.Tokenizer().Encode(run.Prompt, true, true); !cmp.Equal(got, run.PromptTokens) {
				t.Fatalf("tokenizer: %v, want %v", got, run.PromptTokens)
			}
			ids, text, _ := generate(t, m, Request{Prompt: run.Prompt, MaxTokens: len(run.Generated)})
			if diff := cmp.Diff(run.Generated, ids); diff != "" {
				t.Fatalf("generated ids from text (-llama.cpp +ours):\n%s", diff)
			}
			if text != run.GeneratedText {
				t.Errorf("text %q, want %q", text, run.GeneratedText)
			}

			c := m.m.NewCache(64)
			logits := make([]float32, m.m.Vocab)
			if err := m.m.Forward(c, run.PromptTokens, logits); err != nil {
				t.Fatal(err)
			}
			worst := 0.0
			for i, want := range run.FirstStepLogits {
				worst = math.Max(worst, math.Abs(float64(logits[i]-want)))
			}
			// llama.cpp's CPU attention runs in F16 (F16 KV cache, and
			// flash attention converts Q to F16 and accumulates V in F16);
			// rounding our Q, K and V to F16 roughly halves the difference,
			// so ~1e-2 on logits of magnitude ~20 is that rounding.
			if worst > 2e-2 {
				t.Errorf("first-step logits differ by up to %g", worst)
			}
			t.Logf("first-step logits: max abs diff %.2g", worst)
		})
	}
}

func TestConcurrentGenerate(t *testing.T) {
	m, ref := loadStories(t, Options{Context: 256, Threads: 1, Parallel: 2})
	want := make([][]int, len(ref.Runs))
	for i, run := range ref.Runs {
		want[i] = run.Generated[:20]
	}
	var wg sync.WaitGroup
	got := make([][]int, 2*len(ref.Runs))
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run := ref.Runs[i%len(ref.Runs)]
			got[i], _, _ = generate(t, m, Request{Tokens: run.PromptTokens, MaxTokens: 20})
		}()
	}
	wg.Wait()
	for i := range got {
		if diff := cmp.Diff(want[i%len(ref.Runs)], got[i]); diff != "" {
			t.Errorf("request %d (-want +got):\n%s", i, diff)
		}
	}
}

func TestSeededSampling(t *testing.T) {
	m, ref := loadStories(t, Options{Context: 256})
	seed := uint64(99)
	req := Request{Tokens: ref.Runs[0].PromptTokens, MaxTokens: 30, Temperature: 1, TopP: 0.95, Seed: &seed}
	a, _, _ := generate(t, m, req)
	b, _, _ := generate(t, m, req)
	if !cmp.Equal(a, b) {
		t.Fatalf("same seed, different tokens:\n%v\n%v", a, b)
	}
	seed2 := uint64(100)
	req.Seed = &seed2
	c, _, _ := generate(t, m, req)
	if cmp.Equal(a, c) {
		t.Error("different seeds gave identical 30-token samples")
	}
}

func TestGenerateErrors(t *testing.T) {
	m, ref := loadStories(t, Options{Context: 64})
	prompt := ref.Runs[0].PromptTokens
	_, err := m.Generate(context.Background(), Request{Tokens: prompt, MaxTokens: 60}, nil)
	if !errors.Is(err, ErrContextOverflow) {
		t.Errorf("overflow: err = %v", err)
	}
	_, err = m.Generate(context.Background(), Request{Tokens: []int{1, 99999}}, nil)
	if !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("bad token: err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	res, err := m.Generate(ctx, Request{Tokens: prompt, MaxTokens: 50}, func(Event) error {
		n++
		if n == 3 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || res.CompletionTokens > 5 {
		t.Errorf("cancel: err = %v after %d tokens", err, res.CompletionTokens)
	}
	// Without MaxTokens, generation runs to the end of the context.
	_, _, res = generate(t, m, Request{Tokens: prompt})
	if res.FinishReason != "length" || res.PromptTokens+res.CompletionTokens != 64 {
		t.Errorf("unbounded: %+v", res)
	}
}

func TestStopStrings(t *testing.T) {
	m, ref := loadStories(t, Options{Context: 256})
	run := ref.Runs[0]
	full := run.GeneratedText
	stop := " named"
	i := strings.Index(full, stop)
	if i < 0 {
		t.Fatalf("%q not in %q", stop, full)
	}
	_, text, res := generate(t, m, Request{Tokens: run.PromptTokens, MaxTokens: 64, Stop: []string{"zzz", stop}})
	if text != full[:i] || res.FinishReason != "stop" {
		t.Errorf("text %q (%s), want %q", text, res.FinishReason, full[:i])
	}
}

func TestStreamer(t *testing.T) {
	tests := []struct {
		name    string
		stops   []string
		pieces  []string
		events  []string
		stopped bool
	}{
		{"plain", nil, []string{"a", "b"}, []string{"a", "b"}, false},
		{"utf8 split", nil, []string{"x\xe4", "\xbd", "\xa0y"}, []string{"x", "你y"}, false},
		{"held then released", []string{"END"}, []string{"aE", "N", "x"}, []string{"a", "ENx"}, false},
		{"stop across pieces", []string{"END"}, []string{"aE", "N", "Dzz"}, []string{"a"}, true},
		{"earliest stop wins", []string{"cd", "b"}, []string{"abcd"}, []string{"a"}, true},
		{"held tail flushed", []string{"END"}, []string{"aEN"}, []string{"a", "EN"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			s := streamer{stops: tt.stops, emit: func(ev Event) error { got = append(got, ev.Text); return nil }}
			stopped := false
			for _, p := range tt.pieces {
				var err error
				if stopped, err = s.add([]byte(p)); err != nil {
					t.Fatal(err)
				}
				if stopped {
					break
				}
			}
			if !stopped {
				s.flush()
			}
			if stopped != tt.stopped {
				t.Errorf("stopped = %v", stopped)
			}
			if diff := cmp.Diff(tt.events, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEmbed(t *testing.T) {
	m, _ := loadStories(t, Options{Context: 128})
	vecs, n, err := m.Embed(context.Background(), []string{"Once upon a time", "The little dog", "Once upon a time"})
	if err != nil {
		t.Fatal(err)
	}
	if len(vecs) != 3 || n < 6 || len(vecs[0]) != m.Info().Embedding {
		t.Fatalf("%d vectors, %d tokens", len(vecs), n)
	}
	dot := func(a, b []float32) (s float64) {
		for i := range a {
			s += float64(a[i]) * float64(b[i])
		}
		return s
	}
	if d := dot(vecs[0], vecs[0]); math.Abs(d-1) > 1e-4 {
		t.Errorf("norm² = %g", d)
	}
	if d := dot(vecs[0], vecs[2]); math.Abs(d-1) > 1e-4 {
		t.Errorf("same text, cosine %g", d)
	}
	if d := dot(vecs[0], vecs[1]); d > 0.9999 {
		t.Errorf("different texts, cosine %g", d)
	}
}

func TestLlama2TinyRandomF16(t *testing.T) {
	path := filepath.Join(modelsDir, "llama-2-tiny-random.gguf")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("fixture missing: %v", err)
	}
	m, err := Load(path, Options{Context: 128})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	info := m.Info()
	if info.Arch != "llama" || info.VocabSize != 32000 || info.FileType != "F16" {
		t.Errorf("info %+v", info)
	}
	ids, _, res := generate(t, m, Request{Prompt: "Hello world", MaxTokens: 8})
	if res.CompletionTokens+boolInt(res.FinishReason == "stop") == 0 || len(ids) != res.CompletionTokens {
		t.Errorf("result %+v, ids %v", res, ids)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestSynth(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		shape Shape
		typ   string
	}{
		{Shape{Arch: "qwen2", Name: "tiny-qwen2", Embd: 64, Layers: 2, Heads: 4, KVHeads: 2, FF: 96, Vocab: 600, Context: 256, RopeBase: 1e6, Tied: true, Pre: "qwen2"}, "q8_0"},
		{Shape{Arch: "qwen3", Name: "tiny-qwen3", Embd: 64, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 32, FF: 64, Vocab: 500, Context: 256, RopeBase: 1e6, Tied: true, Pre: "qwen2"}, "q4_0"},
		{Shape{Arch: "llama", Name: "tiny-llama", Embd: 64, Layers: 2, Heads: 4, KVHeads: 4, FF: 128, Vocab: 400, Context: 256, RopeBase: 1e4, Pre: "smollm"}, "f16"},
	}
	for _, tt := range tests {
		t.Run(tt.shape.Name, func(t *testing.T) {
			path := filepath.Join(dir, tt.shape.Name+".gguf")
			if err := SynthShape(tt.shape, tt.typ, path); err != nil {
				t.Fatal(err)
			}
			m, err := Load(path, Options{Context: 128})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			info := m.Info()
			if info.Arch != tt.shape.Arch || info.VocabSize != tt.shape.Vocab || !strings.EqualFold(info.FileType, tt.typ) {
				t.Errorf("info %+v", info)
			}
			if got := m.Tokenizer().Decode(m.Tokenizer().Encode("the little girl, 你好!", false, false)); got != "the little girl, 你好!" {
				t.Errorf("tokenizer round trip: %q", got)
			}
			_, _, res := generate(t, m, Request{Prompt: "<|im_start|>user\nhi<|im_end|>\n", MaxTokens: 5})
			if res.CompletionTokens == 0 && res.FinishReason != "stop" {
				t.Errorf("result %+v", res)
			}
			b, err := Bench(context.Background(), m, 16, 4)
			if err != nil {
				t.Fatal(err)
			}
			if b.PromptTPS <= 0 || b.GenTPS <= 0 || b.TTFT <= 0 {
				t.Errorf("bench %+v", b)
			}
		})
	}
	if err := Synth("no-such-shape", "q8_0", filepath.Join(dir, "x.gguf")); err == nil {
		t.Error("unknown shape accepted")
	}
	if err := Synth("qwen2.5-0.5b", "q4_k", filepath.Join(dir, "x.gguf")); err == nil {
		t.Error("K-quant of 896-wide rows accepted")
	}
}

func TestChatPrompt(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "chat.gguf")
	shape := Shape{Arch: "qwen2", Name: "chat", Embd: 32, Layers: 1, Heads: 2, KVHeads: 1, FF: 32, Vocab: 400, Context: 64, RopeBase: 1e6, Tied: true, Pre: "qwen2"}
	if err := SynthShape(shape, "f32", path); err != nil {
		t.Fatal(err)
	}
	m, err := Load(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	got, err := m.ChatPrompt([]chat.Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Hi"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
	if got != want {
		t.Errorf("ChatPrompt = %q, want %q", got, want)
	}
	// The control tokens of the rendered prompt tokenise as single tokens.
	ids := m.Tokenizer().Encode(got, false, true)
	if ids[0] != shape.Vocab-2 {
		t.Errorf("first token %d, want <|im_start|> (%d)", ids[0], shape.Vocab-2)
	}
}
