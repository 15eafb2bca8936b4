package specialist

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
)

// csr is a row-major sparse matrix; row i is idx/val[ptr[i]:ptr[i+1]].
type csr struct {
	ptr []int
	idx []int32
	val []float32
	dim int // number of columns
}

func (m *csr) rows() int { return len(m.ptr) - 1 }

func (m *csr) appendRow(v sparseVec) {
	if len(m.ptr) == 0 {
		m.ptr = append(m.ptr, 0)
	}
	m.idx = append(m.idx, v.idx...)
	m.val = append(m.val, v.val...)
	m.ptr = append(m.ptr, len(m.idx))
}

// svmParams configures one-vs-rest L2-regularised, squared-hinge-loss
// linear SVMs solved in the dual by coordinate descent with shrinking
// (Hsieh et al., ICML 2008). A constant bias feature of value 1 is added.
type svmParams struct {
	C float64
	// Weight, when set, scales C per class of the row (class-balanced costs).
	Weight  []float32
	MaxIter int
	Eps     float64
	Seed    uint64
	Workers int
}

// trainOVR trains one binary SVM per class in parallel and returns the
// weights as [class][dim+1] (last entry: bias) and the dual variables.
// Passing the dual variables of a run with a smaller C as init warm-starts
// the solver. The result does not depend on the number of workers.
func trainOVR(ctx context.Context, x *csr, y []int32, nclass int, p svmParams, init [][]float32, done func()) ([][]float32, [][]float32, error) {
	n := x.rows()
	sq := make([]float32, n)
	for i := range n {
		var s float32
		for _, v := range x.val[x.ptr[i]:x.ptr[i+1]] {
			s += v * v
		}
		sq[i] = s + 1 // bias feature
	}
	workers := p.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, nclass)
	out := make([][]float32, nclass)
	alphas := make([][]float32, nclass)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for wk := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c := int(next.Add(1) - 1)
				if c >= nclass {
					return
				}
				if err := ctx.Err(); err != nil {
					errs[wk] = err
					return
				}
				var a0 []float32
				if init != nil {
					a0 = init[c]
				}
				out[c], alphas[c] = trainBinary(x, sq, y, int32(c), p, a0)
				if done != nil {
					done()
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	return out, alphas, nil
}

func trainBinary(x *csr, sq []float32, y []int32, class int32, p svmParams, init []float32) ([]float32, []float32) {
	n := x.rows()
	d := x.dim
	w := make([]float32, d+1)
	alpha := make([]float32, n)
	ys := make([]float32, n)
	for i := range n {
		ys[i] = -1
		if y[i] == class {
			ys[i] = 1
		}
	}
	if init != nil {
		copy(alpha, init)
		for i, a := range alpha {
			if a == 0 {
				continue
			}
			lo, hi := x.ptr[i], x.ptr[i+1]
			ay := a * ys[i]
			for k, ix := range x.idx[lo:hi] {
				w[ix] += ay * x.val[lo+k]
			}
			w[d] += ay
		}
	}
	diag := make([]float32, n)
	qd := make([]float32, n)
	for i := range n {
		c := p.C
		if p.Weight != nil && y[i] >= 0 {
			c *= float64(p.Weight[y[i]])
		}
		diag[i] = float32(0.5 / c)
		qd[i] = sq[i] + diag[i]
	}
	index := make([]int32, n)
	for i := range index {
		index[i] = int32(i)
	}
	rng := rand.New(rand.NewPCG(p.Seed, uint64(class)+1))
	maxIter := p.MaxIter
	if maxIter <= 0 {
		maxIter = 200
	}
	eps := float32(p.Eps)
	if eps <= 0 {
		eps = 0.1
	}
	pgMaxOld := float32(math.Inf(1))
	active := n
	for iter := 0; iter < maxIter; iter++ {
		pgMaxNew, pgMinNew := float32(math.Inf(-1)), float32(math.Inf(1))
		for i := 0; i < active; i++ {
			j := i + rng.IntN(active-i)
			index[i], index[j] = index[j], index[i]
		}
		for s := 0; s < active; s++ {
			i := index[s]
			lo, hi := x.ptr[i], x.ptr[i+1]
			idx, val := x.idx[lo:hi], x.val[lo:hi]
			dot := w[d]
			for k, ix := range idx {
				dot += w[ix] * val[k]
			}
			yi := ys[i]
			g := yi*dot - 1 + diag[i]*alpha[i]
			var pg float32
			if alpha[i] == 0 {
				if g > pgMaxOld {
					active--
					index[s], index[active] = index[active], index[s]
					s--
					continue
				}
				if g < 0 {
					pg = g
				}
			} else {
				pg = g
			}
			pgMaxNew = max(pgMaxNew, pg)
			pgMinNew = min(pgMinNew, pg)
			if pg > 1e-12 || pg < -1e-12 {
				old := alpha[i]
				alpha[i] = max(old-g/qd[i], 0)
				delta := (alpha[i] - old) * yi
				for k, ix := range idx {
					w[ix] += delta * val[k]
				}
				w[d] += delta
			}
		}
		if pgMaxNew-pgMinNew <= eps {
			if active == n {
				break
			}
			active = n
			pgMaxOld = float32(math.Inf(1))
			continue
		}
		// With no upper bound on alpha only the upper shrinking bound is used.
		pgMaxOld = pgMaxNew
		if pgMaxOld <= 0 {
			pgMaxOld = float32(math.Inf(1))
		}
	}
	return w, alpha
}
