package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"switchyard/internal/engine/gguf"
)

// modelsDir is the shared fixture folder (../shared/models from the
// repository root).
var modelsDir = filepath.Join("..", "..", "..", "..", "shared", "models")

func fixture(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(modelsDir, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("fixture %s not present: %v", rel, err)
	}
	return p
}

var (
	loadMu  sync.Mutex
	loadedT = map[string]*Tokenizer{}
)

// load builds (once per test binary) the tokenizer of a GGUF fixture.
func load(t testing.TB, rel string) *Tokenizer {
	t.Helper()
	loadMu.Lock()
	defer loadMu.Unlock()
	if tk, ok := loadedT[rel]; ok {
		return tk
	}
	f, err := gguf.Open(fixture(t, rel))
	if err != nil {
		t.Fatalf("open %s: %v", rel, err)
	}
	defer f.Close()
	tk, err := FromGGUF(f)
	if err != nil {
		t.Fatalf("tokenizer of %s: %v", rel, err)
	}
	loadedT[rel] = tk
	return tk
}

// readVectors reads llama.cpp's test-tokenizer-0 vectors: inputs separated
// by lines "__ggml_vocab_test__", expected ids one line per input.
func readVectors(t *testing.T, base string) (inputs []string, want [][]int) {
	t.Helper()
	inp, err := os.ReadFile(fixture(t, base+".inp"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(fixture(t, base+".out"))
	if err != nil {
		t.Fatal(err)
	}
	// Every input is followed by "\n__ggml_vocab_test__\n".
	parts := strings.Split(string(inp), "\n__ggml_vocab_test__\n")
	if parts[len(parts)-1] != "" {
		t.Fatalf("%s: input file does not end with a separator", base)
	}
	parts = parts[:len(parts)-1]
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(parts) {
		t.Fatalf("%s: %d inputs but %d expected lines", base, len(parts), len(lines))
	}
	for _, l := range lines {
		var ids []int
		for _, f := range strings.Fields(l) {
			id, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("%s: bad id %q", base, f)
			}
			ids = append(ids, id)
		}
		want = append(want, ids)
	}
	return parts, want
}

func TestLlamaCppVectors(t *testing.T) {
	for _, name := range []string{"llama-spm", "phi-3", "gpt-2", "starcoder"} {
		t.Run(name, func(t *testing.T) {
			base := "vocab/ggml-vocab-" + name + ".gguf"
			tk := load(t, base)
			inputs, want := readVectors(t, base)
			for i, in := range inputs {
				got := tk.Encode(in, false, false)
				if diff := cmp.Diff(want[i], got, cmp.Comparer(func(a, b []int) bool {
					return len(a) == len(b) && (len(a) == 0 || cmp.Equal(a, b))
				})); diff != "" {
					t.Errorf("Encode(%q) mismatch (-want +got):\n%s", in, diff)
				}
			}
		})
	}
}

func TestStories260KReference(t *testing.T) {
	tk := load(t, "stories260K.gguf")
	raw, err := os.ReadFile(fixture(t, "stories260K.reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Runs []struct {
			Prompt          string   `json:"prompt"`
			PromptTokenIDs  []int    `json:"prompt_token_ids"`
			GeneratedIDs    []int    `json:"generated_token_ids"`
			GeneratedPieces []string `json:"generated_pieces"`
			GeneratedText   string   `json:"generated_text"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Runs) == 0 {
		t.Fatal("no runs in reference")
	}
	for _, r := range ref.Runs {
		// The reference used llama_tokenize(add_special=true, parse_special=true).
		if diff := cmp.Diff(r.PromptTokenIDs, tk.Encode(r.Prompt, true, true)); diff != "" {
			t.Errorf("Encode(%q) (-want +got):\n%s", r.Prompt, diff)
		}
		var pieces []string
		var text []byte
		for _, id := range r.GeneratedIDs {
			pieces = append(pieces, string(tk.TokenPiece(id)))
			text = append(text, tk.TokenPiece(id)...)
		}
		if diff := cmp.Diff(r.GeneratedPieces, pieces); diff != "" {
			t.Errorf("pieces of %q (-want +got):\n%s", r.Prompt, diff)
		}
		if string(text) != r.GeneratedText {
			t.Errorf("generated text of %q = %q, want %q", r.Prompt, text, r.GeneratedText)
		}
	}
	if tk.BOS() != 1 || tk.EOS() != 2 || !tk.IsEOG(2) || tk.IsEOG(1) || tk.VocabSize() != 512 {
		t.Errorf("specials: bos %d eos %d eog(2) %v eog(1) %v vocab %d", tk.BOS(), tk.EOS(), tk.IsEOG(2), tk.IsEOG(1), tk.VocabSize())
	}
}

// TestDecodeVectors checks decode(encode(s)) == s over llama.cpp's test
// strings (SentencePiece's added space prefix is removed by Decode).
func TestDecodeVectors(t *testing.T) {
	for _, name := range []string{"llama-spm", "phi-3", "gpt-2", "starcoder"} {
		t.Run(name, func(t *testing.T) {
			base := "vocab/ggml-vocab-" + name + ".gguf"
			tk := load(t, base)
			inputs, _ := readVectors(t, base)
			for _, in := range inputs {
				if got := tk.Decode(tk.Encode(in, false, false)); got != in {
					t.Errorf("Decode(Encode(%q)) = %q", in, got)
				}
			}
		})
	}
}

func TestSpecialTokens(t *testing.T) {
	sc := load(t, "vocab/ggml-vocab-starcoder.gguf")
	eot, ok := sc.TokenID("<|endoftext|>")
	if !ok {
		t.Fatal("starcoder vocab has no <|endoftext|>")
	}
	phi := load(t, "vocab/ggml-vocab-phi-3.gguf")
	user, _ := phi.TokenID("<|user|>")
	end, _ := phi.TokenID("<|end|>")
	spm := load(t, "vocab/ggml-vocab-llama-spm.gguf")
	tests := []struct {
		name         string
		tk           *Tokenizer
		text         string
		addSpecial   bool
		parseSpecial bool
		want         []int
	}{
		{"bpe control parsed", sc, "a<|endoftext|>b", false, true, []int{sc.Encode("a", false, false)[0], eot, sc.Encode("b", false, false)[0]}},
		{"bpe control as text", sc, "<|endoftext|>", false, false, sc.Encode("<|", false, false)[:1:1]},
		{"spm bos added and parsed", spm, "<s>Hi", true, true, []int{1, 1, spm.Encode("Hi", false, false)[0]}},
		{"spm eos parsed", spm, "Hi</s>", false, true, append(spm.Encode("Hi", false, false), 2)},
		{"phi3 rstrip after special", phi, "<|user|>\nHi<|end|>", true, true, append(append([]int{1, user}, phi.Encode("Hi", false, false)...), end)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.tk.Encode(tc.text, tc.addSpecial, tc.parseSpecial)
			if tc.name == "bpe control as text" {
				// Not split out: the first token is the start of "<|".
				if len(got) < 2 || got[0] != tc.want[0] {
					t.Errorf("Encode(%q) = %v, want text tokens starting %v", tc.text, got, tc.want)
				}
				for _, id := range got {
					if id == eot {
						t.Errorf("Encode(%q) without parseSpecial produced the control token", tc.text)
					}
				}
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Encode(%q) (-want +got):\n%s", tc.text, diff)
			}
		})
	}
	if !phi.IsEOG(end) || !phi.IsEOG(phi.EOS()) || phi.IsEOG(user) {
		t.Errorf("phi-3 EOG: <|end|> %v, eos %v, <|user|> %v", phi.IsEOG(end), phi.IsEOG(phi.EOS()), phi.IsEOG(user))
	}
	if !sc.IsEOG(eot) {
		t.Error("starcoder <|endoftext|> is not end of generation")
	}
	if len(sc.TokenPiece(eot)) != 0 {
		t.Errorf("control token piece = %q, want empty", sc.TokenPiece(eot))
	}
	if got := spm.Decode([]int{1, 15043, 3186, 2}); got != " Hello world" {
		// BOS consumes llama.cpp's leading-space removal, as in its detokenize.
		t.Errorf("Decode with BOS = %q", got)
	}
}

func TestPreTokenizerSplits(t *testing.T) {
	tests := []struct {
		pre, in string
		want    []string
	}{
		{"llama3", "Hello world", []string{"Hello", " world"}},
		{"llama3", "I'm HERE'S", []string{"I", "'m", " HERE", "'S"}},
		{"llama3", "don't x'y", []string{"don", "'t", " x", "'y"}},
		{"llama3", "12345", []string{"123", "45"}},
		{"llama3", "ab12cd", []string{"ab", "12", "cd"}},
		{"llama3", "1,234.56", []string{"1", ",", "234", ".", "56"}},
		{"llama3", "a  b", []string{"a", " ", " b"}},
		{"llama3", "foo\n\nbar", []string{"foo", "\n\n", "bar"}},
		{"llama3", "x = 1;\n", []string{"x", " =", " ", "1", ";\n"}},
		{"llama3", "  indented\n    code", []string{" ", " indented", "\n", "   ", " code"}},
		{"llama3", "hello!!! ok", []string{"hello", "!!!", " ok"}},
		{"llama3", "Привет мир 你好", []string{"Привет", " мир", " 你好"}},
		{"llama3", "$100", []string{"$", "100"}},
		{"llama3", "\t\tx", []string{"\t", "\tx"}},
		{"llama3", "end  ", []string{"end", "  "}},
		{"llama3", "a\r\n\r\nb", []string{"a", "\r\n\r\n", "b"}},
		{"llama3", " \n x", []string{" \n", " x"}},
		{"llama3", "x ", []string{"x", " "}},
		{"llama3", "(a)", []string{"(a", ")"}},
		{"qwen2", "12345", []string{"1", "2", "3", "4", "5"}},
		{"qwen2", "1,234.56", []string{"1", ",", "2", "3", "4", ".", "5", "6"}},
		{"qwen2", "I'M fine.\n\nOk", []string{"I", "'M", " fine", ".\n\n", "Ok"}},
		{"qwen2", "<|im_start|>", []string{"<|", "im", "_start", "|>"}},
		{"gpt-2", "I'M fine", []string{"I", "'", "M", " fine"}},
		{"gpt-2", "a  b 42x", []string{"a", " ", " b", " 42", "x"}},
		{"gpt-2", "hi!! \n", []string{"hi", "!!", " \n"}},
		{"starcoder", "x=123 y", []string{"x", "=", "1", "2", "3", " y"}},
		{"smollm", "v2.10", []string{"v", "2", ".", "1", "0"}},
		{"default", "a+=1000;", []string{"a", "+=", "100", "0", ";"}},
	}
	for _, tc := range tests {
		pre, _, err := lookupPre(tc.pre)
		if err != nil {
			t.Fatal(err)
		}
		c := []rune(tc.in)
		var got []string
		for _, s := range pre.split(c) {
			got = append(got, string(c[s.start:s.end]))
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s split of %q (-want +got):\n%s", tc.pre, tc.in, diff)
		}
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		v    Vocab
	}{
		{"empty", Vocab{Model: "llama"}},
		{"unknown model", Vocab{Model: "t5", Tokens: []string{"a"}, BOS: None, EOS: None, EOT: None, EOM: None, UNK: None, PAD: None, SEP: None}},
		{"unknown pre", Vocab{Model: "gpt2", Pre: "nope", Tokens: []string{"a"}, BOS: None, EOS: None, EOT: None, EOM: None, UNK: None, PAD: None, SEP: None}},
		{"bos out of range", Vocab{Model: "llama", Tokens: []string{"a"}, BOS: 5, EOS: None, EOT: None, EOM: None, UNK: None, PAD: None, SEP: None}},
		{"short scores", Vocab{Model: "llama", Tokens: []string{"a", "b"}, Scores: []float32{0}, BOS: None, EOS: None, EOT: None, EOM: None, UNK: None, PAD: None, SEP: None}},
	}
	for _, tc := range tests {
		if _, err := New(tc.v); err == nil {
			t.Errorf("%s: New succeeded, want error", tc.name)
		}
	}
}

// TestHandBuiltBPE checks merge order on a vocabulary small enough to
// follow by hand.
func TestHandBuiltBPE(t *testing.T) {
	v := Vocab{
		Model: "gpt2", Pre: "gpt-2",
		Tokens: []string{"a", "b", "c", "ab", "bc", "abc", "Ġ", "Ġa"},
		Merges: []string{"b c", "a b", "a bc", "Ġ a"},
		BOS:    None, EOS: None, EOT: None, EOM: None, UNK: None, PAD: None, SEP: None,
	}
	tk, err := New(v)
	if err != nil {
		t.Fatal(err)
	}
	// "abc": rank 0 merges b+c first, then a+bc (rank 2) gives "abc".
	// " ab": "Ġ"+"a" (rank 3) loses to "a"+"b" (rank 1), leaving Ġ, ab.
	tests := map[string][]int{"abc": {5}, "ab": {3}, " ab": {6, 3}, " a": {7}, "cab": {2, 3}}
	for in, want := range tests {
		if diff := cmp.Diff(want, tk.Encode(in, false, false)); diff != "" {
			t.Errorf("Encode(%q) (-want +got):\n%s", in, diff)
		}
	}

	// Llama 3 (ignore_merges): a word that is itself a token is taken whole
	// even when the merges would not build it.
	v.Pre = "llama-bpe"
	v.Tokens = append(v.Tokens, "ca", "cab")
	v.BOS, v.AddBOS = 0, true
	l3, err := New(v)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{0, 9}, l3.Encode("cab", true, false)); diff != "" {
		t.Errorf("llama3 Encode(cab) (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{2, 3}, tk.Encode("cab", false, false)); diff != "" {
		t.Errorf("gpt-2 Encode(cab) (-want +got):\n%s", diff)
	}
}

// skipSpecialText reports whether s contains the text of a token that
// Encode splits out even without parseSpecial (user-defined tokens).
func hasUserDefined(tk *Tokenizer, s string) bool {
	for _, id := range tk.special {
		if tk.types[id] == TypeUserDefined && strings.Contains(s, tk.tokens[id]) {
			return true
		}
	}
	return false
}

func roundTrip(t *testing.T, tk *Tokenizer, s string) {
	ids := tk.Encode(s, false, false)
	_ = tk.Encode(s, true, true) // must not panic either
	for _, id := range ids {
		if id < 0 || id >= tk.VocabSize() {
			t.Fatalf("Encode(%q) produced id %d out of range", s, id)
		}
	}
	if !utf8.ValidString(s) || hasUserDefined(tk, s) {
		return
	}
	want := s
	if tk.Model() == "llama" {
		want = strings.ReplaceAll(s, "▁", " ") // ▁ is SentencePiece's own space
	}
	if got := tk.Decode(ids); got != want {
		t.Fatalf("Decode(Encode(%q)) = %q", s, got)
	}
}

func fuzzRoundTrip(f *testing.F, rel string) {
	tk := load(f, rel)
	inputs, err := os.ReadFile(fixture(f, "vocab/ggml-vocab-llama-spm.gguf.inp"))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range strings.Split(string(inputs), "\n__ggml_vocab_test__\n") {
		f.Add(s)
	}
	f.Add("\x00\xff\xfe invalid \xc3")
	f.Add("<s></s><unk><|endoftext|>")
	f.Fuzz(func(t *testing.T, s string) { roundTrip(t, tk, s) })
}

func FuzzRoundTripSPM(f *testing.F)       { fuzzRoundTrip(f, "vocab/ggml-vocab-llama-spm.gguf") }
func FuzzRoundTripGPT2(f *testing.F)      { fuzzRoundTrip(f, "vocab/ggml-vocab-gpt-2.gguf") }
func FuzzRoundTripStarCoder(f *testing.F) { fuzzRoundTrip(f, "vocab/ggml-vocab-starcoder.gguf") }

// FuzzPreTokenizers checks that every pre-tokenizer covers its input with
// non-empty, ordered, adjacent pieces.
func FuzzPreTokenizers(f *testing.F) {
	f.Add("Hello, y'all! 123456 \n\n  x\t\r\nÄpfel 你好 🦙")
	f.Fuzz(func(t *testing.T, s string) {
		c := decodeLenient(nil, s)
		for _, name := range []string{"default", "gpt-2", "starcoder", "llama3", "qwen2"} {
			pre, _, err := lookupPre(name)
			if err != nil {
				t.Fatal(err)
			}
			pos := 0
			for _, sp := range pre.split(c) {
				if sp.start != pos || sp.end <= sp.start {
					t.Fatalf("%s: bad piece %v at %d for %q", name, sp, pos, s)
				}
				pos = sp.end
			}
			if pos != len(c) {
				t.Fatalf("%s: pieces cover %d of %d code points for %q", name, pos, len(c), s)
			}
		}
	})
}

func FuzzDecodeIDs(f *testing.F) {
	tk := load(f, "vocab/ggml-vocab-gpt-2.gguf")
	f.Add([]byte{0, 1, 2, 255, 255, 255, 255})
	f.Fuzz(func(t *testing.T, b []byte) {
		var ids []int
		for i := 0; i+2 <= len(b); i += 2 {
			ids = append(ids, int(int16(uint16(b[i])|uint16(b[i+1])<<8)))
		}
		_ = tk.Decode(ids)
	})
}

var benchText = strings.Repeat("The quick brown fox jumps over the lazy dog. It's 2026, and Switchyard "+
	"routes 1,234 requests/s to small models — ½ price, 50% faster!\n\tfunc main() { fmt.Println(\"héllo\") }\n", 40)

func benchEncode(b *testing.B, rel string) {
	tk := load(b, rel)
	b.SetBytes(int64(len(benchText)))
	b.ReportAllocs()
	for b.Loop() {
		tk.Encode(benchText, true, false)
	}
}

func BenchmarkEncodeSPM(b *testing.B)       { benchEncode(b, "vocab/ggml-vocab-llama-spm.gguf") }
func BenchmarkEncodeGPT2(b *testing.B)      { benchEncode(b, "vocab/ggml-vocab-gpt-2.gguf") }
func BenchmarkEncodeStarCoder(b *testing.B) { benchEncode(b, "vocab/ggml-vocab-starcoder.gguf") }

func BenchmarkDecodeGPT2(b *testing.B) {
	tk := load(b, "vocab/ggml-vocab-gpt-2.gguf")
	ids := tk.Encode(benchText, false, false)
	b.SetBytes(int64(len(benchText)))
	for b.Loop() {
		tk.Decode(ids)
	}
}
