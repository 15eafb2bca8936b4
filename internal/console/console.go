// Package console is Switchyard's web console: server-rendered pages
// (html/template, a little vanilla JavaScript, inline SVG charts) for
// operators and organisation members, in English and Simplified Chinese.
// It signs people in with a console password (bcrypt) tied to a tenancy
// key — the platform admin key or a user's key — and every page asks that
// key's tenancy permissions what it may show and do. Templates and static
// assets are embedded, so the binary serves the console offline.
package console

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"switchyard/internal/audit"
	"switchyard/internal/config"
	"switchyard/internal/db"
	"switchyard/internal/gateway"
	"switchyard/internal/metering"
	"switchyard/internal/metering/ledger"
	"switchyard/internal/router"
	"switchyard/internal/tenancy"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options are what the console reads and acts on; it owns none of them.
type Options struct {
	Tenants *tenancy.Store
	Prices  *metering.PriceBook
	DB      *db.DB
	Ledger  *ledger.Writer // flushed before usage is read
	Router  *router.Router
	Audit   *audit.Log
	Config  func() *config.Config // the configuration in force
	Gateway *gateway.Service      // serves the playground's chat calls
	Log     *slog.Logger
}

// Console serves the web console.
type Console struct {
	tenants   *tenancy.Store
	prices    *metering.PriceBook
	db        *db.DB
	ledger    *ledger.Writer
	router    *router.Router
	audit     *audit.Log
	config    func() *config.Config
	gw        *gateway.Service
	log       *slog.Logger
	pages     map[string]*template.Template
	mux       *http.ServeMux
	dummyHash []byte
	sessions  *tenancy.Sessions
	throttle  *throttle
}

var _ http.Handler = (*Console)(nil)

// New builds the console handler; mount it at "/".
func New(o Options) *Console {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Console{tenants: o.Tenants, prices: o.Prices, db: o.DB, ledger: o.Ledger, router: o.Router, audit: o.Audit,
		config: o.Config, gw: o.Gateway, log: log, pages: parsePages(), throttle: newThrottle()}
	c.dummyHash, _ = bcrypt.GenerateFromPassword([]byte("not a password"), bcryptCost)
	c.sessions = o.Tenants.Sessions()
	static, _ := fs.Sub(staticFS, "static")
	m := http.NewServeMux()
	m.Handle("GET /console/static/", http.StripPrefix("/console/static/", cacheFor(http.FileServerFS(static))))
	m.HandleFunc("GET /console/login", c.loginPage)
	m.HandleFunc("POST /console/login", c.loginPassword)
	m.HandleFunc("POST /console/login/key", c.loginKey)
	m.HandleFunc("GET /console/lang", c.switchLang)
	m.HandleFunc("POST /console/logout", c.page(c.logout))
	m.HandleFunc("GET /console/account", c.page(c.accountPage))
	m.HandleFunc("POST /console/account", c.page(c.accountSave))
	m.HandleFunc("GET /{$}", c.page(c.dashboard))
	m.HandleFunc("GET /console/orgs", c.page(c.orgsPage))
	m.HandleFunc("POST /console/orgs", c.page(c.createOrg))
	m.HandleFunc("GET /console/orgs/{org}", c.page(c.orgPage))
	m.HandleFunc("POST /console/orgs/{org}/projects", c.page(c.createProject))
	m.HandleFunc("POST /console/users/{user}/password", c.page(c.userPassword))
	m.HandleFunc("GET /console/projects/{project}", c.page(c.projectPage))
	m.HandleFunc("POST /console/projects/{project}/keys", c.page(c.createKey))
	m.HandleFunc("POST /console/projects/{project}/limits", c.page(c.updateLimits))
	m.HandleFunc("POST /console/keys/{key}/revoke", c.page(c.revokeKey))
	m.HandleFunc("GET /console/models", c.page(c.modelsPage))
	m.HandleFunc("GET /console/playground", c.page(c.playgroundPage))
	m.HandleFunc("POST /console/chat", c.chat)
	m.HandleFunc("GET /console/usage", c.page(c.usagePage))
	m.HandleFunc("GET /console/usage.csv", c.page(c.usageCSV))
	m.HandleFunc("GET /console/orgs/{org}/invoices/{month}", c.page(c.invoicePage))
	m.HandleFunc("GET /console/specialists", c.page(c.specialistsPage))
	m.HandleFunc("POST /console/specialists/{name}/promote", c.page(c.promote))
	m.HandleFunc("GET /console/policies", c.page(c.policiesPage))
	m.HandleFunc("GET /console/audit", c.page(c.auditPage))
	m.HandleFunc("GET /console/logs", c.page(c.logsPage))
	m.HandleFunc("GET /console/logs/{id}", c.page(c.logPage))
	m.HandleFunc("POST /console/logs/{id}/feedback", c.page(c.addFeedback))
	m.HandleFunc("GET /console/datasets", c.page(c.datasetsPage))
	m.HandleFunc("POST /console/datasets", c.page(c.createDataset))
	m.HandleFunc("GET /console/datasets/{ds}", c.page(c.datasetPage))
	m.HandleFunc("POST /console/datasets/{ds}/from-logs", c.page(c.datasetFromLogs))
	m.HandleFunc("POST /console/datasets/{ds}/versions/{v}/curate", c.page(c.curate))
	m.HandleFunc("POST /console/datasets/{ds}/versions/{v}/apply", c.page(c.applyAnnotations))
	m.HandleFunc("GET /console/datasets/{ds}/versions/{v}/export", c.page(c.exportDataset))
	m.HandleFunc("GET /console/datasets/{ds}/versions/{v}/annotate", c.page(c.annotatePage))
	m.HandleFunc("POST /console/datasets/{ds}/versions/{v}/annotate", c.page(c.annotate))
	m.HandleFunc("/", c.notFound)
	c.mux = m
	return c
}

// ServeHTTP implements http.Handler.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	c.mux.ServeHTTP(w, r)
}

func cacheFor(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// parsePages parses each page template together with the layout.
func parsePages() map[string]*template.Template {
	layout := template.Must(template.New("layout.html").ParseFS(templateFS, "templates/layout.html"))
	names, _ := fs.Glob(templateFS, "templates/*.html")
	out := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		out[base] = template.Must(template.Must(layout.Clone()).ParseFS(templateFS, n))
	}
	return out
}

// navItem is one entry of the navigation.
type navItem struct {
	ID, Href string
	Hidden   bool // a place kept for pages still to come
}

// view is what every template gets.
type view struct {
	Lang    string
	Title   string
	Nav     string // id of the active nav item
	Path    string // this page's path and query, for the language switch
	Sess    *session
	Login   string // the session's console login name
	Flash   string
	Error   string
	Data    any
	NavList []navItem
}

// T translates a message id.
func (v *view) T(id string) string { return T(v.Lang, id) }

// Int formats a count.
func (v *view) Int(n int64) string { return FormatInt(n) }

// Money formats micro-units of a currency.
func (v *view) Money(micros int64, cur string) string { return FormatMoney(v.Lang, micros, cur) }

// Time formats a moment.
func (v *view) Time(t time.Time) string { return FormatTime(v.Lang, t) }

// Decimal writes micro-units as a plain decimal for a form field: 12500000 → "12.5".
func (v *view) Decimal(micros int64) string {
	return strconv.FormatFloat(float64(micros)/1e6, 'f', -1, 64)
}

// CSRF is the session's form token.
func (v *view) CSRF() string {
	if v.Sess == nil {
		return ""
	}
	return v.Sess.csrf
}

// KeyName names the session's key.
func (v *view) KeyName() string {
	if v.Sess == nil {
		return ""
	}
	return v.Sess.key.Name
}

// IsAdmin reports whether the session is the platform admin.
func (v *view) IsAdmin() bool { return v.Sess != nil && v.Sess.key.IsAdmin() }

// OtherLang is the language the switch offers.
func (v *view) OtherLang() string {
	if v.Lang == LangZH {
		return LangEN
	}
	return LangZH
}

// HTMLLang is the lang attribute of the page.
func (v *view) HTMLLang() string {
	if v.Lang == LangZH {
		return "zh-CN"
	}
	return "en"
}

// SwitchHref is the link that changes language and comes back here.
func (v *view) SwitchHref() string {
	return "/console/lang?to=" + v.OtherLang() + "&next=" + url.QueryEscape(v.Path)
}

func (c *Console) navFor(s *session) []navItem {
	items := []navItem{{"dashboard", "/", false}, {"orgs", "/console/orgs", false}, {"models", "/console/models", false},
		{"playground", "/console/playground", false}, {"usage", "/console/usage", false}}
	admin := s != nil && s.key.IsAdmin()
	items = append(items, navItem{"specialists", "/console/specialists", !admin}, navItem{"policies", "/console/policies", false},
		navItem{"audit", "/console/audit", !admin},
		navItem{"logs", "/console/logs", false}, navItem{"datasets", "/console/datasets", false})
	return items
}

// render writes a page; status 0 means 200.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	t, ok := c.pages[name]
	if !ok {
		http.Error(w, "no template "+name, http.StatusInternalServerError)
		return
	}
	v.Lang = PickLang(r)
	v.Path = r.URL.RequestURI()
	v.NavList = c.navFor(v.Sess)
	if v.Sess != nil && v.Login == "" {
		v.Login, _ = c.loginOf(r.Context(), v.Sess.key.ID)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		c.log.Error("console template", "page", name, "err", err)
		http.Error(w, T(v.Lang, "err.server"), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail renders the error page with a message id (and detail).
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *session, status int, msgID, detail string) {
	lang := PickLang(r)
	c.render(w, r, status, "error", &view{Sess: s, Title: T(lang, "err.title"), Error: T(lang, msgID) + detail})
}

// storeFail maps a tenancy error to a page.
func (c *Console) storeFail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	switch {
	case errors.Is(err, tenancy.ErrNotFound):
		c.fail(w, r, s, http.StatusNotFound, "err.notfound", "")
	case errors.Is(err, tenancy.ErrInvalid), errors.Is(err, tenancy.ErrConflict):
		c.fail(w, r, s, http.StatusBadRequest, "err.invalid", err.Error())
	default:
		c.log.Error("console store", "err", err)
		c.fail(w, r, s, http.StatusInternalServerError, "err.server", "")
	}
}

type pageHandler func(w http.ResponseWriter, r *http.Request, s *session)

// page requires a session (sending the browser to sign in otherwise) and,
// for POSTs, the session's CSRF token.
func (c *Console) page(h pageHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := c.session(r)
		if err != nil {
			if !errors.Is(err, errNoSession) {
				c.log.Error("console session", "err", err)
			}
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/console/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			c.fail(w, r, nil, http.StatusUnauthorized, "csrf.bad", "")
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			if !validCSRF(r, s.csrf) {
				c.fail(w, r, s, http.StatusForbidden, "csrf.bad", "")
				return
			}
		}
		h(w, r, s)
	}
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	s, _ := c.session(r)
	c.fail(w, r, s, http.StatusNotFound, "err.notfound", "")
}

// record adds a console action to the audit log.
func (c *Console) record(r *http.Request, s *session, action, target string, detail map[string]string) {
	if c.audit == nil {
		return
	}
	if detail == nil {
		detail = map[string]string{}
	}
	detail["via"] = "console"
	c.audit.Record(audit.Entry{Actor: s.key.ID, Action: action, Target: target, RequestID: r.Header.Get(gateway.HeaderRequestID), Detail: detail})
}

// safeNext keeps redirects on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

func (c *Console) switchLang(w http.ResponseWriter, r *http.Request) {
	lang := r.URL.Query().Get("to")
	if lang != LangZH {
		lang = LangEN
	}
	http.SetCookie(w, &http.Cookie{Name: langCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600,
		Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
}

// --- signing in ---

type loginData struct {
	CSRF, Next string
	Failed     string // message id
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, 0, "login", &view{Title: T(PickLang(r), "login.title"),
		Data: loginData{CSRF: loginCSRF(w, r), Next: safeNext(r.URL.Query().Get("next"))}})
}

func (c *Console) loginFailed(w http.ResponseWriter, r *http.Request, msgID string) {
	c.render(w, r, http.StatusUnauthorized, "login", &view{Title: T(PickLang(r), "login.title"),
		Data: loginData{CSRF: loginCSRF(w, r), Next: safeNext(r.PostFormValue("next")), Failed: msgID}})
}

// loginRefused answers a throttled sign-in attempt.
func (c *Console) loginRefused(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", strconv.Itoa(int(failureWindow/time.Second)))
	c.render(w, r, http.StatusTooManyRequests, "login", &view{Title: T(PickLang(r), "login.title"),
		Data: loginData{CSRF: loginCSRF(w, r), Next: safeNext(r.PostFormValue("next")), Failed: "login.throttled"}})
}

func (c *Console) loginCSRFOK(r *http.Request) bool {
	ck, err := r.Cookie(loginCSRFCookie)
	return err == nil && validCSRF(r, ck.Value)
}

func (c *Console) loginPassword(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if !c.loginCSRFOK(r) {
		c.loginFailed(w, r, "login.csrf")
		return
	}
	login := strings.TrimSpace(r.PostFormValue("login"))
	keys := throttleKeys(r, login)
	if c.throttle.blocked(keys) {
		c.loginRefused(w, r)
		return
	}
	k, err := c.checkPassword(r.Context(), login, r.PostFormValue("password"))
	if err != nil {
		if !errors.Is(err, errBadLogin) {
			c.log.Error("console login", "err", err)
		} else {
			c.throttle.fail(keys)
		}
		c.loginFailed(w, r, "login.bad")
		return
	}
	c.throttle.succeed(login)
	if err := c.startSession(r.Context(), w, r, k); err != nil {
		c.log.Error("console login", "err", err)
		c.loginFailed(w, r, "err.server")
		return
	}
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

// loginKey signs in with the platform admin key; without a console
// password yet, the admin is sent to set one.
func (c *Console) loginKey(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if !c.loginCSRFOK(r) {
		c.loginFailed(w, r, "login.csrf")
		return
	}
	keys := throttleKeys(r, "")
	if c.throttle.blocked(keys) {
		c.loginRefused(w, r)
		return
	}
	k, err := c.tenants.Authenticate(strings.TrimSpace(r.PostFormValue("key")), time.Now())
	if err != nil || !k.IsAdmin() {
		c.throttle.fail(keys)
		c.loginFailed(w, r, "login.key.bad")
		return
	}
	if err := c.startSession(r.Context(), w, r, k); err != nil {
		c.log.Error("console login", "err", err)
		c.loginFailed(w, r, "err.server")
		return
	}
	next := "/"
	if login, _ := c.loginOf(r.Context(), k.ID); login == "" {
		next = "/console/account"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, s *session) {
	c.endSession(w, r, s)
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}

type accountData struct {
	Login  string
	Failed string
}

func (c *Console) accountPage(w http.ResponseWriter, r *http.Request, s *session) {
	login, _ := c.loginOf(r.Context(), s.key.ID)
	c.render(w, r, 0, "account", &view{Sess: s, Title: T(PickLang(r), "account.title"), Data: accountData{Login: login}})
}

// passwordProblem checks a new login and password, returning a message id.
func passwordProblem(login, pw, confirm string) string {
	switch {
	case !loginRE.MatchString(login):
		return "account.badlogin"
	case len([]rune(pw)) < minPassword:
		return "account.short"
	case pw != confirm:
		return "account.mismatch"
	case len(pw) > 72: // bcrypt reads no further
		return "account.short"
	}
	return ""
}

func (c *Console) accountSave(w http.ResponseWriter, r *http.Request, s *session) {
	login := strings.TrimSpace(r.PostFormValue("login"))
	pw := r.PostFormValue("password")
	lang := PickLang(r)
	bad := passwordProblem(login, pw, r.PostFormValue("confirm"))
	if bad == "" {
		if err := c.setPassword(r.Context(), s.key.ID, login, pw); errors.Is(err, errLoginTaken) {
			bad = "account.taken"
		} else if err != nil {
			c.log.Error("console password", "err", err)
			bad = "err.server"
		}
	}
	if bad != "" {
		c.render(w, r, http.StatusBadRequest, "account", &view{Sess: s, Title: T(lang, "account.title"), Data: accountData{Login: login, Failed: bad}})
		return
	}
	c.record(r, s, "console.password", s.key.ID, nil)
	// Setting the password ended every session of this key; start this one again.
	if err := c.startSession(r.Context(), w, r, s.key); err != nil {
		c.log.Error("console password", "err", err)
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
