package console_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestOneTotalWithUnpricedUsage: calls made before a price existed show
// as the organisation's unpriced usage — one total on the usage page, the
// invoice and the dashboard's cost card, and the unpriced requests flagged.
func TestOneTotalWithUnpricedUsage(t *testing.T) {
	up := upstream(t)
	e := startServer(t, fmt.Sprintf("models:\n  - name: chat\n    deployments:\n      - provider: openai\n        base_url: %s\n", up.URL))
	ten := e.seedTenant("early", "first")
	var k struct {
		Key string `json:"key"`
	}
	e.api("POST", "/api/projects/"+ten.ProjectID+"/keys", map[string]any{}, &k)
	chat := func() {
		req, _ := http.NewRequest("POST", e.base+"/v1/chat/completions", bytes.NewReader([]byte(`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`)))
		req.Header.Set("Authorization", "Bearer "+k.Key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("chat: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	for range 3 {
		chat()
	}
	e.api("POST", "/api/prices", map[string]any{"model": "chat", "currency": "USD", "input_micros": 2_000_000, "output_micros": 10_000_000}, nil)
	time.Sleep(10 * time.Millisecond)
	chat()

	b := newBrowser(t, e.base)
	b.signInAdmin()
	month := time.Now().UTC().Format("2006-01")
	for _, path := range []string{"/console/usage?org=" + ten.OrgID, "/console/orgs/" + ten.OrgID + "/invoices/" + month} {
		st, page := b.get(path)
		if st != 200 {
			t.Fatalf("%s: %d", path, st)
		}
		if n := strings.Count(page, ">Total</th>"); n != 1 {
			t.Errorf("%s: %d totals, want 1", path, n)
		}
		if !strings.Contains(page, "3 requests unpriced") {
			t.Errorf("%s: unpriced requests not flagged", path)
		}
	}
	st, page := b.get("/?range=24h&org=" + ten.OrgID)
	if st != 200 {
		t.Fatalf("dashboard: %d", st)
	}
	if !strings.Contains(page, "3 requests unpriced") {
		t.Errorf("dashboard: unpriced requests not flagged")
	}
	if strings.Contains(page, "0.00, ") || strings.Contains(page, ", $") {
		i := strings.Index(page, "Cost</span>")
		t.Errorf("dashboard cost card shows two totals: %.200s", page[max(i, 0):])
	}
}
