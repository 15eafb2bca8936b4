package ledger

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchyard/internal/db"
	"switchyard/internal/db/dbtest"
)

var t0 = time.Date(2026, 11, 29, 13, 4, 5, 123_000_000, time.UTC)

func rec(id string, at time.Time, org, project, key, model, dep string, cost int64, cur string) Record {
	return Record{
		ID: id, ClientRequestID: "client-" + id, Time: at, OrgID: org, ProjectID: project, KeyID: key, Model: model, Deployment: dep,
		PromptTokens: 100, CachedTokens: 10, CompletionTokens: 50, CostMicros: cost, Currency: cur,
		LatencyMs: 321, Status: 200, Stream: true,
	}
}

func openWriter(t *testing.T, d *db.DB, dir string) *Writer {
	t.Helper()
	w, err := Open(context.Background(), Options{DB: d, Dir: dir, FlushEvery: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func addAll(t *testing.T, w *Writer, recs ...Record) {
	t.Helper()
	for i := range recs {
		if err := w.Add(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// stored reads every row back as Records, ordered by request id.
func stored(t *testing.T, d *db.DB) []Record {
	t.Helper()
	rows, err := d.Query(`SELECT request_id, client_request_id, unpriced, ts, hour, org_id, project_id, key_id, model, deployment, prompt_tokens, cached_tokens,
		completion_tokens, cost_micros, currency, latency_ms, status, stream FROM usage_records ORDER BY request_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var r Record
		var ts int64
		var hour string
		var stream, unpriced int
		if err := rows.Scan(&r.ID, &r.ClientRequestID, &unpriced, &ts, &hour, &r.OrgID, &r.ProjectID, &r.KeyID, &r.Model, &r.Deployment,
			&r.PromptTokens, &r.CachedTokens, &r.CompletionTokens, &r.CostMicros, &r.Currency, &r.LatencyMs, &r.Status, &stream); err != nil {
			t.Fatal(err)
		}
		r.Time = time.UnixMilli(ts).UTC()
		r.Stream, r.Unpriced = stream == 1, unpriced == 1
		if want := r.Time.Format(hourLayout); hour != want {
			t.Errorf("%s: hour = %q, want %q", r.ID, hour, want)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func count(t *testing.T, d *db.DB) int {
	t.Helper()
	var n int
	if err := d.QueryRow(`SELECT COUNT(*) FROM usage_records`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRoundTrip(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		dir := t.TempDir()
		w := openWriter(t, d, dir)
		in := []Record{
			rec("r1", t0, "o1", "p1", "k1", "gpt-x", "dep-a", 1234, "USD"),
			rec("r2", t0.Add(time.Hour), "o1", "p2", "k2", "qwen", "dep-b", 99, "CNY"),
			{ID: "r3", Time: t0.In(time.FixedZone("CST", 8*3600)), Model: "m", Status: 500, CostMicros: -5, Unpriced: true},
		}
		in[1].Stream = false
		addAll(t, w, in...)
		in[2].Time = in[2].Time.UTC()
		in[2].ClientRequestID = "r3" // defaults to the id
		for i := range in {
			in[i].Time = in[i].Time.Truncate(time.Millisecond) // the table keeps milliseconds
		}
		if diff := cmp.Diff(in, stored(t, d)); diff != "" {
			t.Errorf("stored records (-want +got):\n%s", diff)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("journal left after a clean Close: %v", ents)
		}
		if err := w.Add(&in[0]); !errors.Is(err, ErrClosed) {
			t.Errorf("Add after Close: %v, want ErrClosed", err)
		}
	})
}

func TestIdempotent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		dir := t.TempDir()
		w := openWriter(t, d, dir)
		r := rec("same", t0, "o", "p", "k", "m", "d", 7, "USD")
		addAll(t, w, r, r)                // twice in one batch
		addAll(t, w, r)                   // and again in a later one
		if err := w.Close(); err != nil { // a replay of a journal holding it again
			t.Fatal(err)
		}
		writeSegment(t, dir, 7, []Record{r}, 0)
		openWriter(t, d, dir)
		if n := count(t, d); n != 1 {
			t.Errorf("%d rows, want 1", n)
		}
		if got, err := Spent(context.Background(), d, Filter{}); err != nil || got != 7 {
			t.Errorf("Spent = %d, %v; want 7", got, err)
		}
	})
}

func TestConcurrentAdd(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w, err := Open(context.Background(), Options{DB: d, Dir: t.TempDir(), BatchSize: 64})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 250 {
					r := rec(fmt.Sprintf("g%d-%d", g, i), t0, "o", "p", "k", "m", "d", 1, "USD")
					if err := w.Add(&r); err != nil {
						t.Error(err)
						return
					}
					if i%100 == 0 {
						if err := w.Flush(context.Background()); err != nil {
							t.Error(err)
						}
					}
				}
			})
		}
		wg.Wait()
		if err := w.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := count(t, d); n != 2000 {
			t.Errorf("%d rows, want 2000", n)
		}
	})
}

func TestQuery(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		day2 := t0.Add(24 * time.Hour)
		month2 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
		addAll(t, openWriter(t, d, t.TempDir()),
			rec("a", t0, "o1", "p1", "k1", "m1", "d1", 100, "USD"),
			rec("b", t0.Add(10*time.Minute), "o1", "p1", "k2", "m2", "d2", 200, "USD"),
			rec("c", t0.Add(time.Hour), "o1", "p2", "k3", "m1", "d1", 300, "USD"),
			rec("d", day2, "o1", "p2", "k3", "m1", "d3", 400, "CNY"),
			rec("e", month2, "o2", "p9", "k9", "m1", "d1", 500, "USD"),
		)
		ctx := context.Background()
		sum := func(r Row, n int64) Row {
			r.Requests, r.PromptTokens, r.CachedTokens, r.CompletionTokens = n, 100*n, 10*n, 50*n
			return r
		}
		tests := []struct {
			name string
			f    Filter
			g    Group
			want []Row
		}{
			{"all", Filter{}, Group{}, []Row{
				sum(Row{CostMicros: 400, Currency: "CNY"}, 1),
				sum(Row{CostMicros: 1100, Currency: "USD"}, 4),
			}},
			{"hour", Filter{Currency: "USD", OrgID: "o1"}, Group{Period: "hour"}, []Row{
				sum(Row{Period: "2026-11-29T13", CostMicros: 300, Currency: "USD"}, 2),
				sum(Row{Period: "2026-11-29T14", CostMicros: 300, Currency: "USD"}, 1),
			}},
			{"day by model", Filter{}, Group{Period: "day", By: []string{"model"}}, []Row{
				sum(Row{Period: "2026-11-29", Model: "m1", CostMicros: 400, Currency: "USD"}, 2),
				sum(Row{Period: "2026-11-29", Model: "m2", CostMicros: 200, Currency: "USD"}, 1),
				sum(Row{Period: "2026-11-30", Model: "m1", CostMicros: 400, Currency: "CNY"}, 1),
				sum(Row{Period: "2026-12-01", Model: "m1", CostMicros: 500, Currency: "USD"}, 1),
			}},
			{"month by org", Filter{}, Group{Period: "month", By: []string{"org"}}, []Row{
				sum(Row{Period: "2026-11", OrgID: "o1", CostMicros: 400, Currency: "CNY"}, 1),
				sum(Row{Period: "2026-11", OrgID: "o1", CostMicros: 600, Currency: "USD"}, 3),
				sum(Row{Period: "2026-12", OrgID: "o2", CostMicros: 500, Currency: "USD"}, 1),
			}},
			{"project and key, time window", Filter{From: t0.Add(5 * time.Minute), To: day2}, Group{By: []string{"project", "key"}}, []Row{
				sum(Row{ProjectID: "p1", KeyID: "k2", CostMicros: 200, Currency: "USD"}, 1),
				sum(Row{ProjectID: "p2", KeyID: "k3", CostMicros: 300, Currency: "USD"}, 1),
			}},
			{"deployment for model", Filter{Model: "m1", ProjectID: "p2", KeyID: "k3"}, Group{By: []string{"deployment", "deployment"}}, []Row{
				sum(Row{Deployment: "d1", CostMicros: 300, Currency: "USD"}, 1),
				sum(Row{Deployment: "d3", CostMicros: 400, Currency: "CNY"}, 1),
			}},
			{"nothing", Filter{OrgID: "none"}, Group{Period: "day"}, nil},
		}
		for _, tt := range tests {
			got, err := Query(ctx, d, tt.f, tt.g)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s: Query (-want +got):\n%s", tt.name, diff)
			}
		}
		for _, g := range []Group{{Period: "week"}, {By: []string{"currency"}}} {
			if _, err := Query(ctx, d, Filter{}, g); err == nil {
				t.Errorf("Query(%+v) succeeded, want an error", g)
			}
		}
		spent := []struct {
			f    Filter
			want int64
		}{
			{Filter{}, 1500},
			{Filter{Currency: "USD"}, 1100},
			{Filter{OrgID: "o1", From: t0.Add(time.Minute)}, 900},
			{Filter{KeyID: "k3", To: day2}, 300},
			{Filter{OrgID: "none"}, 0},
		}
		for _, s := range spent {
			if got, err := Spent(ctx, d, s.f); err != nil || got != s.want {
				t.Errorf("Spent(%+v) = %d, %v; want %d", s.f, got, err, s.want)
			}
		}
	})
}

// writeSegment writes recs as segment seq, then cuts cut bytes off its end.
func writeSegment(t *testing.T, dir string, seq uint64, recs []Record, cut int) {
	t.Helper()
	var b []byte
	for i := range recs {
		b = appendFrame(b, &recs[i])
	}
	if err := os.WriteFile(filepath.Join(dir, segName(seq)), b[:len(b)-cut], 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestTornJournal(t *testing.T) {
	d := dbtest.Open(t, db.SQLite)
	dir := t.TempDir()
	var recs []Record
	for i := range 10 {
		recs = append(recs, rec(fmt.Sprintf("r%02d", i), t0, "o", "p", "k", "m", "d", 1, "USD"))
	}
	writeSegment(t, dir, 3, recs[:4], 0)
	writeSegment(t, dir, 4, recs[4:], 9) // killed while writing r09
	w := openWriter(t, d, dir)
	got := stored(t, d)
	if len(got) != 9 || got[8].ID != "r08" {
		t.Fatalf("replayed %d records (last %v), want r00…r08", len(got), got[len(got)-1].ID)
	}
	segs, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]uint64{5}, segs); diff != "" {
		t.Errorf("segments after replay (-want +got):\n%s", diff)
	}
	addAll(t, w, rec("new", t0, "o", "p", "k", "m", "d", 1, "USD"))
	if n := count(t, d); n != 10 {
		t.Errorf("%d rows, want 10", n)
	}
}

// TestDatabaseDown: records that cannot be inserted stay in the journal and
// reach the database through the next Open.
func TestDatabaseDown(t *testing.T) {
	dir, path := t.TempDir(), filepath.Join(t.TempDir(), "l.db")
	ctx := context.Background()
	d, err := db.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := Open(ctx, Options{DB: d, Dir: dir, FlushEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	r := rec("kept", t0, "o", "p", "k", "m", "d", 1, "USD")
	if err := w.Add(&r); err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := w.Flush(fctx); err == nil {
		t.Fatal("Flush succeeded with the database closed")
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close succeeded with a record not inserted")
	}
	d, err = db.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	w2 := openWriter(t, d, dir)
	if err := w2.Close(); err != nil {
		t.Fatal(err)
	}
	if n := count(t, d); n != 1 {
		t.Errorf("%d rows after replay, want 1", n)
	}
}

// TestClientIDsNeedNotBeUnique: calls that share a client's request id
// are separate records; the generated id alone is the identity.
func TestClientIDsNeedNotBeUnique(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := openWriter(t, d, t.TempDir())
		var in []Record
		for i := range 5 {
			r := rec(fmt.Sprintf("call-%d", i), t0, "o", "p", "k", "m", "d", 7, "USD")
			r.ClientRequestID = "freebie-1"
			in = append(in, r)
		}
		addAll(t, w, in...)
		addAll(t, w, in[0]) // a retry of one is still counted once
		if n := count(t, d); n != 5 {
			t.Errorf("%d rows, want 5", n)
		}
		rows, err := Query(context.Background(), d, Filter{}, Group{})
		if err != nil || len(rows) != 1 || rows[0].Requests != 5 || rows[0].CostMicros != 35 {
			t.Errorf("Query = %+v, %v; want 5 requests costing 35", rows, err)
		}
	})
}

func TestJournalFrames(t *testing.T) {
	in := []Record{
		rec("a", t0, "o", "p", "k", "m", "d", 1, "USD"),
		{ID: "b", Time: time.Unix(0, 0).UTC(), Status: -1, CostMicros: -1 << 62},
		{ID: "c", Time: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Add(1 << 62)},
	}
	var b []byte
	for i := range in {
		b = appendFrame(b, &in[i])
	}
	got, n, err := decodeFrames(b, nil)
	if err != nil || n != len(b) {
		t.Fatalf("decodeFrames: n=%d of %d, err %v", n, len(b), err)
	}
	if diff := cmp.Diff(in, got); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
	for cut := 1; cut < len(b); cut++ {
		got, n, err := decodeFrames(b[:len(b)-cut], nil)
		if !errors.Is(err, errTorn) && n != len(b)-cut {
			t.Fatalf("cut %d: err %v", cut, err)
		}
		if len(got) >= len(in) {
			t.Fatalf("cut %d: decoded %d records", cut, len(got))
		}
	}
	flip := append([]byte(nil), b...)
	flip[len(flip)-3] ^= 0x40
	if got, _, err := decodeFrames(flip, nil); !errors.Is(err, errTorn) || len(got) != 2 {
		t.Errorf("flipped bit: %d records, err %v; want 2 and errTorn", len(got), err)
	}
}

func FuzzJournal(f *testing.F) {
	var b []byte
	r := rec("seed", t0, "o", "p", "k", "m", "d", 1, "USD")
	b = appendFrame(b, &r)
	f.Add(b)
	f.Add(appendFrame(b, &Record{ID: "x"}))
	f.Add(b[:len(b)-1])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, n, err := decodeFrames(data, nil)
		if n < 0 || n > len(data) || (err == nil && n != len(data)) {
			t.Fatalf("n = %d of %d, err %v", n, len(data), err)
		}
		// Whatever decodes re-encodes to the same bytes, unless the
		// encoder normalises (a varint with redundant bytes).
		var again []byte
		for i := range recs {
			again = appendFrame(again, &recs[i])
		}
		back, m, err := decodeFrames(again, nil)
		if err != nil || m != len(again) {
			t.Fatalf("re-encoded records do not decode: %v", err)
		}
		if diff := cmp.Diff(recs, back); diff != "" {
			t.Fatalf("re-decode differs:\n%s", diff)
		}
	})
}
