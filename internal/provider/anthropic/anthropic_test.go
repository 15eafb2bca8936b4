package anthropic_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchyard/internal/config"
	"switchyard/internal/leakcheck"
	"switchyard/internal/provider"
	"switchyard/internal/provider/anthropic"
	wire "switchyard/internal/wire/anthropic"
)

func TestMain(m *testing.M) {
	leakcheck.Main(m, "switchyard/internal/provider", "net/http.(*persistConn)", "net/http.(*conn).serve")
}

type upstream struct {
	*httptest.Server
	quit chan struct{}
}

func newUpstream(t *testing.T, h http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{Server: httptest.NewServer(h), quit: make(chan struct{})}
	t.Cleanup(u.Close)
	t.Cleanup(func() { close(u.quit) })
	return u
}

// hold blocks a handler until the client goes away or the test ends.
func (u *upstream) hold(r *http.Request) {
	io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-u.quit:
	}
}

func newClient(t *testing.T, opts map[string]any) provider.Provider {
	t.Helper()
	n, err := config.NodeFromMap(opts)
	if err != nil {
		t.Fatal(err)
	}
	p, err := anthropic.New(provider.Deployment{Provider: anthropic.Kind, Options: n})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestNewValidation(t *testing.T) {
	tests := []struct {
		name string
		opts map[string]any
		want string
	}{
		{"defaults", nil, ""},
		{"full", map[string]any{"base_url": "https://api.anthropic.com/v1/", "api_key": "k", "anthropic_version": "2023-06-01",
			"beta": []string{"prompt-caching-2024-07-31"}, "timeout": "30s", "idle_timeout": "5s", "headers": map[string]string{"X-A": "b"}, "max_conns": 4}, ""},
		{"no scheme", map[string]any{"base_url": "api.anthropic.com"}, "must be an http(s) URL"},
		{"unknown key", map[string]any{"api_kee": "k"}, "api_kee"},
		{"bad beta", map[string]any{"beta": []string{"a,b"}}, "beta[0]"},
		{"bad duration", map[string]any{"idle_timeout": "soon"}, "idle_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n config.Node
			if tt.opts != nil {
				var err error
				if n, err = config.NodeFromMap(tt.opts); err != nil {
					t.Fatal(err)
				}
			}
			p, err := anthropic.New(provider.Deployment{Provider: anthropic.Kind, Options: n})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				p.Close()
				return
			}
			if err == nil {
				p.Close()
				t.Fatalf("New succeeded, want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestSupports(t *testing.T) {
	p := newClient(t, map[string]any{"base_url": "http://127.0.0.1:1"})
	for op, want := range map[provider.Op]bool{provider.OpChat: true, provider.OpCompletion: false, provider.OpEmbedding: false, provider.OpClassify: false} {
		if got := provider.Supports(p, op); got != want {
			t.Errorf("Supports(%v) = %v, want %v", op, got, want)
		}
	}
	if !provider.SupportsNative(p, "anthropic.messages") || provider.SupportsNative(p, "openai.responses") {
		t.Error("NativeAPI answers wrongly")
	}
	if _, err := p.Do(context.Background(), &provider.Request{Op: provider.OpEmbedding, Body: []byte(`{}`)}); !errors.Is(err, provider.ErrUnsupported) {
		t.Errorf("embedding: %v, want ErrUnsupported", err)
	}
}

type seen struct {
	path   string
	body   string
	header http.Header
}

// recorder answers with status and body and sends what it saw on the channel.
func recorder(t *testing.T, status int, ctype, body string, hdr map[string]string) (*upstream, chan seen) {
	got := make(chan seen, 4)
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.URL.Path, string(b), r.Header.Clone()}
		for k, v := range hdr {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", ctype)
		w.WriteHeader(status)
		io.WriteString(w, body)
	})
	return u, got
}

const chatReq = `{"model":"claude-sonnet-4-20250514","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello"}],"max_tokens":64}`

const messageResp = `{"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-20250514","content":[{"type":"text","text":"Hi!"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":3,"cache_read_input_tokens":100,"cache_creation_input_tokens":20}}`

func TestChatTranslated(t *testing.T) {
	u, got := recorder(t, 200, "application/json", messageResp, nil)
	p := newClient(t, map[string]any{"base_url": u.URL, "api_key": "sk-ant-test", "beta": []string{"a-2025", "b-2025"},
		"headers": map[string]string{"X-Extra": "1"}})
	resp, err := p.Do(context.Background(), &provider.Request{Op: provider.OpChat, Body: []byte(chatReq), RequestID: "req-9"})
	if err != nil {
		t.Fatal(err)
	}
	s := <-got
	wantBody, _ := wire.FromChatRequest([]byte(chatReq))
	if s.path != "/v1/messages" || s.body != string(wantBody) {
		t.Errorf("upstream got %s %s, want /v1/messages %s", s.path, s.body, wantBody)
	}
	for k, v := range map[string]string{"X-Api-Key": "sk-ant-test", "Anthropic-Version": "2023-06-01", "Anthropic-Beta": "a-2025,b-2025",
		"X-Extra": "1", "X-Request-Id": "req-9", "Content-Type": "application/json", "Authorization": ""} {
		if g := s.header.Get(k); g != v {
			t.Errorf("header %s = %q, want %q", k, g, v)
		}
	}
	wantResp, _ := wire.ToChatResponse([]byte(messageResp))
	// "created" is the translation time; compare the rest.
	if diff := cmp.Diff(dropCreated(string(wantResp)), dropCreated(string(resp.Body))); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
	for _, want := range []string{`"content":"Hi!"`, `"prompt_tokens":132`, `"cached_tokens":100`, `"cache_write_tokens":20`, `"finish_reason":"stop"`} {
		if !strings.Contains(string(resp.Body), want) {
			t.Errorf("response lacks %s: %s", want, resp.Body)
		}
	}
}

func dropCreated(s string) string {
	i := strings.Index(s, `"created":`)
	if i < 0 {
		return s
	}
	j := strings.IndexByte(s[i:], ',')
	return s[:i] + s[i+j+1:]
}

const sseStream = "event: message_start\n" +
	`data: {"type":"message_start","message":{"id":"msg_s","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"output_tokens":1}}}` + "\n\n" +
	"event: ping\ndata: {\"type\": \"ping\"}\n\n" +
	"event: content_block_start\n" + `data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}` + "\n\n" +
	"event: content_block_delta\n" + `data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}` + "\n\n" +
	"event: content_block_delta\n" + `data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"lo"}}` + "\n\n" +
	"event: content_block_stop\n" + `data: {"type":"content_block_stop","index":0}` + "\n\n" +
	"event: content_block_start\n" + `data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}}` + "\n\n" +
	"event: content_block_delta\n" + `data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}}` + "\n\n" +
	"event: content_block_delta\n" + `data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"Paris\"}"}}` + "\n\n" +
	"event: content_block_stop\n" + `data: {"type":"content_block_stop","index":1}` + "\n\n" +
	"event: message_delta\n" + `data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":15}}` + "\n\n" +
	"event: message_stop\n" + `data: {"type":"message_stop"}` + "\n\n"

func collect(t *testing.T, s provider.Stream) ([]string, error) {
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

func TestChatStreamTranslated(t *testing.T) {
	u, got := recorder(t, 200, "text/event-stream", sseStream, nil)
	p := newClient(t, map[string]any{"base_url": u.URL})
	resp, err := p.Do(context.Background(), &provider.Request{Op: provider.OpChat, Stream: true,
		Body: []byte(`{"model":"claude-x","stream":true,"messages":[{"role":"user","content":"weather?"}],"tools":[{"type":"function","function":{"name":"get_weather"}}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	s := <-got
	if s.header.Get("Accept") != "text/event-stream" || !strings.Contains(s.body, `"stream":true`) {
		t.Errorf("stream request: accept %q body %s", s.header.Get("Accept"), s.body)
	}
	chunks, err := collect(t, resp.Stream)
	if err != nil {
		t.Fatal(err)
	}
	// Translate the same events directly: the provider must add nothing.
	c := wire.NewChatStream()
	var want []string
	for _, block := range strings.Split(sseStream, "\n\n") {
		if i := strings.Index(block, "data: "); i >= 0 {
			if ch, err := c.Event([]byte(block[i+6:])); err != nil {
				t.Fatal(err)
			} else if ch != nil {
				want = append(want, string(ch))
			}
		}
	}
	if len(want) != 8 {
		t.Fatalf("direct translation gave %d chunks", len(want))
	}
	for i := range want {
		want[i] = dropCreated(want[i])
	}
	for i := range chunks {
		chunks[i] = dropCreated(chunks[i])
	}
	if diff := cmp.Diff(want, chunks); diff != "" {
		t.Errorf("chunks (-want +got):\n%s", diff)
	}
	for i, w := range map[int]string{0: `"role":"assistant"`, 1: `"content":"Hel"`, 3: `"name":"get_weather"`, 5: `"arguments":"\"Paris\"}"`, 6: `"finish_reason":"tool_calls"`, 7: `"prompt_tokens":25,"completion_tokens":15`} {
		if !strings.Contains(chunks[i], w) {
			t.Errorf("chunk %d = %s, want it to contain %s", i, chunks[i], w)
		}
	}
}

func TestStreamCutShort(t *testing.T) {
	cut := sseStream[:strings.Index(sseStream, "event: message_delta")]
	u, _ := recorder(t, 200, "text/event-stream", cut, nil)
	p := newClient(t, map[string]any{"base_url": u.URL})
	resp, err := p.Do(context.Background(), &provider.Request{Op: provider.OpChat, Stream: true, Body: []byte(chatReq)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := collect(t, resp.Stream); !errors.Is(err, provider.ErrUnavailable) {
		t.Errorf("stream without message_stop: %v, want ErrUnavailable", err)
	}
}

func TestStreamErrorEvent(t *testing.T) {
	body := sseStream[:strings.Index(sseStream, "event: ping")] +
		"event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}\n\n"
	u, _ := recorder(t, 200, "text/event-stream", body, nil)
	p := newClient(t, map[string]any{"base_url": u.URL})
	resp, err := p.Do(context.Background(), &provider.Request{Op: provider.OpChat, Stream: true, Body: []byte(chatReq)})
	if err != nil {
		t.Fatal(err)
	}
	chunks, err := collect(t, resp.Stream)
	var se *provider.StatusError
	if len(chunks) != 1 || !errors.As(err, &se) || se.Status != 529 || !errors.Is(err, provider.ErrUnavailable) || !provider.Retryable(err) {
		t.Errorf("got %d chunks, err %v; want the role chunk then a 529 StatusError", len(chunks), err)
	}
}

func TestStatusErrors(t *testing.T) {
	const invalidBody = `{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: must be less than 8192"}}`
	tests := []struct {
		name   string
		status int
		body   string
		hdr    map[string]string
		kind   error
		retry  time.Duration
	}{
		{"400 kept", 400, invalidBody, nil, provider.ErrInvalidRequest, 0},
		{"401", 401, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`, nil, provider.ErrInvalidRequest, 0},
		{"404", 404, `{"type":"error","error":{"type":"not_found_error","message":"model: nope"}}`, nil, provider.ErrNotFound, 0},
		{"429 retry-after", 429, `{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`, map[string]string{"Retry-After": "7"}, provider.ErrRateLimited, 7 * time.Second},
		{"529 overloaded", 529, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, nil, provider.ErrUnavailable, 0},
		{"500", 500, `{"type":"error","error":{"type":"api_error","message":"boom"}}`, nil, provider.ErrUnavailable, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, _ := recorder(t, tt.status, "application/json", tt.body, tt.hdr)
			p := newClient(t, map[string]any{"base_url": u.URL})
			for _, stream := range []bool{false, true} {
				_, err := p.Do(context.Background(), &provider.Request{Op: provider.OpChat, Stream: stream, Body: []byte(chatReq)})
				var se *provider.StatusError
				if !errors.As(err, &se) {
					t.Fatalf("stream=%v: %v, want a StatusError", stream, err)
				}
				if se.Status != tt.status || string(se.Body) != tt.body || se.RetryAfter != tt.retry || !errors.Is(err, tt.kind) {
					t.Errorf("stream=%v: %+v (%v), want status %d, body kept, retry %v, kind %v", stream, se, err, tt.status, tt.retry, tt.kind)
				}
			}
		})
	}
}

func TestUntranslatableRequest(t *testing.T) {
	u, got := recorder(t, 200, "application/json", messageResp, nil)
	p := newClient(t, map[string]any{"base_url": u.URL})
	_, err := p.Do(context.Background(), &provider.Request{Op: provider.OpChat, Body: []byte(`{"model":"m","n":3,"messages":[{"role":"user","content":"x"}]}`)})
	var e *wire.Error
	if !errors.Is(err, provider.ErrInvalidRequest) || !errors.As(err, &e) || !strings.HasPrefix(e.Message, "n:") {
		t.Errorf("err %v, want ErrInvalidRequest naming n", err)
	}
	select {
	case s := <-got:
		t.Errorf("request went upstream: %+v", s)
	default:
	}
}

func TestTimeouts(t *testing.T) {
	t.Run("first byte", func(t *testing.T) {
		var u *upstream
		u = newUpstream(t, func(w http.ResponseWriter, r *http.Request) { u.hold(r) })
		p := newClient(t, map[string]any{"base_url": u.URL, "first_byte_timeout": "100ms"})
		_, err := p.Do(context.Background(), &provider.Request{Op: provider.OpChat, Body: []byte(chatReq)})
		if !errors.Is(err, provider.ErrTimeout) {
			t.Errorf("err %v, want ErrTimeout", err)
		}
	})
	t.Run("whole request", func(t *testing.T) {
		var u *upstream
		u = newUpstream(t, func(w http.ResponseWriter, r *http.Request) { u.hold(r) })
		p := newClient(t, map[string]any{"base_url": u.URL, "timeout": "100ms"})
		_, err := p.Do(context.Background(), &provider.Request{Op: provider.OpChat, Body: []byte(chatReq)})
		if !errors.Is(err, provider.ErrTimeout) {
			t.Errorf("err %v, want ErrTimeout", err)
		}
	})
	t.Run("idle stream", func(t *testing.T) {
		var u *upstream
		u = newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, sseStream[:strings.Index(sseStream, "event: ping")])
			w.(http.Flusher).Flush()
			u.hold(r)
		})
		p := newClient(t, map[string]any{"base_url": u.URL, "idle_timeout": "150ms"})
		resp, err := p.Do(context.Background(), &provider.Request{Op: provider.OpChat, Stream: true, Body: []byte(chatReq)})
		if err != nil {
			t.Fatal(err)
		}
		chunks, err := collect(t, resp.Stream)
		if len(chunks) != 1 || !errors.Is(err, provider.ErrTimeout) {
			t.Errorf("%d chunks, err %v; want 1 then ErrTimeout", len(chunks), err)
		}
	})
	t.Run("refused", func(t *testing.T) {
		u := httptest.NewServer(http.NotFoundHandler())
		addr := u.URL
		u.Close()
		p := newClient(t, map[string]any{"base_url": addr})
		_, err := p.Do(context.Background(), &provider.Request{Op: provider.OpChat, Body: []byte(chatReq)})
		if !errors.Is(err, provider.ErrUnavailable) {
			t.Errorf("err %v, want ErrUnavailable", err)
		}
	})
	t.Run("client cancel", func(t *testing.T) {
		var u *upstream
		u = newUpstream(t, func(w http.ResponseWriter, r *http.Request) { u.hold(r) })
		p := newClient(t, map[string]any{"base_url": u.URL})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := p.Do(ctx, &provider.Request{Op: provider.OpChat, Body: []byte(chatReq)})
		if err == nil || errors.Is(err, provider.ErrUnavailable) {
			t.Errorf("err %v, want a non-upstream error", err)
		}
	})
}

func TestNativePassThrough(t *testing.T) {
	// Not what this provider would write: spacing, key order, cache_control
	// and an unknown field must all reach the upstream as sent.
	body := "{ \"model\":\"claude-x\",\"max_tokens\": 10,\n\"system\":[{\"type\":\"text\",\"text\":\"big\",\"cache_control\":{\"type\":\"ephemeral\"}}],\"messages\":[{\"role\":\"user\",\"content\":\"h\\u00e9\"}],\"future_field\":1e3}"
	answer := `{"id":"msg_n","type":"message","content":[{"type":"text","text":"ok"}],  "usage":{"input_tokens":1,"output_tokens":1,"cache_read_input_tokens":9}}`
	u, got := recorder(t, 200, "application/json", answer, map[string]string{"Request-Id": "req_up"})
	p := newClient(t, map[string]any{"base_url": u.URL + "/v1", "api_key": "k", "beta": []string{"configured-beta"}}).(provider.Native)

	tests := []struct {
		name          string
		path          string
		header        http.Header
		version, beta string
	}{
		{"configured headers", "/messages", nil, "2023-06-01", "configured-beta"},
		{"client version wins, betas join", "/messages/count_tokens", http.Header{"Anthropic-Version": {"2024-01-01"}, "Anthropic-Beta": {"x-1", "y-2"}}, "2024-01-01", "configured-beta,x-1,y-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := p.DoNative(context.Background(), &provider.NativeRequest{API: "anthropic.messages", Path: tt.path, Body: []byte(body), Header: tt.header})
			if err != nil {
				t.Fatal(err)
			}
			s := <-got
			if s.path != "/v1"+tt.path || s.body != body {
				t.Errorf("upstream got %s %q, want %s and the body byte for byte", s.path, s.body, "/v1"+tt.path)
			}
			if s.header.Get("Anthropic-Version") != tt.version || s.header.Get("Anthropic-Beta") != tt.beta || s.header.Get("X-Api-Key") != "k" {
				t.Errorf("headers %v", s.header)
			}
			if string(resp.Body) != answer || resp.Header.Get("Request-Id") != "req_up" {
				t.Errorf("answer %q, want it untouched", resp.Body)
			}
		})
	}
	for _, bad := range []provider.NativeRequest{{API: "anthropic.messages", Path: "/models"}, {API: "openai.responses", Path: "/messages"}} {
		if _, err := p.DoNative(context.Background(), &bad); !errors.Is(err, provider.ErrUnsupported) {
			t.Errorf("%+v: %v, want ErrUnsupported", bad, err)
		}
	}
}

func TestNativeStream(t *testing.T) {
	u, _ := recorder(t, 200, "text/event-stream", sseStream, nil)
	p := newClient(t, map[string]any{"base_url": u.URL}).(provider.Native)
	resp, err := p.DoNative(context.Background(), &provider.NativeRequest{API: "anthropic.messages", Path: "/messages", Stream: true, Body: []byte(`{"stream":true}`)})
	if err != nil {
		t.Fatal(err)
	}
	events, err := collect(t, resp.Stream)
	if err != nil {
		t.Fatal(err)
	}
	// Framing every payload again must give the upstream's stream back.
	var framed []byte
	var usage wire.Usage
	for _, e := range events {
		framed = wire.AppendEvent(framed, []byte(e))
		if u, ok := wire.ReadUsage([]byte(e)); ok {
			usage.Input = max(usage.Input, u.Input)
			usage.Output = u.Output
		}
	}
	if diff := cmp.Diff(sseStream, string(framed)); diff != "" {
		t.Errorf("re-framed stream (-upstream +got):\n%s", diff)
	}
	if usage != (wire.Usage{Input: 25, Output: 15}) {
		t.Errorf("usage %+v", usage)
	}
}

func TestNativeStatusError(t *testing.T) {
	body := `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`
	u, _ := recorder(t, 529, "application/json", body, nil)
	p := newClient(t, map[string]any{"base_url": u.URL}).(provider.Native)
	_, err := p.DoNative(context.Background(), &provider.NativeRequest{API: "anthropic.messages", Path: "/messages", Body: []byte(`{}`)})
	var se *provider.StatusError
	if !errors.As(err, &se) || se.Status != 529 || string(se.Body) != body || !errors.Is(err, provider.ErrUnavailable) {
		t.Errorf("err %v, want the 529 with its body", err)
	}
}
