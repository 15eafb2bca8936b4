package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"

	"switchyard/internal/db"
	"switchyard/internal/db/dbtest"
)

func fill(t *testing.T, d *db.DB, logs int, each int) {
	t.Helper()
	var wg sync.WaitGroup
	for i := 0; i < logs; i++ {
		l := Open(d, slog.New(slog.NewTextHandler(io.Discard, nil)))
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < each; j++ {
				l.Record(Entry{Actor: fmt.Sprintf("key_%d", i), Action: "key.create", Target: fmt.Sprintf("k%d.%d", i, j), Detail: map[string]string{"n": fmt.Sprint(j)}})
			}
			if err := l.Flush(context.Background()); err != nil {
				t.Error(err)
			}
			l.Close()
		}(i)
	}
	wg.Wait()
}

func TestChainOnBothDatabases(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		// Two appenders (as two replicas would) keep one linear chain.
		fill(t, d, 2, 25)
		n, err := Verify(ctx, d)
		if err != nil || n != 50 {
			t.Fatalf("Verify = %d, %v; want 50 entries and no problem", n, err)
		}
		es, err := List(ctx, d, Filter{Actor: "key_1", Limit: 1000})
		if err != nil || len(es) != 25 || es[0].Detail["n"] != "0" {
			t.Fatalf("List = %d entries, %v", len(es), err)
		}

		tamper := func(q string, args ...any) {
			t.Helper()
			if _, err := d.ExecContext(ctx, d.Rebind(q), args...); err != nil {
				t.Fatal(err)
			}
		}
		expect := func(seq int64, what string) {
			t.Helper()
			_, err := Verify(ctx, d)
			var p *Problem
			if !errors.As(err, &p) || p.Seq != seq {
				t.Fatalf("after %s: Verify = %v, want a problem at entry %d", what, err, seq)
			}
		}
		// Edited: a detail changed in place.
		tamper(`UPDATE audit_log SET detail = '{"n":"99"}' WHERE seq = 7`)
		expect(7, "an edit")
		tamper(`UPDATE audit_log SET detail = ? WHERE seq = 7`, mustDetail(t, d, 7))
		if _, err := Verify(ctx, d); err != nil {
			t.Fatalf("restored entry still fails: %v", err)
		}
		// Reordered: two entries swap places.
		tamper(`UPDATE audit_log SET seq = -1 WHERE seq = 10`)
		tamper(`UPDATE audit_log SET seq = 10 WHERE seq = 11`)
		tamper(`UPDATE audit_log SET seq = 11 WHERE seq = -1`)
		expect(10, "a swap")
		tamper(`UPDATE audit_log SET seq = -1 WHERE seq = 10`)
		tamper(`UPDATE audit_log SET seq = 10 WHERE seq = 11`)
		tamper(`UPDATE audit_log SET seq = 11 WHERE seq = -1`)
		// Removed: an entry in the middle disappears.
		tamper(`DELETE FROM audit_log WHERE seq = 20`)
		expect(20, "a removal")
		// Renumbering after the removal still breaks the chain.
		for s := 21; s <= 50; s++ {
			tamper(`UPDATE audit_log SET seq = ? WHERE seq = ?`, s-1, s)
		}
		expect(20, "a removal hidden by renumbering")
	})
}

func mustDetail(t *testing.T, d *db.DB, seq int64) string {
	t.Helper()
	// Entries were written with detail {"n":"J"}; recover J from the target k<i>.<J>.
	var target string
	if err := d.QueryRowContext(context.Background(), d.Rebind(`SELECT target FROM audit_log WHERE seq = ?`), seq).Scan(&target); err != nil {
		t.Fatal(err)
	}
	var i, j int
	fmt.Sscanf(target, "k%d.%d", &i, &j)
	return fmt.Sprintf(`{"n":"%d"}`, j)
}
