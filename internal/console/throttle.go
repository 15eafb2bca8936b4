package console

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// Sign-in throttling: after maxFailures failed sign-ins from one client
// address, or for one login name, within failureWindow, further attempts
// are refused until the window has passed — so passwords and the admin key
// cannot be guessed at speed.
const (
	maxFailures   = 10
	failureWindow = 15 * time.Minute
)

type throttle struct {
	mu       sync.Mutex
	failures map[string]*failures
	now      func() time.Time
}

type failures struct {
	n     int
	since time.Time
}

func newThrottle() *throttle {
	return &throttle{failures: map[string]*failures{}, now: time.Now}
}

// keys are what a sign-in attempt is counted under.
func throttleKeys(r *http.Request, login string) []string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	keys := []string{"ip:" + host}
	if login != "" {
		keys = append(keys, "login:"+login)
	}
	return keys
}

// blocked reports whether any key is over its limit.
func (t *throttle) blocked(keys []string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for _, k := range keys {
		if f, ok := t.failures[k]; ok && now.Sub(f.since) < failureWindow && f.n >= maxFailures {
			return true
		}
	}
	return false
}

// fail counts a failed attempt under every key.
func (t *throttle) fail(keys []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if len(t.failures) > 100_000 { // drop stale entries rather than grow without bound
		for k, f := range t.failures {
			if now.Sub(f.since) >= failureWindow {
				delete(t.failures, k)
			}
		}
	}
	for _, k := range keys {
		f, ok := t.failures[k]
		if !ok || now.Sub(f.since) >= failureWindow {
			f = &failures{since: now}
			t.failures[k] = f
		}
		f.n++
	}
}

// succeed forgets the failures of a login name that signed in.
func (t *throttle) succeed(login string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.failures, "login:"+login)
}
