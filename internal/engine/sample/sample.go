// Package sample picks the next token from a model's logits: repetition,
// presence and frequency penalties, then top-k, top-p and min-p filtering,
// temperature, and a draw from a seeded generator (greedy at temperature
// 0). It also computes log-probabilities for the logprobs API.
package sample

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"slices"
)

// Params configures a Sampler. The zero value is greedy decoding.
type Params struct {
	Temperature      float32 // <= 0: greedy (argmax)
	TopK             int     // <= 0: off
	TopP             float32 // <= 0 or >= 1: off
	MinP             float32 // <= 0: off
	RepeatPenalty    float32 // <= 0 or 1: off; >1 discourages repeats
	RepeatLastN      int     // tokens of history the penalties look at; <= 0: all
	PresencePenalty  float32 // subtracted once from every token seen
	FrequencyPenalty float32 // subtracted per occurrence
	Seed             uint64
}

// Sampler draws tokens. It keeps scratch buffers and is not safe for
// concurrent use.
type Sampler struct {
	p      Params
	rng    *rand.Rand
	logits []float32
	cands  []cand
	counts map[int]int
}

type cand struct {
	id int
	l  float32 // logit
	p  float64 // probability
}

// New returns a sampler; the same Params (including Seed) and the same
// logits give the same tokens.
func New(p Params) *Sampler {
	return &Sampler{p: p, rng: rand.New(rand.NewPCG(p.Seed, p.Seed^0x5851f42d4c957f2d)), counts: map[int]int{}}
}

// Sample returns the next token id given the logits of the last position
// and the tokens so far (used by the penalties). logits is not modified.
func (s *Sampler) Sample(logits []float32, history []int) int {
	l := s.penalize(logits, history)
	if s.p.Temperature <= 0 {
		return argmax(l)
	}
	c := s.candidates(l)
	// Temperature, then a draw.
	mx := c[0].l
	for _, x := range c {
		mx = max(mx, x.l)
	}
	var sum float64
	for i := range c {
		c[i].p = math.Exp(float64(c[i].l-mx) / float64(s.p.Temperature))
		sum += c[i].p
	}
	r := s.rng.Float64() * sum
	for _, x := range c {
		r -= x.p
		if r < 0 {
			return x.id
		}
	}
	return c[len(c)-1].id
}

func argmax(l []float32) int {
	best := 0
	for i, v := range l {
		if v > l[best] {
			best = i
		}
	}
	return best
}

// penalize returns logits with the penalties applied (a copy, or logits
// itself when no penalty is set).
func (s *Sampler) penalize(logits []float32, history []int) []float32 {
	p := s.p
	rep := p.RepeatPenalty > 0 && p.RepeatPenalty != 1
	if !rep && p.PresencePenalty == 0 && p.FrequencyPenalty == 0 || len(history) == 0 {
		return logits
	}
	if p.RepeatLastN > 0 && len(history) > p.RepeatLastN {
		history = history[len(history)-p.RepeatLastN:]
	}
	clear(s.counts)
	for _, t := range history {
		if t >= 0 && t < len(logits) {
			s.counts[t]++
		}
	}
	s.logits = append(s.logits[:0], logits...)
	l := s.logits
	for t, n := range s.counts {
		if rep {
			if l[t] > 0 {
				l[t] /= p.RepeatPenalty
			} else {
				l[t] *= p.RepeatPenalty
			}
		}
		l[t] -= float32(n)*p.FrequencyPenalty + p.PresencePenalty
	}
	return l
}

// candidates applies top-k, top-p and min-p (at temperature 1, as
// llama.cpp orders them) and returns the surviving tokens.
func (s *Sampler) candidates(l []float32) []cand {
	p := s.p
	sorted := false
	if p.TopK > 0 && p.TopK < len(l) {
		s.cands = topN(s.cands[:0], l, p.TopK)
		sorted = true
	} else {
		// Tokens this far below the best have a probability under e^-30
		// relative to it at any temperature we use, so leaving them out
		// changes no probability by more than ~1e-8 and saves work on
		// large vocabularies.
		mx := l[argmax(l)]
		cut := mx - 30*max(1, p.Temperature)
		s.cands = s.cands[:0]
		for i, v := range l {
			if v >= cut {
				s.cands = append(s.cands, cand{id: i, l: v})
			}
		}
	}
	c := s.cands
	softmax(c)
	if p.MinP > 0 {
		pmax := 0.0
		for _, x := range c {
			pmax = max(pmax, x.p)
		}
		th := float64(p.MinP) * pmax
		k := 0
		for _, x := range c {
			if x.p >= th {
				c[k] = x
				k++
			}
		}
		c = c[:k]
	}
	if p.TopP > 0 && p.TopP < 1 {
		if !sorted {
			c = sortByProb(c, float64(p.TopP))
		}
		cum := 0.0
		for i, x := range c {
			cum += x.p
			if cum >= float64(p.TopP) {
				c = c[:i+1]
				break
			}
		}
	}
	return c
}

func softmax(c []cand) {
	mx := float32(math.Inf(-1))
	for _, x := range c {
		mx = max(mx, x.l)
	}
	var sum float64
	for i := range c {
		c[i].p = math.Exp(float64(c[i].l - mx))
		sum += c[i].p
	}
	for i := range c {
		c[i].p /= sum
	}
}

// sortByProb orders c by descending probability. When the top few hundred
// already hold mass top it selects just those instead of sorting all.
func sortByProb(c []cand, top float64) []cand {
	const head = 512
	if len(c) > 4*head {
		h := make(candHeap, 0, head)
		for _, x := range c {
			if len(h) < head {
				heap.Push(&h, x)
			} else if x.p > h[0].p {
				h[0] = x
				heap.Fix(&h, 0)
			}
		}
		mass := 0.0
		for _, x := range h {
			mass += x.p
		}
		if mass >= top {
			c = append(c[:0], h...)
		}
	}
	slices.SortStableFunc(c, func(a, b cand) int {
		switch {
		case a.p > b.p:
			return -1
		case a.p < b.p:
			return 1
		}
		return a.id - b.id
	})
	return c
}

// topN appends the n largest logits, in descending order, to dst.
func topN(dst []cand, l []float32, n int) []cand {
	h := candHeap(dst)
	for i, v := range l {
		if len(h) < n {
			heap.Push(&h, cand{id: i, l: v, p: float64(v)})
		} else if float64(v) > h[0].p {
			h[0] = cand{id: i, l: v, p: float64(v)}
			heap.Fix(&h, 0)
		}
	}
	out := []cand(h)
	slices.SortFunc(out, func(a, b cand) int {
		switch {
		case a.l > b.l:
			return -1
		case a.l < b.l:
			return 1
		}
		return a.id - b.id
	})
	return out
}

// candHeap is a min-heap on p.
type candHeap []cand

func (h candHeap) Len() int           { return len(h) }
func (h candHeap) Less(i, j int) bool { return h[i].p < h[j].p }
func (h candHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *candHeap) Push(x any)        { *h = append(*h, x.(cand)) }
func (h *candHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// TokenLogprob is a token and its log-probability.
type TokenLogprob struct {
	Token   int
	Logprob float32
}

// Logprobs returns the log-probability of token under the softmax of the
// raw logits, and the top most likely tokens (top <= 0: none).
func Logprobs(logits []float32, token, top int) (float32, []TokenLogprob) {
	mx := float32(math.Inf(-1))
	for _, v := range logits {
		mx = max(mx, v)
	}
	var sum float64
	for _, v := range logits {
		sum += math.Exp(float64(v - mx))
	}
	lse := float64(mx) + math.Log(sum)
	lp := float32(float64(logits[token]) - lse)
	if top <= 0 {
		return lp, nil
	}
	best := topN(nil, logits, min(top, len(logits)))
	out := make([]TokenLogprob, len(best))
	for i, c := range best {
		out[i] = TokenLogprob{Token: c.id, Logprob: float32(float64(c.l) - lse)}
	}
	return lp, out
}
