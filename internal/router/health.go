package router

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"switchyard/internal/provider"
)

// BreakerState is a circuit breaker's state.
type BreakerState int

// Breaker states.
const (
	Closed BreakerState = iota
	Open
	HalfOpen
)

func (s BreakerState) String() string {
	switch s {
	case Open:
		return "open"
	case HalfOpen:
		return "half_open"
	}
	return "closed"
}

const latencyWindow = 128

// health is one deployment's breaker and statistics.
type health struct {
	inflight atomic.Int64
	requests atomic.Int64
	failures atomic.Int64

	mu       sync.Mutex
	state    BreakerState
	fails    int
	openedAt time.Time
	probing  bool
	coolTo   time.Time
	lastErr  string
	lastErrT time.Time
	lat      [latencyWindow]time.Duration
	latN     int
}

func (h *health) coolUntil(t time.Time) {
	h.mu.Lock()
	if t.After(h.coolTo) {
		h.coolTo = t
	}
	h.mu.Unlock()
}

// cooling returns how long until a Retry-After cooldown ends, or 0.
func (h *health) cooling(now time.Time) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if now.Before(h.coolTo) {
		return h.coolTo.Sub(now)
	}
	return 0
}

// allow reports whether d may take a request. With take, it also claims the
// half-open probe slot.
func (r *Router) allow(d *Deployment, now time.Time, take bool) bool {
	h := d.h
	h.mu.Lock()
	defer h.mu.Unlock()
	switch h.state {
	case Closed:
		return true
	case Open:
		if now.Sub(h.openedAt) < r.breaker.Cooldown.D() {
			return false
		}
		if take {
			h.state = HalfOpen
			h.probing = true
			if r.obs != nil {
				r.obs.BreakerState(d.ID, HalfOpen)
			}
		}
		return true
	case HalfOpen:
		if h.probing {
			return false
		}
		if take {
			h.probing = true
		}
		return true
	}
	return false
}

// report records an attempt's outcome. Only upstream faults (unavailable,
// timeout) count against the breaker; rate limits set a cooldown instead,
// and client errors say nothing about the deployment's health.
func (r *Router) report(d *Deployment, err error, took time.Duration) {
	h := d.h
	notSent := errors.Is(err, provider.ErrNotSent)
	if !notSent {
		h.requests.Add(1)
	}
	fault := err != nil && !notSent && (errors.Is(err, provider.ErrUnavailable) || errors.Is(err, provider.ErrTimeout)) &&
		!errors.Is(err, context.Canceled)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil && !notSent && !clientFault(err) {
		h.lastErr = err.Error()
		h.lastErrT = r.clock.Now()
	}
	if err == nil {
		h.lat[h.latN%latencyWindow] = took
		h.latN++
	}
	prev := h.state
	if fault {
		h.failures.Add(1)
		h.fails++
		if h.state == HalfOpen || (r.breaker.Failures > 0 && h.fails >= r.breaker.Failures) {
			h.state = Open
			h.openedAt = r.clock.Now()
		}
	} else if err == nil || !noVerdict(err) {
		h.fails = 0
		h.state = Closed
	}
	if h.state == HalfOpen || prev == HalfOpen {
		h.probing = false
		if h.state == HalfOpen { // probe ended without a verdict (e.g. 429)
			h.state = Open
			h.openedAt = r.clock.Now().Add(-r.breaker.Cooldown.D())
		}
	}
	if h.state != prev && r.obs != nil {
		r.obs.BreakerState(d.ID, h.state)
	}
}

// noVerdict reports whether an attempt that failed with err says nothing
// about the deployment's health either way: it was rate limited, never
// sent, or the client went away before the answer.
func noVerdict(err error) bool {
	return errors.Is(err, provider.ErrRateLimited) || errors.Is(err, context.Canceled) || errors.Is(err, provider.ErrNotSent)
}

// clientFault reports whether err was the caller's doing (a request the
// upstream refused as invalid, a client that went away): it says nothing
// about the deployment and is not its "last error". An upstream 401, 403
// or 404 is kept: it means the deployment's key or model name is wrong.
func clientFault(err error) bool {
	if errors.Is(err, context.Canceled) {
		return true
	}
	var se *provider.StatusError
	if errors.As(err, &se) {
		switch se.Status {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
			return false
		}
	}
	return errors.Is(err, provider.ErrInvalidRequest)
}

func (h *health) snapshot(d *Deployment, now time.Time, cooldown time.Duration) Snapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := Snapshot{
		ID: d.ID, Model: d.Model, Provider: d.Kind, UpstreamModel: d.Upstream, Weight: d.Weight,
		Breaker: h.state.String(), ConsecutiveFailures: h.fails,
		InFlight: h.inflight.Load(), Requests: h.requests.Load(), Failures: h.failures.Load(),
		LastError: h.lastErr,
	}
	s.Healthy = h.state == Closed || (h.state == Open && now.Sub(h.openedAt) >= cooldown)
	if !h.lastErrT.IsZero() {
		s.LastErrorAt = h.lastErrT.UTC().Format(time.RFC3339)
	}
	if now.Before(h.coolTo) {
		s.CooldownUntil = h.coolTo.UTC().Format(time.RFC3339Nano)
	}
	n := min(h.latN, latencyWindow)
	if n > 0 {
		l := make([]time.Duration, n)
		copy(l, h.lat[:n])
		sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
		s.LatencyP50Ms = float64(l[n/2]) / 1e6
		s.LatencyP95Ms = float64(l[min(n-1, n*95/100)]) / 1e6
	}
	return s
}
