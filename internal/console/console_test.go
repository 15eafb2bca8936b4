package console_test

import (
	"bufio"
	"io/fs"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"switchyard/internal/fakeai"
	"switchyard/internal/tenancy"
)

func TestSignIn(t *testing.T) {
	e := startServer(t, "")
	b := newBrowser(t, e.base)
	if st, h, _ := b.do("GET", "/", nil); st != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/console/login") {
		t.Fatalf("signed-out dashboard: %d %q, want a redirect to sign in", st, h.Get("Location"))
	}
	// The login form refuses a post without its CSRF cookie echoed.
	if st, _, _ := newBrowser(t, e.base).do("POST", "/console/login/key", url.Values{"key": {adminKey}}); st != http.StatusUnauthorized {
		t.Errorf("key sign-in without csrf: %d, want 401", st)
	}
	_, page := b.get("/console/login")
	if st, _, _ := b.do("POST", "/console/login/key", url.Values{"csrf": {csrfOf(t, page)}, "key": {"sy-wrong"}}); st != http.StatusUnauthorized {
		t.Errorf("wrong admin key: %d, want 401", st)
	}
	b.signInAdmin()
	st, page := b.get("/")
	if st != http.StatusOK || !strings.Contains(page, `id="kpi-requests"`) {
		t.Fatalf("dashboard after sign-in: %d %.300s", st, page)
	}
	// Sign out, then in with the password.
	if st, _, _ := b.do("POST", "/console/logout", url.Values{"csrf": {csrfOf(t, page)}}); st != http.StatusSeeOther {
		t.Fatalf("sign out: %d", st)
	}
	if st, _ := b.get("/"); st != http.StatusSeeOther {
		t.Fatalf("dashboard after sign-out: %d, want 303", st)
	}
	tests := []struct {
		name, login, password string
		want                  int
	}{
		{"wrong password", "root", "not the password", http.StatusUnauthorized},
		{"unknown login", "nobody", "correct horse battery", http.StatusUnauthorized},
		{"right", "root", "correct horse battery", http.StatusSeeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, page := b.get("/console/login")
			st, _, _ := b.do("POST", "/console/login", url.Values{"csrf": {csrfOf(t, page)}, "login": {tt.login}, "password": {tt.password}, "next": {"/console/orgs"}})
			if st != tt.want {
				t.Errorf("status %d, want %d", st, tt.want)
			}
		})
	}
	if st, _ := b.get("/console/orgs"); st != http.StatusOK {
		t.Fatalf("orgs after password sign-in: %d", st)
	}
}

func TestCSRFRequired(t *testing.T) {
	e := startServer(t, "")
	b := newBrowser(t, e.base)
	b.signInAdmin()
	for _, form := range []url.Values{{"name": {"x"}}, {"name": {"x"}, "csrf": {"forged"}}} {
		if st, _, _ := b.do("POST", "/console/orgs", form); st != http.StatusForbidden {
			t.Errorf("create org with %v: %d, want 403", form, st)
		}
	}
}

// TestEscapesUserStrings puts markup in every name a user controls and
// checks each page shows it as text.
func TestEscapesUserStrings(t *testing.T) {
	const evil = `<script>alert("x")</script>`
	up := upstream(t)
	e := startServer(t, oneModel(evil, up.URL))
	ten := e.seedTenant(evil, evil)
	e.api("POST", "/api/projects/"+ten.ProjectID+"/keys", map[string]any{"name": evil, "models": []string{evil}}, nil)
	e.api("POST", "/api/orgs/"+ten.OrgID+"/users", map[string]any{"email": "viewer@example.com", "role": "viewer"}, nil)
	b := newBrowser(t, e.base)
	b.signInAdmin()
	for _, path := range []string{"/", "/console/orgs", "/console/orgs/" + ten.OrgID, "/console/projects/" + ten.ProjectID,
		"/console/models", "/console/playground", "/console/usage", "/console/policies", "/console/audit"} {
		st, page := b.get(path)
		if st != http.StatusOK {
			t.Errorf("%s: status %d", path, st)
			continue
		}
		if strings.Contains(page, "<script>alert") {
			t.Errorf("%s: the name reached the page unescaped", path)
		}
		if path != "/" && path != "/console/usage" && path != "/console/audit" && !strings.Contains(page, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
			t.Errorf("%s: the escaped name is missing", path)
		}
	}
}

func TestPagesInBothLanguages(t *testing.T) {
	up := upstream(t)
	e := startServer(t, oneModel("chat", up.URL))
	ten := e.seedTenant("Acme", "web")
	b := newBrowser(t, e.base)
	b.signInAdmin()
	pages := []string{"/", "/?range=7d", "/?range=30d", "/console/orgs", "/console/orgs/" + ten.OrgID, "/console/projects/" + ten.ProjectID,
		"/console/models", "/console/playground", "/console/usage", "/console/specialists", "/console/policies", "/console/audit",
		"/console/orgs/" + ten.OrgID + "/invoices/2026-11", "/console/account", "/console/logs", "/console/datasets"}
	tests := []struct {
		acceptLanguage, want, lang string
	}{
		{"en-US,en;q=0.9", "Dashboard", `lang="en"`},
		{"zh-CN,zh;q=0.9,en;q=0.8", "概览", `lang="zh-CN"`},
	}
	for _, tt := range tests {
		b.lang = tt.acceptLanguage
		for _, p := range pages {
			st, page := b.get(p)
			if st != http.StatusOK {
				t.Errorf("%s (%s): status %d", p, tt.acceptLanguage, st)
				continue
			}
			if !strings.Contains(page, tt.want) || !strings.Contains(page, tt.lang) {
				t.Errorf("%s (%s): missing %q or %s", p, tt.acceptLanguage, tt.want, tt.lang)
			}
		}
	}
	// The switch overrides Accept-Language and is remembered.
	b.lang = "en"
	st, h, _ := b.do("GET", "/console/lang?to=zh&next=/console/orgs", nil)
	if st != http.StatusSeeOther || h.Get("Location") != "/console/orgs" {
		t.Fatalf("switch: %d %q", st, h.Get("Location"))
	}
	if _, page := b.get("/console/orgs"); !strings.Contains(page, "组织") {
		t.Errorf("after switching to Chinese the page is not in Chinese")
	}
	if _, h, _ := b.do("GET", "/console/lang?to=en&next=//evil.example", nil); h.Get("Location") != "/" {
		t.Errorf("open redirect: %q", h.Get("Location"))
	}
	if st, _ := b.get("/console/no-such-page"); st != http.StatusNotFound {
		t.Errorf("unknown page: %d", st)
	}
}

var dataCSRF = regexp.MustCompile(`data-csrf="([^"]+)"`)

func TestPlaygroundProxy(t *testing.T) {
	up := upstream(t)
	up.SetDefault(fakeai.Behavior{Pieces: []string{"Hel", "lo"}})
	e := startServer(t, oneModel("chat", up.URL))
	b := newBrowser(t, e.base)
	b.signInAdmin()
	_, page := b.get("/console/playground")
	m := dataCSRF.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no playground form: %.500s", page)
	}
	body := `{"model":"chat","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}`
	post := func(csrf, key string) (*http.Response, string) {
		req, _ := http.NewRequest("POST", e.base+"/console/chat?key="+key, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if csrf != "" {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var sb strings.Builder
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			sb.WriteString(sc.Text() + "\n")
		}
		return resp, sb.String()
	}
	// Refusals come in the API's one error shape, with a code.
	if resp, out := post("", tenancy.AdminEnvKeyID); resp.StatusCode != http.StatusForbidden ||
		resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(out, `"code":"invalid_csrf_token"`) {
		t.Errorf("chat without csrf: %d %s %s, want 403 invalid_csrf_token", resp.StatusCode, resp.Header.Get("Content-Type"), out)
	}
	if resp, out := post(m[1], "key_nonexistent"); resp.StatusCode != http.StatusForbidden || !strings.Contains(out, `"param":"key"`) {
		t.Errorf("chat with a key not ours: %d %s, want 403 naming param key", resp.StatusCode, out)
	}
	resp, out := post(m[1], tenancy.AdminEnvKeyID)
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("chat: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), out)
	}
	if !strings.Contains(out, `"Hel"`) || !strings.Contains(out, `"usage"`) || !strings.Contains(out, "[DONE]") {
		t.Errorf("stream lacks content, usage or [DONE]:\n%s", out)
	}
	if strings.Contains(page, adminKey) {
		t.Errorf("the playground page holds the admin key")
	}
}

// TestUserConsolePassword: an org owner's console shows what the role
// allows, and the admin gives a user a console password from the org page.
func TestUserConsolePassword(t *testing.T) {
	e := startServer(t, "")
	ten := e.seedTenant("Acme", "web")
	other := e.seedTenant("Other", "secret-project")
	var u struct {
		ID string `json:"id"`
	}
	e.api("POST", "/api/orgs/"+ten.OrgID+"/users", map[string]any{"email": "ana@example.com", "role": "member", "projects": []string{ten.ProjectID}}, &u)
	admin := newBrowser(t, e.base)
	admin.signInAdmin()
	_, page := admin.get("/console/orgs/" + ten.OrgID)
	st, h, body := admin.do("POST", "/console/users/"+u.ID+"/password", url.Values{"csrf": {csrfOf(t, page)}, "login": {"ana"}, "password": {"ana's long password"}})
	if st != http.StatusSeeOther {
		t.Fatalf("set user password: %d %s %.300s", st, h.Get("Location"), body)
	}
	ana := newBrowser(t, e.base)
	_, page = ana.get("/console/login")
	if st, _, _ := ana.do("POST", "/console/login", url.Values{"csrf": {csrfOf(t, page)}, "login": {"ana"}, "password": {"ana's long password"}}); st != http.StatusSeeOther {
		t.Fatalf("user sign-in: %d", st)
	}
	tests := []struct {
		path string
		want int
	}{
		{"/", http.StatusOK},
		{"/console/orgs/" + ten.OrgID, http.StatusOK},
		{"/console/projects/" + ten.ProjectID, http.StatusOK},
		{"/console/orgs/" + other.OrgID, http.StatusNotFound},
		{"/console/projects/" + other.ProjectID, http.StatusNotFound},
		{"/console/audit", http.StatusForbidden},
		{"/console/specialists", http.StatusForbidden},
	}
	for _, tt := range tests {
		if st, _ := ana.get(tt.path); st != tt.want {
			t.Errorf("member GET %s: %d, want %d", tt.path, st, tt.want)
		}
	}
	_, orgs := ana.get("/console/orgs")
	if strings.Contains(orgs, "Other") {
		t.Errorf("a member sees another organisation")
	}
	// A member may not create projects in their org.
	_, page = ana.get("/console/orgs/" + ten.OrgID)
	if st, _, _ := ana.do("POST", "/console/orgs/"+ten.OrgID+"/projects", url.Values{"csrf": {csrfOf(t, page)}, "name": {"x"}}); st != http.StatusForbidden {
		t.Errorf("member creates a project: %d, want 403", st)
	}
}

// TestAssetsSmall keeps the embedded templates and static files within 1 MiB.
func TestAssetsSmall(t *testing.T) {
	var total int64
	for _, dir := range []string{"templates", "static"} {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				fi, _ := d.Info()
				total += fi.Size()
			}
			return err
		})
	}
	t.Logf("embedded assets: %d bytes", total)
	if total > 1<<20 {
		t.Errorf("embedded assets are %d bytes, over 1 MiB", total)
	}
}

// TestSignInThrottled: ten wrong passwords or admin keys from one client
// and further attempts are refused, even with the right password.
func TestSignInThrottled(t *testing.T) {
	e := startServer(t, "")
	setup := newBrowser(t, e.base)
	setup.signInAdmin() // sets the password "correct horse battery" for "root"
	b := newBrowser(t, e.base)
	try := func(login, password string) (int, string) {
		_, page := b.get("/console/login")
		st, _, body := b.do("POST", "/console/login", url.Values{"csrf": {csrfOf(t, page)}, "login": {login}, "password": {password}})
		return st, body
	}
	for i := 0; i < 10; i++ {
		if st, _ := try("root", "wrong guess"); st != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d, want 401", i, st)
		}
	}
	st, body := try("root", "correct horse battery")
	if st != http.StatusTooManyRequests || !strings.Contains(body, "Too many failed sign-ins") {
		t.Errorf("after 10 failures: %d, want 429 with the reason", st)
	}
	_, page := b.get("/console/login")
	if st, _, _ := b.do("POST", "/console/login/key", url.Values{"csrf": {csrfOf(t, page)}, "key": {adminKey}}); st != http.StatusTooManyRequests {
		t.Errorf("admin-key sign-in from the throttled client: %d, want 429", st)
	}
}

func TestEditProjectLimits(t *testing.T) {
	e := startServer(t, "")
	ten := e.seedTenant("Limits org", "limits project")
	b := newBrowser(t, e.base)
	b.signInAdmin()
	_, page := b.get("/console/projects/" + ten.ProjectID)
	if !strings.Contains(page, `id="limits-form"`) {
		t.Fatal("no limits form for the platform admin")
	}
	st, h, _ := b.do("POST", "/console/projects/"+ten.ProjectID+"/limits", url.Values{"csrf": {csrfOf(t, page)},
		"rpm": {"600"}, "tpm": {"100000"}, "concurrency": {"4"}, "budget": {"12.5"}})
	if st != http.StatusSeeOther || !strings.Contains(h.Get("Location"), "done=limits") {
		t.Fatalf("save limits: %d %q", st, h.Get("Location"))
	}
	var p struct {
		RPM           int64 `json:"rpm"`
		TPM           int64 `json:"tpm"`
		Concurrency   int64 `json:"concurrency"`
		MonthlyBudget int64 `json:"monthly_budget_micros"`
	}
	e.api("GET", "/api/projects/"+ten.ProjectID, nil, &p)
	if p.RPM != 600 || p.TPM != 100000 || p.Concurrency != 4 || p.MonthlyBudget != 12_500_000 {
		t.Errorf("project after saving = %+v", p)
	}
	_, page = b.get("/console/projects/" + ten.ProjectID + "?done=limits")
	if !strings.Contains(page, `value="12.5"`) || !strings.Contains(page, "Limits and budget saved.") {
		t.Errorf("the form does not show the saved values:\n%.400s", page)
	}
	if st, _, _ := b.do("POST", "/console/projects/"+ten.ProjectID+"/limits", url.Values{"csrf": {csrfOf(t, page)}, "rpm": {"-5"}}); st != http.StatusBadRequest {
		t.Errorf("negative limit: %d, want 400", st)
	}
	if st, _, _ := b.do("POST", "/console/projects/"+ten.ProjectID+"/limits", url.Values{"rpm": {"1"}}); st == http.StatusSeeOther {
		t.Error("saved without a CSRF token")
	}
}
