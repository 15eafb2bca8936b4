package local_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchyard/internal/config"
	"switchyard/internal/leakcheck"
	"switchyard/internal/provider"
	"switchyard/internal/provider/local"
)

// TestMain fails the package when a test leaves a goroutine of the
// provider or the engine behind.
func TestMain(m *testing.M) {
	leakcheck.Main(m, "switchyard/internal/provider", "switchyard/internal/engine")
}

// modelsDir finds the shared fixtures: ../shared/models from the
// repository root, or from a folder above it (a worktree checked out one
// level deeper). "" when absent.
func modelsDir() string {
	_, file, _, _ := runtime.Caller(0)
	for dir := filepath.Dir(file); ; {
		p := filepath.Join(dir, "shared", "models")
		if _, err := os.Stat(filepath.Join(p, "stories260K.gguf")); err == nil {
			return p
		}
		up := filepath.Dir(dir)
		if up == dir {
			return ""
		}
		dir = up
	}
}

type reference struct {
	Runs []struct {
		Prompt        string `json:"prompt"`
		PromptTokens  []int  `json:"prompt_token_ids"`
		Generated     []int  `json:"generated_token_ids"`
		GeneratedText string `json:"generated_text"`
	} `json:"runs"`
}

// stories opens the tiny stories260K model as a local deployment and
// returns it with llama.cpp's reference outputs. It skips when the shared
// fixtures are absent.
func stories(t *testing.T) (provider.Provider, reference) {
	t.Helper()
	dir := modelsDir()
	if dir == "" {
		t.Skip("shared fixtures (shared/models/stories260K.gguf) not found")
	}
	var ref reference
	b, err := os.ReadFile(filepath.Join(dir, "stories260K.reference.json"))
	if err == nil {
		err = json.Unmarshal(b, &ref)
	}
	if err != nil || len(ref.Runs) == 0 {
		t.Fatalf("reference outputs: %v", err)
	}
	n, err := config.NodeFromMap(map[string]any{"path": filepath.Join(dir, "stories260K.gguf"), "context": 256, "threads": 2})
	if err != nil {
		t.Fatal(err)
	}
	p, err := local.New(provider.Deployment{Provider: local.Kind, Model: "stories", Options: n})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, ref
}

// answer is the part of a (chat) completion or chunk the tests read.
type answer struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Model   string `json:"model"`
	Choices []struct {
		Index        int     `json:"index"`
		Text         *string `json:"text"`
		FinishReason *string `json:"finish_reason"`
		Message      *struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"message"`
		Delta *struct {
			Role    string  `json:"role"`
			Content *string `json:"content"`
		} `json:"delta"`
		Logprobs *struct {
			Content []struct {
				Token string `json:"token"`
			} `json:"content"`
		} `json:"logprobs"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	} `json:"usage"`
}

// result is a whole answer, assembled from one body or from a stream.
type result struct {
	text, finish, role string
	tokens             []string // from logprobs: one per generated token
	prompt, completion int
	total              int
	objects            []string
	usage              bool
}

func decode(t *testing.T, b []byte) answer {
	t.Helper()
	var a answer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("answer %s: %v", b, err)
	}
	return a
}

func (r *result) addUsage(a answer) {
	if a.Usage != nil {
		r.usage = true
		r.prompt, r.completion, r.total = a.Usage.PromptTokens, a.Usage.CompletionTokens, a.Usage.TotalTokens
	}
}

// run sends body as op and assembles the answer.
func run(t *testing.T, p provider.Provider, op provider.Op, body string, stream bool) result {
	t.Helper()
	resp, err := p.Do(context.Background(), &provider.Request{Op: op, Body: []byte(body), Stream: stream, RequestID: "r1"})
	if err != nil {
		t.Fatalf("Do(%s): %v", body, err)
	}
	var r result
	if !stream {
		if resp.Stream != nil {
			t.Fatal("a stream for a non-stream request")
		}
		a := decode(t, resp.Body)
		r.objects = append(r.objects, a.Object)
		if len(a.Choices) != 1 {
			t.Fatalf("choices in %s", resp.Body)
		}
		c := a.Choices[0]
		switch {
		case c.Message != nil:
			r.text, r.role = c.Message.Content, c.Message.Role
		case c.Text != nil:
			r.text = *c.Text
		}
		if c.FinishReason != nil {
			r.finish = *c.FinishReason
		}
		if c.Logprobs != nil {
			for _, lp := range c.Logprobs.Content {
				r.tokens = append(r.tokens, lp.Token)
			}
		}
		r.addUsage(a)
		return r
	}
	defer resp.Stream.Close()
	for {
		b, err := resp.Stream.Next()
		if err == io.EOF {
			return r
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		a := decode(t, b)
		r.objects = append(r.objects, a.Object)
		if r.finish != "" && len(a.Choices) > 0 {
			t.Errorf("a choice after the finish: %s", b)
		}
		for _, c := range a.Choices {
			if c.Delta != nil {
				if c.Delta.Role != "" {
					if r.role != "" {
						t.Errorf("role sent twice: %s", b)
					}
					r.role = c.Delta.Role
				}
				if c.Delta.Content != nil {
					r.text += *c.Delta.Content
				}
			}
			if c.Text != nil {
				r.text += *c.Text
			}
			if c.FinishReason != nil {
				r.finish = *c.FinishReason
			}
			if c.Logprobs != nil {
				for _, lp := range c.Logprobs.Content {
					r.tokens = append(r.tokens, lp.Token)
				}
			}
		}
		r.addUsage(a)
	}
}

// TestCompletionMatchesReference: greedy completions reproduce llama.cpp's
// text, streamed or not, and usage counts the tokens generated.
func TestCompletionMatchesReference(t *testing.T) {
	p, ref := stories(t)
	for _, rr := range ref.Runs {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s stream=%v", rr.Prompt, stream), func(t *testing.T) {
				n := len(rr.Generated)
				body := fmt.Sprintf(`{"model":"stories","prompt":%q,"temperature":0,"max_tokens":%d,"logprobs":true,"stream":%v,"stream_options":{"include_usage":true}}`, rr.Prompt, n, stream)
				r := run(t, p, provider.OpCompletion, body, stream)
				if r.text != rr.GeneratedText {
					t.Errorf("text %q\nwant %q", r.text, rr.GeneratedText)
				}
				if r.finish != "length" {
					t.Errorf("finish_reason %q, want length", r.finish)
				}
				if !r.usage || r.prompt != len(rr.PromptTokens) || r.completion != n || r.total != r.prompt+r.completion {
					t.Errorf("usage %v: %d + %d = %d, want %d + %d", r.usage, r.prompt, r.completion, r.total, len(rr.PromptTokens), n)
				}
				if len(r.tokens) != r.completion || strings.Join(r.tokens, "") != r.text {
					t.Errorf("%d logprob tokens %q for %d completion tokens", len(r.tokens), strings.Join(r.tokens, ""), r.completion)
				}
				want := "text_completion"
				for _, o := range r.objects {
					if o != want {
						t.Errorf("object %q, want %q", o, want)
					}
				}
			})
		}
	}
}

// TestChat: greedy chat is deterministic, the stream says the same as the
// body, and usage matches the tokens generated.
func TestChat(t *testing.T) {
	p, _ := stories(t)
	const msgs = `[{"role":"system","content":"You tell stories."},{"role":"user","content":[{"type":"text","text":"Tell me about "},{"type":"text","text":"a dog."}]}]`
	body := func(stream bool) string {
		return `{"model":"stories","messages":` + msgs + `,"temperature":0,"max_tokens":24,"logprobs":true,"stream":` + fmt.Sprint(stream) + `,"stream_options":{"include_usage":true}}`
	}
	first := run(t, p, provider.OpChat, body(false), false)
	again := run(t, p, provider.OpChat, body(false), false)
	streamed := run(t, p, provider.OpChat, body(true), true)
	if first.text == "" || first.text != again.text || first.text != streamed.text {
		t.Errorf("greedy chat differs between runs:\n%q\n%q\n%q (stream)", first.text, again.text, streamed.text)
	}
	for name, r := range map[string]result{"body": first, "stream": streamed} {
		if r.role != "assistant" {
			t.Errorf("%s: role %q", name, r.role)
		}
		if r.finish != "length" && r.finish != "stop" {
			t.Errorf("%s: finish_reason %q", name, r.finish)
		}
		if r.finish == "length" && r.completion != 24 || r.completion > 24 {
			t.Errorf("%s: %d completion tokens, finish %s, max 24", name, r.completion, r.finish)
		}
		if !r.usage || r.prompt == 0 || r.total != r.prompt+r.completion || len(r.tokens) != r.completion {
			t.Errorf("%s: usage %d + %d = %d with %d tokens generated", name, r.prompt, r.completion, r.total, len(r.tokens))
		}
	}
	if streamed.usage != first.usage || streamed.prompt != first.prompt || streamed.completion != first.completion {
		t.Errorf("stream usage %+v, body usage %+v", streamed, first)
	}
	for _, o := range first.objects {
		if o != "chat.completion" {
			t.Errorf("object %q", o)
		}
	}
	for _, o := range streamed.objects {
		if o != "chat.completion.chunk" {
			t.Errorf("chunk object %q", o)
		}
	}
	// Without include_usage the stream carries no usage chunk.
	r := run(t, p, provider.OpChat, `{"messages":`+msgs+`,"temperature":0,"max_tokens":2,"stream":true}`, true)
	if r.usage || r.text == "" {
		t.Errorf("stream without include_usage: usage %v, text %q", r.usage, r.text)
	}
}

func TestMaxTokens(t *testing.T) {
	p, ref := stories(t)
	prompt := ref.Runs[0].Prompt
	tests := []struct {
		name  string
		limit string
		want  int
	}{
		{"max_tokens 1", `"max_tokens":1`, 1},
		{"max_tokens 7", `"max_tokens":7`, 7},
		{"max_completion_tokens wins", `"max_tokens":9,"max_completion_tokens":3`, 3},
	}
	for _, tt := range tests {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s stream=%v", tt.name, stream), func(t *testing.T) {
				r := run(t, p, provider.OpCompletion, fmt.Sprintf(`{"prompt":%q,"temperature":0,"logprobs":true,%s,"stream":%v,"stream_options":{"include_usage":true}}`, prompt, tt.limit, stream), stream)
				if r.completion != tt.want || len(r.tokens) != tt.want || r.finish != "length" {
					t.Errorf("%d completion tokens (%d generated), finish %q; want %d, length", r.completion, len(r.tokens), r.finish, tt.want)
				}
				if !strings.HasPrefix(ref.Runs[0].GeneratedText, r.text) || r.text == "" {
					t.Errorf("text %q is not a prefix of the reference", r.text)
				}
			})
		}
	}
}

// TestStop: generation ends before the first stop string, which is not
// part of the text.
func TestStop(t *testing.T) {
	p, ref := stories(t)
	run0 := ref.Runs[0]
	full := run0.GeneratedText // ", there was a little girl named Lily. She loved to play outside in the park. …"
	prefix := func(s string) string {
		i := strings.Index(full, s)
		if i < 0 {
			t.Fatalf("%q is not in the reference text %q", s, full)
		}
		return full[:i]
	}
	tests := []struct {
		name, stop, want string
	}{
		{"string", `"Lily"`, prefix("Lily")},
		{"array, earliest wins", `["park","girl"]`, prefix("girl")},
		{"inside a token", `"ittle"`, prefix("ittle")},
		{"never matches", `["zebra"]`, full},
		{"null", `null`, full},
	}
	for _, tt := range tests {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s stream=%v", tt.name, stream), func(t *testing.T) {
				r := run(t, p, provider.OpCompletion, fmt.Sprintf(`{"prompt":%q,"temperature":0,"max_tokens":%d,"stop":%s,"stream":%v,"stream_options":{"include_usage":true}}`, run0.Prompt, len(run0.Generated), tt.stop, stream), stream)
				if r.text != tt.want {
					t.Errorf("text %q\nwant %q", r.text, tt.want)
				}
				wantFinish := "stop"
				if tt.want == full {
					wantFinish = "length"
				}
				if r.finish != wantFinish {
					t.Errorf("finish_reason %q, want %q", r.finish, wantFinish)
				}
			})
		}
	}
}

// TestInvalidRequests: bodies the engine cannot act on are the client's
// fault (ErrInvalidRequest, status 400) with a message saying why, streamed
// or not.
func TestInvalidRequests(t *testing.T) {
	p, _ := stories(t)
	tests := []struct {
		name string
		op   provider.Op
		body string
		want string
	}{
		{"not json", provider.OpChat, `{"messages":`, "invalid request"},
		{"wrong field type", provider.OpChat, `{"messages":"hi"}`, "invalid request"},
		{"stop not strings", provider.OpChat, `{"messages":[{"role":"user","content":"hi"}],"stop":5}`, "stop must be a string or an array of strings"},
		{"content not text", provider.OpChat, `{"messages":[{"role":"user","content":5}]}`, "messages[0].content"},
		{"image part", provider.OpChat, `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}`, "messages[0].content"},
		{"prompt array", provider.OpCompletion, `{"prompt":["a","b"]}`, "prompt must be a string"},
		{"no prompt", provider.OpCompletion, `{"max_tokens":3}`, "prompt must be a string"},
		{"negative max_tokens", provider.OpCompletion, `{"prompt":"Once","max_tokens":-1}`, "negative max_tokens"},
		{"negative top_logprobs", provider.OpChat, `{"messages":[{"role":"user","content":"hi"}],"logprobs":true,"top_logprobs":-2}`, "top_logprobs"},
		{"over the context", provider.OpCompletion, `{"prompt":"Once","max_tokens":100000}`, "context length exceeded"},
		{"embedding input not text", provider.OpEmbedding, `{"input":{"a":1}}`, "input must be a string or an array of strings"},
	}
	for _, tt := range tests {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s stream=%v", tt.name, stream), func(t *testing.T) {
				resp, err := p.Do(context.Background(), &provider.Request{Op: tt.op, Body: []byte(tt.body), Stream: stream})
				if err == nil && resp.Stream != nil {
					// Some checks happen in the engine, after the stream began.
					defer resp.Stream.Close()
					for err == nil {
						_, err = resp.Stream.Next()
					}
				}
				if err == nil || err == io.EOF {
					t.Fatalf("no error, want one saying %q", tt.want)
				}
				var se *provider.StatusError
				if !errors.Is(err, provider.ErrInvalidRequest) || !errors.As(err, &se) || se.Status != 400 || provider.Retryable(err) {
					t.Fatalf("err = %v (%T), want an ErrInvalidRequest with status 400", err, err)
				}
				if msg := provider.UpstreamMessage(se.Body); !strings.Contains(msg, tt.want) {
					t.Errorf("message %q does not say %q", msg, tt.want)
				}
			})
		}
	}
}

func TestSupports(t *testing.T) {
	p, _ := stories(t)
	for op, want := range map[provider.Op]bool{
		provider.OpChat: true, provider.OpCompletion: true, provider.OpEmbedding: true, provider.OpClassify: false,
		provider.OpRerank: false, provider.OpImage: false, provider.OpModeration: false, provider.OpSpeech: false,
		provider.OpTranscription: false, provider.OpTranslation: false, provider.OpPassthrough: false,
	} {
		if got := provider.Supports(p, op); got != want {
			t.Errorf("Supports(%v) = %v, want %v", op, got, want)
		}
	}
}

func TestEmbeddings(t *testing.T) {
	p, ref := stories(t)
	type embedding struct {
		Object string `json:"object"`
		Model  string `json:"model"`
		Data   []struct {
			Object    string    `json:"object"`
			Index     int       `json:"index"`
			Embedding []float32 `json:"embedding"`
		} `json:"data"`
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
			TotalTokens  int `json:"total_tokens"`
		} `json:"usage"`
	}
	embed := func(input string) embedding {
		t.Helper()
		resp, err := p.Do(context.Background(), &provider.Request{Op: provider.OpEmbedding, Body: []byte(`{"model":"stories","input":` + input + `}`)})
		if err != nil {
			t.Fatalf("embed %s: %v", input, err)
		}
		var e embedding
		if err := json.Unmarshal(resp.Body, &e); err != nil {
			t.Fatal(err)
		}
		return e
	}
	a, b := ref.Runs[0], ref.Runs[1]
	one := embed(fmt.Sprintf("%q", a.Prompt))
	two := embed(fmt.Sprintf("[%q,%q]", a.Prompt, b.Prompt))
	if one.Object != "list" || one.Model != "stories" || len(one.Data) != 1 || len(two.Data) != 2 {
		t.Fatalf("answers %+v / %+v", one, two)
	}
	if one.Usage.PromptTokens != len(a.PromptTokens) || two.Usage.PromptTokens != len(a.PromptTokens)+len(b.PromptTokens) || two.Usage.TotalTokens != two.Usage.PromptTokens {
		t.Errorf("usage %+v / %+v, want %d / %d tokens", one.Usage, two.Usage, len(a.PromptTokens), len(a.PromptTokens)+len(b.PromptTokens))
	}
	for i, d := range two.Data {
		if d.Index != i || d.Object != "embedding" || len(d.Embedding) != 64 {
			t.Errorf("data[%d]: index %d, object %q, %d dimensions (want 64)", i, d.Index, d.Object, len(d.Embedding))
		}
		var ss float64
		for _, v := range d.Embedding {
			ss += float64(v) * float64(v)
		}
		if math.Abs(ss-1) > 1e-4 {
			t.Errorf("data[%d] has norm² %v, want 1", i, ss)
		}
	}
	if diff := cmp.Diff(one.Data[0].Embedding, two.Data[0].Embedding); diff != "" {
		t.Errorf("the same text embeds differently alone and in a batch:\n%s", diff)
	}
	if cmp.Equal(two.Data[0].Embedding, two.Data[1].Embedding) {
		t.Error("different texts have the same embedding")
	}
}

// TestCancel: cancelling the context mid-stream stops generation: Next
// soon returns the cancellation (never a clean end) and the generator
// goroutine is gone (TestMain checks). Close without reading to the end
// stops it as well.
func TestCancel(t *testing.T) {
	p, _ := stories(t)
	// max_tokens 0: until the context (256) is full, far more than the
	// stream's buffer of 16 chunks.
	const body = `{"prompt":"Once upon a time","temperature":0,"max_tokens":0,"stream":true}`

	t.Run("context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		resp, err := p.Do(ctx, &provider.Request{Op: provider.OpCompletion, Body: []byte(body), Stream: true})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Stream.Close()
		if _, err := resp.Stream.Next(); err != nil {
			t.Fatal(err)
		}
		cancel()
		after := 0
		for {
			_, err = resp.Stream.Next()
			if err != nil {
				break
			}
			after++
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Next after cancel = %v, want context.Canceled", err)
		}
		// What was buffered (16) and in flight may still arrive; not the
		// rest of the 250 tokens.
		if after > 20 {
			t.Errorf("%d chunks after the cancellation", after)
		}
	})
	t.Run("close", func(t *testing.T) {
		resp, err := p.Do(context.Background(), &provider.Request{Op: provider.OpCompletion, Body: []byte(body), Stream: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := resp.Stream.Next(); err != nil {
			t.Fatal(err)
		}
		if err := resp.Stream.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := resp.Stream.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := p.Do(ctx, &provider.Request{Op: provider.OpCompletion, Body: []byte(`{"prompt":"Once","max_tokens":4}`)})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Do with a cancelled context = %v, want context.Canceled", err)
		}
	})
}

func TestNewValidation(t *testing.T) {
	tests := []struct {
		name  string
		model string
		opts  map[string]any
		want  string
	}{
		{"unknown key", "m", map[string]any{"path": "x.gguf", "threds": 2}, "threds"},
		{"no path, no model", "", map[string]any{}, "path (a .gguf file) or model"},
		{"no path, model not pulled", "nosuch", map[string]any{}, "no model \"nosuch\""},
		{"missing file", "m", map[string]any{"path": filepath.Join(t.TempDir(), "none.gguf")}, "loading"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := config.NodeFromMap(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			p, err := local.Factory(t.TempDir())(provider.Deployment{Provider: local.Kind, Model: tt.model, Options: n})
			if err == nil {
				p.Close()
				t.Fatalf("no error, want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}
