package limits

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Budget is a spending cap in integer micro-units of money (never floats).
type Budget struct {
	Scope string // e.g. "balance:org_1", "budget:project:p_1:2026-11", "budget:key:k_1:2026-11"
	Limit int64  // micro-units; the request is refused when spent+reserved+amount > Limit
}

// ErrInsufficient is what a refused reservation Is; the error itself is a *BudgetError.
var ErrInsufficient = errors.New("insufficient quota")

// BudgetError says which budget refused a reservation and what it held at the time.
type BudgetError struct {
	Scope                  string
	Limit, Spent, Reserved int64
}

func (e *BudgetError) Error() string {
	return fmt.Sprintf("insufficient quota for %s: limit %d, spent %d, reserved %d", e.Scope, e.Limit, e.Spent, e.Reserved)
}

// Is reports whether target is ErrInsufficient.
func (e *BudgetError) Is(target error) bool { return target == ErrInsufficient }

// Seeder returns what a scope has spent so far according to the database; called when a
// backend has no counter for the scope yet (first use, or Redis lost its data).
type Seeder func(ctx context.Context, scope string) (int64, error)

// Reservation is money held for a request in flight.
type Reservation interface {
	// Settle turns the reservation into spending of actual micro-units (may exceed the
	// reservation) and frees it. Only the first Settle or Cancel has an effect.
	Settle(ctx context.Context, actual int64) error
	// Cancel frees the reservation without spending.
	Cancel(ctx context.Context)
}

// Budgets reserves and records spending against caps.
type Budgets interface {
	// Reserve atomically checks every budget and reserves amount against each, or
	// reserves nothing. A refusal is a *BudgetError.
	Reserve(ctx context.Context, budgets []Budget, amount int64) (Reservation, error)
	// Add changes a scope's spent counter (e.g. a top-up is handled by the caller raising
	// Limit instead; Add is for charges recorded elsewhere).
	Add(ctx context.Context, scope string, amount int64) error
	Close() error
}

var errNegativeAmount = errors.New("limits: negative amount")

// dedupe drops repeated scopes, keeping the tightest limit, so that a scope is never
// reserved twice by one request.
func dedupe(budgets []Budget) []Budget {
	for i := range budgets {
		for j := i + 1; j < len(budgets); j++ {
			if budgets[i].Scope == budgets[j].Scope {
				return dedupeSlow(budgets)
			}
		}
	}
	return budgets
}

func dedupeSlow(budgets []Budget) []Budget {
	out := make([]Budget, 0, len(budgets))
	idx := make(map[string]int, len(budgets))
	for _, b := range budgets {
		if i, ok := idx[b.Scope]; ok {
			out[i].Limit = min(out[i].Limit, b.Limit)
			continue
		}
		idx[b.Scope] = len(out)
		out = append(out, b)
	}
	return out
}

// spentTTL is how long Redis keeps a spent counter after its last change: long enough
// to outlive a monthly budget's month. Balances ("balance:" scopes) never expire.
const spentTTL = 40 * 24 * time.Hour

func spentTTLFor(scope string) time.Duration {
	if strings.HasPrefix(scope, "balance:") {
		return 0
	}
	return spentTTL
}

// memBudgets keeps spending and reservations in this process.
type memBudgets struct {
	seed Seeder

	mu     sync.Mutex
	scopes map[string]*memBudget
}

type memBudget struct{ spent, reserved int64 }

// NewMemoryBudgets returns Budgets kept in this process; seed (which may be nil, meaning
// zero) supplies a scope's spending the first time the scope is used.
func NewMemoryBudgets(seed Seeder) Budgets {
	return &memBudgets{seed: seed, scopes: make(map[string]*memBudget)}
}

// ensure seeds every scope that has no counter yet. Seeding runs outside the lock;
// the first value stored wins (like SETNX).
func (b *memBudgets) ensure(ctx context.Context, scopes ...string) error {
	for _, s := range scopes {
		b.mu.Lock()
		_, ok := b.scopes[s]
		b.mu.Unlock()
		if ok {
			continue
		}
		var v int64
		if b.seed != nil {
			var err error
			if v, err = b.seed(ctx, s); err != nil {
				return fmt.Errorf("seeding %s: %w", s, err)
			}
		}
		b.mu.Lock()
		if _, ok := b.scopes[s]; !ok {
			b.scopes[s] = &memBudget{spent: v}
		}
		b.mu.Unlock()
	}
	return nil
}

func (b *memBudgets) Reserve(ctx context.Context, budgets []Budget, amount int64) (Reservation, error) {
	if amount < 0 {
		return nil, errNegativeAmount
	}
	budgets = dedupe(budgets)
	scopes := make([]string, len(budgets))
	for i, bu := range budgets {
		scopes[i] = bu.Scope
	}
	if err := b.ensure(ctx, scopes...); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, bu := range budgets {
		st := b.scopes[bu.Scope]
		if st.spent+st.reserved > bu.Limit-amount {
			return nil, &BudgetError{Scope: bu.Scope, Limit: bu.Limit, Spent: st.spent, Reserved: st.reserved}
		}
	}
	for _, bu := range budgets {
		b.scopes[bu.Scope].reserved += amount
	}
	return &memReservation{b: b, scopes: scopes, amount: amount}, nil
}

func (b *memBudgets) Add(ctx context.Context, scope string, amount int64) error {
	if err := b.ensure(ctx, scope); err != nil {
		return err
	}
	b.mu.Lock()
	b.scopes[scope].spent += amount
	b.mu.Unlock()
	return nil
}

func (b *memBudgets) Close() error { return nil }

type memReservation struct {
	b      *memBudgets
	scopes []string
	amount int64
	done   atomic.Bool
}

func (r *memReservation) Settle(ctx context.Context, actual int64) error {
	if !r.done.CompareAndSwap(false, true) {
		return nil
	}
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	for _, s := range r.scopes {
		st := r.b.scopes[s]
		st.reserved -= r.amount
		st.spent += actual
	}
	return nil
}

func (r *memReservation) Cancel(ctx context.Context) {
	if !r.done.CompareAndSwap(false, true) {
		return
	}
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	for _, s := range r.scopes {
		r.b.scopes[s].reserved -= r.amount
	}
}
