package tensor

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Pool is a fixed set of worker goroutines that the products split their
// rows over. The calling goroutine works too, so a Pool of n threads starts
// n-1 goroutines. A Pool may be used by several goroutines at once; each call
// returns when its own work is done. Close stops the workers.
type Pool struct {
	threads   int
	work      chan *job
	workers   sync.WaitGroup
	closeOnce sync.Once
}

// NewPool starts a pool of the given number of threads (GOMAXPROCS if
// threads <= 0).
func NewPool(threads int) *Pool {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	p := &Pool{threads: threads, work: make(chan *job, threads)}
	for i := 1; i < threads; i++ {
		p.workers.Add(1)
		go p.worker()
	}
	return p
}

// Threads returns the number of threads the pool computes with.
func (p *Pool) Threads() int { return p.threads }

// Close stops the pool's goroutines. The pool must not be used afterwards.
func (p *Pool) Close() {
	p.closeOnce.Do(func() {
		close(p.work)
		p.workers.Wait()
	})
}

func (p *Pool) worker() {
	defer p.workers.Done()
	for {
		j, ok := p.take()
		if !ok {
			return
		}
		j.run()
		j.pending.Add(-1)
		j.wg.Done()
	}
}

// spinWait is how long an idle thread polls for more work before it
// blocks. A forward pass issues a product every few tens of microseconds;
// waking a blocked goroutine costs about as much, on a busy machine more,
// so a thread that has just finished one polls through the gap to the next.
const spinWait = 50 * time.Microsecond

// take returns the next job, polling for up to spinWait before blocking;
// ok is false once the pool is closed.
func (p *Pool) take() (j *job, ok bool) {
	start := time.Now()
	for spin := 0; ; spin++ {
		select {
		case j, ok = <-p.work:
			return j, ok
		default:
		}
		// Yield so that a goroutine readied on this thread's P (such as
		// the caller woken from its wait) runs at once.
		runtime.Gosched()
		if spin%16 == 15 && time.Since(start) > spinWait {
			break
		}
	}
	j, ok = <-p.work
	return j, ok
}

type opKind uint8

const (
	opRows  opKind = iota // weight rows [lo, hi) times every activation
	opQuant               // quantise activations [lo, hi)
	opFunc                // user function over [lo, hi)
)

// job is one parallel call; workers take chunks of [0, total) from next.
type job struct {
	op         opKind
	dst, x     []float32
	w          []byte
	t          Type
	rows, cols int
	n          int
	rowBytes   int
	act        act
	fn         func(lo, hi int)

	total, chunk int
	next         atomic.Int64
	pending      atomic.Int32 // helpers still running
	wg           sync.WaitGroup
}

var jobs = sync.Pool{New: func() any { return new(job) }}

func (j *job) run() {
	for {
		hi := int(j.next.Add(int64(j.chunk)))
		lo := hi - j.chunk
		if lo >= j.total {
			return
		}
		j.do(lo, min(hi, j.total))
	}
}

func (j *job) do(lo, hi int) {
	switch j.op {
	case opRows:
		j.doRows(lo, hi)
	case opQuant:
		for i := lo; i < hi; i++ {
			j.act.quantize(j.t, i, j.x[i*j.cols:(i+1)*j.cols])
		}
	case opFunc:
		j.fn(lo, hi)
	}
}

// dispatch runs j over [0, total) in chunks of chunk, on the caller and as
// many workers as there are chunks beyond the first.
func (p *Pool) dispatch(j *job, total, chunk int) {
	j.total, j.chunk = total, max(chunk, 1)
	j.next.Store(0)
	helpers := min(p.threads-1, (total+j.chunk-1)/j.chunk-1)
	if helpers > 0 {
		j.pending.Store(int32(helpers))
		j.wg.Add(helpers)
		for range helpers {
			p.work <- j
		}
	}
	j.run()
	// The helpers usually finish within microseconds of the caller: poll
	// briefly rather than block at once (see spinWait).
	if helpers > 0 {
		start := time.Now()
		for spin := 0; j.pending.Load() > 0; spin++ {
			runtime.Gosched()
			if spin%16 == 15 && time.Since(start) > spinWait {
				break
			}
		}
	}
	j.wg.Wait()
}

// For calls fn over [0, n) split into contiguous ranges run in parallel
// (grain is the smallest range worth a thread; 1 if <= 0).
func (p *Pool) For(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	grain = max(grain, 1)
	chunk := max(grain, (n+4*p.threads-1)/(4*p.threads))
	if chunk >= n || p.threads == 1 {
		fn(0, n)
		return
	}
	j := jobs.Get().(*job)
	j.op, j.fn = opFunc, fn
	p.dispatch(j, n, chunk)
	j.fn = nil
	jobs.Put(j)
}

var (
	defaultMu   sync.Mutex
	defaultPool *Pool
)

// Default returns the package's default pool, starting it (with GOMAXPROCS
// threads) on first use.
func Default() *Pool {
	defaultMu.Lock()
	defer defaultMu.Unlock()
	if defaultPool == nil {
		defaultPool = NewPool(0)
	}
	return defaultPool
}

// SetThreads replaces the default pool with one of n threads (GOMAXPROCS if
// n <= 0). Call it at start-up: it must not run while another goroutine is
// using the default pool.
func SetThreads(n int) {
	defaultMu.Lock()
	old := defaultPool
	defaultPool = NewPool(n)
	defaultMu.Unlock()
	if old != nil {
		old.Close()
	}
}

// MatVec computes dst[r] = Σ_c w[r][c]·x[c] for r < rows with the default
// pool; see Pool.MatVec.
func MatVec(dst, x []float32, w []byte, t Type, rows, cols int) {
	Default().MatVec(dst, x, w, t, rows, cols)
}

// MatMul computes dst[i][r] = Σ_c w[r][c]·x[i][c] for n activation rows with
// the default pool; see Pool.MatMul.
func MatMul(dst, x []float32, n int, w []byte, t Type, rows, cols int) {
	Default().MatMul(dst, x, n, w, t, rows, cols)
}

// MatVec computes dst[r] = Σ_c w[r][c]·x[c] for r < rows, where w holds rows
// rows of cols elements of type t, row-major (as ggml stores a [cols, rows]
// tensor). cols must be a multiple of t's block size. Invalid arguments are
// programming errors and panic.
func (p *Pool) MatVec(dst, x []float32, w []byte, t Type, rows, cols int) {
	p.MatMul(dst, x, 1, w, t, rows, cols)
}

// MatMul computes dst[i*rows+r] = Σ_c w[r][c]·x[i*cols+c] for i < n: the n
// activation rows of x (n×cols, row-major) times the weight matrix, giving
// dst as n×rows. Each weight row is read once for all n activations, which is
// what makes batched prompt processing faster than n MatVecs.
func (p *Pool) MatMul(dst, x []float32, n int, w []byte, t Type, rows, cols int) {
	rb, err := t.RowBytes(cols)
	if err != nil {
		panic(fmt.Sprintf("tensor.MatMul: %v", err))
	}
	if rows < 0 || n < 0 || len(w) < rows*rb || len(x) < n*cols || len(dst) < n*rows {
		panic(fmt.Sprintf("tensor.MatMul: %s %d×%d with n=%d: len(w)=%d (need %d), len(x)=%d (need %d), len(dst)=%d (need %d)",
			t, rows, cols, n, len(w), rows*rb, len(x), n*cols, len(dst), n*rows))
	}
	if rows == 0 || n == 0 {
		return
	}
	j := jobs.Get().(*job)
	j.dst, j.x, j.w, j.t, j.rows, j.cols, j.n, j.rowBytes = dst, x, w, t, rows, cols, n, rb
	if j.act.prepare(t, n, cols) {
		j.op = opQuant
		if n*cols >= 1<<16 && p.threads > 1 {
			p.dispatch(j, n, max(1, n/(4*p.threads)))
		} else {
			j.do(0, n)
		}
	}
	if n >= 4 && kern.rowFuncs4(t) != nil {
		j.act.interleave(n)
	}
	j.op = opRows
	// Aim for several chunks per thread (the machine is shared, so threads
	// do not progress evenly), each worth at least ~32k multiply-adds.
	chunk := max((rows+8*p.threads-1)/(8*p.threads), (1<<15)/(cols*n)+1)
	chunk = (chunk + 3) &^ 3
	if p.threads == 1 || chunk >= rows {
		j.doRows(0, rows)
	} else {
		p.dispatch(j, rows, chunk)
	}
	j.dst, j.x, j.w = nil, nil, nil
	jobs.Put(j)
}

// act is a scratch activation, quantised for integer dot products.
type act struct {
	qs  []int8
	d   []float32
	bs  []int16
	d4  []float32 // d of each group of four rows, interleaved by block
	nb  int       // scale blocks per activation row
	ngr int       // 16-element groups per activation row (K types)
}

// prepare sizes the scratch for n rows of cols elements to be multiplied with
// weights of type t; it reports whether t needs quantised activations.
func (a *act) prepare(t Type, n, cols int) bool {
	var bsz int
	switch t {
	case Q4_0, Q4_1, Q5_0, Q5_1, Q8_0:
		bsz = QK
	case Q4_K, Q5_K, Q6_K:
		bsz = QKK
	default:
		return false
	}
	a.nb, a.ngr = cols/bsz, 0
	if bsz == QKK {
		a.ngr = cols / 16
	}
	a.qs = grow(a.qs, n*cols)
	a.d = grow(a.d, n*a.nb)
	a.bs = grow(a.bs, n*a.ngr)
	return true
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// interleave fills d4 for the first n rows rounded down to a multiple of
// four: for group g, d4[g*4*nb+4*b+c] = d of row 4g+c, block b.
func (a *act) interleave(n int) {
	n &^= 3
	a.d4 = grow(a.d4, n*a.nb)
	for g := 0; g < n; g += 4 {
		dst := a.d4[g*a.nb : (g+4)*a.nb]
		for c := range 4 {
			src := a.d[(g+c)*a.nb : (g+c+1)*a.nb]
			for b, v := range src {
				dst[4*b+c] = v
			}
		}
	}
}

// row returns activation row i.
func (a *act) row(i, cols int) (qs []int8, d []float32, bs []int16) {
	return a.qs[i*cols : (i+1)*cols], a.d[i*a.nb : (i+1)*a.nb], a.bs[i*a.ngr : (i+1)*a.ngr]
}

func (a *act) quantize(t Type, i int, x []float32) {
	qs, d, bs := a.row(i, len(x))
	if a.ngr > 0 {
		kern.quantQ8K(x, qs, d, bs)
	} else {
		kern.quantQ8(x, qs, d, bs)
	}
}

// doRows computes weight rows [lo, hi) against every activation row. With
// a four-token kernel it walks the rows in cache-sized bands and, within a
// band, four tokens at a time, so each weight block is decoded once per four
// tokens and the band stays in cache for the whole batch.
func (j *job) doRows(lo, hi int) {
	qdot, fdot := kern.rowFuncs(j.t)
	qdot4 := kern.rowFuncs4(j.t)
	rb, rows, cols := j.rowBytes, j.rows, j.cols
	band := hi - lo
	if qdot4 != nil && j.n >= 4 {
		band = min(max(1, (16<<10)/rb), 64)
	}
	for r0 := lo; r0 < hi; r0 += band {
		r1 := min(r0+band, hi)
		i := 0
		if qdot4 != nil {
			nb := j.act.nb
			for ; i+4 <= j.n; i += 4 {
				xq, xd := j.act.qs[i*cols:(i+4)*cols], j.act.d4[i*nb:(i+4)*nb]
				for r := r0; r < r1; r++ {
					qdot4(j.w[r*rb:(r+1)*rb], xq, xd, cols, j.dst[i*rows+r:], rows)
				}
			}
		}
		qdotR4 := kern.rowFuncsR4(j.t)
		for ; i < j.n && qdotR4 != nil; i++ {
			qs, d, _ := j.act.row(i, cols)
			r := r0
			for ; r+4 <= r1; r += 4 {
				qdotR4(j.w[r*rb:(r+4)*rb], rb, qs, d, j.dst[i*rows+r:i*rows+r+4])
			}
			for ; r < r1; r++ {
				j.dst[i*rows+r] = qdot(j.w[r*rb:(r+1)*rb], qs, d, nil)
			}
		}
		for r := r0; r < r1; r++ {
			w := j.w[r*rb : (r+1)*rb]
			for i := i; i < j.n; i++ {
				if qdot != nil {
					qs, d, bs := j.act.row(i, cols)
					j.dst[i*rows+r] = qdot(w, qs, d, bs)
				} else {
					j.dst[i*rows+r] = fdot(w, j.x[i*cols:(i+1)*cols])
				}
			}
		}
	}
}
