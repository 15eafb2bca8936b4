package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	wire "switchyard/internal/wire/openai"
)

// seeds adds every fixture of testdata/dir (whole files, and each line of
// .jsonl files) to the corpus.
func seeds(f *testing.F, dir string) {
	files, _ := filepath.Glob(filepath.Join("testdata", dir, "*"))
	for _, p := range files {
		if filepath.Ext(p) == ".golden" {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		for _, l := range splitLines(b) {
			f.Add(l)
		}
	}
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != '\n' {
			i++
		}
		if i > 0 {
			out = append(out, b[:i])
		}
		if i < len(b) {
			i++
		}
		b = b[i:]
	}
	return out
}

// mustBeError checks a failure is an *Error with a status.
func mustBeError(t *testing.T, err error) {
	var e *Error
	if !errors.As(err, &e) || e.Status == 0 || e.Type == "" || !json.Valid(e.Body()) {
		t.Fatalf("error %v (%T) is not a complete *Error", err, err)
	}
}

func checkJSON(t *testing.T, out []byte, err error) {
	if err != nil {
		mustBeError(t, err)
		return
	}
	if !json.Valid(out) {
		t.Fatalf("invalid JSON output: %s", out)
	}
}

// FuzzToChat checks ToChat against the oracle (the decode/re-encode
// implementation it replaced): the same error message, or output that
// re-parses and means the same JSON, with the same Info.
func FuzzToChat(f *testing.F) {
	seeds(f, "to_chat")
	for _, s := range toChatSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out, info, err := ToChat(b)
		checkJSON(t, out, err)
		old, oldInfo, oldErr := oldToChat(b)
		if (err == nil) != (oldErr == nil) {
			t.Fatalf("ToChat error %v, oracle %v, on %q", err, oldErr, b)
		}
		if err != nil {
			if diff := cmp.Diff(oldErr, err); diff != "" {
				t.Fatalf("error differs from the oracle's on %q (-oracle +new):\n%s", b, diff)
			}
			return
		}
		if _, err := wire.Scan(out); err != nil {
			t.Fatalf("output does not re-scan (%v): %s", err, out)
		}
		if info != oldInfo {
			t.Fatalf("Info %+v, oracle %+v", info, oldInfo)
		}
		sameJSON(t, old, out)
	})
}

// toChatSeeds reach corners the fixtures do not: escapes in keys and
// values, surrogate halves in adjacent blocks, HTML characters, nulls.
var toChatSeeds = []string{
	`{"mod\u0065l":"m\u00e9<&>","max_tokens":1,"messages":[{"role":"us\u0065r","content":"a\/b\u2028"}]}`,
	`{"model":"m","max_tokens":1,"messages":[{"role":"assistant","content":[{"type":"text","text":"\ud83d"},{"type":"text","text":"\ude00"},{"type":"tool_use","id":"i","name":"n","input":{"a" : [1, "\"<x>\"", {"b":null}]}}]}]}`,
	`{"model":"m","max_tokens":1,"system":[{"type":"text","text":"a"},{"type":"text","text":"\ude00"}],"messages":[{"role":"user","content":[{"type":"text","text":"x"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AA\u003d"}},{"type":"tool_result","tool_use_id":"","content":null},{"type":"image","source":{"type":"url","url":"https://x"}}]}]}`,
	`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],"tools":[],"stop_sequences":[],"metadata":{"user_id":""},"temperature":null,"top_k":-0,"tool_choice":{"type":"tool","name":"f","disable_parallel_tool_use":false}}`,
	`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],"tools":[{"type":null,"name":"f","description":"","input_schema":{},"strict":false},{"type":"custom","name":"g","input_schema":{"x":"\u2029"},"strict":null}],"top_p":1e-3,"stream":true,"thinking":{"type":"enabled","budget_tokens":5000}}`,
	`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x","":1}]}`,
	`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],"metadata":{"z":1,"":2,"a":3}}`,
}

// FuzzFromChat checks FromChat against the oracle: both fail, or the
// outputs re-parse and mean the same JSON. Bodies with duplicate keys are
// left out of the comparison (encoding/json merged duplicate objects into
// one struct; the span walk keeps the last, as wire.Scan does).
func FuzzFromChat(f *testing.F) {
	seeds(f, "from_chat")
	f.Add([]byte(`{"ID":"a","Choices":[{"Message":{"CONTENT":[{"Type":"text","TEXT":"\ud83d"},{"type":"text","text":"\ude00<"}],"tool_calls":[null,{"function":{"arguments":" {\"a\" : [1,\"\\u2028\"]} "}},{"id":"","function":{"name":"f","arguments":"[1]"}}]},"finish_reason":null}],"usage":{"prompt_tokens":5,"prompt_tokens_details":null}}`))
	f.Add([]byte(`{"choices":[{"message":{"content":"","refusal":"no"},"index":-0}],"usage":{"prompt_tokens":1,"prompt_tokens_details":{"cached_tokens":3}}}`))
	f.Add([]byte(`{"choices":[null]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := FromChat(b, "m<")
		checkJSON(t, out, err)
		if hasDuplicateKeys(b) {
			return
		}
		old, oldErr := oldFromChat(b, "m<")
		if (err == nil) != (oldErr == nil) {
			t.Fatalf("FromChat error %v, oracle %v, on %q", err, oldErr, b)
		}
		if err != nil {
			var e, o *Error
			errors.As(err, &e)
			errors.As(oldErr, &o)
			if e.Status != o.Status || e.Type != o.Type {
				t.Fatalf("error %+v, oracle %+v", e, o)
			}
			return
		}
		sameJSON(t, old, out)
	})
}

// sameJSON fails unless a and b decode to equal values (numbers compared
// by their text).
func sameJSON(t *testing.T, old, out []byte) {
	t.Helper()
	dec := func(b []byte) any {
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatalf("not JSON (%v): %s", err, b)
		}
		return v
	}
	if diff := cmp.Diff(dec(old), dec(out)); diff != "" {
		t.Fatalf("output differs from the oracle's (-oracle +new):\n%s\noracle: %s\nnew:    %s", diff, old, out)
	}
}

// hasDuplicateKeys reports whether a body that passes wire.Scan has an
// object with the same key twice (compared case-insensitively, as
// encoding/json matches struct fields).
func hasDuplicateKeys(b []byte) bool {
	if _, err := wire.Scan(b); err != nil {
		return false
	}
	var dup func(sp wire.Span) bool
	dup = func(sp wire.Span) bool {
		seen := map[string]bool{}
		it := wire.NewIter(b, sp)
		for {
			k, v, ok := it.Next()
			if !ok {
				return false
			}
			if b[sp.Start] == '{' {
				key := strings.ToLower(string(appendUnquote(nil, k)))
				if seen[key] {
					return true
				}
				seen[key] = true
			}
			if c := b[v.Start]; (c == '{' || c == '[') && dup(v) {
				return true
			}
		}
	}
	return dup(rootSpan(b))
}

// FuzzUnquote checks appendUnquote against wire.String.
func FuzzUnquote(f *testing.F) {
	for _, s := range []string{`a\nb`, `\ud83d\ude00`, `\ud800\u0041`, `\udc00\ud800`, `\/\"\\\b\f\r\t`, `\u00e9x`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := []byte(`{"a":"` + s + `"}`)
		fs, err := wire.Scan(q)
		if err != nil {
			return
		}
		_ = fs
		var v wire.Span
		it := wire.NewIter(q, wire.Span{Start: 0, End: len(q)})
		_, v, _ = it.Next()
		if q[v.Start] != '"' {
			return
		}
		want, _ := wire.String(q, v)
		if got := string(appendUnquote(nil, q[v.Start+1:v.End-1])); got != want {
			t.Fatalf("appendUnquote(%q) = %q, want %q", s, got, want)
		}
	})
}

func FuzzFromChatRequest(f *testing.F) {
	seeds(f, "from_chat_request")
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := FromChatRequest(b)
		checkJSON(t, out, err)
	})
}

func FuzzToChatResponse(f *testing.F) {
	seeds(f, "to_chat_response")
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := ToChatResponse(b)
		checkJSON(t, out, err)
	})
}

// FuzzStream feeds each line of the input as one chunk; every frame
// written must be a complete SSE event carrying valid JSON.
func FuzzStream(f *testing.F) {
	seeds(f, "stream")
	f.Fuzz(func(t *testing.T, b []byte) {
		s := NewStream("m", "")
		var out []byte
		for _, l := range splitLines(b) {
			var err error
			if out, err = s.Chunk(out, l); err != nil {
				mustBeError(t, err)
				var e *Error
				errors.As(err, &e)
				out = s.Error(out, e)
				break
			}
		}
		out = s.End(out)
		checkSSE(t, out)
	})
}

func FuzzChatStream(f *testing.F) {
	seeds(f, "chat_stream")
	f.Fuzz(func(t *testing.T, b []byte) {
		c := NewChatStream()
		for _, l := range splitLines(b) {
			chunk, err := c.Event(l)
			if err != nil {
				mustBeError(t, err)
				continue
			}
			if chunk != nil && !json.Valid(chunk) {
				t.Fatalf("invalid chunk: %s", chunk)
			}
		}
	})
}
