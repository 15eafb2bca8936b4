package tenancy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"switchyard/internal/db"
)

// The console's sign-in names and browser sessions. The migration keeps
// the name it had when the console created these tables itself, so that a
// database migrated then is not migrated again.
func init() {
	db.Register(db.Migration{Name: "0400_console_auth", SQL: `
CREATE TABLE console_logins (
  login TEXT PRIMARY KEY,
  key_id TEXT NOT NULL UNIQUE,
  hash TEXT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE TABLE console_sessions (
  id TEXT PRIMARY KEY,
  key_id TEXT NOT NULL,
  csrf TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX console_sessions_key ON console_sessions (key_id)`})
}

// Sessions stores console sign-ins: at most one login name per key, with
// its password hash, and the sessions of signed-in browsers, each acting
// as one key. It stores hashes only; hashing is the caller's.
type Sessions struct {
	db *db.DB
}

// Sessions returns the console sign-in store, on the store's database.
func (s *Store) Sessions() *Sessions { return &Sessions{db: s.db} }

// Session is a signed-in browser.
type Session struct {
	ID        string // a hash of the browser's cookie, never the cookie
	KeyID     string
	CSRF      string
	CreatedAt time.Time // to the second
	ExpiresAt time.Time // to the second
}

// SetLogin gives the key the login name and password hash, replacing any
// it had, and ends the key's sessions. It returns ErrConflict when another
// key has the login name.
func (ss *Sessions) SetLogin(ctx context.Context, keyID, login, hash string) error {
	tx, err := ss.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("setting login: %w", err)
	}
	defer tx.Rollback()
	var owner string
	err = tx.QueryRowContext(ctx, ss.db.Rebind(`SELECT key_id FROM console_logins WHERE login = ?`), login).Scan(&owner)
	switch {
	case err == nil && owner != keyID:
		return fmt.Errorf("login %q: %w", login, ErrConflict)
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("setting login: %w", err)
	}
	if _, err := tx.ExecContext(ctx, ss.db.Rebind(`DELETE FROM console_logins WHERE key_id = ?`), keyID); err != nil {
		return fmt.Errorf("setting login: %w", err)
	}
	if _, err := tx.ExecContext(ctx, ss.db.Rebind(`INSERT INTO console_logins (login, key_id, hash, updated_at) VALUES (?, ?, ?, ?)`),
		login, keyID, hash, time.Now().Unix()); err != nil {
		return fmt.Errorf("setting login: %w", err)
	}
	// Other sign-ins of this key end when its password changes.
	if _, err := tx.ExecContext(ctx, ss.db.Rebind(`DELETE FROM console_sessions WHERE key_id = ?`), keyID); err != nil {
		return fmt.Errorf("setting login: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("setting login: %w", err)
	}
	return nil
}

// LoginOf returns the login name of a key, "" when it has none.
func (ss *Sessions) LoginOf(ctx context.Context, keyID string) (string, error) {
	var login string
	err := ss.db.QueryRowContext(ctx, ss.db.Rebind(`SELECT login FROM console_logins WHERE key_id = ?`), keyID).Scan(&login)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading login: %w", err)
	}
	return login, nil
}

// PasswordHash returns the key a login name belongs to and its password
// hash, or ErrNotFound.
func (ss *Sessions) PasswordHash(ctx context.Context, login string) (keyID, hash string, err error) {
	err = ss.db.QueryRowContext(ctx, ss.db.Rebind(`SELECT key_id, hash FROM console_logins WHERE login = ?`), login).Scan(&keyID, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", fmt.Errorf("login %q: %w", login, ErrNotFound)
	}
	if err != nil {
		return "", "", fmt.Errorf("reading login: %w", err)
	}
	return keyID, hash, nil
}

// Create stores a new session.
func (ss *Sessions) Create(ctx context.Context, s Session) error {
	if _, err := ss.db.ExecContext(ctx, ss.db.Rebind(`INSERT INTO console_sessions (id, key_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`),
		s.ID, s.KeyID, s.CSRF, s.CreatedAt.Unix(), s.ExpiresAt.Unix()); err != nil {
		return fmt.Errorf("starting session: %w", err)
	}
	return nil
}

// Get returns the session with the id, or ErrNotFound. It does not check
// the expiry: that is the caller's.
func (ss *Sessions) Get(ctx context.Context, id string) (Session, error) {
	s := Session{ID: id}
	var created, expires int64
	err := ss.db.QueryRowContext(ctx, ss.db.Rebind(`SELECT key_id, csrf, created_at, expires_at FROM console_sessions WHERE id = ?`), id).
		Scan(&s.KeyID, &s.CSRF, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, fmt.Errorf("session: %w", ErrNotFound)
	}
	if err != nil {
		return Session{}, fmt.Errorf("reading session: %w", err)
	}
	s.CreatedAt, s.ExpiresAt = time.Unix(created, 0), time.Unix(expires, 0)
	return s, nil
}

// Delete ends a session; ending one that is gone is not an error.
func (ss *Sessions) Delete(ctx context.Context, id string) error {
	if _, err := ss.db.ExecContext(ctx, ss.db.Rebind(`DELETE FROM console_sessions WHERE id = ?`), id); err != nil {
		return fmt.Errorf("ending session: %w", err)
	}
	return nil
}

// DeleteExpired removes the sessions that expired before t.
func (ss *Sessions) DeleteExpired(ctx context.Context, t time.Time) error {
	if _, err := ss.db.ExecContext(ctx, ss.db.Rebind(`DELETE FROM console_sessions WHERE expires_at < ?`), t.Unix()); err != nil {
		return fmt.Errorf("removing expired sessions: %w", err)
	}
	return nil
}
