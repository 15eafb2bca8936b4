package anthropic

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	wire "switchyard/internal/wire/openai"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestMain(m *testing.M) {
	clock = func() time.Time { return time.Unix(1700000000, 0) }
	os.Exit(m.Run())
}

// indent pretty-prints one JSON value, failing the test when it is invalid.
func indent(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatalf("output is not valid JSON: %v\n%s", err, b)
	}
	return append(out.Bytes(), '\n')
}

// lines returns the non-empty lines of a .jsonl fixture.
func lines(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
			out = append(out, append([]byte(nil), l...))
		}
	}
	return out
}

// golden runs fn on every input of testdata/dir and compares with (or,
// with -update, writes) the .golden file beside it.
func golden(t *testing.T, dir, ext string, fn func(t *testing.T, in []byte) []byte) {
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*"+ext))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in testdata/%s: %v", dir, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
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
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", gf, diff)
			}
		})
	}
}

func TestGoldenToChat(t *testing.T) {
	golden(t, "to_chat", ".json", func(t *testing.T, in []byte) []byte {
		out, info, err := ToChat(in)
		if err != nil {
			t.Fatal(err)
		}
		var want struct {
			Model     string `json:"model"`
			Stream    bool   `json:"stream"`
			MaxTokens int    `json:"max_tokens"`
		}
		json.Unmarshal(in, &want)
		if diff := cmp.Diff(Info{want.Model, want.Stream, want.MaxTokens}, info); diff != "" {
			t.Errorf("Info (-want +got):\n%s", diff)
		}
		return indent(t, out)
	})
}

func TestGoldenFromChat(t *testing.T) {
	golden(t, "from_chat", ".json", func(t *testing.T, in []byte) []byte {
		out, err := FromChat(in, "claude-gateway")
		if err != nil {
			t.Fatal(err)
		}
		return indent(t, out)
	})
}

func TestGoldenStream(t *testing.T) {
	golden(t, "stream", ".jsonl", func(t *testing.T, in []byte) []byte {
		s := NewStream("claude-gateway", "")
		var out []byte
		for _, l := range lines(t, in) {
			var err error
			if out, err = s.Chunk(out, l); err != nil {
				t.Fatal(err)
			}
		}
		out = s.End(out)
		checkSSE(t, out)
		return out
	})
}

// checkSSE decodes frames and checks each one's data is valid JSON whose
// type is the event name.
func checkSSE(t *testing.T, b []byte) {
	t.Helper()
	d := wire.NewDecoder(bytes.NewReader(b))
	for {
		ev, err := d.Next()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("SSE: %v", err)
			}
			return
		}
		var v struct{ Type string }
		if err := json.Unmarshal(ev.Data, &v); err != nil {
			t.Fatalf("frame data is not JSON: %v: %s", err, ev.Data)
		}
		if v.Type != ev.Name {
			t.Fatalf("event %q carries type %q", ev.Name, v.Type)
		}
	}
}

func TestGoldenFromChatRequest(t *testing.T) {
	golden(t, "from_chat_request", ".json", func(t *testing.T, in []byte) []byte {
		out, err := FromChatRequest(in)
		if err != nil {
			t.Fatal(err)
		}
		return indent(t, out)
	})
}

func TestGoldenToChatResponse(t *testing.T) {
	golden(t, "to_chat_response", ".json", func(t *testing.T, in []byte) []byte {
		out, err := ToChatResponse(in)
		if err != nil {
			t.Fatal(err)
		}
		return indent(t, out)
	})
}

func TestGoldenChatStream(t *testing.T) {
	golden(t, "chat_stream", ".jsonl", func(t *testing.T, in []byte) []byte {
		c := NewChatStream()
		var out []byte
		for _, l := range lines(t, in) {
			chunk, err := c.Event(l)
			if err != nil {
				t.Fatal(err)
			}
			if chunk != nil {
				if !json.Valid(chunk) {
					t.Fatalf("chunk is not JSON: %s", chunk)
				}
				out = append(append(out, chunk...), '\n')
			}
		}
		return out
	})
}

func TestThinkingMapsToReasoningEffort(t *testing.T) {
	for _, c := range []struct {
		thinking, want string
	}{
		{`{"type":"enabled","budget_tokens":1024}`, "low"},
		{`{"type":"enabled","budget_tokens":8000}`, "medium"},
		{`{"type":"enabled","budget_tokens":32000}`, "high"},
		{`{"type":"adaptive"}`, "medium"},
		{`{"type":"disabled"}`, ""},
	} {
		chat, _, err := ToChat([]byte(`{"model":"m","max_tokens":64000,"service_tier":"auto","thinking":` + c.thinking + `,"messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			t.Fatalf("%s: %v", c.thinking, err)
		}
		var got struct {
			Effort string `json:"reasoning_effort"`
		}
		json.Unmarshal(chat, &got)
		if got.Effort != c.want {
			t.Errorf("%s: reasoning_effort %q, want %q", c.thinking, got.Effort, c.want)
		}
	}
}

func TestReasoningEffortBecomesThinking(t *testing.T) {
	for _, c := range []struct {
		body, want, err string
	}{
		{`{"model":"m","max_tokens":32000,"reasoning_effort":"medium","messages":[{"role":"user","content":"hi"}]}`, `"thinking":{"type":"enabled","budget_tokens":8192}`, ""},
		{`{"model":"m","max_tokens":4000,"reasoning_effort":"high","messages":[{"role":"user","content":"hi"}]}`, `"thinking":{"type":"enabled","budget_tokens":3999}`, ""},
		{`{"model":"m","max_tokens":500,"reasoning_effort":"low","messages":[{"role":"user","content":"hi"}]}`, "", "reasoning_effort"},
		{`{"model":"m","reasoning_effort":"extreme","messages":[{"role":"user","content":"hi"}]}`, "", "reasoning_effort"},
	} {
		out, err := FromChatRequest([]byte(c.body))
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: err %v, want one naming %s", c.body, err, c.err)
		case c.err == "" && (err != nil || !strings.Contains(string(out), c.want)):
			t.Errorf("%s: %s %v, want %s", c.body, out, err, c.want)
		}
	}
}
