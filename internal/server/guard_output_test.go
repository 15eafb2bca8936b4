package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"switchyard/internal/fakeai"
)

const outputPolicies = `
guard:
  policies:
    answers:
      output:
        pii: {EMAIL: block, PHONE: redact}
        categories: {violence: block}
        leak: {action: block, system_prompt: true, secrets: ["ACME-CANARY-7731"]}
`

// systemPrompt is the system message of the leak tests.
const systemPrompt = "You are the support assistant of Acme Rockets. Never reveal the launch schedule, " +
	"which is kept in the vault on level three, and always answer in a calm and friendly tone."

func chatBody(t *testing.T, stream bool, system string) []byte {
	t.Helper()
	msgs := []map[string]string{{"role": "user", "content": "What can you tell me?"}}
	if system != "" {
		msgs = append([]map[string]string{{"role": "system", "content": system}}, msgs...)
	}
	b, err := json.Marshal(map[string]any{"model": "chat", "stream": stream, "messages": msgs})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGuardOutputBlocks: an answer the output policy blocks is a 200 whose
// choice says content_filter (non-streamed) or a stream that ends with a
// content_policy_violation error event, and the offending text is never
// sent; the decision is in the audit log with the request id.
func TestGuardOutputBlocks(t *testing.T) {
	up := upstream(t)
	e := start(t, outputPolicies+oneModel("chat", up.URL, ""))
	_, projectID, k := e.tenant("out", map[string]any{}, nil, nil)
	if st := e.call("PATCH", "/api/projects/"+projectID, adminKey, map[string]any{"policy": "answers"}, nil); st != 200 {
		t.Fatalf("set policy: %d", st)
	}
	filler := strings.Repeat("Thanks for waiting, here is the answer. ", 3)

	// Non-streamed: 200, finish_reason content_filter, the policy message.
	up.SetDefault(fakeai.Behavior{Content: filler + "Write to boss@corp.example for the schedule."})
	st, _, body := e.post("/v1/chat/completions", k.Key, chatBody(t, false, ""), "X-Request-Id", "out-pii-1")
	var resp openai.ChatCompletion
	if err := json.Unmarshal(body, &resp); err != nil || st != 200 || len(resp.Choices) != 1 {
		t.Fatalf("non-stream: %d %s", st, body)
	}
	if ch := resp.Choices[0]; ch.FinishReason != "content_filter" || !strings.Contains(ch.Message.Content, "EMAIL") {
		t.Errorf("choice = %+v", ch)
	}
	if strings.Contains(string(body), "corp.example") || strings.Contains(string(body), "Thanks") {
		t.Errorf("the blocked answer leaked: %s", body)
	}
	// The SDK sees the same.
	c := e.client(k.Key)
	sdkResp, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	if err != nil || sdkResp.Choices[0].FinishReason != "content_filter" {
		t.Errorf("SDK: %v %+v", err, sdkResp)
	}

	// Streamed: the e-mail split across chunks ends the stream with an
	// error event; no chunk carries any of it.
	up.SetDefault(fakeai.Behavior{Pieces: []string{filler, "Write to bo", "ss@corp.exa", "mple today."}})
	st, _, body = e.post("/v1/chat/completions", k.Key, chatBody(t, true, ""), "X-Request-Id", "out-pii-2")
	sse := string(body)
	if st != 200 || !strings.Contains(sse, `"code":"content_policy_violation"`) || strings.Contains(sse, "[DONE]") {
		t.Errorf("stream: %d %s", st, sse)
	}
	for _, s := range []string{"Write", "corp", "today"} {
		if strings.Contains(sse, s) {
			t.Errorf("stream released %q: %s", s, sse)
		}
	}
	s := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	var text strings.Builder
	for s.Next() {
		if ch := s.Current(); len(ch.Choices) > 0 {
			text.WriteString(ch.Choices[0].Delta.Content)
		}
	}
	if s.Err() == nil || strings.Contains(text.String(), "corp") {
		t.Errorf("SDK stream: err %v, text %q", s.Err(), text.String())
	}

	// A category the policy blocks.
	up.SetDefault(fakeai.Behavior{Pieces: []string{"First you build a b", "omb from parts."}})
	_, _, body = e.post("/v1/chat/completions", k.Key, chatBody(t, true, ""))
	if !strings.Contains(string(body), "violence") || strings.Contains(string(body), "omb") {
		t.Errorf("category stream: %s", body)
	}

	// The system prompt repeated (45 characters across chunks, case and
	// spacing changed), and a secret, are blocked both ways.
	leak := []string{filler + "Sure: never reveal the LAUNCH", "  schedule, which is kept\n in ", "the vault on level three."}
	up.SetDefault(fakeai.Behavior{Pieces: leak})
	_, _, body = e.post("/v1/chat/completions", k.Key, chatBody(t, true, systemPrompt), "X-Request-Id", "out-leak-1")
	if !strings.Contains(string(body), "system prompt") || strings.Contains(string(body), "vault") || strings.Contains(string(body), "never") {
		t.Errorf("leak stream: %s", body)
	}
	_, _, body = e.post("/v1/chat/completions", k.Key, chatBody(t, false, systemPrompt))
	if !strings.Contains(string(body), `"content_filter"`) || strings.Contains(string(body), "vault") {
		t.Errorf("leak: %s", body)
	}
	up.SetDefault(fakeai.Behavior{Content: "The code is ACME-CANARY-7731."})
	_, _, body = e.post("/v1/chat/completions", k.Key, chatBody(t, false, ""))
	if !strings.Contains(string(body), `"content_filter"`) || strings.Contains(string(body), "CANARY-7731") {
		t.Errorf("secret: %s", body)
	}

	// A short overlap with the system prompt and a redacted phone pass.
	up.SetDefault(fakeai.Behavior{Pieces: []string{"I am the support assistant", " of Acme Rockets; call 13812345678."}})
	_, _, body = e.post("/v1/chat/completions", k.Key, chatBody(t, true, systemPrompt))
	if sse := string(body); strings.Contains(sse, "error") || !strings.Contains(sse, "[DONE]") || !strings.Contains(sse, "[PHONE_1]") || strings.Contains(sse, "12345678") {
		t.Errorf("short overlap: %s", sse)
	}

	// The output decisions are audited with the request id, never the values.
	want := map[string]string{"out-pii-1": "EMAIL:block", "out-pii-2": "EMAIL:block", "out-leak-1": "LEAK system_prompt:block"}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var log struct {
			Data []struct {
				Action    string            `json:"action"`
				Target    string            `json:"target"`
				RequestID string            `json:"request_id"`
				Detail    map[string]string `json:"detail"`
			} `json:"data"`
		}
		e.call("GET", "/api/audit?limit=1000", adminKey, nil, &log)
		got := map[string]string{}
		for _, x := range log.Data {
			if x.Detail["direction"] != "output" {
				continue
			}
			if x.Action != "guard.block" && x.Action != "guard.redact" || x.Target != projectID || strings.Contains(x.Detail["decisions"], "corp") {
				t.Errorf("audit entry %+v", x)
			}
			if x.Action == "guard.block" {
				got[x.RequestID] = x.Detail["decisions"]
			}
		}
		missing := false
		for id, d := range want {
			missing = missing || !strings.Contains(got[id], d)
		}
		if !missing {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("output audit entries = %v, want %v", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestGuardOutputPolicyValidation: the admin API takes an inline policy
// with output block and a leak check, and refuses a leak check on input.
func TestGuardOutputPolicyValidation(t *testing.T) {
	e := start(t, "")
	_, projectID, _ := e.tenant("val", map[string]any{}, nil, nil)
	ok := map[string]any{"output": map[string]any{"pii": map[string]string{"EMAIL": "block"}, "categories": map[string]string{"violence": "block"},
		"leak": map[string]any{"action": "flag", "system_prompt": true, "min_span": 60}}}
	if st := e.call("PATCH", "/api/projects/"+projectID, adminKey, map[string]any{"policy": ok}, nil); st != 200 {
		t.Errorf("output block policy: %d", st)
	}
	bad := map[string]any{"input": map[string]any{"leak": map[string]any{"action": "block", "system_prompt": true}}}
	if st := e.call("PATCH", "/api/projects/"+projectID, adminKey, map[string]any{"policy": bad}, nil); st != 400 {
		t.Errorf("input leak: %d, want 400", st)
	}
}
