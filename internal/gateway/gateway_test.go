package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"switchyard/internal/call"
	"switchyard/internal/config"
	"switchyard/internal/gateway"
	"switchyard/internal/provider"
	"switchyard/internal/router"
	"switchyard/internal/tenancy"
)

// reply is one scripted upstream answer.
type reply struct {
	err    error    // Do fails
	body   string   // non-stream answer ("": a default chat completion)
	chunks []string // stream payloads (nil: the default chunks)
	hang   bool     // after the chunks, block until the request's context ends
	fail   error    // after the chunks, the stream fails with this
}

// upstream is a fake provider: scripted replies, then defaults. It keeps a
// copy of every body it was sent.
type upstream struct {
	model string // the deployment's upstream model name
	ops   []provider.Op

	mu      sync.Mutex
	replies []reply
	bodies  []string
	closed  int // streams closed
}

var _ provider.Supporter = (*upstream)(nil)

func (u *upstream) Supports(op provider.Op) bool {
	if u.ops == nil {
		return true
	}
	for _, o := range u.ops {
		if o == op {
			return true
		}
	}
	return false
}

func (u *upstream) Close() error { return nil }

func (u *upstream) then(r ...reply) {
	u.mu.Lock()
	u.replies = append(u.replies, r...)
	u.mu.Unlock()
}

func (u *upstream) sent() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.bodies...)
}

func (u *upstream) Do(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.bodies = append(u.bodies, string(req.Body))
	var r reply
	if len(u.replies) > 0 {
		r, u.replies = u.replies[0], u.replies[1:]
	}
	if r.err != nil {
		return nil, r.err
	}
	if !req.Stream {
		body := r.body
		if body == "" {
			body = `{"id":"c1","object":"chat.completion","model":"` + u.model + `","choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":7,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":2}}}`
		}
		return &provider.Response{Body: []byte(body)}, nil
	}
	chunks := r.chunks
	if chunks == nil {
		chunks = []string{
			`{"id":"c1","object":"chat.completion.chunk","model":"` + u.model + `","choices":[{"index":0,"delta":{"role":"assistant","content":"hel"},"finish_reason":null}]}`,
			`{"id":"c1","object":"chat.completion.chunk","model":"` + u.model + `","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}`,
		}
		if strings.Contains(string(req.Body), `"include_usage":true`) { // as a real upstream does
			chunks = append(chunks, `{"id":"c1","object":"chat.completion.chunk","model":"`+u.model+`","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2}}`)
		}
	}
	return &provider.Response{Stream: &sliceStream{ctx: ctx, u: u, chunks: chunks, hang: r.hang, fail: r.fail}}, nil
}

// sliceStream yields payloads from a slice.
type sliceStream struct {
	ctx    context.Context
	u      *upstream
	chunks []string
	hang   bool
	fail   error
}

func (s *sliceStream) Next() ([]byte, error) {
	if len(s.chunks) == 0 {
		if s.hang {
			<-s.ctx.Done()
			return nil, s.ctx.Err()
		}
		if s.fail != nil {
			return nil, s.fail
		}
		return nil, io.EOF
	}
	c := s.chunks[0]
	s.chunks = s.chunks[1:]
	return []byte(c), nil
}

func (s *sliceStream) Buffered() bool { return false }

func (s *sliceStream) Close() error {
	s.u.mu.Lock()
	s.u.closed++
	s.u.mu.Unlock()
	return nil
}

// clock is the router's fake time: sleeps return at once and move Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return nil
}

type auth struct{}

func (auth) Authenticate(secret string, _ time.Time) (*tenancy.Key, error) {
	if secret != "sk-good" {
		return nil, errors.New("no such key")
	}
	return &tenancy.Key{ID: "key-1"}, nil
}

// admitter admits every call with a fresh ticket, unless refuse is set.
type admitter struct {
	refuse error
	header http.Header // added to the answer's header on admission
	// routeRefuse refuses the ticket's Route on a deployment.
	routeRefuse map[string]error

	mu      sync.Mutex
	calls   int
	tickets []*ticket
}

func (a *admitter) Admit(ctx context.Context, c *call.Call, r *call.Request) (call.Ticket, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls++
	if a.refuse != nil {
		return nil, a.refuse
	}
	for k, v := range a.header {
		r.Header[k] = v
	}
	t := &ticket{refuse: a.routeRefuse, done: make(chan struct{})}
	a.tickets = append(a.tickets, t)
	return t, nil
}

func (a *admitter) only(t *testing.T) *ticket {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.tickets) != 1 {
		t.Fatalf("%d tickets, want 1", len(a.tickets))
	}
	return a.tickets[0]
}

// ticket records what the gateway tells it.
type ticket struct {
	refuse map[string]error

	mu       sync.Mutex
	routes   []string
	released []string
	results  []call.Result
	done     chan struct{}
}

func (t *ticket) Route(ctx context.Context, deployment string) (func(), error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.routes = append(t.routes, deployment)
	if err := t.refuse[deployment]; err != nil {
		return nil, err
	}
	return func() {
		t.mu.Lock()
		t.released = append(t.released, deployment)
		t.mu.Unlock()
	}, nil
}

func (t *ticket) Done(r *call.Result) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := *r // Request, Response and Generated are only valid during Done
	c.Request = bytes.Clone(r.Request)
	c.Response = bytes.Clone(r.Response)
	c.Generated = bytes.Clone(r.Generated)
	c.Latency = 0
	t.results = append(t.results, c)
	if len(t.results) == 1 {
		close(t.done)
	}
}

// result is the one Result Done got; the test fails if Done was not called exactly once.
func (t *ticket) result(tb testing.TB) call.Result {
	tb.Helper()
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.results) != 1 {
		tb.Fatalf("Done called %d times, want once", len(t.results))
	}
	return t.results[0]
}

// guard is a fake guard: it may refuse, rewrite the body, and filter output.
type guard struct {
	refuse  error
	rewrite func(body string) string
	out     func() call.Output
	calls   int
}

func (g *guard) Input(ctx context.Context, c *call.Call, r *call.Request) ([]byte, func() call.Output, error) {
	g.calls++
	if g.refuse != nil {
		return nil, nil, g.refuse
	}
	var body []byte
	if g.rewrite != nil {
		body = []byte(g.rewrite(string(r.Body)))
	}
	return body, g.out, nil
}

// upper is an output filter that upper-cases what it is given.
type upper struct{}

func (upper) Text(s string) string { return strings.ToUpper(s) }
func (upper) Flush() string        { return "" }

// syncBuffer is a log sink safe for a server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const catalog = `
router:
  breaker: {failures: 1, cooldown: 30s}
  backoff: {initial: 10ms, max: 100ms, max_wait: 10s}
models:
  - name: gpt-pub
    max_retries: 1
    deployments:
      - {id: dep-a, provider: fake, model: up-a}
      - {id: dep-b, provider: fake, model: up-b}
  - name: solo
    max_retries: 0
    deployments: [{id: dep-s, provider: fake}]
  - name: chatter
    deployments: [{id: dep-c, provider: fake, ops: [chat, completion]}]
`

type harness struct {
	g     *gateway.Service
	up    map[string]*upstream
	admit *admitter
	log   *syncBuffer
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(catalog), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{up: map[string]*upstream{}, admit: &admitter{}, log: &syncBuffer{}}
	var reg provider.Registry
	reg.Register("fake", func(d provider.Deployment) (provider.Provider, error) {
		var opt struct {
			Ops []string `yaml:"ops"`
		}
		if err := d.Options.Decode(&opt); err != nil {
			return nil, err
		}
		u := &upstream{model: d.Model}
		for _, o := range opt.Ops {
			u.ops = append(u.ops, map[string]provider.Op{"chat": provider.OpChat, "completion": provider.OpCompletion}[o])
		}
		h.up[d.ID] = u
		return u, nil
	})
	rt := router.New(cfg.Router, nil)
	rt.SetClock(&clock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}, func(int) int { return 0 }) // always the first deployment
	cat, err := rt.Build(cfg, &reg)
	if err != nil {
		t.Fatal(err)
	}
	rt.Swap(cat)
	t.Cleanup(rt.Close)
	h.g = &gateway.Service{
		Auth: auth{}, Router: rt, Admit: h.admit,
		Log:     slog.New(slog.NewJSONHandler(h.log, nil)),
		MaxBody: func() int64 { return 1 << 10 },
	}
	return h
}

// do sends body to the handler of op with the good key.
func (h *harness) do(op provider.Op, body string) *httptest.ResponseRecorder {
	return h.doWith(op, body, func(r *http.Request) { r.Header.Set("Authorization", "Bearer sk-good") })
}

func (h *harness) doWith(op provider.Op, body string, prep func(*http.Request)) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/v1"+op.Path(), strings.NewReader(body))
	r.Header.Set(gateway.HeaderRequestID, "req-1")
	if prep != nil {
		prep(r)
	}
	w := httptest.NewRecorder()
	w.Header().Set(gateway.HeaderRequestID, "req-1") // as the server's middleware does
	h.g.Handler(op)(w, r)
	return w
}

// lines are the log's JSON lines.
func (h *harness) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(h.log.String()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// line is the request's one log line.
func (h *harness) line(t *testing.T) map[string]any {
	t.Helper()
	ls := h.lines(t)
	if len(ls) != 1 {
		t.Fatalf("%d log lines, want one:\n%s", len(ls), h.log.String())
	}
	return ls[0]
}

type apiError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func errorBody(t *testing.T, w *httptest.ResponseRecorder) apiError {
	t.Helper()
	var env struct{ Error *apiError }
	if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.Error == nil {
		t.Fatalf("not an error envelope: %q (%v)", w.Body.String(), err)
	}
	return *env.Error
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// events are the data payloads of an SSE answer, [DONE] included.
func events(t *testing.T, body string) []string {
	t.Helper()
	var out []string
	for _, block := range strings.Split(strings.TrimSuffix(body, "\n\n"), "\n\n") {
		if !strings.HasPrefix(block, "data: ") {
			t.Fatalf("not an SSE data event: %q in %q", block, body)
		}
		out = append(out, strings.TrimPrefix(block, "data: "))
	}
	return out
}

// contentOf is the text of a chat answer or chunk and its model.
func contentOf(t *testing.T, doc string) (model, text string) {
	t.Helper()
	var v struct {
		Model   string
		Choices []struct {
			Message struct{ Content string }
			Delta   struct{ Content string }
		}
	}
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatalf("%q: %v", doc, err)
	}
	for _, c := range v.Choices {
		text += c.Message.Content + c.Delta.Content
	}
	return v.Model, text
}

const (
	chatSolo   = `{"model":"solo","messages":[{"role":"user","content":"hi"}]}`
	chatPub    = `{"model":"gpt-pub","messages":[{"role":"user","content":"my card is 4111"}]}`
	streamPub  = `{"model":"gpt-pub","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	streamSolo = `{"model":"solo","stream":true,"messages":[{"role":"user","content":"hi"}]}`
)

func TestRequestErrors(t *testing.T) {
	tests := []struct {
		name       string
		op         provider.Op
		body       string
		prep       func(*http.Request)
		wantStatus int
		wantType   string
		wantCode   string
		wantParam  string
	}{
		{name: "no key", body: chatSolo, prep: func(*http.Request) {}, wantStatus: 401, wantType: "authentication_error", wantCode: "missing_api_key"},
		{name: "bad key", body: chatSolo, prep: func(r *http.Request) { r.Header.Set("Authorization", "Bearer sk-bad") },
			wantStatus: 401, wantType: "authentication_error", wantCode: "invalid_api_key"},
		{name: "bad x-api-key", body: chatSolo, prep: func(r *http.Request) { r.Header.Set("X-Api-Key", "nope") },
			wantStatus: 401, wantType: "authentication_error", wantCode: "invalid_api_key"},
		{name: "body over the limit", body: `{"model":"solo","messages":[{"role":"user","content":"` + strings.Repeat("x", 2<<10) + `"}]}`,
			wantStatus: 413, wantType: "invalid_request_error", wantCode: "request_too_large"},
		{name: "body over the limit without a length", body: `{"model":"solo","messages":[{"role":"user","content":"` + strings.Repeat("x", 2<<10) + `"}]}`,
			prep:       func(r *http.Request) { r.Header.Set("Authorization", "Bearer sk-good"); r.ContentLength = -1 },
			wantStatus: 413, wantType: "invalid_request_error", wantCode: "request_too_large"},
		{name: "malformed JSON", body: `{"model":"solo",`, wantStatus: 400, wantType: "invalid_request_error", wantCode: "invalid_json"},
		{name: "invalid UTF-8", body: "{\"model\":\"solo\",\"messages\":[{\"role\":\"user\",\"content\":\"\xff\"}]}", wantStatus: 400, wantType: "invalid_request_error", wantCode: "invalid_json"},
		{name: "no model", body: `{"messages":[{"role":"user","content":"hi"}]}`, wantStatus: 400, wantType: "invalid_request_error", wantParam: "model"},
		{name: "empty model", body: `{"model":"","messages":[{"role":"user","content":"hi"}]}`, wantStatus: 400, wantType: "invalid_request_error", wantParam: "model"},
		{name: "model not a string", body: `{"model":7,"messages":[{"role":"user","content":"hi"}]}`, wantStatus: 400, wantType: "invalid_request_error", wantParam: "model"},
		{name: "stream not a boolean", body: `{"model":"solo","stream":"yes","messages":[{"role":"user","content":"hi"}]}`, wantStatus: 400, wantType: "invalid_request_error", wantParam: "stream"},
		{name: "stream_options not an object", body: `{"model":"solo","stream":true,"stream_options":1,"messages":[{"role":"user","content":"hi"}]}`, wantStatus: 400, wantType: "invalid_request_error", wantParam: "stream_options"},
		{name: "max_tokens not a number", body: `{"model":"solo","max_tokens":"9","messages":[{"role":"user","content":"hi"}]}`, wantStatus: 400, wantType: "invalid_request_error", wantParam: "max_tokens"},
		{name: "no messages", body: `{"model":"solo"}`, wantStatus: 400, wantType: "invalid_request_error", wantParam: "messages"},
		{name: "messages not an array", body: `{"model":"solo","messages":{}}`, wantStatus: 400, wantType: "invalid_request_error", wantParam: "messages"},
		{name: "empty messages", body: `{"model":"solo","messages":[]}`, wantStatus: 400, wantType: "invalid_request_error", wantParam: "messages"},
		{name: "message not an object", body: `{"model":"solo","messages":["hi"]}`, wantStatus: 400, wantType: "invalid_request_error", wantParam: "messages[0]"},
		{name: "message without a role", body: `{"model":"solo","messages":[{"role":"user","content":"a"},{"content":"b"}]}`, wantStatus: 400, wantType: "invalid_request_error", wantParam: "messages[1].role"},
		{name: "role not a string", body: `{"model":"solo","messages":[{"role":1}]}`, wantStatus: 400, wantType: "invalid_request_error", wantParam: "messages[0].role"},
		{name: "completion without a prompt", op: provider.OpCompletion, body: `{"model":"solo"}`, wantStatus: 400, wantType: "invalid_request_error", wantParam: "prompt"},
		{name: "embedding streamed", op: provider.OpEmbedding, body: `{"model":"solo","input":"a","stream":true}`, wantStatus: 400, wantType: "invalid_request_error", wantParam: "stream"},
		{name: "classify input not strings", op: provider.OpClassify, body: `{"model":"solo","input":["a",1]}`, wantStatus: 400, wantType: "invalid_request_error", wantParam: "input[1]"},
		{name: "unknown model", body: `{"model":"nope","messages":[{"role":"user","content":"hi"}]}`, wantStatus: 404, wantType: "not_found_error", wantCode: "model_not_found", wantParam: "model"},
		{name: "unsupported op", op: provider.OpClassify, body: `{"model":"chatter","input":"hi"}`, wantStatus: 400, wantType: "invalid_request_error", wantCode: "unsupported_operation", wantParam: "model"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			prep := tt.prep
			if prep == nil {
				prep = func(r *http.Request) { r.Header.Set("Authorization", "Bearer sk-good") }
			}
			w := h.doWith(tt.op, tt.body, prep)
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.wantStatus, w.Body)
			}
			e := errorBody(t, w)
			if e.Type != tt.wantType || str(e.Code) != tt.wantCode || str(e.Param) != tt.wantParam || e.Message == "" {
				t.Errorf("error = %+v (code %q, param %q), want type %q code %q param %q", e, str(e.Code), str(e.Param), tt.wantType, tt.wantCode, tt.wantParam)
			}
			if h.admit.calls != 0 {
				t.Errorf("a refused request was admitted (%d)", h.admit.calls)
			}
			for id, u := range h.up {
				if n := len(u.sent()); n != 0 {
					t.Errorf("%s was sent %d requests", id, n)
				}
			}
		})
	}
}

func TestAdmitRefusals(t *testing.T) {
	tests := []struct {
		name       string
		refusal    error
		wantStatus int
		wantType   string
		wantCode   string
		wantHeader http.Header
		notInBody  string
	}{
		{name: "forbidden", refusal: &call.Refusal{Kind: call.ErrForbidden, Message: "no access"},
			wantStatus: 403, wantType: "permission_error", wantCode: "insufficient_permissions"},
		{name: "model not for this key", refusal: &call.Refusal{Kind: call.ErrModelNotFound, Message: "no such model"},
			wantStatus: 404, wantType: "not_found_error", wantCode: "model_not_found"},
		{name: "rate limited", refusal: &call.Refusal{Kind: call.ErrRateLimited, Message: "slow down", RetryAfter: 1500 * time.Millisecond,
			Header: http.Header{"X-Ratelimit-Remaining-Requests": {"0"}}},
			wantStatus: 429, wantType: "rate_limit_error", wantCode: "rate_limit_exceeded",
			wantHeader: http.Header{"Retry-After": {"2"}, "X-Ratelimit-Remaining-Requests": {"0"}}},
		{name: "quota", refusal: &call.Refusal{Kind: call.ErrQuota, Message: "budget spent", Cause: errors.New("ledger says 0")},
			wantStatus: 429, wantType: "insufficient_quota", wantCode: "insufficient_quota", notInBody: "ledger"},
		{name: "unavailable", refusal: &call.Refusal{Kind: call.ErrUnavailable, Message: "try later", Cause: errors.New("redis: dial 10.9.9.9")},
			wantStatus: 503, wantType: "server_error", wantCode: "service_unavailable", notInBody: "10.9.9.9"},
		{name: "no kind: internal", refusal: errors.New("db on fire at 10.9.9.9"),
			wantStatus: 500, wantType: "server_error", wantCode: "internal_error", notInBody: "10.9.9.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			g := &guard{}
			h.g.Guard = g
			h.admit.refuse = tt.refusal
			w := h.do(provider.OpChat, chatSolo)
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.wantStatus, w.Body)
			}
			e := errorBody(t, w)
			if e.Type != tt.wantType || str(e.Code) != tt.wantCode {
				t.Errorf("error = %+v (code %q), want type %q code %q", e, str(e.Code), tt.wantType, tt.wantCode)
			}
			for k, v := range tt.wantHeader {
				if got := w.Header().Values(k); !cmp.Equal(got, v) {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if tt.notInBody != "" && strings.Contains(w.Body.String(), tt.notInBody) {
				t.Errorf("the answer shows internal detail: %s", w.Body)
			}
			if tt.wantStatus == 500 && !strings.Contains(e.Message, "req-1") {
				t.Errorf("an internal error should name the request id: %q", e.Message)
			}
			if g.calls != 0 || len(h.up["dep-s"].sent()) != 0 {
				t.Errorf("a refused call reached the guard (%d) or the upstream (%d)", g.calls, len(h.up["dep-s"].sent()))
			}
			if l := h.line(t); l["status"] != float64(tt.wantStatus) || l["key"] != "key-1" {
				t.Errorf("log line %v", l)
			}
		})
	}
}

func TestAdmitHeaders(t *testing.T) {
	h := newHarness(t)
	h.admit.header = http.Header{"X-Ratelimit-Remaining-Requests": {"41"}}
	w := h.do(provider.OpChat, chatSolo)
	if w.Code != 200 || w.Header().Get("X-Ratelimit-Remaining-Requests") != "41" {
		t.Errorf("status %d, header %q: an admitted call's headers should reach the answer", w.Code, w.Header().Get("X-Ratelimit-Remaining-Requests"))
	}
}

func TestGuard(t *testing.T) {
	redact := func(body string) string { return strings.Replace(body, "4111", "[CARD]", 1) }

	t.Run("a block is a 400 content_policy_violation and nothing goes upstream", func(t *testing.T) {
		h := newHarness(t)
		h.g.SetLogPrompts(true)
		h.g.Guard = &guard{refuse: &call.Refusal{Kind: call.ErrBlocked, Message: "card numbers are not allowed", Param: "messages"}}
		w := h.do(provider.OpChat, chatPub)
		if w.Code != 400 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		if e := errorBody(t, w); str(e.Code) != "content_policy_violation" || str(e.Param) != "messages" || e.Type != "invalid_request_error" {
			t.Errorf("error %+v", e)
		}
		if n := len(h.up["dep-a"].sent()) + len(h.up["dep-b"].sent()); n != 0 {
			t.Errorf("%d upstream requests for a blocked call", n)
		}
		r := h.admit.only(t).result(t)
		if r.Status != 400 || r.Deployment != "" || r.Request != nil {
			t.Errorf("Result %+v", r)
		}
		l := h.line(t)
		if _, ok := l["body"]; ok {
			t.Errorf("a blocked request's body was logged: %v", l)
		}
		if strings.Contains(h.log.String(), "my card is") {
			t.Errorf("the log shows the blocked content: %s", h.log)
		}
	})

	t.Run("a rewrite reaches the provider, the meter and the log", func(t *testing.T) {
		h := newHarness(t)
		h.g.SetLogPrompts(true)
		h.g.Guard = &guard{rewrite: redact}
		w := h.do(provider.OpChat, chatPub)
		if w.Code != 200 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		want := `{"model":"up-a","messages":[{"role":"user","content":"my card is [CARD]"}]}`
		if diff := cmp.Diff([]string{want}, h.up["dep-a"].sent()); diff != "" {
			t.Errorf("upstream bodies (-want +got):\n%s", diff)
		}
		public := redact(chatPub)
		if r := h.admit.only(t).result(t); string(r.Request) != public {
			t.Errorf("Result.Request = %s, want %s", r.Request, public)
		}
		if l := h.line(t); l["body"] != public {
			t.Errorf("logged body %v, want the rewritten %s", l["body"], public)
		}
	})

	t.Run("output filter on a whole answer", func(t *testing.T) {
		h := newHarness(t)
		h.g.Guard = &guard{out: func() call.Output { return upper{} }}
		w := h.do(provider.OpChat, chatSolo)
		if _, text := contentOf(t, w.Body.String()); text != "HELLO" {
			t.Errorf("client got %q, want the filtered HELLO", text)
		}
		if r := h.admit.only(t).result(t); string(r.Response) != w.Body.String() {
			t.Errorf("Result.Response = %s, want what the client got %s", r.Response, w.Body)
		}
	})

	t.Run("output filter on a stream", func(t *testing.T) {
		h := newHarness(t)
		h.g.Guard = &guard{out: func() call.Output { return upper{} }}
		w := h.do(provider.OpChat, streamSolo)
		var text string
		for _, ev := range events(t, w.Body.String()) {
			if ev != "[DONE]" {
				_, s := contentOf(t, ev)
				text += s
			}
		}
		if text != "HELLO" {
			t.Errorf("client got %q, want HELLO", text)
		}
		if r := h.admit.only(t).result(t); string(r.Generated) != "HELLO" {
			t.Errorf("Result.Generated = %q, want what the client saw", r.Generated)
		}
	})
}

func TestModelRename(t *testing.T) {
	t.Run("whole answer", func(t *testing.T) {
		h := newHarness(t)
		w := h.do(provider.OpChat, `{"model":"gpt-pub","messages":[{"role":"user","content":"hi"}]}`)
		if w.Code != 200 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		if got := h.up["dep-a"].sent(); len(got) != 1 || !strings.HasPrefix(got[0], `{"model":"up-a",`) {
			t.Errorf("upstream got %q, want the upstream model name", got)
		}
		if m, _ := contentOf(t, w.Body.String()); m != "gpt-pub" {
			t.Errorf("answer names model %q, want the public gpt-pub", m)
		}
		if d := w.Header().Get(gateway.HeaderDeployment); d != "dep-a" {
			t.Errorf("%s = %q", gateway.HeaderDeployment, d)
		}
		if ct := w.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
	})
	t.Run("stream", func(t *testing.T) {
		h := newHarness(t)
		w := h.do(provider.OpChat, streamPub)
		evs := events(t, w.Body.String())
		if len(evs) != 3 || evs[2] != "[DONE]" {
			t.Fatalf("events %q", evs)
		}
		for _, ev := range evs[:2] {
			if m, _ := contentOf(t, ev); m != "gpt-pub" {
				t.Errorf("chunk names model %q, want gpt-pub: %s", m, ev)
			}
		}
		if ct := w.Header().Get("Content-Type"); ct != "text/event-stream" {
			t.Errorf("Content-Type %q", ct)
		}
		if h.up["dep-a"].closed != 1 {
			t.Errorf("stream closed %d times, want once", h.up["dep-a"].closed)
		}
	})
}

func TestRouteRefusal(t *testing.T) {
	atLimit := &call.Refusal{Kind: call.ErrRateLimited, Message: "deployment at its limit", RetryAfter: time.Second}

	t.Run("another deployment serves", func(t *testing.T) {
		h := newHarness(t)
		h.admit.routeRefuse = map[string]error{"dep-a": atLimit}
		w := h.do(provider.OpChat, chatPub)
		if w.Code != 200 || w.Header().Get(gateway.HeaderDeployment) != "dep-b" {
			t.Fatalf("status %d by %q: %s", w.Code, w.Header().Get(gateway.HeaderDeployment), w.Body)
		}
		if n := len(h.up["dep-a"].sent()); n != 0 {
			t.Errorf("the refused deployment was called %d times", n)
		}
		tk := h.admit.only(t)
		if diff := cmp.Diff([]string{"dep-a", "dep-b"}, tk.routes); diff != "" {
			t.Errorf("routes (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"dep-b"}, tk.released); diff != "" {
			t.Errorf("released (-want +got):\n%s", diff)
		}
		if r := tk.result(t); r.Deployment != "dep-b" || r.Status != 200 {
			t.Errorf("Result %+v", r)
		}
		if l := h.line(t); l["deployment"] != "dep-b" || l["attempts"] != float64(2) {
			t.Errorf("log line %v", l)
		}
	})

	t.Run("every deployment at its limit: 429 with Retry-After", func(t *testing.T) {
		h := newHarness(t)
		h.admit.routeRefuse = map[string]error{"dep-s": atLimit}
		w := h.do(provider.OpChat, chatSolo)
		if w.Code != 429 || w.Header().Get("Retry-After") != "1" {
			t.Fatalf("status %d Retry-After %q: %s", w.Code, w.Header().Get("Retry-After"), w.Body)
		}
		if e := errorBody(t, w); str(e.Code) != "rate_limit_exceeded" {
			t.Errorf("error %+v", e)
		}
		if r := h.admit.only(t).result(t); r.Status != 429 || r.Deployment != "dep-s" {
			t.Errorf("Result %+v", r)
		}
	})
}

func TestMetering(t *testing.T) {
	usage := call.Usage{PromptTokens: 7, CompletionTokens: 3}
	usage.PromptDetails.CachedTokens = 2
	streamed := call.Usage{PromptTokens: 7, CompletionTokens: 2}
	usageChunk := `{"id":"c1","object":"chat.completion.chunk","model":"gpt-pub","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2}}`

	tests := []struct {
		name         string
		body         string
		noTicket     bool
		wantUpstream string   // the body the upstream got
		wantEvents   []string // nil: not a stream
		wantResult   call.Result
	}{
		{
			name:         "usage from the answer's body",
			body:         `{"model":"gpt-pub","messages":[{"role":"user","content":"hi"}]}`,
			wantUpstream: `{"model":"up-a","messages":[{"role":"user","content":"hi"}]}`,
			wantResult:   call.Result{Model: "gpt-pub", Deployment: "dep-a", Status: 200, Usage: usage, UsageReported: true},
		},
		{
			name:         "a stream is asked for usage and the usage chunk is not shown",
			body:         streamPub,
			wantUpstream: `{"stream_options":{"include_usage":true},"model":"up-a","stream":true,"messages":[{"role":"user","content":"hi"}]}`,
			wantEvents: []string{
				`{"id":"c1","object":"chat.completion.chunk","model":"gpt-pub","choices":[{"index":0,"delta":{"role":"assistant","content":"hel"},"finish_reason":null}]}`,
				`{"id":"c1","object":"chat.completion.chunk","model":"gpt-pub","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}`,
				"[DONE]",
			},
			wantResult: call.Result{Model: "gpt-pub", Deployment: "dep-a", Status: 200, Stream: true, Usage: streamed, UsageReported: true, Generated: []byte("hello")},
		},
		{
			name:         "a client that asks for usage sees its chunk",
			body:         `{"model":"gpt-pub","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`,
			wantUpstream: `{"model":"up-a","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`,
			wantEvents: []string{
				`{"id":"c1","object":"chat.completion.chunk","model":"gpt-pub","choices":[{"index":0,"delta":{"role":"assistant","content":"hel"},"finish_reason":null}]}`,
				`{"id":"c1","object":"chat.completion.chunk","model":"gpt-pub","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}`,
				usageChunk,
				"[DONE]",
			},
			wantResult: call.Result{Model: "gpt-pub", Deployment: "dep-a", Status: 200, Stream: true, Usage: streamed, UsageReported: true, Generated: []byte("hello")},
		},
		{
			name:         "a client's empty stream_options gets include_usage",
			body:         `{"model":"gpt-pub","stream":true,"stream_options":{},"messages":[{"role":"user","content":"hi"}]}`,
			wantUpstream: `{"model":"up-a","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`,
			wantEvents: []string{
				`{"id":"c1","object":"chat.completion.chunk","model":"gpt-pub","choices":[{"index":0,"delta":{"role":"assistant","content":"hel"},"finish_reason":null}]}`,
				`{"id":"c1","object":"chat.completion.chunk","model":"gpt-pub","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}`,
				"[DONE]",
			},
			wantResult: call.Result{Model: "gpt-pub", Deployment: "dep-a", Status: 200, Stream: true, Usage: streamed, UsageReported: true, Generated: []byte("hello")},
		},
		{
			name:         "without a ticket the stream is passed as it is",
			body:         streamPub,
			noTicket:     true,
			wantUpstream: `{"model":"up-a","stream":true,"messages":[{"role":"user","content":"hi"}]}`,
			wantEvents: []string{
				`{"id":"c1","object":"chat.completion.chunk","model":"gpt-pub","choices":[{"index":0,"delta":{"role":"assistant","content":"hel"},"finish_reason":null}]}`,
				`{"id":"c1","object":"chat.completion.chunk","model":"gpt-pub","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}`,
				"[DONE]",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			if tt.noTicket {
				h.g.Admit = nil
			}
			w := h.do(provider.OpChat, tt.body)
			if w.Code != 200 {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if diff := cmp.Diff([]string{tt.wantUpstream}, h.up["dep-a"].sent()); diff != "" {
				t.Errorf("upstream body (-want +got):\n%s", diff)
			}
			if tt.wantEvents != nil {
				if diff := cmp.Diff(tt.wantEvents, events(t, w.Body.String())); diff != "" {
					t.Errorf("client events (-want +got):\n%s", diff)
				}
			}
			if tt.noTicket {
				return
			}
			got := h.admit.only(t).result(t)
			// The meter sees the body as sent, before the rename for the deployment.
			if want := strings.Replace(tt.wantUpstream, `"up-a"`, `"gpt-pub"`, 1); string(got.Request) != want {
				t.Errorf("Result.Request = %s, want %s", got.Request, want)
			}
			if tt.wantEvents == nil && string(got.Response) != w.Body.String() {
				t.Errorf("Result.Response = %s, want %s", got.Response, w.Body)
			}
			got.Request, got.Response = nil, nil
			if diff := cmp.Diff(tt.wantResult, got); diff != "" {
				t.Errorf("Result (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUpstreamErrors(t *testing.T) {
	const addr = "http://10.1.2.3:8000/v1/chat/completions"
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
		wantHeader http.Header
		wantBody   string // exact, for a passed-through upstream error
	}{
		{name: "5xx", err: &provider.StatusError{Status: 500, Body: []byte(`{"error":{"message":"boom at ` + addr + `"}}`)},
			wantStatus: 502, wantCode: "upstream_error"},
		{name: "transport error", err: &url.Error{Op: "Post", URL: addr, Err: fmt.Errorf("dial tcp: connection refused: %w", provider.ErrUnavailable)},
			wantStatus: 502, wantCode: "upstream_unreachable"},
		{name: "timeout", err: &url.Error{Op: "Post", URL: addr, Err: fmt.Errorf("awaiting headers: %w", provider.ErrTimeout)},
			wantStatus: 504, wantCode: "upstream_timeout"},
		{name: "upstream 429 with Retry-After", err: &provider.StatusError{Status: 429, Body: []byte(`{"error":{"message":"slow"}}`), RetryAfter: 3 * time.Second},
			wantStatus: 429, wantCode: "rate_limit_exceeded", wantHeader: http.Header{"Retry-After": {"3"}}},
		{name: "upstream 400 passes through", err: &provider.StatusError{Status: 400, Body: []byte(`{"error":{"message":"bad temperature","type":"invalid_request_error","param":"temperature","code":null}}`)},
			wantStatus: 400, wantBody: `{"error":{"message":"bad temperature","type":"invalid_request_error","param":"temperature","code":null}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.up["dep-s"].then(reply{err: tt.err})
			w := h.do(provider.OpChat, chatSolo)
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.wantStatus, w.Body)
			}
			if tt.wantBody != "" {
				if w.Body.String() != tt.wantBody {
					t.Errorf("body %s, want the upstream's %s", w.Body, tt.wantBody)
				}
			} else if e := errorBody(t, w); str(e.Code) != tt.wantCode {
				t.Errorf("error %+v, want code %s", e, tt.wantCode)
			} else if tt.wantStatus >= 500 && !strings.Contains(e.Message, "dep-s") {
				t.Errorf("message %q should name the deployment", e.Message)
			}
			if strings.Contains(w.Body.String(), "10.1.2.3") {
				t.Errorf("the answer shows the upstream's address: %s", w.Body)
			}
			for k, v := range tt.wantHeader {
				if got := w.Header().Values(k); !cmp.Equal(got, v) {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			l := h.line(t)
			if l["status"] != float64(tt.wantStatus) || l["deployment"] != "dep-s" {
				t.Errorf("log line %v", l)
			}
			if tt.wantStatus >= 500 && !strings.Contains(fmt.Sprint(l["err"]), "10.1.2.3") {
				t.Errorf("the log line should keep the cause for operators: %v", l)
			}
			if r := h.admit.only(t).result(t); r.Status != tt.wantStatus || r.Deployment != "dep-s" {
				t.Errorf("Result %+v", r)
			}
		})
	}
}

func TestStreamBreaks(t *testing.T) {
	h := newHarness(t)
	cause := &url.Error{Op: "Read", URL: "http://10.1.2.3:8000/v1/chat/completions", Err: fmt.Errorf("connection reset: %w", provider.ErrUnavailable)}
	h.up["dep-s"].then(reply{chunks: []string{`{"id":"c1","object":"chat.completion.chunk","model":"solo","choices":[{"index":0,"delta":{"content":"hel"},"finish_reason":null}]}`}, fail: cause})
	w := h.do(provider.OpChat, streamSolo)
	if w.Code != 200 {
		t.Fatalf("status %d: the stream had started", w.Code)
	}
	evs := events(t, w.Body.String())
	if len(evs) != 2 || !strings.Contains(evs[1], `"upstream_unreachable"`) || strings.Contains(evs[1], "10.1.2.3") {
		t.Fatalf("events %q, want the chunk then an error event without the address", evs)
	}
	if n := len(h.up["dep-s"].sent()); n != 1 {
		t.Errorf("a started stream was retried (%d upstream calls)", n)
	}
	l := h.line(t)
	if l["status"] != float64(502) || !strings.Contains(fmt.Sprint(l["err"]), "connection reset") {
		t.Errorf("log line %v, want status 502 and the cause", l)
	}
	if r := h.admit.only(t).result(t); r.Status != 502 || r.UsageReported || string(r.Generated) != "hel" {
		t.Errorf("Result %+v", r)
	}
}

func TestNoHealthyDeployment(t *testing.T) {
	h := newHarness(t)
	h.up["dep-s"].then(reply{err: &provider.StatusError{Status: 503}}) // breaker failures: 1
	if w := h.do(provider.OpChat, chatSolo); w.Code != 502 {
		t.Fatalf("first: status %d: %s", w.Code, w.Body)
	}
	w := h.do(provider.OpChat, chatSolo)
	if w.Code != 503 {
		t.Fatalf("second: status %d: %s", w.Code, w.Body)
	}
	if e := errorBody(t, w); str(e.Code) != "no_healthy_deployment" {
		t.Errorf("error %+v", e)
	}
	if n := len(h.up["dep-s"].sent()); n != 1 {
		t.Errorf("upstream called %d times, want once (the breaker is open)", n)
	}
}

func TestLogLine(t *testing.T) {
	tests := []struct {
		name     string
		prompts  bool
		guard    *guard
		wantBody any // nil: no body attribute
	}{
		{name: "prompts off", guard: &guard{rewrite: func(b string) string { return strings.Replace(b, "4111", "[CARD]", 1) }}},
		{name: "prompts on: the body as sent", prompts: true, guard: &guard{rewrite: func(b string) string { return strings.Replace(b, "4111", "[CARD]", 1) }},
			wantBody: `{"model":"gpt-pub","messages":[{"role":"user","content":"my card is [CARD]"}]}`},
		{name: "prompts on, no guard", prompts: true, wantBody: chatPub},
		{name: "prompts on, blocked: no body", prompts: true, guard: &guard{refuse: &call.Refusal{Kind: call.ErrBlocked, Message: "no"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.g.SetLogPrompts(tt.prompts)
			if tt.guard != nil {
				h.g.Guard = tt.guard
			}
			w := h.do(provider.OpChat, chatPub)
			l := h.line(t)
			for k, want := range map[string]any{"msg": "request", "level": "INFO", "id": "req-1", "status": float64(w.Code), "route": "chat", "model": "gpt-pub", "key": "key-1"} {
				if l[k] != want {
					t.Errorf("log %s = %v, want %v", k, l[k], want)
				}
			}
			if w.Code == 200 && l["deployment"] != "dep-a" {
				t.Errorf("log deployment = %v", l["deployment"])
			}
			if got, ok := l["body"]; got != tt.wantBody || ok != (tt.wantBody != nil) {
				t.Errorf("log body = %v (present %v), want %v", got, ok, tt.wantBody)
			}
			if tt.wantBody == nil && strings.Contains(h.log.String(), "my card is") {
				t.Errorf("the prompt leaked into the log: %s", h.log)
			}
		})
	}
}

// TestStreamOverHTTP serves a stream to the official SDK through a real
// server, then a client that hangs up mid-stream.
func TestStreamOverHTTP(t *testing.T) {
	h := newHarness(t)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", h.g.Handler(provider.OpChat))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	sdk := openai.NewClient(option.WithBaseURL(srv.URL+"/v1"), option.WithAPIKey("sk-good"), option.WithMaxRetries(0))

	s := sdk.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:    "gpt-pub",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	var text string
	for s.Next() {
		c := s.Current()
		if c.Model != "gpt-pub" {
			t.Errorf("chunk model %q", c.Model)
		}
		if len(c.Choices) == 0 {
			t.Errorf("the client was sent a usage-only chunk it did not ask for: %+v", c)
			continue
		}
		text += c.Choices[0].Delta.Content
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if text != "hello" {
		t.Errorf("streamed %q", text)
	}

	// A client that goes away after the first chunk: the call ends as 499
	// and is metered from what was streamed.
	h.up["dep-a"].then(reply{chunks: []string{`{"id":"c2","object":"chat.completion.chunk","model":"up-a","choices":[{"index":0,"delta":{"content":"par"},"finish_reason":null}]}`}, hang: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s = sdk.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model:    "gpt-pub",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	if !s.Next() {
		t.Fatalf("no first chunk: %v", s.Err())
	}
	cancel()
	s.Close()
	tickets := func() []*ticket { h.admit.mu.Lock(); defer h.admit.mu.Unlock(); return h.admit.tickets }
	if n := len(tickets()); n != 2 {
		t.Fatalf("%d tickets", n)
	}
	tk := tickets()[1]
	select {
	case <-tk.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the call was not finished after the client left")
	}
	srv.Close() // waits for the handler, and so for its log line
	r := tk.result(t)
	if r.Status != 499 || r.UsageReported || string(r.Generated) != "par" || r.Deployment != "dep-a" {
		t.Errorf("Result %+v (generated %q)", r, r.Generated)
	}
	if ls := h.lines(t); len(ls) != 2 || ls[1]["status"] != float64(499) {
		t.Errorf("log lines %v", ls)
	}
}

// A stream that ends, or fails without an error kind, before its first
// event has sent the client nothing: it is an upstream fault, retried on
// another deployment.
func TestStreamEndsBeforeFirstEvent(t *testing.T) {
	for name, r := range map[string]reply{
		"ends":           {chunks: []string{}},
		"fails untyped":  {chunks: []string{}, fail: io.ErrUnexpectedEOF},
		"fails untyped2": {chunks: []string{}, fail: errors.New("read: connection reset by peer")},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.up["dep-a"].then(r)
			w := h.do(provider.OpChat, streamPub)
			if w.Code != 200 || w.Header().Get(gateway.HeaderDeployment) != "dep-b" {
				t.Fatalf("status %d by %q: %s", w.Code, w.Header().Get(gateway.HeaderDeployment), w.Body)
			}
			if n := len(h.up["dep-a"].sent()); n != 1 {
				t.Errorf("dep-a called %d times, want 1", n)
			}
		})
	}
}

// A call that arrives while every deployment waits out a Retry-After
// longer than the router may wait is a 429 with that Retry-After, not a 503.
func TestEveryDeploymentCooling(t *testing.T) {
	h := newHarness(t)
	h.up["dep-s"].then(reply{err: &provider.StatusError{Status: 429, RetryAfter: time.Minute}})
	if w := h.do(provider.OpChat, chatSolo); w.Code != 429 {
		t.Fatalf("first: status %d: %s", w.Code, w.Body)
	}
	w := h.do(provider.OpChat, chatSolo)
	if w.Code != 429 || w.Header().Get("Retry-After") != "60" {
		t.Fatalf("second: status %d, Retry-After %q: %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if e := errorBody(t, w); str(e.Code) != "rate_limit_exceeded" {
		t.Errorf("error %+v", e)
	}
	if n := len(h.up["dep-s"].sent()); n != 1 {
		t.Errorf("upstream called %d times, want once", n)
	}
}

// An upstream refusing the deployment's own credentials is the operator's
// problem: a 502 naming the deployment, not a 401 that tells the client its
// key is bad; an upstream 429's text (which may name the operator's
// account) never reaches the client.
func TestUpstreamAuthAndRateLimitText(t *testing.T) {
	secret := []byte(`{"error":{"message":"Incorrect API key provided: sk-abc***xyz. Rate limit for organization org-SECRET","type":"invalid_request_error","code":"invalid_api_key"}}`)
	for _, tt := range []struct {
		status, want int
	}{{401, 502}, {403, 502}, {429, 429}} {
		h := newHarness(t)
		h.up["dep-s"].then(reply{err: &provider.StatusError{Status: tt.status, Body: secret}})
		w := h.do(provider.OpChat, chatSolo)
		if w.Code != tt.want {
			t.Errorf("upstream %d: status %d, want %d: %s", tt.status, w.Code, tt.want, w.Body)
		}
		if b := w.Body.String(); strings.Contains(b, "sk-abc") || strings.Contains(b, "org-SECRET") || !strings.Contains(b, "dep-s") {
			t.Errorf("upstream %d: the client's error %s carries the upstream's text or lacks the deployment", tt.status, b)
		}
	}
}
