package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"golang.org/x/crypto/bcrypt"

	"switchyard/internal/db"
	"switchyard/internal/tenancy"
)

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

// Cookie names.
const (
	sessionCookie   = "sy_session"
	loginCSRFCookie = "sy_login_csrf"
)

// sessionTTL is how long a sign-in lasts.
const sessionTTL = 12 * time.Hour

// bcryptCost is the work factor of stored password hashes.
const bcryptCost = bcrypt.DefaultCost

// minPassword is the shortest password accepted.
const minPassword = 10

var loginRE = regexp.MustCompile(`^[A-Za-z0-9._@-]{3,64}$`)

// Errors the handlers branch on.
var (
	errBadLogin   = errors.New("wrong login or password")
	errLoginTaken = errors.New("login name taken")
	errNoSession  = errors.New("no session")
)

// session is a signed-in browser: it acts as one tenancy key.
type session struct {
	id   string // hash of the cookie value
	key  *tenancy.Key
	csrf string
}

func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func tokenHash(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// setPassword gives the key a console login name and password, replacing
// any it had.
func (c *Console) setPassword(ctx context.Context, keyID, login, password string) error {
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcryptCost)
	if err != nil {
		return fmt.Errorf("hashing password: %w", err)
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("setting password: %w", err)
	}
	defer tx.Rollback()
	var owner string
	err = tx.QueryRowContext(ctx, c.db.Rebind(`SELECT key_id FROM console_logins WHERE login = ?`), login).Scan(&owner)
	switch {
	case err == nil && owner != keyID:
		return errLoginTaken
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("setting password: %w", err)
	}
	if _, err := tx.ExecContext(ctx, c.db.Rebind(`DELETE FROM console_logins WHERE key_id = ?`), keyID); err != nil {
		return fmt.Errorf("setting password: %w", err)
	}
	if _, err := tx.ExecContext(ctx, c.db.Rebind(`INSERT INTO console_logins (login, key_id, hash, updated_at) VALUES (?, ?, ?, ?)`),
		login, keyID, string(hash), time.Now().Unix()); err != nil {
		return fmt.Errorf("setting password: %w", err)
	}
	// Other sign-ins of this key end when its password changes.
	if _, err := tx.ExecContext(ctx, c.db.Rebind(`DELETE FROM console_sessions WHERE key_id = ?`), keyID); err != nil {
		return fmt.Errorf("setting password: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("setting password: %w", err)
	}
	return nil
}

// loginOf returns the console login name of a key, "" when it has none.
func (c *Console) loginOf(ctx context.Context, keyID string) (string, error) {
	var login string
	err := c.db.QueryRowContext(ctx, c.db.Rebind(`SELECT login FROM console_logins WHERE key_id = ?`), keyID).Scan(&login)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading login: %w", err)
	}
	return login, nil
}

// checkPassword returns the key a login name and password sign in as.
func (c *Console) checkPassword(ctx context.Context, login, password string) (*tenancy.Key, error) {
	var keyID, hash string
	err := c.db.QueryRowContext(ctx, c.db.Rebind(`SELECT key_id, hash FROM console_logins WHERE login = ?`), login).Scan(&keyID, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		// Spend the same time as a real check so that timing does not
		// tell which login names exist.
		bcrypt.CompareHashAndPassword(c.dummyHash, []byte(password))
		return nil, errBadLogin
	}
	if err != nil {
		return nil, fmt.Errorf("reading login: %w", err)
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		return nil, errBadLogin
	}
	k, err := c.tenants.Key(keyID)
	if err != nil || !k.Active(time.Now()) {
		return nil, errBadLogin
	}
	return k, nil
}

// startSession signs the browser in as k and sets the session cookie.
func (c *Console) startSession(ctx context.Context, w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	tok := randomToken()
	now := time.Now()
	if _, err := c.db.ExecContext(ctx, c.db.Rebind(`INSERT INTO console_sessions (id, key_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`),
		tokenHash(tok), k.ID, randomToken(), now.Unix(), now.Add(sessionTTL).Unix()); err != nil {
		return fmt.Errorf("starting session: %w", err)
	}
	// Expired sessions are swept on each sign-in.
	c.db.ExecContext(ctx, c.db.Rebind(`DELETE FROM console_sessions WHERE expires_at < ?`), now.Unix())
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: tok, Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteLaxMode, MaxAge: int(sessionTTL / time.Second)})
	return nil
}

// session returns the request's signed-in session.
func (c *Console) session(r *http.Request) (*session, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil, errNoSession
	}
	id := tokenHash(ck.Value)
	var keyID, csrf string
	var expires int64
	err = c.db.QueryRowContext(r.Context(), c.db.Rebind(`SELECT key_id, csrf, expires_at FROM console_sessions WHERE id = ?`), id).Scan(&keyID, &csrf, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("reading session: %w", err)
	}
	if time.Now().Unix() >= expires {
		return nil, errNoSession
	}
	k, err := c.tenants.Key(keyID)
	if err != nil || !k.Active(time.Now()) {
		return nil, errNoSession
	}
	return &session{id: id, key: k, csrf: csrf}, nil
}

// endSession signs the browser out.
func (c *Console) endSession(w http.ResponseWriter, r *http.Request, s *session) {
	c.db.ExecContext(r.Context(), c.db.Rebind(`DELETE FROM console_sessions WHERE id = ?`), s.id)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// validCSRF compares the form's or header's token with the session's.
func validCSRF(r *http.Request, want string) bool {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// loginCSRF returns the pre-session token of the sign-in forms, setting
// its cookie when absent (double-submit: the form must echo the cookie).
func loginCSRF(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(loginCSRFCookie); err == nil && len(ck.Value) >= 32 {
		return ck.Value
	}
	tok := randomToken()
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Value: tok, Path: "/console/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode})
	return tok
}
