package server_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"switchyard/internal/config"
	"switchyard/internal/provider"
	"switchyard/internal/server"
)

// memProvider answers every chat call with one fixed body, in memory, so
// the benchmark measures Switchyard's own path and not an upstream's.
type memProvider struct{}

var memAnswer = []byte(`{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"upstream-chat","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there, how can I help?"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":8,"total_tokens":20}}`)

func (memProvider) Do(ctx context.Context, r *provider.Request) (*provider.Response, error) {
	return &provider.Response{Body: memAnswer}, nil
}
func (memProvider) Close() error { return nil }

// BenchmarkServeChat is one non-streamed chat call through the whole
// server handler (request id, authentication, body, validation, limits and
// metering, the default guard policy, routing, relay, ledger record, log
// line) with the admin key, against an in-memory upstream. It is written
// against APIs that predate the request path's restructure, so the same
// file measures the code before and after it (`-benchmem`, benchstat).
func BenchmarkServeChat(b *testing.B) {
	body := []byte(`{"model":"chat","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Where is my parcel? It was due on Monday."}]}`)
	benchServe(b, "/v1/chat/completions", body)
}

// BenchmarkServeMessages is BenchmarkServeChat's call made with
// Anthropic's Messages API: the difference between the two is what the
// translation both ways costs on the whole path.
func BenchmarkServeMessages(b *testing.B) {
	body := []byte(`{"model":"chat","max_tokens":256,"system":"You are a helpful assistant.","messages":[{"role":"user","content":"Where is my parcel? It was due on Monday."}]}`)
	benchServe(b, "/v1/messages", body)
}

func benchServe(b *testing.B, path string, body []byte) {
	yaml := "data_dir: " + b.TempDir() + `
models:
  - name: chat
    deployments:
      - {id: chat-a, provider: mem, model: upstream-chat}
`
	cfg, err := config.Parse("bench.yaml", []byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		b.Fatal(err)
	}
	reg := &provider.Registry{}
	reg.Register("mem", func(provider.Deployment) (provider.Provider, error) { return memProvider{}, nil })
	s, err := server.New(context.Background(), server.Options{Config: cfg, AdminKey: adminKey, Registry: reg,
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	h := s.Handler()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+adminKey)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
