package limits

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// defaultReservationTTL is how long a reservation survives without Settle or Cancel:
// the guard against replicas that crash holding reservations.
const defaultReservationTTL = 10 * time.Minute

// cancelTimeout bounds the Redis call of a Cancel whose context is already done.
const cancelTimeout = 5 * time.Second

// redisBudgets keeps spending and reservations in Redis so that replicas share them.
type redisBudgets struct {
	c      redis.UniversalClient
	prefix string
	seed   Seeder
	resTTL time.Duration
}

// NewRedisBudgets returns Budgets kept in Redis under keys starting with prefix; seed
// (which may be nil, meaning zero) supplies a scope's spending whenever Redis has no
// counter for it. Close does not close client.
func NewRedisBudgets(client redis.UniversalClient, prefix string, seed Seeder) Budgets {
	return newRedisBudgets(client, prefix, seed, defaultReservationTTL)
}

func newRedisBudgets(client redis.UniversalClient, prefix string, seed Seeder, resTTL time.Duration) *redisBudgets {
	return &redisBudgets{c: client, prefix: prefix, seed: seed, resTTL: resTTL}
}

func (b *redisBudgets) key(scope, part string) string {
	return b.prefix + "bud:" + scope + ":" + part
}

// budgetLib is shared by the budget scripts: number formatting and the removal of
// reservations, expired or named. A reservation lives in two keys per scope: a hash
// (id → amount, plus "_sum", the total) and a zset (id → expiry ms).
const budgetLib = `
local function int(x) return string.format('%.0f', x) end
local function unreserve(res, exp, id)
  local a = redis.call('HGET', res, id)
  if a then
    redis.call('HDEL', res, id)
    redis.call('HINCRBY', res, '_sum', int(-tonumber(a)))
  end
  redis.call('ZREM', exp, id)
end
local function prune(res, exp, now)
  local ids = redis.call('ZRANGEBYSCORE', exp, '-inf', now, 'LIMIT', 0, 1000)
  for _, id in ipairs(ids) do unreserve(res, exp, id) end
  return tonumber(redis.call('HGET', res, '_sum') or 0)
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

// reserveScript. KEYS: per budget spent, res, exp. ARGV: id, amount, TTL ms, limits.
// Reply: {1} reserved; {-1, i} budget i has no spent counter (seed it and retry);
// {0, i, spent, reserved} budget i refuses.
var reserveScript = redis.NewScript(budgetLib + `
local id = ARGV[1]
local amount = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local n = #KEYS / 3
for i = 1, n do
  if redis.call('EXISTS', KEYS[3 * i - 2]) == 0 then return {-1, i} end
end
for i = 1, n do
  local spent = tonumber(redis.call('GET', KEYS[3 * i - 2]))
  local reserved = prune(KEYS[3 * i - 1], KEYS[3 * i], now)
  if spent + reserved + amount > tonumber(ARGV[3 + i]) then
    return {0, i, int(spent), int(reserved)}
  end
end
for i = 1, n do
  local res, exp = KEYS[3 * i - 1], KEYS[3 * i]
  redis.call('HSET', res, id, ARGV[2])
  redis.call('HINCRBY', res, '_sum', ARGV[2])
  redis.call('ZADD', exp, int(now + ttl), id)
  redis.call('PEXPIRE', res, int(ttl + 60000))
  redis.call('PEXPIRE', exp, int(ttl + 60000))
end
return {1}
`)

// settleScript frees a reservation and records spending. KEYS: per scope spent, res, exp.
// ARGV: id, actual, then per scope the spent TTL in seconds (0: none).
// Reply: {1} done; {-1, i} scope i has no spent counter (seed it and retry).
var settleScript = redis.NewScript(budgetLib + `
local n = #KEYS / 3
for i = 1, n do
  if redis.call('EXISTS', KEYS[3 * i - 2]) == 0 then return {-1, i} end
end
for i = 1, n do
  unreserve(KEYS[3 * i - 1], KEYS[3 * i], ARGV[1])
  redis.call('INCRBY', KEYS[3 * i - 2], ARGV[2])
  if tonumber(ARGV[2 + i]) > 0 then redis.call('EXPIRE', KEYS[3 * i - 2], ARGV[2 + i]) end
end
return {1}
`)

// cancelScript frees a reservation. KEYS: per scope res, exp. ARGV: id.
var cancelScript = redis.NewScript(budgetLib + `
for i = 1, #KEYS / 2 do unreserve(KEYS[2 * i - 1], KEYS[2 * i], ARGV[1]) end
return {1}
`)

// addScript changes a spent counter. KEYS: spent. ARGV: amount, TTL seconds (0: none).
// Reply as settleScript.
var addScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 1} end
redis.call('INCRBY', KEYS[1], ARGV[1])
if tonumber(ARGV[2]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return {1}
`)

// maxSeedRounds bounds the seed-and-retry loop (each round seeds one missing counter).
const maxSeedRounds = 8

// run executes script, seeding a missing spent counter and retrying when it says so.
func (b *redisBudgets) run(ctx context.Context, s *redis.Script, scopes []string, keys []string, args ...any) ([]int64, error) {
	for range maxSeedRounds + len(scopes) {
		res, err := s.Run(ctx, b.c, keys, args...).Int64Slice()
		if err != nil {
			return nil, err
		}
		if len(res) == 0 {
			return nil, errors.New("empty reply")
		}
		if res[0] != -1 {
			return res, nil
		}
		if len(res) < 2 || res[1] < 1 || res[1] > int64(len(scopes)) {
			return nil, fmt.Errorf("bad seed request %v", res)
		}
		if err := b.seedScope(ctx, scopes[res[1]-1]); err != nil {
			return nil, err
		}
	}
	return nil, errors.New("spent counters keep disappearing")
}

// seedScope asks the Seeder and stores its answer unless another replica did first.
func (b *redisBudgets) seedScope(ctx context.Context, scope string) error {
	var v int64
	if b.seed != nil {
		var err error
		if v, err = b.seed(ctx, scope); err != nil {
			return fmt.Errorf("seeding %s: %w", scope, err)
		}
	}
	return b.c.SetNX(ctx, b.key(scope, "spent"), v, spentTTLFor(scope)).Err()
}

func (b *redisBudgets) Reserve(ctx context.Context, budgets []Budget, amount int64) (Reservation, error) {
	if amount < 0 {
		return nil, errNegativeAmount
	}
	budgets = dedupe(budgets)
	id := rand.Text()
	scopes := make([]string, len(budgets))
	keys := make([]string, 0, 3*len(budgets))
	args := make([]any, 0, 3+len(budgets))
	args = append(args, id, amount, b.resTTL.Milliseconds())
	for i, bu := range budgets {
		scopes[i] = bu.Scope
		keys = append(keys, b.key(bu.Scope, "spent"), b.key(bu.Scope, "res"), b.key(bu.Scope, "exp"))
		args = append(args, bu.Limit)
	}
	r := &redisReservation{b: b, id: id, scopes: scopes}
	if len(budgets) == 0 {
		return r, nil
	}
	res, err := b.run(ctx, reserveScript, scopes, keys, args...)
	if err != nil {
		return nil, fmt.Errorf("reserving budget: %w", err)
	}
	if res[0] == 0 {
		if len(res) != 4 || res[1] < 1 || res[1] > int64(len(budgets)) {
			return nil, fmt.Errorf("reserving budget: bad reply %v", res)
		}
		bu := budgets[res[1]-1]
		return nil, &BudgetError{Scope: bu.Scope, Limit: bu.Limit, Spent: res[2], Reserved: res[3]}
	}
	return r, nil
}

func (b *redisBudgets) Add(ctx context.Context, scope string, amount int64) error {
	_, err := b.run(ctx, addScript, []string{scope}, []string{b.key(scope, "spent")}, amount, int64(spentTTLFor(scope)/time.Second))
	if err != nil {
		return fmt.Errorf("adding spending: %w", err)
	}
	return nil
}

func (b *redisBudgets) Close() error { return nil }

type redisReservation struct {
	b      *redisBudgets
	id     string
	scopes []string
	done   atomic.Bool
}

func (r *redisReservation) Settle(ctx context.Context, actual int64) error {
	if len(r.scopes) == 0 || !r.done.CompareAndSwap(false, true) {
		return nil
	}
	keys := make([]string, 0, 3*len(r.scopes))
	args := make([]any, 0, 2+len(r.scopes))
	args = append(args, r.id, actual)
	for _, s := range r.scopes {
		keys = append(keys, r.b.key(s, "spent"), r.b.key(s, "res"), r.b.key(s, "exp"))
		args = append(args, int64(spentTTLFor(s)/time.Second))
	}
	// Not retried: the script may have run before the error, and counting twice is
	// worse than the database-seeded counter missing one charge.
	if _, err := r.b.run(ctx, settleScript, r.scopes, keys, args...); err != nil {
		return fmt.Errorf("settling budget: %w", err)
	}
	return nil
}

// Cancel frees the reservation; if Redis cannot be reached it expires on its own.
func (r *redisReservation) Cancel(ctx context.Context) {
	if len(r.scopes) == 0 || !r.done.CompareAndSwap(false, true) {
		return
	}
	keys := make([]string, 0, 2*len(r.scopes))
	for _, s := range r.scopes {
		keys = append(keys, r.b.key(s, "res"), r.b.key(s, "exp"))
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelTimeout)
	defer cancel()
	_ = cancelScript.Run(ctx, r.b.c, keys, r.id).Err()
}
