package tokenize

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestGolden compares with ids produced by OpenAI's own tiktoken (see
// testdata/gen_golden.cjs) on text sampled from the shared datasets in
// many languages, Go source, and edge cases.
func TestGolden(t *testing.T) {
	raw, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 200 {
		t.Fatalf("golden.json has %d cases, want ≥ 200", len(cases))
	}
	for _, name := range Names() {
		enc := mustGet(t, name)
		for i, c := range cases {
			var text string
			var want []int
			if err := json.Unmarshal(c["text"], &text); err != nil {
				t.Fatalf("case %d: %v", i, err)
			}
			if err := json.Unmarshal(c[name], &want); err != nil {
				t.Fatalf("case %d: %s: %v", i, name, err)
			}
			if diff := cmp.Diff(want, enc.Encode(text)); diff != "" {
				t.Errorf("%s: case %d %.40q: ids differ (-tiktoken +got):\n%s", name, i, text, diff)
			}
			if got := enc.Count(text); got != len(want) {
				t.Errorf("%s: case %d: Count = %d, want %d", name, i, got, len(want))
			}
		}
	}
}

// TestKnownIDs pins a few ids checked by hand against OpenAI's tokenizer.
func TestKnownIDs(t *testing.T) {
	tests := []struct {
		enc, text string
		want      []int
	}{
		{CL100KBase, "hello world", []int{15339, 1917}},
		{O200KBase, "hello world", []int{24912, 2375}},
		{CL100KBase, "'s", []int{596}},
		{O200KBase, " he'S", []int{501, 31233}},
		{CL100KBase, "<|endoftext|>", []int{27, 91, 8862, 728, 428, 91, 29}},
	}
	for _, tt := range tests {
		got := mustGet(t, tt.enc).Encode(tt.text)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: Encode(%q) (-want +got):\n%s", tt.enc, tt.text, diff)
		}
	}
}

func TestEncodeSpecial(t *testing.T) {
	tests := []struct {
		enc, text string
		want      []int
	}{
		{CL100KBase, "<|endoftext|>", []int{100257}},
		{CL100KBase, "hello world<|endoftext|>", []int{15339, 1917, 100257}},
		{CL100KBase, "<|fim_prefix|>x<|fim_suffix|><|endofprompt|>", []int{100258, 87, 100260, 100276}},
		{O200KBase, "hello world<|endoftext|><|endofprompt|>", []int{24912, 2375, 199999, 200018}},
		{O200KBase, "<|fim_prefix|>", mustGet(t, O200KBase).Encode("<|fim_prefix|>")},
		{O200KBase, "<|<|endoftext|", mustGet(t, O200KBase).Encode("<|<|endoftext|")},
	}
	for _, tt := range tests {
		enc := mustGet(t, tt.enc)
		got := enc.EncodeSpecial(tt.text)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: EncodeSpecial(%q) (-want +got):\n%s", tt.enc, tt.text, diff)
		}
		back, err := enc.Decode(got)
		if err != nil || back != tt.text {
			t.Errorf("%s: Decode(EncodeSpecial(%q)) = %q, %v", tt.enc, tt.text, back, err)
		}
	}
}

func TestDecodeUnknownID(t *testing.T) {
	enc := mustGet(t, CL100KBase)
	for _, id := range []int{-1, 100256, 100261, 1 << 40} {
		if _, err := enc.Decode([]int{15339, id}); err == nil {
			t.Errorf("Decode(%d): no error", id)
		}
	}
}

func TestGetUnknown(t *testing.T) {
	if _, err := Get("p50k_base"); err == nil {
		t.Fatal("Get(p50k_base): no error")
	}
	a, b := mustGet(t, O200KBase), mustGet(t, O200KBase)
	if a != b {
		t.Fatal("Get returned two different encodings for one name")
	}
	if a.Name() != O200KBase || a.VocabSize() != 199998 {
		t.Fatalf("o200k: name %q, vocab %d", a.Name(), a.VocabSize())
	}
	if c := mustGet(t, CL100KBase); c.VocabSize() != 100256 {
		t.Fatalf("cl100k: vocab %d", c.VocabSize())
	}
}
