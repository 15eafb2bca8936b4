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
	now    func() time.Time
}

// New returns a router with an empty catalog.
func New(rc config.Router, obs Observer) *Router {
	r := &Router{obs: obs, breaker: rc.Breaker, backoff: rc.Backoff, health: map[string]*health{}, now: time.Now}
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
		m := &Model{Name: mc.Name, Fallbacks: mc.Fallbacks, MaxRetries: *mc.MaxRetries, Strategy: mc.Strategy, Created: now}
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

// Attempt is one try on a deployment. It returns nil when the request was
// served (for a stream: once its first event reached the client) and an
// error otherwise; committed reports whether anything reached the client,
// after which the router never retries.
type Attempt func(ctx context.Context, d *Deployment) (committed bool, err error)

// Result describes how a request was routed.
type Result struct {
	Deployment *Deployment // the one that served it, or the last one tried
	Attempts   int
	Fallbacks  int
}

// Do routes one request for the public model name, calling try on chosen
// deployments until one succeeds, an error is not retryable, or retries and
// fallbacks are exhausted. It returns the last error.
func (r *Router) Do(ctx context.Context, name string, try Attempt) (Result, error) {
	cat := r.cat.Load()
	m, ok := cat.models[name]
	if !ok {
		return Result{}, ErrModelNotFound
	}
	var res Result
	var lastErr error
	chain := append(make([]string, 0, 4), m.Name)
	chain = append(chain, m.Fallbacks...)
	for ci, mn := range chain {
		mm, ok := cat.models[mn]
		if !ok {
			continue
		}
		if ci > 0 {
			res.Fallbacks++
			if r.obs != nil {
				r.obs.Fallback(chain[ci-1], mn)
			}
		}
		var tried [8]*Deployment
		ntried := 0
		for attempt := 0; attempt <= mm.MaxRetries; attempt++ {
			d, wait := r.pick(mm, tried[:min(ntried, len(tried))])
			if d == nil && wait > 0 && wait <= r.backoff.MaxWait.D() {
				if err := sleep(ctx, wait); err != nil {
					return res, err
				}
				d, _ = r.pick(mm, tried[:min(ntried, len(tried))])
			}
			if d == nil {
				if lastErr == nil {
					lastErr = ErrNoDeployment
				}
				break
			}
			if attempt > 0 {
				if r.obs != nil {
					r.obs.Retry(mm.Name, d.ID)
				}
				if err := sleep(ctx, r.delay(attempt)); err != nil {
					return res, err
				}
			}
			if ntried < len(tried) {
				tried[ntried] = d
			}
			ntried++
			res.Deployment = d
			res.Attempts++
			start := r.now()
			d.h.inflight.Add(1)
			committed, err := try(ctx, d)
			d.h.inflight.Add(-1)
			r.report(d, err, r.now().Sub(start))
			if err == nil {
				return res, nil
			}
			lastErr = err
			if committed || ctx.Err() != nil || !provider.Retryable(err) {
				return res, err
			}
			if ra := provider.RetryAfterOf(err); ra > 0 {
				d.h.coolUntil(r.now().Add(ra))
			}
		}
	}
	if lastErr == nil {
		lastErr = ErrNoDeployment
	}
	return res, lastErr
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
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
func (r *Router) pick(m *Model, tried []*Deployment) (*Deployment, time.Duration) {
	now := r.now()
	var cand [16]*Deployment
	var wait time.Duration
	for pass := 0; pass < 2; pass++ {
		n := 0
		for _, d := range m.Deployments {
			if pass == 0 && contains(tried, d) {
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
				d = leastOutstanding(cand[:n])
			} else {
				d = weighted(cand[:n])
			}
			if r.allow(d, now, true) {
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

func weighted(ds []*Deployment) *Deployment {
	total := 0
	for _, d := range ds {
		total += d.Weight
	}
	if total <= 0 { // all standby (weight 0): choose uniformly
		return ds[rand.IntN(len(ds))]
	}
	x := rand.IntN(total)
	for _, d := range ds {
		x -= d.Weight
		if x < 0 {
			return d
		}
	}
	return ds[len(ds)-1]
}

func leastOutstanding(ds []*Deployment) *Deployment {
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
			if rand.IntN(ties) == 0 { // reservoir choice among equals
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
	now := r.now()
	for _, m := range r.cat.Load().order {
		for _, d := range m.Deployments {
			out = append(out, d.h.snapshot(d, now, r.breaker.Cooldown.D()))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Model < out[j].Model })
	return out
}
