package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"switchyard/internal/fakeai"
)

// messages posts an Anthropic Messages request with x-api-key.
func (e *env) messages(path, key string, body string, hdr ...string) (int, http.Header, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("anthropic-version", "2023-06-01")
	if key != "" {
		req.Header.Set("x-api-key", key)
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

type anthropicError struct {
	Type  string `json:"type"`
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

// sseEvents splits an SSE body into (event, data) pairs.
func sseEvents(t *testing.T, body []byte) (names []string, datas []string) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var name string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			names, datas = append(names, name), append(datas, strings.TrimPrefix(line, "data: "))
			name = ""
		}
	}
	return names, datas
}

// TestMessagesTranslatedToOpenAIUpstream: an Anthropic client reaches an
// OpenAI-shaped deployment; answers, streams (with tool calls), errors
// and usage come back in Anthropic's shapes, and the call is metered.
func TestMessagesTranslatedToOpenAIUpstream(t *testing.T) {
	up := upstream(t)
	e := start(t, oneModel("claude-local", up.URL, priced))
	orgID, _, k := e.tenant("anthro", nil, nil, nil)

	st, h, b := e.messages("/v1/messages", k.Key, `{"model":"claude-local","max_tokens":32,"system":"Be brief.","messages":[{"role":"user","content":"hi"}]}`)
	if st != 200 || h.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d %q: %s", st, h.Get("Content-Type"), b)
	}
	var m struct {
		StopReason string `json:"stop_reason"`
		Content    []struct{ Type, Text string }
		Usage      struct {
			In  int `json:"input_tokens"`
			Out int `json:"output_tokens"`
		}
	}
	json.Unmarshal(b, &m)
	if len(m.Content) != 1 || m.Content[0].Text != "Hello from fakeai" || m.StopReason != "end_turn" || m.Usage.In != 12 || m.Usage.Out != 5 {
		t.Errorf("message = %s", b)
	}
	sent := up.Bodies()[0]
	var chat struct {
		Model    string `json:"model"`
		Messages []struct{ Role, Content string }
		Max      int `json:"max_tokens"`
	}
	json.Unmarshal(sent, &chat)
	if chat.Model != "upstream-claude-local" || len(chat.Messages) != 2 || chat.Messages[0].Role != "system" || chat.Max != 32 {
		t.Errorf("upstream got %s", sent)
	}

	// A stream with a tool call, in Anthropic's event sequence.
	up.Script(fakeai.Behavior{ToolCalls: []fakeai.ToolCall{{ID: "call_1", Name: "lookup", Arguments: `{"order":"42"}`}}})
	st, h, b = e.messages("/v1/messages", k.Key, `{"model":"claude-local","max_tokens":32,"stream":true,"messages":[{"role":"user","content":"where is 42"}],
		"tools":[{"name":"lookup","input_schema":{"type":"object","properties":{"order":{"type":"string"}}}}]}`)
	if st != 200 || h.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream status %d %q: %s", st, h.Get("Content-Type"), b)
	}
	names, datas := sseEvents(t, b)
	if len(names) < 5 || names[0] != "message_start" || names[len(names)-1] != "message_stop" {
		t.Fatalf("events %v", names)
	}
	var args strings.Builder
	var stop string
	for i, n := range names {
		var ev struct {
			Type  string
			Delta struct {
				Type        string
				PartialJSON string `json:"partial_json"`
				StopReason  string `json:"stop_reason"`
			}
		}
		json.Unmarshal([]byte(datas[i]), &ev)
		if ev.Type != n {
			t.Errorf("event %q carries type %q", n, ev.Type)
		}
		if ev.Delta.Type == "input_json_delta" {
			args.WriteString(ev.Delta.PartialJSON)
		}
		if n == "message_delta" {
			stop = ev.Delta.StopReason
		}
	}
	if args.String() != `{"order":"42"}` || stop != "tool_use" {
		t.Errorf("tool input %q, stop %q; events %v", args.String(), stop, names)
	}

	// Errors in Anthropic's envelope and statuses.
	for _, c := range []struct {
		name, key, body string
		status          int
		typ             string
	}{
		{"no key", "", `{"model":"claude-local","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`, 401, "authentication_error"},
		{"bad key", "sy-nope", `{"model":"claude-local","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`, 401, "authentication_error"},
		{"malformed", k.Key, `{"model":`, 400, "invalid_request_error"},
		{"missing max_tokens", k.Key, `{"model":"claude-local","messages":[{"role":"user","content":"hi"}]}`, 400, "invalid_request_error"},
		{"document block", k.Key, `{"model":"claude-local","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"text","media_type":"text/plain","data":"x"}}]}]}`, 400, "invalid_request_error"},
		{"unknown model", k.Key, `{"model":"nope","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`, 404, "not_found_error"},
	} {
		st, _, b := e.messages("/v1/messages", c.key, c.body)
		var ae anthropicError
		json.Unmarshal(b, &ae)
		if st != c.status || ae.Type != "error" || ae.Error.Type != c.typ || ae.Error.Message == "" {
			t.Errorf("%s: %d %s, want %d %s", c.name, st, b, c.status, c.typ)
		}
	}
	st, _, b = e.messages("/v1/messages", k.Key, `{"model":"claude-local","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document","source":{}}]}]}`)
	if !strings.Contains(string(b), "messages[0].content[0].type") {
		t.Errorf("an inexpressible block is not named: %d %s", st, b)
	}
	up.Script(fakeai.Behavior{Status: 429, RetryAfter: "1"}, fakeai.Behavior{Status: 429, RetryAfter: "1"}, fakeai.Behavior{Status: 429, RetryAfter: "1"})
	st, h, b = e.messages("/v1/messages", k.Key, `{"model":"claude-local","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`)
	var ae anthropicError
	json.Unmarshal(b, &ae)
	if st != 429 || ae.Error.Type != "rate_limit_error" || h.Get("Retry-After") == "" {
		t.Errorf("rate limited upstream: %d %v %s", st, h, b)
	}

	var u usageRows
	e.call("GET", "/api/usage?org="+orgID, adminKey, nil, &u)
	if len(u.Data) != 1 || u.Data[0].Requests < 2 || u.Data[0].CostMicros == 0 {
		t.Errorf("usage = %+v", u.Data)
	}
}

// fakeAnthropic is an upstream speaking Anthropic's API; it records what
// it got and answers with the documented shapes (usage with cache tokens).
type fakeAnthropic struct {
	*httptest.Server
	mu      sync.Mutex
	next    []scripted
	bodies  []string
	headers []http.Header
	paths   []string
}

const anthropicAnswer = `{"id":"msg_01","type":"message","role":"assistant","model":"claude-up","content":[{"type":"thinking","thinking":"hm","signature":"sig"},{"type":"text","text":"Hi there"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":10,"cache_creation_input_tokens":1000,"cache_read_input_tokens":2000,"output_tokens":7}}`

const anthropicStream = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_02\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-up\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":10,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":2000,\"output_tokens\":1}}}\n\n" +
	"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
	"event: ping\ndata: {\"type\":\"ping\"}\n\n" +
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n" +
	"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" +
	"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n" +
	"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"

func startFakeAnthropic(t *testing.T) *fakeAnthropic {
	f := &fakeAnthropic{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.bodies, f.headers, f.paths = append(f.bodies, string(b)), append(f.headers, r.Header.Clone()), append(f.paths, r.URL.Path)
		var next *scripted
		if len(f.next) > 0 {
			next, f.next = &f.next[0], f.next[1:]
		}
		f.mu.Unlock()
		if next != nil {
			w.Header().Set("Content-Type", next.contentType)
			w.WriteHeader(next.status)
			io.WriteString(w, next.body)
			if next.cut { // drop the connection: no clean end of the stream
				w.(http.Flusher).Flush()
				if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
					c.Close()
				}
			}
			return
		}
		switch {
		case r.URL.Path == "/v1/messages/count_tokens":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"input_tokens":1234}`)
		case bytes.Contains(b, []byte(`"stream":true`)):
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, anthropicStream)
		default:
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, anthropicAnswer)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

// scripted is one answer the fake gives instead of its default.
type scripted struct {
	status            int
	contentType, body string
	cut               bool
}

func (f *fakeAnthropic) script(s ...scripted) {
	f.mu.Lock()
	f.next = append(f.next, s...)
	f.mu.Unlock()
}

func (f *fakeAnthropic) last() (string, http.Header, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.bodies) - 1
	return f.bodies[n], f.headers[n], f.paths[n]
}

const anthropicModel = `
models:
  - name: claude
    deployments:
      - id: claude-a
        provider: anthropic
        base_url: %s
        api_key: sk-ant-deployment
        model: claude-up
        price: {input: 3, cached_input: 0.3, cache_write: 3.75, output: 15, currency: USD}
`

// TestMessagesNativePassThrough: an anthropic deployment gets the
// client's bytes (model renamed), the client gets the vendor's bytes
// (thinking blocks, cache usage and all), and the meter charges cache
// reads and writes at their own prices.
func TestMessagesNativePassThrough(t *testing.T) {
	up := startFakeAnthropic(t)
	e := start(t, strings.ReplaceAll(anthropicModel, "%s", up.URL))
	orgID, _, k := e.tenant("native", nil, nil, nil)

	body := `{"model":"claude","max_tokens":64,"system":[{"type":"text","text":"Long doc","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"hi"}]}`
	st, _, b := e.messages("/v1/messages", k.Key, body, "anthropic-beta", "prompt-caching-2024-07-31")
	want := strings.Replace(anthropicAnswer, `"model":"claude-up"`, `"model":"claude"`, 1)
	if st != 200 || string(b) != want {
		t.Fatalf("native answer %d:\n%s\nwant\n%s", st, b, want)
	}
	got, hdr, path := up.last()
	if got != strings.Replace(body, `"model":"claude"`, `"model":"claude-up"`, 1) || path != "/v1/messages" {
		t.Errorf("upstream got %s %s", path, got)
	}
	if hdr.Get("X-Api-Key") != "sk-ant-deployment" || hdr.Get("Anthropic-Beta") != "prompt-caching-2024-07-31" || hdr.Get("Anthropic-Version") != "2023-06-01" {
		t.Errorf("upstream headers %v", hdr)
	}

	st, _, b = e.messages("/v1/messages", k.Key, `{"model":"claude","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	wantStream := strings.Replace(anthropicStream, `"model":"claude-up"`, `"model":"claude"`, 1)
	if st != 200 || string(b) != wantStream {
		t.Errorf("native stream %d:\n%s\nwant\n%s", st, b, wantStream)
	}

	st, _, b = e.messages("/v1/messages/count_tokens", k.Key, `{"model":"claude","messages":[{"role":"user","content":"hi"}]}`)
	if st != 200 || string(b) != `{"input_tokens":1234}` {
		t.Errorf("count_tokens %d %s", st, b)
	}
	if got, _, path := up.last(); path != "/v1/messages/count_tokens" || !strings.Contains(got, `"claude-up"`) {
		t.Errorf("count_tokens upstream got %s %s", path, got)
	}

	// Cost: call 1: 10 input×3 + 2000 read×0.3 + 1000 written×3.75 + 7×15 = 4485 micro-USD;
	// call 2: 10×3 + 2000×0.3 + 15×15 = 855.
	var u usageRows
	e.call("GET", "/api/usage?org="+orgID, adminKey, nil, &u)
	if len(u.Data) != 1 || u.Data[0].Requests != 2 || u.Data[0].CostMicros != 4485+855 || u.Data[0].PromptTokens != 3010+2010 || u.Data[0].CompletionTokens != 22 {
		t.Errorf("usage = %+v, want 2 requests, 5020 prompt and 22 completion tokens, cost %d", u.Data, 4485+855)
	}

	// An OpenAI client of the same model is translated to Anthropic's API.
	st, _, b = e.post("/v1/chat/completions", k.Key, []byte(`{"model":"claude","messages":[{"role":"user","content":"hi"}]}`))
	var chat struct {
		Model   string
		Choices []struct {
			Message struct {
				Content   string
				Reasoning string `json:"reasoning_content"`
			}
		}
	}
	json.Unmarshal(b, &chat)
	if st != 200 || chat.Model != "claude" || len(chat.Choices) != 1 || chat.Choices[0].Message.Content != "Hi there" || chat.Choices[0].Message.Reasoning != "hm" {
		t.Errorf("chat through anthropic: %d %s", st, b)
	}
	if got, _, _ := up.last(); !strings.Contains(got, `"max_tokens"`) || strings.Contains(got, `"choices"`) {
		t.Errorf("anthropic upstream got %s", got)
	}
}

// TestMessagesGuardRewriteIsTranslated: when the guard redacts the
// prompt, the redacted chat body is what goes upstream — translated for
// an anthropic deployment, never the client's original bytes.
func TestMessagesGuardRewriteIsTranslated(t *testing.T) {
	up := startFakeAnthropic(t)
	e := start(t, "guard:\n  default: red\n  policies:\n    red:\n      input:\n        pii: {EMAIL: redact}\n"+strings.ReplaceAll(anthropicModel, "%s", up.URL))
	st, _, b := e.messages("/v1/messages", adminKey, `{"model":"claude","max_tokens":64,"messages":[{"role":"user","content":"mail me at jane.doe@example.com"}]}`)
	if st != 200 {
		t.Fatalf("%d %s", st, b)
	}
	got, _, _ := up.last()
	if strings.Contains(got, "jane.doe@example.com") || !strings.Contains(got, `"claude-up"`) {
		t.Errorf("upstream got the unredacted or untranslated body: %s", got)
	}
	var m struct{ Content []struct{ Text string } }
	json.Unmarshal(b, &m)
	if len(m.Content) == 0 || m.Content[len(m.Content)-1].Text != "Hi there" {
		t.Errorf("answer %s", b)
	}
}

// TestMessagesOnLocalModel: an Anthropic client reaches a GGUF model run
// by the in-process engine, streamed and not.
func TestMessagesOnLocalModel(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	gguf := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "models", "stories260K.gguf")
	if _, err := os.Stat(gguf); err != nil {
		t.Skipf("shared fixtures not found: %v", err)
	}
	e := start(t, "models:\n  - name: stories\n    deployments:\n      - {provider: local, path: "+gguf+"}\n")
	st, _, b := e.messages("/v1/messages", adminKey, `{"model":"stories","max_tokens":12,"temperature":0,"messages":[{"role":"user","content":"Tell me a story."}]}`)
	var m struct {
		Content []struct{ Type, Text string }
		Stop    string `json:"stop_reason"`
		Usage   struct {
			In  int `json:"input_tokens"`
			Out int `json:"output_tokens"`
		}
	}
	json.Unmarshal(b, &m)
	if st != 200 || len(m.Content) != 1 || m.Content[0].Text == "" || m.Stop != "max_tokens" || m.Usage.Out != 12 || m.Usage.In == 0 {
		t.Fatalf("local message %d: %s", st, b)
	}
	st, _, b = e.messages("/v1/messages", adminKey, `{"model":"stories","max_tokens":12,"temperature":0,"stream":true,"messages":[{"role":"user","content":"Tell me a story."}]}`)
	names, datas := sseEvents(t, b)
	var text strings.Builder
	for _, d := range datas {
		var ev struct{ Delta struct{ Text string } }
		json.Unmarshal([]byte(d), &ev)
		text.WriteString(ev.Delta.Text)
	}
	if st != 200 || len(names) < 4 || names[len(names)-1] != "message_stop" || text.String() != m.Content[0].Text {
		t.Errorf("local stream %d: %v %q, want the same text as unstreamed %q", st, names, text.String(), m.Content[0].Text)
	}
}

// TestMessagesNativeLogged: natively passed-through answers, streamed or
// not, reach the request log with their text.
func TestMessagesNativeLogged(t *testing.T) {
	up := startFakeAnthropic(t)
	e := start(t, strings.ReplaceAll(anthropicModel, "%s", up.URL))
	_, projectID, k := e.tenant("nativelog", nil, map[string]any{"keep_bodies": true}, nil)
	e.messages("/v1/messages", k.Key, `{"model":"claude","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}`, "X-Request-Id", "nat-1")
	e.messages("/v1/messages", k.Key, `{"model":"claude","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}`, "X-Request-Id", "nat-2")
	waitFor(t, func() bool {
		var l logList
		e.call("GET", "/api/logs?project="+projectID, adminKey, nil, &l)
		return len(l.Data) == 2
	})
	for id, want := range map[string]string{"nat-1": "Hi there", "nat-2": `"Hello"`} {
		var one struct {
			Response json.RawMessage `json:"response"`
		}
		e.call("GET", "/api/logs/"+id, adminKey, nil, &one)
		if !strings.Contains(string(one.Response), want) {
			t.Errorf("log %s response %s, want %s", id, one.Response, want)
		}
	}
}

// TestMessagesNativeOnlyFeatures: what chat cannot express (a document
// block, a server tool) still reaches a deployment that speaks Anthropic's
// API, as sent; it is a 400 naming the field when no deployment can take
// it, or when the guard rewrote the prompt (the rewrite exists only in
// chat form).
func TestMessagesNativeOnlyFeatures(t *testing.T) {
	up := startFakeAnthropic(t)
	oa := upstream(t)
	e := start(t, "guard:\n  policies:\n    red:\n      input:\n        pii: {EMAIL: redact}\n"+
		strings.ReplaceAll(anthropicModel, "%s", up.URL)+strings.TrimPrefix(oneModel("gpt", oa.URL, ""), "\nmodels:\n"))
	doc := `{"model":"%s","max_tokens":64,"tools":[{"type":"web_search_20250305","name":"web_search"}],"messages":[{"role":"user","content":[{"type":"document","source":{"type":"text","media_type":"text/plain","data":"The refund window is 30 days."}},{"type":"text","text":"Summarise."}]}]}`
	body := strings.ReplaceAll(doc, "%s", "claude")
	st, _, b := e.messages("/v1/messages", adminKey, body)
	if st != 200 {
		t.Fatalf("native-only features on an anthropic deployment: %d %s", st, b)
	}
	if got, _, _ := up.last(); got != strings.Replace(body, `"claude"`, `"claude-up"`, 1) {
		t.Errorf("upstream got %s", got)
	}
	st, _, b = e.messages("/v1/messages", adminKey, strings.ReplaceAll(doc, "%s", "gpt"))
	if st != 400 || !strings.Contains(string(b), "tools[0]") && !strings.Contains(string(b), "messages[0].content[0]") {
		t.Errorf("on an OpenAI deployment: %d %s, want a 400 naming the field", st, b)
	}
	if n := oa.Requests.Load(); n != 0 {
		t.Errorf("the OpenAI upstream was called %d times", n)
	}
	// A project whose policy redacts: the rewrite cannot go natively.
	_, _, k := e.tenant("red", nil, map[string]any{"policy": "red"}, nil)
	st, _, b = e.messages("/v1/messages", k.Key, strings.Replace(body, "Summarise.", "Summarise for jane.doe@example.com.", 1))
	if st != 400 {
		t.Errorf("redacted native-only request: %d %s, want 400", st, b)
	}
	// count_tokens too.
	st, _, b = e.messages("/v1/messages/count_tokens", adminKey, strings.Replace(body, `"max_tokens":64,`, "", 1))
	if st != 200 || string(b) != `{"input_tokens":1234}` {
		t.Errorf("count_tokens native-only: %d %s", st, b)
	}
	// An OpenAI client of the anthropic model asking what Anthropic lacks
	// gets a 400 naming the field, not a 502.
	st, _, b = e.post("/v1/chat/completions", adminKey, []byte(`{"model":"claude","n":2,"messages":[{"role":"user","content":"hi"}]}`))
	if st != 400 || !strings.Contains(string(b), "n") {
		t.Errorf("n=2 on anthropic: %d %s", st, b)
	}
}

// TestMessagesNativeStreamFaults: an error event first is a failed
// attempt (the fallback serves); a stream cut before message_delta is
// metered from the text sent, not message_start's output count of 1.
func TestMessagesNativeStreamFaults(t *testing.T) {
	up := startFakeAnthropic(t)
	oa := upstream(t)
	e := start(t, fmt.Sprintf(`
models:
  - name: claude
    max_retries: 1
    deployments:
      - {id: claude-a, provider: anthropic, base_url: %s, api_key: k, model: claude-up}
      - {id: claude-b, provider: openai, base_url: %s, model: gpt-up, weight: 0}
`, up.URL, oa.URL))
	orgID, _, k := e.tenant("faults", nil, nil, nil)
	up.script(scripted{status: 200, contentType: "text/event-stream",
		body: "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"})
	st, h, b := e.messages("/v1/messages", k.Key, `{"model":"claude","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if names, _ := sseEvents(t, b); st != 200 || h.Get("X-Switchyard-Deployment") != "claude-b" || len(names) == 0 || names[len(names)-1] != "message_stop" {
		t.Fatalf("overloaded first event: %d via %q %s", st, h.Get("X-Switchyard-Deployment"), b)
	}

	var words strings.Builder
	words.WriteString("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-up\",\"content\":[],\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\n\n")
	words.WriteString("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n")
	for range 50 {
		words.WriteString("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"parcel \"}}\n\n")
	}
	up.script(scripted{status: 200, contentType: "text/event-stream", body: words.String(), cut: true})
	e.messages("/v1/messages", k.Key, `{"model":"claude","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	var u usageRows
	waitFor(t, func() bool {
		u = usageRows{}
		e.call("GET", "/api/usage?org="+orgID, adminKey, nil, &u)
		return total(u) == 2
	})
	var out int64
	for _, r := range u.Data {
		out += r.CompletionTokens
	}
	if out < 40 {
		t.Errorf("completion tokens metered %d (usage %+v): the cut stream's 50 words were not counted", out, u.Data)
	}
}
