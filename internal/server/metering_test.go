package server_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestEveryCallMeteredOnce: calls that share a client's x-request-id are
// each answered, recorded and charged — the ledger's identity is the id
// Switchyard gives each call, not the client's.
func TestEveryCallMeteredOnce(t *testing.T) { onBothDatabases(t, testEveryCallMeteredOnce) }

func testEveryCallMeteredOnce(t *testing.T, database string) {
	up := upstream(t)
	e := start(t, database+oneModel("chat", up.URL, priced))
	orgID, projectID, k := e.tenant("freebies", map[string]any{"prepaid": true}, map[string]any{"keep_bodies": true}, nil)
	if st := e.call("POST", "/api/orgs/"+orgID+"/topups", adminKey, map[string]any{"amount_micros": 1000}, nil); st != 201 {
		t.Fatalf("top-up: %d", st)
	}
	// Each call costs 12×2+5×10 = 74 micro-USD.
	body := []byte(`{"model":"chat","messages":[{"role":"user","content":"hi"}],"max_tokens":5}`)
	const n = 5
	for i := 0; i < n; i++ {
		st, h, b := e.post("/v1/chat/completions", k.Key, body, "X-Request-Id", "freebie-1")
		if st != 200 || h.Get("X-Request-Id") != "freebie-1" {
			t.Fatalf("call %d: %d, x-request-id %q: %s", i, st, h.Get("X-Request-Id"), b)
		}
	}
	var bal struct {
		Spent   int64 `json:"spent_micros"`
		Balance int64 `json:"balance_micros"`
	}
	e.call("GET", "/api/orgs/"+orgID+"/balance", adminKey, nil, &bal)
	if bal.Spent != n*74 || bal.Balance != 1000-n*74 {
		t.Errorf("balance = %+v, want spent %d after %d calls at 74", bal, n*74, n)
	}
	var u usageRows
	e.call("GET", "/api/usage?org="+orgID, adminKey, nil, &u)
	if got := total(u); got != n || len(u.Data) != 1 || u.Data[0].CostMicros != n*74 {
		t.Errorf("usage = %+v, want %d requests costing %d", u.Data, n, n*74)
	}
	var l logList
	e.call("GET", "/api/logs?project="+projectID+"&client_request_id=freebie-1", adminKey, nil, &l)
	ids := map[string]bool{}
	for _, x := range l.Data {
		if x.ClientRequestID != "freebie-1" {
			t.Errorf("log %s: client_request_id %q", x.RequestID, x.ClientRequestID)
		}
		ids[x.RequestID] = true
	}
	if len(l.Data) != n || len(ids) != n {
		t.Errorf("%d logs with %d distinct ids for %d calls: %+v", len(l.Data), len(ids), n, l.Data)
	}
	// Feedback by the client's id lands on the newest of its calls.
	if st := e.call("POST", "/v1/feedback", k.Key, map[string]any{"request_id": "freebie-1", "score": "up"}, nil); st != 201 {
		t.Errorf("feedback by the client's id: %d", st)
	}
}

// TestUnpricedUsageHasNoCurrencyOfItsOwn: calls made before a price
// existed are the organisation's usage, unpriced, under its currency: one
// total, with the unpriced requests flagged.
func TestUnpricedUsageHasNoCurrencyOfItsOwn(t *testing.T) {
	onBothDatabases(t, testUnpricedUsage)
}

func testUnpricedUsage(t *testing.T, database string) {
	up := upstream(t)
	e := start(t, database+oneModel("chat", up.URL, ""))
	orgID, _, k := e.tenant("early", nil, nil, nil)
	body := []byte(`{"model":"chat","messages":[{"role":"user","content":"hi"}],"max_tokens":5}`)
	for i := 0; i < 3; i++ {
		if st, _, b := e.post("/v1/chat/completions", k.Key, body); st != 200 {
			t.Fatalf("chat: %d %s", st, b)
		}
	}
	if st := e.call("POST", "/api/prices", adminKey, map[string]any{"model": "chat", "currency": "USD", "input_micros": 2_000_000, "output_micros": 10_000_000}, nil); st != 201 {
		t.Fatalf("add price: %d", st)
	}
	time.Sleep(10 * time.Millisecond) // past the price's effective_from
	for i := 0; i < 2; i++ {
		if st, _, b := e.post("/v1/chat/completions", k.Key, body); st != 200 {
			t.Fatalf("chat: %d %s", st, b)
		}
	}
	var u struct {
		Data []struct {
			Requests         int64  `json:"requests"`
			CostMicros       int64  `json:"cost_micros"`
			Currency         string `json:"currency"`
			UnpricedRequests int64  `json:"unpriced_requests"`
		} `json:"data"`
	}
	e.call("GET", "/api/usage?org="+orgID, adminKey, nil, &u)
	if len(u.Data) != 1 || u.Data[0].Currency != "USD" || u.Data[0].Requests != 5 || u.Data[0].UnpricedRequests != 3 || u.Data[0].CostMicros != 2*74 {
		t.Errorf("usage = %+v, want one USD row: 5 requests, 3 unpriced, cost 148", u.Data)
	}
	month := time.Now().UTC().Format("2006-01")
	var inv struct {
		Totals []struct {
			Currency     string `json:"currency"`
			AmountMicros int64  `json:"amount_micros"`
		} `json:"totals"`
		Lines []struct {
			Currency         string `json:"currency"`
			Requests         int64  `json:"requests"`
			UnpricedRequests int64  `json:"unpriced_requests"`
		} `json:"lines"`
		UnpricedRequests int64 `json:"unpriced_requests"`
	}
	if st := e.call("GET", "/api/orgs/"+orgID+"/invoices/"+month, adminKey, nil, &inv); st != 200 {
		t.Fatalf("invoice: %d", st)
	}
	if len(inv.Totals) != 1 || inv.Totals[0].Currency != "USD" || inv.Totals[0].AmountMicros != 148 || inv.UnpricedRequests != 3 ||
		len(inv.Lines) != 1 || inv.Lines[0].Requests != 5 || inv.Lines[0].UnpricedRequests != 3 {
		b, _ := json.Marshal(inv)
		t.Errorf("invoice = %s, want one USD total of 148 and 3 unpriced requests", b)
	}
	st, html := e.get("/api/orgs/"+orgID+"/invoices/"+month+"?format=html", adminKey)
	if st != 200 || strings.Count(string(html), ">Total<") != 1 || !strings.Contains(string(html), "3 requests unpriced") {
		t.Errorf("HTML invoice: %d, want one total and 3 requests unpriced:\n%s", st, html)
	}
}
