package tenancy

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"switchyard/internal/db"
)

func init() {
	db.Register(db.Migration{Name: "0001_tenancy_api_keys", SQL: `
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  prefix TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT,
  revoked_at TEXT
)`}, db.Migration{Name: "0002_tenancy_orgs", SQL: `
CREATE TABLE orgs (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  currency TEXT NOT NULL,
  markup_bps BIGINT NOT NULL DEFAULT 0,
  prepaid INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL
);
CREATE TABLE projects (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL,
  name TEXT NOT NULL,
  rpm BIGINT NOT NULL DEFAULT 0,
  tpm BIGINT NOT NULL DEFAULT 0,
  concurrency BIGINT NOT NULL DEFAULT 0,
  monthly_budget BIGINT NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL
);
CREATE INDEX projects_org ON projects (org_id);
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL,
  email TEXT NOT NULL,
  role TEXT NOT NULL,
  projects TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  UNIQUE (org_id, email)
);
ALTER TABLE api_keys ADD COLUMN org_id TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN project_id TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN user_id TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN models TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN rpm BIGINT NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN tpm BIGINT NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN concurrency BIGINT NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN monthly_budget BIGINT NOT NULL DEFAULT 0;
CREATE TABLE balance_entries (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL,
  amount BIGINT NOT NULL,
  currency TEXT NOT NULL,
  note TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL
);
CREATE INDEX balance_entries_org ON balance_entries (org_id);
CREATE TABLE tenancy_version (id INTEGER PRIMARY KEY, v BIGINT NOT NULL);
INSERT INTO tenancy_version (id, v) VALUES (1, 0)`}, db.Migration{Name: "0003_tenancy_project_policy", SQL: `
ALTER TABLE projects ADD COLUMN policy TEXT NOT NULL DEFAULT '';
ALTER TABLE projects ADD COLUMN keep_bodies INTEGER NOT NULL DEFAULT 0;
ALTER TABLE projects ADD COLUMN retention_days BIGINT NOT NULL DEFAULT 0`})
}

// Errors the admin API maps to statuses.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("already exists")
	ErrInvalid  = errors.New("invalid")
)

// FieldError is invalid input; Field names the field at fault (empty when
// no one field is). errors.Is(err, ErrInvalid) holds for it.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Msg }

// Is makes a FieldError an ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// field is a named number for negative.
type field struct {
	name string
	v    int64
}

// negative is the error for the first of fs below zero, or nil.
func negative(fs ...field) error {
	for _, f := range fs {
		if f.v < 0 {
			return invalid(f.name, "%s must not be negative", f.name)
		}
	}
	return nil
}

// Store persists tenants and keeps the in-memory snapshot.
type Store struct {
	db   *db.DB
	log  *slog.Logger
	snap atomic.Pointer[snapshot]
	mu   sync.Mutex // serialises reloads
}

// snapshot is an immutable view of every tenant record.
type snapshot struct {
	version  int64
	byHash   map[string]*Key
	keys     map[string]*Key
	orgs     map[string]*Org
	projects map[string]*Project
	users    map[string]*User
	topUps   map[string]int64
}

// NewStore loads the snapshot from the database.
func NewStore(ctx context.Context, d *db.DB, log *slog.Logger) (*Store, error) {
	s := &Store{db: d, log: log}
	if err := s.Reload(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// DB returns the database the store writes to.
func (s *Store) DB() *db.DB { return s.db }

func (s *Store) version(ctx context.Context) (int64, error) {
	var v int64
	err := s.db.QueryRowContext(ctx, `SELECT v FROM tenancy_version WHERE id = 1`).Scan(&v)
	return v, err
}

// Watch reloads the snapshot whenever another replica (or this one)
// changed something, checking every interval until ctx ends.
func (s *Store) Watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		v, err := s.version(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("tenancy: checking for changes", "err", err)
			}
			continue
		}
		if v != s.snap.Load().version {
			if err := s.Reload(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("tenancy: reloading", "err", err)
			}
		}
	}
}

func parseTime(s sql.NullString) time.Time {
	if !s.Valid || s.String == "" {
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339Nano, s.String)
	return t
}

func fmtTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// Reload rebuilds the snapshot from the database.
func (s *Store) Reload(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: s.db.Dialect == db.Postgres})
	if err != nil {
		return fmt.Errorf("loading tenants: %w", err)
	}
	defer tx.Rollback()
	sn := &snapshot{byHash: map[string]*Key{}, keys: map[string]*Key{}, orgs: map[string]*Org{}, projects: map[string]*Project{}, users: map[string]*User{}, topUps: map[string]int64{}}
	if err := tx.QueryRowContext(ctx, `SELECT v FROM tenancy_version WHERE id = 1`).Scan(&sn.version); err != nil {
		return fmt.Errorf("loading tenants: %w", err)
	}
	err = scanAll(ctx, tx, `SELECT id, name, currency, markup_bps, prepaid, created_at FROM orgs`, func(r *sql.Rows) error {
		o := &Org{}
		var created sql.NullString
		var prepaid int
		if err := r.Scan(&o.ID, &o.Name, &o.Currency, &o.MarkupBPS, &prepaid, &created); err != nil {
			return err
		}
		o.Prepaid, o.CreatedAt = prepaid != 0, parseTime(created)
		sn.orgs[o.ID] = o
		return nil
	})
	if err == nil {
		err = scanAll(ctx, tx, `SELECT id, org_id, name, rpm, tpm, concurrency, monthly_budget, created_at, policy, keep_bodies, retention_days FROM projects`, func(r *sql.Rows) error {
			p := &Project{}
			var created sql.NullString
			var pol string
			var keep int
			if err := r.Scan(&p.ID, &p.OrgID, &p.Name, &p.RPM, &p.TPM, &p.Concurrency, &p.MonthlyBudget, &created, &pol, &keep, &p.RetentionDays); err != nil {
				return err
			}
			p.CreatedAt, p.KeepBodies = parseTime(created), keep != 0
			if pol != "" {
				p.Policy = json.RawMessage(pol)
			}
			sn.projects[p.ID] = p
			return nil
		})
	}
	if err == nil {
		err = scanAll(ctx, tx, `SELECT id, org_id, email, role, projects, created_at FROM users`, func(r *sql.Rows) error {
			u := &User{}
			var created sql.NullString
			var projects string
			if err := r.Scan(&u.ID, &u.OrgID, &u.Email, &u.Role, &projects, &created); err != nil {
				return err
			}
			u.Projects, u.CreatedAt = splitList(projects), parseTime(created)
			sn.users[u.ID] = u
			return nil
		})
	}
	if err == nil {
		err = scanAll(ctx, tx, `SELECT id, name, prefix, hash, role, org_id, project_id, user_id, models, rpm, tpm, concurrency, monthly_budget, created_at, expires_at, revoked_at FROM api_keys`, func(r *sql.Rows) error {
			k := &Key{}
			var hash, models string
			var created, expires, revoked sql.NullString
			if err := r.Scan(&k.ID, &k.Name, &k.Prefix, &hash, &k.Role, &k.OrgID, &k.ProjectID, &k.UserID, &models,
				&k.RPM, &k.TPM, &k.Concurrency, &k.MonthlyBudget, &created, &expires, &revoked); err != nil {
				return err
			}
			k.Models = splitList(models)
			k.CreatedAt, k.ExpiresAt, k.RevokedAt = parseTime(created), parseTime(expires), parseTime(revoked)
			k.Org, k.Project, k.User = sn.orgs[k.OrgID], sn.projects[k.ProjectID], sn.users[k.UserID]
			sn.keys[k.ID] = k
			sn.byHash[hash] = k
			return nil
		})
	}
	if err == nil {
		err = scanAll(ctx, tx, `SELECT org_id, SUM(amount) FROM balance_entries GROUP BY org_id`, func(r *sql.Rows) error {
			var org string
			var sum int64
			if err := r.Scan(&org, &sum); err != nil {
				return err
			}
			sn.topUps[org] = sum
			return nil
		})
	}
	if err != nil {
		return fmt.Errorf("loading tenants: %w", err)
	}
	s.snap.Store(sn)
	return nil
}

func scanAll(ctx context.Context, tx *sql.Tx, q string, each func(*sql.Rows) error) error {
	rows, err := tx.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// change runs fn in a transaction that also bumps the version, then
// reloads this replica's snapshot at once.
func (s *Store) change(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE tenancy_version SET v = v + 1 WHERE id = 1`); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		if s.db.IsUniqueViolation(err) {
			return ErrConflict
		}
		return err
	}
	return s.Reload(ctx)
}

func (s *Store) exec(ctx context.Context, tx *sql.Tx, q string, args ...any) (int64, error) {
	res, err := tx.ExecContext(ctx, s.db.Rebind(q), args...)
	if err != nil {
		if s.db.IsUniqueViolation(err) {
			return 0, ErrConflict
		}
		return 0, err
	}
	return res.RowsAffected()
}

// Authenticate resolves a presented secret to its active key.
func (s *Store) Authenticate(secret string, now time.Time) (*Key, error) {
	if secret == "" {
		return nil, ErrInvalidKey
	}
	k, ok := s.snap.Load().byHash[Hash(secret)]
	if !ok || !k.Active(now) {
		return nil, ErrInvalidKey
	}
	return k, nil
}

// EnsureAdmin makes sure an admin key exists.
//
// With secret set (from SWITCHYARD_ADMIN_KEY) the value is added as an
// admin key of its own, id AdminEnvKeyID, beside the admin keys already
// stored — the generated one keeps working — and a log line names the
// change and the key prefixes. Starting again with the same value changes
// nothing and logs nothing; a different value replaces the previous
// SWITCHYARD_ADMIN_KEY key (only that one). A value that is a revoked key
// (one retired with RotateAdmin) stays revoked, with a warning.
//
// When no active admin key exists after that, a key is generated (id
// AdminKeyID on the first start) and returned so the caller can print it
// once; otherwise EnsureAdmin returns "".
func (s *Store) EnsureAdmin(ctx context.Context, secret string) (generated string, err error) {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if secret != "" {
		if len(secret) < 16 {
			return "", errors.New("SWITCHYARD_ADMIN_KEY must be at least 16 characters")
		}
		if err := s.ensureEnvAdmin(ctx, secret, now); err != nil {
			return "", err
		}
	}
	snap := s.snap.Load()
	for _, k := range snap.keys {
		if k.Role == RoleAdmin && k.Active(time.Now()) {
			return "", nil
		}
	}
	id := AdminKeyID
	if _, taken := snap.keys[id]; taken {
		id = newID("key_admin_")
	}
	secret = NewSecret()
	err = s.change(ctx, func(tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO api_keys (id, name, prefix, hash, role, created_at) VALUES (?, 'admin', ?, ?, ?, ?)`,
			id, visiblePrefix(secret), Hash(secret), RoleAdmin, now)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("storing admin key: %w", err)
	}
	s.log.Info("admin key created", "id", id, "prefix", visiblePrefix(secret))
	return secret, nil
}

// ensureEnvAdmin stores secret as the SWITCHYARD_ADMIN_KEY admin key.
func (s *Store) ensureEnvAdmin(ctx context.Context, secret, now string) error {
	snap := s.snap.Load()
	if k, ok := snap.byHash[Hash(secret)]; ok {
		switch {
		case k.Role != RoleAdmin:
			return fmt.Errorf("SWITCHYARD_ADMIN_KEY is the secret of key %s, which is not an admin key", k.ID)
		case !k.RevokedAt.IsZero():
			s.log.Warn("SWITCHYARD_ADMIN_KEY is a revoked admin key; it stays revoked", "id", k.ID, "prefix", k.Prefix)
		}
		return nil // already an admin key: nothing changes
	}
	var others []string
	for _, k := range snap.keys {
		if k.Role == RoleAdmin && k.ID != AdminEnvKeyID && k.Active(time.Now()) {
			others = append(others, k.Prefix)
		}
	}
	slices.Sort(others)
	old, replacing := snap.keys[AdminEnvKeyID]
	err := s.change(ctx, func(tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO api_keys (id, name, prefix, hash, role, created_at) VALUES (?, 'admin (SWITCHYARD_ADMIN_KEY)', ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET hash = excluded.hash, prefix = excluded.prefix, created_at = excluded.created_at, revoked_at = NULL`,
			AdminEnvKeyID, visiblePrefix(secret), Hash(secret), RoleAdmin, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("storing admin key: %w", err)
	}
	if replacing {
		s.log.Warn("SWITCHYARD_ADMIN_KEY changed: it replaces the previous SWITCHYARD_ADMIN_KEY admin key; other admin keys keep working",
			"id", AdminEnvKeyID, "prefix", visiblePrefix(secret), "replaced_prefix", old.Prefix, "other_admin_prefixes", strings.Join(others, ","))
	} else {
		s.log.Warn("SWITCHYARD_ADMIN_KEY added as an admin key; other admin keys keep working",
			"id", AdminEnvKeyID, "prefix", visiblePrefix(secret), "other_admin_prefixes", strings.Join(others, ","))
	}
	return nil
}

// RotateAdmin creates a new admin key and revokes old, the admin key that
// asked for it, in one transaction; other admin keys are untouched. It
// returns the new key and its secret, which is shown only this once.
func (s *Store) RotateAdmin(ctx context.Context, old *Key) (*Key, string, error) {
	if old == nil || old.Role != RoleAdmin {
		return nil, "", invalid("", "only an admin key can rotate the admin key")
	}
	secret := NewSecret()
	id := newID("key_admin_")
	now := time.Now().UTC()
	err := s.change(ctx, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, `INSERT INTO api_keys (id, name, prefix, hash, role, created_at) VALUES (?, 'admin', ?, ?, ?, ?)`,
			id, visiblePrefix(secret), Hash(secret), RoleAdmin, fmtTime(now)); err != nil {
			return err
		}
		n, err := s.exec(ctx, tx, `UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, fmtTime(now), old.ID)
		if err == nil && n == 0 {
			err = ErrNotFound // revoked meanwhile
		}
		return err
	})
	if err != nil {
		return nil, "", err
	}
	s.log.Info("admin key rotated", "id", id, "prefix", visiblePrefix(secret), "revoked", old.ID, "revoked_prefix", old.Prefix)
	nk, err := s.Key(id)
	return nk, secret, err
}
