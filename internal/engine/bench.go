package engine

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// BenchResult is the speed of one Bench run.
type BenchResult struct {
	PromptTokens int
	GenTokens    int
	PromptTPS    float64       // prompt tokens per second (batched prefill)
	GenTPS       float64       // generated tokens per second (one at a time)
	TTFT         time.Duration // prefill plus the first sampled token
	RSS          int64         // resident set size after the run, bytes (0 where unknown)
	KVBytes      int64         // KV cache held by the run
	// CPU time the process spent in each phase (0 where unknown). On a
	// shared, oversubscribed machine tokens per CPU-second is a steadier
	// figure than tokens per wall-second.
	PromptCPU time.Duration
	GenCPU    time.Duration
}

// Bench measures prompt processing and generation speed: promptTokens
// fixed pseudo-random tokens processed in batches, then genTokens greedy
// decoding steps (end-of-generation tokens do not stop it, as in
// llama-bench).
func Bench(ctx context.Context, m *Model, promptTokens, genTokens int) (BenchResult, error) {
	r := BenchResult{PromptTokens: promptTokens, GenTokens: genTokens}
	if promptTokens < 1 || genTokens < 0 {
		return r, errors.New("engine: bench needs at least one prompt token")
	}
	if promptTokens+genTokens > m.info.Context {
		return r, fmt.Errorf("%w: bench of %d+%d tokens, context %d", ErrContextOverflow, promptTokens, genTokens, m.info.Context)
	}
	s, err := m.acquire(ctx)
	if err != nil {
		return r, err
	}
	defer m.release(s)
	s.forget()
	defer s.forget()
	prompt := make([]int, promptTokens)
	x := uint32(12345)
	for i := range prompt {
		x = x*1664525 + 1013904223
		prompt[i] = int(x>>8) % min(m.tok.VocabSize(), 256+1000)
	}
	cpu0 := cpuTime()
	start := time.Now()
	if _, err := m.prefill(ctx, s, prompt); err != nil {
		return r, err
	}
	tok := argmax(s.logits)
	r.TTFT = time.Since(start)
	r.PromptTPS = float64(promptTokens) / r.TTFT.Seconds()
	cpu1 := cpuTime()
	r.PromptCPU = cpu1 - cpu0
	start = time.Now()
	for range genTokens {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		if err := m.m.Forward(s.cache, []int{tok}, s.logits); err != nil {
			return r, fmt.Errorf("engine: %w", err)
		}
		tok = argmax(s.logits)
	}
	if genTokens > 0 {
		r.GenTPS = float64(genTokens) / time.Since(start).Seconds()
	}
	r.GenCPU = cpuTime() - cpu1
	r.KVBytes = s.cache.Bytes()
	r.RSS = rss()
	return r, nil
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
