package gemini

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	wire "switchyard/internal/wire/openai"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var meta = Meta{ID: "chatcmpl-req1", Created: 1700000000, Model: "gemini-2.5-flash"}

// golden runs fn on every testdata/dir/*ext input and compares the output
// (indented JSON, or lines) with the .golden file beside it.
func golden(t *testing.T, dir, ext string, fn func(t *testing.T, in []byte) []byte) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*"+ext))
	if err != nil || len(files) == 0 {
		t.Fatalf("no inputs in testdata/%s: %v", dir, err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ext), func(t *testing.T) {
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got := fn(t, in)
			gf := strings.TrimSuffix(f, ext) + ".golden"
			if *update {
				if err := os.WriteFile(gf, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(gf)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if d := cmp.Diff(string(want), string(got)); d != "" {
				t.Errorf("%s (-want +got):\n%s", gf, d)
			}
		})
	}
}

func indent(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

func TestChatRequestGolden(t *testing.T) {
	golden(t, "chat_request", ".json", func(t *testing.T, in []byte) []byte {
		model, out, err := ChatRequest(in)
		if err != nil {
			t.Fatal(err)
		}
		return append([]byte("model: "+model+"\n"), indent(t, out)...)
	})
}

func TestChatResponseGolden(t *testing.T) {
	golden(t, "chat_response", ".json", func(t *testing.T, in []byte) []byte {
		out, err := ChatResponse(in, meta)
		if err != nil {
			t.Fatal(err)
		}
		return indent(t, out)
	})
}

func TestStreamGolden(t *testing.T) {
	golden(t, "stream", ".sse", func(t *testing.T, in []byte) []byte {
		dec := wire.NewDecoder(bytes.NewReader(in))
		s := NewStreamer(meta)
		var out bytes.Buffer
		for {
			ev, err := dec.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			b, err := s.Event(ev.Data)
			if err != nil {
				t.Fatal(err)
			}
			if b != nil {
				out.Write(b)
				out.WriteByte('\n')
			}
		}
		if u := s.Usage(); u != nil {
			out.Write(u)
			out.WriteByte('\n')
		}
		return out.Bytes()
	})
}

func TestEmbedGolden(t *testing.T) {
	golden(t, "embed_request", ".json", func(t *testing.T, in []byte) []byte {
		model, out, err := EmbedRequest(in)
		if err != nil {
			t.Fatal(err)
		}
		return append([]byte("model: "+model+"\n"), indent(t, out)...)
	})
	golden(t, "embed_response", ".json", func(t *testing.T, in []byte) []byte {
		out, err := EmbedResponse(in, "gemini-embedding-001")
		if err != nil {
			t.Fatal(err)
		}
		return indent(t, out)
	})
}

func TestChatRequestErrors(t *testing.T) {
	const u = `"messages":[{"role":"user","content":"hi"}]`
	for _, tc := range []struct{ body, param, msg string }{
		{`{"model":"g",` + u + `,"logprobs":true}`, "logprobs", "not supported"},
		{`{"model":"g",` + u + `,"logit_bias":{"1":2}}`, "logit_bias", "not supported"},
		{`{"model":"g",` + u + `,"top_logprobs":2,"audio":{}}`, "audio", "not supported"},
		{`{` + u + `}`, "model", "required"},
		{`{"model":"a/b",` + u + `}`, "model", "invalid"},
		{`{"model":"g","messages":[]}`, "messages", "at least one"},
		{`{"model":"g","messages":[{"role":"system","content":"x"}]}`, "messages", "user message"},
		{`{"model":"g","messages":[{"role":"function","content":"x"}]}`, "messages[0].role", "not supported"},
		{`{"model":"g","messages":[{"role":"user","content":[{"type":"input_audio"}]}]}`, "messages[0].content[0].type", "input_audio"},
		{`{"model":"g","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/y.bin"}}]}]}`, "messages[0].content[0].image_url.url", "media type"},
		{`{"model":"g","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,abc"}}]}]}`, "messages[0].content[0].image_url.url", "base64"},
		{`{"model":"g","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,!!"}}]}]}`, "messages[0].content[0].image_url.url", "base64"},
		{`{"model":"g","messages":[{"role":"user","content":"a"},{"role":"tool","tool_call_id":"nope","content":"x"}]}`, "messages[1].tool_call_id", "no earlier"},
		{`{"model":"g","messages":[{"role":"user","content":"a"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`, "messages[1].tool_calls[0].function.arguments", "JSON object"},
		{`{"model":"g","messages":[{"role":"user","content":"a"},{"role":"assistant","content":""}]}`, "messages[1]", "content or tool_calls"},
		{`{"model":"g",` + u + `,"tools":[{"type":"code_interpreter"}]}`, "tools[0].type", "function"},
		{`{"model":"g",` + u + `,"tool_choice":"sometimes"}`, "tool_choice", "unknown"},
		{`{"model":"g",` + u + `,"tool_choice":{"type":"function"}}`, "tool_choice", "must be"},
		{`{"model":"g",` + u + `,"parallel_tool_calls":false}`, "parallel_tool_calls", "false"},
		{`{"model":"g",` + u + `,"response_format":{"type":"xml"}}`, "response_format.type", "unknown"},
		{`{"model":"g",` + u + `,"response_format":{"type":"json_schema"}}`, "response_format.json_schema.schema", "required"},
		{`{"model":"g",` + u + `,"stop":[1]}`, "stop", "strings"},
		{`{"model":"g",` + u + `,"temperature":"hot"}`, "temperature", "invalid"},
	} {
		_, _, err := ChatRequest([]byte(tc.body))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Param != tc.param || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want %s: …%s…", tc.body, err, tc.param, tc.msg)
		}
	}
	for _, b := range []string{``, `null`, `[]`, `{"model":`} {
		if _, _, err := ChatRequest([]byte(b)); err == nil {
			t.Errorf("%q accepted", b)
		}
	}
}

func TestEmbedRequestErrors(t *testing.T) {
	for _, tc := range []struct{ body, param string }{
		{`{"model":"e","input":[1,2,3]}`, "input"},
		{`{"model":"e","input":[[1,2]]}`, "input"},
		{`{"model":"e","input":[]}`, "input"},
		{`{"model":"e","input":"x","encoding_format":"base64"}`, "encoding_format"},
		{`{"model":"e","input":"x","dimensions":0}`, "dimensions"},
		{`{"model":"e","input":"x","task":"q"}`, "task"},
		{`{"input":"x"}`, "model"},
	} {
		_, _, err := EmbedRequest([]byte(tc.body))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Param != tc.param {
			t.Errorf("%s: %v, want param %s", tc.body, err, tc.param)
		}
	}
}

func TestResponseErrors(t *testing.T) {
	for _, b := range []string{`{}`, `{"candidates":[]}`, `not json`} {
		if _, err := ChatResponse([]byte(b), meta); err == nil {
			t.Errorf("ChatResponse(%s) succeeded", b)
		}
	}
	for _, b := range []string{`{"embeddings":[{}]}`, `{"embeddings":[{"values":3}]}`, `x`} {
		if _, err := EmbedResponse([]byte(b), "e"); err == nil {
			t.Errorf("EmbedResponse(%s) succeeded", b)
		}
	}
	if b, err := NewStreamer(meta).Event([]byte(`{"usageMetadata":{"promptTokenCount":1}}`)); err != nil || b != nil {
		t.Errorf("usage-only event: %s %v", b, err)
	}
	if _, err := NewStreamer(meta).Event([]byte(`{`)); err == nil {
		t.Error("broken event accepted")
	}
	if NewStreamer(meta).Usage() != nil {
		t.Error("usage without any reported")
	}
}

// The outputs of every translation are valid JSON whenever it succeeds.
func checkJSON(t *testing.T, b []byte) {
	t.Helper()
	if b != nil && !json.Valid(b) {
		t.Fatalf("invalid JSON output %q", b)
	}
}

func seeds(f *testing.F, dir string) {
	files, _ := filepath.Glob(filepath.Join("testdata", dir, "*"))
	for _, p := range files {
		if strings.HasSuffix(p, ".golden") {
			continue
		}
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Add([]byte(`{}`))
}

func FuzzChatRequest(f *testing.F) {
	seeds(f, "chat_request")
	f.Fuzz(func(t *testing.T, b []byte) {
		_, out, err := ChatRequest(b)
		if err == nil {
			checkJSON(t, out)
		}
	})
}

func FuzzChatResponse(f *testing.F) {
	seeds(f, "chat_response")
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := ChatResponse(b, meta)
		if err == nil {
			checkJSON(t, out)
		}
	})
}

func FuzzStream(f *testing.F) {
	seeds(f, "stream")
	f.Fuzz(func(t *testing.T, b []byte) {
		dec := wire.NewDecoder(bytes.NewReader(b))
		s := NewStreamer(meta)
		for {
			ev, err := dec.Next()
			if err != nil {
				break
			}
			out, err := s.Event(ev.Data)
			if err == nil {
				checkJSON(t, out)
			}
		}
		checkJSON(t, s.Usage())
	})
}

func FuzzEmbedRequest(f *testing.F) {
	seeds(f, "embed_request")
	f.Fuzz(func(t *testing.T, b []byte) {
		_, out, err := EmbedRequest(b)
		if err == nil {
			checkJSON(t, out)
		}
	})
}

func FuzzEmbedResponse(f *testing.F) {
	seeds(f, "embed_response")
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := EmbedResponse(b, "e")
		if err == nil {
			checkJSON(t, out)
		}
	})
}

// TestThoughtSignatureRoundTrip: Gemini 3 wants each functionCall's
// thoughtSignature back on the next turn; it travels in the tool call id.
func TestThoughtSignatureRoundTrip(t *testing.T) {
	resp := []byte(`{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"lookup","args":{"q":"42"}},"thoughtSignature":"c2lnLTE="}]},"finishReason":"STOP"}]}`)
	out, err := ChatResponse(resp, meta)
	if err != nil {
		t.Fatal(err)
	}
	var chat struct {
		Choices []struct {
			Message struct {
				ToolCalls []struct {
					ID string `json:"id"`
				} `json:"tool_calls"`
			}
		}
	}
	json.Unmarshal(out, &chat)
	if len(chat.Choices) != 1 || len(chat.Choices[0].Message.ToolCalls) != 1 {
		t.Fatalf("answer %s", out)
	}
	id := chat.Choices[0].Message.ToolCalls[0].ID
	if !strings.HasSuffix(id, "__sig__c2lnLTE=") {
		t.Fatalf("tool call id %q does not carry the signature", id)
	}
	next := []byte(`{"model":"gemini-3","messages":[{"role":"user","content":"where is 42"},
		{"role":"assistant","content":null,"tool_calls":[{"id":"` + id + `","type":"function","function":{"name":"lookup","arguments":"{\"q\":\"42\"}"}}]},
		{"role":"tool","tool_call_id":"` + id + `","content":"shipped"}]}`)
	_, req, err := ChatRequest(next)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(req), `"thoughtSignature":"c2lnLTE="`) {
		t.Errorf("the signature is not sent back: %s", req)
	}
}
