package specialist

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"
)

// Config controls training. The zero value trains with sensible defaults.
type Config struct {
	// Features selects the n-gram features (defaults in FeatureConfig).
	Features FeatureConfig `json:"features"`
	// CharWeights and C are the hyper-parameter grid searched on the
	// validation split: the weight of the character block and the SVM
	// cost (inverse regularisation). Defaults {1} and {0.1, 0.3, 1}.
	CharWeights []float32 `json:"char_weights,omitempty"`
	C           []float64 `json:"c,omitempty"`
	// ValFraction is the share of each label carved out for validation when
	// no validation set is given (default 0.15).
	ValFraction float64 `json:"val_fraction,omitempty"`
	// Seed makes the split and the solver's visiting order reproducible.
	Seed uint64 `json:"seed"`
	// NoRefit keeps the model trained on the training part only instead of
	// refitting the chosen configuration on train+validation.
	NoRefit bool `json:"no_refit,omitempty"`
	// MaxIter bounds solver passes per class (default 200); Tol is its
	// stopping tolerance on the projected gradient (default 0.1).
	MaxIter int     `json:"max_iter,omitempty"`
	Tol     float64 `json:"tol,omitempty"`
	// OOSLabel names the label meaning "none of the others" (e.g. CLINC150's
	// "oos"). When validation has such rows the out-of-scope threshold is
	// chosen to maximise validation accuracy; otherwise it rejects
	// RejectRate of the in-scope validation rows (default 0.02).
	OOSLabel   string  `json:"oos_label,omitempty"`
	RejectRate float64 `json:"reject_rate,omitempty"`
	// Embedder, when set, adds sentence embeddings to the features, scaled
	// by EmbeddingWeight (default 1) after L2 normalisation.
	Embedder        Embedder `json:"-"`
	EmbeddingWeight float32  `json:"embedding_weight,omitempty"`
	// MaxWeights caps features×(labels+10), which is about the model
	// file's size in bytes (each kept feature costs one int8 weight per
	// label plus 10 bytes for its key, IDF and scale), so the file stays
	// small (default 16 Mi ≈ 16 MiB); the most frequent features are kept.
	MaxWeights int `json:"max_weights,omitempty"`
	// Balanced weights each row's cost by n/(labels·n_label), so rare and
	// frequent labels count alike (for a uniform prior at prediction time).
	Balanced bool `json:"balanced,omitempty"`
	// LogRegMix is the grid of weights β, searched on validation, with
	// which a multinomial logistic regression on the same features is added
	// to the chosen SVM (scores = svm + β·logreg: a product of the two
	// experts once calibrated); 0 keeps the SVM alone, which also wins ties.
	// Default {0, 0.3, 1, 3}; {0} turns it off. LogRegLambda is its L2
	// penalty (default 1e-4) and LogRegEpochs its passes (default 10).
	LogRegMix    []float32 `json:"logreg_mix,omitempty"`
	LogRegLambda float64   `json:"logreg_lambda,omitempty"`
	LogRegEpochs int       `json:"logreg_epochs,omitempty"`
	// Workers bounds parallelism (default GOMAXPROCS). Results do not
	// depend on it.
	Workers int `json:"-"`
	// Progress, when set, is called (serially) as training advances.
	Progress func(Progress) `json:"-"`
}

// Progress reports training progress: Done of Total work units so far in
// the current Stage ("features", "search", "refit").
type Progress struct {
	Stage string `json:"stage"`
	Done  int    `json:"done"`
	Total int    `json:"total"`
}

// Params are the hyper-parameters chosen on validation.
type Params struct {
	Features        FeatureConfig `json:"features"`
	C               float64       `json:"c"`
	EmbeddingWeight float32       `json:"embedding_weight,omitempty"`
	EmbeddingDim    int           `json:"embedding_dim,omitempty"`
	Temperature     float32       `json:"temperature"`
	Threshold       float32       `json:"threshold"`
	OOSLabel        string        `json:"oos_label,omitempty"`
	Seed            uint64        `json:"seed"`
	Refit           bool          `json:"refit"`
	Balanced        bool          `json:"balanced,omitempty"`
	LogRegMix       float32       `json:"logreg_mix,omitempty"`
}

// Candidate is one grid point and its validation accuracy.
type Candidate struct {
	CharWeight float32 `json:"char_weight"`
	C          float64 `json:"c"`
	LogRegMix  float32 `json:"logreg_mix,omitempty"`
	Accuracy   float64 `json:"val_accuracy"`
}

// Result describes a training run.
type Result struct {
	Params     Params      `json:"params"`
	Candidates []Candidate `json:"candidates"`
	// Validation is the chosen candidate's report on the validation split
	// (computed before any refit, so it is a held-out figure).
	Validation *Report        `json:"validation"`
	TrainRows  int            `json:"train_rows"`
	ValRows    int            `json:"val_rows"`
	Features   int            `json:"features"`
	Duration   time.Duration  `json:"duration_ns"`
	Val        []Example      `json:"-"`
	Timings    map[string]int `json:"timings_ms,omitempty"`
}

func (c Config) withDefaults() Config {
	c.Features = c.Features.withDefaults()
	if len(c.CharWeights) == 0 {
		c.CharWeights = []float32{1}
	}
	if len(c.C) == 0 {
		c.C = []float64{0.1, 0.3, 1}
	}
	c.C = slices.Clone(c.C)
	slices.Sort(c.C) // ascending, for warm starts
	if c.ValFraction <= 0 || c.ValFraction >= 1 {
		c.ValFraction = 0.15
	}
	if c.RejectRate <= 0 {
		c.RejectRate = 0.02
	}
	if c.EmbeddingWeight == 0 {
		c.EmbeddingWeight = 1
	}
	if c.MaxWeights <= 0 {
		c.MaxWeights = 16 << 20
	}
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.MaxIter <= 0 {
		c.MaxIter = 200
	}
	if c.Tol <= 0 {
		c.Tol = 0.1
	}
	if len(c.LogRegMix) == 0 {
		c.LogRegMix = []float32{0, 0.3, 1, 3}
	}
	if c.LogRegLambda <= 0 {
		c.LogRegLambda = 1e-4
	}
	if c.LogRegEpochs <= 0 {
		c.LogRegEpochs = 10
	}
	return c
}

// progress serialises progress callbacks.
type progress struct {
	mu    sync.Mutex
	fn    func(Progress)
	stage string
	done  int
	total int
}

func (p *progress) start(stage string, total int) {
	if p.fn == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stage, p.done, p.total = stage, 0, total
	p.fn(Progress{Stage: stage, Total: total})
}

func (p *progress) step() {
	if p.fn == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	p.fn(Progress{Stage: p.stage, Done: p.done, Total: p.total})
}

// Train fits a specialist on train, choosing hyper-parameters on val (or
// on a stratified split of train when val is empty), then by default
// refits the chosen configuration on train+val.
func Train(ctx context.Context, train, val []Example, cfg Config) (*Model, *Result, error) {
	start := time.Now()
	cfg = cfg.withDefaults()
	if len(train) == 0 {
		return nil, nil, errors.New("no training rows")
	}
	if len(val) == 0 {
		train, val = StratifiedSplit(train, cfg.ValFraction, cfg.Seed)
	}
	labels := labelSet(train)
	if len(labels) < 2 {
		return nil, nil, fmt.Errorf("training data has %d label(s), want at least 2", len(labels))
	}
	pr := &progress{fn: cfg.Progress}
	timings := map[string]int{}
	lap := time.Now()
	mark := func(name string) {
		timings[name] += int(time.Since(lap).Milliseconds())
		lap = time.Now()
	}

	pr.start("features", len(train)+len(val))
	feat := cfg.Features
	trKeys, err := extractAll(ctx, &feat, train, cfg.Workers, pr)
	if err != nil {
		return nil, nil, err
	}
	valKeys, err := extractAll(ctx, &feat, val, cfg.Workers, pr)
	if err != nil {
		return nil, nil, err
	}
	var trEmb, valEmb [][]float32
	embDim := 0
	if cfg.Embedder != nil {
		if trEmb, err = embedAll(ctx, cfg.Embedder, train); err != nil {
			return nil, nil, err
		}
		if valEmb, err = embedAll(ctx, cfg.Embedder, val); err != nil {
			return nil, nil, err
		}
		embDim = len(trEmb[0])
	}
	mark("features")

	labelIdx := map[string]int32{}
	for i, l := range labels {
		labelIdx[l] = int32(i)
	}
	yTrain := labelIndices(train, labelIdx)
	yVal := labelIndices(val, labelIdx)

	maxFeat := cfg.MaxWeights / (len(labels) + featureOverhead)
	var weight []float32
	if cfg.Balanced {
		weight = balancedWeights(yTrain, len(labels))
	}
	voc, idf, nfeat := buildVocab(trKeys, maxFeat, feat.NoIDF)
	mark("vocab")

	// Grid search on validation.
	type fitted struct {
		m         *Model
		scores    [][]float32
		acc       float64
		w         [][]float32
		xtr, xval *csr
	}
	var best *fitted
	var bestCand Candidate
	var cands []Candidate
	pr.start("search", len(cfg.CharWeights)*len(cfg.C)*len(labels))
	for _, cw := range cfg.CharWeights {
		f := feat
		f.CharWeight = cw
		xtr := buildMatrix(&f, trKeys, trEmb, voc, idf, nfeat, embDim, cfg.EmbeddingWeight)
		xval := buildMatrix(&f, valKeys, valEmb, voc, idf, nfeat, embDim, cfg.EmbeddingWeight)
		// Ascending C, each run warm-started from the previous one.
		var alphas [][]float32
		prevC := 0.0
		for _, c := range cfg.C {
			if c < prevC {
				alphas = nil
			}
			prevC = c
			w, a, err := trainOVR(ctx, xtr, yTrain, len(labels), svmParams{C: c, Weight: weight, MaxIter: cfg.MaxIter, Eps: cfg.Tol, Seed: cfg.Seed, Workers: cfg.Workers}, alphas, pr.step)
			alphas = a
			if err != nil {
				return nil, nil, err
			}
			m := buildModel(labels, f, voc, idf, nfeat, embDim, cfg.EmbeddingWeight, w)
			sc := m.scoreMatrix(xval)
			acc := accuracyOf(sc, yVal)
			cands = append(cands, Candidate{CharWeight: cw, C: c, Accuracy: acc})
			if best == nil || acc > best.acc {
				best = &fitted{m: m, scores: sc, acc: acc, w: w, xtr: xtr, xval: xval}
				bestCand = cands[len(cands)-1]
			}
		}
	}
	mark("search")
	var mix float32
	if slices.ContainsFunc(cfg.LogRegMix, func(b float32) bool { return b > 0 }) {
		lr, err := trainSoftmax(ctx, best.xtr, yTrain, len(labels), softmaxParams{Lambda: cfg.LogRegLambda, Epochs: cfg.LogRegEpochs, Seed: cfg.Seed})
		if err != nil {
			return nil, nil, err
		}
		base := *best
		for _, b := range cfg.LogRegMix {
			if b <= 0 {
				continue
			}
			m := buildModel(labels, best.m.feat, voc, idf, nfeat, embDim, cfg.EmbeddingWeight, mixWeights(base.w, lr, b))
			sc := m.scoreMatrix(base.xval)
			acc := accuracyOf(sc, yVal)
			cands = append(cands, Candidate{CharWeight: bestCand.CharWeight, C: bestCand.C, LogRegMix: b, Accuracy: acc})
			if acc > best.acc {
				best = &fitted{m: m, scores: sc, acc: acc}
				mix = b
			}
		}
		mark("logreg")
	}

	m := best.m
	m.temperature = fitTemperature(best.scores, yVal)
	oos := -1
	if cfg.OOSLabel != "" {
		if i, ok := labelIdx[cfg.OOSLabel]; ok {
			oos = int(i)
		}
	}
	m.oosLabel = oos
	m.threshold = chooseThreshold(best.scores, yVal, m.temperature, oos, hasLabel(val, cfg.OOSLabel), val, cfg)
	valReport := evaluateScores(m, best.scores, val)
	mark("calibrate")

	res := &Result{
		Params: Params{
			Features: m.feat, C: bestCand.C, Temperature: m.temperature, Threshold: m.threshold,
			OOSLabel: cfg.OOSLabel, Seed: cfg.Seed, Refit: !cfg.NoRefit, Balanced: cfg.Balanced,
			LogRegMix: mix,
		},
		Candidates: cands,
		Validation: valReport,
		TrainRows:  len(train),
		ValRows:    len(val),
		Features:   nfeat,
		Val:        val,
		Timings:    timings,
	}
	if embDim > 0 {
		res.Params.EmbeddingDim = embDim
		res.Params.EmbeddingWeight = cfg.EmbeddingWeight
	}

	if !cfg.NoRefit {
		// Rows whose label the model does not know (e.g. "oos" only in
		// validation) stay out of the refit.
		all := slices.Clone(train)
		allKeys := slices.Clone(trKeys)
		var allEmb [][]float32
		if embDim > 0 {
			allEmb = slices.Clone(trEmb)
		}
		for i, e := range val {
			if _, ok := labelIdx[e.Label]; ok {
				all = append(all, e)
				allKeys = append(allKeys, valKeys[i])
				if embDim > 0 {
					allEmb = append(allEmb, valEmb[i])
				}
			}
		}
		pr.start("refit", len(labels))
		voc2, idf2, nfeat2 := buildVocab(allKeys, maxFeat, feat.NoIDF)
		x := buildMatrix(&m.feat, allKeys, allEmb, voc2, idf2, nfeat2, embDim, cfg.EmbeddingWeight)
		yAll := labelIndices(all, labelIdx)
		if cfg.Balanced {
			weight = balancedWeights(yAll, len(labels))
		}
		w, _, err := trainOVR(ctx, x, yAll, len(labels), svmParams{C: bestCand.C, Weight: weight, MaxIter: cfg.MaxIter, Eps: cfg.Tol, Seed: cfg.Seed, Workers: cfg.Workers}, nil, pr.step)
		if err != nil {
			return nil, nil, err
		}
		if mix > 0 {
			lr, err := trainSoftmax(ctx, x, yAll, len(labels), softmaxParams{Lambda: cfg.LogRegLambda, Epochs: cfg.LogRegEpochs, Seed: cfg.Seed})
			if err != nil {
				return nil, nil, err
			}
			w = mixWeights(w, lr, mix)
		}
		m2 := buildModel(labels, m.feat, voc2, idf2, nfeat2, embDim, cfg.EmbeddingWeight, w)
		m2.temperature, m2.threshold, m2.oosLabel = m.temperature, m.threshold, m.oosLabel
		m = m2
		res.Features = nfeat2
		mark("refit")
	}
	m.embedder = cfg.Embedder
	res.Duration = time.Since(start)
	return m, res, nil
}

// featureOverhead is the bytes a kept feature costs in the model file
// besides its weights: a 4-byte key, a 2-byte IDF and a 4-byte scale.
const featureOverhead = 10

func balancedWeights(y []int32, nclass int) []float32 {
	count := make([]int, nclass)
	for _, c := range y {
		if c >= 0 {
			count[c]++
		}
	}
	w := make([]float32, nclass)
	for c, n := range count {
		if n > 0 {
			w[c] = float32(float64(len(y)) / float64(nclass*n))
		}
	}
	return w
}

func labelSet(ex []Example) []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range ex {
		if !seen[e.Label] {
			seen[e.Label] = true
			out = append(out, e.Label)
		}
	}
	slices.Sort(out)
	return out
}

func hasLabel(ex []Example, l string) bool {
	if l == "" {
		return false
	}
	for _, e := range ex {
		if e.Label == l {
			return true
		}
	}
	return false
}

// labelIndices maps labels to indices; unknown labels become -1.
func labelIndices(ex []Example, idx map[string]int32) []int32 {
	y := make([]int32, len(ex))
	for i, e := range ex {
		if v, ok := idx[e.Label]; ok {
			y[i] = v
		} else {
			y[i] = -1
		}
	}
	return y
}

// parallelFor runs fn(i) for i in [0,n) on workers goroutines, each with
// its own scratch.
func parallelFor(ctx context.Context, n, workers int, fn func(s *scratch, i int)) error {
	var wg sync.WaitGroup
	chunk := 256
	var mu sync.Mutex
	next := 0
	for range max(1, min(workers, (n+chunk-1)/chunk)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := &scratch{}
			for {
				if ctx.Err() != nil {
					return
				}
				mu.Lock()
				lo := next
				next += chunk
				mu.Unlock()
				if lo >= n {
					return
				}
				for i := lo; i < min(lo+chunk, n); i++ {
					fn(s, i)
				}
			}
		}()
	}
	wg.Wait()
	return ctx.Err()
}

// extractAll returns the sorted feature keys of every example.
func extractAll(ctx context.Context, f *FeatureConfig, ex []Example, workers int, pr *progress) ([][]uint32, error) {
	out := make([][]uint32, len(ex))
	err := parallelFor(ctx, len(ex), workers, func(s *scratch, i int) {
		k := slices.Clone(f.extract(s, ex[i].Text))
		slices.Sort(k)
		out[i] = k
	})
	if err != nil {
		return nil, err
	}
	if pr.fn != nil {
		pr.mu.Lock()
		pr.done += len(ex)
		pr.fn(Progress{Stage: pr.stage, Done: pr.done, Total: pr.total})
		pr.mu.Unlock()
	}
	return out, nil
}

func embedAll(ctx context.Context, e Embedder, ex []Example) ([][]float32, error) {
	const batch = 64
	out := make([][]float32, 0, len(ex))
	texts := make([]string, 0, batch)
	for i := 0; i < len(ex); i += batch {
		texts = texts[:0]
		for _, x := range ex[i:min(i+batch, len(ex))] {
			texts = append(texts, x.Text)
		}
		v, err := e.Embed(ctx, texts)
		if err != nil {
			return nil, fmt.Errorf("embedding: %w", err)
		}
		if len(v) != len(texts) {
			return nil, fmt.Errorf("embedding: got %d vectors for %d texts", len(v), len(texts))
		}
		out = append(out, v...)
	}
	if len(out) > 0 {
		d := len(out[0])
		if d == 0 {
			return nil, errors.New("embedding: zero-length vectors")
		}
		for _, v := range out {
			if len(v) != d {
				return nil, fmt.Errorf("embedding: vectors of length %d and %d", d, len(v))
			}
		}
	}
	return out, nil
}

// buildVocab keeps the maxFeat most document-frequent keys (ties broken by
// key) and computes smoothed IDF weights.
func buildVocab(keys [][]uint32, maxFeat int, noIDF bool) (*vocab, []float32, int) {
	df := map[uint32]int32{}
	for _, ks := range keys {
		for i, k := range ks {
			if i > 0 && ks[i-1] == k {
				continue
			}
			df[k]++
		}
	}
	type kv struct {
		k  uint32
		df int32
	}
	all := make([]kv, 0, len(df))
	for k, d := range df {
		all = append(all, kv{k, d})
	}
	slices.SortFunc(all, func(a, b kv) int {
		if c := cmp.Compare(b.df, a.df); c != 0 {
			return c
		}
		return cmp.Compare(a.k, b.k)
	})
	if len(all) > maxFeat {
		all = all[:maxFeat]
	}
	// Order features by key so the layout does not depend on map order.
	slices.SortFunc(all, func(a, b kv) int { return cmp.Compare(a.k, b.k) })
	ks := make([]uint32, len(all))
	idf := make([]float32, len(all))
	n := float64(len(keys))
	for i, e := range all {
		ks[i] = e.k
		idf[i] = 1
		if !noIDF {
			idf[i] = float32(math.Log((1+n)/(1+float64(e.df))) + 1)
		}
	}
	// Store IDF at the precision the model file keeps.
	for i, v := range idf {
		idf[i] = f16to32(f32to16(v))
	}
	return newVocab(ks), idf, len(all)
}

// buildMatrix vectorises every row, appending scaled embeddings as
// columns nfeat.. when present.
func buildMatrix(f *FeatureConfig, keys [][]uint32, emb [][]float32, voc *vocab, idf []float32, nfeat, embDim int, embWeight float32) *csr {
	m := &csr{dim: nfeat + embDim}
	var s scratch
	for i, ks := range keys {
		f.vectorize(&s.vec, slices.Clone(ks), voc, idf)
		if embDim > 0 {
			appendEmbedding(&s.vec, emb[i], nfeat, embWeight)
		}
		m.appendRow(s.vec)
	}
	return m
}

func appendEmbedding(v *sparseVec, e []float32, offset int, weight float32) {
	var norm float64
	for _, x := range e {
		norm += float64(x) * float64(x)
	}
	if norm == 0 {
		return
	}
	scale := weight / float32(math.Sqrt(norm))
	for j, x := range e {
		v.idx = append(v.idx, int32(offset+j))
		v.val = append(v.val, x*scale)
	}
}

// scoreMatrix returns raw class scores for every row of x.
func (m *Model) scoreMatrix(x *csr) [][]float32 {
	nc := len(m.labels)
	out := make([][]float32, x.rows())
	buf := make([]float32, nc*x.rows())
	for i := range out {
		sc := buf[i*nc : (i+1)*nc]
		lo, hi := x.ptr[i], x.ptr[i+1]
		idx, val := x.idx[lo:hi], x.val[lo:hi]
		// Split off the embedding columns.
		cut := len(idx)
		for cut > 0 && int(idx[cut-1]) >= m.nfeat {
			cut--
		}
		var emb []float32
		if m.embDim > 0 && cut < len(idx) {
			emb = make([]float32, m.embDim)
			for k := cut; k < len(idx); k++ {
				emb[int(idx[k])-m.nfeat] = val[k]
			}
		}
		m.scoreVecScaled(sc, idx[:cut], val[:cut], emb)
		out[i] = sc
	}
	return out
}

// scoreVecScaled is scoreVec for embeddings that are already normalised
// and weighted.
func (m *Model) scoreVecScaled(sc []float32, idx []int32, val []float32, emb []float32) {
	m.scoreVec(sc, idx, val, nil)
	nc := len(m.labels)
	for j, a := range emb {
		row := m.embW[j*nc : j*nc+nc]
		for c, w := range row {
			sc[c] += a * w
		}
	}
}

func accuracyOf(scores [][]float32, y []int32) float64 {
	if len(y) == 0 {
		return 0
	}
	ok := 0
	for i, sc := range scores {
		best := 0
		for c, s := range sc {
			if s > sc[best] {
				best = c
			}
		}
		if int32(best) == y[i] {
			ok++
		}
	}
	return float64(ok) / float64(len(y))
}

// fitTemperature picks t minimising the validation negative
// log-likelihood of softmax(t·scores) over rows with known labels.
func fitTemperature(scores [][]float32, y []int32) float32 {
	nll := func(t float64) float64 {
		var sum float64
		for i, sc := range scores {
			if y[i] < 0 {
				continue
			}
			mx := float32(math.Inf(-1))
			for _, s := range sc {
				mx = max(mx, s)
			}
			var z float64
			for _, s := range sc {
				z += math.Exp(t * float64(s-mx))
			}
			sum += math.Log(z) - t*float64(sc[y[i]]-mx)
		}
		return sum
	}
	// Golden-section search over log t in [log 0.1, log 200].
	a, b := math.Log(0.1), math.Log(200)
	g := (math.Sqrt(5) - 1) / 2
	c, d := b-g*(b-a), a+g*(b-a)
	fc, fd := nll(math.Exp(c)), nll(math.Exp(d))
	for range 40 {
		if fc < fd {
			b, d, fd = d, c, fc
			c = b - g*(b-a)
			fc = nll(math.Exp(c))
		} else {
			a, c, fc = c, d, fd
			d = a + g*(b-a)
			fd = nll(math.Exp(d))
		}
	}
	return float32(math.Exp((a + b) / 2))
}

// chooseThreshold picks the out-of-scope probability threshold. With
// out-of-scope rows in validation (label oosName, known to the model as
// class oos or unknown to it), it maximises validation accuracy where a
// rejected row counts as predicting out-of-scope; otherwise it rejects
// cfg.RejectRate of the in-scope validation rows.
func chooseThreshold(scores [][]float32, y []int32, t float32, oos int, valHasOOS bool, val []Example, cfg Config) float32 {
	nc := 0
	if len(scores) > 0 {
		nc = len(scores[0])
	}
	probs := make([]float64, nc)
	type row struct {
		top     float64
		correct bool // top label right for an in-scope row
		isOOS   bool
	}
	rows := make([]row, len(scores))
	for i, sc := range scores {
		softmaxInto(probs, sc, t)
		c, p := topOf(probs)
		isOOS := val[i].Label == cfg.OOSLabel && cfg.OOSLabel != ""
		topOOS := oos >= 0 && c == oos
		if topOOS {
			p = -1 // rejected at any threshold
		}
		rows[i] = row{top: p, correct: !isOOS && int32(c) == y[i], isOOS: isOOS}
	}
	if valHasOOS {
		slices.SortFunc(rows, func(a, b row) int { return cmp.Compare(a.top, b.top) })
		// Threshold between rows[k-1] and rows[k]: rows[:k] rejected.
		good := 0
		for _, r := range rows {
			if r.correct {
				good++
			}
		}
		forced := 0 // rows whose top label is the out-of-scope label
		for forced < len(rows) && rows[forced].top < 0 {
			if rows[forced].isOOS {
				good++
			}
			forced++
		}
		bestGood, bestK := good, forced
		for k := forced + 1; k <= len(rows); k++ {
			r := rows[k-1]
			if r.correct {
				good--
			}
			if r.isOOS {
				good++
			}
			if good > bestGood {
				bestGood, bestK = good, k
			}
		}
		switch {
		case bestK == forced:
			return 0
		case bestK == len(rows):
			return float32(rows[bestK-1].top + 1e-6)
		default:
			return float32((max(rows[bestK-1].top, 0) + rows[bestK].top) / 2)
		}
	}
	var tops []float64
	for _, r := range rows {
		if !r.isOOS && r.top >= 0 {
			tops = append(tops, r.top)
		}
	}
	if len(tops) == 0 {
		return 0
	}
	slices.Sort(tops)
	k := int(cfg.RejectRate * float64(len(tops)))
	if k <= 0 {
		return float32(tops[0] * 0.999)
	}
	return float32((tops[k-1] + tops[k]) / 2)
}
