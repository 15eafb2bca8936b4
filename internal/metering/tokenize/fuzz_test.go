package tokenize

import (
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// FuzzEncode checks, for arbitrary bytes, that encoding never panics, that
// Count agrees with Encode, that decoding gives back the input exactly,
// and, for valid UTF-8, that the ids equal tiktoken-go's.
func FuzzEncode(f *testing.F) {
	for _, s := range corpus {
		f.Add(s)
	}
	f.Add("\xff\xfe 'S\xc3")
	// Load everything before the first input, so that a slow machine does
	// not make the fuzzer take the first input for a hang.
	for _, name := range Names() {
		mustGet(f, name)
		reference(f, name)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, name := range Names() {
			enc := mustGet(t, name)
			ids := enc.Encode(text)
			if n := enc.Count(text); n != len(ids) {
				t.Fatalf("%s: Count = %d, len(Encode) = %d", name, n, len(ids))
			}
			back, err := enc.Decode(ids)
			if err != nil || back != text {
				t.Fatalf("%s: Decode(Encode(%q)) = %q, %v", name, text, back, err)
			}
			if utf8.ValidString(text) {
				want := reference(t, name).EncodeOrdinary(text)
				if want == nil {
					want = []int{}
				}
				if diff := cmp.Diff(want, ids); diff != "" {
					t.Fatalf("%s: Encode(%q) (-tiktoken-go +got):\n%s", name, text, diff)
				}
			}
		}
	})
}

// FuzzMerge checks that the heap merge equals the linear scan.
func FuzzMerge(f *testing.F) {
	f.Add("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
	f.Add("中文字中文字中文字中文字中文字")
	f.Add("the quick brown fox")
	mustGet(f, CL100KBase)
	f.Fuzz(func(t *testing.T, piece string) {
		if len(piece) < 2 || len(piece) > 4096 {
			return
		}
		enc := mustGet(t, CL100KBase)
		var sc heapScratch
		scan := starts(enc.vocab.mergeScan(piece, nil))
		heap := starts(enc.vocab.mergeHeap(piece, nil, &sc))
		if diff := cmp.Diff(scan, heap); diff != "" {
			t.Fatalf("piece %q (-scan +heap):\n%s", piece, diff)
		}
	})
}

// FuzzCountChat checks that arbitrary request bodies never panic and that
// an accepted one costs at least the reply priming.
func FuzzCountChat(f *testing.F) {
	f.Add([]byte(`{"messages":[{"role":"user","content":"hi"}]}`))
	f.Add([]byte(`{"messages":[{"role":"user","name":"x","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"detail":"low"}}]}],"tools":[{"type":"function"}]}`))
	f.Add([]byte(`{"messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"1"}]}],"functions":[1]}`))
	f.Add([]byte(`{"messages":[]}`))
	mustGet(f, O200KBase)
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := CountChatRequest(mustGet(t, O200KBase), body)
		if err == nil && n < ReplyPriming {
			t.Fatalf("count %d < %d for %q", n, ReplyPriming, body)
		}
	})
}
