// Package ledger records one usage record per proxied request, durably and
// off the request path. Add appends the record to a journal file with one
// write(2) — so it survives the process being killed — and queues it; a
// background writer inserts queued records into the usage_records table in
// batches, one transaction each, and deletes journal segments once all
// their records are committed. Open replays whatever journal a previous
// process left. A record's identity is the id Switchyard generated for the
// call (never the client's x-request-id, which need not be unique):
// inserts ignore an id already stored, so replays and retries count each
// call once. Query and Spent aggregate the table.
//
// One Writer owns a journal directory; two processes must not share one.
package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"switchyard/internal/db"
)

func init() {
	db.Register(db.Migration{Name: "0100_ledger_usage", SQL: `
CREATE TABLE usage_records (
  request_id TEXT PRIMARY KEY,
  ts BIGINT NOT NULL,
  hour TEXT NOT NULL,
  org_id TEXT NOT NULL,
  project_id TEXT NOT NULL,
  key_id TEXT NOT NULL,
  model TEXT NOT NULL,
  deployment TEXT NOT NULL,
  prompt_tokens BIGINT NOT NULL,
  cached_tokens BIGINT NOT NULL,
  completion_tokens BIGINT NOT NULL,
  cost_micros BIGINT NOT NULL,
  currency TEXT NOT NULL,
  latency_ms BIGINT NOT NULL,
  status INTEGER NOT NULL,
  stream INTEGER NOT NULL
);
CREATE INDEX usage_records_org_ts ON usage_records (org_id, ts);
CREATE INDEX usage_records_project_ts ON usage_records (project_id, ts);
CREATE INDEX usage_records_key_ts ON usage_records (key_id, ts);
CREATE INDEX usage_records_ts ON usage_records (ts)`}, db.Migration{Name: "0101_ledger_request_logs", SQL: `
CREATE TABLE request_logs (
  request_id TEXT PRIMARY KEY,
  ts BIGINT NOT NULL,
  org_id TEXT NOT NULL,
  project_id TEXT NOT NULL,
  key_id TEXT NOT NULL,
  model TEXT NOT NULL,
  status INTEGER NOT NULL,
  end_user TEXT NOT NULL,
  tags TEXT NOT NULL,
  metadata TEXT NOT NULL,
  search TEXT NOT NULL,
  request TEXT NOT NULL,
  response TEXT NOT NULL
);
CREATE INDEX request_logs_project_ts ON request_logs (project_id, ts);
CREATE INDEX request_logs_end_user ON request_logs (project_id, end_user)`}, db.Migration{Name: "0104_ledger_call_identity", SQL: `
ALTER TABLE usage_records ADD COLUMN client_request_id TEXT NOT NULL DEFAULT '';
UPDATE usage_records SET client_request_id = request_id;
CREATE INDEX usage_records_client_request ON usage_records (client_request_id);
ALTER TABLE request_logs ADD COLUMN client_request_id TEXT NOT NULL DEFAULT '';
UPDATE request_logs SET client_request_id = request_id;
CREATE INDEX request_logs_client_request ON request_logs (client_request_id)`})
}

// Record is the usage of one call.
type Record struct {
	// ID is the id Switchyard generated for the call, the record's
	// identity: a replay of the same id is counted once. (Column
	// request_id; for records written before the split it is the
	// client's id, which then served as both.)
	ID string
	// ClientRequestID is the client's x-request-id (else ID): shown and
	// searchable, not unique.
	ClientRequestID            string
	Time                       time.Time // UTC; zero means the time of Add
	OrgID, ProjectID, KeyID    string
	Model, Deployment          string
	PromptTokens, CachedTokens int64
	CompletionTokens           int64
	CostMicros                 int64  // integer micro-units of Currency
	Currency                   string // "USD", "CNY"
	// Unpriced marks a call no price covered: CostMicros is 0 and
	// Currency is the organisation's, never a currency of its own.
	Unpriced  bool
	LatencyMs int64
	Status    int
	Stream    bool
	// Log, when set, keeps the request's bodies (projects that opt in).
	Log *Log
}

// Log is what a request log keeps besides the usage: the bodies, who the
// end user was, and the client's tags and metadata. It is journaled with
// the usage record and stored compressed in request_logs.
type Log struct {
	EndUser  string   // the request's "user" field
	Tags     []string // from the x-switchyard-tags header
	Metadata []byte   // the request's "metadata" object, as sent
	Request  []byte   // the request body as sent upstream
	Response []byte   // the response body, or a stream's text reassembled
}

// MaxLogBody caps each kept body; longer ones are cut (and marked so).
const MaxLogBody = 1 << 20

// Options configure a Writer.
type Options struct {
	DB         *db.DB
	Dir        string        // directory for the journal files (the data dir's "ledger" subdir)
	BatchSize  int           // records per insert transaction; default 512
	FlushEvery time.Duration // longest a record waits before its batch is inserted; default 200ms
	Log        *slog.Logger  // default: discard
}

// ErrClosed is returned by Add and Flush on a closed Writer.
var ErrClosed = errors.New("ledger closed")

// Writer journals records and inserts them into the database in batches.
type Writer struct {
	db    *db.DB
	dir   string
	batch int
	every time.Duration
	log   *slog.Logger
	ins   *inserter

	kick chan struct{} // a batch is ready, or someone waits in Flush
	stop chan struct{} // closed by Close
	done chan struct{} // closed when the loop has exited

	mu        sync.Mutex
	f         *os.File // current segment; nil after a failed write or rotation
	seq       uint64   // current segment's number
	buf       []byte   // frame encoding scratch
	pending   []Record // journaled, not yet taken by the loop
	added     uint64   // records ever added
	committed uint64   // records committed (a prefix of those added)
	lastErr   error    // the loop's last insert error, nil after a success
	changed   chan struct{}
	closed    bool

	retry  []Record // taken records whose insert failed; read and written by the loop
	sealed []uint64 // closed segments not yet deleted
	spare  []Record // the loop's last batch, reused as the next pending

	closeOnce sync.Once
	closeErr  error
}

// Open replays any journal left in o.Dir by a previous process into the
// database (idempotently), deletes it, then starts the writer.
func Open(ctx context.Context, o Options) (*Writer, error) {
	if o.DB == nil || o.Dir == "" {
		return nil, errors.New("opening ledger: DB and Dir are required")
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 512
	}
	if o.FlushEvery <= 0 {
		o.FlushEvery = 200 * time.Millisecond
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating ledger directory: %w", err)
	}
	w := &Writer{
		db: o.DB, dir: o.Dir, batch: o.BatchSize, every: o.FlushEvery, log: o.Log,
		ins:     newInserter(o.DB),
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		changed: make(chan struct{}),
	}
	last, err := w.replay(ctx)
	if err != nil {
		return nil, err
	}
	w.seq = last + 1
	if w.f, err = createSegment(w.dir, w.seq); err != nil {
		return nil, fmt.Errorf("creating journal segment: %w", err)
	}
	go w.loop()
	return w, nil
}

// replay inserts the records of each segment in the directory, oldest
// first, deleting each once inserted. It returns the highest segment number
// seen.
func (w *Writer) replay(ctx context.Context) (uint64, error) {
	seqs, err := listSegments(w.dir)
	if err != nil {
		return 0, fmt.Errorf("listing journal: %w", err)
	}
	if len(seqs) == 0 {
		return 0, nil
	}
	var recs []Record
	total := 0
	for _, seq := range seqs {
		path := filepath.Join(w.dir, segName(seq))
		b, err := os.ReadFile(path)
		if err != nil {
			return 0, fmt.Errorf("reading journal: %w", err)
		}
		var valid int
		recs, valid, err = decodeFrames(b, recs[:0])
		if err != nil {
			// The tail of a segment the previous process was writing
			// when it died; what precedes it is whole.
			w.log.Warn("ledger journal: skipping damaged tail", "segment", segName(seq), "records", len(recs), "skipped_bytes", len(b)-valid, "err", err)
		}
		for i := 0; i < len(recs); i += w.batch {
			if err := w.ins.insert(ctx, recs[i:min(i+w.batch, len(recs))]); err != nil {
				return 0, fmt.Errorf("replaying journal: %w", err)
			}
		}
		if err := os.Remove(path); err != nil {
			return 0, fmt.Errorf("removing replayed journal: %w", err)
		}
		total += len(recs)
	}
	w.log.Info("ledger journal replayed", "segments", len(seqs), "records", total)
	return seqs[len(seqs)-1], nil
}

// Add appends r to the journal and queues it for the database. The record
// is in the journal file (one write(2), no fsync) before Add returns. It is
// safe for concurrent use; it fails only when r has no ID or the journal
// cannot be written.
func (w *Writer) Add(r *Record) error {
	if r.ID == "" {
		return errors.New("adding usage record: empty id")
	}
	rec := *r
	if rec.ClientRequestID == "" {
		rec.ClientRequestID = rec.ID
	}
	if rec.Time.IsZero() {
		rec.Time = time.Now()
	}
	rec.Time = rec.Time.UTC()

	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	if w.f == nil {
		// A failed write may have left part of a frame: continue in a new
		// segment so that the damage stays at a segment's end.
		if err := w.rotateLocked(); err != nil {
			w.mu.Unlock()
			return fmt.Errorf("writing journal: %w", err)
		}
	}
	w.buf = appendFrame(w.buf[:0], &rec)
	if _, err := w.f.Write(w.buf); err != nil {
		w.f.Close()
		w.f = nil
		w.mu.Unlock()
		return fmt.Errorf("writing journal: %w", err)
	}
	w.pending = append(w.pending, rec)
	w.added++
	full := len(w.pending) >= w.batch
	w.mu.Unlock()
	if full {
		w.poke()
	}
	return nil
}

func (w *Writer) poke() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// rotateLocked closes the current segment, if any, and starts the next.
// The closed segment is sealed: the loop deletes it after its next
// successful commit. w.mu must be held.
func (w *Writer) rotateLocked() error {
	f, err := createSegment(w.dir, w.seq+1)
	if err != nil {
		return err
	}
	if w.f != nil {
		w.f.Close()
	}
	w.sealed = append(w.sealed, w.seq)
	w.f = f
	w.seq++
	return nil
}

// Flush waits until every record added before the call is committed to the
// database, or ctx is done; then it also reports the writer's last insert
// error, if any.
func (w *Writer) Flush(ctx context.Context) error {
	w.mu.Lock()
	target := w.added
	w.mu.Unlock()
	w.poke()
	for {
		w.mu.Lock()
		ok, ch, lastErr := w.committed >= target, w.changed, w.lastErr
		w.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return errors.Join(ctx.Err(), lastErr)
		case <-w.done:
			w.mu.Lock()
			ok, lastErr = w.committed >= target, w.lastErr
			w.mu.Unlock()
			if ok {
				return nil
			}
			return errors.Join(ErrClosed, lastErr)
		}
	}
}

// Close stops accepting records, makes a last attempt to insert those
// queued, and stops the writer. Records it could not insert stay in the
// journal for the next Open, and Close reports why.
func (w *Writer) Close() error {
	w.closeOnce.Do(func() {
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
		close(w.stop)
		<-w.done
		w.ins.close()
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.f != nil {
			w.f.Close()
			w.f = nil
		}
		if w.committed == w.added {
			for _, seq := range append(w.sealed, w.seq) {
				os.Remove(filepath.Join(w.dir, segName(seq)))
			}
			return
		}
		w.closeErr = fmt.Errorf("closing ledger: %d records left in the journal: %w", w.added-w.committed, w.lastErr)
	})
	return w.closeErr
}

func (w *Writer) loop() {
	defer close(w.done)
	t := time.NewTicker(w.every)
	defer t.Stop()
	backoff := time.Duration(0)
	var lastTry time.Time
	for {
		select {
		case <-w.stop:
			w.drain()
			return
		case <-w.kick:
		case <-t.C:
		}
		if backoff > 0 && time.Since(lastTry) < backoff {
			continue
		}
		lastTry = time.Now()
		if err := w.drain(); err != nil {
			backoff = min(max(2*backoff, w.every), 30*time.Second)
			w.log.Error("ledger insert failed; records kept in the journal", "err", err, "retry_in", backoff)
		} else {
			backoff = 0
		}
	}
}

// drain takes every queued record, rotating the journal so that the
// sealed segments hold only taken records, inserts them in transactions of
// up to w.batch records, and on success deletes the sealed segments.
func (w *Writer) drain() error {
	w.mu.Lock()
	batch := w.pending
	if len(w.retry) > 0 {
		batch = append(w.retry, w.pending...)
		w.retry = nil
	}
	if len(w.pending) > 0 && w.f != nil {
		if err := w.rotateLocked(); err != nil {
			// The records stay in the current segment, which is sealed
			// and deleted after a later rotation succeeds.
			w.log.Warn("ledger journal rotation failed", "err", err)
		}
	}
	w.pending = w.spare[:0]
	w.spare = nil
	// Only segments sealed by now hold nothing but taken records.
	sealed := w.sealed
	w.sealed = nil
	w.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	for i := 0; i < len(batch); i += w.batch {
		chunk := batch[i:min(i+w.batch, len(batch))]
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := w.ins.insert(ctx, chunk)
		cancel()
		w.mu.Lock()
		if err != nil {
			w.lastErr = err
			w.retry = append([]Record(nil), batch[i:]...)
			w.sealed = append(sealed, w.sealed...)
			w.mu.Unlock()
			return err
		}
		w.committed += uint64(len(chunk))
		w.lastErr = nil
		close(w.changed)
		w.changed = make(chan struct{})
		w.mu.Unlock()
	}
	for _, seq := range sealed {
		if err := os.Remove(filepath.Join(w.dir, segName(seq))); err != nil && !errors.Is(err, os.ErrNotExist) {
			w.log.Warn("ledger journal: removing committed segment", "segment", segName(seq), "err", err)
		}
	}
	clear(batch)
	w.mu.Lock()
	w.spare = batch[:0]
	w.mu.Unlock()
	return nil
}

// columns of usage_records, in insert order.
var columns = []string{"request_id", "client_request_id", "ts", "hour", "org_id", "project_id", "key_id", "model", "deployment",
	"prompt_tokens", "cached_tokens", "completion_tokens", "cost_micros", "currency", "unpriced", "latency_ms", "status", "stream"}

// stmtRows are the row counts of the prepared multi-row statements a batch
// is cut into, largest first: parsing a statement cost a third of the
// insert time before they were prepared once and reused. 256 rows keep a
// statement's parameters (18 per row) well under SQLite's 32766 and
// PostgreSQL's 65535.
var stmtRows = []int{256, 16, 1}

// inserter inserts batches with prepared multi-row
// INSERT … ON CONFLICT DO NOTHING statements.
type inserter struct {
	db    *db.DB
	mu    sync.Mutex
	stmts map[int]*sql.Stmt // by row count
	args  []any
}

func newInserter(d *db.DB) *inserter { return &inserter{db: d, stmts: map[int]*sql.Stmt{}} }

// stmt returns the prepared statement for rows rows, with or without
// RETURNING request_id.
func (in *inserter) stmt(ctx context.Context, rows int, returning bool) (*sql.Stmt, error) {
	key := rows * 2
	if returning {
		key++
	}
	if st, ok := in.stmts[key]; ok {
		return st, nil
	}
	st, err := in.db.PrepareContext(ctx, in.sql(rows, returning))
	if err != nil {
		return nil, err
	}
	in.stmts[key] = st
	return st, nil
}

// close releases the prepared statements.
func (in *inserter) close() {
	in.mu.Lock()
	defer in.mu.Unlock()
	for n, st := range in.stmts {
		st.Close()
		delete(in.stmts, n)
	}
}

func (in *inserter) sql(rows int, returning bool) string {
	var b strings.Builder
	b.WriteString("INSERT INTO usage_records (" + strings.Join(columns, ", ") + ") VALUES ")
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(columns)), ", ") + ")"
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	b.WriteString(" ON CONFLICT (request_id) DO NOTHING")
	if returning {
		// RETURNING names the rows actually inserted, which alone are rolled up.
		b.WriteString(" RETURNING request_id")
	}
	return in.db.Rebind(b.String())
}

// insert stores recs in one transaction.
func (in *inserter) insert(ctx context.Context, recs []Record) error {
	all := recs
	in.mu.Lock()
	defer in.mu.Unlock()
	tx, err := in.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("inserting usage: %w", err)
	}
	defer tx.Rollback()
	var ru rollup
	inserted := map[string]bool{}
	for len(recs) > 0 {
		n := stmtRows[len(stmtRows)-1]
		for _, size := range stmtRows {
			if len(recs) >= size {
				n = size
				break
			}
		}
		args := in.args[:0]
		for i := range recs[:n] {
			r := &recs[i]
			stream, unpriced := 0, 0
			if r.Stream {
				stream = 1
			}
			if r.Unpriced {
				unpriced = 1
			}
			t := r.Time.UTC()
			args = append(args, r.ID, r.ClientRequestID, t.UnixMilli(), t.Format(hourLayout), r.OrgID, r.ProjectID, r.KeyID,
				r.Model, r.Deployment, r.PromptTokens, r.CachedTokens, r.CompletionTokens, r.CostMicros,
				r.Currency, unpriced, r.LatencyMs, r.Status, stream)
		}
		every, err := in.insertChunk(ctx, tx, n, args, inserted)
		clear(args)
		in.args = args[:0]
		if err != nil {
			return fmt.Errorf("inserting usage: %w", err)
		}
		// An id appears once among the returned ones; should a batch carry
		// it twice, the first record is the one stored.
		for i := range recs[:n] {
			if every || inserted[recs[i].ID] {
				delete(inserted, recs[i].ID)
				ru.add(&recs[i])
			}
		}
		recs = recs[n:]
	}
	if err := ru.write(ctx, in.db, tx); err != nil {
		return err
	}
	for i := range all {
		if err := in.insertLog(ctx, tx, &all[i]); err != nil {
			return fmt.Errorf("inserting request log: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing usage: %w", err)
	}
	return nil
}

// insertChunk inserts one statement's rows. The common case — every row
// new — is a plain insert whose affected-row count says so (all is true).
// When some were already stored (a replay, a retry), it
// rolls back to a savepoint and inserts again with RETURNING, adding the
// ids actually stored to ids.
func (in *inserter) insertChunk(ctx context.Context, tx *sql.Tx, n int, args []any, ids map[string]bool) (all bool, err error) {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT ledger_chunk"); err != nil {
		return false, err
	}
	st, err := in.stmt(ctx, n, false)
	if err != nil {
		return false, err
	}
	res, err := tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	if err != nil {
		return false, err
	}
	if got, err := res.RowsAffected(); err == nil && got == int64(n) {
		_, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT ledger_chunk")
		return true, err
	}
	if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT ledger_chunk"); err != nil {
		return false, err
	}
	if st, err = in.stmt(ctx, n, true); err != nil {
		return false, err
	}
	if err := in.returned(ctx, tx.StmtContext(ctx, st), args, ids); err != nil {
		return false, err
	}
	_, err = tx.ExecContext(ctx, "RELEASE SAVEPOINT ledger_chunk")
	return false, err
}

// returned runs an insert and adds the request ids it returns to ids.
func (in *inserter) returned(ctx context.Context, st *sql.Stmt, args []any, ids map[string]bool) error {
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		ids[id] = true
	}
	return rows.Err()
}

// insertLog stores r's kept bodies, compressed, with a plain-text copy of
// the conversation (cut at 16 KiB) for full-text search.
func (in *inserter) insertLog(ctx context.Context, tx *sql.Tx, r *Record) error {
	l := r.Log
	if l == nil {
		return nil
	}
	meta := string(l.Metadata)
	if meta == "" {
		meta = "{}"
	}
	tags := ""
	if len(l.Tags) > 0 {
		tags = "," + strings.Join(l.Tags, ",") + ","
	}
	_, err := tx.ExecContext(ctx, in.db.Rebind(`INSERT INTO request_logs (request_id, client_request_id, ts, org_id, project_id, key_id, model, status, end_user, tags, metadata, search, request, response)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (request_id) DO NOTHING`),
		r.ID, r.ClientRequestID, r.Time.UnixMilli(), r.OrgID, r.ProjectID, r.KeyID, r.Model, r.Status, l.EndUser, tags, meta,
		searchText(l.Request, l.Response), Compress(l.Request), Compress(l.Response))
	return err
}

const hourLayout = "2006-01-02T15"
