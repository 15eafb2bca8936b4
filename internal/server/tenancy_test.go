package server_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"switchyard/internal/db/dbtest"
	"switchyard/internal/fakeai"
)

// call sends a JSON admin API request and decodes the answer into out.
func (e *env) call(method, path, key string, in, out any) int {
	e.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.base+path, body)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: decoding %s: %v", method, path, b, err)
		}
	}
	return resp.StatusCode
}

type created struct {
	ID     string `json:"id"`
	Key    string `json:"key"`
	KeyID  string `json:"key_id"`
	Prefix string `json:"prefix"`
}

// tenant makes an org with one project and one key in it.
func (e *env) tenant(name string, org, project, key map[string]any) (orgID, projectID string, k created) {
	e.t.Helper()
	var o, p created
	if org == nil {
		org = map[string]any{}
	}
	org["name"] = name
	if st := e.call("POST", "/api/orgs", adminKey, org, &o); st != 201 {
		e.t.Fatalf("create org: %d", st)
	}
	if project == nil {
		project = map[string]any{}
	}
	project["name"] = name + "-proj"
	if st := e.call("POST", "/api/orgs/"+o.ID+"/projects", adminKey, project, &p); st != 201 {
		e.t.Fatalf("create project: %d", st)
	}
	if key == nil {
		key = map[string]any{}
	}
	if st := e.call("POST", "/api/projects/"+p.ID+"/keys", adminKey, key, &k); st != 201 {
		e.t.Fatalf("create key: %d", st)
	}
	return o.ID, p.ID, k
}

func (e *env) client(key string) openai.Client {
	return openai.NewClient(option.WithBaseURL(e.base+"/v1"), option.WithAPIKey(key), option.WithMaxRetries(0))
}

type usageRows struct {
	Data []struct {
		Period           string `json:"period"`
		Model            string `json:"model"`
		ProjectID        string `json:"project_id"`
		KeyID            string `json:"key_id"`
		Requests         int64  `json:"requests"`
		PromptTokens     int64  `json:"prompt_tokens"`
		CompletionTokens int64  `json:"completion_tokens"`
		CostMicros       int64  `json:"cost_micros"`
		Currency         string `json:"currency"`
	} `json:"data"`
}

const priced = `
        price: {input: 2, output: 10, currency: USD}
`

func TestKeysMeteringAndReports(t *testing.T) { onBothDatabases(t, testKeysMeteringAndReports) }

func testKeysMeteringAndReports(t *testing.T, database string) {
	up := upstream(t)
	e := start(t, database+oneModel("chat", up.URL, priced))
	orgID, projectID, k := e.tenant("acme", nil, nil, map[string]any{"name": "ci"})
	if !strings.HasPrefix(k.Key, "sy-") || len(k.Key) < 40 || k.Prefix != k.Key[:10] {
		t.Fatalf("key %q prefix %q: want sy- and 32 random bytes, prefix shown", k.Key, k.Prefix)
	}
	c := e.client(k.Key)
	for i := 0; i < 3; i++ {
		if _, err := c.Chat.Completions.New(context.Background(), chatParams("chat")); err != nil {
			t.Fatal(err)
		}
	}
	// A stream whose client did not ask for usage is still metered, and
	// the client does not see the usage chunk the gateway asked for.
	up.SetDefault(fakeai.Behavior{Chunks: 4})
	s := c.Chat.Completions.NewStreaming(context.Background(), chatParams("chat"))
	for s.Next() {
		if s.Current().JSON.Usage.Valid() && s.Current().Usage.TotalTokens > 0 {
			t.Error("client got a usage chunk it did not ask for")
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}

	// The stream's record is written just after its last byte; wait for it.
	var u usageRows
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		u = usageRows{}
		if st := e.call("GET", "/api/usage?by=model,key", adminKey, nil, &u); st != 200 {
			t.Fatalf("usage: %d", st)
		}
		if n := total(u); n == 4 || time.Now().After(deadline) {
			break
		}
	}
	var found bool
	for _, r := range u.Data {
		if r.KeyID != k.ID {
			continue
		}
		found = true
		// 3 × (12 in, 5 out) + stream (12 in, 4 out) = 48 in, 19 out.
		// Cost: 48×2 + 19×10 = 286 micro-USD per 1M… in micro-units: 48*2+19*10 = 286.
		if r.Requests != 4 || r.PromptTokens != 48 || r.CompletionTokens != 19 || r.CostMicros != 286 || r.Currency != "USD" {
			t.Errorf("usage row = %+v", r)
		}
	}
	if !found {
		t.Fatalf("no usage row for the key: %+v", u)
	}
	// CSV export.
	req, _ := http.NewRequest("GET", e.base+"/api/usage?by=project&format=csv&group=month", nil)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(resp.Body).ReadAll()
	resp.Body.Close()
	if err != nil || len(recs) < 2 || recs[0][0] != "period" {
		t.Fatalf("csv: %v %v", recs, err)
	}
	var line []string
	for _, r := range recs[1:] {
		if r[2] == projectID {
			line = r
		}
	}
	if line == nil || line[6] != "4" || line[10] != "0.000286" {
		t.Errorf("csv line for the project = %v", line)
	}
	// Invoice, JSON and HTML.
	month := time.Now().UTC().Format("2006-01")
	var inv struct {
		Lines  []struct{ Model, Amount string } `json:"lines"`
		Totals []struct {
			Currency     string `json:"currency"`
			AmountMicros int64  `json:"amount_micros"`
		} `json:"totals"`
	}
	if st := e.call("GET", "/api/orgs/"+orgID+"/invoices/"+month, adminKey, nil, &inv); st != 200 {
		t.Fatalf("invoice: %d", st)
	}
	if len(inv.Lines) != 1 || inv.Lines[0].Model != "chat" || len(inv.Totals) != 1 || inv.Totals[0].AmountMicros != 286 {
		t.Errorf("invoice = %+v", inv)
	}
	st, page := e.get("/api/orgs/"+orgID+"/invoices/"+month+"?format=html", adminKey)
	if st != 200 || !bytes.Contains(page, []byte("0.000286 USD")) || !bytes.Contains(page, []byte("<table>")) {
		t.Errorf("html invoice %d: %s", st, page)
	}
	// The key's secret never appears again.
	_, list := e.get("/api/projects/"+projectID+"/keys", adminKey)
	if bytes.Contains(list, []byte(k.Key)) || !bytes.Contains(list, []byte(k.ID)) {
		t.Errorf("key list leaks the secret or misses the key: %s", list)
	}
	// Revoked: refused at once on this replica.
	if st := e.call("DELETE", "/api/keys/"+k.ID, adminKey, nil, nil); st != 200 {
		t.Fatalf("revoke: %d", st)
	}
	_, err = c.Chat.Completions.New(context.Background(), chatParams("chat"))
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != 401 {
		t.Errorf("revoked key: err = %v, want 401", err)
	}
}

func total(u usageRows) (n int64) {
	for _, r := range u.Data {
		n += r.Requests
	}
	return n
}

func TestKeyModelsAndExpiry(t *testing.T) {
	up := upstream(t)
	e := start(t, oneModel("chat", up.URL, "")+`
  - name: other
    deployments:
      - provider: openai
        base_url: `+up.URL+"\n")
	_, projectID, k := e.tenant("m", nil, nil, map[string]any{"models": []string{"chat"}})
	c := e.client(k.Key)
	if _, err := c.Chat.Completions.New(context.Background(), chatParams("chat")); err != nil {
		t.Fatal(err)
	}
	_, err := c.Chat.Completions.New(context.Background(), chatParams("other"))
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != 404 || ae.Code != "model_not_found" {
		t.Errorf("model outside the key's list: %v, want 404 model_not_found", err)
	}
	var exp created
	e.call("POST", "/api/projects/"+projectID+"/keys", adminKey, map[string]any{"expires_at": time.Now().Add(-time.Minute)}, &exp)
	ec := e.client(exp.Key)
	_, err = ec.Chat.Completions.New(context.Background(), chatParams("chat"))
	if !errors.As(err, &ae) || ae.StatusCode != 401 {
		t.Errorf("expired key: %v, want 401", err)
	}
}

func TestRateLimitHeadersAndRefusal(t *testing.T) { onBothDatabases(t, testRateLimitHeadersAndRefusal) }

func testRateLimitHeadersAndRefusal(t *testing.T, database string) {
	up := upstream(t)
	e := start(t, database+oneModel("chat", up.URL, ""))
	_, _, k := e.tenant("rl", nil, nil, map[string]any{"rpm": 2, "tpm": 100000})
	body := []byte(`{"model":"chat","messages":[{"role":"user","content":"hi"}],"max_tokens":10}`)
	for i := 0; i < 2; i++ {
		st, h, b := e.post("/v1/chat/completions", k.Key, body)
		if st != 200 {
			t.Fatalf("request %d: %d %s", i, st, b)
		}
		if h.Get("X-Ratelimit-Limit-Requests") != "2" || h.Get("X-Ratelimit-Remaining-Requests") != []string{"1", "0"}[i] ||
			h.Get("X-Ratelimit-Reset-Requests") == "" || h.Get("X-Ratelimit-Limit-Tokens") != "100000" || h.Get("X-Ratelimit-Remaining-Tokens") == "" {
			t.Errorf("request %d headers: %v", i, h)
		}
	}
	st, h, b := e.post("/v1/chat/completions", k.Key, body)
	if st != 429 || h.Get("Retry-After") == "" || h.Get("X-Ratelimit-Remaining-Requests") != "0" {
		t.Fatalf("third request: %d %v %s", st, h, b)
	}
	if er := decodeErr(t, b); er.Error.Type != "requests" && *er.Error.Code != "rate_limit_exceeded" {
		t.Errorf("error = %+v", er)
	}
}

func TestConcurrencyLimitPerProject(t *testing.T) {
	up := upstream(t)
	up.SetDefault(fakeai.Behavior{Delay: 300 * time.Millisecond})
	e := start(t, oneModel("chat", up.URL, ""))
	_, _, k := e.tenant("cc", nil, map[string]any{"concurrency": 2}, nil)
	body := []byte(`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, _, _ := e.post("/v1/chat/completions", k.Key, body)
			mu.Lock()
			codes[st]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[200] != 2 || codes[429] != 3 {
		t.Errorf("status counts = %v, want 2×200 and 3×429", codes)
	}
}

func TestPrepaidBalanceAndBudgets(t *testing.T) { onBothDatabases(t, testPrepaidBalanceAndBudgets) }

func testPrepaidBalanceAndBudgets(t *testing.T, database string) {
	up := upstream(t)
	e := start(t, database+oneModel("chat", up.URL, priced))
	orgID, _, k := e.tenant("pp", map[string]any{"prepaid": true}, nil, nil)
	body := []byte(`{"model":"chat","messages":[{"role":"user","content":"hi"}],"max_tokens":5}`)
	st, _, b := e.post("/v1/chat/completions", k.Key, body)
	if st != 429 || *decodeErr(t, b).Error.Code != "insufficient_quota" {
		t.Fatalf("empty balance: %d %s, want 429 insufficient_quota", st, b)
	}
	// Each call costs 12×2+5×10 = 74 micro-USD; the reservation is the same.
	if st := e.call("POST", "/api/orgs/"+orgID+"/topups", adminKey, map[string]any{"amount_micros": 200, "note": "test"}, nil); st != 201 {
		t.Fatalf("top-up: %d", st)
	}
	var ok200 int
	for i := 0; i < 4; i++ {
		if st, _, _ := e.post("/v1/chat/completions", k.Key, body); st == 200 {
			ok200++
		}
	}
	if ok200 != 2 {
		t.Errorf("%d calls passed on a 200 balance at 74 each, want 2", ok200)
	}
	var bal struct {
		Balance int64 `json:"balance_micros"`
		Spent   int64 `json:"spent_micros"`
	}
	e.call("GET", "/api/orgs/"+orgID+"/balance", adminKey, nil, &bal)
	if bal.Spent != 148 || bal.Balance != 52 {
		t.Errorf("balance = %+v, want spent 148, balance 52", bal)
	}

	// A key's monthly budget.
	_, _, kb := e.tenant("budget", nil, nil, map[string]any{"monthly_budget_micros": 100})
	ok200 = 0
	for i := 0; i < 3; i++ {
		if st, _, _ := e.post("/v1/chat/completions", kb.Key, body); st == 200 {
			ok200++
		}
	}
	if ok200 != 1 {
		t.Errorf("%d calls passed on a 100 budget at 74 each, want 1", ok200)
	}
}

func TestIsolationBetweenOrgsAndProjects(t *testing.T) {
	onBothDatabases(t, testIsolationBetweenOrgsAndProjects)
}

func testIsolationBetweenOrgsAndProjects(t *testing.T, database string) {
	up := upstream(t)
	e := start(t, database+oneModel("chat", up.URL, priced))
	orgA, projA, keyA := e.tenant("a", nil, nil, nil)
	orgB, projB, keyB := e.tenant("b", nil, nil, nil)
	for _, k := range []string{keyA.Key, keyB.Key} {
		c := e.client(k)
		if _, err := c.Chat.Completions.New(context.Background(), chatParams("chat")); err != nil {
			t.Fatal(err)
		}
	}
	var projA2 created
	e.call("POST", "/api/orgs/"+orgA+"/projects", adminKey, map[string]any{"name": "a2"}, &projA2)
	var member, viewer, owner created
	if st := e.call("POST", "/api/orgs/"+orgA+"/users", adminKey, map[string]any{"email": "m@a.example", "role": "member", "projects": []string{projA}}, &member); st != 201 {
		t.Fatalf("create member: %d", st)
	}
	e.call("POST", "/api/orgs/"+orgA+"/users", adminKey, map[string]any{"email": "v@a.example", "role": "viewer"}, &viewer)
	e.call("POST", "/api/orgs/"+orgA+"/users", adminKey, map[string]any{"email": "o@a.example", "role": "owner"}, &owner)

	// A project key sees only its own usage, and nothing of the admin API.
	var u usageRows
	if st := e.call("GET", "/api/usage?by=key", keyA.Key, nil, &u); st != 200 || len(u.Data) != 1 || u.Data[0].KeyID != keyA.ID {
		t.Errorf("project key usage: %d %+v", st, u)
	}
	if st := e.call("GET", "/api/usage?org="+orgB, keyA.Key, nil, nil); st != 403 {
		t.Errorf("project key asking for another org's usage: %d, want 403", st)
	}
	for _, p := range []string{"/api/orgs/" + orgB, "/api/projects/" + projB + "/keys", "/api/keys/" + keyB.ID, "/api/orgs/" + orgA + "/users"} {
		if st := e.call("GET", p, keyA.Key, nil, nil); st != 404 {
			t.Errorf("project key GET %s: %d, want 404", p, st)
		}
	}
	// The owner of A sees A, never B.
	if st := e.call("GET", "/api/orgs/"+orgB, owner.Key, nil, nil); st != 404 {
		t.Errorf("owner of A reading B: %d", st)
	}
	if st := e.call("GET", "/api/usage?org="+orgB, owner.Key, nil, nil); st != 403 {
		t.Errorf("owner of A reading B's usage: %d", st)
	}
	u = usageRows{}
	e.call("GET", "/api/usage?by=key", owner.Key, nil, &u)
	for _, r := range u.Data {
		if r.KeyID == keyB.ID {
			t.Errorf("owner of A sees B's usage: %+v", r)
		}
	}
	var orgs struct{ Data []created }
	e.call("GET", "/api/orgs", owner.Key, nil, &orgs)
	if len(orgs.Data) != 1 || orgs.Data[0].ID != orgA {
		t.Errorf("owner of A lists orgs %+v", orgs)
	}
	// A member manages keys of their project only.
	if st := e.call("POST", "/api/projects/"+projA+"/keys", member.Key, map[string]any{"name": "m"}, nil); st != 201 {
		t.Errorf("member creating a key in their project: %d", st)
	}
	if st := e.call("POST", "/api/projects/"+projA2.ID+"/keys", member.Key, map[string]any{"name": "m"}, nil); st != 404 {
		t.Errorf("member creating a key in another project: %d, want 404", st)
	}
	if st := e.call("DELETE", "/api/keys/"+keyB.ID, member.Key, nil, nil); st != 404 {
		t.Errorf("member revoking another org's key: %d", st)
	}
	// A viewer reads but cannot change.
	if st := e.call("GET", "/api/projects/"+projA+"/keys", viewer.Key, nil, nil); st != 200 {
		t.Errorf("viewer listing keys: %d", st)
	}
	if st := e.call("POST", "/api/projects/"+projA+"/keys", viewer.Key, map[string]any{}, nil); st != 403 {
		t.Errorf("viewer creating a key: %d, want 403", st)
	}
	// Only the platform admin creates orgs, sets prices and tops up.
	if st := e.call("POST", "/api/orgs", owner.Key, map[string]any{"name": "x"}, nil); st != 403 {
		t.Errorf("owner creating an org: %d", st)
	}
	if st := e.call("POST", "/api/orgs/"+orgA+"/topups", owner.Key, map[string]any{"amount_micros": 5}, nil); st != 403 {
		t.Errorf("owner topping up: %d", st)
	}
	// User keys are for /api, not /v1.
	oc := e.client(owner.Key)
	if _, err := oc.Chat.Completions.New(context.Background(), chatParams("chat")); err == nil {
		t.Error("a user key called /v1")
	}
}

func TestAdminAPIBadInput(t *testing.T) {
	e := start(t, "")
	cases := []struct {
		name, method, path, body string
		status                   int
	}{
		{"malformed json", "POST", "/api/orgs", `{"name":`, 400},
		{"wrong type", "POST", "/api/orgs", `{"name": 5}`, 400},
		{"unknown field", "POST", "/api/orgs", `{"name":"x","colour":"red"}`, 400},
		{"bad currency", "POST", "/api/orgs", `{"name":"x","currency":"EUR"}`, 400},
		{"missing name", "POST", "/api/orgs", `{}`, 400},
		{"invalid utf8", "POST", "/api/orgs", "{\"name\":\"\xff\"}", 400},
		{"unknown org", "GET", "/api/orgs/org_nope", ``, 404},
		{"past price", "POST", "/api/prices", `{"model":"m","currency":"USD","input_micros":1,"effective_from":"2020-01-01T00:00:00Z"}`, 400},
		{"bad usage group", "GET", "/api/usage?group=week", ``, 400},
		{"bad month", "GET", "/api/orgs/x/invoices/nope", ``, 404},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, e.base+c.path, strings.NewReader(c.body))
		req.Header.Set("Authorization", "Bearer "+adminKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, resp.StatusCode, b, c.status)
			continue
		}
		decodeErr(t, b)
	}
	st, b := e.get("/api/openapi.json", "")
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if st != 200 || json.Unmarshal(b, &doc) != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi.json: %d %.200s", st, b)
	}
	for _, p := range []string{"/api/orgs", "/api/projects/{project}/keys", "/api/usage", "/api/orgs/{org}/invoices/{month}",
		"/api/audit", "/api/logs", "/api/datasets/{ds}/versions/{v}/curate", "/api/specialists/{name}/train", "/api/projects/{project}/data"} {
		if doc.Paths[p] == nil {
			t.Errorf("openapi.json does not document %s", p)
		}
	}
}

func waitFor(t *testing.T, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !f(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
	}
}

// syncBuf is a goroutine-safe log sink.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestKeysNeverLoggedAndDeploymentLimits(t *testing.T) {
	up := upstream(t)
	var logs syncBuf
	e := startLogged(t, oneModel("chat", up.URL, `
        limits: {rpm: 2}
`), &logs)
	_, _, k := e.tenant("log", nil, nil, nil)
	body := []byte(`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`)
	codes := map[int]int{}
	for i := 0; i < 3; i++ {
		st, _, _ := e.post("/v1/chat/completions", k.Key, body)
		codes[st]++
	}
	// The deployment takes 2 a minute whoever sends them; with no other
	// deployment the third is refused as rate limited.
	if codes[200] != 2 || codes[429] != 1 {
		t.Errorf("statuses %v, want 2×200 and 1×429 from the deployment's limit", codes)
	}
	if up.Requests.Load() != 2 {
		t.Errorf("the upstream got %d requests past its limit of 2", up.Requests.Load())
	}
	out := logs.String()
	if !strings.Contains(out, k.ID) {
		t.Errorf("request logs do not name the key id:\n%s", out)
	}
	for _, secret := range []string{k.Key, adminKey, k.Key[3:]} {
		if strings.Contains(out, secret) {
			t.Fatalf("a key secret appears in the logs")
		}
	}
}

func TestAbandonedStreamIsCharged(t *testing.T) { onBothDatabases(t, testAbandonedStreamIsCharged) }

func testAbandonedStreamIsCharged(t *testing.T, database string) {
	up := upstream(t)
	up.SetDefault(fakeai.Behavior{Chunks: 200, ChunkDelay: 10 * time.Millisecond})
	e := start(t, database+oneModel("chat", up.URL, priced))
	_, _, k := e.tenant("ab", nil, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", e.base+"/v1/chat/completions",
		strings.NewReader(`{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer "+k.Key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	got := 0
	for got < 2000 {
		n, err := resp.Body.Read(buf)
		got += n
		if err != nil {
			break
		}
	}
	cancel()
	resp.Body.Close()
	var u usageRows
	waitFor(t, func() bool {
		u = usageRows{}
		e.call("GET", "/api/usage?by=key", adminKey, nil, &u)
		return total(u) == 1
	})
	r := u.Data[0]
	// Some of the 200 chunks ("tokN ") were generated before the hang-up;
	// each is at least one token, and the prompt is counted too.
	if r.CompletionTokens < 5 || r.CompletionTokens >= 400 || r.PromptTokens == 0 || r.CostMicros == 0 {
		t.Errorf("abandoned stream charged as %+v", r)
	}
}

// onBothDatabases runs fn on SQLite and, when SWITCHYARD_TEST_POSTGRES is
// set, on a fresh PostgreSQL schema; database is the config's database
// section for start.
func onBothDatabases(t *testing.T, fn func(t *testing.T, database string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, "") })
	t.Run("postgres", func(t *testing.T) {
		fn(t, "database: {url: '"+dbtest.PostgresURL(t)+"'}\n")
	})
}

func TestProjectPolicyAndRetention(t *testing.T) {
	e := start(t, "guard:\n  policies:\n    strict:\n      input: {pii: {\"*\": block}}\n")
	orgID, projectID, _ := e.tenant("pol", nil, nil, nil)
	var p struct {
		Policy        json.RawMessage `json:"policy"`
		KeepBodies    bool            `json:"keep_bodies"`
		RetentionDays int64           `json:"retention_days"`
	}
	if st := e.call("PATCH", "/api/projects/"+projectID, adminKey, map[string]any{"policy": "strict", "keep_bodies": true, "retention_days": 30}, &p); st != 200 {
		t.Fatalf("set a named policy: %d", st)
	}
	if string(p.Policy) != `"strict"` || !p.KeepBodies || p.RetentionDays != 30 {
		t.Errorf("project = %+v", p)
	}
	inline := map[string]any{"input": map[string]any{"pii": map[string]string{"PHONE": "pseudonymise"}}}
	if st := e.call("POST", "/api/orgs/"+orgID+"/projects", adminKey, map[string]any{"name": "inline", "policy": inline}, nil); st != 201 {
		t.Errorf("inline policy: %d", st)
	}
	for _, bad := range []any{"lax", map[string]any{"input": map[string]any{"pii": map[string]string{"PHONE": "shred"}}}} {
		if st := e.call("PATCH", "/api/projects/"+projectID, adminKey, map[string]any{"policy": bad}, nil); st != 400 {
			t.Errorf("policy %v: %d, want 400", bad, st)
		}
	}
}
