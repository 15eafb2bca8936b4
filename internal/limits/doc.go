// Package limits admits requests against rate limits (requests per minute, tokens per
// minute, requests in flight) and reserves money against budgets and prepaid balances,
// with one backend in process memory (a single replica) and one in Redis (many replicas
// enforcing one limit together).
//
// # Rate limits
//
// RPM and TPM use the generic cell rate algorithm (GCRA), which behaves as a sliding
// window of the last 60 s without keeping per-request history. Each scope and dimension
// stores one number, the theoretical arrival time (TAT): the moment its window would be
// empty again. A request of cost c (1 for RPM, the estimated tokens for TPM) against a
// limit L moves it to max(TAT, now) + c·60s/L, and is admitted when that is at most
// 60 s from now. So a full minute's limit may be spent in a burst, and capacity comes
// back continuously at L per minute. The values OpenAI clients read follow exactly:
// remaining = ⌊(60s − (TAT − now))·L/60s⌋, reset = TAT − now (when the budget is full
// again) and, for a refused request, RetryAfter = max(TAT, now) + c·60s/L − now − 60s (when
// it would fit). A request costing more than L never fits; it is refused like any other.
// Lease.Reconcile moves the token TAT by (actual − estimate)·60s/L and never refuses; it
// keeps the TAT within 1000 windows of now, so an absurd count locks a scope out for
// hours, not for ever.
// Concurrency is an exact count of leases not yet released.
//
// Acquire checks every rule before changing any: a request is counted against all of
// them or none, and a refused request is not counted. When several rules refuse, the
// one with the longest wait is reported. Header values come from the rule with the
// fewest remaining requests, and separately the one with the fewest remaining tokens.
//
// # Budgets
//
// A Budget is refused when spent + reserved + amount > Limit, all in integer
// micro-units. Reserve holds amount against every budget or none; Settle turns it into
// spending of the actual amount, Cancel drops it. A scope with no counter yet is seeded
// from the database through a Seeder; the first stored value wins.
//
// # Redis
//
// Every operation is one Lua script (EVALSHA, falling back to EVAL), timed by the Redis
// server clock (TIME) so that replicas agree. Keys, after the caller's prefix:
//
//	rl:<scope>:req    string  request TAT, µs since the epoch; PX until the window is empty
//	rl:<scope>:tok    string  token TAT, likewise
//	rl:<scope>:conc   zset    lease id → expiry (µs); members past their expiry (10 min,
//	                          a crashed replica's leases) are pruned on Acquire
//	bud:<scope>:spent string  spent micro-units; 40-day TTL refreshed on every change,
//	                          none for "balance:" scopes; seeded with SET NX when missing
//	bud:<scope>:res   hash    reservation id → amount, and "_sum", their total
//	bud:<scope>:exp   zset    reservation id → expiry (ms, 10 min); expired reservations
//	                          are pruned from both on Reserve
//
// Redis errors are returned to the caller, which chooses to fail open or closed; those
// of Release, Reconcile and Cancel, which return nothing, are dropped and the TTLs
// repair what they leave. Lua numbers are doubles, so amounts are exact up to 2^53.
package limits
