package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"golang.org/x/crypto/bcrypt"

	"switchyard/internal/tenancy"
)

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
// any it had, and ends the key's other sessions.
func (c *Console) setPassword(ctx context.Context, keyID, login, password string) error {
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcryptCost)
	if err != nil {
		return fmt.Errorf("hashing password: %w", err)
	}
	if err := c.sessions.SetLogin(ctx, keyID, login, string(hash)); errors.Is(err, tenancy.ErrConflict) {
		return errLoginTaken
	} else if err != nil {
		return err
	}
	return nil
}

// loginOf returns the console login name of a key, "" when it has none.
func (c *Console) loginOf(ctx context.Context, keyID string) (string, error) {
	return c.sessions.LoginOf(ctx, keyID)
}

// checkPassword returns the key a login name and password sign in as.
func (c *Console) checkPassword(ctx context.Context, login, password string) (*tenancy.Key, error) {
	keyID, hash, err := c.sessions.PasswordHash(ctx, login)
	if errors.Is(err, tenancy.ErrNotFound) {
		// Spend the same time as a real check so that timing does not
		// tell which login names exist.
		bcrypt.CompareHashAndPassword(c.dummyHash, []byte(password))
		return nil, errBadLogin
	}
	if err != nil {
		return nil, err
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
	if err := c.sessions.Create(ctx, tenancy.Session{ID: tokenHash(tok), KeyID: k.ID, CSRF: randomToken(), CreatedAt: now, ExpiresAt: now.Add(sessionTTL)}); err != nil {
		return err
	}
	// Expired sessions are swept on each sign-in.
	if err := c.sessions.DeleteExpired(ctx, now); err != nil {
		c.log.Warn("console sign-in", "err", err)
	}
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
	st, err := c.sessions.Get(r.Context(), tokenHash(ck.Value))
	if errors.Is(err, tenancy.ErrNotFound) {
		return nil, errNoSession
	}
	if err != nil {
		return nil, err
	}
	if !time.Now().Before(st.ExpiresAt) {
		return nil, errNoSession
	}
	k, err := c.tenants.Key(st.KeyID)
	if err != nil || !k.Active(time.Now()) {
		return nil, errNoSession
	}
	return &session{id: st.ID, key: k, csrf: st.CSRF}, nil
}

// endSession signs the browser out.
func (c *Console) endSession(w http.ResponseWriter, r *http.Request, s *session) {
	if err := c.sessions.Delete(r.Context(), s.id); err != nil {
		c.log.Warn("console sign-out", "err", err)
	}
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
