package limits

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// memory is the in-process Limiter: one mutex over a map of scopes.
type memory struct {
	now    func() time.Time
	window int64 // ns

	mu        sync.Mutex
	scopes    map[string]*memScope
	lastSweep int64
}

type memScope struct {
	reqTAT, tokTAT int64 // unix ns; the window is empty again at this time
	inflight       int64
}

// NewMemory returns a Limiter that keeps its counters in this process.
func NewMemory() Limiter { return newMemory(time.Now, defaultWindow) }

func newMemory(now func() time.Time, window time.Duration) *memory {
	return &memory{now: now, window: int64(window), scopes: make(map[string]*memScope)}
}

// ruleEval holds the evaluation of one rule between the check and the commit.
type ruleEval struct {
	req, tok gcraResult
}

func (m *memory) Acquire(ctx context.Context, rules []Rule, u Usage) (Decision, Lease, error) {
	if err := ctx.Err(); err != nil {
		return Decision{}, nil, err
	}
	if err := validate(rules, u); err != nil {
		return Decision{}, nil, err
	}
	var buf [4]ruleEval
	evals := buf[:0]
	if len(rules) > len(buf) {
		evals = make([]ruleEval, 0, len(rules))
	}
	d := newDecision()

	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now().UnixNano()
	m.sweep(now)
	for _, r := range rules {
		var e ruleEval
		st := m.scopes[r.Scope]
		if st == nil {
			st = &memScope{}
		}
		if r.RPM > 0 {
			e.req = gcra(st.reqTAT, now, m.window, 1, r.RPM)
			if !e.req.ok {
				d.refuse(r.Scope, ReasonRequests, time.Duration(e.req.retry))
			}
		}
		if r.TPM > 0 {
			e.tok = gcra(st.tokTAT, now, m.window, u.Tokens, r.TPM)
			if !e.tok.ok {
				d.refuse(r.Scope, ReasonTokens, time.Duration(e.tok.retry))
			}
		}
		if r.Concurrency > 0 && st.inflight >= r.Concurrency {
			d.refuse(r.Scope, ReasonConcurrency, concurrencyRetry)
		}
		evals = append(evals, e)
	}
	if !d.Allowed {
		m.refusedHeaders(&d, rules, now)
		return d, nil, nil
	}
	for i, r := range rules {
		if r.RPM > 0 {
			g := evals[i].req
			d.offerRequests(r.RPM, g.remaining, time.Duration(g.reset))
		}
		if r.TPM > 0 {
			g := evals[i].tok
			d.offerTokens(r.TPM, g.remaining, time.Duration(g.reset))
		}
	}
	l := &memLease{m: m, tokens: u.Tokens, rules: make([]Rule, 0, len(rules))}
	for i, r := range rules {
		if !r.limited() {
			continue
		}
		st := m.scopes[r.Scope]
		if st == nil {
			st = &memScope{}
			m.scopes[r.Scope] = st
		}
		if r.RPM > 0 {
			st.reqTAT = evals[i].req.newTAT
		}
		if r.TPM > 0 {
			st.tokTAT = evals[i].tok.newTAT
		}
		if r.Concurrency > 0 {
			st.inflight++
		}
		if r.TPM > 0 || r.Concurrency > 0 {
			l.rules = append(l.rules, r)
		}
	}
	return d, l, nil
}

// refusedHeaders recomputes the header values of a refused decision so that every rule
// reports its present state (a rule that would have admitted reports it without the
// request counted).
func (m *memory) refusedHeaders(d *Decision, rules []Rule, now int64) {
	d.LimitRequests, d.RemainingRequests, d.ResetRequests = -1, -1, 0
	d.LimitTokens, d.RemainingTokens, d.ResetTokens = -1, -1, 0
	for _, r := range rules {
		st := m.scopes[r.Scope]
		if st == nil {
			st = &memScope{}
		}
		if r.RPM > 0 {
			used := max(st.reqTAT-now, 0)
			d.offerRequests(r.RPM, remainingAt(used, m.window, r.RPM), time.Duration(used))
		}
		if r.TPM > 0 {
			used := max(st.tokTAT-now, 0)
			d.offerTokens(r.TPM, remainingAt(used, m.window, r.TPM), time.Duration(used))
		}
	}
}

// sweep drops idle scopes at most once a window; the caller holds m.mu.
func (m *memory) sweep(now int64) {
	if now-m.lastSweep < m.window {
		return
	}
	m.lastSweep = now
	for k, st := range m.scopes {
		if st.inflight == 0 && st.reqTAT <= now && st.tokTAT <= now {
			delete(m.scopes, k)
		}
	}
}

func (m *memory) Close() error { return nil }

type memLease struct {
	m        *memory
	rules    []Rule // rules with TPM or Concurrency limits
	released atomic.Bool

	mu     sync.Mutex
	tokens int64
}

func (l *memLease) Reconcile(ctx context.Context, actual int64) {
	l.mu.Lock()
	delta := actual - l.tokens
	l.tokens = actual
	l.mu.Unlock()
	if delta == 0 {
		return
	}
	m := l.m
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now().UnixNano()
	for _, r := range l.rules {
		if r.TPM <= 0 {
			continue
		}
		st := m.scopes[r.Scope]
		if st == nil {
			st = &memScope{}
			m.scopes[r.Scope] = st
		}
		st.tokTAT = adjustTAT(st.tokTAT, now, m.window, delta, r.TPM)
	}
}

// maxAhead bounds how many windows a reconciled TAT may run ahead of now, so that an
// absurd token count locks a scope out for hours, not forever.
const maxAhead = 1000

// adjustTAT moves a theoretical arrival time by delta units (either sign) without refusing.
func adjustTAT(tat, now, window, delta, limit int64) int64 {
	tat = max(tat, now)
	if delta >= 0 {
		return min(satAdd(tat, mulDiv(delta, window, limit)), satAdd(now, maxAhead*window))
	}
	return satAdd(tat, -mulDiv(-delta, window, limit))
}

func (l *memLease) Release() {
	if !l.released.CompareAndSwap(false, true) {
		return
	}
	m := l.m
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range l.rules {
		if r.Concurrency <= 0 {
			continue
		}
		if st := m.scopes[r.Scope]; st != nil && st.inflight > 0 {
			st.inflight--
		}
	}
}
