package tokenize

import (
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	tiktoken "github.com/pkoukk/tiktoken-go"
	loader "github.com/pkoukk/tiktoken-go-loader"
)

// corpus covers the pre-tokenizers' branches: scripts, case mixes,
// contractions, numbers, punctuation, whitespace runs and newlines.
var corpus = []string{
	"",
	"hello world",
	"Hello, World! How's it going? I'm fine, they're here, we've won, you'll see, he'd go.",
	"IT'S DON'T WE'LL THEY'RE I'M HE'D YOU'VE",
	"'s 't 're 've 'm 'll 'd 'x 'S",
	"McDonald's iPhone HELLOworld helloWORLD CamelCaseName snake_case_name kebab-case",
	"The quick brown fox jumps over the lazy dog.\n\nSecond paragraph.\r\nWindows line.\r\n",
	"    four leading spaces\tand\ttabs\t\t\ttrailing   \n   \n\n\n  end  ",
	"   ",
	"\n",
	" \n ",
	"a  b   c    d",
	"1 12 123 1234 12345 123456 3.14159 -42 1,000,000 0x1F 1e10 ٣٤٥ ¼½",
	"2024-06-01T12:34:56Z user@example.com https://example.com/a/b?c=d&e=f#g",
	"func main() {\n\tfmt.Println(\"hi\") // comment\n\tx := []int{1, 2, 3}\n\treturn\n}\n",
	"def f(x):\n    if x > 0:\n        return x ** 2\n    return -x\n",
	"<html><body class=\"x\">&nbsp;&amp;</body></html>",
	"SELECT * FROM users WHERE id = 42 AND name LIKE '%bob%';",
	"a/b/c //d///e\n/f\r\n//\n",
	"!!! ??? ... --- *** +++ ___ ~~~ ``` ''' \"\"\"",
	"我们今天去公园散步，天气非常好。你觉得怎么样？",
	"中华人民共和国成立于1949年10月1日，首都北京。",
	"日本語のテキストです。カタカナとひらがな。",
	"한국어 텍스트입니다. 안녕하세요!",
	"Привет, мир! Как дела? ПРИВЕТ мир",
	"Γειά σου Κόσμε! ΑΒΓ αβγ",
	"مرحبا بالعالم! هذا نص عربي.",
	"नमस्ते दुनिया! यह हिंदी पाठ है।",
	"שלום עולם",
	"ภาษาไทยไม่มีช่องว่างระหว่างคำ",
	"Ünïcödé façade naïve café résumé ÀÉÎÕÜ Straße STRASSE",
	"e\u0301 \u0301a a\u0301\u0302 \u0301\u0301 x\u0301Y",
	"emoji 😀😃😄 👍🏽 👨‍👩‍👧‍👦 🇺🇸🇨🇳 ❤️ ✨🚀",
	"nbsp\u00a0here ideographic\u3000space em\u2003space line\u2028sep next\u0085line",
	"\u3000中文 \u00a0word",
	"special <|endoftext|> and <|endofprompt|> and <|fim_prefix|> <|unknown|>",
	"ǅungla ǈ ǋ ʰʲ ᵃ ꜰ ᴀ",
	"x'ſ it'ſ",
	strings.Repeat("a", 300),
	strings.Repeat("ab", 200),
	strings.Repeat("中", 200),
	strings.Repeat(" ", 200) + "x",
	strings.Repeat("\n", 50) + strings.Repeat("\t", 50),
	strings.Repeat("=", 130),
	strings.Repeat("Supercalifragilisticexpialidocious", 10),
}

func mustGet(tb testing.TB, name string) *Encoding {
	tb.Helper()
	e, err := Get(name)
	if err != nil {
		tb.Fatalf("Get(%q): %v", name, err)
	}
	return e
}

var (
	refOnce sync.Once
	refEncs = map[string]*tiktoken.Tiktoken{}
)

// reference returns tiktoken-go's encoding, the independent implementation
// (regexp2 with the published patterns) these tests compare against.
func reference(tb testing.TB, name string) *tiktoken.Tiktoken {
	tb.Helper()
	refOnce.Do(func() {
		tiktoken.SetBpeLoader(loader.NewOfflineLoader())
		for _, n := range Names() {
			e, err := tiktoken.GetEncoding(n)
			if err != nil {
				tb.Fatalf("reference %s: %v", n, err)
			}
			refEncs[n] = e
		}
	})
	return refEncs[name]
}

func TestEncodeMatchesReference(t *testing.T) {
	for _, name := range Names() {
		enc, ref := mustGet(t, name), reference(t, name)
		for _, text := range corpus {
			want := ref.EncodeOrdinary(text)
			if want == nil {
				want = []int{}
			}
			got := enc.Encode(text)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: Encode(%q) mismatch (-tiktoken-go +got):\n%s", name, text, diff)
			}
			if n := enc.Count(text); n != len(want) {
				t.Errorf("%s: Count(%q) = %d, want %d", name, text, n, len(want))
			}
			back, err := enc.Decode(got)
			if err != nil || back != text {
				t.Errorf("%s: Decode(Encode(%q)) = %q, %v", name, text, back, err)
			}
		}
	}
}

func TestMergeScanEqualsHeap(t *testing.T) {
	enc := mustGet(t, O200KBase)
	rng := rand.New(rand.NewPCG(1, 2))
	alphabets := []string{"ab", "abc ", "the quick", "中文字", "=-", "aaaaaaab"}
	var sc heapScratch
	for range 500 {
		alpha := []rune(alphabets[rng.IntN(len(alphabets))])
		var b strings.Builder
		for range 2 + rng.IntN(200) {
			b.WriteRune(alpha[rng.IntN(len(alpha))])
		}
		piece := b.String()
		scan := starts(enc.vocab.mergeScan(piece, nil))
		heap := starts(enc.vocab.mergeHeap(piece, nil, &sc))
		if diff := cmp.Diff(scan, heap); diff != "" {
			t.Fatalf("piece %q: boundaries differ (-scan +heap):\n%s", piece, diff)
		}
	}
}

func starts(parts []part) []int32 {
	s := make([]int32, len(parts))
	for i, p := range parts {
		s[i] = p.start
	}
	return s
}

func TestDecodeInvalidUTF8RoundTrip(t *testing.T) {
	for _, name := range Names() {
		enc := mustGet(t, name)
		for _, text := range []string{"\xff", "a\xffb", "\xe4\xb8", "中\x80文", "'\xc3s", " \xf0\x9f\x98", "\xed\xa0\x80x"} {
			ids := enc.Encode(text)
			if enc.Count(text) != len(ids) {
				t.Errorf("%s: Count(%q) = %d, len(Encode) = %d", name, text, enc.Count(text), len(ids))
			}
			back, err := enc.Decode(ids)
			if err != nil || back != text {
				t.Errorf("%s: Decode(Encode(%q)) = %q, %v", name, text, back, err)
			}
		}
	}
}

func TestClassTableFastPaths(t *testing.T) {
	initClasses()
	for _, r := range []rune{'a', 'Z', '5', ' ', '\n', 0x4e00, 0x9fff, 0xac00, 0xd7a3, 0x7ff, 0x301} {
		s := string(r)
		got, n := classAt(s, 0)
		if want := classifySlow(r); got != want || n != utf8.RuneLen(r) {
			t.Errorf("classAt(%U) = %08b, %d; want %08b, %d", r, got, n, want, utf8.RuneLen(r))
		}
	}
	for r := rune(0x4e00); r <= 0x9fff; r++ {
		if got, _ := classAt(string(r), 0); got != classifySlow(r) {
			t.Fatalf("CJK fast path disagrees at %U", r)
		}
	}
	for r := rune(0xac00); r <= 0xd7a3; r++ {
		if got, _ := classAt(string(r), 0); got != classifySlow(r) {
			t.Fatalf("Hangul fast path disagrees at %U", r)
		}
	}
}

// TestConcurrentUse shares encodings across goroutines (run with -race).
func TestConcurrentUse(t *testing.T) {
	var wg sync.WaitGroup
	counts := make([][]int, 8)
	for g := range counts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, name := range Names() {
				enc, err := Get(name)
				if err != nil {
					t.Error(err)
					return
				}
				for _, text := range corpus {
					counts[g] = append(counts[g], enc.Count(text))
				}
			}
		}()
	}
	wg.Wait()
	for g := 1; g < len(counts); g++ {
		if diff := cmp.Diff(counts[0], counts[g]); diff != "" {
			t.Fatalf("goroutine %d counted differently:\n%s", g, diff)
		}
	}
}
