// Package router maps a public model name to the deployments that serve it
// and decides, per request, which deployment to try next: weighted random
// or least-outstanding selection, retries with exponential backoff and
// jitter, Retry-After cooldowns, per-deployment circuit breakers, and the
// model's fallbacks in order.
package router

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"switchyard/internal/config"
	"switchyard/internal/provider"
)

// ErrModelNotFound is returned for a public name that is not configured.
var ErrModelNotFound = errors.New("model not found")

// ErrNoDeployment is returned when every deployment of every model in the
// chain is unavailable (breaker open or cooling down) before any attempt.
var ErrNoDeployment = fmt.Errorf("no healthy deployment: %w", provider.ErrUnavailable)

// CoolingError says every deployment is waiting out a Retry-After longer
// than the router may wait for: the caller should come back after Wait. It
// matches provider.ErrRateLimited and ErrNoDeployment.
type CoolingError struct{ Wait time.Duration }

func (e *CoolingError) Error() string {
	return "every deployment is rate limited for " + e.Wait.Round(time.Millisecond).String()
}

// Is matches provider.ErrRateLimited and ErrNoDeployment.
func (e *CoolingError) Is(target error) bool {
	return target == provider.ErrRateLimited || target == ErrNoDeployment
}

// RetryDelay is how long until the first cooldown ends.
func (e *CoolingError) RetryDelay() time.Duration { return e.Wait }

// Deployment is one configured upstream of a model.
type Deployment struct {
	ID       string
	Model    string // public name
	Upstream string // model name sent upstream
	Kind     string
	Weight   int
	Price    *config.Price
	Provider provider.Provider

	h *health
}

// InFlight is the number of requests now being served by d.
func (d *Deployment) InFlight() int64 { return d.h.inflight.Load() }

// Model is a public model name with its deployments and fallbacks.
type Model struct {
	Name        string
	Fallbacks   []string
	MaxRetries  int
	Strategy    string
	Deployments []*Deployment
	Created     int64
	// Passthrough: unknown /v1 paths naming this model go upstream.
	Passthrough bool
}

// Observer receives routing events (metrics). Implementations must be fast.
type Observer interface {
	Retry(model, deployment string)
	Fallback(from, to string)
	BreakerState(deployment string, state BreakerState)
}

// Catalog is an immutable view of the configured models.
type Catalog struct {
	models map[string]*Model
	order  []*Model
}

// Model looks up a public model name.
func (c *Catalog) Model(name string) (*Model, bool) {
	m, ok := c.models[name]
	return m, ok
}

// Supports reports whether some deployment of m serves op.
func (m *Model) Supports(op provider.Op) bool {
	for _, d := range m.Deployments {
		if provider.Supports(d.Provider, op) {
			return true
		}
	}
	return false
}

// Models lists the models in config order.
func (c *Catalog) Models() []*Model { return c.order }

// Router routes requests over a catalog that can be swapped at runtime.
type Router struct {
	cat     atomic.Pointer[Catalog]
	obs     Observer
	breaker config.Breaker
	backoff config.Backoff

	mu     sync.Mutex
	health map[string]*health // by deployment id, survives reloads
	clock  Clock
	rand   func(n int) int // rand.IntN, or a seeded source in tests
}

// New returns a router with an empty catalog.
func New(rc config.Router, obs Observer) *Router {
	r := &Router{obs: obs, breaker: rc.Breaker, backoff: rc.Backoff, health: map[string]*health{}, clock: realClock{}, rand: rand.IntN}
	r.cat.Store(&Catalog{models: map[string]*Model{}})
	return r
}

// Catalog returns the current catalog.
func (r *Router) Catalog() *Catalog { return r.cat.Load() }

// Build turns configuration into a catalog, creating providers through reg.
// It does not install it; call Swap. On error nothing is leaked.
func (r *Router) Build(cfg *config.Config, reg *provider.Registry) (*Catalog, error) {
	c := &Catalog{models: map[string]*Model{}}
	var errs []error
	now := time.Now().Unix()
	for _, mc := range cfg.Models {
		m := &Model{Name: mc.Name, Fallbacks: mc.Fallbacks, MaxRetries: *mc.MaxRetries, Strategy: mc.Strategy, Created: now,
			Passthrough: mc.Passthrough}
		for _, dc := range mc.Deployments {
			p, err := reg.New(dc)
			if err != nil {
				errs = append(errs, &config.FieldError{File: cfg.File, Line: dc.Line, Field: "deployment " + dc.ID, Msg: err.Error()})
				continue
			}
			m.Deployments = append(m.Deployments, &Deployment{
				ID: dc.ID, Model: mc.Name, Upstream: dc.Model, Kind: dc.Provider,
				Weight: *dc.Weight, Price: dc.Price, Provider: p, h: r.healthFor(dc.ID),
			})
		}
		c.models[m.Name] = m
		c.order = append(c.order, m)
	}
	if err := errors.Join(errs...); err != nil {
		closeCatalog(c)
		return nil, err
	}
	return c, nil
}

// Swap installs c and returns the previous catalog. In-flight requests keep
// the deployments they hold; close the old catalog's providers after a grace
// period (CloseAfter).
func (r *Router) Swap(c *Catalog) *Catalog { return r.cat.Swap(c) }

// CloseAfter closes c's providers once no request is in flight on them, or
// after max at the latest.
func CloseAfter(c *Catalog, max time.Duration) {
	if c == nil {
		return
	}
	go func() {
		deadline := time.Now().Add(max)
		for time.Now().Before(deadline) {
			busy := false
			for _, m := range c.order {
				for _, d := range m.Deployments {
					if d.h.inflight.Load() > 0 {
						busy = true
					}
				}
			}
			if !busy {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		closeCatalog(c)
	}()
}

func closeCatalog(c *Catalog) {
	for _, m := range c.order {
		for _, d := range m.Deployments {
			d.Provider.Close()
		}
	}
}

// Close closes the current catalog's providers.
func (r *Router) Close() { closeCatalog(r.cat.Load()) }

func (r *Router) healthFor(id string) *health {
	r.mu.Lock()
	defer r.mu.Unlock()
	h, ok := r.health[id]
	if !ok {
		h = &health{}
		r.health[id] = h
	}
	return h
}

// Plan is one request's way through a model's deployments and then its
// fallbacks, in order. The gateway drives it: Next gives the deployment to
// try (waiting out backoff and Retry-After cooldowns), Report records the
// attempt's outcome and says whether to try again. Routing never calls
// back into the caller.
type Plan struct {
	r     *Router
	cat   *Catalog
	op    provider.Op
	chain [8]string // the model, then its fallbacks (at most 7 are followed)
	n, ci int
	m     *Model
	retry int  // attempts made on the current model
	slept bool // the backoff before the next attempt is done
	free  int  // attempts refused before sending, not counted as retries

	tried  [8]*Deployment
	ntried int
	last   error
	done   bool
	start  time.Time

	// Deployment is the one that served the request, or the last one tried.
	Deployment *Deployment
	// Attempts and Fallbacks count what the request took.
	Attempts, Fallbacks int
}

// Plan starts routing a request for op on the public model name. Only
// deployments that serve op are tried.
func (r *Router) Plan(name string, op provider.Op) (Plan, error) {
	cat := r.cat.Load()
	m, ok := cat.models[name]
	if !ok {
		return Plan{}, ErrModelNotFound
	}
	p := Plan{r: r, cat: cat, m: m, op: op}
	p.chain[0] = m.Name
	p.n = 1 + copy(p.chain[1:], m.Fallbacks)
	return p, nil
}

// Next returns the deployment to try next, after waiting for backoff or a
// cooldown. When nothing is left to try it returns the error to answer
// with: the last attempt's, ErrNoDeployment, or the context's.
func (p *Plan) Next(ctx context.Context) (*Deployment, error) {
	r := p.r
	for !p.done {
		if err := ctx.Err(); err != nil {
			p.done = true
			return nil, err
		}
		if p.retry > p.m.MaxRetries {
			if !p.nextModel() {
				break
			}
			continue
		}
		tried := p.tried[:min(p.ntried, len(p.tried))]
		if p.retry > 0 && !p.slept {
			// Back off before choosing, when there is something to choose:
			// a deployment's half-open probe slot, once claimed by pick,
			// must not wait out a sleep that the client may cancel (the
			// slot would stay claimed).
			if d, wait := r.choose(p.m, p.op, tried, false); d != nil || (wait > 0 && wait <= r.backoff.MaxWait.D()) {
				if err := r.clock.Sleep(ctx, r.delay(p.retry)); err != nil {
					p.done = true
					return nil, err
				}
			}
			p.slept = true
		}
		d, wait := r.pick(p.m, p.op, tried)
		if d == nil && wait > 0 && wait <= r.backoff.MaxWait.D() {
			if err := r.clock.Sleep(ctx, wait); err != nil {
				p.done = true
				return nil, err
			}
			d, _ = r.pick(p.m, p.op, tried)
		}
		if d == nil {
			if p.last == nil && wait > 0 {
				p.last = &CoolingError{Wait: wait}
			} else if p.last == nil {
				p.last = ErrNoDeployment
			}
			if !p.nextModel() {
				break
			}
			continue
		}
		if p.retry > 0 && r.obs != nil {
			r.obs.Retry(p.m.Name, d.ID)
		}
		p.retry++
		p.slept = false
		if p.ntried < len(p.tried) {
			p.tried[p.ntried] = d
		}
		p.ntried++
		p.Deployment = d
		p.Attempts++
		p.start = r.clock.Now()
		d.h.inflight.Add(1)
		return d, nil
	}
	p.done = true
	if p.last == nil {
		p.last = ErrNoDeployment
	}
	return nil, p.last
}

// nextModel moves to the next configured model of the chain.
func (p *Plan) nextModel() bool {
	for p.ci++; p.ci < p.n; p.ci++ {
		mm, ok := p.cat.models[p.chain[p.ci]]
		if !ok {
			continue
		}
		p.Fallbacks++
		if p.r.obs != nil {
			p.r.obs.Fallback(p.m.Name, mm.Name) // from the model last routed, not a skipped name
		}
		p.m, p.retry, p.ntried, p.slept, p.free = mm, 0, 0, false, 0
		return true
	}
	return false
}

// Report records how the attempt on d (the one Next returned) ended: err
// is nil when the request was served, and committed says whether anything
// reached the client (after which nothing is retried). It reports whether
// to call Next again.
func (p *Plan) Report(d *Deployment, committed bool, err error) (again bool) {
	r := p.r
	d.h.inflight.Add(-1)
	r.report(d, err, r.clock.Now().Sub(p.start))
	if err == nil {
		p.done, p.last = true, nil
		return false
	}
	p.last = err
	if committed || !provider.Retryable(err) {
		p.done = true
		return false
	}
	if ra := provider.RetryAfterOf(err); ra > 0 {
		d.h.coolUntil(r.clock.Now().Add(ra))
	}
	if errors.Is(err, provider.ErrNotSent) && p.free < len(p.m.Deployments) {
		// Refused before sending (the deployment's own limit): moving on
		// to another deployment is not a retry, and needs no backoff.
		p.free++
		p.retry--
		p.slept = true
	}
	return true
}

// Clock is the router's time: the real one, or a fake in tests.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done (then it returns ctx's error).
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// SetClock replaces the router's clock and its source of random choices
// (tests); call it before routing. A nil intn keeps rand.IntN.
func (r *Router) SetClock(c Clock, intn func(n int) int) {
	r.clock = c
	if intn != nil {
		r.rand = intn
	}
}

// delay is exponential backoff with full jitter for the given retry number.
func (r *Router) delay(retry int) time.Duration {
	base := r.backoff.Initial.D()
	if base <= 0 {
		return 0
	}
	d := base << min(retry-1, 20)
	if max := r.backoff.Max.D(); max > 0 && d > max {
		d = max
	}
	return time.Duration(rand.Int64N(int64(d) + 1))
}

// pick chooses a deployment of m, preferring ones not yet tried. When none
// is available only because of Retry-After cooldowns, it returns nil and how
// long until the first cooldown ends.
func (r *Router) pick(m *Model, op provider.Op, tried []*Deployment) (*Deployment, time.Duration) {
	return r.choose(m, op, tried, true)
}

// choose is pick; without claim it only looks (a half-open deployment's
// probe slot is not taken).
func (r *Router) choose(m *Model, op provider.Op, tried []*Deployment, claim bool) (*Deployment, time.Duration) {
	now := r.clock.Now()
	var cand [16]*Deployment
	var wait time.Duration
	for pass := 0; pass < 2; pass++ {
		n := 0
		for _, d := range m.Deployments {
			if (pass == 0 && contains(tried, d)) || !provider.Supports(d.Provider, op) {
				continue
			}
			if until := d.h.cooling(now); until > 0 {
				if wait == 0 || until < wait {
					wait = until
				}
				continue
			}
			if !r.allow(d, now, false) {
				continue
			}
			if n < len(cand) {
				cand[n] = d
				n++
			}
		}
		if n > 0 {
			var d *Deployment
			if m.Strategy == "least_outstanding" {
				d = leastOutstanding(cand[:n], r.rand)
			} else {
				d = weighted(cand[:n], r.rand)
			}
			if r.allow(d, now, claim) {
				return d, 0
			}
		}
	}
	return nil, wait
}

func contains(ds []*Deployment, d *Deployment) bool {
	for _, x := range ds {
		if x == d {
			return true
		}
	}
	return false
}

func weighted(ds []*Deployment, intn func(int) int) *Deployment {
	total := 0
	for _, d := range ds {
		total += d.Weight
	}
	if total <= 0 { // all standby (weight 0): choose uniformly
		return ds[intn(len(ds))]
	}
	x := intn(total)
	for _, d := range ds {
		x -= d.Weight
		if x < 0 {
			return d
		}
	}
	return ds[len(ds)-1]
}

func leastOutstanding(ds []*Deployment, intn func(int) int) *Deployment {
	best := ds[0]
	bestN := best.h.inflight.Load()
	ties := 1
	for _, d := range ds[1:] {
		n := d.h.inflight.Load()
		switch {
		case n < bestN:
			best, bestN, ties = d, n, 1
		case n == bestN:
			ties++
			if intn(ties) == 0 { // reservoir choice among equals
				best = d
			}
		}
	}
	return best
}

// Snapshot is a deployment's state for /api/deployments.
type Snapshot struct {
	ID                  string  `json:"id"`
	Model               string  `json:"model"`
	Provider            string  `json:"provider"`
	UpstreamModel       string  `json:"upstream_model"`
	Weight              int     `json:"weight"`
	Healthy             bool    `json:"healthy"`
	Breaker             string  `json:"breaker"`
	ConsecutiveFailures int     `json:"consecutive_failures"`
	InFlight            int64   `json:"in_flight"`
	Requests            int64   `json:"requests"`
	Failures            int64   `json:"failures"`
	LatencyP50Ms        float64 `json:"latency_p50_ms"`
	LatencyP95Ms        float64 `json:"latency_p95_ms"`
	LastError           string  `json:"last_error,omitempty"`
	LastErrorAt         string  `json:"last_error_at,omitempty"`
	CooldownUntil       string  `json:"cooldown_until,omitempty"`
}

// Snapshots reports every deployment of the current catalog.
func (r *Router) Snapshots() []Snapshot {
	var out []Snapshot
	now := r.clock.Now()
	for _, m := range r.cat.Load().order {
		for _, d := range m.Deployments {
			out = append(out, d.h.snapshot(d, now, r.breaker.Cooldown.D()))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Model < out[j].Model })
	return out
}
