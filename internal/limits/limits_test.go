package limits

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"
)

// fakeClock is the memory backend's clock in tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// backend builds instances of one backend for one test; instances of the Redis backend
// share state, as replicas do.
type backend struct {
	name     string
	exact    bool // time is a fake clock: durations compare exactly
	limiter  func(window time.Duration) Limiter
	budgets  func(seed Seeder) Budgets
	advance  func(d time.Duration)
	client   *redis.Client // nil for memory
	prefix   string
	newRedis func() *redis.Client
}

const redisEnv = "SWITCHYARD_TEST_REDIS"

// forEachBackend runs f against the memory backend and, when SWITCHYARD_TEST_REDIS is
// set, against Redis with a fresh key prefix that is deleted afterwards.
func forEachBackend(t *testing.T, f func(t *testing.T, b *backend)) {
	t.Run("memory", func(t *testing.T) {
		clk := &fakeClock{t: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
		f(t, &backend{
			name:    "memory",
			exact:   true,
			limiter: func(w time.Duration) Limiter { return newMemory(clk.now, w) },
			budgets: func(seed Seeder) Budgets { return NewMemoryBudgets(seed) },
			advance: clk.advance,
		})
	})
	t.Run("redis", func(t *testing.T) {
		b := redisBackend(t)
		f(t, b)
	})
}

func redisBackend(t testing.TB) *backend {
	url := os.Getenv(redisEnv)
	if url == "" {
		t.Skip(redisEnv + " is not set (e.g. redis://127.0.0.1:6379/0); skipping the Redis backend")
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("parsing %s: %v", redisEnv, err)
	}
	newClient := func() *redis.Client {
		c := redis.NewClient(opts)
		t.Cleanup(func() { c.Close() })
		return c
	}
	c := newClient()
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("pinging Redis at %s: %v", url, err)
	}
	prefix := "switchyard-test:" + rand16() + ":"
	t.Cleanup(func() { deletePrefix(t, c, prefix) })
	return &backend{
		name:     "redis",
		limiter:  func(w time.Duration) Limiter { return newRedis(c, prefix, w, defaultLeaseTTL) },
		budgets:  func(seed Seeder) Budgets { return NewRedisBudgets(c, prefix, seed) },
		advance:  time.Sleep,
		client:   c,
		prefix:   prefix,
		newRedis: newClient,
	}
}

func rand16() string {
	return strconv.FormatInt(time.Now().UnixNano(), 36) + strconv.Itoa(os.Getpid())
}

func deletePrefix(t testing.TB, c *redis.Client, prefix string) {
	ctx := context.Background()
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Errorf("scanning test keys: %v", err)
		return
	}
	if len(keys) > 0 {
		if err := c.Del(ctx, keys...).Err(); err != nil {
			t.Errorf("deleting test keys: %v", err)
		}
	}
}

// step is one operation of a limiter scenario.
type step struct {
	op     string // "acquire", "reconcile", "release", "advance"
	rules  []Rule // for acquire; nil means the case's rules
	n      int64  // tokens (acquire, reconcile) or nanoseconds (advance)
	lease  int    // index of an admitted lease (reconcile, release)
	want   Decision
	header http.Header // for acquire, when set
}

func TestLimiter(t *testing.T) {
	k := func(rpm, tpm, conc int64) []Rule {
		return []Rule{{Scope: "key:k", RPM: rpm, TPM: tpm, Concurrency: conc}}
	}
	allowed := func(limReq, remReq int64, resetReq time.Duration, limTok, remTok int64, resetTok time.Duration) Decision {
		return Decision{Allowed: true, LimitRequests: limReq, RemainingRequests: remReq, ResetRequests: resetReq,
			LimitTokens: limTok, RemainingTokens: remTok, ResetTokens: resetTok}
	}
	unlimited := allowed(-1, -1, 0, -1, -1, 0)
	tests := []struct {
		name   string
		window time.Duration
		rules  []Rule
		steps  []step
	}{
		{
			name:  "no rules",
			steps: []step{{op: "acquire", n: 5, want: unlimited, header: http.Header{}}},
		},
		{
			name:  "rpm refusal",
			rules: k(3, 0, 0),
			steps: []step{
				{op: "acquire", want: allowed(3, 2, 20*time.Second, -1, -1, 0)},
				{op: "acquire", want: allowed(3, 1, 40*time.Second, -1, -1, 0)},
				{op: "acquire", want: allowed(3, 0, time.Minute, -1, -1, 0), header: http.Header{
					"X-Ratelimit-Limit-Requests":     {"3"},
					"X-Ratelimit-Remaining-Requests": {"0"},
					"X-Ratelimit-Reset-Requests":     {"1m0s"},
				}},
				{op: "acquire", want: Decision{Scope: "key:k", Reason: "requests", RetryAfter: 20 * time.Second,
					LimitRequests: 3, RemainingRequests: 0, ResetRequests: time.Minute, LimitTokens: -1, RemainingTokens: -1},
					header: http.Header{
						"X-Ratelimit-Limit-Requests":     {"3"},
						"X-Ratelimit-Remaining-Requests": {"0"},
						"X-Ratelimit-Reset-Requests":     {"1m0s"},
						"Retry-After":                    {"20"},
					}},
			},
		},
		{
			name:   "rpm refusal passes after retry-after",
			window: time.Second,
			rules:  k(2, 0, 0),
			steps: []step{
				{op: "acquire", want: allowed(2, 1, 500*time.Millisecond, -1, -1, 0)},
				{op: "acquire", want: allowed(2, 0, time.Second, -1, -1, 0)},
				{op: "acquire", want: Decision{Scope: "key:k", Reason: "requests", RetryAfter: 500 * time.Millisecond,
					LimitRequests: 2, RemainingRequests: 0, ResetRequests: time.Second, LimitTokens: -1, RemainingTokens: -1}},
				{op: "advance", n: int64(500 * time.Millisecond)},
				{op: "acquire", want: allowed(2, 0, time.Second, -1, -1, 0)},
			},
		},
		{
			name:  "tpm with reconcile",
			rules: k(0, 100, 0),
			steps: []step{
				{op: "acquire", n: 60, want: allowed(-1, -1, 0, 100, 40, 36*time.Second), header: http.Header{
					"X-Ratelimit-Limit-Tokens":     {"100"},
					"X-Ratelimit-Remaining-Tokens": {"40"},
					"X-Ratelimit-Reset-Tokens":     {"36s"},
				}},
				{op: "acquire", n: 50, want: Decision{Scope: "key:k", Reason: "tokens", RetryAfter: 6 * time.Second,
					LimitRequests: -1, RemainingRequests: -1, LimitTokens: 100, RemainingTokens: 40, ResetTokens: 36 * time.Second}},
				{op: "reconcile", lease: 0, n: 20},
				{op: "acquire", n: 50, want: allowed(-1, -1, 0, 100, 30, 42*time.Second)},
				{op: "reconcile", lease: 1, n: 120},
				{op: "acquire", n: 1, want: Decision{Scope: "key:k", Reason: "tokens", RetryAfter: 24600 * time.Millisecond,
					LimitRequests: -1, RemainingRequests: -1, LimitTokens: 100, RemainingTokens: 0, ResetTokens: 84 * time.Second}},
				{op: "reconcile", lease: 1, n: 0},
				{op: "acquire", n: 1, want: allowed(-1, -1, 0, 100, 79, 12600*time.Millisecond)},
			},
		},
		{
			name:  "concurrency with release",
			rules: k(0, 0, 2),
			steps: []step{
				{op: "acquire", want: unlimited},
				{op: "acquire", want: unlimited},
				{op: "acquire", want: Decision{Scope: "key:k", Reason: "concurrency", RetryAfter: time.Second,
					LimitRequests: -1, RemainingRequests: -1, LimitTokens: -1, RemainingTokens: -1}},
				{op: "release", lease: 0},
				{op: "release", lease: 0},
				{op: "acquire", want: unlimited},
				{op: "acquire", want: Decision{Scope: "key:k", Reason: "concurrency", RetryAfter: time.Second,
					LimitRequests: -1, RemainingRequests: -1, LimitTokens: -1, RemainingTokens: -1}},
				{op: "release", lease: 1},
				{op: "release", lease: 2},
				{op: "acquire", want: unlimited},
				{op: "acquire", want: unlimited},
			},
		},
		{
			name:  "all or nothing across rules",
			rules: []Rule{{Scope: "key:a", RPM: 10}, {Scope: "project:b", RPM: 1, TPM: 1000}},
			steps: []step{
				{op: "acquire", n: 100, want: allowed(1, 0, time.Minute, 1000, 900, 6*time.Second)},
				{op: "acquire", n: 100, want: Decision{Scope: "project:b", Reason: "requests", RetryAfter: time.Minute,
					LimitRequests: 1, RemainingRequests: 0, ResetRequests: time.Minute,
					LimitTokens: 1000, RemainingTokens: 900, ResetTokens: 6 * time.Second}},
				{op: "acquire", rules: []Rule{{Scope: "key:a", RPM: 10}}, want: allowed(10, 8, 12*time.Second, -1, -1, 0)},
				{op: "acquire", rules: []Rule{{Scope: "project:b", TPM: 1000}}, want: allowed(-1, -1, 0, 1000, 900, 6*time.Second)},
			},
		},
		{
			name:  "headers from the tightest rule per dimension",
			rules: []Rule{{Scope: "key:a", RPM: 5, TPM: 100}, {Scope: "project:b", RPM: 100, TPM: 10}},
			steps: []step{
				{op: "acquire", n: 5, want: allowed(5, 4, 12*time.Second, 10, 5, 30*time.Second)},
			},
		},
		{
			name:  "absurd reconcile locks out for at most 1000 windows",
			rules: k(0, 10, 0),
			steps: []step{
				{op: "acquire", n: 1, want: allowed(-1, -1, 0, 10, 9, 6*time.Second)},
				{op: "reconcile", lease: 0, n: 1 << 60},
				{op: "acquire", n: 1, want: Decision{Scope: "key:k", Reason: "tokens", RetryAfter: 999*time.Minute + 6*time.Second,
					LimitRequests: -1, RemainingRequests: -1, LimitTokens: 10, RemainingTokens: 0, ResetTokens: 1000 * time.Minute}},
			},
		},
		{
			name:  "request larger than the tpm limit",
			rules: k(0, 10, 0),
			steps: []step{
				{op: "acquire", n: 11, want: Decision{Scope: "key:k", Reason: "tokens", RetryAfter: 6 * time.Second,
					LimitRequests: -1, RemainingRequests: -1, LimitTokens: 10, RemainingTokens: 10}},
			},
		},
	}
	forEachBackend(t, func(t *testing.T, b *backend) {
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				window := tt.window
				if window == 0 {
					window = time.Minute
				}
				l := b.limiter(window)
				defer l.Close()
				ctx := context.Background()
				rules := prefixRules(tt.rules, i)
				var leases []Lease
				for j, s := range tt.steps {
					switch s.op {
					case "advance":
						b.advance(time.Duration(s.n))
					case "reconcile":
						leases[s.lease].Reconcile(ctx, s.n)
					case "release":
						leases[s.lease].Release()
					case "acquire":
						r := rules
						if s.rules != nil {
							r = prefixRules(s.rules, i)
						}
						d, lease, err := l.Acquire(ctx, r, Usage{Tokens: s.n})
						if err != nil {
							t.Fatalf("step %d: %v", j, err)
						}
						if d.Allowed != (lease != nil) {
							t.Fatalf("step %d: allowed %v with lease %v", j, d.Allowed, lease)
						}
						if lease != nil {
							leases = append(leases, lease)
						}
						want := s.want
						want.Scope = prefixScope(want.Scope, i)
						checkDecision(t, b, j, d, want)
						if s.header != nil {
							checkHeader(t, b, j, &d, s.header)
						}
					}
				}
				for _, l := range leases {
					l.Release()
				}
			})
		}
	})
}

// prefixRules gives each case its own scopes, so cases sharing one Redis prefix do not meet.
func prefixRules(rules []Rule, i int) []Rule {
	out := make([]Rule, len(rules))
	for j, r := range rules {
		r.Scope = prefixScope(r.Scope, i)
		out[j] = r
	}
	return out
}

func prefixScope(s string, i int) string {
	if s == "" {
		return ""
	}
	return "case" + strconv.Itoa(i) + ":" + s
}

// tolerance is how far real-clock durations may drift between the steps of a case.
const tolerance = 150 * time.Millisecond

func checkDecision(t *testing.T, b *backend, step int, got, want Decision) {
	t.Helper()
	opt := cmp.Options{}
	if !b.exact {
		opt = append(opt, cmp.Comparer(func(x, y time.Duration) bool {
			return (x - y).Abs() <= tolerance
		}))
	}
	if diff := cmp.Diff(want, got, opt); diff != "" {
		t.Errorf("step %d: decision (-want +got):\n%s", step, diff)
	}
}

func checkHeader(t *testing.T, b *backend, step int, d *Decision, want http.Header) {
	t.Helper()
	got := http.Header{}
	d.Header(got)
	if !b.exact { // reset values move with the real clock
		for _, h := range []http.Header{got, want} {
			h.Del("X-Ratelimit-Reset-Requests")
			h.Del("X-Ratelimit-Reset-Tokens")
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("step %d: header (-want +got):\n%s", step, diff)
	}
}

func TestHeaderFormat(t *testing.T) {
	tests := []struct {
		d    Decision
		want http.Header
	}{
		{
			d: Decision{Allowed: true, LimitRequests: 60, RemainingRequests: 59, ResetRequests: time.Second,
				LimitTokens: 150000, RemainingTokens: 149984, ResetTokens: 6 * time.Millisecond},
			want: http.Header{
				"X-Ratelimit-Limit-Requests": {"60"}, "X-Ratelimit-Remaining-Requests": {"59"}, "X-Ratelimit-Reset-Requests": {"1s"},
				"X-Ratelimit-Limit-Tokens": {"150000"}, "X-Ratelimit-Remaining-Tokens": {"149984"}, "X-Ratelimit-Reset-Tokens": {"6ms"},
			},
		},
		{
			d: Decision{Allowed: true, LimitRequests: 10, RemainingRequests: 0, ResetRequests: 6 * time.Minute,
				LimitTokens: -1, RemainingTokens: -1},
			want: http.Header{"X-Ratelimit-Limit-Requests": {"10"}, "X-Ratelimit-Remaining-Requests": {"0"}, "X-Ratelimit-Reset-Requests": {"6m0s"}},
		},
		{
			d: Decision{LimitRequests: -1, RemainingRequests: -1, LimitTokens: 100, RemainingTokens: 3,
				ResetTokens: 19*time.Millisecond + 100*time.Microsecond, RetryAfter: 200 * time.Millisecond},
			want: http.Header{
				"X-Ratelimit-Limit-Tokens": {"100"}, "X-Ratelimit-Remaining-Tokens": {"3"}, "X-Ratelimit-Reset-Tokens": {"20ms"},
				"Retry-After": {"1"},
			},
		},
		{
			d:    Decision{LimitRequests: -1, RemainingRequests: -1, LimitTokens: -1, RemainingTokens: -1, RetryAfter: 2*time.Second + time.Nanosecond},
			want: http.Header{"Retry-After": {"3"}},
		},
	}
	for _, tt := range tests {
		got := http.Header{}
		tt.d.Header(got)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Header(%+v) (-want +got):\n%s", tt.d, diff)
		}
	}
}

func TestLimiterInvalid(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		l := b.limiter(time.Minute)
		for _, tc := range []struct {
			rules []Rule
			u     Usage
		}{
			{[]Rule{{Scope: "x", RPM: -1}}, Usage{}},
			{[]Rule{{Scope: "x", TPM: 1}}, Usage{Tokens: -1}},
		} {
			if _, _, err := l.Acquire(context.Background(), tc.rules, tc.u); err == nil {
				t.Errorf("Acquire(%v, %v) succeeded", tc.rules, tc.u)
			}
		}
	})
}

// TestLimiterConcurrent has many goroutines race for one limit; with Redis they are
// split across two limiters on two clients, as two replicas would be.
func TestLimiterConcurrent(t *testing.T) {
	tests := []struct {
		name    string
		rule    Rule
		release bool
		want    int64
	}{
		{name: "rpm", rule: Rule{Scope: "key:rpm", RPM: 20}, release: true, want: 20},
		{name: "tpm", rule: Rule{Scope: "key:tpm", TPM: 100}, release: true, want: 10},
		{name: "concurrency", rule: Rule{Scope: "key:conc", Concurrency: 7}, want: 7},
	}
	forEachBackend(t, func(t *testing.T, b *backend) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				limiters := []Limiter{b.limiter(time.Minute)}
				if b.client != nil {
					limiters = append(limiters, newRedis(b.newRedis(), b.prefix, time.Minute, defaultLeaseTTL))
				}
				var ok atomic.Int64
				var mu sync.Mutex
				var held []Lease
				var wg sync.WaitGroup
				for i := range 50 {
					wg.Go(func() {
						d, lease, err := limiters[i%len(limiters)].Acquire(context.Background(), []Rule{tt.rule}, Usage{Tokens: 10})
						if err != nil {
							t.Error(err)
							return
						}
						if !d.Allowed {
							return
						}
						ok.Add(1)
						if tt.release {
							lease.Release()
							return
						}
						mu.Lock()
						held = append(held, lease)
						mu.Unlock()
					})
				}
				wg.Wait()
				if got := ok.Load(); got != tt.want {
					t.Errorf("admitted %d of 50, want %d", got, tt.want)
				}
				for _, l := range held {
					l.Release()
				}
			})
		}
	})
}

func TestRedisLeaseExpires(t *testing.T) {
	b := redisBackend(t)
	l := newRedis(b.client, b.prefix, time.Minute, 300*time.Millisecond)
	rules := []Rule{{Scope: "key:crashy", Concurrency: 1}}
	ctx := context.Background()
	if d, _, err := l.Acquire(ctx, rules, Usage{}); err != nil || !d.Allowed {
		t.Fatalf("first Acquire = %+v, %v", d, err)
	}
	// The lease is never released, as if its replica crashed.
	if d, _, err := l.Acquire(ctx, rules, Usage{}); err != nil || d.Allowed {
		t.Fatalf("second Acquire = %+v, %v; want refused", d, err)
	}
	time.Sleep(400 * time.Millisecond)
	if d, _, err := l.Acquire(ctx, rules, Usage{}); err != nil || !d.Allowed {
		t.Fatalf("Acquire after the lease TTL = %+v, %v; want allowed", d, err)
	}
}

func TestRedisUnreachable(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	ctx := context.Background()
	if _, _, err := NewRedis(c, "x:").Acquire(ctx, []Rule{{Scope: "k", RPM: 1}}, Usage{}); err == nil {
		t.Error("Acquire succeeded without Redis")
	}
	if _, err := NewRedisBudgets(c, "x:", nil).Reserve(ctx, []Budget{{Scope: "b", Limit: 1}}, 1); err == nil || errors.Is(err, ErrInsufficient) {
		t.Errorf("Reserve without Redis = %v, want a connection error", err)
	}
}

func benchAcquire(b *testing.B, l Limiter) {
	rules := []Rule{
		{Scope: "key:k_1", RPM: 1 << 40, TPM: 1 << 50, Concurrency: 1 << 20},
		{Scope: "project:p_1", RPM: 1 << 40, TPM: 1 << 50},
		{Scope: "deployment:d_1", Concurrency: 1 << 20},
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			d, lease, err := l.Acquire(ctx, rules, Usage{Tokens: 500})
			if err != nil || !d.Allowed {
				b.Errorf("Acquire = %+v, %v", d, err)
				return
			}
			lease.Release()
		}
	})
}

func BenchmarkAcquireMemory(b *testing.B) { benchAcquire(b, NewMemory()) }

func BenchmarkAcquireRedis(b *testing.B) {
	be := redisBackend(b)
	benchAcquire(b, NewRedis(be.client, be.prefix))
}
