package metering

import (
	"testing"

	"switchyard/internal/metering/tokenize"
	wire "switchyard/internal/wire/openai"
)

var chatBodies = []string{
	`{"model":"m","messages":[{"role":"user","content":"Say hello."}]}`,
	`{"model":"m","messages":[{"role":"system","content":"You are terse."},{"role":"user","name":"ann","content":"Hi \u00e9\n\"quoted\""}]}`,
	`{"messages":[{"role":"assistant","content":null},{"role":"user","content":"你好，世界"}],"model":"m","tools":null}`,
	`{"model":"m","messages":[]}`,
}

// countPlainChat must agree with tokenize.CountChatRequest wherever it
// answers, and decline what it does not handle.
func TestCountPlainChatMatchesTokenize(t *testing.T) {
	enc, err := tokenize.Get(tokenize.O200KBase)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range chatBodies {
		checkCount(t, enc, []byte(b), true)
	}
	for _, b := range []string{
		`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}`,
		`{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}]}`,
		`{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"1"}]}]}`,
		`{"model":"m","messages":[{"n\u0061me":"x","role":"user","content":"a","content":"bb"}]}`,
	} {
		checkCount(t, enc, []byte(b), false)
	}
}

func checkCount(t *testing.T, enc *tokenize.Encoding, body []byte, wantOK bool) {
	t.Helper()
	f, err := wire.Scan(body)
	if err != nil {
		return
	}
	got, ok := countPlainChat(enc, body, f)
	if ok != wantOK && wantOK {
		t.Errorf("%s: declined", body)
	}
	if !ok {
		return
	}
	want, err := tokenize.CountChatRequest(enc, body)
	if err != nil {
		return
	}
	if got != int64(want) {
		t.Errorf("%s: %d tokens, tokenize says %d", body, got, want)
	}
}

func FuzzCountPlainChat(f *testing.F) {
	enc, err := tokenize.Get(tokenize.O200KBase)
	if err != nil {
		f.Fatal(err)
	}
	for _, b := range chatBodies {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fs, err := wire.Scan(body)
		if err != nil || !fs.Messages.Present() || wire.Kind(body, fs.Messages) != "array" {
			return
		}
		checkCount(t, enc, body, false)
	})
}

func BenchmarkCountPlainChat(b *testing.B) {
	enc, _ := tokenize.Get(tokenize.O200KBase)
	body := []byte(`{"model":"bench","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello."}],"max_tokens":64}`)
	f, _ := wire.Scan(body)
	b.ReportAllocs()
	for b.Loop() {
		countPlainChat(enc, body, f)
	}
}
