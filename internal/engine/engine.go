// Package engine is the in-process inference engine for small GGUF models:
// it loads a model file (memory-mapped), tokenises, runs the forward pass
// and samples, streaming text to the caller. Several requests share one
// loaded model through a fair queue of Parallel slots, each with its own
// KV cache. The gateway's local provider is its main caller.
package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"

	"switchyard/internal/engine/gguf"
	"switchyard/internal/engine/model"
	"switchyard/internal/engine/tensor"
	"switchyard/internal/engine/tokenizer"
)

// Errors callers branch on.
var (
	// ErrContextOverflow means the prompt plus max_tokens does not fit in
	// the context window: an invalid request (HTTP 400).
	ErrContextOverflow = errors.New("engine: context length exceeded")
	// ErrClosed is returned by calls on a closed model.
	ErrClosed = errors.New("engine: model closed")
	// ErrUnsupported wraps refusals of architectures or tensor types.
	ErrUnsupported = model.ErrUnsupported
)

// Options configures Load.
type Options struct {
	Context  int // context window per sequence; 0: the model's, capped at 4096
	Threads  int // compute threads; 0: GOMAXPROCS
	Parallel int // concurrent sequences (slots); 0: 1
}

// Info describes a loaded model.
type Info struct {
	Arch         string
	Name         string
	Context      int // the context window in use
	TrainContext int // the context length the model was trained with
	VocabSize    int
	Params       int64
	FileSize     int64
	FileType     string // the most common matrix type, e.g. "Q8_0"
	Embedding    int    // hidden size, the length of Embed vectors
}

// Model is a loaded model. Its methods are safe for concurrent use.
type Model struct {
	file *gguf.File
	m    *model.Model
	tok  *tokenizer.Tokenizer
	pool *tensor.Pool
	info Info
	tmpl string
	chatState

	slots    chan *slot
	mu       sync.Mutex // guards isClosed and wg.Add against Close
	isClosed bool
	closed   chan struct{}
	wg       sync.WaitGroup // requests holding or waiting for a slot
}

// slot is one sequence's state: its cache and the tokens the cache holds,
// so a request that shares a prefix with the previous one reuses it.
type slot struct {
	cache  *model.Cache
	tokens []int
	logits []float32
}

// Load opens a GGUF model file.
func Load(path string, opts Options) (*Model, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	m, err := newModel(f, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	return m, nil
}

func newModel(f *gguf.File, opts Options) (*Model, error) {
	pool := tensor.NewPool(opts.Threads)
	mm, err := model.New(f, pool)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("engine: %w", err)
	}
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("engine: %w", err)
	}
	if tok.VocabSize() > mm.Vocab {
		pool.Close()
		return nil, fmt.Errorf("engine: tokenizer has %d tokens, model vocabulary %d", tok.VocabSize(), mm.Vocab)
	}
	ctxLen := opts.Context
	if ctxLen <= 0 {
		ctxLen = min(mm.CtxTrain, 4096)
	}
	par := max(opts.Parallel, 1)
	e := &Model{
		file:   f,
		m:      mm,
		tok:    tok,
		pool:   pool,
		slots:  make(chan *slot, par),
		closed: make(chan struct{}),
	}
	e.tmpl, _ = f.String("tokenizer.chat_template")
	e.info = Info{
		Arch: mm.Arch, Name: mm.Name, Context: ctxLen, TrainContext: mm.CtxTrain,
		VocabSize: mm.Vocab, Params: mm.Params, FileSize: f.Size(), FileType: fileType(f),
		Embedding: mm.Embd,
	}
	for range par {
		e.slots <- &slot{cache: mm.NewCache(ctxLen), logits: make([]float32, mm.Vocab)}
	}
	return e, nil
}

func fileType(f *gguf.File) string {
	bytes := map[gguf.TensorType]uint64{}
	for _, t := range f.Tensors {
		if len(t.Shape) == 2 {
			bytes[t.Type] += t.Size
		}
	}
	best, n := gguf.TensorType(0), uint64(0)
	for t, b := range bytes {
		if b > n || b == n && t < best {
			best, n = t, b
		}
	}
	return best.String()
}

// Close waits for running requests to end and releases the model. Calls
// that have not got a slot yet return ErrClosed.
func (e *Model) Close() error {
	e.mu.Lock()
	if e.isClosed {
		e.mu.Unlock()
		return nil
	}
	e.isClosed = true
	close(e.closed)
	e.mu.Unlock()
	e.wg.Wait()
	e.pool.Close()
	return e.file.Close()
}

// Info describes the model.
func (e *Model) Info() Info { return e.info }

// Tokenizer returns the model's tokenizer.
func (e *Model) Tokenizer() *tokenizer.Tokenizer { return e.tok }

// ChatTemplate returns the model's tokenizer.chat_template ("" if none).
func (e *Model) ChatTemplate() string { return e.tmpl }

// acquire waits, in arrival order, for a free slot.
func (e *Model) acquire(ctx context.Context) (*slot, error) {
	e.mu.Lock()
	if e.isClosed {
		e.mu.Unlock()
		return nil, ErrClosed
	}
	e.wg.Add(1)
	e.mu.Unlock()
	select {
	case s := <-e.slots:
		select {
		case <-e.closed:
			e.slots <- s
			e.wg.Done()
			return nil, ErrClosed
		default:
		}
		return s, nil
	case <-ctx.Done():
		e.wg.Done()
		return nil, ctx.Err()
	case <-e.closed:
		e.wg.Done()
		return nil, ErrClosed
	}
}

func (e *Model) release(s *slot) {
	e.slots <- s
	e.wg.Done()
}

// prefill brings the slot's cache to hold tokens, reusing the longest
// common prefix already there, and leaves the last token's logits in
// s.logits. It checks ctx between batches and returns how many tokens it
// reused.
func (e *Model) prefill(ctx context.Context, s *slot, tokens []int) (int, error) {
	keep := 0
	for keep < len(s.tokens) && keep < len(tokens)-1 && s.tokens[keep] == tokens[keep] {
		keep++
	}
	s.cache.Truncate(keep)
	s.tokens = append(s.tokens[:keep], tokens[keep:]...)
	const chunk = 128
	for i := keep; i < len(tokens); i += chunk {
		if err := ctx.Err(); err != nil {
			s.forget()
			return 0, err
		}
		end := min(i+chunk, len(tokens))
		var logits []float32
		if end == len(tokens) {
			logits = s.logits
		}
		if err := e.m.Forward(s.cache, tokens[i:end], logits); err != nil {
			s.forget()
			return 0, fmt.Errorf("engine: %w", err)
		}
	}
	return keep, nil
}

// forget drops the cache contents after a failed or cancelled step.
func (s *slot) forget() {
	s.cache.Truncate(0)
	s.tokens = s.tokens[:0]
}

// Embed returns one L2-normalised, mean-pooled vector of final hidden
// states per text, and the number of tokens processed.
func (e *Model) Embed(ctx context.Context, texts []string) ([][]float32, int, error) {
	s, err := e.acquire(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer e.release(s)
	out := make([][]float32, len(texts))
	total := 0
	for i, text := range texts {
		toks := e.tok.Encode(text, true, false)
		if len(toks) == 0 {
			return nil, total, fmt.Errorf("%w: empty input %d", ErrInvalidRequest, i)
		}
		if len(toks) > s.cache.Cap() {
			return nil, total, fmt.Errorf("%w: input %d has %d tokens, context is %d", ErrContextOverflow, i, len(toks), s.cache.Cap())
		}
		total += len(toks)
		s.forget()
		vec := make([]float32, e.m.Embd)
		const chunk = 128
		for j := 0; j < len(toks); j += chunk {
			if err := ctx.Err(); err != nil {
				s.forget()
				return nil, total, err
			}
			h, err := e.m.Hidden(s.cache, toks[j:min(j+chunk, len(toks))])
			if err != nil {
				s.forget()
				return nil, total, fmt.Errorf("engine: %w", err)
			}
			for r := 0; r < len(h); r += e.m.Embd {
				tensor.Add(vec, vec, h[r:r+e.m.Embd])
			}
		}
		s.forget()
		var ss float64
		for _, v := range vec {
			ss += float64(v) * float64(v)
		}
		if ss > 0 {
			tensor.Scale(vec, float32(1/math.Sqrt(ss)))
		}
		out[i] = vec
	}
	return out, total, nil
}

// ErrInvalidRequest wraps other problems with a request's contents.
var ErrInvalidRequest = errors.New("engine: invalid request")

// rss returns the resident set size of the process in bytes, or 0.
func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, res int64
	if _, err := fmt.Sscan(string(b), &size, &res); err != nil {
		return 0
	}
	return res * int64(os.Getpagesize())
}
