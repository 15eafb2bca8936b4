package limits

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// budgetState is a scope's counters as a BudgetError reports them.
type budgetState struct{ Spent, Reserved int64 }

// stateOf reads a scope's counters through the public API: a zero reservation against a
// limit of -1 always fails and reports them.
func stateOf(t *testing.T, b Budgets, scope string) budgetState {
	t.Helper()
	_, err := b.Reserve(context.Background(), []Budget{{Scope: scope, Limit: -1}}, 0)
	var be *BudgetError
	if !errors.As(err, &be) {
		t.Fatalf("reading %s: %v", scope, err)
	}
	return budgetState{be.Spent, be.Reserved}
}

// bstep is one operation of a budget scenario.
type bstep struct {
	op      string // "reserve", "settle", "cancel", "add", "state"
	budgets []Budget
	n       int64 // amount (reserve, settle, add)
	res     int   // index of a reservation (settle, cancel)
	scope   string
	refuse  *BudgetError // reserve: the expected refusal
	want    budgetState  // state of scope
}

func TestBudgets(t *testing.T) {
	const p = "budget:project:p_1:2026-11"
	const bal = "balance:org_1"
	one := []Budget{{Scope: p, Limit: 100}}
	tests := []struct {
		name  string
		seed  map[string]int64
		steps []bstep
	}{
		{
			name: "settle below and above the reservation",
			steps: []bstep{
				{op: "reserve", budgets: one, n: 30},
				{op: "reserve", budgets: one, n: 30},
				{op: "state", scope: p, want: budgetState{0, 60}},
				{op: "settle", res: 0, n: 10},
				{op: "state", scope: p, want: budgetState{10, 30}},
				{op: "settle", res: 1, n: 45},
				{op: "settle", res: 1, n: 45}, // a second settle changes nothing
				{op: "state", scope: p, want: budgetState{55, 0}},
				{op: "reserve", budgets: one, n: 46, refuse: &BudgetError{Scope: p, Limit: 100, Spent: 55}},
				{op: "reserve", budgets: one, n: 45},
				{op: "state", scope: p, want: budgetState{55, 45}},
			},
		},
		{
			name: "cancel",
			steps: []bstep{
				{op: "reserve", budgets: one, n: 100},
				{op: "reserve", budgets: one, n: 1, refuse: &BudgetError{Scope: p, Limit: 100, Reserved: 100}},
				{op: "cancel", res: 0},
				{op: "cancel", res: 0},
				{op: "settle", res: 0, n: 50}, // settling a cancelled reservation changes nothing
				{op: "state", scope: p, want: budgetState{0, 0}},
				{op: "reserve", budgets: one, n: 100},
			},
		},
		{
			name: "all or nothing across budgets",
			steps: []bstep{
				{op: "reserve", budgets: []Budget{{Scope: p, Limit: 100}, {Scope: bal, Limit: 10}}, n: 20,
					refuse: &BudgetError{Scope: bal, Limit: 10}},
				{op: "state", scope: p, want: budgetState{0, 0}},
				{op: "state", scope: bal, want: budgetState{0, 0}},
				{op: "reserve", budgets: []Budget{{Scope: p, Limit: 100}, {Scope: bal, Limit: 10}}, n: 10},
				{op: "settle", res: 0, n: 7},
				{op: "state", scope: p, want: budgetState{7, 0}},
				{op: "state", scope: bal, want: budgetState{7, 0}},
			},
		},
		{
			name: "repeated scope is reserved once against the tightest limit",
			steps: []bstep{
				{op: "reserve", budgets: []Budget{{Scope: p, Limit: 100}, {Scope: p, Limit: 50}}, n: 60,
					refuse: &BudgetError{Scope: p, Limit: 50}},
				{op: "reserve", budgets: []Budget{{Scope: p, Limit: 100}, {Scope: p, Limit: 50}}, n: 40},
				{op: "state", scope: p, want: budgetState{0, 40}},
			},
		},
		{
			name: "seeded from the database",
			seed: map[string]int64{p: 70, bal: 5},
			steps: []bstep{
				{op: "reserve", budgets: one, n: 40, refuse: &BudgetError{Scope: p, Limit: 100, Spent: 70}},
				{op: "reserve", budgets: one, n: 30},
				{op: "add", scope: bal, n: 20},
				{op: "state", scope: bal, want: budgetState{25, 0}},
				{op: "add", scope: bal, n: -3},
				{op: "state", scope: bal, want: budgetState{22, 0}},
			},
		},
	}
	forEachBackend(t, func(t *testing.T, b *backend) {
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := context.Background()
				var seeds atomic.Int64
				seed := func(ctx context.Context, scope string) (int64, error) {
					seeds.Add(1)
					return tt.seed[unprefix(scope, i)], nil
				}
				bu := b.budgets(seed)
				defer bu.Close()
				var rs []Reservation
				for j, s := range tt.steps {
					scope := prefixScope(s.scope, i)
					switch s.op {
					case "reserve":
						budgets := make([]Budget, len(s.budgets))
						for k, x := range s.budgets {
							budgets[k] = Budget{Scope: prefixScope(x.Scope, i), Limit: x.Limit}
						}
						r, err := bu.Reserve(ctx, budgets, s.n)
						if s.refuse == nil {
							if err != nil {
								t.Fatalf("step %d: %v", j, err)
							}
							rs = append(rs, r)
							continue
						}
						var be *BudgetError
						if !errors.As(err, &be) || !errors.Is(err, ErrInsufficient) {
							t.Fatalf("step %d: Reserve = %v, want a *BudgetError", j, err)
						}
						want := *s.refuse
						want.Scope = prefixScope(want.Scope, i)
						if diff := cmp.Diff(&want, be); diff != "" {
							t.Errorf("step %d: refusal (-want +got):\n%s", j, diff)
						}
					case "settle":
						if err := rs[s.res].Settle(ctx, s.n); err != nil {
							t.Fatalf("step %d: %v", j, err)
						}
					case "cancel":
						rs[s.res].Cancel(ctx)
					case "add":
						if err := bu.Add(ctx, scope, s.n); err != nil {
							t.Fatalf("step %d: %v", j, err)
						}
					case "state":
						if diff := cmp.Diff(s.want, stateOf(t, bu, scope)); diff != "" {
							t.Errorf("step %d: state of %s (-want +got):\n%s", j, s.scope, diff)
						}
					}
				}
				for _, r := range rs {
					r.Cancel(ctx)
				}
			})
		}
	})
}

func unprefix(scope string, i int) string {
	return scope[len(prefixScope("x", i))-1:]
}

// TestBudgetsConcurrent has 50 goroutines each reserve 10 against a limit of 100; with
// Redis they are split across two Budgets on two clients, as two replicas would be.
func TestBudgetsConcurrent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		var seeds atomic.Int64
		seed := func(ctx context.Context, scope string) (int64, error) { seeds.Add(1); return 0, nil }
		all := []Budgets{b.budgets(seed)}
		if b.client != nil {
			all = append(all, NewRedisBudgets(b.newRedis(), b.prefix, seed))
		}
		budgets := []Budget{{Scope: "budget:key:k_1:2026-11", Limit: 100}, {Scope: "balance:org_1", Limit: 1000}}
		var ok, insufficient atomic.Int64
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() {
				_, err := all[i%len(all)].Reserve(context.Background(), budgets, 10)
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, ErrInsufficient):
					insufficient.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 10 || insufficient.Load() != 40 {
			t.Errorf("%d reserved, %d refused; want 10 and 40", ok.Load(), insufficient.Load())
		}
		if got, want := stateOf(t, all[0], budgets[0].Scope), (budgetState{0, 100}); got != want {
			t.Errorf("state = %+v, want %+v", got, want)
		}
		if got, want := stateOf(t, all[0], budgets[1].Scope), (budgetState{0, 100}); got != want {
			t.Errorf("balance state = %+v, want %+v", got, want)
		}
		if seeds.Load() < 2 {
			t.Errorf("seeded %d times, want at least once per scope", seeds.Load())
		}
	})
}

func TestBudgetsSeedError(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		boom := errors.New("database down")
		bu := b.budgets(func(context.Context, string) (int64, error) { return 0, boom })
		if _, err := bu.Reserve(context.Background(), []Budget{{Scope: "budget:x", Limit: 10}}, 1); !errors.Is(err, boom) {
			t.Errorf("Reserve = %v, want %v", err, boom)
		}
		if err := bu.Add(context.Background(), "budget:x", 1); !errors.Is(err, boom) {
			t.Errorf("Add = %v, want %v", err, boom)
		}
	})
}

// TestRedisBudgetsLostData deletes the spent counter, as a Redis restart would, and
// expects the next use to seed it from the database again.
func TestRedisBudgetsLostData(t *testing.T) {
	b := redisBackend(t)
	ctx := context.Background()
	spent := map[string]int64{"balance:org_9": 40}
	var seeds atomic.Int64
	bu := NewRedisBudgets(b.client, b.prefix, func(ctx context.Context, scope string) (int64, error) {
		seeds.Add(1)
		return spent[scope], nil
	})
	budgets := []Budget{{Scope: "balance:org_9", Limit: 100}}
	r, err := bu.Reserve(ctx, budgets, 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.client.Del(ctx, b.prefix+"bud:balance:org_9:spent").Err(); err != nil {
		t.Fatal(err)
	}
	spent["balance:org_9"] = 60 // the database recorded more meanwhile
	if err := r.Settle(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if got, want := stateOf(t, bu, "balance:org_9"), (budgetState{70, 0}); got != want {
		t.Errorf("state = %+v, want %+v", got, want)
	}
	if seeds.Load() != 2 {
		t.Errorf("seeded %d times, want 2", seeds.Load())
	}
}

func TestRedisBudgetsTTL(t *testing.T) {
	b := redisBackend(t)
	ctx := context.Background()
	bu := newRedisBudgets(b.client, b.prefix, nil, 300*time.Millisecond)
	monthly := Budget{Scope: "budget:project:p_1:2026-11", Limit: 100}
	balance := Budget{Scope: "balance:org_1", Limit: 100}
	// A reservation of a crashed replica expires.
	if _, err := bu.Reserve(ctx, []Budget{monthly, balance}, 60); err != nil {
		t.Fatal(err)
	}
	if _, err := bu.Reserve(ctx, []Budget{monthly}, 60); !errors.Is(err, ErrInsufficient) {
		t.Fatalf("Reserve over the limit = %v", err)
	}
	time.Sleep(400 * time.Millisecond)
	r, err := bu.Reserve(ctx, []Budget{monthly, balance}, 60)
	if err != nil {
		t.Fatalf("Reserve after the reservation TTL: %v", err)
	}
	if err := r.Settle(ctx, 60); err != nil {
		t.Fatal(err)
	}
	ttl := func(scope string) time.Duration {
		d, err := b.client.TTL(ctx, b.prefix+"bud:"+scope+":spent").Result()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := ttl(monthly.Scope); d < 39*24*time.Hour || d > 40*24*time.Hour {
		t.Errorf("monthly spent TTL = %v, want about 40 days", d)
	}
	if d := ttl(balance.Scope); d != -1 {
		t.Errorf("balance spent TTL = %v, want none (-1)", d)
	}
}

func TestBudgetsInvalid(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		if _, err := b.budgets(nil).Reserve(context.Background(), []Budget{{Scope: "x", Limit: 1}}, -1); err == nil {
			t.Error("Reserve of a negative amount succeeded")
		}
	})
}

func ExampleBudgetError() {
	err := error(&BudgetError{Scope: "balance:org_1", Limit: 100, Spent: 95, Reserved: 3})
	fmt.Println(errors.Is(err, ErrInsufficient), err)
	// Output: true insufficient quota for balance:org_1: limit 100, spent 95, reserved 3
}
