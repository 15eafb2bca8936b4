package anthropic

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const base = `"model":"m","max_tokens":5`

func TestToChatErrors(t *testing.T) {
	tests := []struct {
		name, body string
		want       string // prefix of the message: the field path
	}{
		{"not json", `{"model":`, "the request body is not valid JSON"},
		{"not object", `[1]`, "the request body must be a JSON object"},
		{"bad utf8", "{\"model\":\"\xff\"}", "the request body is not valid UTF-8"},
		{"no max_tokens", `{"model":"m","messages":[{"role":"user","content":"x"}]}`, "max_tokens: is required"},
		{"max_tokens string", `{"model":"m","max_tokens":"5","messages":[]}`, "max_tokens: must be an integer"},
		{"max_tokens zero", `{"model":"m","max_tokens":0,"messages":[]}`, "max_tokens: must be at least 1"},
		{"no model", `{"max_tokens":5,"messages":[]}`, "model: is required"},
		{"model number", `{"model":1,"max_tokens":5}`, "model: must be a string"},
		{"no messages", `{` + base + `}`, "messages: is required"},
		{"empty messages", `{` + base + `,"messages":[]}`, "messages: must not be empty"},
		{"unknown top-level", `{` + base + `,"messages":[],"container":"c1"}`, "container: is not supported"},
		{"thinking unknown", `{` + base + `,"thinking":{"type":"deep"},"messages":[]}`, "thinking.type:"},
		{"thinking budget type", `{` + base + `,"thinking":{"type":"enabled","budget_tokens":"lots"},"messages":[]}`, "thinking.budget_tokens:"},
		{"bad role", `{` + base + `,"messages":[{"role":"system","content":"x"}]}`, "messages[0].role:"},
		{"content number", `{` + base + `,"messages":[{"role":"user","content":3}]}`, "messages[0].content: must be a string or an array"},
		{"empty blocks", `{` + base + `,"messages":[{"role":"user","content":[]}]}`, "messages[0].content: must not be empty"},
		{"document block", `{` + base + `,"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":[{"type":"document","source":{"type":"text","media_type":"text/plain","data":"x"}}]}]}`, "messages[2].content[0].type:"},
		{"citations", `{` + base + `,"messages":[{"role":"user","content":[{"type":"text","text":"x","citations":[]}]}]}`, "messages[0].content[0].citations:"},
		{"unknown block", `{` + base + `,"messages":[{"role":"user","content":[{"type":"search_result"}]}]}`, "messages[0].content[0].type:"},
		{"block without type", `{` + base + `,"messages":[{"role":"user","content":[{"text":"x"}]}]}`, "messages[0].content[0].type: is required"},
		{"text not string", `{` + base + `,"messages":[{"role":"user","content":[{"type":"text","text":1}]}]}`, "messages[0].content[0].text: must be a string"},
		{"image file source", `{` + base + `,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"f"}}]}]}`, "messages[0].content[0].source.type:"},
		{"image no data", `{` + base + `,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png"}}]}]}`, "messages[0].content[0].source.data: is required"},
		{"tool_use in user", `{` + base + `,"messages":[{"role":"user","content":[{"type":"tool_use","id":"a","name":"b","input":{}}]}]}`, "messages[0].content[0].type:"},
		{"tool_result in assistant", `{` + base + `,"messages":[{"role":"assistant","content":[{"type":"tool_result","tool_use_id":"a"}]}]}`, "messages[0].content[0].type:"},
		{"tool_use input array", `{` + base + `,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"b","input":[]}]}]}`, "messages[0].content[0].input: must be an object"},
		{"tool_result image", `{` + base + `,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":[{"type":"image","source":{}}]}]}]}`, "messages[0].content[0].content[0].type:"},
		{"tool_result no id", `{` + base + `,"messages":[{"role":"user","content":[{"type":"tool_result","content":"x"}]}]}`, "messages[0].content[0].tool_use_id: is required"},
		{"is_error string", `{` + base + `,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","is_error":"yes"}]}]}`, "messages[0].content[0].is_error: must be a boolean"},
		{"server tool", `{` + base + `,"messages":[{"role":"user","content":"x"}],"tools":[{"type":"web_search_20250305","name":"web_search"}]}`, "tools[0].type: server tools"},
		{"tool no schema", `{` + base + `,"messages":[{"role":"user","content":"x"}],"tools":[{"name":"f"}]}`, "tools[0].input_schema: is required"},
		{"tool_choice bad", `{` + base + `,"messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"maybe"}}`, "tool_choice.type:"},
		{"tool_choice string", `{` + base + `,"messages":[{"role":"user","content":"x"}],"tool_choice":"auto"}`, "tool_choice: must be an object"},
		{"system image", `{` + base + `,"messages":[{"role":"user","content":"x"}],"system":[{"type":"image"}]}`, "system[0].type:"},
		{"metadata extra", `{` + base + `,"messages":[{"role":"user","content":"x"}],"metadata":{"user_id":"u","tier":"x"}}`, "metadata.tier:"},
		{"stop_sequences number", `{` + base + `,"messages":[{"role":"user","content":"x"}],"stop_sequences":[1]}`, "stop_sequences[0]: must be a string"},
		{"temperature string", `{` + base + `,"messages":[{"role":"user","content":"x"}],"temperature":"hot"}`, "temperature: must be a number"},
		{"stream string", `{` + base + `,"messages":[{"role":"user","content":"x"}],"stream":"yes"}`, "stream: must be a boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ToChat([]byte(tt.body))
			checkInvalid(t, err, tt.want)
		})
	}
}

func checkInvalid(t *testing.T, err error, want string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want *Error", err, err)
	}
	if e.Status != 400 || e.Type != TypeInvalidRequest {
		t.Errorf("status %d type %q, want 400 invalid_request_error", e.Status, e.Type)
	}
	if !strings.HasPrefix(e.Message, want) {
		t.Errorf("message %q, want prefix %q", e.Message, want)
	}
	var env struct {
		Type  string `json:"type"`
		Error struct{ Type, Message string }
	}
	if err := json.Unmarshal(e.Body(), &env); err != nil || env.Type != "error" || env.Error.Message != e.Message {
		t.Errorf("Body() = %s (%v)", e.Body(), err)
	}
}

func TestFromChatRequestErrors(t *testing.T) {
	const msgs = `"messages":[{"role":"user","content":"x"}]`
	tests := []struct {
		name, body, want string
	}{
		{"not json", `{`, "the request body is not valid JSON"},
		{"no model", `{` + msgs + `}`, "model: is required"},
		{"n 2", `{"model":"m",` + msgs + `,"n":2}`, "n: only one choice"},
		{"logprobs", `{"model":"m",` + msgs + `,"logprobs":true}`, "logprobs:"},
		{"top_logprobs", `{"model":"m",` + msgs + `,"top_logprobs":2}`, "top_logprobs: is not supported"},
		{"json_schema", `{"model":"m",` + msgs + `,"response_format":{"type":"json_schema","json_schema":{}}}`, "response_format.type:"},
		{"seed", `{"model":"m",` + msgs + `,"seed":1}`, "seed: is not supported"},
		{"max_tokens 0", `{"model":"m",` + msgs + `,"max_tokens":0}`, "max_tokens: must be at least 1"},
		{"no messages", `{"model":"m"}`, "messages: is required"},
		{"only system", `{"model":"m","messages":[{"role":"system","content":"s"}]}`, "messages: must contain"},
		{"late system", `{"model":"m","messages":[{"role":"user","content":"x"},{"role":"system","content":"s"}]}`, "messages[1].role:"},
		{"function role", `{"model":"m","messages":[{"role":"function","content":"x","name":"f"}]}`, "messages[0].role:"},
		{"audio part", `{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]}`, "messages[0].content[0].type:"},
		{"image in system", `{"model":"m","messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"http://x"}}]}]}`, "messages[0].content[0].type:"},
		{"bad image url", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x"}}]}]}`, "messages[0].content[0].image_url.url:"},
		{"data url not base64", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,abc"}}]}]}`, "messages[0].content[0].image_url.url:"},
		{"bad arguments", `{"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`, "messages[1].tool_calls[0].function.arguments:"},
		{"tool without id", `{"model":"m","messages":[{"role":"tool","content":"x"}]}`, "messages[0].tool_call_id: is required"},
		{"tool type", `{"model":"m",` + msgs + `,"tools":[{"type":"custom","custom":{}}]}`, "tools[0].type:"},
		{"tool params array", `{"model":"m",` + msgs + `,"tools":[{"type":"function","function":{"name":"f","parameters":[]}}]}`, "tools[0].function.parameters:"},
		{"tool_choice bad", `{"model":"m",` + msgs + `,"tool_choice":"sometimes"}`, "tool_choice:"},
		{"stop number", `{"model":"m",` + msgs + `,"stop":[1]}`, "stop[0]: must be a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FromChatRequest([]byte(tt.body))
			checkInvalid(t, err, tt.want)
		})
	}
}

func TestUpstreamErrors(t *testing.T) {
	for name, fn := range map[string]func() error{
		"FromChat not json":   func() error { _, err := FromChat([]byte(`{`), "m"); return err },
		"FromChat no choices": func() error { _, err := FromChat([]byte(`{"choices":[]}`), "m"); return err },
		"FromChat image content": func() error {
			_, err := FromChat([]byte(`{"choices":[{"message":{"content":[{"type":"image_url"}]}}]}`), "m")
			return err
		},
		"ToChatResponse not json":   func() error { _, err := ToChatResponse([]byte(`nope`)); return err },
		"ToChatResponse wrong type": func() error { _, err := ToChatResponse([]byte(`{"type":"error"}`)); return err },
		"ToChatResponse server tool": func() error {
			_, err := ToChatResponse([]byte(`{"type":"message","content":[{"type":"server_tool_use","id":"x"}]}`))
			return err
		},
		"ChatStream not json": func() error { _, err := NewChatStream().Event([]byte(`{`)); return err },
		"ChatStream citations": func() error {
			_, err := NewChatStream().Event([]byte(`{"type":"content_block_delta","delta":{"type":"citations_delta"}}`))
			return err
		},
		"ChatStream stray input": func() error {
			_, err := NewChatStream().Event([]byte(`{"type":"content_block_delta","delta":{"type":"input_json_delta","partial_json":"x"}}`))
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			var e *Error
			if !errors.As(fn(), &e) || e.Status != 502 || e.Type != TypeAPI {
				t.Errorf("got %v, want a 502 api_error *Error", e)
			}
		})
	}
}

func TestChatStreamErrorEvent(t *testing.T) {
	_, err := NewChatStream().Event([]byte(`{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}`))
	want := &Error{Status: 529, Type: TypeOverloaded, Message: "Overloaded"}
	if diff := cmp.Diff(want, err); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, ev := range []string{`{"type":"ping"}`, `{"type":"brand_new_event","x":1}`, `{"type":"content_block_stop","index":0}`} {
		if c, err := NewChatStream().Event([]byte(ev)); c != nil || err != nil {
			t.Errorf("Event(%s) = %s, %v; want nothing", ev, c, err)
		}
	}
}

func TestStreamErrors(t *testing.T) {
	tests := []struct {
		name   string
		chunks []string
		want   string
	}{
		{"not json", []string{`{"choices":`}, "chat chunk: "},
		{"choices object", []string{`{"choices":{}}`}, "choices must be an array"},
		{"second choice", []string{`{"choices":[{"index":1,"delta":{"content":"x"}}]}`}, "only one choice"},
		{"content number", []string{`{"choices":[{"delta":{"content":5}}]}`}, "delta content must be a string"},
		{"tool without name", []string{`{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]}`}, "no function name"},
		{"interleaved", []string{
			`{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f"}}]}}]}`,
			`{"choices":[{"delta":{"tool_calls":[{"index":1,"id":"b","function":{"name":"g"}}]}}]}`,
			`{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]}`,
		}, "resumed after another"},
		{"arguments object", []string{`{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":{}}}]}}]}`}, "arguments must be a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewStream("m", "msg_1")
			var out []byte
			var err error
			for _, c := range tt.chunks {
				before := len(out)
				out, err = s.Chunk(out, []byte(c))
				if err != nil {
					if len(out) != before {
						t.Errorf("Chunk wrote %q on error", out[before:])
					}
					break
				}
			}
			var e *Error
			if !errors.As(err, &e) || !strings.Contains(e.Message, tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			out = s.Error(out, e)
			checkSSE(t, out)
			if !strings.HasSuffix(string(out), "event: error\ndata: "+string(e.Body())+"\n\n") {
				t.Errorf("stream does not end with the error frame:\n%s", out)
			}
			if more := s.End(nil); more != nil {
				t.Errorf("End after Error wrote %q", more)
			}
		})
	}
}

// TestStreamSameIndexNewID covers servers that send every tool call at
// index 0 with a fresh id.
func TestStreamSameIndexNewID(t *testing.T) {
	s := NewStream("m", "msg_1")
	var out []byte
	for _, c := range []string{
		`{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{}"}}]}}]}`,
		`{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"b","function":{"name":"g","arguments":"{}"}}]}}]}`,
	} {
		var err error
		if out, err = s.Chunk(out, []byte(c)); err != nil {
			t.Fatal(err)
		}
	}
	out = s.End(out)
	checkSSE(t, out)
	if n := strings.Count(string(out), `"type":"tool_use"`); n != 2 {
		t.Errorf("%d tool_use blocks, want 2:\n%s", n, out)
	}
}

func TestErrorFromOpenAI(t *testing.T) {
	body := []byte(`{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota","param":null}}`)
	for status, typ := range map[int]string{
		400: TypeInvalidRequest, 401: TypeAuthentication, 403: TypePermission, 404: TypeNotFound,
		413: TypeRequestTooLarge, 429: TypeRateLimit, 503: TypeOverloaded, 529: TypeOverloaded,
		500: TypeAPI, 502: TypeAPI, 504: TypeAPI, 422: TypeInvalidRequest,
	} {
		e := ErrorFromOpenAI(status, body)
		want := &Error{Status: status, Type: typ, Message: "You exceeded your current quota"}
		if diff := cmp.Diff(want, e); diff != "" {
			t.Errorf("status %d (-want +got):\n%s", status, diff)
		}
	}
	if e := ErrorFromOpenAI(502, []byte("<html>bad gateway</html>")); e.Message != "Bad Gateway" || e.Type != TypeAPI {
		t.Errorf("non-JSON body: %+v", e)
	}
	want := `{"type":"error","error":{"type":"rate_limit_error","message":"slow \"down\""}}`
	if got := (&Error{429, TypeRateLimit, `slow "down"`}).Body(); string(got) != want {
		t.Errorf("Body() = %s, want %s", got, want)
	}
}

func TestParseError(t *testing.T) {
	body := []byte(`{"type":"error","error":{"type":"not_found_error","message":"model: claude-x"},"request_id":"req_1"}`)
	if diff := cmp.Diff(&Error{404, TypeNotFound, "model: claude-x"}, ParseError(0, body)); diff != "" {
		t.Error(diff)
	}
	if diff := cmp.Diff(&Error{500, TypeAPI, "oops"}, ParseError(500, []byte("oops"))); diff != "" {
		t.Error(diff)
	}
}

func TestReadUsage(t *testing.T) {
	tests := []struct {
		in   string
		want Usage
		ok   bool
	}{
		{`{"type":"message","usage":{"input_tokens":10,"output_tokens":3,"cache_read_input_tokens":100,"cache_creation_input_tokens":50}}`, Usage{10, 3, 100, 50}, true},
		{`{"type":"message_start","message":{"id":"m","usage":{"input_tokens":25,"output_tokens":1}}}`, Usage{Input: 25, Output: 1}, true},
		{`{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":15}}`, Usage{Output: 15}, true},
		{`{"type":"content_block_delta","delta":{"type":"text_delta","text":"x"}}`, Usage{}, false},
		{`{"type":"message"}`, Usage{}, false},
		{`not json`, Usage{}, false},
	}
	for _, tt := range tests {
		u, ok := ReadUsage([]byte(tt.in))
		if u != tt.want || ok != tt.ok {
			t.Errorf("ReadUsage(%s) = %+v, %v; want %+v, %v", tt.in, u, ok, tt.want, tt.ok)
		}
	}
}

func TestAppendEvent(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"type":"message_stop"}`, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"},
		{"{\"index\":0,\n\"type\": \"ping\"}", "event: ping\ndata: {\"index\":0, \"type\": \"ping\"}\n\n"},
		{`{"type":"a\nb"}`, "data: {\"type\":\"a\\nb\"}\n\n"},
		{`garbage`, "data: garbage\n\n"},
	}
	for _, tt := range tests {
		if got := string(AppendEvent([]byte("x"), []byte(tt.in))); got != "x"+tt.want {
			t.Errorf("AppendEvent(%q) = %q, want %q", tt.in, got, "x"+tt.want)
		}
	}
}
