package specialist

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNormalizeTokenize(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"Hello, World!", []string{"hello", "world"}},
		{"ＡＢＣ１２３　ｘ", []string{"abc123", "x"}},
		{"I don't know", []string{"i", "don't", "know"}},
		{"退款iPhone手机", []string{"退", "款", "iphone", "手", "机"}},
		{"   ", nil},
	}
	for _, tt := range tests {
		rs := normalize(nil, tt.in)
		var got []string
		for _, tok := range tokenize(nil, rs) {
			got = append(got, string(rs[tok.start:tok.end]))
		}
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("%q (-want +got):\n%s", tt.in, d)
		}
	}
}

func countGroups(keys []uint32) [numGroups]int {
	var n [numGroups]int
	for _, k := range keys {
		n[k&(numGroups-1)]++
	}
	return n
}

func TestExtractCounts(t *testing.T) {
	f := FeatureConfig{}.withDefaults()
	tests := []struct {
		in   string
		want [numGroups]int
	}{
		// 3 CJK tokens: 3 unigrams + 4 bigrams with markers; char 1..3-grams: 3+2+1.
		{"你好吗", [numGroups]int{7, 6}},
		// "ab": word 1 + 2 bigrams; chars of " ab ": n=1: 2, n=2: 3, n=3: 2, n=4: 1.
		{"ab", [numGroups]int{3, 8}},
		{"", [numGroups]int{1, 0}}, // only the start/end bigram
	}
	for _, tt := range tests {
		var s scratch
		if got := countGroups(f.extract(&s, tt.in)); got != tt.want {
			t.Errorf("%q: groups %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestExtractNormalises(t *testing.T) {
	f := FeatureConfig{}.withDefaults()
	var s scratch
	a := slices.Sorted(slices.Values(f.extract(&s, "ＨＥＬＬＯ　Ｗｏｒｌｄ")))
	b := slices.Sorted(slices.Values(f.extract(&s, "hello world")))
	if !slices.Equal(a, b) {
		t.Error("full-width and upper-case text gives different features")
	}
	c := slices.Sorted(slices.Values(f.extract(&s, "world hello")))
	if slices.Equal(b, c) {
		t.Error("word order ignored although bigrams are on")
	}
}

func TestVectorizeNorms(t *testing.T) {
	f := FeatureConfig{CharWeight: 0.5}.withDefaults()
	var s scratch
	keys := slices.Clone(f.extract(&s, "refund my card card please 退款"))
	slices.Sort(keys)
	var uniq []uint32
	for i, k := range keys {
		if i == 0 || keys[i-1] != k {
			uniq = append(uniq, k)
		}
	}
	idf := make([]float32, len(uniq))
	for i := range idf {
		idf[i] = 1 + float32(i%3)
	}
	voc := newVocab(uniq)
	var v sparseVec
	f.vectorize(&v, slices.Clone(keys), voc, idf)
	if len(v.idx) != len(uniq) {
		t.Fatalf("got %d features, want %d", len(v.idx), len(uniq))
	}
	var norm [numGroups]float64
	for k, ix := range v.idx {
		norm[uniq[ix]&(numGroups-1)] += float64(v.val[k]) * float64(v.val[k])
	}
	if math.Abs(norm[groupWord]-1) > 1e-5 || math.Abs(norm[groupChar]-0.25) > 1e-5 {
		t.Errorf("group norms² = %v, want [1 0.25]", norm)
	}
	// Unknown keys are dropped.
	voc2 := newVocab(uniq[:1])
	f.vectorize(&v, slices.Clone(keys), voc2, idf)
	if len(v.idx) != 1 {
		t.Errorf("got %d features with a one-key vocabulary", len(v.idx))
	}
}

func TestFloat16(t *testing.T) {
	for _, x := range []float32{0, 1, -2.5, 0.333, 65504, 1e-5, 3.1415927, 12.25} {
		got := f16to32(f32to16(x))
		if math.Abs(float64(got-x)) > math.Abs(float64(x))*1e-3+1e-7 {
			t.Errorf("f16 round trip %v -> %v", x, got)
		}
	}
	if !math.IsInf(float64(f16to32(f32to16(1e6))), 1) {
		t.Error("overflow should become +Inf")
	}
}

func TestSortKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var buf []uint32
	for _, n := range []int{0, 1, 63, 64, 65, 500, 3000} {
		for _, mod := range []uint32{1 << 31, 300, 1} {
			keys := make([]uint32, n)
			for i := range keys {
				keys[i] = rng.Uint32() % mod
			}
			want := slices.Clone(keys)
			slices.Sort(want)
			got := sortKeys(slices.Clone(keys), &buf)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("n=%d mod=%d (-want +got):\n%s", n, mod, diff)
			}
		}
	}
}
