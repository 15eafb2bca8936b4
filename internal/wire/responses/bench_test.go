// Benchmarks of the translation. Before/after the single-pass rewrite of
// Parse and Chat (spans + direct appends, wire.ScanIndexed; the old code
// is oracle_test.go), benchstat of 10 interleaved runs each on a loaded
// 2-core VM (medians; ± is noise):
//
//	go test -c -o new.test ./internal/wire/responses   # and old.test at the base commit
//	new.test -test.run XXX -test.bench . -test.benchmem -test.benchtime 0.5s   # ×10 each, interleaved
//
//	              before          after
//	ParseChat     112.0µs ± 19%   10.96µs ± 13%   -90%   561 → 14 allocs, 27.7 → 4.4 KiB
//	Complete      8.15µs ± 20%    7.74µs ± 17%     ~      25 → 25 allocs (unchanged code)
//	StreamChunk   574ns ± 9%      616ns ± 8%       ~       0 → 0 allocs (unchanged code)
//
// ParseChat is testdata/chat/items_tools.json: eight input items, a tool,
// tool_choice, a JSON schema format.
package responses

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func BenchmarkStreamChunk(b *testing.B) {
	r, _ := Parse([]byte(`{"model":"gpt-x","input":"hi","stream":true}`))
	chunk := []byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-x","choices":[{"index":0,"delta":{"content":"token "},"finish_reason":null}]}`)
	s := r.NewStream("resp_bench", 1)
	out := make([]byte, 0, 4096)
	b.ReportAllocs()
	b.SetBytes(int64(len(chunk)))
	for b.Loop() {
		out, _ = s.Chunk(out[:0], chunk)
		if len(s.items[0].text) > 1<<16 {
			s.items[0].text = s.items[0].text[:0]
		}
	}
}

func BenchmarkParseChat(b *testing.B) {
	body, _ := os.ReadFile(filepath.Join("testdata", "chat", "items_tools.json"))
	var c struct {
		Request json.RawMessage `json:"request"`
	}
	json.Unmarshal(body, &c)
	b.ReportAllocs()
	for b.Loop() {
		r, err := Parse(c.Request)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Chat(nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkComplete(b *testing.B) {
	r, _ := Parse([]byte(`{"model":"gpt-x","input":"hi"}`))
	chat := []byte(`{"id":"c","model":"gpt-x","choices":[{"finish_reason":"stop","message":{"role":"assistant","content":"Hello there, this is a short answer."}}],"usage":{"prompt_tokens":10,"completion_tokens":8}}`)
	b.ReportAllocs()
	for b.Loop() {
		o, err := r.Complete(chat, "resp_b", 1)
		if err != nil {
			b.Fatal(err)
		}
		o.Marshal()
	}
}
