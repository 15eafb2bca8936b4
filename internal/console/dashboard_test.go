package console_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"switchyard/internal/audit"
	"switchyard/internal/config"
	"switchyard/internal/console"
	"switchyard/internal/db"
	"switchyard/internal/metering/ledger"
	"switchyard/internal/tenancy"
)

// seeded is a console over a database holding n ledger rows spread over
// the last `days` days, served by httptest.
type seeded struct {
	url  string
	took time.Duration // inserting the rows
}

func seedConsole(t testing.TB, n, days int) *seeded {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	d, err := db.OpenSQLite(ctx, filepath.Join(dir, "switchyard.db"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	ts, err := tenancy.NewStore(ctx, d, log)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.EnsureAdmin(ctx, adminKey); err != nil {
		t.Fatal(err)
	}
	var projects []*tenancy.Project
	for _, name := range []string{"Acme", "Globex", "Initech"} {
		o, err := ts.CreateOrg(ctx, tenancy.Org{Name: name, Currency: "USD"})
		if err != nil {
			t.Fatal(err)
		}
		for _, pn := range []string{"web", "support-bot"} {
			p, err := ts.CreateProject(ctx, tenancy.Project{OrgID: o.ID, Name: fmt.Sprintf("%s-%s", strings.ToLower(name), pn)})
			if err != nil {
				t.Fatal(err)
			}
			projects = append(projects, p)
		}
	}
	lw, err := ledger.Open(ctx, ledger.Options{DB: d, Dir: filepath.Join(dir, "ledger"), BatchSize: 2048})
	if err != nil {
		t.Fatal(err)
	}
	al := audit.Open(d, log)
	t.Cleanup(func() {
		al.Close()
		lw.Close()
		d.Close()
	})
	models := []string{"gpt-4o-mini", "deepseek-chat", "qwen-plus", "local-qwen2.5-0.5b", "glm-4-flash"}
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now().UTC()
	start := time.Now()
	for i := range n {
		p := projects[rng.IntN(len(projects))]
		m := models[rng.IntN(len(models))]
		age := time.Duration(rng.Float64() * float64(time.Duration(days)*24*time.Hour))
		// More traffic in daytime hours, for a chart with some shape.
		if h := now.Add(-age).Hour(); (h < 7 || h > 21) && rng.IntN(2) == 0 {
			age = time.Duration(rng.Float64() * float64(time.Duration(days)*24*time.Hour))
		}
		status := 200
		if rng.IntN(50) == 0 {
			status = 502
		}
		pt, ct := int64(50+rng.IntN(1500)), int64(20+rng.IntN(600))
		if err := lw.Add(&ledger.Record{ID: fmt.Sprintf("req-%d", i), Time: now.Add(-age), OrgID: p.OrgID, ProjectID: p.ID, KeyID: "key_x",
			Model: m, Deployment: m + "-a", PromptTokens: pt, CompletionTokens: ct, CostMicros: pt/2 + ct*3/2, Currency: "USD",
			LatencyMs: int64(80 + rng.ExpFloat64()*400), Status: status, Stream: rng.IntN(2) == 0}); err != nil {
			t.Fatal(err)
		}
	}
	if err := lw.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	c := console.New(console.Options{Tenants: ts, DB: d, Ledger: lw, Audit: al, Config: config.Default, Log: log})
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return &seeded{url: srv.URL, took: took}
}

// TestDashboardWith100kRows measures the dashboard over 100,000 ledger
// rows. It reports the time; it does not assert on it.
func TestDashboardWith100kRows(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("inserts 100,000 rows; timings under -short or -race mean nothing")
	}
	s := seedConsole(t, 100_000, 30)
	t.Logf("inserted 100,000 ledger rows in %v", s.took.Round(time.Millisecond))
	b := newBrowser(t, s.url)
	b.signInAdmin()
	for _, rng := range []string{"24h", "7d", "30d"} {
		var times []time.Duration
		for range 5 {
			start := time.Now()
			st, page := b.get("/?range=" + rng)
			times = append(times, time.Since(start))
			if st != http.StatusOK || !strings.Contains(page, "<svg") {
				t.Fatalf("dashboard %s: %d", rng, st)
			}
		}
		slices.Sort(times)
		t.Logf("dashboard range=%s over 100k rows: median %v, max %v", rng, times[2].Round(time.Millisecond), times[4].Round(time.Millisecond))
	}
	start := time.Now()
	if st, _ := b.get("/console/usage"); st != http.StatusOK {
		t.Fatalf("usage: %d", st)
	}
	t.Logf("usage page over 100k rows: %v", time.Since(start).Round(time.Millisecond))
}

// BenchmarkDashboard30d times the 30-day dashboard over 100,000 rows.
func BenchmarkDashboard30d(b *testing.B) {
	s := seedConsole(b, 100_000, 30)
	br := newBrowser(b, s.url)
	br.signInAdmin()
	for b.Loop() {
		if st, _ := br.get("/?range=30d"); st != http.StatusOK {
			b.Fatalf("status %d", st)
		}
	}
}

// TestDashboardCountsEveryRequest: the dashboard, read from the ledger's
// hourly rollup, counts each seeded request once.
func TestDashboardCountsEveryRequest(t *testing.T) {
	s := seedConsole(t, 300, 7)
	b := newBrowser(t, s.url)
	b.signInAdmin()
	st, page := b.get("/?range=30d")
	if st != http.StatusOK {
		t.Fatalf("dashboard: %d", st)
	}
	if !strings.Contains(page, `id="kpi-requests">300<`) {
		i := strings.Index(page, "kpi-requests")
		t.Errorf("30-day requests: %.80s, want 300", page[max(i, 0):])
	}
	if strings.Contains(page, "<strong>0 / 0 ms</strong>") {
		t.Errorf("no latency percentiles shown")
	}
}
