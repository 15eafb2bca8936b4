package call

import (
	"errors"
	"net/http"
	"time"

	"switchyard/internal/provider"
)

// Kinds of refusal a step returns; the gateway maps each to one status,
// type and code of the API's error shape, in one place.
var (
	// ErrForbidden: the key may not make this call (403).
	ErrForbidden = errors.New("forbidden")
	// ErrModelNotFound: no such model, or not for this key (404).
	ErrModelNotFound = errors.New("model not found")
	// ErrRateLimited: a rate limit is reached (429 with Retry-After). It is
	// provider.ErrRateLimited, so a deployment at its own limit is skipped
	// by the router as an upstream's 429 would be.
	ErrRateLimited = provider.ErrRateLimited
	// ErrQuota: a budget or prepaid balance is used up (429 insufficient_quota).
	ErrQuota = errors.New("quota exceeded")
	// ErrBlocked: the guard refused the content (400 content_policy_violation).
	ErrBlocked = errors.New("blocked by policy")
	// ErrUnavailable: a backend the step needs is down (503).
	ErrUnavailable = errors.New("backend unavailable")
)

// Refusal is a step's reasoned "no": a kind above, a message the client
// may read, and what goes with it.
type Refusal struct {
	Kind       error
	Message    string // shown to the client: no internal detail
	Param      string // the request field at fault, if any
	RetryAfter time.Duration
	// Header holds headers for the answer (rate-limit state).
	Header http.Header
	// Cause is the internal reason, for the log only.
	Cause error
}

func (r *Refusal) Error() string {
	if r.Cause != nil {
		return r.Message + ": " + r.Cause.Error()
	}
	return r.Message
}

// Is matches the refusal's kind.
func (r *Refusal) Is(target error) bool { return target == r.Kind }

// Unwrap returns the internal cause.
func (r *Refusal) Unwrap() error { return r.Cause }

// RetryDelay is how long to wait before trying again (the router reads it
// through provider.RetryAfterOf).
func (r *Refusal) RetryDelay() time.Duration { return r.RetryAfter }
