package gemini_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"switchyard/internal/config"
	"switchyard/internal/leakcheck"
	"switchyard/internal/provider"
	"switchyard/internal/provider/gemini"
)

func TestMain(m *testing.M) {
	leakcheck.Main(m, "switchyard/internal/provider", "net/http.(*persistConn)", "net/http.(*conn).serve")
}

type call struct {
	path, query, key, reqID string
	body                    map[string]any
}

// fake is an upstream answering with handler, recording each call.
func fake(t *testing.T, handler func(w http.ResponseWriter, r *http.Request)) (*httptest.Server, chan call) {
	t.Helper()
	calls := make(chan call, 8)
	quit := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		json.Unmarshal(b, &m)
		calls <- call{r.URL.Path, r.URL.RawQuery, r.Header.Get("X-Goog-Api-Key"), r.Header.Get("X-Request-Id"), m}
		if handler == nil {
			<-quit
			return
		}
		select {
		case <-quit:
		default:
			handler(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(quit) })
	return srv, calls
}

func newClient(t *testing.T, opts map[string]any) provider.Provider {
	t.Helper()
	n, err := config.NodeFromMap(opts)
	if err != nil {
		t.Fatal(err)
	}
	p, err := gemini.New(provider.Deployment{Provider: gemini.Kind, Options: n})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

const chatBody = `{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"hi"}]}`

func TestChat(t *testing.T) {
	srv, calls := fake(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"candidates":[{"content":{"parts":[{"text":"hello"}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":2,"candidatesTokenCount":1,"totalTokenCount":3},"modelVersion":"gemini-2.5-flash-001","responseId":"xyz"}`)
	})
	p := newClient(t, map[string]any{"base_url": srv.URL + "/", "api_key": "sekret"})
	resp, err := p.Do(context.Background(), &provider.Request{Op: provider.OpChat, Body: []byte(chatBody), RequestID: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	c := <-calls
	if c.path != "/v1beta/models/gemini-2.5-flash:generateContent" || c.key != "sekret" || c.reqID != "r1" {
		t.Fatalf("call %+v", c)
	}
	if _, ok := c.body["contents"]; !ok {
		t.Fatalf("body %v", c.body)
	}
	var out struct {
		ID      string
		Model   string
		Choices []struct {
			Message      struct{ Content string }
			FinishReason string `json:"finish_reason"`
		}
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
		}
	}
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		t.Fatal(err)
	}
	if out.ID != "chatcmpl-xyz" || out.Model != "gemini-2.5-flash-001" || out.Choices[0].Message.Content != "hello" || out.Choices[0].FinishReason != "stop" || out.Usage.PromptTokens != 2 || out.Usage.CompletionTokens != 1 {
		t.Fatalf("%s", resp.Body)
	}
}

func readStream(t *testing.T, s provider.Stream) ([]string, error) {
	t.Helper()
	defer s.Close()
	var out []string
	for {
		b, err := s.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, string(b))
	}
}

func TestStreamWithTools(t *testing.T) {
	srv, calls := fake(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Let me check\"}],\"role\":\"model\"},\"index\":0}]}\r\n\r\n")
		w.(http.Flusher).Flush()
		fmt.Fprint(w, "data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"get_weather\",\"args\":{\"city\":\"Paris\"}}}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":9,\"candidatesTokenCount\":4,\"totalTokenCount\":13}}\r\n\r\n")
	})
	p := newClient(t, map[string]any{"base_url": srv.URL, "api_version": "v1"})
	body := `{"model":"gemini-2.5-pro","stream":true,"messages":[{"role":"user","content":"weather in Paris?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],"tool_choice":"auto"}`
	resp, err := p.Do(context.Background(), &provider.Request{Op: provider.OpChat, Body: []byte(body), Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	c := <-calls
	if c.path != "/v1/models/gemini-2.5-pro:streamGenerateContent" || c.query != "alt=sse" {
		t.Fatalf("call %+v", c)
	}
	if tc, _ := json.Marshal(c.body["toolConfig"]); string(tc) != `{"functionCallingConfig":{"mode":"AUTO"}}` {
		t.Fatalf("toolConfig %s", tc)
	}
	chunks, err := readStream(t, resp.Stream)
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) != 3 || !strings.Contains(chunks[0], `"role":"assistant","content":"Let me check"`) ||
		!strings.Contains(chunks[1], `"id":"call_0","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}`) ||
		!strings.Contains(chunks[1], `"finish_reason":"tool_calls"`) ||
		!strings.Contains(chunks[2], `"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13`) {
		t.Fatalf("chunks:\n%s", strings.Join(chunks, "\n"))
	}
}

func TestEmbeddings(t *testing.T) {
	srv, calls := fake(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"embeddings":[{"values":[0.1,0.2]},{"values":[0.3,0.4]}]}`)
	})
	p := newClient(t, map[string]any{"base_url": srv.URL})
	resp, err := p.Do(context.Background(), &provider.Request{Op: provider.OpEmbedding, Body: []byte(`{"model":"gemini-embedding-001","input":["a","b"],"dimensions":2}`)})
	if err != nil {
		t.Fatal(err)
	}
	c := <-calls
	reqs, _ := c.body["requests"].([]any)
	if c.path != "/v1beta/models/gemini-embedding-001:batchEmbedContents" || len(reqs) != 2 ||
		reqs[0].(map[string]any)["model"] != "models/gemini-embedding-001" || reqs[1].(map[string]any)["outputDimensionality"] != 2.0 {
		t.Fatalf("call %+v", c)
	}
	want := `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2]},{"object":"embedding","index":1,"embedding":[0.3,0.4]}],"model":"gemini-embedding-001","usage":{"prompt_tokens":0,"total_tokens":0}}`
	if string(resp.Body) != want {
		t.Fatalf("got %s", resp.Body)
	}
}

func TestStatusErrors(t *testing.T) {
	for _, tc := range []struct {
		status int
		header string
		body   string
		kind   error
		retry  time.Duration
	}{
		{400, "", `{"error":{"code":400,"message":"Invalid JSON payload received.","status":"INVALID_ARGUMENT"}}`, provider.ErrInvalidRequest, 0},
		{429, "", `{"error":{"code":429,"message":"You exceeded your current quota","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"22s"}]}}`, provider.ErrRateLimited, 22 * time.Second},
		{429, "7", `{"error":{"code":429,"message":"slow down","status":"RESOURCE_EXHAUSTED"}}`, provider.ErrRateLimited, 7 * time.Second},
		{500, "", `{"error":{"code":500,"message":"An internal error has occurred.","status":"INTERNAL"}}`, provider.ErrUnavailable, 0},
	} {
		srv, _ := fake(t, func(w http.ResponseWriter, r *http.Request) {
			if tc.header != "" {
				w.Header().Set("Retry-After", tc.header)
			}
			w.WriteHeader(tc.status)
			io.WriteString(w, tc.body)
		})
		p := newClient(t, map[string]any{"base_url": srv.URL})
		_, err := p.Do(context.Background(), &provider.Request{Op: provider.OpChat, Body: []byte(chatBody)})
		var se *provider.StatusError
		if !errors.As(err, &se) || se.Status != tc.status || string(se.Body) != tc.body || !errors.Is(err, tc.kind) || se.RetryAfter != tc.retry {
			t.Errorf("%d: %v (%+v)", tc.status, err, se)
			continue
		}
		var gb struct{ Error struct{ Message string } }
		if json.Unmarshal([]byte(tc.body), &gb); !strings.Contains(err.Error(), gb.Error.Message) {
			t.Errorf("%d: message lost: %v", tc.status, err)
		}
	}
}

func TestInvalidRequestNotSent(t *testing.T) {
	srv, calls := fake(t, nil)
	p := newClient(t, map[string]any{"base_url": srv.URL})
	_, err := p.Do(context.Background(), &provider.Request{Op: provider.OpChat, Body: []byte(`{"model":"g","messages":[{"role":"user","content":"x"}],"logprobs":true}`)})
	if !errors.Is(err, provider.ErrInvalidRequest) || !strings.Contains(err.Error(), "logprobs") {
		t.Fatalf("%v", err)
	}
	if _, err := p.Do(context.Background(), &provider.Request{Op: provider.OpCompletion, Body: []byte(`{}`)}); !errors.Is(err, provider.ErrUnsupported) {
		t.Fatalf("completion: %v", err)
	}
	if provider.Supports(p, provider.OpCompletion) || provider.Supports(p, provider.OpClassify) || !provider.Supports(p, provider.OpEmbedding) || !provider.Supports(p, provider.OpChat) {
		t.Fatal("Supports")
	}
	select {
	case c := <-calls:
		t.Fatalf("upstream called: %+v", c)
	default:
	}
}

func TestIdleTimeout(t *testing.T) {
	srv, _ := fake(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]},\"index\":0}]}\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	p := newClient(t, map[string]any{"base_url": srv.URL, "idle_timeout": "200ms"})
	resp, err := p.Do(context.Background(), &provider.Request{Op: provider.OpChat, Body: []byte(chatBody), Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	chunks, err := readStream(t, resp.Stream)
	if len(chunks) != 1 || !errors.Is(err, provider.ErrTimeout) || !strings.Contains(err.Error(), "stalled") {
		t.Fatalf("%d chunks, err %v", len(chunks), err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %s", d)
	}
}

func TestTransportError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	p := newClient(t, map[string]any{"base_url": u})
	_, err := p.Do(context.Background(), &provider.Request{Op: provider.OpChat, Body: []byte(chatBody)})
	if !errors.Is(err, provider.ErrUnavailable) {
		t.Fatalf("%v", err)
	}
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		opts map[string]any
		want string
	}{
		{map[string]any{"bogus": 1}, "unknown field"},
		{map[string]any{"base_url": "ftp://x"}, "http(s)"},
		{map[string]any{"api_version": "v1/../x"}, "api_version"},
	} {
		n, _ := config.NodeFromMap(tc.opts)
		if _, err := gemini.New(provider.Deployment{Provider: gemini.Kind, Options: n}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v", tc.opts, err)
		}
	}
	n, _ := config.NodeFromMap(map[string]any{})
	p, err := gemini.New(provider.Deployment{Provider: gemini.Kind, Options: n})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
}
