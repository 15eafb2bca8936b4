package limits

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// defaultLeaseTTL is how long a concurrency slot survives in Redis without Release:
// the guard against replicas that crash holding leases.
const defaultLeaseTTL = 10 * time.Minute

// releaseTimeout bounds the Redis calls of Release, which has no context of its own.
const releaseTimeout = 5 * time.Second

// redisLimiter is the shared Limiter: every replica runs the same Lua scripts against
// one Redis, timed by the Redis server clock.
type redisLimiter struct {
	c        redis.UniversalClient
	prefix   string
	window   time.Duration
	leaseTTL time.Duration
}

// NewRedis returns a Limiter whose counters live in Redis under keys starting with
// prefix, so that many replicas enforce one limit together. Close does not close client.
func NewRedis(client redis.UniversalClient, prefix string) Limiter {
	return newRedis(client, prefix, defaultWindow, defaultLeaseTTL)
}

func newRedis(client redis.UniversalClient, prefix string, window, leaseTTL time.Duration) *redisLimiter {
	return &redisLimiter{c: client, prefix: prefix, window: window, leaseTTL: leaseTTL}
}

func (l *redisLimiter) key(scope, dim string) string {
	return l.prefix + "rl:" + scope + ":" + dim
}

// acquireScript checks every rule and, only if all admit, counts the request against
// each. KEYS: per rule the request TAT, token TAT and concurrency zset keys.
// ARGV: window µs, lease TTL µs, lease id, tokens, then per rule RPM, TPM, concurrency.
// Reply: allowed, refusing rule (1-based, 0 if none), reason (1 requests, 2 tokens,
// 3 concurrency), retry µs, then per rule remaining requests, reset µs, remaining tokens,
// reset µs (after admission when allowed, else of the present state).
var acquireScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local W = tonumber(ARGV[1])
local lttl = tonumber(ARGV[2])
local id = ARGV[3]
local tokens = tonumber(ARGV[4])
local n = #KEYS / 3

local function int(x) return string.format('%.0f', x) end
local function remaining(used, limit)
  if used >= W then return 0 end
  return math.floor((W - used) * limit / W)
end
local function gcra(key, cost, limit)
  local tat = tonumber(redis.call('GET', key) or 0)
  if tat < now then tat = now end
  local new = tat + math.floor(cost * W / limit)
  if new - now <= W then
    return true, new, 0, remaining(new - now, limit), new - now, remaining(tat - now, limit), tat - now
  end
  return false, new, new - now - W, 0, 0, remaining(tat - now, limit), tat - now
end

local allowed, who, reason, retry = 1, 0, 0, 0
local function refuse(i, why, wait)
  if allowed == 1 or wait > retry then
    allowed, who, reason, retry = 0, i, why, wait
  end
end

local newReq, newTok, hdr = {}, {}, {}
for i = 1, n do
  local rpm = tonumber(ARGV[2 + 3 * i])
  local tpm = tonumber(ARGV[3 + 3 * i])
  local conc = tonumber(ARGV[4 + 3 * i])
  -- requests after admission (remaining, reset), now (remaining, reset); tokens likewise
  local h = {0, 0, 0, 0, 0, 0, 0, 0}
  if rpm > 0 then
    local ok, new, wait, ra, rsa, rn, rsn = gcra(KEYS[3 * i - 2], 1, rpm)
    if not ok then refuse(i, 1, wait) end
    newReq[i] = new
    h[1], h[2], h[3], h[4] = ra, rsa, rn, rsn
  end
  if tpm > 0 then
    local ok, new, wait, ra, rsa, rn, rsn = gcra(KEYS[3 * i - 1], tokens, tpm)
    if not ok then refuse(i, 2, wait) end
    newTok[i] = new
    h[5], h[6], h[7], h[8] = ra, rsa, rn, rsn
  end
  if conc > 0 then
    local z = KEYS[3 * i]
    redis.call('ZREMRANGEBYSCORE', z, '-inf', now)
    if redis.call('ZCARD', z) >= conc then refuse(i, 3, 1000000) end
  end
  hdr[i] = h
end

local out = {allowed, who, reason, int(retry)}
local off = 0
if allowed == 0 then off = 2 end
for i = 1, n do
  local h = hdr[i]
  out[#out + 1] = int(h[1 + off]); out[#out + 1] = int(h[2 + off])
  out[#out + 1] = int(h[5 + off]); out[#out + 1] = int(h[6 + off])
end
if allowed == 0 then return out end

for i = 1, n do
  if newReq[i] and newReq[i] > now then
    redis.call('SET', KEYS[3 * i - 2], int(newReq[i]), 'PX', int(math.ceil((newReq[i] - now) / 1000) + 1000))
  end
  if newTok[i] and newTok[i] > now then
    redis.call('SET', KEYS[3 * i - 1], int(newTok[i]), 'PX', int(math.ceil((newTok[i] - now) / 1000) + 1000))
  end
  if tonumber(ARGV[4 + 3 * i]) > 0 then
    local z = KEYS[3 * i]
    redis.call('ZADD', z, int(now + lttl), id)
    redis.call('PEXPIRE', z, int(math.ceil(lttl / 1000) + 1000))
  end
end
return out
`)

// reconcileScript moves token TATs by a signed number of tokens without refusing.
// KEYS: token TAT keys. ARGV: window µs, delta tokens, TPM per key, then maxAhead.
var reconcileScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local W = tonumber(ARGV[1])
local delta = tonumber(ARGV[2])
for i = 1, #KEYS do
  local tpm = tonumber(ARGV[2 + i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or 0)
  if tat < now then tat = now end
  local step = math.floor(math.abs(delta) * W / tpm)
  if delta < 0 then step = -step end
  local new = math.min(tat + step, now + tonumber(ARGV[#ARGV]) * W)
  if new > now then
    redis.call('SET', KEYS[i], string.format('%.0f', new), 'PX', string.format('%.0f', math.ceil((new - now) / 1000) + 1000))
  else
    redis.call('DEL', KEYS[i])
  end
end
return 1
`)

// releaseScript frees a lease's concurrency slots. KEYS: zsets. ARGV: lease id.
var releaseScript = redis.NewScript(`
for i = 1, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
return 1
`)

var reasons = [...]string{1: ReasonRequests, 2: ReasonTokens, 3: ReasonConcurrency}

func (l *redisLimiter) Acquire(ctx context.Context, rules []Rule, u Usage) (Decision, Lease, error) {
	if err := validate(rules, u); err != nil {
		return Decision{}, nil, err
	}
	limited := make([]Rule, 0, len(rules))
	for _, r := range rules {
		if r.limited() {
			limited = append(limited, r)
		}
	}
	d := newDecision()
	if len(limited) == 0 {
		return d, nopLease{}, nil
	}
	id := rand.Text()
	keys := make([]string, 0, 3*len(limited))
	args := make([]any, 0, 4+3*len(limited))
	args = append(args, l.window.Microseconds(), l.leaseTTL.Microseconds(), id, u.Tokens)
	for _, r := range limited {
		keys = append(keys, l.key(r.Scope, "req"), l.key(r.Scope, "tok"), l.key(r.Scope, "conc"))
		args = append(args, r.RPM, r.TPM, r.Concurrency)
	}
	res, err := acquireScript.Run(ctx, l.c, keys, args...).Int64Slice()
	if err != nil {
		return Decision{}, nil, fmt.Errorf("acquiring rate limits: %w", err)
	}
	if len(res) != 4+4*len(limited) {
		return Decision{}, nil, fmt.Errorf("acquiring rate limits: reply of %d values", len(res))
	}
	if res[0] == 0 {
		who, why := res[1], res[2]
		if who < 1 || who > int64(len(limited)) || why < 1 || why > 3 {
			return Decision{}, nil, fmt.Errorf("acquiring rate limits: bad refusal %d/%d", who, why)
		}
		d.refuse(limited[who-1].Scope, reasons[why], time.Duration(res[3])*time.Microsecond)
	}
	for i, r := range limited {
		v := res[4+4*i:]
		if r.RPM > 0 {
			d.offerRequests(r.RPM, v[0], time.Duration(v[1])*time.Microsecond)
		}
		if r.TPM > 0 {
			d.offerTokens(r.TPM, v[2], time.Duration(v[3])*time.Microsecond)
		}
	}
	if !d.Allowed {
		return d, nil, nil
	}
	return d, &redisLease{l: l, id: id, rules: limited, tokens: u.Tokens}, nil
}

func (l *redisLimiter) Close() error { return nil }

type redisLease struct {
	l        *redisLimiter
	id       string
	rules    []Rule
	released atomic.Bool

	mu     sync.Mutex
	tokens int64
}

// Reconcile adjusts the token windows; a Redis error is dropped, since the request has
// already been served and the window corrects itself within a minute.
func (r *redisLease) Reconcile(ctx context.Context, actual int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delta := actual - r.tokens
	if delta == 0 {
		return
	}
	var keys []string
	args := []any{r.l.window.Microseconds(), delta}
	for _, rule := range r.rules {
		if rule.TPM > 0 {
			keys = append(keys, r.l.key(rule.Scope, "tok"))
			args = append(args, rule.TPM)
		}
	}
	args = append(args, maxAhead)
	if len(keys) > 0 {
		if err := reconcileScript.Run(ctx, r.l.c, keys, args...).Err(); err != nil {
			return
		}
	}
	r.tokens = actual
}

// Release frees the concurrency slots; if Redis cannot be reached the slots expire
// after the lease TTL.
func (r *redisLease) Release() {
	if !r.released.CompareAndSwap(false, true) {
		return
	}
	var keys []string
	for _, rule := range r.rules {
		if rule.Concurrency > 0 {
			keys = append(keys, r.l.key(rule.Scope, "conc"))
		}
	}
	if len(keys) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	_ = releaseScript.Run(ctx, r.l.c, keys, r.id).Err()
}

// nopLease is the lease of a request that no rule limits.
type nopLease struct{}

func (nopLease) Reconcile(context.Context, int64) {}
func (nopLease) Release()                         {}
