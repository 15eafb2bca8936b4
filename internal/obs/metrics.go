// Package obs holds Switchyard's Prometheus metrics. Every name starts with
// switchyard_. Metrics live in a Registry value (not the global one) so
// tests and several in-process servers do not collide.
package obs

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"switchyard/internal/router"
)

// Metrics are the gateway's instruments.
type Metrics struct {
	reg       *prometheus.Registry
	Requests  *prometheus.CounterVec
	Latency   *prometheus.HistogramVec
	TTFT      *prometheus.HistogramVec
	Tokens    *prometheus.CounterVec
	Retries   *prometheus.CounterVec
	Fallbacks *prometheus.CounterVec
	Breaker   *prometheus.GaugeVec
	InFlight  prometheus.Gauge
}

var _ router.Observer = (*Metrics)(nil)

// New registers the instruments on a fresh registry.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	buckets := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}
	m := &Metrics{
		reg: reg,
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_requests_total", Help: "API requests by route, public model, deployment and HTTP status.",
		}, []string{"route", "model", "deployment", "status"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "switchyard_request_duration_seconds", Help: "Whole-request latency, to the last byte.", Buckets: buckets,
		}, []string{"route", "model", "deployment", "status"}),
		TTFT: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "switchyard_upstream_ttft_seconds", Help: "Upstream time to first token (first stream event, or whole answer when not streaming).", Buckets: buckets,
		}, []string{"model", "deployment"}),
		Tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_tokens_total", Help: "Tokens by direction (input, output) as reported by the upstream.",
		}, []string{"model", "deployment", "direction"}),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_retries_total", Help: "Retried upstream attempts, labelled by the deployment retried on.",
		}, []string{"model", "deployment"}),
		Fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_fallbacks_total", Help: "Requests that moved on to a fallback model.",
		}, []string{"from", "to"}),
		Breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchyard_breaker_state", Help: "Circuit breaker state per deployment: 0 closed, 1 open, 2 half-open.",
		}, []string{"deployment"}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchyard_requests_in_flight", Help: "API requests being served now.",
		}),
	}
	reg.MustRegister(m.Requests, m.Latency, m.TTFT, m.Tokens, m.Retries, m.Fallbacks, m.Breaker, m.InFlight)
	return m
}

// Registerer exposes the registry so other packages can add collectors.
func (m *Metrics) Registerer() prometheus.Registerer { return m.reg }

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Retry implements router.Observer.
func (m *Metrics) Retry(model, deployment string) { m.Retries.WithLabelValues(model, deployment).Inc() }

// Fallback implements router.Observer.
func (m *Metrics) Fallback(from, to string) { m.Fallbacks.WithLabelValues(from, to).Inc() }

// BreakerState implements router.Observer.
func (m *Metrics) BreakerState(deployment string, s router.BreakerState) {
	m.Breaker.WithLabelValues(deployment).Set(float64(s))
}

// statusText caches the label strings of common statuses.
var statusText = func() map[int]string {
	t := map[int]string{}
	for s := 100; s < 600; s++ {
		t[s] = strconv.Itoa(s)
	}
	return t
}()

// Status returns the label for an HTTP status without allocating.
func Status(code int) string {
	if s, ok := statusText[code]; ok {
		return s
	}
	return strconv.Itoa(code)
}
