package specialist

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// synthData builds a small intent dataset: each label has its own cue
// words mixed with shared filler, in English and Chinese.
func synthData(n int, seed uint64) []Example {
	cues := map[string][]string{
		"refund":   {"refund", "money back", "退款", "return my money"},
		"delivery": {"delivery", "where is my parcel", "快递", "shipping status"},
		"card":     {"card lost", "stolen card", "银行卡丢了", "block my card"},
		"greeting": {"hello", "good morning", "你好", "hi there"},
	}
	filler := []string{"please", "i need help", "today", "with", "my order", "thanks", "请", "谢谢", "now", "quickly"}
	labels := []string{"card", "delivery", "greeting", "refund"}
	rng := rand.New(rand.NewPCG(seed, 1))
	var out []Example
	for i := range n {
		l := labels[i%len(labels)]
		c := cues[l]
		words := []string{c[rng.IntN(len(c))]}
		for range 1 + rng.IntN(4) {
			words = append(words, filler[rng.IntN(len(filler))])
		}
		rng.Shuffle(len(words), func(a, b int) { words[a], words[b] = words[b], words[a] })
		out = append(out, Example{Text: strings.Join(words, " "), Label: l})
	}
	return out
}

func encode(t testing.TB, m *Model) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := m.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestTrainPredict(t *testing.T) {
	ctx := context.Background()
	train, test := synthData(240, 1), synthData(80, 2)
	var stages []string
	m, res, err := Train(ctx, train, nil, Config{Seed: 3, Progress: func(p Progress) {
		if len(stages) == 0 || stages[len(stages)-1] != p.Stage {
			stages = append(stages, p.Stage)
		}
		if p.Done > p.Total {
			t.Errorf("progress %d/%d", p.Done, p.Total)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(stages, ","); got != "features,search,refit" {
		t.Errorf("stages = %s", got)
	}
	// Three SVM costs, then three logistic-regression mixes.
	if len(res.Candidates) != 6 || res.ValRows == 0 || res.Validation == nil {
		t.Errorf("result = %+v", res)
	}
	rep, err := Evaluate(ctx, m, test)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Accuracy < 0.95 {
		t.Errorf("accuracy %.3f on an easy synthetic task", rep.Accuracy)
	}
	preds, err := m.Predict(ctx, []string{"我要退款", "where is my parcel please"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if preds[0].Labels[0].Label != "refund" || preds[1].Labels[0].Label != "delivery" {
		t.Errorf("predictions = %+v", preds)
	}
	for _, p := range preds {
		if len(p.Labels) != 2 || p.Labels[0].Score < p.Labels[1].Score || p.Labels[0].Score > 1 {
			t.Errorf("labels not sorted probabilities: %+v", p.Labels)
		}
	}
	all, _ := m.Predict(ctx, []string{"x"}, 0)
	var sum float64
	for _, l := range all[0].Labels {
		sum += l.Score
	}
	if len(all[0].Labels) != 4 || sum < 0.999 || sum > 1.001 {
		t.Errorf("topK=0 gives %d labels summing to %v", len(all[0].Labels), sum)
	}
}

func TestTrainDeterministic(t *testing.T) {
	ctx := context.Background()
	data := synthData(200, 5)
	m1, _, err := Train(ctx, data, nil, Config{Seed: 9, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	m2, _, err := Train(ctx, data, nil, Config{Seed: 9, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(encode(t, m1), encode(t, m2)) {
		t.Error("same seed, different worker counts: models differ")
	}
}

func TestTrainErrors(t *testing.T) {
	ctx := context.Background()
	if _, _, err := Train(ctx, nil, nil, Config{}); err == nil {
		t.Error("no error for empty data")
	}
	one := []Example{{Text: "a", Label: "x"}, {Text: "b", Label: "x"}}
	if _, _, err := Train(ctx, one, nil, Config{}); err == nil {
		t.Error("no error for a single label")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := Train(cctx, synthData(100, 1), nil, Config{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled training: err = %v", err)
	}
}

func TestOutOfScope(t *testing.T) {
	ctx := context.Background()
	train := synthData(400, 11)
	gib := []string{"weather forecast tomorrow", "play some jazz music", "how tall is everest", "天气怎么样", "tell me a joke", "book a table for two", "what time is it in tokyo", "recipe for pancakes"}
	var val []Example
	for i, g := range gib {
		e := Example{Text: g, Label: "oos"}
		if i%2 == 0 {
			train = append(train, e)
		} else {
			val = append(val, e)
		}
	}
	val = append(val, synthData(60, 12)...)
	m, res, err := Train(ctx, train, val, Config{OOSLabel: "oos", Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Validation.OOSCount != 4 {
		t.Errorf("validation oos rows = %d, want 4", res.Validation.OOSCount)
	}
	preds, err := m.Predict(ctx, []string{"refund my money please", "what is the capital of peru"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if preds[0].OutOfScope {
		t.Errorf("in-scope text flagged out of scope: %+v", preds[0])
	}
	if !preds[1].OutOfScope {
		t.Errorf("unrelated text not flagged out of scope: %+v (threshold %.3f)", preds[1], m.Threshold())
	}

	// Without an out-of-scope label the threshold rejects about RejectRate
	// of the validation rows.
	m2, res2, err := Train(ctx, synthData(400, 3), nil, Config{RejectRate: 0.1, NoRefit: true})
	if err != nil {
		t.Fatal(err)
	}
	if m2.Threshold() <= 0 || res2.Validation.RejectRate > 0.2 {
		t.Errorf("threshold %.3f, validation reject rate %.3f", m2.Threshold(), res2.Validation.RejectRate)
	}
}

// lexiconEmbedder maps each known word to a direction for its class: a
// stand-in for a sentence encoder that knows synonyms the n-grams never saw.
type lexiconEmbedder struct {
	lex   map[string]int
	dim   int
	calls int
}

func (e *lexiconEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	e.calls++
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v := make([]float32, e.dim)
		for _, w := range strings.Fields(t) {
			if c, ok := e.lex[w]; ok {
				v[c] += 1
			}
			v[e.dim-1] += 0.1
		}
		out[i] = v
	}
	return out, nil
}

func TestEmbeddings(t *testing.T) {
	ctx := context.Background()
	pos := []string{"great", "superb", "lovely", "excellent", "wonderful", "fantastic", "brilliant", "delightful"}
	neg := []string{"awful", "terrible", "horrible", "dreadful", "lousy", "abysmal", "atrocious", "appalling"}
	emb := &lexiconEmbedder{lex: map[string]int{}, dim: 3}
	for _, w := range pos {
		emb.lex[w] = 0
	}
	for _, w := range neg {
		emb.lex[w] = 1
	}
	// Train on the first half of each word list, test on the unseen half.
	mk := func(words []string, label string, n int, seed uint64) []Example {
		rng := rand.New(rand.NewPCG(seed, 2))
		var out []Example
		for range n {
			out = append(out, Example{Text: fmt.Sprintf("the food was %s today", words[rng.IntN(len(words))]), Label: label})
		}
		return out
	}
	train := append(mk(pos[:4], "pos", 40, 1), mk(neg[:4], "neg", 40, 2)...)
	test := append(mk(pos[4:], "pos", 40, 3), mk(neg[4:], "neg", 40, 4)...)

	plain, _, err := Train(ctx, train, nil, Config{})
	if err != nil {
		t.Fatal(err)
	}
	withEmb, res, err := Train(ctx, train, nil, Config{Embedder: emb, EmbeddingWeight: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !withEmb.UsesEmbeddings() || res.Params.EmbeddingDim != 3 {
		t.Fatalf("embedding not used: %+v", res.Params)
	}
	rp, _ := Evaluate(ctx, plain, test)
	re, err := Evaluate(ctx, withEmb, test)
	if err != nil {
		t.Fatal(err)
	}
	if re.Accuracy < 0.95 || re.Accuracy <= rp.Accuracy {
		t.Errorf("accuracy with embeddings %.3f, without %.3f", re.Accuracy, rp.Accuracy)
	}

	// A decoded model needs the embedder attached again.
	m2, err := DecodeModel(encode(t, withEmb))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m2.Predict(ctx, []string{"x"}, 1); !errors.Is(err, ErrNoEmbedder) {
		t.Errorf("err = %v, want ErrNoEmbedder", err)
	}
	m2.SetEmbedder(emb)
	r2, err := Evaluate(ctx, m2, test)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Accuracy != re.Accuracy {
		t.Errorf("decoded model accuracy %.3f, want %.3f", r2.Accuracy, re.Accuracy)
	}
}

func TestBalancedWeights(t *testing.T) {
	got := balancedWeights([]int32{0, 0, 0, 1, -1, 2, 2, 2}, 4)
	// 8 rows, 4 labels: weight = 8/(4·count); label 3 has no rows.
	want := []float32{8.0 / 12, 2, 8.0 / 12, 0}
	for i := range want {
		if d := got[i] - want[i]; d > 1e-6 || d < -1e-6 {
			t.Fatalf("weights = %v, want %v", got, want)
		}
	}
	ctx := context.Background()
	// Imbalanced data: balanced costs must still train a working model.
	data := synthData(400, 4)
	var skewed []Example
	for i, e := range data {
		if e.Label != "greeting" || i%10 == 0 {
			skewed = append(skewed, e)
		}
	}
	m, res, err := Train(ctx, skewed, nil, Config{Balanced: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Params.Balanced {
		t.Error("params do not record balanced costs")
	}
	rep, _ := Evaluate(ctx, m, synthData(80, 9))
	if rep.MacroF1 < 0.9 {
		t.Errorf("macro-F1 %.3f with balanced costs", rep.MacroF1)
	}
}

func TestTrainSoftmax(t *testing.T) {
	ctx := context.Background()
	train := synthData(240, 1)
	f := FeatureConfig{}.withDefaults()
	keys, err := extractAll(ctx, &f, train, 2, &progress{})
	if err != nil {
		t.Fatal(err)
	}
	labels := labelSet(train)
	idx := map[string]int32{}
	for i, l := range labels {
		idx[l] = int32(i)
	}
	y := labelIndices(train, idx)
	voc, idf, nfeat := buildVocab(keys, 1<<20, false)
	x := buildMatrix(&f, keys, nil, voc, idf, nfeat, 0, 1)
	p := softmaxParams{Lambda: 1e-4, Epochs: 5, Seed: 7}
	w1, err := trainSoftmax(ctx, x, y, len(labels), p)
	if err != nil {
		t.Fatal(err)
	}
	w2, err := trainSoftmax(ctx, x, y, len(labels), p)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(w1, w2); diff != "" {
		t.Errorf("same seed, different weights (-first +second):\n%s", diff)
	}
	m := buildModel(labels, f, voc, idf, nfeat, 0, 1, w1)
	if acc := accuracyOf(m.scoreMatrix(x), y); acc < 0.95 {
		t.Errorf("training accuracy %.3f on an easy synthetic task", acc)
	}
}
