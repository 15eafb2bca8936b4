package limits

import (
	"context"
	"errors"
	"math"
	"math/bits"
	"net/http"
	"strconv"
	"time"
)

// Rule limits one scope. Zero means unlimited for that dimension.
type Rule struct {
	Scope       string // e.g. "key:k_123", "project:p_1", "deployment:vllm-a"
	RPM         int64  // requests per minute
	TPM         int64  // tokens per minute
	Concurrency int64  // requests in flight
}

// limited reports whether the rule limits anything.
func (r Rule) limited() bool { return r.RPM > 0 || r.TPM > 0 || r.Concurrency > 0 }

// Usage is what a request asks for.
type Usage struct {
	Tokens int64 // estimated tokens (prompt + max output estimate)
}

// Decision says whether the request may go, and carries OpenAI's rate-limit header values
// for the most constrained rule (the one with the least remaining requests; tokens likewise,
// separately). When the request is admitted the remaining values already count it; when it
// is refused they describe the state it was refused in.
type Decision struct {
	Allowed    bool
	Scope      string        // the scope that refused (when !Allowed)
	Reason     string        // "requests", "tokens" or "concurrency" (when !Allowed)
	RetryAfter time.Duration // when !Allowed: how long until this request could pass

	LimitRequests, RemainingRequests int64         // -1 when no rule limits requests
	ResetRequests                    time.Duration // time until the request budget is full again
	LimitTokens, RemainingTokens     int64         // -1 when no rule limits tokens
	ResetTokens                      time.Duration
}

// Reasons a request is refused, as found in Decision.Reason.
const (
	ReasonRequests    = "requests"
	ReasonTokens      = "tokens"
	ReasonConcurrency = "concurrency"
)

// concurrencyRetry is the RetryAfter suggested when a concurrency limit refuses: nobody
// knows when an in-flight request ends.
const concurrencyRetry = time.Second

// defaultWindow is the length of the RPM/TPM window.
const defaultWindow = time.Minute

// Header writes x-ratelimit-limit-requests, x-ratelimit-remaining-requests,
// x-ratelimit-reset-requests and the -tokens trio (only for dimensions that are limited),
// reset formatted like OpenAI ("1s", "6m0s", "20ms"), plus retry-after (whole seconds, at
// least 1) when !Allowed.
func (d *Decision) Header(h http.Header) {
	// Canonical keys assigned directly: this runs on every response.
	if d.LimitRequests >= 0 {
		h["X-Ratelimit-Limit-Requests"] = []string{strconv.FormatInt(d.LimitRequests, 10)}
		h["X-Ratelimit-Remaining-Requests"] = []string{strconv.FormatInt(d.RemainingRequests, 10)}
		h["X-Ratelimit-Reset-Requests"] = []string{formatReset(d.ResetRequests)}
	}
	if d.LimitTokens >= 0 {
		h["X-Ratelimit-Limit-Tokens"] = []string{strconv.FormatInt(d.LimitTokens, 10)}
		h["X-Ratelimit-Remaining-Tokens"] = []string{strconv.FormatInt(d.RemainingTokens, 10)}
		h["X-Ratelimit-Reset-Tokens"] = []string{formatReset(d.ResetTokens)}
	}
	if !d.Allowed {
		h["Retry-After"] = []string{strconv.FormatInt(retrySeconds(d.RetryAfter), 10)}
	}
}

// formatReset rounds d up to whole milliseconds (so a client never retries early) and
// formats it the way time.Duration does, which is what OpenAI sends: "20ms", "1s", "6m0s".
func formatReset(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	return ceilTo(d, time.Millisecond).String()
}

// retrySeconds is d rounded up to whole seconds, at least 1.
func retrySeconds(d time.Duration) int64 {
	s := int64(ceilTo(d, time.Second) / time.Second)
	return max(s, 1)
}

func ceilTo(d, unit time.Duration) time.Duration {
	if r := d % unit; r != 0 {
		return d - r + unit
	}
	return d
}

// Lease is held for an admitted request.
type Lease interface {
	// Reconcile replaces the estimated token count with the actual one (may be more or less).
	Reconcile(ctx context.Context, actualTokens int64)
	// Release ends the request (frees its concurrency slot). Safe to call twice.
	Release()
}

// Limiter admits requests. Acquire checks ALL rules atomically: either every rule admits
// (and the request is counted against every one) or nothing is counted. A refusal is not
// an error: it comes back as a Decision with Allowed false and a nil Lease. Errors are
// for invalid input and an unreachable backend; the caller decides whether to fail open
// or closed. Rules should name distinct scopes.
type Limiter interface {
	Acquire(ctx context.Context, rules []Rule, u Usage) (Decision, Lease, error)
	Close() error
}

// errNegative is returned for negative limits or token counts.
var errNegative = errors.New("limits: negative limit or token count")

func validate(rules []Rule, u Usage) error {
	if u.Tokens < 0 {
		return errNegative
	}
	for _, r := range rules {
		if r.RPM < 0 || r.TPM < 0 || r.Concurrency < 0 {
			return errNegative
		}
	}
	return nil
}

// newDecision returns an admitting decision with no limited dimensions.
func newDecision() Decision {
	return Decision{Allowed: true, LimitRequests: -1, RemainingRequests: -1, LimitTokens: -1, RemainingTokens: -1}
}

// refuse records a refusal; the refusal with the longest wait wins, since the request
// can pass only when every rule admits it.
func (d *Decision) refuse(scope, reason string, retry time.Duration) {
	if d.Allowed || retry > d.RetryAfter {
		d.Allowed = false
		d.Scope = scope
		d.Reason = reason
		d.RetryAfter = retry
	}
}

// offerRequests and offerTokens keep the header values of the most constrained rule.
func (d *Decision) offerRequests(limit, remaining int64, reset time.Duration) {
	if d.LimitRequests < 0 || remaining < d.RemainingRequests ||
		(remaining == d.RemainingRequests && reset > d.ResetRequests) {
		d.LimitRequests, d.RemainingRequests, d.ResetRequests = limit, remaining, reset
	}
}

func (d *Decision) offerTokens(limit, remaining int64, reset time.Duration) {
	if d.LimitTokens < 0 || remaining < d.RemainingTokens ||
		(remaining == d.RemainingTokens && reset > d.ResetTokens) {
		d.LimitTokens, d.RemainingTokens, d.ResetTokens = limit, remaining, reset
	}
}

// gcraResult is one GCRA evaluation of one dimension of one rule.
type gcraResult struct {
	ok     bool
	newTAT int64 // theoretical arrival time if admitted
	retry  int64 // when !ok: time until the cost fits
	// Header values: after admission when ok, else for the current state.
	remaining int64
	reset     int64
}

// gcra evaluates the generic cell rate algorithm for cost units against limit units per
// window. All times are in one integer unit (nanoseconds here). tat is the stored
// theoretical arrival time (0 if none): the moment the window would be empty again.
func gcra(tat, now, window int64, cost, limit int64) gcraResult {
	tat = max(tat, now)
	newTAT := satAdd(tat, mulDiv(cost, window, limit))
	if newTAT-now <= window {
		return gcraResult{ok: true, newTAT: newTAT, remaining: remainingAt(newTAT-now, window, limit), reset: newTAT - now}
	}
	return gcraResult{retry: newTAT - now - window, remaining: remainingAt(tat-now, window, limit), reset: tat - now}
}

// remainingAt is how many whole units fit when used of window is taken.
func remainingAt(used, window, limit int64) int64 {
	if used >= window {
		return 0
	}
	return mulDiv(window-used, limit, window)
}

// mulDiv returns a*b/c rounded down for non-negative a, b and positive c, saturating
// at 1<<62 so that additions to times cannot overflow.
func mulDiv(a, b, c int64) int64 {
	const ceiling = 1 << 62
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi >= uint64(c) {
		return ceiling
	}
	q, _ := bits.Div64(hi, lo, uint64(c))
	if q > ceiling {
		return ceiling
	}
	return int64(q)
}

// satAdd adds without overflowing.
func satAdd(a, b int64) int64 {
	s := a + b
	if b > 0 && s < a {
		return math.MaxInt64
	}
	if b < 0 && s > a {
		return math.MinInt64
	}
	return s
}
