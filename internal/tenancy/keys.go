// Package tenancy owns API keys and who they belong to. Keys are random
// secrets shown once; only their SHA-256 is stored, and lookups go through
// an in-memory index keyed by that hash, so checking a key costs one hash
// and one map read whatever the key's value.
package tenancy

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
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
)`})
}

// KeyPrefix starts every Switchyard key.
const KeyPrefix = "sy-"

// Roles a key can have.
const (
	RoleAdmin = "admin"
	RoleUser  = "user"
)

// AdminKeyID is the id of the bootstrap admin key.
const AdminKeyID = "admin"

// ErrInvalidKey is returned for a missing, unknown, expired or revoked key.
var ErrInvalidKey = errors.New("invalid API key")

// Key is an API key's record, never its secret.
type Key struct {
	ID        string
	Name      string
	Prefix    string // first characters, for people to recognise a key
	Role      string
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never
	RevokedAt time.Time // zero: active
}

// LogValue implements slog.LogValuer: only the id is ever logged.
func (k *Key) LogValue() slog.Value { return slog.StringValue(k.ID) }

// Store persists keys and keeps the in-memory index.
type Store struct {
	db    *db.DB
	log   *slog.Logger
	index atomic.Pointer[map[string]*Key] // by hex sha256
	mu    sync.Mutex                      // serialises reloads
}

// NewStore loads the index from the database.
func NewStore(ctx context.Context, d *db.DB, log *slog.Logger) (*Store, error) {
	s := &Store{db: d, log: log}
	if err := s.Reload(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Hash is the stored form of a key secret.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// NewSecret returns a fresh key: "sy-" and 32 random bytes, base64url.
func NewSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return KeyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

func visiblePrefix(secret string) string {
	if len(secret) > 10 {
		return secret[:10]
	}
	return secret
}

// Reload rebuilds the in-memory index from the database.
func (s *Store) Reload(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, prefix, hash, role, created_at, expires_at, revoked_at FROM api_keys`)
	if err != nil {
		return fmt.Errorf("loading keys: %w", err)
	}
	defer rows.Close()
	idx := map[string]*Key{}
	for rows.Next() {
		var k Key
		var hash, created string
		var expires, revoked sql.NullString
		if err := rows.Scan(&k.ID, &k.Name, &k.Prefix, &hash, &k.Role, &created, &expires, &revoked); err != nil {
			return fmt.Errorf("loading keys: %w", err)
		}
		k.CreatedAt, _ = time.Parse(time.RFC3339Nano, created)
		if expires.Valid {
			k.ExpiresAt, _ = time.Parse(time.RFC3339Nano, expires.String)
		}
		if revoked.Valid {
			k.RevokedAt, _ = time.Parse(time.RFC3339Nano, revoked.String)
		}
		idx[hash] = &k
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("loading keys: %w", err)
	}
	s.index.Store(&idx)
	return nil
}

// Authenticate resolves a presented secret to its key.
func (s *Store) Authenticate(secret string, now time.Time) (*Key, error) {
	if secret == "" {
		return nil, ErrInvalidKey
	}
	k, ok := (*s.index.Load())[Hash(secret)]
	if !ok || !k.RevokedAt.IsZero() || (!k.ExpiresAt.IsZero() && now.After(k.ExpiresAt)) {
		return nil, ErrInvalidKey
	}
	return k, nil
}

// EnsureAdmin makes sure an admin key exists. With secret set (from
// SWITCHYARD_ADMIN_KEY) that value becomes the admin key. Otherwise, on the
// first start only, a key is generated and returned so the caller can print
// it once; later starts return "".
func (s *Store) EnsureAdmin(ctx context.Context, secret string) (generated string, err error) {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if secret != "" {
		if !strings.HasPrefix(secret, KeyPrefix) && len(secret) < 16 {
			return "", errors.New("SWITCHYARD_ADMIN_KEY must be at least 16 characters")
		}
		_, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO api_keys (id, name, prefix, hash, role, created_at) VALUES (?, 'admin', ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET hash = excluded.hash, prefix = excluded.prefix, revoked_at = NULL`),
			AdminKeyID, visiblePrefix(secret), Hash(secret), RoleAdmin, now)
		if err != nil {
			return "", fmt.Errorf("storing admin key: %w", err)
		}
		return "", s.Reload(ctx)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT COUNT(*) FROM api_keys WHERE id = ?`), AdminKeyID).Scan(&n); err != nil {
		return "", fmt.Errorf("checking admin key: %w", err)
	}
	if n > 0 {
		return "", nil
	}
	secret = NewSecret()
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO api_keys (id, name, prefix, hash, role, created_at) VALUES (?, 'admin', ?, ?, ?, ?)`),
		AdminKeyID, visiblePrefix(secret), Hash(secret), RoleAdmin, now); err != nil {
		return "", fmt.Errorf("storing admin key: %w", err)
	}
	return secret, s.Reload(ctx)
}

// BearerToken extracts the key from "Authorization: Bearer KEY" or x-api-key.
func BearerToken(authorization, xAPIKey string) string {
	if xAPIKey != "" {
		return strings.TrimSpace(xAPIKey)
	}
	if len(authorization) > 7 && strings.EqualFold(authorization[:7], "bearer ") {
		return strings.TrimSpace(authorization[7:])
	}
	return ""
}
