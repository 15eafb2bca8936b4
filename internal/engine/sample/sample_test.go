package sample

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func logitsOf(probs ...float64) []float32 {
	l := make([]float32, len(probs))
	for i, p := range probs {
		l[i] = float32(math.Log(p))
	}
	return l
}

// draws samples n tokens and returns how often each id came up.
func draws(p Params, logits []float32, n int) map[int]int {
	s := New(p)
	got := map[int]int{}
	for range n {
		got[s.Sample(logits, nil)]++
	}
	return got
}

func TestGreedy(t *testing.T) {
	l := []float32{0.1, 3, -2, 2.9}
	if got := New(Params{}).Sample(l, nil); got != 1 {
		t.Fatalf("greedy = %d, want 1", got)
	}
	// top_k 1 is greedy at any temperature.
	if got := draws(Params{Temperature: 5, TopK: 1, Seed: 3}, l, 200); !cmp.Equal(got, map[int]int{1: 200}) {
		t.Fatalf("top_k 1: %v", got)
	}
}

func TestFilters(t *testing.T) {
	l := logitsOf(0.5, 0.3, 0.15, 0.05)
	tests := []struct {
		name    string
		p       Params
		allowed []int
	}{
		{"top_k 2", Params{Temperature: 1, TopK: 2}, []int{0, 1}},
		{"top_p 0.7", Params{Temperature: 1, TopP: 0.7}, []int{0, 1}},
		{"top_p 0.85", Params{Temperature: 1, TopP: 0.85}, []int{0, 1, 2}},
		{"min_p 0.4", Params{Temperature: 1, MinP: 0.4}, []int{0, 1}},
		{"min_p 0.7", Params{Temperature: 1, MinP: 0.7}, []int{0}},
		{"none", Params{Temperature: 1}, []int{0, 1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.p.Seed = 7
			got := draws(tt.p, l, 4000)
			var ids []int
			for id := range 4 {
				if got[id] > 0 {
					ids = append(ids, id)
				}
			}
			if diff := cmp.Diff(tt.allowed, ids); diff != "" {
				t.Errorf("drawn ids (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDistribution(t *testing.T) {
	probs := []float64{0.5, 0.3, 0.15, 0.05}
	l := logitsOf(probs...)
	const n = 40000
	// At temperature 1 the draws follow the softmax; at temperature 0.5 the
	// squared, renormalised distribution.
	for _, temp := range []float32{1, 0.5} {
		got := draws(Params{Temperature: temp, Seed: 11}, l, n)
		want := make([]float64, len(probs))
		sum := 0.0
		for i, p := range probs {
			want[i] = math.Pow(p, 1/float64(temp))
			sum += want[i]
		}
		for i := range want {
			want[i] /= sum
			freq := float64(got[i]) / n
			sd := math.Sqrt(want[i] * (1 - want[i]) / n)
			if math.Abs(freq-want[i]) > 5*sd {
				t.Errorf("temperature %g token %d: frequency %.4f, want %.4f", temp, i, freq, want[i])
			}
		}
	}
}

func TestSeedDeterminism(t *testing.T) {
	l := make([]float32, 1000)
	for i := range l {
		l[i] = float32(math.Sin(float64(i)))
	}
	seq := func(seed uint64) []int {
		s := New(Params{Temperature: 0.9, TopP: 0.95, TopK: 100, Seed: seed})
		var out []int
		for range 50 {
			out = append(out, s.Sample(l, out))
		}
		return out
	}
	a, b, c := seq(1), seq(1), seq(2)
	if !cmp.Equal(a, b) {
		t.Fatal("same seed gave different tokens")
	}
	if cmp.Equal(a, c) {
		t.Fatal("different seeds gave the same 50 tokens")
	}
}

func TestPenalties(t *testing.T) {
	l := []float32{2, 1.9, 1.5, -1}
	tests := []struct {
		name    string
		p       Params
		history []int
		want    int
	}{
		{"no penalty", Params{}, []int{0, 0}, 0},
		{"repeat", Params{RepeatPenalty: 1.1}, []int{0}, 1},
		{"repeat outside window", Params{RepeatPenalty: 1.1, RepeatLastN: 1}, []int{0, 1}, 0},
		{"presence", Params{PresencePenalty: 0.2}, []int{0}, 1},
		{"frequency", Params{FrequencyPenalty: 0.5}, []int{0, 0, 1}, 2},
		{"negative logit made worse", Params{RepeatPenalty: 2}, []int{3, 0, 1}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := append([]float32(nil), l...)
			if got := New(tt.p).Sample(l, tt.history); got != tt.want {
				t.Errorf("Sample = %d, want %d", got, tt.want)
			}
			if !cmp.Equal(orig, l) {
				t.Error("logits modified")
			}
		})
	}
}

func TestLargeVocabTopP(t *testing.T) {
	// A vocabulary large enough to take the partial-selection path; the
	// mass sits on a few tokens so top-p keeps only them.
	l := make([]float32, 50000)
	for i := range l {
		l[i] = -10
	}
	l[123], l[40000], l[7] = 10, 9.5, 9
	got := draws(Params{Temperature: 1, TopP: 0.9, Seed: 5}, l, 100)
	for id := range got {
		if id != 123 && id != 40000 && id != 7 {
			t.Fatalf("drew token %d outside the top-p set", id)
		}
	}
	if got[123] == 0 || got[40000] == 0 {
		t.Fatalf("draws %v", got)
	}
}

func TestLogprobs(t *testing.T) {
	l := logitsOf(0.5, 0.3, 0.15, 0.05)
	lp, top := Logprobs(l, 2, 2)
	if math.Abs(float64(lp)-math.Log(0.15)) > 1e-5 {
		t.Errorf("logprob = %v, want %v", lp, math.Log(0.15))
	}
	want := []TokenLogprob{{0, float32(math.Log(0.5))}, {1, float32(math.Log(0.3))}}
	if diff := cmp.Diff(want, top, cmp.Comparer(func(a, b float32) bool { return math.Abs(float64(a-b)) < 1e-5 })); diff != "" {
		t.Errorf("top (-want +got):\n%s", diff)
	}
}
