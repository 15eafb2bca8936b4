package gateway

import (
	"encoding/json"
	"strings"
	"testing"

	"switchyard/internal/call"
	wire "switchyard/internal/wire/openai"
)

// holdUpper holds back the last 3 characters and upper-cases what it
// releases, like a redactor with a hold-back would transform text.
type holdUpper struct{ held string }

func (h *holdUpper) Text(s string) string {
	h.held += s
	if len(h.held) <= 3 {
		return ""
	}
	out := h.held[:len(h.held)-3]
	h.held = h.held[len(h.held)-3:]
	return strings.ToUpper(out)
}

func (h *holdUpper) Flush() string { out := strings.ToUpper(h.held); h.held = ""; return out }

func newOutputs() *outputs { return &outputs{make: func() call.Output { return &holdUpper{} }} }

func content(t *testing.T, doc []byte) (string, string) {
	t.Helper()
	var v struct {
		Choices []struct {
			Delta   struct{ Content *string }
			Message struct{ Content *string }
			Text    *string
		}
	}
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatalf("%s: %v", doc, err)
	}
	var out []string
	for _, c := range v.Choices {
		for _, p := range []*string{c.Delta.Content, c.Message.Content, c.Text} {
			if p != nil {
				out = append(out, *p)
			}
		}
	}
	return strings.Join(out, "|"), string(doc)
}

func TestOutputFilters(t *testing.T) {
	o := newOutputs()
	got, _ := content(t, o.body([]byte(`{"choices":[{"index":0,"message":{"role":"assistant","content":"hello \"you\""},"finish_reason":"stop"}],"usage":{}}`)))
	if got != `HELLO "YOU"` {
		t.Errorf("body = %q", got)
	}

	o = newOutputs()
	var stream strings.Builder
	for _, ch := range []string{
		`{"choices":[{"index":0,"delta":{"role":"assistant","content":"ab"},"finish_reason":null}]}`,
		`{"choices":[{"index":0,"delta":{"content":"cdef"},"finish_reason":null}]}`,
		`{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
	} {
		got, raw := content(t, o.chunk([]byte(ch)))
		if !json.Valid([]byte(raw)) {
			t.Fatalf("invalid chunk %s", raw)
		}
		stream.WriteString(got)
	}
	if stream.String() != "ABCDEF" {
		t.Errorf("stream = %q, want ABCDEF (the finishing chunk carries what was held)", stream.String())
	}
	if o.rest("m") != nil {
		t.Error("rest after a finishing chunk")
	}

	// A stream that ends without a finishing chunk gets a last chunk.
	o = newOutputs()
	content(t, o.chunk([]byte(`{"choices":[{"index":0,"delta":{"content":"xyz12"}}]}`)))
	got, _ = content(t, o.rest("m"))
	if got != "Z12" {
		t.Errorf("rest = %q", got)
	}
	// "content": null on the finishing chunk takes the held text.
	o = newOutputs()
	o.chunk([]byte(`{"choices":[{"index":0,"delta":{"content":"abcd"}}]}`))
	got, _ = content(t, o.chunk([]byte(`{"choices":[{"index":0,"delta":{"content":null},"finish_reason":"length"}]}`)))
	if got != "BCD" {
		t.Errorf("null content finish = %q", got)
	}
}

func TestParseUsage(t *testing.T) {
	body := []byte(`{"id":"x","usage":{"prompt_tokens":120,"completion_tokens":7,"total_tokens":127,"prompt_tokens_details":{"cached_tokens":64,"audio_tokens":0}}}`)
	all := wire.Span{Start: 0, End: len(body)}
	u, ok := parseUsage(body, wire.Member(body, all, "usage"))
	if !ok || u.PromptTokens != 120 || u.CompletionTokens != 7 || u.PromptDetails.CachedTokens != 64 {
		t.Errorf("usage = %+v, %v", u, ok)
	}
	if _, ok := parseUsage(body, wire.Member(body, all, "id")); ok {
		t.Error("a string read as usage")
	}
	if _, ok := parseUsage(body, wire.Member(body, all, "missing")); ok {
		t.Error("absent usage read")
	}
}

// blockX blocks the answer once it sees "X".
type blockX struct{ blocked bool }

func (b *blockX) Text(s string) string {
	b.blocked = b.blocked || strings.Contains(s, "X")
	if b.blocked {
		return ""
	}
	return s
}
func (b *blockX) Flush() string           { return "" }
func (b *blockX) Blocked() (string, bool) { return "EMAIL (personal data)", b.blocked }

var _ call.Blocker = (*blockX)(nil)

// TestOutputsBodyBlocked: a blocked choice gets the policy message and
// finish_reason content_filter, wherever finish_reason sits; the other
// choices are untouched.
func TestOutputsBodyBlocked(t *testing.T) {
	doc := []byte(`{"choices":[{"finish_reason":"stop","index":0,"message":{"role":"assistant","content":"mail X now"}},` +
		`{"index":1,"message":{"content":"fine"},"finish_reason":"length"}]}`)
	o := &outputs{make: func() call.Output { return &blockX{} }}
	out := o.body(doc)
	var v struct {
		Choices []struct {
			FinishReason string `json:"finish_reason"`
			Message      struct{ Content string }
		}
	}
	if err := json.Unmarshal(out, &v); err != nil || len(v.Choices) != 2 {
		t.Fatalf("%s: %v", out, err)
	}
	if c := v.Choices[0]; c.FinishReason != "content_filter" || c.Message.Content != blockedMessage("EMAIL (personal data)") {
		t.Errorf("blocked choice: %s", out)
	}
	if c := v.Choices[1]; c.FinishReason != "length" || c.Message.Content != "fine" {
		t.Errorf("other choice: %s", out)
	}
	if reason, ok := o.blocked(); !ok || reason != "EMAIL (personal data)" {
		t.Errorf("blocked() = %q %v", reason, ok)
	}
}
