package server_test

import (
	"os"
	"testing"
	"time"

	"switchyard/internal/db/dbtest"
)

// TestTwoReplicasShareLimitsAndBudgets runs two gateway instances on one
// PostgreSQL database and one Redis: together they enforce one RPM limit
// and one budget, and a key revoked on one stops working on the other
// within a second.
func TestTwoReplicasShareLimitsAndBudgets(t *testing.T) {
	pg := dbtest.PostgresURL(t)
	rd := os.Getenv("SWITCHYARD_TEST_REDIS")
	if rd == "" {
		t.Skip("SWITCHYARD_TEST_REDIS is not set; set it to a Redis URL (e.g. redis://127.0.0.1:6379/0) to run this test")
	}
	up := upstream(t)
	shared := "database: {url: '" + pg + "'}\nlimits: {backend: redis, redis_url: '" + rd + "'}\n" + oneModel("chat", up.URL, priced)
	a, b := start(t, shared), start(t, shared)
	_, _, k := a.tenant("rr", nil, nil, map[string]any{"rpm": 5})
	_, _, kb := a.tenant("rb", nil, nil, map[string]any{"monthly_budget_micros": 200})
	waitFor(t, func() bool { st, _ := b.get("/v1/models", kb.Key); return st == 200 })
	body := []byte(`{"model":"chat","messages":[{"role":"user","content":"hi"}],"max_tokens":5}`)
	count := func(key string, n int) (ok int) {
		for i := 0; i < n; i++ {
			e := []*env{a, b}[i%2]
			if st, _, _ := e.post("/v1/chat/completions", key, body); st == 200 {
				ok++
			}
		}
		return ok
	}
	if got := count(k.Key, 10); got != 5 {
		t.Errorf("two replicas admitted %d requests under one RPM limit of 5", got)
	}
	// 74 micro-USD a call: a 200 budget pays for 2.
	if got := count(kb.Key, 6); got != 2 {
		t.Errorf("two replicas admitted %d calls on a budget for 2", got)
	}
	if st := a.call("DELETE", "/api/keys/"+kb.ID, adminKey, nil, nil); st != 200 {
		t.Fatalf("revoke: %d", st)
	}
	start := time.Now()
	waitFor(t, func() bool { st, _ := b.get("/v1/models", kb.Key); return st == 401 })
	if d := time.Since(start); d > time.Second {
		t.Errorf("the other replica accepted the revoked key for %v", d)
	}
	// A price added on one replica prices the other's calls within a poll.
	orgID, _, kp := a.tenant("rp", nil, nil, nil)
	if st := a.call("POST", "/api/prices", adminKey, map[string]any{"model": "chat", "currency": "USD", "input_micros": 20_000_000, "output_micros": 100_000_000}, nil); st != 201 {
		t.Fatalf("add price: %d", st)
	}
	start = time.Now()
	waitFor(t, func() bool {
		var prices struct {
			Data []struct{ Model string } `json:"data"`
		}
		b.call("GET", "/api/prices", adminKey, nil, &prices)
		return len(prices.Data) == 1
	})
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the other replica saw the new price after %v", d)
	}
	// The new key reaches b by its own poll, which may come after the price's.
	waitFor(t, func() bool { st, _ := b.get("/v1/models", kp.Key); return st == 200 })
	if st, _, _ := b.post("/v1/chat/completions", kp.Key, body); st != 200 {
		t.Fatalf("call: %d", st)
	}
	var u usageRows
	b.call("GET", "/api/usage?org="+orgID, adminKey, nil, &u)
	if len(u.Data) != 1 || u.Data[0].CostMicros != 740 {
		t.Errorf("the other replica charged %+v, want the price book's 740", u.Data)
	}
}
