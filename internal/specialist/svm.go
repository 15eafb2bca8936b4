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
	C       float64
	MaxIter int
	Eps     float64
	Seed    uint64
	Workers int
}

var debugSVM = false

// trainOVR trains one binary SVM per class in parallel and returns the
// weights as [class][dim+1] (last entry: bias). The result does not depend
// on the number of workers.
func trainOVR(ctx context.Context, x *csr, y []int32, nclass int, p svmParams, done func()) ([][]float32, error) {
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
				out[c] = trainBinary(x, sq, y, int32(c), p)
				if done != nil {
					done()
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func trainBinary(x *csr, sq []float32, y []int32, class int32, p svmParams) []float32 {
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
	diag := float32(0.5 / p.C)
	qd := make([]float32, n)
	for i := range n {
		qd[i] = sq[i] + diag
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
	pgMaxOld, pgMinOld := float32(math.Inf(1)), float32(math.Inf(-1))
	active := n
	iter := 0
	visits := 0
	defer func() {
		if debugSVM {
			println("class", class, "iters", iter, "visits", visits, "n", n)
		}
	}()
	for ; iter < maxIter; iter++ {
		visits += active
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
			g := yi*dot - 1 + diag*alpha[i]
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
			pgMaxOld, pgMinOld = float32(math.Inf(1)), float32(math.Inf(-1))
			continue
		}
		pgMaxOld, pgMinOld = pgMaxNew, pgMinNew
		if pgMaxOld <= 0 {
			pgMaxOld = float32(math.Inf(1))
		}
		if pgMinOld >= 0 {
			pgMinOld = float32(math.Inf(-1))
		}
	}
	_ = pgMinOld
	return w
}
