package specialist

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchyard/internal/config"
	"switchyard/internal/provider"
	spec "switchyard/internal/specialist"
)

// tinyCSV is 3 labels × 15 examples, English and Chinese (shared with the
// specialist package's tests).
var tinyCSV = mustRead("../../specialist/testdata/intents.csv")

func mustRead(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// trainInto trains the tiny specialist into dataDir as name's next version
// and promotes it.
func trainInto(t *testing.T, dataDir, name string) int {
	t.Helper()
	ex, err := spec.LoadCSV(strings.NewReader(tinyCSV), spec.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, res, err := spec.Train(context.Background(), ex, nil, spec.Config{Seed: 1, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	st, err := spec.OpenStore(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	man, err := st.Add(name, m, spec.NewManifest(m, res, ex))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Promote(name, man.Version); err != nil {
		t.Fatal(err)
	}
	return man.Version
}

func newClient(t *testing.T, dataDir, yaml string) provider.Provider {
	t.Helper()
	n, err := config.NodeFromMap(map[string]any{"specialist": yaml})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(dataDir)(provider.Deployment{ID: "d", Provider: Kind, Options: n})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func statusOf(err error) int {
	var se *provider.StatusError
	if errors.As(err, &se) {
		return se.Status
	}
	return 0
}

func TestFactoryOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts map[string]any
		ok   bool
	}{
		{"good", map[string]any{"specialist": "intent"}, true},
		{"missing", map[string]any{}, false},
		{"bad name", map[string]any{"specialist": "../x"}, false},
		{"unknown key", map[string]any{"specialist": "intent", "path": "x"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := config.NodeFromMap(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			p, err := New(t.TempDir())(provider.Deployment{ID: "d", Provider: Kind, Options: n})
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
			if p != nil {
				p.Close()
			}
		})
	}
}

func TestClassifyChatAndReload(t *testing.T) {
	dir := t.TempDir()
	p := newClient(t, dir, "intent")
	ctx := context.Background()

	// Before any training: 404 model_not_found at request time.
	_, err := p.Do(ctx, &provider.Request{Op: provider.OpClassify, Body: []byte(`{"model":"m","input":"hi"}`)})
	if statusOf(err) != 404 || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("untrained: %v", err)
	}

	trainInto(t, dir, "intent")
	resp, err := p.Do(ctx, &provider.Request{Op: provider.OpClassify, Body: []byte(`{"model":"m","input":["我要退款","where is my package"],"top_k":2}`)})
	if err != nil {
		t.Fatal(err)
	}
	var cr ClassifyResponse
	if err := json.Unmarshal(resp.Body, &cr); err != nil {
		t.Fatal(err)
	}
	got := []string{cr.Data[0].Labels[0].Label, cr.Data[1].Labels[0].Label}
	if diff := cmp.Diff([]string{"refund", "shipping"}, got); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if len(cr.Data[0].Labels) != 2 || cr.Version != 1 || cr.Usage.PromptTokens == 0 || cr.Usage.CompletionTokens != 0 {
		t.Errorf("response = %+v", cr)
	}

	// A new promoted version is picked up without a rebuild.
	if v := trainInto(t, dir, "intent"); v != 2 {
		t.Fatalf("version %d", v)
	}
	resp, err = p.Do(ctx, &provider.Request{Op: provider.OpClassify, Body: []byte(`{"model":"m","input":"hello"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(resp.Body, &cr); err != nil {
		t.Fatal(err)
	}
	if cr.Version != 2 || len(cr.Data) != 1 || len(cr.Data[0].Labels) != 1 || cr.Data[0].Labels[0].Label != "greeting" {
		t.Errorf("after promotion: %+v", cr)
	}

	// Chat: the last user message, answered as JSON content.
	resp, err = p.Do(ctx, &provider.Request{Op: provider.OpChat, RequestID: "r1", Body: []byte(
		`{"model":"m","messages":[{"role":"user","content":"hello"},{"role":"assistant","content":"?"},{"role":"user","content":[{"type":"text","text":"请给我退款"}]}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	var cc struct {
		ID      string `json:"id"`
		Choices []struct {
			Message      struct{ Content string } `json:"message"`
			FinishReason string                   `json:"finish_reason"`
		} `json:"choices"`
		Usage Usage `json:"usage"`
	}
	if err := json.Unmarshal(resp.Body, &cc); err != nil {
		t.Fatal(err)
	}
	var ans Answer
	if err := json.Unmarshal([]byte(cc.Choices[0].Message.Content), &ans); err != nil {
		t.Fatalf("content %q: %v", cc.Choices[0].Message.Content, err)
	}
	if ans.Label != "refund" || ans.Score <= 0 || cc.Choices[0].FinishReason != "stop" || cc.ID != "chatcmpl-r1" ||
		cc.Usage.CompletionTokens == 0 || cc.Usage.TotalTokens != cc.Usage.PromptTokens+cc.Usage.CompletionTokens {
		t.Errorf("chat = %+v, answer %+v", cc, ans)
	}

	// Streamed chat: a content chunk, a stop chunk, then usage when asked.
	resp, err = p.Do(ctx, &provider.Request{Op: provider.OpChat, Stream: true, Body: []byte(
		`{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"track my shipment"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	var chunks []string
	for {
		b, err := resp.Stream.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, string(b))
	}
	resp.Stream.Close()
	if len(chunks) != 3 || !strings.Contains(chunks[0], `\"label\":\"shipping\"`) ||
		!strings.Contains(chunks[1], `"finish_reason":"stop"`) || !strings.Contains(chunks[2], `"usage"`) {
		t.Errorf("chunks = %q", chunks)
	}
}

func TestBadRequests(t *testing.T) {
	dir := t.TempDir()
	trainInto(t, dir, "intent")
	p := newClient(t, dir, "intent")
	for _, tc := range []struct {
		name string
		op   provider.Op
		body string
		want int
	}{
		{"input number", provider.OpClassify, `{"model":"m","input":3}`, 400},
		{"input mixed", provider.OpClassify, `{"model":"m","input":["a",1]}`, 400},
		{"input empty", provider.OpClassify, `{"model":"m","input":[]}`, 400},
		{"input missing", provider.OpClassify, `{"model":"m"}`, 400},
		{"top_k zero", provider.OpClassify, `{"model":"m","input":"a","top_k":0}`, 400},
		{"no user message", provider.OpChat, `{"model":"m","messages":[{"role":"system","content":"x"}]}`, 400},
		{"image part", provider.OpChat, `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url"}]}]}`, 400},
		{"embeddings", provider.OpEmbedding, `{"model":"m","input":"a"}`, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Do(context.Background(), &provider.Request{Op: tc.op, Body: []byte(tc.body)})
			if statusOf(err) != tc.want {
				t.Fatalf("err = %v, want status %d", err, tc.want)
			}
			var env struct {
				Error struct{ Message, Type string } `json:"error"`
			}
			var se *provider.StatusError
			errors.As(err, &se)
			if json.Unmarshal(se.Body, &env) != nil || env.Error.Type != "invalid_request_error" {
				t.Errorf("body = %s", se.Body)
			}
		})
	}
}

func TestMissingStateAfterDelete(t *testing.T) {
	dir := t.TempDir()
	trainInto(t, dir, "intent")
	p := newClient(t, dir, "intent")
	if _, err := p.Do(context.Background(), &provider.Request{Op: provider.OpClassify, Body: []byte(`{"model":"m","input":"hi"}`)}); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "specialists", "intent")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Do(context.Background(), &provider.Request{Op: provider.OpClassify, Body: []byte(`{"model":"m","input":"hi"}`)}); statusOf(err) != 404 {
		t.Fatalf("after delete: %v", err)
	}
}

func FuzzDo(f *testing.F) {
	dir := f.TempDir()
	ex, _ := spec.LoadCSV(strings.NewReader(tinyCSV), spec.LoadOptions{})
	m, res, err := spec.Train(context.Background(), ex, nil, spec.Config{Seed: 1, Workers: 1})
	if err != nil {
		f.Fatal(err)
	}
	st, _ := spec.OpenStore(dir)
	man, _ := st.Add("intent", m, spec.NewManifest(m, res, ex))
	st.Promote("intent", man.Version)
	n, _ := config.NodeFromMap(map[string]any{"specialist": "intent"})
	p, _ := New(dir)(provider.Deployment{ID: "d", Provider: Kind, Options: n})
	f.Add(`{"model":"m","input":["a","b"],"top_k":9}`, false)
	f.Add(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`, true)
	f.Fuzz(func(t *testing.T, body string, chat bool) {
		op := provider.OpClassify
		if chat {
			op = provider.OpChat
		}
		resp, err := p.Do(context.Background(), &provider.Request{Op: op, Body: []byte(body)})
		if err != nil {
			if s := statusOf(err); s != 400 {
				t.Fatalf("status %d: %v", s, err)
			}
			return
		}
		if !json.Valid(resp.Body) {
			t.Fatalf("invalid JSON answer %s", resp.Body)
		}
	})
}
