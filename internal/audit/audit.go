// Package audit is Switchyard's tamper-evident audit log: an append-only
// table of who did what, when, to what and in which request — every admin
// action and every guard decision, never the sensitive value itself.
//
// Entries form a hash chain: each carries the SHA-256 of the previous
// entry's hash and its own canonical content, so Verify finds any entry
// that was edited, removed or reordered and names the first bad one.
// Appends are serialised across replicas (SQLite's write lock; a
// PostgreSQL advisory lock), so the chain stays linear.
package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"switchyard/internal/db"
)

func init() {
	db.Register(db.Migration{Name: "0200_audit_log", SQL: `
CREATE TABLE audit_log (
  seq BIGINT PRIMARY KEY,
  ts TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  request_id TEXT NOT NULL,
  detail TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX audit_log_target ON audit_log (target)`})
}

// Entry is one audited event.
type Entry struct {
	Seq       int64             `json:"seq"`
	Time      time.Time         `json:"time"`
	Actor     string            `json:"actor"`  // key id, or "system"
	Action    string            `json:"action"` // e.g. "key.revoke", "guard.block"
	Target    string            `json:"target"` // the object acted on
	RequestID string            `json:"request_id,omitempty"`
	Detail    map[string]string `json:"detail,omitempty"` // never a secret or a detected value
	PrevHash  string            `json:"prev_hash"`
	Hash      string            `json:"hash"`
}

// genesis is the previous hash of the first entry.
const genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// hashOf is the chain hash of e given the previous hash.
func hashOf(prev string, e *Entry, detail string) string {
	h := sha256.New()
	for _, f := range []string{prev, strconv.FormatInt(e.Seq, 10), e.Time.UTC().Format(time.RFC3339Nano), e.Actor, e.Action, e.Target, e.RequestID, detail} {
		// Length-prefixed so no two field lists hash alike.
		h.Write([]byte(strconv.Itoa(len(f))))
		h.Write([]byte{':'})
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Log appends entries in the background, in order, in batches.
type Log struct {
	db  *db.DB
	log *slog.Logger

	mu      sync.Mutex
	queue   []Entry
	kick    chan struct{}
	flushed *sync.Cond
	added   int64
	done    int64
	stop    chan struct{}
	exited  chan struct{}

	closeOnce sync.Once
}

// Open starts the appender.
func Open(d *db.DB, log *slog.Logger) *Log {
	l := &Log{db: d, log: log, kick: make(chan struct{}, 1), stop: make(chan struct{}), exited: make(chan struct{})}
	l.flushed = sync.NewCond(&l.mu)
	go l.loop()
	return l
}

// Record queues e; Time defaults to now. It never blocks on the database.
func (l *Log) Record(e Entry) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	l.mu.Lock()
	l.queue = append(l.queue, e)
	l.added++
	l.mu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// Flush waits until everything recorded so far is stored.
func (l *Log) Flush(ctx context.Context) error {
	l.mu.Lock()
	want := l.added
	l.mu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default:
	}
	stopWait := context.AfterFunc(ctx, func() { l.mu.Lock(); l.flushed.Broadcast(); l.mu.Unlock() })
	defer stopWait()
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.done < want {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		l.flushed.Wait()
	}
	return nil
}

// Close stores what is queued and stops. It is safe to call twice.
func (l *Log) Close() error {
	l.closeOnce.Do(func() { close(l.stop) })
	<-l.exited
	return nil
}

func (l *Log) loop() {
	defer close(l.exited)
	for {
		select {
		case <-l.kick:
		case <-l.stop:
			l.drain()
			return
		}
		l.drain()
	}
}

func (l *Log) drain() {
	for {
		l.mu.Lock()
		batch := l.queue
		l.queue = nil
		l.mu.Unlock()
		if len(batch) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var err error
		for attempt := 0; attempt < 5; attempt++ {
			if err = l.append(ctx, batch); err == nil {
				break
			}
			time.Sleep(time.Duration(attempt+1) * 50 * time.Millisecond)
		}
		cancel()
		if err != nil {
			l.log.Error("audit: appending entries", "n", len(batch), "err", err)
		}
		l.mu.Lock()
		l.done += int64(len(batch))
		l.flushed.Broadcast()
		l.mu.Unlock()
	}
}

// append stores batch at the end of the chain in one transaction.
func (l *Log) append(ctx context.Context, batch []Entry) error {
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if l.db.Dialect == db.Postgres {
		// One appender at a time across replicas.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7302211)`); err != nil {
			return err
		}
	}
	seq, prev := int64(0), genesis
	err = tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	q := l.db.Rebind(`INSERT INTO audit_log (seq, ts, actor, action, target, request_id, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	for i := range batch {
		e := batch[i]
		seq++
		e.Seq, e.PrevHash = seq, prev
		detail := encodeDetail(e.Detail)
		e.Hash = hashOf(prev, &e, detail)
		if _, err := tx.ExecContext(ctx, q, e.Seq, e.Time.Format(time.RFC3339Nano), e.Actor, e.Action, e.Target, e.RequestID, detail, e.PrevHash, e.Hash); err != nil {
			return err
		}
		prev = e.Hash
	}
	return tx.Commit()
}

func encodeDetail(d map[string]string) string {
	if len(d) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(d) // map keys are sorted: canonical
	return string(b)
}

// Filter selects entries for List.
type Filter struct {
	Actor, Action, Target string
	AfterSeq              int64
	Limit                 int // default 100, at most 1000
}

// List returns entries in chain order.
func List(ctx context.Context, d *db.DB, f Filter) ([]Entry, error) {
	q := `SELECT seq, ts, actor, action, target, request_id, detail, prev_hash, hash FROM audit_log WHERE seq > ?`
	args := []any{f.AfterSeq}
	for _, c := range []struct{ col, v string }{{"actor", f.Actor}, {"action", f.Action}, {"target", f.Target}} {
		if c.v != "" {
			q += " AND " + c.col + " = ?"
			args = append(args, c.v)
		}
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	q += " ORDER BY seq LIMIT " + strconv.Itoa(f.Limit)
	rows, err := d.QueryContext(ctx, d.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("listing audit log: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, _, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func scan(rows *sql.Rows) (Entry, string, error) {
	var e Entry
	var ts, detail string
	if err := rows.Scan(&e.Seq, &ts, &e.Actor, &e.Action, &e.Target, &e.RequestID, &detail, &e.PrevHash, &e.Hash); err != nil {
		return e, "", fmt.Errorf("reading audit log: %w", err)
	}
	e.Time, _ = time.Parse(time.RFC3339Nano, ts)
	if detail != "{}" {
		json.Unmarshal([]byte(detail), &e.Detail)
	}
	return e, detail, nil
}

// Problem is the first entry Verify found wrong.
type Problem struct {
	Seq    int64  `json:"seq"` // the first bad entry (or where one is missing)
	Reason string `json:"reason"`
}

func (p *Problem) Error() string { return fmt.Sprintf("audit entry %d: %s", p.Seq, p.Reason) }

// Verify walks the whole chain. It returns the number of entries checked
// and, when the chain is broken, a *Problem naming the first bad entry.
func Verify(ctx context.Context, d *db.DB) (int64, error) {
	rows, err := d.QueryContext(ctx, `SELECT seq, ts, actor, action, target, request_id, detail, prev_hash, hash FROM audit_log ORDER BY seq`)
	if err != nil {
		return 0, fmt.Errorf("reading audit log: %w", err)
	}
	defer rows.Close()
	var n, want int64 = 0, 1
	prev := genesis
	for rows.Next() {
		e, detail, err := scan(rows)
		if err != nil {
			return n, err
		}
		switch {
		case e.Seq != want:
			return n, &Problem{Seq: want, Reason: fmt.Sprintf("missing: the next entry is %d", e.Seq)}
		case e.PrevHash != prev:
			return n, &Problem{Seq: e.Seq, Reason: "does not follow the entry before it (removed or reordered)"}
		case hashOf(prev, &e, detail) != e.Hash:
			return n, &Problem{Seq: e.Seq, Reason: "its content does not match its hash (edited)"}
		}
		prev, want = e.Hash, want+1
		n++
	}
	return n, rows.Err()
}
