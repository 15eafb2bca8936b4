package router

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchyard/internal/call"
	"switchyard/internal/config"
	"switchyard/internal/provider"
)

// fakeProvider answers with scripted results: the queued ones in order,
// then always (nil: success).
type fakeProvider struct {
	ops []provider.Op // nil: every op

	mu     sync.Mutex
	queue  []error
	always error
	calls  int
}

var _ provider.Supporter = (*fakeProvider)(nil)

func (f *fakeProvider) Do(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	err := f.always
	if len(f.queue) > 0 {
		err, f.queue = f.queue[0], f.queue[1:]
	}
	if err != nil {
		return nil, err
	}
	return &provider.Response{Body: []byte(`{}`)}, nil
}

func (f *fakeProvider) Supports(op provider.Op) bool {
	if f.ops == nil {
		return true
	}
	for _, o := range f.ops {
		if o == op {
			return true
		}
	}
	return false
}

func (f *fakeProvider) Close() error { return nil }

// then queues results for the next calls.
func (f *fakeProvider) then(errs ...error) *fakeProvider {
	f.mu.Lock()
	f.queue = append(f.queue, errs...)
	f.mu.Unlock()
	return f
}

func (f *fakeProvider) fail(err error) {
	f.mu.Lock()
	f.always = err
	f.mu.Unlock()
}

func (f *fakeProvider) called() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// fakeClock advances only when slept on, and records every sleep.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	sleeps  []time.Duration
	onSleep func() // runs as a sleep starts (a test cancels its context here)
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if c.onSleep != nil {
		c.onSleep()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// events records what the router tells its Observer.
type events struct {
	mu  sync.Mutex
	log []string
}

func (e *events) Retry(model, deployment string) { e.add("retry " + model + " " + deployment) }
func (e *events) Fallback(from, to string)       { e.add("fallback " + from + " > " + to) }
func (e *events) BreakerState(d string, s BreakerState) {
	e.add("breaker " + d + " " + s.String())
}

func (e *events) add(s string) {
	e.mu.Lock()
	e.log = append(e.log, s)
	e.mu.Unlock()
}

// take returns the events so far and forgets them.
func (e *events) take() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.log
	e.log = nil
	return out
}

// zero always takes the first choice (and, among least-outstanding ties,
// always replaces: the last of equals wins).
func zero(int) int { return 0 }

// cycle returns 0, 1, 2, … modulo n, and records each n it was asked.
type cycle struct {
	mu   sync.Mutex
	k    int
	asks []int
}

func (c *cycle) intn(n int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asks = append(c.asks, n)
	v := c.k % n
	c.k++
	return v
}

type env struct {
	r     *Router
	clock *fakeClock
	obs   *events
	p     map[string]*fakeProvider // by deployment id
}

var opNames = map[string]provider.Op{"chat": provider.OpChat, "completion": provider.OpCompletion,
	"embedding": provider.OpEmbedding, "classify": provider.OpClassify}

func parse(t *testing.T, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(strings.TrimSpace(yaml)), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// setup builds a router from cfg with a registry holding only the "fake"
// kind, a fake clock and the given source of choices.
func setup(t *testing.T, cfg *config.Config, intn func(int) int) *env {
	t.Helper()
	e := &env{clock: &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}, obs: &events{}, p: map[string]*fakeProvider{}}
	var reg provider.Registry
	reg.Register("fake", func(d provider.Deployment) (provider.Provider, error) {
		var opt struct {
			Ops []string `yaml:"ops"`
		}
		if err := d.Options.Decode(&opt); err != nil {
			return nil, err
		}
		f := &fakeProvider{}
		for _, name := range opt.Ops {
			op, ok := opNames[name]
			if !ok {
				return nil, fmt.Errorf("unknown op %q", name)
			}
			f.ops = append(f.ops, op)
		}
		e.p[d.ID] = f
		return f, nil
	})
	e.r = New(cfg.Router, e.obs)
	e.r.SetClock(e.clock, intn)
	cat, err := e.r.Build(cfg, &reg)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	e.r.Swap(cat)
	t.Cleanup(e.r.Close)
	return e
}

func setupYAML(t *testing.T, yaml string, intn func(int) int) *env {
	t.Helper()
	return setup(t, parse(t, yaml), intn)
}

type result struct {
	tried []string
	plan  Plan
	err   error
}

// serve runs one request the way the gateway does: Next, the provider,
// Report, until the plan says stop.
func (e *env) serve(ctx context.Context, model string, op provider.Op) result {
	p, err := e.r.Plan(model, op)
	if err != nil {
		return result{err: err}
	}
	var res result
	for {
		d, err := p.Next(ctx)
		if err != nil {
			res.err = err
			break
		}
		res.tried = append(res.tried, d.ID)
		_, err = d.Provider.Do(ctx, &provider.Request{Op: op})
		if !p.Report(d, false, err) {
			res.err = err
			break
		}
	}
	res.plan = p
	return res
}

func (e *env) snapshot(t *testing.T, id string) Snapshot {
	t.Helper()
	for _, s := range e.r.Snapshots() {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("no snapshot of %s", id)
	return Snapshot{}
}

func status(code int, retryAfter time.Duration) *provider.StatusError {
	return &provider.StatusError{Status: code, Body: []byte(`{"error":{"message":"scripted"}}`), RetryAfter: retryAfter}
}

var errBoom = errors.New("boom")

// noBreaker keeps the breaker out of tests about something else.
const noBreaker = `
router:
  breaker: {failures: 1000000, cooldown: 30s}
  backoff: {initial: 100ms, max: 1s, max_wait: 10s}
`

func TestWeighted(t *testing.T) {
	tests := []struct {
		name        string
		deployments string
		prep        func(e *env)
		requests    int
		want        map[string]int
		wantAsks    []int // what weighted asked intn for, after prep
	}{
		{
			name:        "weights 3:1 over one cycle of choices",
			deployments: "{id: a, provider: fake, weight: 3}, {id: b, provider: fake, weight: 1}",
			requests:    8,
			want:        map[string]int{"a": 6, "b": 2},
			wantAsks:    []int{4, 4, 4, 4, 4, 4, 4, 4},
		},
		{
			name:        "standby unused while the primary is up",
			deployments: "{id: a, provider: fake, weight: 1}, {id: b, provider: fake, weight: 0}",
			requests:    5,
			want:        map[string]int{"a": 5},
			wantAsks:    []int{1, 1, 1, 1, 1},
		},
		{
			name:        "standby serves while the primary's breaker is open",
			deployments: "{id: a, provider: fake, weight: 1}, {id: b, provider: fake, weight: 0}",
			prep: func(e *env) {
				e.r.breaker.Failures = 1
				e.p["a"].then(status(503, 0))
				e.serve(context.Background(), "m", provider.OpChat) // a opens, b takes the retry
			},
			requests: 4,
			want:     map[string]int{"b": 4},
			wantAsks: []int{1, 1, 1, 1},
		},
		{
			name:        "standby serves while the primary cools down",
			deployments: "{id: a, provider: fake, weight: 1}, {id: b, provider: fake, weight: 0}",
			prep: func(e *env) {
				e.p["a"].then(status(429, time.Minute))
				e.serve(context.Background(), "m", provider.OpChat)
			},
			requests: 3,
			want:     map[string]int{"b": 3},
			wantAsks: []int{1, 1, 1},
		},
		{
			name:        "all standby: uniform",
			deployments: "{id: a, provider: fake, weight: 0}, {id: b, provider: fake, weight: 0}",
			requests:    4,
			want:        map[string]int{"a": 2, "b": 2},
			wantAsks:    []int{2, 2, 2, 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &cycle{}
			e := setupYAML(t, noBreaker+"models:\n  - name: m\n    deployments: ["+tt.deployments+"]\n", c.intn)
			if tt.prep != nil {
				tt.prep(e)
			}
			c.mu.Lock()
			c.k, c.asks = 0, nil
			c.mu.Unlock()
			got := map[string]int{}
			for range tt.requests {
				res := e.serve(context.Background(), "m", provider.OpChat)
				if res.err != nil {
					t.Fatalf("serve: %v", res.err)
				}
				for _, id := range res.tried {
					got[id]++
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("attempts per deployment (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantAsks, c.asks); diff != "" {
				t.Errorf("intn arguments (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLeastOutstanding(t *testing.T) {
	const yaml = noBreaker + `
models:
  - name: m
    strategy: least_outstanding
    deployments: [{id: a, provider: fake}, {id: b, provider: fake}, {id: c, provider: fake}]
`
	t.Run("ties broken by intn", func(t *testing.T) {
		tests := []struct {
			name string
			seq  []int
			want string
		}{
			{"always replace", []int{0, 0}, "c"},
			{"never replace", []int{1, 1}, "a"},
			{"replace once", []int{0, 1}, "b"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var asks []int
				intn := func(n int) int { asks = append(asks, n); return tt.seq[len(asks)-1] }
				e := setupYAML(t, yaml, intn)
				res := e.serve(context.Background(), "m", provider.OpChat)
				if res.err != nil || len(res.tried) != 1 || res.tried[0] != tt.want {
					t.Fatalf("tried %v (err %v), want [%s]", res.tried, res.err, tt.want)
				}
				if diff := cmp.Diff([]int{2, 3}, asks); diff != "" {
					t.Errorf("intn arguments (-want +got):\n%s", diff)
				}
			})
		}
	})
	t.Run("fewest in flight wins", func(t *testing.T) {
		e := setupYAML(t, yaml, func(int) int { return 1 }) // ties keep the first
		ctx := context.Background()
		type held struct {
			p *Plan
			d *Deployment
		}
		var hold []held
		next := func() string {
			p, err := e.r.Plan("m", provider.OpChat)
			if err != nil {
				t.Fatal(err)
			}
			d, err := p.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			hold = append(hold, held{&p, d})
			return d.ID
		}
		var got []string
		for range 5 {
			got = append(got, next())
		}
		if diff := cmp.Diff([]string{"a", "b", "c", "a", "b"}, got); diff != "" {
			t.Errorf("picks while holding (-want +got):\n%s", diff)
		}
		// a and b hold 2, c holds 1: c. Then release one of a's: a.
		if id := next(); id != "c" {
			t.Errorf("with c least loaded, picked %s", id)
		}
		hold[0].p.Report(hold[0].d, false, nil)
		if n := hold[0].d.InFlight(); n != 1 {
			t.Errorf("a in flight after one report = %d, want 1", n)
		}
		if id := next(); id != "a" {
			t.Errorf("with a least loaded, picked %s", id)
		}
		for _, h := range hold[1:] {
			h.p.Report(h.d, false, nil)
		}
		for _, s := range e.r.Snapshots() {
			if s.InFlight != 0 {
				t.Errorf("%s in flight = %d after every report", s.ID, s.InFlight)
			}
		}
	})
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name        string
		maxRetries  int
		deployments []string
		script      map[string][]error // per deployment, in order; then success
		always      map[string]error
		wantTried   []string
		wantErr     error // matched with errors.Is; nil: served
		wantRetries int
	}{
		{
			name: "every deployment once before any twice", maxRetries: 2,
			deployments: []string{"a", "b", "c"},
			always:      map[string]error{"a": status(503, 0), "b": status(503, 0), "c": status(503, 0)},
			wantTried:   []string{"a", "b", "c"}, wantErr: provider.ErrUnavailable, wantRetries: 2,
		},
		{
			name: "more retries than deployments", maxRetries: 3,
			deployments: []string{"a", "b"},
			always:      map[string]error{"a": status(502, 0), "b": status(500, 0)},
			wantTried:   []string{"a", "b", "a", "a"}, wantErr: provider.ErrUnavailable, wantRetries: 3,
		},
		{
			name: "served on the retry", maxRetries: 2,
			deployments: []string{"a", "b"},
			script:      map[string][]error{"a": {status(503, 0)}},
			wantTried:   []string{"a", "b"}, wantRetries: 1,
		},
		{
			name: "a timeout is retried", maxRetries: 1,
			deployments: []string{"a", "b"},
			script:      map[string][]error{"a": {fmt.Errorf("reading: %w", provider.ErrTimeout)}},
			wantTried:   []string{"a", "b"}, wantRetries: 1,
		},
		{
			name: "no retries", maxRetries: 0,
			deployments: []string{"a", "b"},
			script:      map[string][]error{"a": {status(503, 0)}},
			wantTried:   []string{"a"}, wantErr: provider.ErrUnavailable,
		},
		{
			name: "400 stops at once", maxRetries: 2,
			deployments: []string{"a", "b"},
			script:      map[string][]error{"a": {status(400, 0)}},
			wantTried:   []string{"a"}, wantErr: provider.ErrInvalidRequest,
		},
		{
			name: "an unclassified error stops at once", maxRetries: 2,
			deployments: []string{"a", "b"},
			script:      map[string][]error{"a": {errBoom}},
			wantTried:   []string{"a"}, wantErr: errBoom,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ds []string
			for _, id := range tt.deployments {
				ds = append(ds, "{id: "+id+", provider: fake}")
			}
			e := setupYAML(t, noBreaker+fmt.Sprintf("models:\n  - name: m\n    max_retries: %d\n    deployments: [%s]\n",
				tt.maxRetries, strings.Join(ds, ", ")), zero)
			for id, errs := range tt.script {
				e.p[id].then(errs...)
			}
			for id, err := range tt.always {
				e.p[id].fail(err)
			}
			res := e.serve(context.Background(), "m", provider.OpChat)
			if diff := cmp.Diff(tt.wantTried, res.tried); diff != "" {
				t.Errorf("attempts (-want +got):\n%s", diff)
			}
			if (tt.wantErr == nil) != (res.err == nil) || !errors.Is(res.err, tt.wantErr) {
				t.Errorf("err = %v, want %v", res.err, tt.wantErr)
			}
			if res.plan.Attempts != len(tt.wantTried) {
				t.Errorf("Attempts = %d, want %d", res.plan.Attempts, len(tt.wantTried))
			}
			if got := res.plan.Deployment.ID; got != tt.wantTried[len(tt.wantTried)-1] {
				t.Errorf("Deployment = %s, want the last tried", got)
			}
			var retries int
			for _, ev := range e.obs.take() {
				if strings.HasPrefix(ev, "retry m ") {
					retries++
				}
			}
			if retries != tt.wantRetries {
				t.Errorf("Retry events = %d, want %d", retries, tt.wantRetries)
			}
			if n := len(e.clock.slept()); n != tt.wantRetries {
				t.Errorf("backoff sleeps = %d, want one per retry (%d)", n, tt.wantRetries)
			}
			for _, s := range e.r.Snapshots() {
				if s.InFlight != 0 {
					t.Errorf("%s in flight = %d after the request", s.ID, s.InFlight)
				}
			}
		})
	}
}

func TestCommittedStops(t *testing.T) {
	e := setupYAML(t, noBreaker+"models:\n  - name: m\n    deployments: [{id: a, provider: fake}, {id: b, provider: fake}]\n", zero)
	p, _ := e.r.Plan("m", provider.OpChat)
	d, err := p.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p.Report(d, true, status(503, 0)) {
		t.Fatal("Report asked for another attempt after the answer was committed")
	}
	if d, err := p.Next(context.Background()); d != nil || !errors.Is(err, provider.ErrUnavailable) {
		t.Errorf("Next after the end = %v, %v; want nil and the attempt's error", d, err)
	}
	if p.Attempts != 1 {
		t.Errorf("Attempts = %d, want 1", p.Attempts)
	}
}

func TestBackoffDelays(t *testing.T) {
	// initial 100ms doubling, capped at 300ms: retry n waits in [0, min(100ms<<(n-1), 300ms)].
	e := setupYAML(t, `
router:
  breaker: {failures: 1000000}
  backoff: {initial: 100ms, max: 300ms}
models:
  - name: m
    max_retries: 4
    deployments: [{id: a, provider: fake}]
`, zero)
	e.p["a"].fail(status(503, 0))
	bounds := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond}
	const runs = 200
	lo := make([]time.Duration, len(bounds))
	hi := make([]time.Duration, len(bounds))
	for i := range lo {
		lo[i] = time.Hour
	}
	for range runs {
		before := len(e.clock.slept())
		res := e.serve(context.Background(), "m", provider.OpChat)
		if len(res.tried) != 5 {
			t.Fatalf("tried %v, want 5 attempts", res.tried)
		}
		sleeps := e.clock.slept()[before:]
		if len(sleeps) != len(bounds) {
			t.Fatalf("sleeps %v, want %d", sleeps, len(bounds))
		}
		for i, s := range sleeps {
			if s < 0 || s > bounds[i] {
				t.Fatalf("retry %d slept %v, outside [0, %v]", i+1, s, bounds[i])
			}
			lo[i], hi[i] = min(lo[i], s), max(hi[i], s)
		}
	}
	// Full jitter: over 200 runs each delay spreads across its whole range.
	for i, b := range bounds {
		if lo[i] > b/4 || hi[i] < b*3/4 {
			t.Errorf("retry %d delays spanned [%v, %v] of [0, %v]: not full jitter", i+1, lo[i], hi[i], b)
		}
	}
}

func TestRetryAfterCooldown(t *testing.T) {
	const two = noBreaker + `
models:
  - name: m
    max_retries: 2
    deployments: [{id: a, provider: fake}, {id: b, provider: fake}]
`
	ctx := context.Background()

	t.Run("a 429 cools the deployment until Now passes Retry-After", func(t *testing.T) {
		e := setupYAML(t, two, zero)
		e.p["a"].then(status(429, 5*time.Second))
		res := e.serve(ctx, "m", provider.OpChat)
		if diff := cmp.Diff([]string{"a", "b"}, res.tried); diff != "" || res.err != nil {
			t.Fatalf("tried %v err %v, want [a b] served", res.tried, res.err)
		}
		s := e.snapshot(t, "a")
		cooled := e.clock.Now().Add(-e.clock.slept()[0]).Add(5 * time.Second)
		if want := cooled.UTC().Format(time.RFC3339Nano); s.CooldownUntil != want {
			t.Errorf("CooldownUntil = %q, want %q", s.CooldownUntil, want)
		}
		if s.Failures != 0 || s.ConsecutiveFailures != 0 || s.Breaker != "closed" {
			t.Errorf("a 429 counted against the breaker: %+v", s)
		}
		for range 3 { // zero would choose a; it is skipped while cooling
			if res := e.serve(ctx, "m", provider.OpChat); len(res.tried) != 1 || res.tried[0] != "b" {
				t.Fatalf("while a cools: tried %v, want [b]", res.tried)
			}
		}
		e.clock.advance(cooled.Sub(e.clock.Now()))
		if res := e.serve(ctx, "m", provider.OpChat); len(res.tried) != 1 || res.tried[0] != "a" {
			t.Errorf("after the cooldown: tried %v, want [a]", res.tried)
		}
		if s := e.snapshot(t, "a"); s.CooldownUntil != "" {
			t.Errorf("CooldownUntil = %q after it passed", s.CooldownUntil)
		}
	})

	t.Run("all cooling: the plan sleeps exactly until the first cooldown ends", func(t *testing.T) {
		e := setupYAML(t, two, zero)
		e.p["a"].then(status(429, 3*time.Second))
		e.p["b"].then(status(429, 2*time.Second))
		res := e.serve(ctx, "m", provider.OpChat)
		if diff := cmp.Diff([]string{"a", "b", "b"}, res.tried); diff != "" || res.err != nil {
			t.Fatalf("tried %v err %v, want [a b b] served", res.tried, res.err)
		}
		sleeps := e.clock.slept()
		if len(sleeps) != 3 || sleeps[1]+sleeps[2] != 2*time.Second {
			t.Errorf("sleeps %v, want [backoff, backoff, the rest of b's 2s cooldown]", sleeps)
		}
	})

	t.Run("a Retry-After longer than max_wait ends the plan with the 429", func(t *testing.T) {
		e := setupYAML(t, noBreaker+"models:\n  - name: m\n    deployments: [{id: a, provider: fake}]\n", zero)
		e.p["a"].then(status(429, 30*time.Second))
		res := e.serve(ctx, "m", provider.OpChat)
		var se *provider.StatusError
		if !errors.As(res.err, &se) || se.Status != 429 || se.RetryAfter != 30*time.Second {
			t.Fatalf("err = %v, want the upstream's 429", res.err)
		}
		if len(res.tried) != 1 || len(e.clock.slept()) != 0 {
			t.Errorf("tried %v, slept %v; want one attempt and no wait", res.tried, e.clock.slept())
		}
		if res := e.serve(ctx, "m", provider.OpChat); !errors.Is(res.err, ErrNoDeployment) || len(res.tried) != 0 {
			t.Errorf("next request: tried %v err %v, want ErrNoDeployment without an attempt", res.tried, res.err)
		}
	})

	t.Run("a deployment at its own limit is skipped like a 429", func(t *testing.T) {
		e := setupYAML(t, `
router:
  breaker: {failures: 2, cooldown: 30s}
  backoff: {initial: 100ms, max: 1s, max_wait: 10s}
models:
  - name: m
    max_retries: 2
    deployments: [{id: a, provider: fake}, {id: b, provider: fake}]
`, zero)
		e.p["a"].then(status(503, 0)) // one fault: one more would open a
		if res := e.serve(ctx, "m", provider.OpChat); res.err != nil {
			t.Fatal(res.err)
		}
		refusal := &call.Refusal{Kind: call.ErrRateLimited, Message: "deployment a is at its limit", RetryAfter: 4 * time.Second}
		e.p["a"].then(refusal)
		res := e.serve(ctx, "m", provider.OpChat)
		if diff := cmp.Diff([]string{"a", "b"}, res.tried); diff != "" || res.err != nil {
			t.Fatalf("tried %v err %v, want [a b] served", res.tried, res.err)
		}
		s := e.snapshot(t, "a")
		if s.CooldownUntil == "" {
			t.Error("the refusal's RetryAfter set no cooldown")
		}
		if s.Breaker != "closed" || s.ConsecutiveFailures != 1 || s.Failures != 1 {
			t.Errorf("the refusal counted against the breaker: %+v", s)
		}
		if res := e.serve(ctx, "m", provider.OpChat); len(res.tried) != 1 || res.tried[0] != "b" {
			t.Errorf("while a is at its limit: tried %v, want [b]", res.tried)
		}
	})
}

func TestFallbacks(t *testing.T) {
	const yaml = `
router:
  breaker: {failures: 1, cooldown: 30s}
models:
  - name: x
    max_retries: 0
    fallbacks: [y, z]
    deployments: [{id: a, provider: fake}]
  - name: y
    max_retries: 0
    deployments: [{id: b, provider: fake}]
  - name: z
    max_retries: 0
    deployments: [{id: c, provider: fake}]
`
	tests := []struct {
		name          string
		fallbacks     []string // replaces x's (config validation refuses unknown names; a reload race may not)
		script        map[string]error
		prep          func(e *env)
		wantTried     []string
		wantErr       error
		wantFallbacks int
		wantEvents    []string
	}{
		{
			name:      "served by the model: no fallback",
			wantTried: []string{"a"},
		},
		{
			name:          "fallbacks in order",
			script:        map[string]error{"a": status(503, 0), "b": status(500, 0)},
			wantTried:     []string{"a", "b", "c"},
			wantFallbacks: 2,
			wantEvents:    []string{"breaker a open", "fallback x > y", "breaker b open", "fallback y > z"},
		},
		{
			name:          "unknown names are skipped",
			fallbacks:     []string{"ghost", "z"},
			script:        map[string]error{"a": status(503, 0)},
			wantTried:     []string{"a", "c"},
			wantFallbacks: 1,
			wantEvents:    []string{"breaker a open", "fallback x > z"},
		},
		{
			name: "a model with no healthy deployment falls back without an attempt",
			prep: func(e *env) {
				e.p["a"].then(status(503, 0))
				e.serve(context.Background(), "x", provider.OpChat)
				e.obs.take()
			},
			wantTried:     []string{"b"},
			wantFallbacks: 1,
			wantEvents:    []string{"fallback x > y"},
		},
		{
			name:      "a 400 does not fall back",
			script:    map[string]error{"a": status(400, 0)},
			wantTried: []string{"a"},
			wantErr:   provider.ErrInvalidRequest,
		},
		{
			name:          "every model fails: the last error",
			script:        map[string]error{"a": status(503, 0), "b": status(503, 0), "c": status(504, 0)},
			wantTried:     []string{"a", "b", "c"},
			wantErr:       provider.ErrTimeout,
			wantFallbacks: 2,
			wantEvents:    []string{"breaker a open", "fallback x > y", "breaker b open", "fallback y > z", "breaker c open"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := parse(t, yaml)
			if tt.fallbacks != nil {
				cfg.Models[0].Fallbacks = tt.fallbacks
			}
			e := setup(t, cfg, zero)
			if tt.prep != nil {
				tt.prep(e)
			}
			for id, err := range tt.script {
				e.p[id].then(err)
			}
			res := e.serve(context.Background(), "x", provider.OpChat)
			if diff := cmp.Diff(tt.wantTried, res.tried); diff != "" {
				t.Errorf("attempts (-want +got):\n%s", diff)
			}
			if (tt.wantErr == nil) != (res.err == nil) || (tt.wantErr != nil && !errors.Is(res.err, tt.wantErr)) {
				t.Errorf("err = %v, want %v", res.err, tt.wantErr)
			}
			if res.plan.Fallbacks != tt.wantFallbacks {
				t.Errorf("Fallbacks = %d, want %d", res.plan.Fallbacks, tt.wantFallbacks)
			}
			if diff := cmp.Diff(tt.wantEvents, e.obs.take()); diff != "" {
				t.Errorf("observer events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBreaker(t *testing.T) {
	e := setupYAML(t, `
router:
  breaker: {failures: 2, cooldown: 30s}
models:
  - name: m
    max_retries: 0
    deployments: [{id: a, provider: fake}]
`, zero)
	ctx := context.Background()
	steps := []struct {
		name       string
		advance    time.Duration
		answer     error // what a's upstream says when reached
		wantCalled bool
		wantErr    error // errors.Is; nil: served
		wantState  string
		wantEvents []string
	}{
		{name: "one fault stays closed", answer: status(503, 0), wantCalled: true, wantErr: provider.ErrUnavailable, wantState: "closed"},
		{name: "a success resets the count", wantCalled: true, wantState: "closed"},
		{name: "fault 1 of 2", answer: status(500, 0), wantCalled: true, wantErr: provider.ErrUnavailable, wantState: "closed"},
		{name: "a client error resets the count", answer: status(400, 0), wantCalled: true, wantErr: provider.ErrInvalidRequest, wantState: "closed"},
		{name: "fault 1 of 2 again", answer: status(503, 0), wantCalled: true, wantErr: provider.ErrUnavailable, wantState: "closed"},
		{name: "a 429 neither counts nor resets", answer: status(429, 0), wantCalled: true, wantErr: provider.ErrRateLimited, wantState: "closed"},
		{name: "fault 2 of 2 opens", answer: fmt.Errorf("dial: %w", provider.ErrTimeout), wantCalled: true, wantErr: provider.ErrTimeout, wantState: "open",
			wantEvents: []string{"breaker a open"}},
		{name: "open: refused without a call", wantErr: ErrNoDeployment, wantState: "open"},
		{name: "still open just before the cooldown ends", advance: 30*time.Second - time.Nanosecond, wantErr: ErrNoDeployment, wantState: "open"},
		{name: "half-open probe fails: open again", advance: time.Nanosecond, answer: status(502, 0), wantCalled: true, wantErr: provider.ErrUnavailable, wantState: "open",
			wantEvents: []string{"breaker a half_open", "breaker a open"}},
		{name: "reopened: a new cooldown", advance: 29 * time.Second, wantErr: ErrNoDeployment, wantState: "open"},
		{name: "a 429 during the probe: open, probe again at once", advance: time.Second, answer: status(429, 0), wantCalled: true, wantErr: provider.ErrRateLimited, wantState: "open",
			wantEvents: []string{"breaker a half_open", "breaker a open"}},
		{name: "a probe the client cancelled says nothing: open, probe again at once", answer: context.Canceled, wantCalled: true, wantErr: context.Canceled, wantState: "open",
			wantEvents: []string{"breaker a half_open", "breaker a open"}},
		{name: "half-open probe succeeds: closed", wantCalled: true, wantState: "closed",
			wantEvents: []string{"breaker a half_open", "breaker a closed"}},
		{name: "closed serves", wantCalled: true, wantState: "closed"},
	}
	for _, st := range steps {
		e.clock.advance(st.advance)
		before := e.p["a"].called()
		if st.answer != nil {
			e.p["a"].then(st.answer)
		}
		res := e.serve(ctx, "m", provider.OpChat)
		if called := e.p["a"].called() > before; called != st.wantCalled {
			t.Errorf("%s: upstream called = %v, want %v", st.name, called, st.wantCalled)
		}
		if (st.wantErr == nil) != (res.err == nil) || (st.wantErr != nil && !errors.Is(res.err, st.wantErr)) {
			t.Errorf("%s: err = %v, want %v", st.name, res.err, st.wantErr)
		}
		if s := e.snapshot(t, "a"); s.Breaker != st.wantState {
			t.Errorf("%s: breaker %s, want %s", st.name, s.Breaker, st.wantState)
		}
		if diff := cmp.Diff(st.wantEvents, e.obs.take()); diff != "" {
			t.Errorf("%s: events (-want +got):\n%s", st.name, diff)
		}
	}
}

func TestBreakerOneProbe(t *testing.T) {
	e := setupYAML(t, `
router:
  breaker: {failures: 1, cooldown: 30s}
models:
  - name: m
    max_retries: 0
    deployments: [{id: a, provider: fake}]
`, zero)
	ctx := context.Background()
	e.p["a"].then(status(503, 0))
	e.serve(ctx, "m", provider.OpChat)
	if s := e.snapshot(t, "a"); s.Healthy || s.Breaker != "open" {
		t.Fatalf("after the fault: %+v", s)
	}
	e.clock.advance(30 * time.Second)
	if s := e.snapshot(t, "a"); !s.Healthy {
		t.Errorf("open past its cooldown should show healthy (ready to probe): %+v", s)
	}
	probe, _ := e.r.Plan("m", provider.OpChat)
	d, err := probe.Next(ctx)
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	if s := e.snapshot(t, "a"); s.Breaker != "half_open" || s.Healthy {
		t.Errorf("during the probe: %+v", s)
	}
	for i := range 3 {
		if res := e.serve(ctx, "m", provider.OpChat); !errors.Is(res.err, ErrNoDeployment) {
			t.Errorf("request %d during the probe: tried %v err %v, want ErrNoDeployment", i, res.tried, res.err)
		}
	}
	probe.Report(d, false, nil)
	if res := e.serve(ctx, "m", provider.OpChat); res.err != nil {
		t.Errorf("after a good probe: %v", res.err)
	}
}

func TestLastError(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool // kept as the deployment's LastError
	}{
		{"400 is the client's", status(400, 0), false},
		{"422 is the client's", status(422, 0), false},
		{"canceled is the client's", context.Canceled, false},
		{"401 means our key is wrong", status(401, 0), true},
		{"404 means the upstream model name is wrong", status(404, 0), true},
		{"429", status(429, 0), true},
		{"500", status(500, 0), true},
		{"503", status(503, 0), true},
		{"timeout", fmt.Errorf("reading: %w", provider.ErrTimeout), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setupYAML(t, noBreaker+"models:\n  - name: m\n    max_retries: 0\n    deployments: [{id: a, provider: fake}]\n", zero)
			e.p["a"].then(tt.err)
			e.serve(context.Background(), "m", provider.OpChat)
			s := e.snapshot(t, "a")
			if got := s.LastError != ""; got != tt.want {
				t.Errorf("LastError = %q, want kept: %v", s.LastError, tt.want)
			}
			if tt.want && (s.LastError != tt.err.Error() || s.LastErrorAt == "") {
				t.Errorf("LastError = %q at %q, want %q", s.LastError, s.LastErrorAt, tt.err.Error())
			}
			if s.Requests != 1 {
				t.Errorf("Requests = %d, want 1", s.Requests)
			}
		})
	}
}

func TestOps(t *testing.T) {
	e := setupYAML(t, noBreaker+`
models:
  - name: m
    deployments: [{id: a, provider: fake, ops: [chat]}, {id: b, provider: fake, ops: [chat, classify]}]
  - name: chatonly
    deployments: [{id: c, provider: fake, ops: [chat, completion]}]
  - name: any
    deployments: [{id: d, provider: fake}]
`, (&cycle{}).intn)
	cat := e.r.Catalog()
	supports := []struct {
		model string
		op    provider.Op
		want  bool
	}{
		{"m", provider.OpChat, true},
		{"m", provider.OpClassify, true},
		{"m", provider.OpEmbedding, false},
		{"chatonly", provider.OpCompletion, true},
		{"chatonly", provider.OpClassify, false},
		{"any", provider.OpEmbedding, true},
	}
	for _, s := range supports {
		m, ok := cat.Model(s.model)
		if !ok {
			t.Fatalf("no model %s", s.model)
		}
		if got := m.Supports(s.op); got != s.want {
			t.Errorf("%s.Supports(%v) = %v, want %v", s.model, s.op, got, s.want)
		}
	}
	got := map[string]int{}
	for range 6 {
		res := e.serve(context.Background(), "m", provider.OpClassify)
		for _, id := range res.tried {
			got[id]++
		}
	}
	if diff := cmp.Diff(map[string]int{"b": 6}, got); diff != "" {
		t.Errorf("classify attempts (-want +got):\n%s", diff)
	}
	got = map[string]int{}
	for range 6 {
		for _, id := range e.serve(context.Background(), "m", provider.OpChat).tried {
			got[id]++
		}
	}
	if diff := cmp.Diff(map[string]int{"a": 3, "b": 3}, got); diff != "" {
		t.Errorf("chat attempts (-want +got):\n%s", diff)
	}
	if res := e.serve(context.Background(), "chatonly", provider.OpClassify); !errors.Is(res.err, ErrNoDeployment) || len(res.tried) != 0 {
		t.Errorf("classify on chatonly: tried %v err %v, want ErrNoDeployment", res.tried, res.err)
	}
}

func TestPlanErrors(t *testing.T) {
	e := setupYAML(t, noBreaker+"models:\n  - name: m\n    deployments: [{id: a, provider: fake}]\n", zero)
	if _, err := e.r.Plan("nope", provider.OpChat); !errors.Is(err, ErrModelNotFound) {
		t.Errorf("Plan(nope) = %v, want ErrModelNotFound", err)
	}
	if !errors.Is(ErrNoDeployment, provider.ErrUnavailable) {
		t.Error("ErrNoDeployment should be a kind of provider.ErrUnavailable")
	}
	if _, ok := e.r.Catalog().Model("nope"); ok {
		t.Error("Catalog.Model(nope) found a model")
	}
}

func TestContextCancel(t *testing.T) {
	const yaml = noBreaker + "models:\n  - name: m\n    max_retries: 2\n    deployments: [{id: a, provider: fake}]\n"
	tests := []struct {
		name   string
		answer error
	}{
		{"during the backoff", status(503, 0)},
		{"during a cooldown wait", status(429, 2*time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setupYAML(t, yaml, zero)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			e.clock.onSleep = cancel
			e.p["a"].then(tt.answer)
			res := e.serve(ctx, "m", provider.OpChat)
			if !errors.Is(res.err, context.Canceled) {
				t.Errorf("err = %v, want context.Canceled", res.err)
			}
			if len(res.tried) != 1 || len(e.clock.slept()) != 0 {
				t.Errorf("tried %v slept %v; want one attempt and the sleep cut short", res.tried, e.clock.slept())
			}
		})
	}
	t.Run("before the first attempt", func(t *testing.T) {
		e := setupYAML(t, yaml, zero)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if res := e.serve(ctx, "m", provider.OpChat); !errors.Is(res.err, context.Canceled) || len(res.tried) != 0 {
			t.Errorf("tried %v err %v, want context.Canceled and no attempt", res.tried, res.err)
		}
	})
	t.Run("the real clock's sleep", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := (realClock{}).Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
			t.Errorf("Sleep on a canceled context = %v", err)
		}
		if err := (realClock{}).Sleep(context.Background(), 0); err != nil {
			t.Errorf("Sleep(0) = %v", err)
		}
	})
}

// A client that hangs up during a retry's backoff must not leave a
// half-open deployment's probe slot claimed: the next request probes it.
func TestCancelledBackoffLeavesProbeFree(t *testing.T) {
	e := setupYAML(t, `
router:
  breaker: {failures: 1, cooldown: 30s}
models:
  - name: m
    max_retries: 1
    deployments: [{id: a, provider: fake}, {id: b, provider: fake}]
`, zero)
	ctx := context.Background()
	// Open b's breaker: a is cooling, so b serves and fails.
	e.p["a"].then(status(429, time.Second))
	e.p["b"].then(status(503, 0))
	e.serve(ctx, "m", provider.OpChat)
	if s := e.snapshot(t, "b"); s.Breaker != "open" {
		t.Fatalf("b's breaker %s, want open", s.Breaker)
	}
	e.clock.advance(31 * time.Second)
	// a fails with a 429; the client hangs up during the backoff before b.
	e.p["a"].then(status(429, 0))
	cctx, cancel := context.WithCancel(ctx)
	e.clock.onSleep = cancel
	if res := e.serve(cctx, "m", provider.OpChat); !errors.Is(res.err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", res.err)
	}
	e.clock.onSleep = nil
	if s := e.snapshot(t, "b"); s.Breaker != "open" {
		t.Errorf("after the cancelled backoff b's breaker is %s, want open (its probe unclaimed)", s.Breaker)
	}
	e.p["a"].then(status(503, 0))
	res := e.serve(ctx, "m", provider.OpChat)
	if !slices.Contains(res.tried, "b") {
		t.Errorf("the next request tried %v: b is never probed again", res.tried)
	}
}

// An attempt refused before the upstream was called (the deployment's own
// limits, or their backend being down) says nothing of its health: not a
// request, not its last error, and no verdict for a half-open probe.
func TestNotSentIsNoVerdict(t *testing.T) {
	e := setupYAML(t, `
router:
  breaker: {failures: 1, cooldown: 30s}
models:
  - name: m
    max_retries: 0
    deployments: [{id: a, provider: fake}]
`, zero)
	ctx := context.Background()
	e.p["a"].then(status(503, 0))
	e.serve(ctx, "m", provider.OpChat) // opens the breaker
	e.clock.advance(31 * time.Second)
	p, err := e.r.Plan("m", provider.OpChat)
	if err != nil {
		t.Fatal(err)
	}
	d, err := p.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := e.snapshot(t, "a")
	p.Report(d, false, fmt.Errorf("%w: limits backend down", provider.ErrNotSent))
	s := e.snapshot(t, "a")
	if s.Requests != before.Requests || s.LastError != before.LastError || s.Breaker != "open" {
		t.Errorf("after a refusal before sending: %+v (before %+v), want no request, the same last error, breaker open", s, before)
	}
	if res := e.serve(ctx, "m", provider.OpChat); res.err != nil || len(res.tried) != 1 {
		t.Errorf("the next request: tried %v err %v, want the probe served", res.tried, res.err)
	}
}

// A deployment refused at its own limit before anything was sent is not a
// retry: with max_retries 0 the next deployment is still tried, at once.
func TestNotSentIsNotARetry(t *testing.T) {
	e := setupYAML(t, `
models:
  - name: m
    max_retries: 0
    deployments: [{id: a, provider: fake}, {id: b, provider: fake}]
`, zero)
	ctx := context.Background()
	p, err := e.r.Plan("m", provider.OpChat)
	if err != nil {
		t.Fatal(err)
	}
	d, err := p.Next(ctx)
	if err != nil || d.ID != "a" {
		t.Fatalf("first: %v %v", d, err)
	}
	limit := fmt.Errorf("%w: %w", provider.ErrNotSent, &provider.StatusError{Status: 429, RetryAfter: time.Second})
	if !p.Report(d, false, limit) {
		t.Fatal("Report says stop after a refusal before sending")
	}
	d, err = p.Next(ctx)
	if err != nil || d.ID != "b" {
		t.Fatalf("after a's refusal: %v %v, want b", d, err)
	}
	if s := e.clock.slept(); len(s) != 0 {
		t.Errorf("slept %v before b, want no backoff", s)
	}
	p.Report(d, false, nil)
}
