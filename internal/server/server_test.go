package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"switchyard/internal/config"
	"switchyard/internal/fakeai"
	"switchyard/internal/server"
)

const adminKey = "sy-test-admin-key-abcdefghijklmnop"

type env struct {
	t    *testing.T
	srv  *server.Server
	base string // http://host:port
	sdk  openai.Client
}

// start runs a real server on a loopback port with the given models YAML.
func start(t *testing.T, modelsYAML string) *env {
	t.Helper()
	return startLogged(t, modelsYAML, nil)
}

// startLogged is start with the server's log written to w (JSON lines).
func startLogged(t *testing.T, modelsYAML string, w io.Writer) *env {
	t.Helper()
	yaml := "data_dir: " + t.TempDir() + "\nrouter:\n  backoff: {initial: 1ms, max: 5ms, max_wait: 3s}\n  breaker: {failures: 3, cooldown: 300ms}\n" + modelsYAML
	cfg, err := config.Parse("test.yaml", []byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	o := server.Options{Config: cfg, AdminKey: adminKey}
	if w != nil {
		o.Log = slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := server.New(context.Background(), o)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { srv.Serve(ln); close(done) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	})
	base := "http://" + ln.Addr().String()
	return &env{t: t, srv: srv, base: base, sdk: openai.NewClient(
		option.WithBaseURL(base+"/v1"), option.WithAPIKey(adminKey), option.WithMaxRetries(0))}
}

func upstream(t *testing.T) *fakeai.Server {
	t.Helper()
	up, err := fakeai.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(up.Close)
	return up
}

func oneModel(name, url string, extra string) string {
	return fmt.Sprintf(`
models:
  - name: %s
    max_retries: 2
    deployments:
      - id: %s-a
        provider: openai
        base_url: %s
        model: upstream-%s
%s`, name, name, url, name, extra)
}

// post sends a raw request and returns status, headers and body.
func (e *env) post(path, key string, body []byte, hdr ...string) (int, http.Header, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.base+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func (e *env) get(path, key string) (int, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.base+path, nil)
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

type apiError struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

func decodeErr(t *testing.T, b []byte) apiError {
	t.Helper()
	var e apiError
	if err := json.Unmarshal(b, &e); err != nil || e.Error.Message == "" {
		t.Fatalf("not an OpenAI error body: %s", b)
	}
	return e
}

func chatParams(model string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model:    model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello.")},
	}
}

func TestChatNonStreamWithSDK(t *testing.T) {
	up := upstream(t)
	e := start(t, oneModel("chat", up.URL, ""))
	var resp *http.Response
	c, err := e.sdk.Chat.Completions.New(context.Background(), chatParams("chat"),
		option.WithResponseInto(&resp), option.WithHeader("X-Request-Id", "my-req-1"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Model != "chat" {
		t.Errorf("model = %q, want the public name chat", c.Model)
	}
	if got := c.Choices[0].Message.Content; got != "Hello from fakeai" {
		t.Errorf("content = %q", got)
	}
	if c.Usage.PromptTokens != 12 || c.Usage.CompletionTokens != 5 {
		t.Errorf("usage = %+v", c.Usage)
	}
	if got := resp.Header.Get("X-Switchyard-Deployment"); got != "chat-a" {
		t.Errorf("x-switchyard-deployment = %q", got)
	}
	if got := resp.Header.Get("X-Request-Id"); got != "my-req-1" {
		t.Errorf("x-request-id = %q, want the client's", got)
	}
	var sent struct{ Model string }
	json.Unmarshal(up.Bodies()[0], &sent)
	if sent.Model != "upstream-chat" {
		t.Errorf("upstream got model %q, want upstream-chat", sent.Model)
	}
	// Without a client id the gateway makes one.
	_, h, _ := e.post("/v1/chat/completions", adminKey, []byte(`{"model":"chat","messages":[{"role":"user","content":"x"}]}`))
	if h.Get("X-Request-Id") == "" {
		t.Error("no generated x-request-id")
	}
}

func TestChatStreamWithSDK(t *testing.T) {
	up := upstream(t)
	up.SetDefault(fakeai.Behavior{Chunks: 5})
	e := start(t, oneModel("chat", up.URL, ""))
	s := e.sdk.Chat.Completions.NewStreaming(context.Background(), chatParams("chat"))
	var text strings.Builder
	n := 0
	for s.Next() {
		ch := s.Current()
		if ch.Model != "chat" {
			t.Errorf("chunk model = %q, want chat", ch.Model)
		}
		if len(ch.Choices) > 0 {
			text.WriteString(ch.Choices[0].Delta.Content)
		}
		n++
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if want := "tok0 tok1 tok2 tok3 tok4 "; text.String() != want {
		t.Errorf("streamed text = %q, want %q", text.String(), want)
	}
	if n != 6 {
		t.Errorf("got %d chunks, want 6", n)
	}
}

func TestCompletionsEmbeddingsModels(t *testing.T) {
	up := upstream(t)
	e := start(t, oneModel("m1", up.URL, "")+`
  - name: m2
    deployments:
      - provider: openai
        base_url: `+up.URL+`
`)
	ctx := context.Background()
	comp, err := e.sdk.Completions.New(ctx, openai.CompletionNewParams{
		Model: "m1", Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("Once")}})
	if err != nil {
		t.Fatal(err)
	}
	if comp.Model != "m1" || comp.Choices[0].Text != "Hello from fakeai" {
		t.Errorf("completion = %+v", comp)
	}
	emb, err := e.sdk.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model: "m2", Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hi")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(emb.Data) != 1 || len(emb.Data[0].Embedding) != 3 || emb.Model != "m2" {
		t.Errorf("embedding = %+v", emb)
	}
	page, err := e.sdk.Models.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	if strings.Join(ids, ",") != "m1,m2" {
		t.Errorf("models = %v", ids)
	}
	m, err := e.sdk.Models.Get(ctx, "m2")
	if err != nil || m.ID != "m2" {
		t.Errorf("get model = %+v, %v", m, err)
	}
	_, err = e.sdk.Models.Get(ctx, "nope")
	var apierr *openai.Error
	if !errors.As(err, &apierr) || apierr.StatusCode != 404 || apierr.Code != "model_not_found" {
		t.Errorf("get unknown model: %v", err)
	}
	_, err = e.sdk.Chat.Completions.New(ctx, chatParams("nope"))
	if !errors.As(err, &apierr) || apierr.StatusCode != 404 || apierr.Code != "model_not_found" {
		t.Errorf("chat with unknown model: %v", err)
	}
}

func TestUnknownFieldsPassThroughUntouched(t *testing.T) {
	up := upstream(t)
	e := start(t, oneModel("chat", up.URL, ""))
	body := `{"model":"chat","messages":[{"role":"user","content":"héllo \u00e9 \ud83d\ude00"}],` +
		`"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":"auto",` +
		`"response_format":{"type":"json_object"},"logprobs":true,"n":2,"stop":["x"],"seed":7,"vendor_ext":{"a":[1,2.5e3,null]}}`
	status, _, b := e.post("/v1/chat/completions", adminKey, []byte(body))
	if status != 200 {
		t.Fatalf("status %d: %s", status, b)
	}
	got := string(up.Bodies()[0])
	want := strings.Replace(body, `"model":"chat"`, `"model":"upstream-chat"`, 1)
	if got != want {
		t.Errorf("upstream body changed beyond the model:\n got %s\nwant %s", got, want)
	}
}

func TestBadRequests(t *testing.T) {
	up := upstream(t)
	e := start(t, oneModel("chat", up.URL, ""))
	big := append([]byte(`{"model":"chat","messages":[{"role":"user","content":"`), bytes.Repeat([]byte("a"), 21<<20)...)
	big = append(big, `"}]}`...)
	cases := []struct {
		name, path, key string
		body            []byte
		status          int
		param, code     string
	}{
		{"malformed", "/v1/chat/completions", adminKey, []byte(`{"model":"chat",`), 400, "", ""},
		{"invalid utf8", "/v1/chat/completions", adminKey, []byte("{\"model\":\"chat\",\"messages\":[{\"role\":\"user\",\"content\":\"\xff\"}]}"), 400, "", ""},
		{"not object", "/v1/chat/completions", adminKey, []byte(`[1]`), 400, "", ""},
		{"model missing", "/v1/chat/completions", adminKey, []byte(`{"messages":[]}`), 400, "model", ""},
		{"model wrong type", "/v1/chat/completions", adminKey, []byte(`{"model":5,"messages":[]}`), 400, "model", ""},
		{"messages missing", "/v1/chat/completions", adminKey, []byte(`{"model":"chat"}`), 400, "messages", ""},
		{"messages wrong type", "/v1/chat/completions", adminKey, []byte(`{"model":"chat","messages":"hi"}`), 400, "messages", ""},
		{"role wrong type", "/v1/chat/completions", adminKey, []byte(`{"model":"chat","messages":[{"role":1}]}`), 400, "messages[0].role", ""},
		{"stream wrong type", "/v1/chat/completions", adminKey, []byte(`{"model":"chat","stream":"yes","messages":[{"role":"user"}]}`), 400, "stream", ""},
		{"prompt missing", "/v1/completions", adminKey, []byte(`{"model":"chat"}`), 400, "prompt", ""},
		{"input missing", "/v1/embeddings", adminKey, []byte(`{"model":"chat"}`), 400, "input", ""},
		{"no key", "/v1/chat/completions", "", []byte(`{}`), 401, "", "missing_api_key"},
		{"bad key", "/v1/chat/completions", "sy-wrong", []byte(`{}`), 401, "", "invalid_api_key"},
		{"unknown model", "/v1/chat/completions", adminKey, []byte(`{"model":"x","messages":[{"role":"user"}]}`), 404, "model", "model_not_found"},
		{"too large", "/v1/chat/completions", adminKey, big, 413, "", "request_too_large"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, _, b := e.post(c.path, c.key, c.body)
			if status != c.status {
				t.Fatalf("status = %d, want %d: %s", status, c.status, b)
			}
			er := decodeErr(t, b)
			if c.param != "" && (er.Error.Param == nil || *er.Error.Param != c.param) {
				t.Errorf("param = %v, want %q (%s)", er.Error.Param, c.param, er.Error.Message)
			}
			if c.code != "" && (er.Error.Code == nil || *er.Error.Code != c.code) {
				t.Errorf("code = %v, want %q", er.Error.Code, c.code)
			}
		})
	}
	if n := up.Requests.Load(); n != 0 {
		t.Errorf("bad requests reached the upstream %d times", n)
	}
}

func TestUpstream4xxPassesThrough(t *testing.T) {
	up := upstream(t)
	up.Script(fakeai.Behavior{Status: 400})
	e := start(t, oneModel("chat", up.URL, ""))
	status, _, b := e.post("/v1/chat/completions", adminKey, []byte(`{"model":"chat","messages":[{"role":"user"}]}`))
	if status != 400 || !strings.Contains(string(b), "fake_400") {
		t.Errorf("got %d %s, want the upstream's 400 body", status, b)
	}
	if up.Requests.Load() != 1 {
		t.Errorf("a 400 was retried: %d requests", up.Requests.Load())
	}
}

func TestRetriesOn5xxAnd429HonouringRetryAfter(t *testing.T) {
	up := upstream(t)
	e := start(t, oneModel("chat", up.URL, ""))
	up.Script(fakeai.Behavior{Status: 500}, fakeai.Behavior{Status: 429, RetryAfter: "1"})
	t0 := time.Now()
	_, err := e.sdk.Chat.Completions.New(context.Background(), chatParams("chat"))
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(t0); took < 900*time.Millisecond {
		t.Errorf("retry after a 429 with Retry-After: 1 came after %v", took)
	}
	if n := up.Requests.Load(); n != 3 {
		t.Errorf("upstream saw %d requests, want 3", n)
	}
	_, m := e.get("/metrics", "")
	if !bytes.Contains(m, []byte(`switchyard_retries_total{deployment="chat-a",model="chat"} 2`)) {
		t.Errorf("retries not counted in /metrics")
	}
}

func TestRetriesStopAtMaxRetriesThen502(t *testing.T) {
	up := upstream(t)
	up.SetDefault(fakeai.Behavior{Status: 503})
	e := start(t, oneModel("chat", up.URL, ""))
	status, _, b := e.post("/v1/chat/completions", adminKey, []byte(`{"model":"chat","messages":[{"role":"user"}]}`))
	if status != 502 {
		t.Fatalf("status %d, want 502: %s", status, b)
	}
	if er := decodeErr(t, b); !strings.Contains(er.Error.Message, "Deployment chat-a failed: upstream status 503") ||
		strings.Contains(er.Error.Message, "127.0.0.1") {
		t.Errorf("502 message should name the deployment and status, nothing internal: %s", er.Error.Message)
	}
	if n := up.Requests.Load(); n != 3 {
		t.Errorf("upstream saw %d requests, want 1 + max_retries(2)", n)
	}
}

func TestFallbackAndWeights(t *testing.T) {
	bad, good := upstream(t), upstream(t)
	bad.SetDefault(fakeai.Behavior{Status: 500})
	e := start(t, fmt.Sprintf(`
models:
  - name: chat
    fallbacks: [backup]
    max_retries: 1
    deployments:
      - {id: primary, provider: openai, base_url: %s}
  - name: backup
    deployments:
      - {id: spare, provider: openai, base_url: %s, model: spare-model}
`, bad.URL, good.URL))
	var resp *http.Response
	c, err := e.sdk.Chat.Completions.New(context.Background(), chatParams("chat"), option.WithResponseInto(&resp))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("X-Switchyard-Deployment") != "spare" || c.Model != "chat" {
		t.Errorf("deployment %q model %q; want spare, chat", resp.Header.Get("X-Switchyard-Deployment"), c.Model)
	}
	if bad.Requests.Load() != 2 {
		t.Errorf("primary tried %d times, want 2", bad.Requests.Load())
	}
	_, m := e.get("/metrics", "")
	if !bytes.Contains(m, []byte(`switchyard_fallbacks_total{from="chat",to="backup"} 1`)) {
		t.Error("fallback not counted")
	}
}

func TestWeightedSpread(t *testing.T) {
	a, b := upstream(t), upstream(t)
	e := start(t, fmt.Sprintf(`
models:
  - name: chat
    deployments:
      - {id: a, provider: openai, base_url: %s, weight: 3}
      - {id: b, provider: openai, base_url: %s, weight: 1}
`, a.URL, b.URL))
	for i := 0; i < 200; i++ {
		if status, _, body := e.post("/v1/chat/completions", adminKey, []byte(`{"model":"chat","messages":[{"role":"user"}]}`)); status != 200 {
			t.Fatalf("%d %s", status, body)
		}
	}
	na, nb := a.Requests.Load(), b.Requests.Load()
	if na+nb != 200 || na < 120 || na > 180 {
		t.Errorf("weights 3:1 gave %d:%d", na, nb)
	}
}

func TestTimeoutGives504(t *testing.T) {
	up := upstream(t)
	up.SetDefault(fakeai.Behavior{Delay: 2 * time.Second})
	e := start(t, oneModel("chat", up.URL, "        first_byte_timeout: 100ms\n")+"")
	status, _, b := e.post("/v1/chat/completions", adminKey, []byte(`{"model":"chat","messages":[{"role":"user"}]}`))
	if status != 504 {
		t.Fatalf("status %d, want 504: %s", status, b)
	}
}

func TestBreakerOpensAndRecovers(t *testing.T) {
	up := upstream(t)
	e := start(t, `
models:
  - name: chat
    max_retries: 0
    deployments:
      - {id: only, provider: openai, base_url: `+up.URL+`}
`)
	up.SetDefault(fakeai.Behavior{Status: 500})
	body := []byte(`{"model":"chat","messages":[{"role":"user"}]}`)
	for i := 0; i < 3; i++ {
		e.post("/v1/chat/completions", adminKey, body)
	}
	status, _, b := e.post("/v1/chat/completions", adminKey, body)
	if status != 503 || !strings.Contains(string(b), `"code":"no_healthy_deployment"`) {
		t.Errorf("with the breaker open: %d %s", status, b)
	}
	if up.Requests.Load() != 3 {
		t.Errorf("open breaker still sent requests: %d", up.Requests.Load())
	}
	_, d := e.get("/api/deployments", adminKey)
	if !strings.Contains(string(d), `"breaker":"open"`) {
		t.Errorf("deployments: %s", d)
	}
	if st, _ := e.get("/api/deployments", ""); st != 401 {
		t.Errorf("/api/deployments without a key: %d", st)
	}
	up.SetDefault(fakeai.Behavior{})
	time.Sleep(350 * time.Millisecond)
	if status, _, b := e.post("/v1/chat/completions", adminKey, body); status != 200 {
		t.Fatalf("half-open probe: %d %s", status, b)
	}
	_, d = e.get("/api/deployments", adminKey)
	if !strings.Contains(string(d), `"breaker":"closed"`) || !strings.Contains(string(d), `"in_flight":0`) {
		t.Errorf("after recovery: %s", d)
	}
}

func TestStreamRetriedBeforeFirstByteOnly(t *testing.T) {
	up := upstream(t)
	e := start(t, oneModel("chat", up.URL, ""))
	// A failure before the first event is retried.
	up.Script(fakeai.Behavior{Status: 502}, fakeai.Behavior{Chunks: 3})
	s := e.sdk.Chat.Completions.NewStreaming(context.Background(), chatParams("chat"))
	for s.Next() {
	}
	if err := s.Err(); err != nil {
		t.Fatalf("stream after a retried 502: %v", err)
	}
	if up.Requests.Load() != 2 {
		t.Fatalf("requests = %d, want 2", up.Requests.Load())
	}
	// A drop after the first chunk is not retried: the client gets an error event.
	up.Script(fakeai.Behavior{Chunks: 5, DropAfter: 2})
	status, _, b := e.post("/v1/chat/completions", adminKey, []byte(`{"model":"chat","stream":true,"messages":[{"role":"user"}]}`))
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	if !strings.Contains(string(b), "tok1") || !strings.Contains(string(b), `data: {"error":`) || strings.Contains(string(b), "[DONE]") {
		t.Errorf("dropped stream body:\n%s", b)
	}
	if up.Requests.Load() != 3 {
		t.Errorf("dropped stream was retried: %d requests", up.Requests.Load())
	}
	s = e.sdk.Chat.Completions.NewStreaming(context.Background(), chatParams("chat"))
	up.Script(fakeai.Behavior{Chunks: 5, DropAfter: 2})
	for s.Next() {
	}
	_ = s.Err() // the SDK reports the error event; the point is no panic and no hang
}

func TestStreamIdleTimeout(t *testing.T) {
	up := upstream(t)
	up.SetDefault(fakeai.Behavior{Chunks: 3, ChunkDelay: time.Second})
	e := start(t, oneModel("chat", up.URL, "        idle_timeout: 100ms\n"))
	t0 := time.Now()
	_, _, b := e.post("/v1/chat/completions", adminKey, []byte(`{"model":"chat","stream":true,"messages":[{"role":"user"}]}`))
	if !strings.Contains(string(b), `"error"`) || time.Since(t0) > 900*time.Millisecond {
		t.Errorf("stalled stream not cut after the idle timeout (%v):\n%s", time.Since(t0), b)
	}
}

func TestClientHangupCancelsUpstream(t *testing.T) {
	for _, stream := range []bool{false, true} {
		up := upstream(t)
		if stream {
			up.SetDefault(fakeai.Behavior{Chunks: 100, ChunkDelay: 50 * time.Millisecond})
		} else {
			up.SetDefault(fakeai.Behavior{Hang: true})
		}
		e := start(t, oneModel("chat", up.URL, ""))
		ctx, cancel := context.WithCancel(context.Background())
		go func() { time.Sleep(200 * time.Millisecond); cancel() }()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.base+"/v1/chat/completions",
			strings.NewReader(fmt.Sprintf(`{"model":"chat","stream":%v,"messages":[{"role":"user"}]}`, stream)))
		req.Header.Set("Authorization", "Bearer "+adminKey)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		deadline := time.Now().Add(2 * time.Second)
		for up.Canceled.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if up.Canceled.Load() != 1 {
			t.Errorf("stream=%v: the upstream did not see the cancellation", stream)
		}
	}
}

func TestHealthMetricsAndReload(t *testing.T) {
	up := upstream(t)
	e := start(t, oneModel("chat", up.URL, ""))
	for _, p := range []string{"/healthz", "/readyz"} {
		if st, b := e.get(p, ""); st != 200 {
			t.Errorf("%s: %d %s", p, st, b)
		}
	}
	e.post("/v1/chat/completions", adminKey, []byte(`{"model":"chat","messages":[{"role":"user"}]}`))
	_, m := e.get("/metrics", "")
	for _, name := range []string{"switchyard_requests_total", "switchyard_request_duration_seconds", "switchyard_upstream_ttft_seconds",
		"switchyard_tokens_total", `direction="input",model="chat"} 12`} {
		if !bytes.Contains(m, []byte(name)) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	// A good reload adds a model; a bad one is refused and changes nothing.
	next, err := config.Parse("next.yaml", []byte("data_dir: "+e.srv.Config().DataDir+oneModel("chat", up.URL, "")+`
  - name: extra
    deployments:
      - {provider: openai, base_url: `+up.URL+`}
`), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Reload(next); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sdk.Models.Get(context.Background(), "extra"); err != nil {
		t.Errorf("reloaded model missing: %v", err)
	}
	badCfg, err := config.Parse("bad.yaml", []byte("data_dir: x\nmodels:\n  - name: y\n    deployments:\n      - {provider: openai}\n"), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Reload(badCfg); err == nil || !strings.Contains(err.Error(), "base_url") {
		t.Errorf("bad reload: %v", err)
	}
	if _, err := e.sdk.Models.Get(context.Background(), "extra"); err != nil {
		t.Errorf("bad reload dropped the old config: %v", err)
	}
}

func TestShutdownLetsStreamsFinish(t *testing.T) {
	up := upstream(t)
	up.SetDefault(fakeai.Behavior{Chunks: 10, ChunkDelay: 50 * time.Millisecond})
	e := start(t, oneModel("chat", up.URL, ""))
	got := make(chan string, 1)
	go func() {
		_, _, b := e.post("/v1/chat/completions", adminKey, []byte(`{"model":"chat","stream":true,"messages":[{"role":"user"}]}`))
		got <- string(b)
	}()
	time.Sleep(150 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	b := <-got
	if !strings.Contains(b, "tok9") || !strings.Contains(b, "[DONE]") {
		t.Errorf("in-flight stream cut by shutdown:\n%s", b)
	}
}
