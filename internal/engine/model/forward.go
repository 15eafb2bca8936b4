package model

import (
	"errors"
	"fmt"
	"math"

	"switchyard/internal/engine/tensor"
)

// ErrCacheFull is returned when a forward pass would run past the cache's
// capacity.
var ErrCacheFull = errors.New("model: context full")

// maxBatch is the number of tokens processed together in one prefill step.
const maxBatch = 256

// Cache is the key/value cache and scratch space of one sequence. It is not
// safe for concurrent use; each concurrent sequence needs its own.
type Cache struct {
	k, v [][]float32 // per layer: position × KVHeads·HeadDim
	n    int
	max  int

	// scratch, sized for the largest batch seen
	x, xn, q, kk, vv, att, o, gate, up []float32
	cos, sin                           []float32
}

// NewCache returns a cache for up to maxTokens positions. Memory is
// reserved lazily as positions are filled.
func (m *Model) NewCache(maxTokens int) *Cache {
	c := &Cache{max: maxTokens, k: make([][]float32, m.Layers), v: make([][]float32, m.Layers)}
	return c
}

// Len returns the number of positions filled.
func (c *Cache) Len() int { return c.n }

// Cap returns the number of positions the cache can hold.
func (c *Cache) Cap() int { return c.max }

// Truncate forgets every position from n on, so a sequence sharing the
// first n tokens can reuse them.
func (c *Cache) Truncate(n int) {
	if n < c.n {
		c.n = max(n, 0)
	}
}

// Bytes returns the memory the cache holds for keys and values.
func (c *Cache) Bytes() int64 {
	var b int64
	for i := range c.k {
		b += int64(cap(c.k[i])+cap(c.v[i])) * 4
	}
	return b
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

func (c *Cache) reserve(m *Model, n int) {
	kvd := m.KVHeads * m.HeadDim
	need := (c.n + n) * kvd
	for l := range c.k {
		if cap(c.k[l]) < need {
			// Grow geometrically but never past the cache capacity.
			nc := min(max(need, 2*cap(c.k[l]), 64*kvd), c.max*kvd)
			k := make([]float32, need, nc)
			copy(k, c.k[l][:c.n*kvd])
			v := make([]float32, need, nc)
			copy(v, c.v[l][:c.n*kvd])
			c.k[l], c.v[l] = k, v
		}
		c.k[l] = c.k[l][:need]
		c.v[l] = c.v[l][:need]
	}
	qd := m.Heads * m.HeadDim
	c.x = grow(c.x, n*m.Embd)
	c.xn = grow(c.xn, n*max(m.Embd, qd))
	c.q = grow(c.q, n*qd)
	c.kk = grow(c.kk, n*kvd)
	c.vv = grow(c.vv, n*kvd)
	c.att = grow(c.att, n*qd)
	c.o = grow(c.o, n*m.Embd)
	c.gate = grow(c.gate, n*m.FF)
	c.up = grow(c.up, n*m.FF)
	c.cos = grow(c.cos, n*m.RopeDim/2)
	c.sin = grow(c.sin, n*m.RopeDim/2)
}

// Forward runs tokens through the model at the cache's next positions and
// appends their keys and values. If logits is non-nil it receives the last
// token's logits (len Vocab).
func (m *Model) Forward(c *Cache, tokens []int, logits []float32) error {
	if len(tokens) == 0 {
		return errors.New("model: no tokens")
	}
	if logits != nil && len(logits) < m.Vocab {
		return fmt.Errorf("model: logits buffer of %d for vocabulary %d", len(logits), m.Vocab)
	}
	for start := 0; start < len(tokens); start += maxBatch {
		batch := tokens[start:min(start+maxBatch, len(tokens))]
		if err := m.forward(c, batch); err != nil {
			return err
		}
	}
	if logits != nil {
		last := c.x[(lastBatchLen(len(tokens))-1)*m.Embd:][:m.Embd]
		xn := c.xn[:m.Embd]
		tensor.RMSNorm(xn, last, m.OutNorm, m.RMSEps)
		m.pool.MatVec(logits[:m.Vocab], xn, m.Output.Data, m.Output.Type, m.Output.Rows, m.Output.Cols)
	}
	return nil
}

func lastBatchLen(n int) int {
	if r := n % maxBatch; r != 0 {
		return r
	}
	return maxBatch
}

// Hidden runs tokens like Forward and returns the final normalised hidden
// state of each token (len(tokens)×Embd, row-major).
func (m *Model) Hidden(c *Cache, tokens []int) ([]float32, error) {
	if len(tokens) == 0 {
		return nil, errors.New("model: no tokens")
	}
	out := make([]float32, 0, len(tokens)*m.Embd)
	for start := 0; start < len(tokens); start += maxBatch {
		batch := tokens[start:min(start+maxBatch, len(tokens))]
		if err := m.forward(c, batch); err != nil {
			return nil, err
		}
		for i := range batch {
			row := make([]float32, m.Embd)
			tensor.RMSNorm(row, c.x[i*m.Embd:(i+1)*m.Embd], m.OutNorm, m.RMSEps)
			out = append(out, row...)
		}
	}
	return out, nil
}

// forward processes one batch; on return c.x holds the batch's final
// (un-normalised) hidden states.
func (m *Model) forward(c *Cache, tokens []int) error {
	n := len(tokens)
	if c.n+n > c.max {
		return fmt.Errorf("%w: %d positions used, %d more do not fit in %d", ErrCacheFull, c.n, n, c.max)
	}
	for _, t := range tokens {
		if t < 0 || t >= m.Vocab {
			return fmt.Errorf("model: token id %d out of range [0, %d)", t, m.Vocab)
		}
	}
	c.reserve(m, n)
	E, hd := m.Embd, m.HeadDim
	qd, kvd := m.Heads*hd, m.KVHeads*hd
	pos0 := c.n
	x := c.x[:n*E]
	for i, t := range tokens {
		if err := m.TokEmbd.Row(t, x[i*E:(i+1)*E]); err != nil {
			return fmt.Errorf("model: embedding: %w", err)
		}
	}
	half := m.RopeDim / 2
	for i := range n {
		for j := range half {
			th := m.ropeTheta(pos0+i, j)
			c.cos[i*half+j] = float32(math.Cos(th))
			c.sin[i*half+j] = float32(math.Sin(th))
		}
	}
	xn, q, att, o := c.xn[:n*E], c.q[:n*qd], c.att[:n*qd], c.o[:n*E]
	kk, vv := c.kk[:n*kvd], c.vv[:n*kvd]
	gate, up := c.gate[:n*m.FF], c.up[:n*m.FF]
	p := m.pool
	for li := range m.Blocks {
		L := &m.Blocks[li]
		m.norm(xn, x, L.AttnNorm, n)
		p.MatMul(q, xn, n, L.Wq.Data, L.Wq.Type, qd, E)
		p.MatMul(kk, xn, n, L.Wk.Data, L.Wk.Type, kvd, E)
		p.MatMul(vv, xn, n, L.Wv.Data, L.Wv.Type, kvd, E)
		for i := range n {
			if L.Bq != nil {
				tensor.Add(q[i*qd:(i+1)*qd], q[i*qd:(i+1)*qd], L.Bq)
				tensor.Add(kk[i*kvd:(i+1)*kvd], kk[i*kvd:(i+1)*kvd], L.Bk)
				tensor.Add(vv[i*kvd:(i+1)*kvd], vv[i*kvd:(i+1)*kvd], L.Bv)
			}
			cs, sn := c.cos[i*half:(i+1)*half], c.sin[i*half:(i+1)*half]
			for h := range m.Heads {
				v := q[i*qd+h*hd : i*qd+(h+1)*hd]
				if L.QNorm != nil {
					tensor.RMSNorm(v, v, L.QNorm, m.RMSEps)
				}
				m.rope(v, cs, sn)
			}
			for h := range m.KVHeads {
				v := kk[i*kvd+h*hd : i*kvd+(h+1)*hd]
				if L.KNorm != nil {
					tensor.RMSNorm(v, v, L.KNorm, m.RMSEps)
				}
				m.rope(v, cs, sn)
			}
		}
		copy(c.k[li][pos0*kvd:], kk)
		copy(c.v[li][pos0*kvd:], vv)
		m.attention(c.k[li], c.v[li], q, att, pos0, n)
		p.MatMul(o, att, n, L.Wo.Data, L.Wo.Type, E, qd)
		tensor.Add(x, x, o)

		m.norm(xn, x, L.FFNNorm, n)
		p.MatMul(gate, xn, n, L.Gate.Data, L.Gate.Type, m.FF, E)
		p.MatMul(up, xn, n, L.Up.Data, L.Up.Type, m.FF, E)
		// Element-wise, so split over elements (for one token too).
		p.For(len(gate), 1<<12, func(lo, hi int) { tensor.SwiGLU(gate[lo:hi], gate[lo:hi], up[lo:hi]) })
		p.MatMul(o, gate, n, L.Down.Data, L.Down.Type, E, m.FF)
		tensor.Add(x, x, o)
	}
	c.n += n
	return nil
}

// norm writes the RMS-normalised rows of x (n rows of Embd) to xn, rows
// split over the pool.
func (m *Model) norm(xn, x, w []float32, n int) {
	E := m.Embd
	m.pool.For(n, 8, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			tensor.RMSNorm(xn[i*E:(i+1)*E], x[i*E:(i+1)*E], w, m.RMSEps)
		}
	})
}

// rope rotates the first RopeDim dimensions of one head vector.
func (m *Model) rope(v, cs, sn []float32) {
	half := len(cs)
	if m.RopeNeoX {
		for j := range half {
			x0, x1 := v[j], v[j+half]
			v[j] = x0*cs[j] - x1*sn[j]
			v[j+half] = x0*sn[j] + x1*cs[j]
		}
		return
	}
	for j := range half {
		x0, x1 := v[2*j], v[2*j+1]
		v[2*j] = x0*cs[j] - x1*sn[j]
		v[2*j+1] = x0*sn[j] + x1*cs[j]
	}
}

// attention computes causal multi-head attention of the n queries in q
// (at positions pos0…) over the cached keys and values, into out.
func (m *Model) attention(kc, vc, q, out []float32, pos0, n int) {
	hd := m.HeadDim
	qd, kvd := m.Heads*hd, m.KVHeads*hd
	group := m.Heads / m.KVHeads
	scale := float32(1 / math.Sqrt(float64(hd)))
	grain := max(1, 4096/(pos0+n)/hd)
	m.pool.For(n*m.Heads, grain, func(lo, hi int) {
		scores := make([]float32, pos0+n)
		for w := lo; w < hi; w++ {
			i, h := w/m.Heads, w%m.Heads
			kvh := h / group
			qv := q[i*qd+h*hd : i*qd+(h+1)*hd]
			np := pos0 + i + 1
			s := scores[:np]
			for j := range np {
				s[j] = tensor.Dot(qv, kc[j*kvd+kvh*hd:j*kvd+(kvh+1)*hd]) * scale
			}
			tensor.Softmax(s)
			dst := out[i*qd+h*hd : i*qd+(h+1)*hd]
			clear(dst)
			for j := range np {
				tensor.AXPY(dst, s[j], vc[j*kvd+kvh*hd:j*kvd+(kvh+1)*hd])
			}
		}
	})
}
