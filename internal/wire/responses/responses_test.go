package responses

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	sdk "github.com/openai/openai-go/v3/responses"

	wire "switchyard/internal/wire/openai"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, diff)
	}
}

func indent(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	out.WriteByte('\n')
	return out.Bytes()
}

func cases(t *testing.T, dir, ext string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", dir, "*"+ext))
	if err != nil || len(names) == 0 {
		t.Fatalf("no cases in testdata/%s", dir)
	}
	return names
}

func TestChatGolden(t *testing.T) {
	for _, path := range cases(t, "chat", ".json") {
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		t.Run(name, func(t *testing.T) {
			var c struct {
				Prior   []json.RawMessage `json:"prior"`
				Request json.RawMessage   `json:"request"`
			}
			b, _ := os.ReadFile(path)
			if err := json.Unmarshal(b, &c); err != nil {
				t.Fatal(err)
			}
			r, err := Parse(c.Request)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			chat, err := r.Chat(c.Prior)
			if err != nil {
				t.Fatalf("Chat: %v", err)
			}
			if _, err := wire.Scan(chat); err != nil {
				t.Fatalf("chat body does not scan: %v", err)
			}
			golden(t, filepath.Join("chat", name+".golden"), indent(t, chat))
		})
	}
}

func TestParseInputString(t *testing.T) {
	r, err := Parse([]byte(`{"model":"m","input":"hi"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Store || r.Stream || len(r.Input) != 1 || string(r.Input[0]) != `{"type":"message","role":"user","content":"hi"}` {
		t.Fatalf("got store=%v stream=%v input=%s", r.Store, r.Stream, r.Input)
	}
	r, err = Parse([]byte(`{"model":"m","input":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Input[0]) != `{"type":"message","role":"user","content":"hi"}` {
		t.Fatalf("easy message not typed: %s", r.Input[0])
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body, param string
	}{
		{"not json", `{"model":`, ""},
		{"no model", `{"input":"x"}`, "model"},
		{"no input", `{"model":"m"}`, "input"},
		{"model type", `{"model":1,"input":"x"}`, "model"},
		{"input type", `{"model":"m","input":3}`, "input"},
		{"unknown field", `{"model":"m","input":"x","frobnicate":true}`, "frobnicate"},
		{"hosted tool", `{"model":"m","input":"x","tools":[{"type":"function","name":"f"},{"type":"web_search"}]}`, "tools[1].type"},
		{"mcp tool", `{"model":"m","input":"x","tools":[{"type":"mcp","server_label":"x"}]}`, "tools[0].type"},
		{"tool without name", `{"model":"m","input":"x","tools":[{"type":"function"}]}`, "tools[0].name"},
		{"tool extra key", `{"model":"m","input":"x","tools":[{"type":"function","name":"f","defer_loading":true}]}`, "tools[0].defer_loading"},
		{"background", `{"model":"m","input":"x","background":true}`, "background"},
		{"conversation", `{"model":"m","input":"x","conversation":"conv_1"}`, "conversation"},
		{"include", `{"model":"m","input":"x","include":["reasoning.encrypted_content"]}`, "include[0]"},
		{"truncation auto", `{"model":"m","input":"x","truncation":"auto"}`, "truncation"},
		{"prompt", `{"model":"m","input":"x","prompt":{"id":"p"}}`, "prompt"},
		{"max tool calls", `{"model":"m","input":"x","max_tool_calls":3}`, "max_tool_calls"},
		{"top logprobs", `{"model":"m","input":"x","top_logprobs":2}`, "top_logprobs"},
		{"max tokens zero", `{"model":"m","input":"x","max_output_tokens":0}`, "max_output_tokens"},
		{"image file id", `{"model":"m","input":[{"role":"user","content":[{"type":"input_image","file_id":"file_1"}]}]}`, "input[0].content[0].file_id"},
		{"input file", `{"model":"m","input":[{"role":"user","content":[{"type":"input_file","file_id":"f"}]}]}`, "input[0].content[0].type"},
		{"bad role", `{"model":"m","input":[{"role":"robot","content":"x"}]}`, "input[0].role"},
		{"item no type", `{"model":"m","input":[{"content":"x"}]}`, "input[0].type"},
		{"item ref", `{"model":"m","input":[{"type":"item_reference","id":"msg_1"}]}`, "input[0].type"},
		{"web search call", `{"model":"m","input":["x"]}`, "input[0]"},
		{"call without id", `{"model":"m","input":[{"type":"function_call","name":"f","arguments":"{}"}]}`, "input[0].call_id"},
		{"output image", `{"model":"m","input":[{"type":"function_call_output","call_id":"c","output":[{"type":"input_image","image_url":"x"}]}]}`, "input[0].output[0].type"},
		{"system image", `{"model":"m","input":[{"role":"system","content":[{"type":"input_image","image_url":"x"}]}]}`, "input[0].content[0].type"},
		{"tool choice hosted", `{"model":"m","input":"x","tool_choice":{"type":"file_search"}}`, "tool_choice.type"},
		{"tool choice value", `{"model":"m","input":"x","tool_choice":"sometimes"}`, "tool_choice"},
		{"text format", `{"model":"m","input":"x","text":{"format":{"type":"xml"}}}`, "text.format.type"},
		{"schema name", `{"model":"m","input":"x","text":{"format":{"type":"json_schema","schema":{}}}}`, "text.format.name"},
		{"reasoning extra", `{"model":"m","input":"x","reasoning":{"effort":"low","budget":3}}`, "reasoning.budget"},
		{"metadata type", `{"model":"m","input":"x","metadata":{"a":1}}`, "metadata"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Parse([]byte(tc.body))
			if err == nil {
				_, err = r.Chat(nil)
			}
			var e *wire.Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want a *wire.Error", err)
			}
			if e.Status != 400 {
				t.Errorf("status %d, want 400", e.Status)
			}
			got := ""
			if e.Param != nil {
				got = *e.Param
			}
			if got != tc.param {
				t.Errorf("param %q, want %q (message %q)", got, tc.param, e.Message)
			}
		})
	}
}

func TestCompleteGolden(t *testing.T) {
	for _, path := range cases(t, "complete", ".json") {
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		t.Run(name, func(t *testing.T) {
			var c struct {
				Request json.RawMessage `json:"request"`
				Chat    json.RawMessage `json:"chat"`
			}
			b, _ := os.ReadFile(path)
			if err := json.Unmarshal(b, &c); err != nil {
				t.Fatal(err)
			}
			r, err := Parse(c.Request)
			if err != nil {
				t.Fatal(err)
			}
			o, err := r.Complete(c.Chat, "resp_test", 1700000000)
			if err != nil {
				t.Fatal(err)
			}
			out := o.Marshal()
			var got sdk.Response
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("the SDK cannot read the object: %v", err)
			}
			if got.ID != "resp_test" || string(got.Object) != "response" {
				t.Errorf("SDK read id %q object %q", got.ID, got.Object)
			}
			golden(t, filepath.Join("complete", name+".golden"), indent(t, out))
		})
	}
}

func TestCompleteRejects(t *testing.T) {
	r, _ := Parse([]byte(`{"model":"m","input":"x"}`))
	for _, body := range []string{`not json`, `{"choices":[]}`, `{"choices":[{"message":{"tool_calls":[{"id":"c","function":{"arguments":"{}"}}]}}]}`} {
		if _, err := r.Complete([]byte(body), "resp_x", 1); !errors.Is(err, ErrChat) {
			t.Errorf("Complete(%s) = %v, want ErrChat", body, err)
		}
	}
}

// runStream feeds a stream case: the first line is the request, each
// other line a chunk's data, "[DONE]" or "ERROR <body>".
func runStream(t testing.TB, b []byte) (*Stream, []byte) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	sc.Scan()
	r, err := Parse(sc.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	s := r.NewStream("resp_test", 1700000000)
	var out []byte
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case string(line) == "[DONE]":
			out = s.End(out)
		case bytes.HasPrefix(line, []byte("ERROR ")):
			out = s.Fail(out, line[6:])
		default:
			if out, err = s.Chunk(out, line); err != nil {
				t.Fatalf("Chunk(%s): %v", line, err)
			}
		}
	}
	return s, out
}

func TestStreamGolden(t *testing.T) {
	for _, path := range cases(t, "stream", ".txt") {
		name := strings.TrimSuffix(filepath.Base(path), ".txt")
		t.Run(name, func(t *testing.T) {
			b, _ := os.ReadFile(path)
			s, out := runStream(t, b)
			if !s.Ended() {
				t.Fatal("stream not ended")
			}
			// Every event is what the SDK reads, with rising sequence numbers.
			dec := wire.NewDecoder(bytes.NewReader(out))
			seq := int64(0)
			var last sdk.ResponseStreamEventUnion
			for {
				ev, err := dec.Next()
				if err != nil {
					break
				}
				var u sdk.ResponseStreamEventUnion
				if err := json.Unmarshal(ev.Data, &u); err != nil {
					t.Fatalf("SDK cannot read %s: %v", ev.Data, err)
				}
				if u.Type != ev.Name || u.SequenceNumber != seq {
					t.Fatalf("event %q type %q seq %d, want seq %d", ev.Name, u.Type, u.SequenceNumber, seq)
				}
				seq++
				last = u
			}
			if last.Response.ID != "resp_test" && last.Type != "error" {
				t.Errorf("last event %q has no response", last.Type)
			}
			golden(t, filepath.Join("stream", name+".golden"), out)
			golden(t, filepath.Join("stream", name+".object.golden"), indent(t, s.Object().Marshal()))
		})
	}
}

func TestStreamMatchesComplete(t *testing.T) {
	// The same answer streamed and whole gives the same output items.
	r, _ := Parse([]byte(`{"model":"gpt-x","input":"hi","stream":true}`))
	s := r.NewStream("resp_same", 1)
	for _, c := range []string{
		`{"model":"gpt-x","choices":[{"index":0,"delta":{"content":"a\"b"}}]}`,
		`{"model":"gpt-x","choices":[{"index":0,"delta":{"content":"\u00e9c"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2}}`,
	} {
		if _, err := s.Chunk(nil, []byte(c)); err != nil {
			t.Fatal(err)
		}
	}
	s.End(nil)
	o, err := r.Complete([]byte(`{"model":"gpt-x","choices":[{"finish_reason":"stop","message":{"content":"a\"b\u00e9c"}}],"usage":{"prompt_tokens":1,"completion_tokens":2}}`), "resp_same", 1)
	if err != nil {
		t.Fatal(err)
	}
	text := func(raw json.RawMessage) string {
		var m sdk.ResponseOutputItemUnion
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		return m.Content[0].Text
	}
	if a, b := text(s.Object().Output[0]), text(o.Output[0]); a != b || a != "a\"béc" {
		t.Errorf("stream text %q, complete text %q", a, b)
	}
	if diff := cmp.Diff(o.Usage, s.Object().Usage); diff != "" {
		t.Errorf("usage differs:\n%s", diff)
	}
}

func TestStreamRejectsBadChunks(t *testing.T) {
	r, _ := Parse([]byte(`{"model":"m","input":"x","stream":true}`))
	for _, c := range []string{`{"choices":[`, `{"choices":[{"delta":{"tool_calls":[3]}}]}`, `{"choices":[{"delta":{"tool_calls":[{"index":-1}]}}]}`} {
		if _, err := r.NewStream("resp_x", 1).Chunk(nil, []byte(c)); err == nil {
			t.Errorf("Chunk(%s) accepted", c)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, dir := range []string{"chat", "complete"} {
		names, _ := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
		for _, n := range names {
			b, _ := os.ReadFile(n)
			var c struct {
				Request json.RawMessage `json:"request"`
			}
			json.Unmarshal(b, &c)
			f.Add([]byte(c.Request))
		}
	}
	f.Add([]byte(`{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"x"}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := Parse(body)
		if err != nil {
			var e *wire.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not a *wire.Error", err)
			}
			return
		}
		chat, err := r.Chat(nil)
		if err != nil {
			return
		}
		if _, err := wire.Scan(chat); err != nil {
			t.Fatalf("chat body %s does not scan: %v", chat, err)
		}
	})
}

func FuzzComplete(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join("testdata", "complete", "*.json"))
	for _, n := range names {
		b, _ := os.ReadFile(n)
		var c struct {
			Chat json.RawMessage `json:"chat"`
		}
		json.Unmarshal(b, &c)
		f.Add([]byte(c.Chat))
	}
	r, _ := Parse([]byte(`{"model":"m","input":"x"}`))
	f.Fuzz(func(t *testing.T, chat []byte) {
		o, err := r.Complete(chat, "resp_f", 1)
		if err != nil {
			return
		}
		if !json.Valid(o.Marshal()) {
			t.Fatalf("invalid object for %s", chat)
		}
	})
}

func FuzzStream(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join("testdata", "stream", "*.txt"))
	for _, n := range names {
		b, _ := os.ReadFile(n)
		lines := bytes.Split(b, []byte("\n"))
		for _, l := range lines[1:] {
			if len(l) > 0 && l[0] == '{' {
				f.Add(l)
			}
		}
	}
	r, _ := Parse([]byte(`{"model":"m","input":"x","stream":true}`))
	f.Fuzz(func(t *testing.T, chunk []byte) {
		s := r.NewStream("resp_f", 1)
		out, err := s.Chunk(nil, chunk)
		if err == nil {
			out, _ = s.Chunk(out, chunk)
		}
		out = s.End(out)
		dec := wire.NewDecoder(bytes.NewReader(out))
		for {
			ev, err := dec.Next()
			if err != nil {
				break
			}
			if !json.Valid(ev.Data) {
				t.Fatalf("invalid event %s for chunk %s", ev.Data, chunk)
			}
		}
		if !json.Valid(s.Object().Marshal()) {
			t.Fatalf("invalid object for chunk %s", chunk)
		}
	})
}
