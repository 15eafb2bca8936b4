// Package dataset is the dataset half of the data flywheel: datasets made
// from request logs or uploaded files, immutable content-hashed versions,
// curation (exact and near-duplicate removal, PII scrubbing, quality and
// label filters), annotation queues with agreement figures, and export to
// fine-tuning, preference, classification and evaluation formats.
//
// Every operation — import, adding rows, curation, applying annotations —
// makes a new version; a version's rows never change. Rows live in the
// project database (tables datasets, dataset_versions, dataset_rows,
// dataset_annotations), one copy per version.
package dataset

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/db"
)

func init() {
	db.Register(db.Migration{Name: "0300_dataset_tables", SQL: `
CREATE TABLE datasets (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  project_id TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX datasets_project_name ON datasets (project_id, name);
CREATE TABLE dataset_versions (
  id TEXT PRIMARY KEY,
  dataset_id TEXT NOT NULL REFERENCES datasets (id),
  n INTEGER NOT NULL,
  parent_version TEXT NOT NULL,
  op TEXT NOT NULL,
  params TEXT NOT NULL,
  content_hash TEXT NOT NULL,
  row_count BIGINT NOT NULL,
  report TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX dataset_versions_n ON dataset_versions (dataset_id, n);
CREATE TABLE dataset_rows (
  version_id TEXT NOT NULL REFERENCES dataset_versions (id),
  idx INTEGER NOT NULL,
  row_hash TEXT NOT NULL,
  data TEXT NOT NULL,
  origin TEXT NOT NULL,
  PRIMARY KEY (version_id, idx)
);
CREATE TABLE dataset_annotations (
  version_id TEXT NOT NULL REFERENCES dataset_versions (id),
  row_idx INTEGER NOT NULL,
  annotator TEXT NOT NULL,
  kind TEXT NOT NULL,
  value TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (version_id, row_idx, annotator)
)`})
}

// The kinds of error callers branch on (with errors.Is).
var (
	// ErrNotFound means a dataset or version does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalid means the caller's input is wrong (a name, an option, a file).
	ErrInvalid = errors.New("invalid")
	// ErrConflict means the dataset's state refuses the change (a name
	// taken, nothing left to apply).
	ErrConflict = errors.New("conflict")
)

// kindError gives err one of the kinds above; its message is err's.
type kindError struct {
	kind, err error
}

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

// invalidf is an ErrInvalid with its own message.
func invalidf(format string, args ...any) error {
	return &kindError{ErrInvalid, fmt.Errorf(format, args...)}
}

// Message is one chat message.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Origin says where a row came from; it is kept through every version.
type Origin struct {
	Source    string `json:"source,omitempty"`     // file name, "log", "api"
	Format    string `json:"format,omitempty"`     // import format
	Line      int    `json:"line,omitempty"`       // 1-based line (or array element) in the source
	RequestID string `json:"request_id,omitempty"` // for rows from request logs
}

// Row is one example. Its shape depends on the kind of data:
//
//   - chat: Messages (system/user/assistant turns);
//   - classification: Text and Label (Label may be empty until annotated);
//   - preference: Prompt, Chosen and Rejected;
//   - evaluation: Text (the input) and Reference (the expected answer).
//
// Origin is provenance, not content: it is not part of the row hash.
type Row struct {
	Messages  []Message `json:"messages,omitempty"`
	Text      string    `json:"text,omitempty"`
	Label     string    `json:"label,omitempty"`
	Prompt    string    `json:"prompt,omitempty"`
	Chosen    string    `json:"chosen,omitempty"`
	Rejected  string    `json:"rejected,omitempty"`
	Reference string    `json:"reference,omitempty"`
	Origin    Origin    `json:"-"`
}

// Content is the row's text for curation: every text field, in a fixed
// order, joined by newlines (the label is not included).
func (r *Row) Content() string {
	var b strings.Builder
	add := func(s string) {
		if s == "" {
			return
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(s)
	}
	for _, m := range r.Messages {
		add(m.Content)
	}
	add(r.Text)
	add(r.Prompt)
	add(r.Chosen)
	add(r.Rejected)
	add(r.Reference)
	return b.String()
}

// hash is the hex SHA-256 of the row's data JSON.
func (r *Row) hash() (string, []byte, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return "", nil, fmt.Errorf("encoding row: %w", err)
	}
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:]), data, nil
}

// Dataset is a named collection of versions in a project.
type Dataset struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	ProjectID string    `json:"project_id"`
	CreatedAt time.Time `json:"created_at"`
}

// Version is an immutable snapshot of a dataset's rows.
type Version struct {
	ID          string          `json:"id"`
	DatasetID   string          `json:"dataset_id"`
	N           int             `json:"n"`                // 1, 2, … within the dataset
	Parent      string          `json:"parent,omitempty"` // version it was made from
	Op          string          `json:"op"`               // import, add, curate, annotate…
	Params      json.RawMessage `json:"params"`
	ContentHash string          `json:"content_hash"` // SHA-256 over the row hashes in order
	RowCount    int             `json:"row_count"`
	Report      json.RawMessage `json:"report"`
	CreatedAt   time.Time       `json:"created_at"`
}

// Store keeps datasets in the project database.
type Store struct {
	d *db.DB
}

// Open returns a Store on d, whose migrations have been applied.
func Open(d *db.DB) *Store { return &Store{d: d} }

func newID(prefix string) string {
	var b [10]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// ValidName reports whether name is a usable dataset name: 1–64 letters,
// digits, '.', '_' or '-', not starting with '.' or '-', and without '@'.
func ValidName(name string) bool {
	if name == "" || len(name) > 64 || name[0] == '.' || name[0] == '-' {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Create makes an empty dataset (no versions yet).
func (s *Store) Create(ctx context.Context, name, projectID string) (*Dataset, error) {
	if !ValidName(name) {
		return nil, invalidf("invalid dataset name %q: use 1-64 letters, digits, . _ -", name)
	}
	ds := &Dataset{ID: newID("ds_"), Name: name, ProjectID: projectID, CreatedAt: time.Now().UTC()}
	_, err := s.d.ExecContext(ctx, s.d.Rebind(`INSERT INTO datasets (id, name, project_id, created_at) VALUES (?, ?, ?, ?)`),
		ds.ID, ds.Name, ds.ProjectID, ds.CreatedAt.Format(time.RFC3339Nano))
	if err != nil {
		if s.d.IsUniqueViolation(err) {
			return nil, &kindError{ErrConflict, fmt.Errorf("dataset %q already exists", name)}
		}
		return nil, fmt.Errorf("creating dataset: %w", err)
	}
	return ds, nil
}

// Get returns the dataset with the given id, or else the one with that
// name (an error if names in several projects match).
func (s *Store) Get(ctx context.Context, idOrName string) (*Dataset, error) {
	rows, err := s.d.QueryContext(ctx, s.d.Rebind(`SELECT id, name, project_id, created_at FROM datasets WHERE id = ? OR name = ? ORDER BY created_at`), idOrName, idOrName)
	if err != nil {
		return nil, fmt.Errorf("getting dataset: %w", err)
	}
	ds, err := scanDatasets(rows)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		if d.ID == idOrName {
			return &d, nil
		}
	}
	switch len(ds) {
	case 0:
		return nil, fmt.Errorf("dataset %q: %w", idOrName, ErrNotFound)
	case 1:
		return &ds[0], nil
	}
	return nil, invalidf("dataset name %q is in %d projects: use its id", idOrName, len(ds))
}

// List returns the datasets of a project, or of all projects when
// projectID is empty, by name.
func (s *Store) List(ctx context.Context, projectID string) ([]Dataset, error) {
	q := `SELECT id, name, project_id, created_at FROM datasets`
	var args []any
	if projectID != "" {
		q += ` WHERE project_id = ?`
		args = append(args, projectID)
	}
	rows, err := s.d.QueryContext(ctx, s.d.Rebind(q+` ORDER BY name, project_id`), args...)
	if err != nil {
		return nil, fmt.Errorf("listing datasets: %w", err)
	}
	return scanDatasets(rows)
}

func scanDatasets(rows *sql.Rows) ([]Dataset, error) {
	defer rows.Close()
	var out []Dataset
	for rows.Next() {
		var d Dataset
		var at string
		if err := rows.Scan(&d.ID, &d.Name, &d.ProjectID, &at); err != nil {
			return nil, fmt.Errorf("reading datasets: %w", err)
		}
		d.CreatedAt = parseTime(at)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading datasets: %w", err)
	}
	return out, nil
}

const versionCols = `id, dataset_id, n, parent_version, op, params, content_hash, row_count, report, created_at`

func scanVersions(rows *sql.Rows) ([]Version, error) {
	defer rows.Close()
	var out []Version
	for rows.Next() {
		var v Version
		var params, report, at string
		if err := rows.Scan(&v.ID, &v.DatasetID, &v.N, &v.Parent, &v.Op, &params, &v.ContentHash, &v.RowCount, &report, &at); err != nil {
			return nil, fmt.Errorf("reading versions: %w", err)
		}
		v.Params, v.Report, v.CreatedAt = json.RawMessage(params), json.RawMessage(report), parseTime(at)
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading versions: %w", err)
	}
	return out, nil
}

// Versions returns a dataset's versions, oldest first.
func (s *Store) Versions(ctx context.Context, datasetID string) ([]Version, error) {
	rows, err := s.d.QueryContext(ctx, s.d.Rebind(`SELECT `+versionCols+` FROM dataset_versions WHERE dataset_id = ? ORDER BY n`), datasetID)
	if err != nil {
		return nil, fmt.Errorf("listing versions: %w", err)
	}
	return scanVersions(rows)
}

// Version returns the version with the given id.
func (s *Store) Version(ctx context.Context, versionID string) (*Version, error) {
	rows, err := s.d.QueryContext(ctx, s.d.Rebind(`SELECT `+versionCols+` FROM dataset_versions WHERE id = ?`), versionID)
	if err != nil {
		return nil, fmt.Errorf("getting version: %w", err)
	}
	vs, err := scanVersions(rows)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("version %q: %w", versionID, ErrNotFound)
	}
	return &vs[0], nil
}

// Latest returns a dataset's newest version, or nil when it has none.
func (s *Store) Latest(ctx context.Context, datasetID string) (*Version, error) {
	rows, err := s.d.QueryContext(ctx, s.d.Rebind(`SELECT `+versionCols+` FROM dataset_versions WHERE dataset_id = ? ORDER BY n DESC LIMIT 1`), datasetID)
	if err != nil {
		return nil, fmt.Errorf("getting latest version: %w", err)
	}
	vs, err := scanVersions(rows)
	if err != nil || len(vs) == 0 {
		return nil, err
	}
	return &vs[0], nil
}

// Resolve finds a version from a reference: a version id, NAME@N, or a
// dataset name or id alone (its latest version).
func (s *Store) Resolve(ctx context.Context, ref string) (*Version, error) {
	if strings.HasPrefix(ref, "dsv_") {
		return s.Version(ctx, ref)
	}
	name, num, hasN := strings.Cut(ref, "@")
	ds, err := s.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	if !hasN {
		v, err := s.Latest(ctx, ds.ID)
		if err == nil && v == nil {
			err = fmt.Errorf("dataset %s has no versions yet: %w", ds.Name, ErrNotFound)
		}
		return v, err
	}
	n, err := strconv.Atoi(strings.TrimPrefix(num, "v"))
	if err != nil {
		return nil, invalidf("version reference %q: want NAME@N", ref)
	}
	rows, err := s.d.QueryContext(ctx, s.d.Rebind(`SELECT `+versionCols+` FROM dataset_versions WHERE dataset_id = ? AND n = ?`), ds.ID, n)
	if err != nil {
		return nil, fmt.Errorf("getting version: %w", err)
	}
	vs, err := scanVersions(rows)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("version %s@%d: %w", ds.Name, n, ErrNotFound)
	}
	return &vs[0], nil
}

// EachRow calls fn with every row of a version in order; it stops at the
// first error fn returns.
func (s *Store) EachRow(ctx context.Context, versionID string, fn func(idx int, r Row) error) error {
	rows, err := s.d.QueryContext(ctx, s.d.Rebind(`SELECT idx, data, origin FROM dataset_rows WHERE version_id = ? ORDER BY idx`), versionID)
	if err != nil {
		return fmt.Errorf("reading rows: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var idx int
		var data, origin string
		if err := rows.Scan(&idx, &data, &origin); err != nil {
			return fmt.Errorf("reading rows: %w", err)
		}
		var r Row
		if err := json.Unmarshal([]byte(data), &r); err != nil {
			return fmt.Errorf("decoding row %d: %w", idx, err)
		}
		if err := json.Unmarshal([]byte(origin), &r.Origin); err != nil {
			return fmt.Errorf("decoding row %d origin: %w", idx, err)
		}
		if err := fn(idx, r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading rows: %w", err)
	}
	return nil
}

// Rows returns every row of a version.
func (s *Store) Rows(ctx context.Context, versionID string) ([]Row, error) {
	var out []Row
	err := s.EachRow(ctx, versionID, func(_ int, r Row) error {
		out = append(out, r)
		return nil
	})
	return out, err
}

// rowHashes returns a version's row hashes in order.
func (s *Store) rowHashes(ctx context.Context, versionID string) ([]string, error) {
	rows, err := s.d.QueryContext(ctx, s.d.Rebind(`SELECT row_hash FROM dataset_rows WHERE version_id = ? ORDER BY idx`), versionID)
	if err != nil {
		return nil, fmt.Errorf("reading row hashes: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, fmt.Errorf("reading row hashes: %w", err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// ContentHash is the hash of a version with rows of the given hashes.
func ContentHash(rowHashes []string) string {
	h := sha256.New()
	for _, rh := range rowHashes {
		h.Write([]byte(rh))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// insertBatch is how many rows one INSERT statement carries.
const insertBatch = 200

// newVersion stores rows as the dataset's next version, in one
// transaction. parent "" means: the current latest version (if any).
func (s *Store) newVersion(ctx context.Context, datasetID, parent, op string, params, report any, rows []Row) (*Version, error) {
	hashes := make([]string, len(rows))
	data := make([][]byte, len(rows))
	origins := make([][]byte, len(rows))
	for i := range rows {
		h, d, err := rows[i].hash()
		if err != nil {
			return nil, err
		}
		o, err := json.Marshal(rows[i].Origin)
		if err != nil {
			return nil, fmt.Errorf("encoding origin: %w", err)
		}
		hashes[i], data[i], origins[i] = h, d, o
	}
	pj, err := json.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("encoding params: %w", err)
	}
	rj, err := json.Marshal(report)
	if err != nil {
		return nil, fmt.Errorf("encoding report: %w", err)
	}
	v := &Version{ID: newID("dsv_"), DatasetID: datasetID, Parent: parent, Op: op, Params: pj,
		ContentHash: ContentHash(hashes), RowCount: len(rows), Report: rj, CreatedAt: time.Now().UTC()}

	tx, err := s.d.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("storing version: %w", err)
	}
	defer tx.Rollback()
	var maxN sql.NullInt64
	if err := tx.QueryRowContext(ctx, s.d.Rebind(`SELECT MAX(n) FROM dataset_versions WHERE dataset_id = ?`), datasetID).Scan(&maxN); err != nil {
		return nil, fmt.Errorf("numbering version: %w", err)
	}
	v.N = int(maxN.Int64) + 1
	if _, err := tx.ExecContext(ctx, s.d.Rebind(`INSERT INTO dataset_versions (`+versionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		v.ID, v.DatasetID, v.N, v.Parent, v.Op, string(pj), v.ContentHash, v.RowCount, string(rj), v.CreatedAt.Format(time.RFC3339Nano)); err != nil {
		return nil, fmt.Errorf("storing version: %w", err)
	}
	var full *sql.Stmt
	for start := 0; start < len(rows); start += insertBatch {
		end := min(start+insertBatch, len(rows))
		n := end - start
		var stmt *sql.Stmt
		if n == insertBatch && full != nil {
			stmt = full
		} else {
			q := `INSERT INTO dataset_rows (version_id, idx, row_hash, data, origin) VALUES ` +
				strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?), ", n), ", ")
			stmt, err = tx.PrepareContext(ctx, s.d.Rebind(q))
			if err != nil {
				return nil, fmt.Errorf("storing rows: %w", err)
			}
			if n == insertBatch {
				full = stmt
			} else {
				defer stmt.Close()
			}
		}
		args := make([]any, 0, 5*n)
		for i := start; i < end; i++ {
			args = append(args, v.ID, i, hashes[i], string(data[i]), string(origins[i]))
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return nil, fmt.Errorf("storing rows: %w", err)
		}
	}
	if full != nil {
		full.Close()
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("storing version: %w", err)
	}
	return v, nil
}

// AddRows makes a new version of the dataset holding its latest version's
// rows followed by rows; op names the operation (e.g. "log-query"). The
// request-log path calls it to turn a log query into a dataset.
func (s *Store) AddRows(ctx context.Context, datasetID string, rows []Row, op string) (*Version, error) {
	if op == "" {
		op = "add"
	}
	return s.appendRows(ctx, datasetID, rows, op, map[string]any{"rows": len(rows)}, nil)
}

func (s *Store) appendRows(ctx context.Context, datasetID string, rows []Row, op string, params, report any) (*Version, error) {
	if _, err := s.Get(ctx, datasetID); err != nil {
		return nil, err
	}
	for i := range rows {
		if err := validRow(&rows[i]); err != nil {
			return nil, invalidf("row %d: %w", i, err)
		}
	}
	latest, err := s.Latest(ctx, datasetID)
	if err != nil {
		return nil, err
	}
	all := rows
	parent := ""
	if latest != nil {
		parent = latest.ID
		prev, err := s.Rows(ctx, latest.ID)
		if err != nil {
			return nil, err
		}
		all = append(prev, rows...)
	}
	return s.newVersion(ctx, datasetID, parent, op, params, report, all)
}
