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
	"crypto/rand"
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
CREATE INDEX audit_log_target ON audit_log (target)`},
		// batch names the appender transaction that stored a row, so a
		// retried batch is recognised; it is not part of the hash.
		db.Migration{Name: "0201_audit_log_batch", SQL: `
ALTER TABLE audit_log ADD COLUMN batch TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_log_batch ON audit_log (batch)`})
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
//
// Guarantee: an entry is accepted when Record (or RecordContext) returns
// without an error. While the process runs, an accepted entry is never
// dropped: a batch the database refuses is kept at the head of the queue
// and retried with capped exponential backoff for as long as the database
// stays down, so the entries land in order, once each, when it comes back.
// The queue is bounded (Options.Capacity); when it is full, Record blocks
// until the appender makes room — back-pressure instead of unbounded memory
// or silent loss. Close keeps retrying until Options.CloseTimeout and then
// reports, as an error and a log line, how many accepted entries it could
// not store. Accepted entries live in memory until stored: a crash of the
// process (not of the database) loses at most the entries still queued.
type Log struct {
	db  *db.DB
	log *slog.Logger
	opt Options

	mu      sync.Mutex
	queue   []Entry    // accepted, not yet stored; the head is the batch in flight
	space   *sync.Cond // signalled when the queue shrinks or the log closes
	flushed *sync.Cond // signalled when done grows or the log stops
	kick    chan struct{}
	added   int64  // entries accepted
	done    int64  // entries stored
	lost    int64  // entries Close gave up on
	pendN   int    // size of the head batch that failed, if one did
	pendID  string // its batch id, kept across retries
	closed  bool
	stop    chan struct{}
	exited  chan struct{}

	closeOnce sync.Once
}

// Options tunes a Log; zero fields take the defaults.
type Options struct {
	Capacity     int           // most entries queued before Record blocks; default 10000
	BatchSize    int           // most entries per transaction; default 500
	MaxBackoff   time.Duration // longest wait between retries; default 5s
	CloseTimeout time.Duration // how long Close keeps retrying; default 30s
}

func (o *Options) defaults() {
	if o.Capacity <= 0 {
		o.Capacity = 10000
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	if o.BatchSize > o.Capacity {
		o.BatchSize = o.Capacity
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if o.CloseTimeout <= 0 {
		o.CloseTimeout = 30 * time.Second
	}
}

// ErrClosed is returned for an entry recorded after Close.
var ErrClosed = errors.New("audit log closed")

// Open starts the appender with the default Options.
func Open(d *db.DB, log *slog.Logger) *Log { return OpenWith(d, log, Options{}) }

// OpenWith starts the appender.
func OpenWith(d *db.DB, log *slog.Logger, o Options) *Log {
	o.defaults()
	l := &Log{db: d, log: log, opt: o, kick: make(chan struct{}, 1), stop: make(chan struct{}), exited: make(chan struct{})}
	l.space = sync.NewCond(&l.mu)
	l.flushed = sync.NewCond(&l.mu)
	go l.loop()
	return l
}

// Record queues e; Time defaults to now. It does not wait for the
// database, only — when the queue is full — for room in the queue. An
// entry recorded after Close is not stored; that is logged as an error.
func (l *Log) Record(e Entry) {
	if err := l.RecordContext(context.Background(), e); err != nil {
		l.log.Error("audit: entry not recorded", "action", e.Action, "target", e.Target, "err", err)
	}
}

// RecordContext queues e like Record. When the queue is full it waits for
// room until ctx ends; it returns ctx's error or ErrClosed, and then e was
// not accepted. A nil error means e is accepted (see Log).
func (l *Log) RecordContext(ctx context.Context, e Entry) error {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	l.mu.Lock()
	if len(l.queue) >= l.opt.Capacity && !l.closed {
		stopWait := context.AfterFunc(ctx, func() { l.mu.Lock(); l.space.Broadcast(); l.mu.Unlock() })
		for len(l.queue) >= l.opt.Capacity && !l.closed && ctx.Err() == nil {
			l.space.Wait()
		}
		stopWait()
	}
	switch {
	case l.closed:
		l.mu.Unlock()
		return ErrClosed
	case len(l.queue) >= l.opt.Capacity:
		l.mu.Unlock()
		return ctx.Err()
	}
	l.queue = append(l.queue, e)
	l.added++
	l.mu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default:
	}
	return nil
}

// Flush waits until everything recorded so far is stored, or ctx ends.
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
		if l.lost > 0 {
			return fmt.Errorf("audit: %d entries not stored", l.lost)
		}
		l.flushed.Wait()
	}
	return nil
}

// Close stops accepting entries, stores what is queued — retrying for up
// to Options.CloseTimeout while the database is down — and stops. It
// returns an error naming the entries it could not store. It is safe to
// call twice.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		l.space.Broadcast()
		l.mu.Unlock()
		close(l.stop)
	})
	<-l.exited
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost > 0 {
		return fmt.Errorf("audit: %d accepted entries not stored at close", l.lost)
	}
	return nil
}

func (l *Log) loop() {
	defer close(l.exited)
	for {
		select {
		case <-l.kick:
			l.drain(nil)
		case <-l.stop:
			deadline := time.NewTimer(l.opt.CloseTimeout)
			defer deadline.Stop()
			if !l.drain(deadline.C) {
				l.mu.Lock()
				l.lost = int64(len(l.queue))
				l.queue = nil
				l.flushed.Broadcast()
				l.mu.Unlock()
				l.log.Error("audit: accepted entries not stored at close", "n", l.lost)
			}
			return
		}
	}
}

// drain stores the queue, one batch at a time, from the head. A batch
// leaves the queue only once it is stored; until then it is retried with
// backoff. drain returns true once the queue is empty, or false when the
// log stops (before Close) or giveUp fires (during Close) first.
func (l *Log) drain(giveUp <-chan time.Time) bool {
	backoff, attempt := 100*time.Millisecond, 0
	for {
		// The batch id marks the rows of this batch, so a retry after a
		// commit whose outcome was lost (the connection died during
		// COMMIT) finds them instead of appending them a second time. A
		// batch that failed keeps its size and id until it is stored.
		l.mu.Lock()
		n, id := l.pendN, l.pendID
		if id == "" {
			n, id = min(len(l.queue), l.opt.BatchSize), newBatchID()
		}
		batch := l.queue[:n:n]
		l.mu.Unlock()
		if n == 0 {
			return true
		}
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := l.append(ctx, batch, id, l.pendID != "")
			cancel()
			if err == nil {
				break
			}
			l.pendN, l.pendID = n, id
			attempt++
			l.mu.Lock()
			queued := len(l.queue)
			l.mu.Unlock()
			l.log.Warn("audit: appending entries; will retry", "n", n, "queued", queued, "attempt", attempt, "retry_in", backoff, "err", err)
			t := time.NewTimer(backoff)
			stop := l.stop
			if giveUp != nil {
				stop = nil // already stopping: only the deadline ends the retries
			}
			select {
			case <-t.C:
			case <-giveUp:
				t.Stop()
				return false
			case <-stop:
				t.Stop()
				return false
			}
			backoff = min(2*backoff, l.opt.MaxBackoff)
		}
		if attempt > 0 {
			l.log.Info("audit: appending entries again", "n", n, "attempts", attempt+1)
			backoff, attempt = 100*time.Millisecond, 0
		}
		l.mu.Lock()
		l.pendN, l.pendID = 0, ""
		l.queue = l.queue[n:]
		if len(l.queue) == 0 {
			l.queue = nil // let the backing array go
		}
		l.done += int64(n)
		l.flushed.Broadcast()
		l.space.Broadcast()
		l.mu.Unlock()
	}
}

func newBatchID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// append stores batch at the end of the chain in one transaction. On a
// retry it first looks for the batch's rows and, when an earlier attempt
// did commit, stores nothing: every entry gets one seq, once.
func (l *Log) append(ctx context.Context, batch []Entry, batchID string, retry bool) error {
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
	if retry {
		var n int
		if err := tx.QueryRowContext(ctx, l.db.Rebind(`SELECT COUNT(*) FROM audit_log WHERE batch = ?`), batchID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil // an earlier attempt committed
		}
	}
	seq, prev := int64(0), genesis
	err = tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	q := l.db.Rebind(`INSERT INTO audit_log (seq, ts, actor, action, target, request_id, detail, prev_hash, hash, batch) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	for i := range batch {
		e := batch[i]
		seq++
		e.Seq, e.PrevHash = seq, prev
		detail := encodeDetail(e.Detail)
		e.Hash = hashOf(prev, &e, detail)
		if _, err := tx.ExecContext(ctx, q, e.Seq, e.Time.Format(time.RFC3339Nano), e.Actor, e.Action, e.Target, e.RequestID, detail, e.PrevHash, e.Hash, batchID); err != nil {
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
