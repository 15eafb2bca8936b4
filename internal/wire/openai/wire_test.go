package openai

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestScanFindsTopLevelFields(t *testing.T) {
	body := []byte(` { "messages" : [{"model":"inner"}], "model":"gpt\u00e9", "stream" : true, "x":{"model":1},"usage":{"prompt_tokens":3}} `)
	f, err := Scan(body)
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := String(body, f.Model); !ok || m != "gpté" {
		t.Errorf("model = %q %v", m, ok)
	}
	if s, ok := Bool(body, f.Stream); !ok || !s {
		t.Errorf("stream = %v %v", s, ok)
	}
	if Kind(body, f.Messages) != "array" || Kind(body, f.Usage) != "object" || f.Prompt.Present() {
		t.Errorf("kinds wrong: %+v", f)
	}
	out := AppendReplaced(nil, body, f.Model, `up"stream`)
	var v map[string]any
	if err := json.Unmarshal(out, &v); err != nil || v["model"] != `up"stream` {
		t.Errorf("replaced body %s: %v", out, err)
	}
}

func TestScanRejects(t *testing.T) {
	cases := map[string]string{
		"empty":            ``,
		"truncated":        `{"model":"a"`,
		"trailing comma":   `{"a":1,}`,
		"trailing garbage": `{"a":1} x`,
		"bad escape":       `{"a":"\x"}`,
		"control char":     "{\"a\":\"\x01\"}",
		"leading zero":     `{"a":01}`,
		"bare word":        `{"a":nul}`,
		"deep":             `{"a":` + strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + `}`,
		"no colon":         `{"a" 1}`,
	}
	for name, in := range cases {
		if _, err := Scan([]byte(in)); err == nil {
			t.Errorf("%s: accepted %q", name, in)
		}
	}
	if _, err := Scan([]byte("{\"a\":\"\xff\"}")); !errors.Is(err, ErrInvalidUTF8) {
		t.Errorf("invalid UTF-8: %v", err)
	}
	if _, err := Scan([]byte(`[1,2]`)); !errors.Is(err, ErrNotObject) {
		t.Errorf("array: %v", err)
	}
}

func TestEachAndMember(t *testing.T) {
	body := []byte(`{"messages":[{"role":"user","content":"a"},{"role":"assistant"}]}`)
	f, _ := Scan(body)
	var roles []string
	Each(body, f.Messages, func(_ []byte, v Span) bool {
		r, _ := String(body, Member(body, v, "role"))
		roles = append(roles, r)
		return true
	})
	if diff := cmp.Diff([]string{"user", "assistant"}, roles); diff != "" {
		t.Error(diff)
	}
}

func TestDecoder(t *testing.T) {
	in := ": comment\n\ndata: {\"a\":1}\n\nevent: ping\ndata: x\ndata: y\r\n\r\ndata:[DONE]\n\n"
	d := NewDecoder(strings.NewReader(in))
	var got []string
	for {
		ev, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev.Name+"|"+string(ev.Data))
	}
	if diff := cmp.Diff([]string{`|{"a":1}`, "ping|x\ny", "|[DONE]"}, got); diff != "" {
		t.Error(diff)
	}
	// A stream cut inside an event is unexpected; one ending after a full
	// data line without its blank line still yields the event.
	d = NewDecoder(strings.NewReader("data: a\n\ndata: b"))
	d.Next()
	if ev, err := d.Next(); err != nil || string(ev.Data) != "b" {
		t.Errorf("last event = %q, %v", ev.Data, err)
	}
}

// FuzzScan checks that Scan agrees with encoding/json on validity for
// objects, never panics, and that spans are in range.
func FuzzScan(f *testing.F) {
	for _, s := range []string{`{"model":"a","stream":true,"messages":[{"role":"user","content":"hi"}]}`, `{}`, `{"a":[1,-2.5e+3,null,false,{"b":"\u00e9\n"}]}`, `{"a":"\ud83d\ude00"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fs, err := Scan(b)
		var v map[string]json.RawMessage
		jerr := json.Unmarshal(b, &v)
		if err == nil && jerr != nil {
			t.Fatalf("Scan accepted what encoding/json rejects (%v): %q", jerr, b)
		}
		if err != nil {
			return
		}
		for _, sp := range []Span{fs.Model, fs.Stream, fs.Messages, fs.Usage, fs.Input, fs.Prompt} {
			if sp.Present() && (sp.Start < 0 || sp.End > len(b)) {
				t.Fatalf("span out of range: %+v", sp)
			}
		}
		if fs.Model.Present() {
			if s, ok := String(b, fs.Model); ok {
				out := AppendReplaced(nil, b, fs.Model, s+"x")
				if _, err := Scan(out); err != nil {
					t.Fatalf("splice broke the body: %v", err)
				}
			}
		}
	})
}

// FuzzDecoder checks the SSE decoder never panics and always terminates.
func FuzzDecoder(f *testing.F) {
	f.Add([]byte("data: {\"a\":1}\n\ndata: [DONE]\n\n"))
	f.Add([]byte("event: x\r\ndata: 1\r\ndata: 2\r\n\r\n:c\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDecoder(strings.NewReader(string(b)))
		for i := 0; i <= len(b); i++ {
			if _, err := d.Next(); err != nil {
				return
			}
		}
		t.Fatal("decoder returned more events than input bytes")
	})
}
