package tokenize

import "testing"

// TestCountChatCookbook checks the cookbook's example conversation, whose
// prompt_tokens the cookbook reports the API returned: 129 for gpt-4 /
// gpt-3.5-turbo (cl100k_base) and 124 for gpt-4o (o200k_base).
func TestCountChatCookbook(t *testing.T) {
	messages := `[
  {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
  {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
  {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
  {"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
  {"role": "system", "name": "example_assistant", "content": "Let's talk later when we're less busy about how to do better."},
  {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client deliverable."}
]`
	tests := []struct {
		enc  string
		want int
	}{
		{CL100KBase, 129},
		{O200KBase, 124},
	}
	for _, tt := range tests {
		got, err := CountChat(mustGet(t, tt.enc), []byte(messages), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("%s: CountChat = %d, want %d", tt.enc, got, tt.want)
		}
	}
}

func TestCountChat(t *testing.T) {
	enc := mustGet(t, O200KBase)
	c := enc.Count
	tests := []struct {
		name     string
		messages string
		tools    string
		want     int
	}{
		{"empty", `[]`, "", ReplyPriming},
		{"string content", `[{"role":"user","content":"hello world"}]`, "",
			ReplyPriming + TokensPerMessage + c("user") + c("hello world")},
		{"name", `[{"role":"user","name":"bob","content":"hi"}]`, "",
			ReplyPriming + TokensPerMessage + c("user") + c("bob") + TokensPerName + c("hi")},
		{"escaped string", `[{"role":"user","content":"a\nb \u4e2d\"q\""}]`, "",
			ReplyPriming + TokensPerMessage + c("user") + c("a\nb 中\"q\"")},
		{"parts", `[{"role":"user","content":[
			{"type":"text","text":"what is in this image?"},
			{"type":"image_url","image_url":{"url":"https://x/y.png","detail":"low"}},
			{"type":"image_url","image_url":{"url":"https://x/z.png"}},
			{"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}}]}]`, "",
			ReplyPriming + TokensPerMessage + c("user") + c("what is in this image?") + ImageTokensLow + ImageTokensHigh + AttachmentTokens},
		{"unknown part", `[{"role":"user","content":[{"type":"x","v":1}]}]`, "",
			ReplyPriming + TokensPerMessage + c("user") + c(`{"type":"x","v":1}`)},
		{"tool call", `[{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},
			{"role":"tool","tool_call_id":"c1","content":"42"}]`, "",
			ReplyPriming + 2*TokensPerMessage + c("assistant") + c(`[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]`) +
				c("tool") + c("c1") + c("42")},
		{"tools", `[{"role":"user","content":"hi"}]`, ` [{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}] `,
			ReplyPriming + TokensPerMessage + c("user") + c("hi") + c(`[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]`)},
		{"null tools", `[{"role":"user","content":"hi"}]`, "null",
			ReplyPriming + TokensPerMessage + c("user") + c("hi")},
	}
	for _, tt := range tests {
		got, err := CountChat(enc, []byte(tt.messages), []byte(tt.tools))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%s: CountChat = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestCountChatErrors(t *testing.T) {
	enc := mustGet(t, O200KBase)
	tests := []struct{ name, messages, tools string }{
		{"not json", `[{`, ""},
		{"not array", `{"role":"user"}`, ""},
		{"null", `null`, ""},
		{"not object", `["hi"]`, ""},
		{"null message", `[null]`, ""},
		{"parts not array of objects", `[{"role":"user","content":["x"]}]`, ""},
		{"text not string", `[{"role":"user","content":[{"type":"text","text":1}]}]`, ""},
		{"bad tools", `[]`, `[{`},
	}
	for _, tt := range tests {
		if _, err := CountChat(enc, []byte(tt.messages), []byte(tt.tools)); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

func TestCountChatRequest(t *testing.T) {
	enc := mustGet(t, O200KBase)
	body := `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function"}],"functions":[{"name":"f"}],"stream":true}`
	got, err := CountChatRequest(enc, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := ReplyPriming + TokensPerMessage + enc.Count("user") + enc.Count("hi") +
		enc.Count(`[{"type":"function"}]`) + enc.Count(`[{"name":"f"}]`)
	if got != want {
		t.Errorf("CountChatRequest = %d, want %d", got, want)
	}
	for _, bad := range []string{`{"model":"x"}`, `[]`, `{`} {
		if _, err := CountChatRequest(enc, []byte(bad)); err == nil {
			t.Errorf("CountChatRequest(%s): no error", bad)
		}
	}
}
