package anthropic

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
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

func FuzzToChat(f *testing.F) {
	seeds(f, "to_chat")
	f.Fuzz(func(t *testing.T, b []byte) {
		out, _, err := ToChat(b)
		checkJSON(t, out, err)
	})
}

func FuzzFromChat(f *testing.F) {
	seeds(f, "from_chat")
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := FromChat(b, "m")
		checkJSON(t, out, err)
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
