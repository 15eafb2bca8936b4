package ledger

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchyard/internal/db"
	"switchyard/internal/db/dbtest"
)

// hourlyRow is one usage_hourly row, as read back.
type hourlyRow struct {
	Hour, Org, Project, Key, Model, Deployment, Currency string
	Class                                                int
	Requests, Errors, Prompt, Cached, Completion, Cost   int64
	Unpriced                                             int64
	Lat                                                  [LatencyBuckets]int64
}

// readHourly reads usage_hourly in key order.
func readHourly(t *testing.T, d *db.DB) []hourlyRow {
	t.Helper()
	rows, err := d.Query(`SELECT ` + strings.Join(hourlyKeys, ", ") + ", " + strings.Join(hourlySums, ", ") + ", " + strings.Join(latColumns(), ", ") +
		` FROM usage_hourly ORDER BY ` + strings.Join(hourlyKeys, ", "))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []hourlyRow
	for rows.Next() {
		var h hourlyRow
		dest := []any{&h.Hour, &h.Org, &h.Project, &h.Key, &h.Model, &h.Deployment, &h.Currency, &h.Class,
			&h.Requests, &h.Errors, &h.Prompt, &h.Cached, &h.Completion, &h.Cost, &h.Unpriced}
		for i := range h.Lat {
			dest = append(dest, &h.Lat[i])
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// fromRaw computes the rollup from the stored records, in Go.
func fromRaw(t *testing.T, d *db.DB) []hourlyRow {
	t.Helper()
	var ru rollup
	for _, r := range stored(t, d) {
		ru.add(&r)
	}
	var out []hourlyRow
	for _, k := range ru.order {
		s := ru.sums[k]
		out = append(out, hourlyRow{Hour: k.hour, Org: k.org, Project: k.project, Key: k.key, Model: k.model, Deployment: k.deployment,
			Currency: k.currency, Class: k.class, Requests: s.requests, Errors: s.errors, Prompt: s.prompt, Cached: s.cached,
			Completion: s.completion, Cost: s.cost, Unpriced: s.unpriced, Lat: s.lat})
	}
	return out
}

func sortedRows(rows []hourlyRow) []hourlyRow {
	out := append([]hourlyRow(nil), rows...)
	key := func(h hourlyRow) string {
		return strings.Join([]string{h.Hour, h.Org, h.Project, h.Key, h.Model, h.Deployment, h.Currency, fmt.Sprint(h.Class)}, "\x00")
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if key(out[j]) < key(out[i]) {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// randomRecords makes n records over a few hours, orgs, models, statuses
// and latencies.
func randomRecords(seed uint64, n int, prefix string) []Record {
	rng := rand.New(rand.NewPCG(seed, 7))
	statuses := []int{200, 200, 200, 429, 500, 502}
	lat := []int64{0, 9, 10, 24, 99, 100, 450, 999, 1000, 29999, 30000, 90000}
	out := make([]Record, n)
	for i := range out {
		r := rec(fmt.Sprintf("%s-%d", prefix, i), t0.Add(time.Duration(rng.IntN(5*3600))*time.Second),
			fmt.Sprintf("org-%d", rng.IntN(2)), fmt.Sprintf("proj-%d", rng.IntN(3)), "key-1",
			[]string{"m-a", "m-b"}[rng.IntN(2)], "dep-1", int64(rng.IntN(5000)), []string{"USD", "CNY"}[rng.IntN(2)])
		r.Status = statuses[rng.IntN(len(statuses))]
		r.LatencyMs = lat[rng.IntN(len(lat))]
		r.PromptTokens, r.CompletionTokens = int64(rng.IntN(900)), int64(rng.IntN(300))
		if rng.IntN(5) == 0 {
			r.Unpriced, r.CostMicros = true, 0
		}
		out[i] = r
	}
	return out
}

func TestRollup(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		dir := t.TempDir()
		w := openWriter(t, d, dir)
		recs := randomRecords(1, 700, "r")
		// The same id twice in one batch: the first is stored and rolled up.
		dup := recs[3]
		dup.CostMicros, dup.Status = 999_999, 503
		recs = append(recs, dup)
		addAll(t, w, recs...)
		if diff := cmp.Diff(sortedRows(fromRaw(t, d)), readHourly(t, d)); diff != "" {
			t.Fatalf("rollup differs from the records (-raw +rollup):\n%s", diff)
		}
		want := readHourly(t, d)
		// Replays and retries of stored ids add nothing, however they differ.
		again := randomRecords(2, 300, "r")
		addAll(t, w, again...)
		if diff := cmp.Diff(want, readHourly(t, d)); diff != "" {
			t.Errorf("replayed ids changed the rollup (-before +after):\n%s", diff)
		}
		// New ids next to replayed ones: only the new ones count.
		more := append(randomRecords(3, 50, "new"), randomRecords(4, 50, "r")...)
		addAll(t, w, more...)
		if diff := cmp.Diff(sortedRows(fromRaw(t, d)), readHourly(t, d)); diff != "" {
			t.Errorf("rollup differs from the records after a mixed batch (-raw +rollup):\n%s", diff)
		}
		// A journal left by a killed process replays without double counting.
		w.Close()
		before := readHourly(t, d)
		replayJournal(t, dir, more[:20])
		w2 := openWriter(t, d, dir)
		if err := w2.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(before, readHourly(t, d)); diff != "" {
			t.Errorf("journal replay changed the rollup:\n%s", diff)
		}
		// The migration's backfill computes the same table (bar the
		// unpriced counts, which came later).
		for i := range before {
			before[i].Unpriced = 0
		}
		if _, err := d.ExecContext(ctx, `DELETE FROM usage_hourly`); err != nil {
			t.Fatal(err)
		}
		if _, err := d.ExecContext(ctx, backfillSQL()); err != nil {
			t.Fatalf("backfill: %v", err)
		}
		if diff := cmp.Diff(before, readHourly(t, d)); diff != "" {
			t.Errorf("backfill differs from the maintained rollup (-maintained +backfill):\n%s", diff)
		}
	})
}

// replayJournal writes recs to a journal segment in dir, as a process
// killed before inserting them would leave it.
func replayJournal(t *testing.T, dir string, recs []Record) {
	t.Helper()
	f, err := createSegment(dir, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf []byte
	for i := range recs {
		buf = appendFrame(buf[:0], &recs[i])
		if _, err := f.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
}

// TestQueryRollupMatchesRecords: Query over whole hours (answered by the
// rollup) equals the same query over the records.
func TestQueryRollupMatchesRecords(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		w := openWriter(t, d, t.TempDir())
		addAll(t, w, randomRecords(5, 500, "q")...)
		from := t0.Truncate(time.Hour).Add(time.Hour)
		tests := []struct {
			name string
			f    Filter
			g    Group
		}{
			{"all by model", Filter{}, Group{By: []string{"model"}}},
			{"hour by project", Filter{From: from, To: from.Add(3 * time.Hour)}, Group{Period: "hour", By: []string{"project"}}},
			{"day by org and deployment", Filter{OrgID: "org-1"}, Group{Period: "day", By: []string{"org", "deployment"}}},
			{"month, one currency", Filter{Currency: "CNY", To: from}, Group{Period: "month", By: []string{"key"}}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if !tt.f.hourly() {
					t.Fatal("the filter is not whole hours")
				}
				raw, err := query(ctx, d, tt.f, tt.g, false)
				if err != nil {
					t.Fatal(err)
				}
				got, err := Query(ctx, d, tt.f, tt.g)
				if err != nil {
					t.Fatal(err)
				}
				if len(raw) == 0 {
					t.Fatal("the query selects nothing")
				}
				if diff := cmp.Diff(raw, got); diff != "" {
					t.Errorf("rollup answer differs (-records +rollup):\n%s", diff)
				}
			})
		}
	})
}

// TestAdoptUnpriced: usage stored under no currency (before prices
// existed, by an older version) becomes the organisation's, unpriced; the
// rollup still matches the records, and running it twice changes nothing.
func TestAdoptUnpriced(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		w := openWriter(t, d, t.TempDir())
		old := []Record{rec("o1", t0, "org-a", "p", "k", "m", "d", 0, ""), rec("o2", t0, "org-a", "p", "k", "m", "d", 0, ""),
			rec("o3", t0, "org-none", "p", "k", "m", "d", 0, "")}
		addAll(t, w, append(old, rec("n1", t0, "org-a", "p", "k", "m", "d", 40, "USD"))...)
		currency := func(org string) string { return map[string]string{"org-a": "USD"}[org] }
		for range 2 {
			if err := AdoptUnpriced(ctx, d, currency); err != nil {
				t.Fatal(err)
			}
		}
		got, err := Query(ctx, d, Filter{}, Group{By: []string{"org"}})
		if err != nil {
			t.Fatal(err)
		}
		want := []Row{
			{OrgID: "org-a", Currency: "USD", Requests: 3, PromptTokens: 300, CachedTokens: 30, CompletionTokens: 150, CostMicros: 40, UnpricedRequests: 2},
			{OrgID: "org-none", Requests: 1, PromptTokens: 100, CachedTokens: 10, CompletionTokens: 50},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("usage after adoption (-want +got):\n%s", diff)
		}
		// org-none's row is not marked unpriced by the fix-up (it was
		// stored so before migration 0105, which marks it).
		if diff := cmp.Diff(sortedRows(fromRaw(t, d)), readHourly(t, d)); diff != "" {
			t.Errorf("rollup differs from the records (-raw +rollup):\n%s", diff)
		}
	})
}
