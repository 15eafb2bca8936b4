package specialist

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
)

// Embedder turns texts into fixed-size sentence embeddings. When a model is
// trained with one, the same embedder must be attached with
// [Model.SetEmbedder] before predicting.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// LabelScore is one label with its calibrated probability.
type LabelScore struct {
	Label string  `json:"label"`
	Score float64 `json:"score"`
}

// Prediction is the answer for one text: the top labels, best first, and
// whether the text looks outside every label the model knows (top
// probability under the calibrated threshold, or the top label is the
// configured out-of-scope label).
type Prediction struct {
	Labels     []LabelScore `json:"labels"`
	OutOfScope bool         `json:"out_of_scope"`
}

// ErrNoEmbedder is returned by Predict when the model needs embeddings and
// none is attached.
var ErrNoEmbedder = errors.New("specialist: model uses embeddings but no embedder is attached")

// Model is a trained specialist. It is safe for concurrent use once built.
type Model struct {
	labels []string
	feat   FeatureConfig
	voc    *vocab
	idf    []float32 // per feature
	nfeat  int
	// Weights, feature-major: w[f*nclass+c] = q[f*nclass+c] * qscale[f].
	q      []int8
	qscale []float32
	bias   []float32
	// Embedding block: dense float32 [embDim][nclass].
	embDim    int
	embWeight float32
	embW      []float32
	// Calibration: p = softmax(temperature * score).
	temperature float32
	threshold   float32 // out of scope when top probability < threshold
	oosLabel    int     // index of the out-of-scope label, -1 when none

	embedder Embedder
	pool     sync.Pool
}

// Labels returns the label names, sorted.
func (m *Model) Labels() []string { return slices.Clone(m.labels) }

// Threshold returns the out-of-scope probability threshold.
func (m *Model) Threshold() float64 { return float64(m.threshold) }

// UsesEmbeddings reports whether the model needs an embedder.
func (m *Model) UsesEmbeddings() bool { return m.embDim > 0 }

// SetEmbedder attaches the embedder the model was trained with. Call it
// before the model is shared between goroutines.
func (m *Model) SetEmbedder(e Embedder) { m.embedder = e }

// NumFeatures returns the number of sparse features kept in the model.
func (m *Model) NumFeatures() int { return m.nfeat }

func (m *Model) getScratch() *scratch {
	if s, ok := m.pool.Get().(*scratch); ok {
		return s
	}
	return &scratch{}
}

// scores computes the raw class scores of one text into s.scores.
func (m *Model) scores(s *scratch, text string, emb []float32) []float32 {
	nc := len(m.labels)
	if cap(s.scores) < nc {
		s.scores = make([]float32, nc)
	}
	sc := s.scores[:nc]
	keys := m.feat.extract(s, text)
	m.feat.vectorize(&s.vec, keys, m.voc, m.idf)
	m.scoreVec(sc, s.vec.idx, s.vec.val, emb)
	return sc
}

// scoreVec computes raw class scores of one vectorised text into sc.
func (m *Model) scoreVec(sc []float32, idx []int32, val []float32, emb []float32) {
	nc := len(m.labels)
	copy(sc, m.bias)
	for k, f := range idx {
		a := val[k] * m.qscale[f]
		row := m.q[int(f)*nc : int(f)*nc+nc]
		for c, q := range row {
			sc[c] += a * float32(q)
		}
	}
	if m.embDim > 0 && emb != nil {
		var norm float64
		for _, v := range emb {
			norm += float64(v) * float64(v)
		}
		if norm > 0 {
			scale := m.embWeight / float32(math.Sqrt(norm))
			for j, v := range emb[:min(len(emb), m.embDim)] {
				a := v * scale
				row := m.embW[j*nc : j*nc+nc]
				for c, w := range row {
					sc[c] += a * w
				}
			}
		}
	}
}

// softmaxInto writes softmax(t*scores) to p.
func softmaxInto(p []float64, scores []float32, t float32) {
	mx := float32(math.Inf(-1))
	for _, s := range scores {
		mx = max(mx, s)
	}
	var sum float64
	for c, s := range scores {
		e := math.Exp(float64(t * (s - mx)))
		p[c] = e
		sum += e
	}
	for c := range p {
		p[c] /= sum
	}
}

// Predict classifies texts and returns, for each, the topK labels (all
// labels when topK ≤ 0 or larger than the label count).
func (m *Model) Predict(ctx context.Context, texts []string, topK int) ([]Prediction, error) {
	var embs [][]float32
	if m.embDim > 0 {
		if m.embedder == nil {
			return nil, ErrNoEmbedder
		}
		var err error
		if embs, err = m.embedder.Embed(ctx, texts); err != nil {
			return nil, fmt.Errorf("embedding: %w", err)
		}
		if len(embs) != len(texts) {
			return nil, fmt.Errorf("embedding: got %d vectors for %d texts", len(embs), len(texts))
		}
	}
	nc := len(m.labels)
	if topK <= 0 || topK > nc {
		topK = nc
	}
	s := m.getScratch()
	defer m.pool.Put(s)
	out := make([]Prediction, len(texts))
	probs := make([]float64, nc)
	for i, t := range texts {
		var emb []float32
		if embs != nil {
			emb = embs[i]
		}
		sc := m.scores(s, t, emb)
		softmaxInto(probs, sc, m.temperature)
		out[i] = m.decide(probs, topK)
	}
	return out, nil
}

// decide turns probabilities into a Prediction.
func (m *Model) decide(probs []float64, topK int) Prediction {
	ls := make([]LabelScore, 0, topK)
	// Partial selection: topK is small in practice.
	for len(ls) < topK {
		best := -1
		for c, p := range probs {
			if p < 0 {
				continue
			}
			if best < 0 || p > probs[best] {
				best = c
			}
		}
		ls = append(ls, LabelScore{Label: m.labels[best], Score: probs[best]})
		probs[best] = -1 - probs[best] // mark taken, keep recoverable
	}
	for c, p := range probs {
		if p < 0 {
			probs[c] = -1 - p
		}
	}
	top := ls[0]
	oos := top.Score < float64(m.threshold) || (m.oosLabel >= 0 && top.Label == m.labels[m.oosLabel])
	return Prediction{Labels: ls, OutOfScope: oos}
}

// argmaxBatch predicts the top label index and its probability for each
// row of precomputed vectors (used by training and calibration).
func topOf(probs []float64) (int, float64) {
	best := 0
	for c, p := range probs {
		if p > probs[best] {
			best = c
		}
	}
	return best, probs[best]
}

// buildModel converts per-class float weights ([class][nfeat+embDim+1])
// into the compact feature-major int8 form.
func buildModel(labels []string, feat FeatureConfig, voc *vocab, idf []float32, nfeat, embDim int, embWeight float32, w [][]float32) *Model {
	nc := len(labels)
	m := &Model{
		labels: labels, feat: feat, voc: voc, idf: idf, nfeat: nfeat,
		q: make([]int8, nfeat*nc), qscale: make([]float32, nfeat), bias: make([]float32, nc),
		embDim: embDim, embWeight: embWeight, embW: make([]float32, embDim*nc),
		temperature: 1, oosLabel: -1,
	}
	for f := range nfeat {
		var mx float32
		for c := range nc {
			mx = max(mx, abs32(w[c][f]))
		}
		if mx == 0 {
			continue
		}
		scale := mx / 127
		m.qscale[f] = scale
		row := m.q[f*nc : f*nc+nc]
		for c := range nc {
			row[c] = int8(math.Round(float64(w[c][f] / scale)))
		}
	}
	for j := range embDim {
		for c := range nc {
			m.embW[j*nc+c] = w[c][nfeat+j]
		}
	}
	for c := range nc {
		m.bias[c] = w[c][nfeat+embDim]
	}
	return m
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}
