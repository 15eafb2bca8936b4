package openai_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchyard/internal/config"
	"switchyard/internal/leakcheck"
	"switchyard/internal/provider"
	"switchyard/internal/provider/openai"
)

// TestMain fails the package when a test leaves a goroutine of the
// provider, an HTTP connection or an upstream handler behind.
func TestMain(m *testing.M) {
	leakcheck.Main(m, "switchyard/internal/provider", "net/http.(*persistConn)", "net/http.(*conn).serve")
}

// upstream is an httptest server whose handlers can block until the client
// goes away or the test ends (quit).
type upstream struct {
	*httptest.Server
	quit chan struct{}
}

func newUpstream(t *testing.T, h http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{Server: httptest.NewServer(h), quit: make(chan struct{})}
	t.Cleanup(u.Close)                  // runs last: waits for handlers
	t.Cleanup(func() { close(u.quit) }) // unblocks handlers first
	return u
}

// hold blocks a handler until its request's context ends (returning true)
// or the test ends. It reads the request body first, as a real upstream
// does: the server notices a closed connection only after that.
func (u *upstream) hold(r *http.Request) bool {
	io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
		return true
	case <-u.quit:
		return false
	}
}

// newClient builds the provider through its factory, so options go through
// the strict decoder as they do from a config file.
func newClient(t *testing.T, opts map[string]any) provider.Provider {
	t.Helper()
	n, err := config.NodeFromMap(opts)
	if err != nil {
		t.Fatal(err)
	}
	p, err := openai.New(provider.Deployment{Provider: openai.Kind, Options: n})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// wait fails the test when ch is not closed within 10 s.
func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func TestNewValidation(t *testing.T) {
	tests := []struct {
		name string
		opts map[string]any
		want string // substring of the error; "" means success
	}{
		{"valid", map[string]any{"base_url": "https://api.example.com/v1/", "api_key": "k", "timeout": "30s", "headers": map[string]string{"X-A": "b"}}, ""},
		{"no options", nil, "base_url is required"},
		{"empty base_url", map[string]any{"base_url": ""}, "base_url is required"},
		{"no scheme", map[string]any{"base_url": "localhost:8080/v1"}, "must be an http(s) URL"},
		{"ftp", map[string]any{"base_url": "ftp://example.com/v1"}, "must be an http(s) URL"},
		{"no host", map[string]any{"base_url": "http:///v1"}, "must be an http(s) URL"},
		{"unparsable", map[string]any{"base_url": "http://[::1"}, "must be an http(s) URL"},
		{"unknown key", map[string]any{"base_url": "http://x", "base_ur1": "http://y"}, "base_ur1"},
		{"bad duration", map[string]any{"base_url": "http://x", "idle_timeout": "soon"}, "idle_timeout"},
		{"bad type", map[string]any{"base_url": "http://x", "max_conns": "many"}, "max_conns"},
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
			p, err := openai.New(provider.Deployment{Provider: openai.Kind, Options: n})
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
	p := newClient(t, map[string]any{"base_url": "http://127.0.0.1:1/v1"})
	for op, want := range map[provider.Op]bool{
		provider.OpChat: true, provider.OpCompletion: true, provider.OpEmbedding: true, provider.OpClassify: false,
		provider.OpRerank: true, provider.OpImage: true, provider.OpModeration: true, provider.OpSpeech: true,
		provider.OpTranscription: true, provider.OpTranslation: true, provider.OpPassthrough: true,
	} {
		if got := provider.Supports(p, op); got != want {
			t.Errorf("Supports(%v) = %v, want %v", op, got, want)
		}
	}
}

// TestRequestForwarding checks the path per operation, that the body goes
// upstream byte for byte, and the headers the provider sets.
func TestRequestForwarding(t *testing.T) {
	type seen struct {
		method, path string
		body         []byte
		header       http.Header
		length       int64
	}
	got := make(chan seen, 1)
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("upstream read: %v", err)
		}
		got <- seen{r.Method, r.URL.Path, b, r.Header.Clone(), r.ContentLength}
		w.Header().Set("X-Ratelimit-Remaining-Requests", "41")
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"answer": "as is" }`)
	})
	// Not valid JSON on purpose: the provider does not parse bodies.
	body := []byte("{\"model\":\"up\",  \"messages\":[{\"role\":\"user\",\"content\":\"h\u00e9 \\ud83d\\ude00 <&>\"}],\n\"x\":1e400,\xff}")

	tests := []struct {
		name    string
		opts    map[string]any
		req     provider.Request
		path    string
		headers map[string]string // expected; "" means absent
	}{
		{
			name: "chat with key", req: provider.Request{Op: provider.OpChat, Body: body, RequestID: "req-1"},
			opts: map[string]any{"api_key": "sk-test"}, path: "/v1/chat/completions",
			headers: map[string]string{"Authorization": "Bearer sk-test", "Content-Type": "application/json", "Accept": "application/json", "X-Request-Id": "req-1"},
		},
		{
			name: "completion without key", req: provider.Request{Op: provider.OpCompletion, Body: body},
			path:    "/v1/completions",
			headers: map[string]string{"Authorization": "", "Content-Type": "application/json", "X-Request-Id": ""},
		},
		{
			name: "embedding with extra headers", req: provider.Request{Op: provider.OpEmbedding, Body: body},
			opts:    map[string]any{"api_key": "k2", "headers": map[string]string{"x-dashscope-sse": "disable", "OpenAI-Organization": "org-1"}},
			path:    "/v1/embeddings",
			headers: map[string]string{"Authorization": "Bearer k2", "X-Dashscope-Sse": "disable", "Openai-Organization": "org-1"},
		},
		{
			name: "extra header overrides authorization", req: provider.Request{Op: provider.OpChat, Body: body},
			opts: map[string]any{"api_key": "k3", "headers": map[string]string{"Authorization": "Token other"}},
			path: "/v1/chat/completions", headers: map[string]string{"Authorization": "Token other"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := map[string]any{"base_url": u.URL + "/v1/"} // trailing slash is trimmed
			for k, v := range tt.opts {
				opts[k] = v
			}
			p := newClient(t, opts)
			resp, err := p.Do(context.Background(), &tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if string(resp.Body) != `{"answer": "as is" }` || resp.Stream != nil {
				t.Errorf("response body %q, stream %v", resp.Body, resp.Stream)
			}
			if v := resp.Header.Get("X-Ratelimit-Remaining-Requests"); v != "41" {
				t.Errorf("response header not passed on: %q", v)
			}
			s := <-got
			if s.method != http.MethodPost || s.path != tt.path {
				t.Errorf("upstream saw %s %s, want POST %s", s.method, s.path, tt.path)
			}
			if diff := cmp.Diff(body, s.body); diff != "" {
				t.Errorf("body changed (-sent +seen):\n%s", diff)
			}
			if s.length != int64(len(body)) {
				t.Errorf("Content-Length %d, want %d", s.length, len(body))
			}
			for k, want := range tt.headers {
				if v := s.header.Get(k); v != want {
					t.Errorf("header %s = %q, want %q", k, v, want)
				}
			}
		})
	}
}

func TestStatusErrors(t *testing.T) {
	kinds := []error{provider.ErrRateLimited, provider.ErrUnavailable, provider.ErrTimeout, provider.ErrInvalidRequest, provider.ErrNotFound}
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		status    int
		header    map[string]string
		kinds     []error // exactly the kinds errors.Is finds
		retryable bool
		minRA     time.Duration
		maxRA     time.Duration
	}{
		{429, map[string]string{"Retry-After": "3"}, []error{provider.ErrRateLimited}, true, 3 * time.Second, 3 * time.Second},
		{429, map[string]string{"Retry-After": "0.5"}, []error{provider.ErrRateLimited}, true, 500 * time.Millisecond, 500 * time.Millisecond},
		{429, map[string]string{"Retry-After": date}, []error{provider.ErrRateLimited}, true, 80 * time.Second, 90 * time.Second},
		{429, map[string]string{"Retry-After-Ms": "1500", "Retry-After": "9"}, []error{provider.ErrRateLimited}, true, 1500 * time.Millisecond, 1500 * time.Millisecond},
		{429, map[string]string{"Retry-After": "soon"}, []error{provider.ErrRateLimited}, true, 0, 0},
		{429, nil, []error{provider.ErrRateLimited}, true, 0, 0},
		{500, nil, []error{provider.ErrUnavailable}, true, 0, 0},
		{502, nil, []error{provider.ErrUnavailable}, true, 0, 0},
		{503, map[string]string{"Retry-After": "7"}, []error{provider.ErrUnavailable}, true, 7 * time.Second, 7 * time.Second},
		{504, nil, []error{provider.ErrTimeout}, true, 0, 0},
		{408, nil, []error{provider.ErrTimeout}, true, 0, 0},
		{400, nil, []error{provider.ErrInvalidRequest}, false, 0, 0},
		{422, nil, []error{provider.ErrInvalidRequest}, false, 0, 0},
		{401, nil, []error{provider.ErrInvalidRequest}, false, 0, 0},
		// A 404 is a client error too; ErrNotFound lets the router tell it apart.
		{404, nil, []error{provider.ErrInvalidRequest, provider.ErrNotFound}, false, 0, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d %v", tt.status, tt.header), func(t *testing.T) {
			msg := fmt.Sprintf("upstream says %d", tt.status)
			u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				fmt.Fprintf(w, `{"error":{"message":%q,"type":"x"}}`, msg)
			})
			p := newClient(t, map[string]any{"base_url": u.URL})
			for _, stream := range []bool{false, true} {
				resp, err := p.Do(context.Background(), &provider.Request{Op: provider.OpChat, Body: []byte(`{}`), Stream: stream})
				if err == nil {
					t.Fatalf("stream=%v: got %+v, want an error", stream, resp)
				}
				for _, k := range kinds {
					want := false
					for _, w := range tt.kinds {
						want = want || w == k
					}
					if errors.Is(err, k) != want {
						t.Errorf("stream=%v: errors.Is(%v, %v) = %v", stream, err, k, !want)
					}
				}
				if provider.Retryable(err) != tt.retryable {
					t.Errorf("Retryable = %v", !tt.retryable)
				}
				var se *provider.StatusError
				if !errors.As(err, &se) || se.Status != tt.status {
					t.Fatalf("error %v is not a StatusError with status %d", err, tt.status)
				}
				if ra := provider.RetryAfterOf(err); ra < tt.minRA || ra > tt.maxRA {
					t.Errorf("RetryAfter = %v, want in [%v, %v]", ra, tt.minRA, tt.maxRA)
				}
				if !strings.Contains(err.Error(), msg) || !strings.Contains(string(se.Body), msg) {
					t.Errorf("error %q / body %q lacks the upstream message", err, se.Body)
				}
			}
		})
	}
}

func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := newClient(t, map[string]any{"base_url": "http://" + addr + "/v1"})
	for _, stream := range []bool{false, true} {
		_, err := p.Do(context.Background(), &provider.Request{Op: provider.OpChat, Body: []byte(`{}`), Stream: stream})
		if !errors.Is(err, provider.ErrUnavailable) || errors.Is(err, provider.ErrTimeout) || !provider.Retryable(err) {
			t.Errorf("stream=%v: err = %v, want ErrUnavailable", stream, err)
		}
		var se *provider.StatusError
		if errors.As(err, &se) {
			t.Errorf("a transport error is not a StatusError: %v", err)
		}
	}
}

// TestTimeouts covers first_byte_timeout, timeout (whole request) and
// idle_timeout; each ends with ErrTimeout and the upstream sees the request
// cancelled.
func TestTimeouts(t *testing.T) {
	tests := []struct {
		name   string
		opts   map[string]any
		stream bool
		// handler behaviour: events written before blocking, and whether
		// headers go out at all.
		headers bool
		events  []string
		// Next calls that succeed before the timeout shows.
		ok int
	}{
		{name: "first byte", opts: map[string]any{"first_byte_timeout": "50ms"}},
		{name: "first byte stream", opts: map[string]any{"first_byte_timeout": "50ms"}, stream: true},
		{name: "whole request before headers", opts: map[string]any{"timeout": "100ms"}},
		{name: "whole request mid body", opts: map[string]any{"timeout": "200ms"}, headers: true, events: []string{`{"partial":`}},
		{name: "whole request mid stream", opts: map[string]any{"timeout": "300ms"}, stream: true, headers: true, events: []string{"data: 1\n\n"}, ok: 1},
		{name: "idle", opts: map[string]any{"idle_timeout": "100ms"}, stream: true, headers: true, events: []string{"data: 1\n\n", "data: 2\n\n"}, ok: 2},
		{name: "idle before first event", opts: map[string]any{"idle_timeout": "100ms"}, stream: true, headers: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cancelled := make(chan struct{})
			var u *upstream
			u = newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.headers {
					w.Header().Set("Content-Type", "text/event-stream")
					w.WriteHeader(200)
					for _, e := range tt.events {
						io.WriteString(w, e)
					}
					w.(http.Flusher).Flush()
				}
				if u.hold(r) {
					close(cancelled)
				}
			})
			opts := map[string]any{"base_url": u.URL}
			for k, v := range tt.opts {
				opts[k] = v
			}
			p := newClient(t, opts)
			resp, err := p.Do(context.Background(), &provider.Request{Op: provider.OpChat, Body: []byte(`{}`), Stream: tt.stream})
			if err == nil && tt.stream {
				defer resp.Stream.Close()
				for i := 0; i < tt.ok; i++ {
					if _, err := resp.Stream.Next(); err != nil {
						t.Fatalf("Next %d: %v", i, err)
					}
				}
				_, err = resp.Stream.Next()
			}
			if !errors.Is(err, provider.ErrTimeout) || !provider.Retryable(err) {
				t.Fatalf("err = %v, want ErrTimeout", err)
			}
			wait(t, cancelled, "the upstream to see the request cancelled")
		})
	}
}

// TestCancellation checks that a cancelled caller context cancels the
// upstream request and comes back as context.Canceled, not as a fault of
// the upstream.
func TestCancellation(t *testing.T) {
	for _, tt := range []struct {
		name   string
		stream bool
		close  bool // end the stream with Close instead of the context
	}{
		{name: "before headers"},
		{name: "mid stream", stream: true},
		{name: "stream closed", stream: true, close: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			entered, cancelled := make(chan struct{}), make(chan struct{})
			var u *upstream
			u = newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.stream {
					w.Header().Set("Content-Type", "text/event-stream")
					io.WriteString(w, "data: first\n\n")
					w.(http.Flusher).Flush()
				}
				close(entered)
				if u.hold(r) {
					close(cancelled)
				}
			})
			p := newClient(t, map[string]any{"base_url": u.URL})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if !tt.stream {
				errc := make(chan error, 1)
				go func() {
					_, err := p.Do(ctx, &provider.Request{Op: provider.OpChat, Body: []byte(`{}`)})
					errc <- err
				}()
				wait(t, entered, "the upstream request")
				cancel()
				err := <-errc
				if !errors.Is(err, context.Canceled) || provider.Retryable(err) || errors.Is(err, provider.ErrInvalidRequest) {
					t.Errorf("err = %v, want context.Canceled and no upstream kind", err)
				}
				wait(t, cancelled, "the upstream to see the cancellation")
				return
			}
			resp, err := p.Do(ctx, &provider.Request{Op: provider.OpChat, Body: []byte(`{}`), Stream: true})
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Stream.Close()
			if b, err := resp.Stream.Next(); err != nil || string(b) != "first" {
				t.Fatalf("Next = %q, %v", b, err)
			}
			if tt.close {
				if err := resp.Stream.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
				if err := resp.Stream.Close(); err != nil {
					t.Errorf("second Close: %v", err)
				}
				wait(t, cancelled, "the upstream to see the stream closed")
				return
			}
			cancel()
			_, err = resp.Stream.Next()
			if err == nil || err == io.EOF || provider.Retryable(err) {
				t.Errorf("Next after cancel = %v, want a non-EOF error of no upstream kind", err)
			}
			wait(t, cancelled, "the upstream to see the cancellation")
		})
	}
}

// TestSSE checks how the stream reads upstream SSE bodies.
func TestSSE(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string
		end  error // what Next returns after want
	}{
		{"data lines and done", "data: {\"a\":1}\n\ndata: {\"a\":2}\n\ndata: [DONE]\n\n", []string{`{"a":1}`, `{"a":2}`}, io.EOF},
		{"multi-line data", "data: line1\ndata: line2\ndata:\n\ndata: [DONE]\n\n", []string{"line1\nline2\n"}, io.EOF},
		{"comments and keepalives", ": keepalive\n\n: OPENROUTER PROCESSING\n\ndata: x\n: inner comment\n\n:\n\ndata: [DONE]\n\n", []string{"x"}, io.EOF},
		{"other fields ignored", "event: message\nid: 7\nretry: 1000\ndata: y\n\nevent: ping\n\ndata: [DONE]\n\n", []string{"y"}, io.EOF},
		{"no space after colon", "data:z\n\ndata:[DONE]\n\n", []string{"z"}, io.EOF},
		{"crlf", "data: a\r\n\r\ndata: b\r\ndata: c\r\n\r\ndata: [DONE]\r\n\r\n", []string{"a", "b\nc"}, io.EOF},
		{"done ends the stream", "data: a\n\ndata: [DONE]\n\ndata: after\n\n", []string{"a"}, io.EOF},
		{"done inside data is data", "data: [DONE]\ndata: more\n\ndata: [DONE]\n\n", []string{"[DONE]\nmore"}, io.EOF},
		{"clean end without done", "data: a\n\ndata: b\n\n", []string{"a", "b"}, io.EOF},
		{"last event unterminated", "data: a\n\ndata: b", []string{"a", "b"}, io.EOF},
		{"empty body", "", nil, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Accept") != "text/event-stream" {
					t.Errorf("Accept = %q", r.Header.Get("Accept"))
				}
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, tt.body)
			})
			p := newClient(t, map[string]any{"base_url": u.URL})
			resp, err := p.Do(context.Background(), &provider.Request{Op: provider.OpChat, Body: []byte(`{}`), Stream: true})
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Stream.Close()
			var got []string
			for {
				b, err := resp.Stream.Next()
				if err != nil {
					if err != tt.end {
						t.Errorf("end = %v, want %v", err, tt.end)
					}
					break
				}
				got = append(got, string(b))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("payloads (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSSEDropped: a connection that breaks mid-stream is an error, not the
// clean end of the stream.
func TestSSEDropped(t *testing.T) {
	for _, tt := range []struct{ name, raw string }{
		{"short content-length", "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 1000\r\n\r\ndata: a\n\ndata: b"},
		{"chunked without last chunk", "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n9\r\ndata: a\n\n\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				conn, buf, err := w.(http.Hijacker).Hijack()
				if err != nil {
					t.Error(err)
					return
				}
				buf.WriteString(tt.raw)
				buf.Flush()
				conn.Close()
			})
			p := newClient(t, map[string]any{"base_url": u.URL})
			resp, err := p.Do(context.Background(), &provider.Request{Op: provider.OpChat, Body: []byte(`{}`), Stream: true})
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Stream.Close()
			if b, err := resp.Stream.Next(); err != nil || string(b) != "a" {
				t.Fatalf("first Next = %q, %v", b, err)
			}
			var err2 error
			for err2 == nil {
				_, err2 = resp.Stream.Next()
			}
			if !errors.Is(err2, io.ErrUnexpectedEOF) {
				t.Errorf("Next = %v, want io.ErrUnexpectedEOF", err2)
			}
		})
	}
}

// TestBuffered: Buffered reports an event that has arrived but not been
// returned, and nothing once the reader has caught up.
func TestBuffered(t *testing.T) {
	var u *upstream
	u = newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: 1\n\ndata: 2\n\n") // one write, one chunk
		w.(http.Flusher).Flush()
		u.hold(r)
	})
	p := newClient(t, map[string]any{"base_url": u.URL})
	resp, err := p.Do(context.Background(), &provider.Request{Op: provider.OpChat, Body: []byte(`{}`), Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Stream.Close()
	if b, err := resp.Stream.Next(); err != nil || string(b) != "1" {
		t.Fatalf("Next = %q, %v", b, err)
	}
	if !resp.Stream.Buffered() {
		t.Error("Buffered() = false with the second event read")
	}
	if b, err := resp.Stream.Next(); err != nil || string(b) != "2" {
		t.Fatalf("Next = %q, %v", b, err)
	}
	if resp.Stream.Buffered() {
		t.Error("Buffered() = true with nothing left")
	}
}

// TestResponseSize: a non-streamed answer over 64 MiB is refused, whether
// announced by Content-Length or only found while reading; a short body
// against its Content-Length is an error.
func TestResponseSize(t *testing.T) {
	const limit = 64 << 20
	tests := []struct {
		name    string
		handler func(w http.ResponseWriter)
		want    string
	}{
		{"content-length over", func(w http.ResponseWriter) {
			w.Header().Set("Content-Length", fmt.Sprint(limit+1))
			io.WriteString(w, "{")
		}, "over the"},
		{"chunked over", func(w http.ResponseWriter) {
			chunk := []byte(strings.Repeat("x", 1<<20))
			bw := bufio.NewWriterSize(w, 1<<20)
			for i := 0; i < limit>>20; i++ {
				bw.Write(chunk)
			}
			bw.WriteString("xy")
			bw.Flush()
		}, "over the"},
		{"short body", func(w http.ResponseWriter) {
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, `{"a":`)
		}, "unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { tt.handler(w) })
			p := newClient(t, map[string]any{"base_url": u.URL})
			resp, err := p.Do(context.Background(), &provider.Request{Op: provider.OpChat, Body: []byte(`{}`)})
			if err == nil {
				t.Fatalf("got a body of %d bytes, want an error", len(resp.Body))
			}
			if !strings.Contains(err.Error(), tt.want) || !errors.Is(err, provider.ErrUnavailable) {
				t.Errorf("err = %v, want ErrUnavailable mentioning %q", err, tt.want)
			}
		})
	}
}

// TestNativeResponses: with responses: true the client serves the
// Responses API natively, posting the body as given to {base}/responses.
func TestNativeResponses(t *testing.T) {
	var gotPath, gotBody string
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotPath, gotBody = r.URL.Path, string(b)
		if strings.Contains(gotBody, `"stream":true`) {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "event: response.created\ndata: {\"type\":\"response.created\"}\n\nevent: response.completed\ndata: {\"type\":\"response.completed\"}\n\n")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"resp_1","object":"response"}`)
	})
	plain := newClient(t, map[string]any{"base_url": u.URL + "/v1"})
	if provider.SupportsNative(plain, openai.APIResponses) {
		t.Fatal("a deployment without responses: true claims the Responses API")
	}
	p := newClient(t, map[string]any{"base_url": u.URL + "/v1", "responses": true})
	if !provider.SupportsNative(p, openai.APIResponses) || provider.SupportsNative(p, "anthropic.messages") {
		t.Fatal("NativeAPI answers wrongly")
	}
	np := p.(provider.Native)
	resp, err := np.DoNative(context.Background(), &provider.NativeRequest{API: openai.APIResponses, Path: "/responses", Body: []byte(`{"model":"m","input":"x"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if gotPath != "/v1/responses" || gotBody != `{"model":"m","input":"x"}` || string(resp.Body) != `{"id":"resp_1","object":"response"}` {
		t.Errorf("path %q body %q answer %s", gotPath, gotBody, resp.Body)
	}
	resp, err = np.DoNative(context.Background(), &provider.NativeRequest{API: openai.APIResponses, Path: "/responses", Body: []byte(`{"stream":true}`), Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Stream.Close()
	var got []string
	for {
		b, err := resp.Stream.Next()
		if err != nil {
			if err != io.EOF {
				t.Errorf("end = %v", err)
			}
			break
		}
		got = append(got, string(b))
	}
	if diff := cmp.Diff([]string{`{"type":"response.created"}`, `{"type":"response.completed"}`}, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if _, err := np.DoNative(context.Background(), &provider.NativeRequest{API: openai.APIResponses, Path: "/messages"}); !errors.Is(err, provider.ErrUnsupported) {
		t.Errorf("other path: %v", err)
	}
}
