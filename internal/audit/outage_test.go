package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"switchyard/internal/db"
	"switchyard/internal/db/dbtest"
)

// fault makes the database refuse the appender's writes until stopped.
type fault struct {
	start, stop func(t *testing.T)
}

// on starts f and makes sure it is stopped when the test ends; the
// returned function stops it earlier.
func (f fault) on(t *testing.T) (off func()) {
	f.start(t)
	var once sync.Once
	off = func() { once.Do(func() { f.stop(t) }) }
	t.Cleanup(off)
	return off
}

// outageDBs runs fn on each dialect with a real fault to inject: on SQLite
// a trigger that aborts every insert inside the appender's transaction (as
// a full disk or an I/O error would); on PostgreSQL the server terminating
// the log's backend connections, again and again, while they wait inside
// their transaction (a lock on the table keeps them there, so no write
// slips through between two terminations). fn appends through d and
// checks through check, a handle the fault leaves alone.
func outageDBs(t *testing.T, fn func(t *testing.T, d, check *db.DB, f fault)) {
	t.Run("sqlite", func(t *testing.T) {
		d := dbtest.Open(t, db.SQLite)
		exec := func(t *testing.T, q string) {
			if _, err := d.ExecContext(context.Background(), q); err != nil {
				t.Fatal(err)
			}
		}
		fn(t, d, d, fault{
			start: func(t *testing.T) {
				exec(t, `CREATE TRIGGER audit_down BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'injected fault: writes refused'); END`)
			},
			stop: func(t *testing.T) { exec(t, `DROP TRIGGER audit_down`) },
		})
	})
	t.Run("postgres", func(t *testing.T) {
		ctx := context.Background()
		base := dbtest.PostgresURL(t)
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		schema := u.Query().Get("search_path")
		// A name of our own, so only this test's connections are killed.
		app := fmt.Sprintf("sy_audit_outage_%d_%d", os.Getpid(), time.Now().UnixNano())
		q := u.Query()
		q.Set("application_name", app)
		u.RawQuery = q.Encode()
		open := func(url string) *db.DB {
			d, err := db.Open(ctx, url, "")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			return d
		}
		d, check := open(u.String()), open(base)
		var (
			cancel context.CancelFunc
			killer sync.WaitGroup
			lock   *sql.Tx
			kills  int64
		)
		fn(t, d, check, fault{
			start: func(t *testing.T) {
				var err error
				if lock, err = check.BeginTx(ctx, nil); err != nil {
					t.Fatal(err)
				}
				if _, err := lock.ExecContext(ctx, `LOCK TABLE `+schema+`.audit_log IN ACCESS EXCLUSIVE MODE`); err != nil {
					t.Fatal(err)
				}
				var kctx context.Context
				kctx, cancel = context.WithCancel(ctx)
				killer.Add(1)
				go func() {
					defer killer.Done()
					for kctx.Err() == nil {
						var n int64
						check.QueryRowContext(kctx, `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n)
						kills += n
						time.Sleep(5 * time.Millisecond)
					}
				}()
			},
			stop: func(t *testing.T) {
				cancel()
				killer.Wait()
				lock.Rollback()
				t.Logf("terminated %d backend connections", kills)
				if kills == 0 {
					t.Error("no backend connection was terminated")
				}
			},
		})
	})
}

func outageEntry(i int) Entry {
	return Entry{Actor: "key_t", Action: "key.create", Target: fmt.Sprintf("t%03d", i), Detail: map[string]string{"i": fmt.Sprint(i)}}
}

// TestNoAcceptedEntryLostWhileDatabaseDown kills the database's writes
// mid-batch for longer than any fixed retry budget, fills the queue to its
// bound, and checks that after recovery every accepted entry is stored,
// once, on a chain that verifies — and that the one entry refused by
// back-pressure is not.
func TestNoAcceptedEntryLostWhileDatabaseDown(t *testing.T) {
	outageDBs(t, func(t *testing.T, d, check *db.DB, f fault) {
		ctx := context.Background()
		const capacity = 64
		l := OpenWith(d, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{Capacity: capacity, BatchSize: 8, MaxBackoff: 50 * time.Millisecond, CloseTimeout: 2 * time.Second})
		defer l.Close()
		want := map[string]bool{}
		record := func(i int) {
			t.Helper()
			if err := l.RecordContext(ctx, outageEntry(i)); err != nil {
				t.Fatalf("recording %d: %v", i, err)
			}
			want[outageEntry(i).Target] = true
		}
		next := 0
		for ; next < 10; next++ {
			record(next)
		}
		if err := l.Flush(ctx); err != nil {
			t.Fatal(err)
		}

		off := f.on(t)
		for ; next < 50; next++ {
			record(next)
		}
		// Down for longer than the old appender's five tries.
		time.Sleep(1500 * time.Millisecond)
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		err := l.Flush(short)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Flush while the database is down = %v, want it to wait (context deadline exceeded): nothing may be given up", err)
		}

		// Fill the queue to its bound: the next entry waits for room.
		for ; next < 10+capacity; next++ {
			record(next)
		}
		short, cancel = context.WithTimeout(ctx, 100*time.Millisecond)
		err = l.RecordContext(short, outageEntry(999))
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("RecordContext on a full queue = %v, want context deadline exceeded", err)
		}
		blocked := make(chan struct{})
		go func() {
			defer close(blocked)
			for i := 0; i < 5; i++ {
				l.Record(outageEntry(10 + capacity + i))
			}
		}()
		select {
		case <-blocked:
			t.Fatal("Record returned on a full queue while the database is down")
		case <-time.After(100 * time.Millisecond):
		}
		for i := 0; i < 5; i++ {
			want[outageEntry(10+capacity+i).Target] = true
		}

		off()
		<-blocked
		fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := l.Flush(fctx); err != nil {
			t.Fatalf("Flush after recovery: %v", err)
		}
		if err := l.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}

		es, err := List(ctx, check, Filter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, e := range es {
			if got[e.Target] {
				t.Errorf("entry %s stored twice", e.Target)
			}
			got[e.Target] = true
		}
		for target := range want {
			if !got[target] {
				t.Errorf("accepted entry %s is missing", target)
			}
		}
		if got[outageEntry(999).Target] {
			t.Error("the entry refused on a full queue was stored")
		}
		if len(es) != len(want) {
			t.Errorf("stored %d entries, accepted %d", len(es), len(want))
		}
		n, err := Verify(ctx, check)
		if err != nil || n != int64(len(want)) {
			t.Fatalf("Verify = %d, %v; want %d entries and no problem", n, err, len(want))
		}
	})
}

// TestCloseRetriesThenReports checks that Close keeps retrying while the
// database is down — storing everything once it is back — and, when it
// stays down past CloseTimeout, says how many entries it could not store.
func TestCloseRetriesThenReports(t *testing.T) {
	outageDBs(t, func(t *testing.T, d, check *db.DB, f fault) {
		ctx := context.Background()
		quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
		l := OpenWith(d, quiet, Options{MaxBackoff: 50 * time.Millisecond, CloseTimeout: 20 * time.Second})
		off := f.on(t)
		for i := 0; i < 5; i++ {
			l.Record(outageEntry(i))
		}
		closed := make(chan error, 1)
		go func() { closed <- l.Close() }()
		time.Sleep(300 * time.Millisecond)
		off()
		if err := <-closed; err != nil {
			t.Fatalf("Close after the database came back: %v", err)
		}
		if err := l.RecordContext(ctx, outageEntry(5)); !errors.Is(err, ErrClosed) {
			t.Fatalf("RecordContext after Close = %v, want ErrClosed", err)
		}
		if n, err := Verify(ctx, check); err != nil || n != 5 {
			t.Fatalf("Verify = %d, %v; want 5 entries", n, err)
		}

		l = OpenWith(d, quiet, Options{MaxBackoff: 50 * time.Millisecond, CloseTimeout: 300 * time.Millisecond})
		off = f.on(t)
		for i := 10; i < 13; i++ {
			l.Record(outageEntry(i))
		}
		err := l.Close()
		off()
		if err == nil || err.Error() != "audit: 3 accepted entries not stored at close" {
			t.Fatalf("Close with the database down = %v, want it to report 3 entries not stored", err)
		}
	})
}
