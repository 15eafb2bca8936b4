package console_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"switchyard/internal/fakeai"
)

// keepBodies turns request logging on for a project and returns a key of it.
func (e *env) keepBodies(ten tenant) string {
	e.t.Helper()
	e.api("PATCH", "/api/projects/"+ten.ProjectID, map[string]any{"keep_bodies": true}, nil)
	var k struct {
		Key string `json:"key"`
	}
	e.api("POST", "/api/projects/"+ten.ProjectID+"/keys", map[string]any{"name": "app"}, &k)
	return k.Key
}

// chat sends one chat completion with a project key, as an application would.
func (e *env) chat(key, requestID, prompt string, stream bool) {
	e.t.Helper()
	// Markup in the prompt is sent as is, not as \u003c escapes.
	var body strings.Builder
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	enc.Encode(map[string]any{"model": "chat", "stream": stream, "user": "end-user-1",
		"metadata": map[string]string{"ticket": "T-1"}, "messages": []map[string]string{{"role": "user", "content": prompt}}})
	req, _ := http.NewRequest("POST", e.base+"/v1/chat/completions", strings.NewReader(body.String()))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", requestID)
	req.Header.Set("X-Switchyard-Tags", "support")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("chat: %d %s", resp.StatusCode, b)
	}
}

// waitPage polls a page until it contains want.
func (b *browser) waitPage(path, want string) string {
	b.t.Helper()
	var page string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var st int
		if st, page = b.get(path); st == http.StatusOK && strings.Contains(page, want) {
			return page
		}
	}
	b.t.Fatalf("%s never showed %q:\n%.1500s", path, want, page)
	return ""
}

var locationVersion = regexp.MustCompile(`\?v=(\d+)`)

// TestLogsAndDatasetsPages walks the flywheel pages over HTTP: a kept
// request, its feedback, a dataset made from it, curated and annotated;
// every change is audited as coming from the console.
func TestLogsAndDatasetsPages(t *testing.T) {
	up := upstream(t)
	up.SetDefault(fakeai.Behavior{Pieces: []string{"Your parcel ", "left today."}})
	e := startServer(t, oneModel("chat", up.URL))
	ten := e.seedTenant("Acme", "web")
	key := e.keepBodies(ten)
	e.chat(key, "req-plain", "Where is my parcel?", false)
	e.chat(key, "req-stream", "And the other one?", true)
	b := newBrowser(t, e.base)
	b.signInAdmin()

	page := b.waitPage("/console/logs?project="+ten.ProjectID, "req-stream")
	if !strings.Contains(page, "req-plain") {
		t.Fatalf("list lacks req-plain")
	}
	tests := []struct {
		query string
		want  []string
		not   []string
	}{
		{"q=other+one", []string{"req-stream"}, []string{"req-plain"}},
		{"feedback=none", []string{"req-plain", "req-stream"}, nil},
		{"status=500", nil, []string{"req-plain", "req-stream"}},
		{"tag=support&user=end-user-1", []string{"req-plain", "req-stream"}, nil},
		{"from=2000-01-01&to=2000-01-02", nil, []string{"req-plain"}},
	}
	for _, tt := range tests {
		st, page := b.get("/console/logs?project=" + ten.ProjectID + "&" + tt.query)
		if st != http.StatusOK {
			t.Errorf("%s: %d", tt.query, st)
		}
		for _, w := range tt.want {
			if !strings.Contains(page, w) {
				t.Errorf("%s: %s missing", tt.query, w)
			}
		}
		for _, w := range tt.not {
			if strings.Contains(page, w) {
				t.Errorf("%s: %s listed", tt.query, w)
			}
		}
	}
	if st, _ := b.get("/console/logs?feedback=sideways"); st != http.StatusBadRequest {
		t.Errorf("bad feedback filter: %d", st)
	}

	st, page := b.get("/console/logs/req-stream")
	if st != http.StatusOK || !strings.Contains(page, "Your parcel left today.") || !strings.Contains(page, "And the other one?") {
		t.Fatalf("log page: %d %.2000s", st, page)
	}
	st, h, _ := b.do("POST", "/console/logs/req-stream/feedback", url.Values{"csrf": {csrfOf(t, page)}, "score": {"down"},
		"correction": {"It arrives tomorrow."}, "comment": {"wrong day"}})
	if st != http.StatusSeeOther {
		t.Fatalf("feedback: %d", st)
	}
	if _, page = b.get(h.Get("Location")); !strings.Contains(page, "It arrives tomorrow.") || !strings.Contains(page, "-1.00") {
		t.Errorf("feedback not shown:\n%.3000s", page)
	}
	if _, page = b.get("/console/logs?project=" + ten.ProjectID + "&feedback=negative"); !strings.Contains(page, "req-stream") || strings.Contains(page, "req-plain") {
		t.Errorf("negative feedback filter")
	}
	if st, _, _ := b.do("POST", "/console/logs/req-stream/feedback", url.Values{"score": {"up"}}); st != http.StatusForbidden {
		t.Errorf("feedback without csrf: %d", st)
	}

	// A dataset from the logs, curated, then one row annotated.
	_, page = b.get("/console/datasets")
	st, h, body := b.do("POST", "/console/datasets", url.Values{"csrf": {csrfOf(t, page)}, "name": {"support-chats"}, "project": {ten.ProjectID}})
	if st != http.StatusSeeOther {
		t.Fatalf("create dataset: %d %.500s", st, body)
	}
	dsPath := h.Get("Location")
	_, page = b.get(dsPath)
	st, h, body = b.do("POST", dsPath+"/from-logs", url.Values{"csrf": {csrfOf(t, page)}, "feedback": {""}})
	if st != http.StatusSeeOther {
		t.Fatalf("from logs: %d %.1000s", st, body)
	}
	_, page = b.get(h.Get("Location"))
	if !strings.Contains(page, "from-logs") || !strings.Contains(page, `class="num v-rows">2<`) {
		t.Errorf("dataset page after from-logs:\n%.3000s", page)
	}
	v := locationVersion.FindStringSubmatch(h.Get("Location"))[1]
	st, h, body = b.do("POST", dsPath+"/versions/"+v+"/curate", url.Values{"csrf": {csrfOf(t, page)}, "exact": {"1"}, "near_dup": {"0.8"}, "min_label_count": {"2"}})
	if st != http.StatusSeeOther {
		t.Fatalf("curate: %d %.1000s", st, body)
	}
	_, page = b.get(h.Get("Location"))
	if !strings.Contains(page, `id="report"`) || !strings.Contains(page, "exact") {
		t.Errorf("no curation report:\n%.4000s", page)
	}
	cv := locationVersion.FindStringSubmatch(h.Get("Location"))[1]
	if st, _, body := b.do("GET", dsPath+"/versions/"+cv+"/export?format=openai-chat", nil); st != http.StatusOK || !strings.Contains(body, "It arrives tomorrow.") {
		t.Errorf("export: %d %.500s", st, body)
	}
	annPath := dsPath + "/versions/" + cv + "/annotate"
	_, page = b.get(annPath)
	if !strings.Contains(page, `id="ann-row"`) {
		t.Fatalf("no row to annotate:\n%.3000s", page)
	}
	row := regexp.MustCompile(`data-row="(\d+)"`).FindStringSubmatch(page)[1]
	st, h, _ = b.do("POST", annPath, url.Values{"csrf": {csrfOf(t, page)}, "row": {row}, "kind": {"accept"}})
	if st != http.StatusSeeOther {
		t.Fatalf("annotate: %d", st)
	}
	_, page = b.get(h.Get("Location"))
	if !strings.Contains(page, `id="agreement"`) || strings.Contains(page, `data-row="`+row+`"`) {
		t.Errorf("after annotating, row %s is still offered:\n%.2000s", row, page)
	}

	// The audit log says each change came from the console.
	var entries struct {
		Data []struct {
			Action string            `json:"action"`
			Detail map[string]string `json:"detail"`
		} `json:"data"`
	}
	e.api("GET", "/api/audit?limit=100", nil, &entries)
	seen := map[string]bool{}
	for _, x := range entries.Data {
		if x.Detail["via"] == "console" {
			seen[x.Action] = true
		}
	}
	for _, a := range []string{"feedback.add", "dataset.create", "dataset.from_logs", "dataset.curate", "dataset.annotate"} {
		if !seen[a] {
			t.Errorf("no console audit entry %s (have %v)", a, seen)
		}
	}
}

// TestFlywheelPermissions: a member of one project sees neither another
// project's logs nor its datasets (404), and a viewer may read but not
// change.
func TestFlywheelPermissions(t *testing.T) {
	up := upstream(t)
	e := startServer(t, oneModel("chat", up.URL))
	ten := e.seedTenant("Acme", "web")
	other := e.seedTenant("Other", "secret")
	e.chat(e.keepBodies(other), "req-secret", "secret question", false)
	e.chat(e.keepBodies(ten), "req-mine", "my question", false)
	var ds struct {
		ID string `json:"id"`
	}
	e.api("POST", "/api/datasets", map[string]any{"name": "secret-ds", "project_id": other.ProjectID}, &ds)
	var mine struct {
		ID string `json:"id"`
	}
	e.api("POST", "/api/datasets", map[string]any{"name": "mine-ds", "project_id": ten.ProjectID}, &mine)

	var u, viewer struct {
		ID string `json:"id"`
	}
	e.api("POST", "/api/orgs/"+ten.OrgID+"/users", map[string]any{"email": "ana@example.com", "role": "member", "projects": []string{ten.ProjectID}}, &u)
	e.api("POST", "/api/orgs/"+ten.OrgID+"/users", map[string]any{"email": "vic@example.com", "role": "viewer"}, &viewer)
	admin := newBrowser(t, e.base)
	admin.signInAdmin()
	signIn := func(userID, login string) *browser {
		_, page := admin.get("/console/orgs/" + ten.OrgID)
		if st, _, _ := admin.do("POST", "/console/users/"+userID+"/password", url.Values{"csrf": {csrfOf(t, page)}, "login": {login}, "password": {"a long password"}}); st != http.StatusSeeOther {
			t.Fatalf("set password of %s: %d", login, st)
		}
		b := newBrowser(t, e.base)
		_, page = b.get("/console/login")
		if st, _, _ := b.do("POST", "/console/login", url.Values{"csrf": {csrfOf(t, page)}, "login": {login}, "password": {"a long password"}}); st != http.StatusSeeOther {
			t.Fatalf("sign in %s: %d", login, st)
		}
		return b
	}
	admin.waitPage("/console/logs", "req-mine")
	ana := signIn(u.ID, "ana")
	tests := []struct {
		path string
		want int
	}{
		{"/console/logs", http.StatusOK},
		{"/console/logs/req-mine", http.StatusOK},
		{"/console/logs/req-secret", http.StatusNotFound},
		{"/console/logs?project=" + other.ProjectID, http.StatusNotFound},
		{"/console/datasets/" + ds.ID, http.StatusNotFound},
		{"/console/datasets/" + ds.ID + "/versions/1/annotate", http.StatusNotFound},
		{"/console/datasets/" + mine.ID, http.StatusOK},
	}
	for _, tt := range tests {
		if st, _ := ana.get(tt.path); st != tt.want {
			t.Errorf("member GET %s: %d, want %d", tt.path, st, tt.want)
		}
	}
	_, list := ana.get("/console/logs")
	if strings.Contains(list, "req-secret") || !strings.Contains(list, "req-mine") {
		t.Errorf("member's log list:\n%.2000s", list)
	}
	if _, dl := ana.get("/console/datasets"); strings.Contains(dl, "secret-ds") {
		t.Errorf("member sees another project's dataset")
	}
	_, page := ana.get("/console/datasets")
	csrf := csrfOf(t, page)
	posts := []struct {
		path string
		form url.Values
	}{
		{"/console/logs/req-secret/feedback", url.Values{"score": {"up"}}},
		{"/console/datasets/" + ds.ID + "/from-logs", url.Values{}},
		{"/console/datasets", url.Values{"name": {"x"}, "project": {other.ProjectID}}},
	}
	for _, p := range posts {
		p.form.Set("csrf", csrf)
		if st, _, _ := ana.do("POST", p.path, p.form); st != http.StatusNotFound {
			t.Errorf("member POST %s: %d, want 404", p.path, st)
		}
	}
	vic := signIn(viewer.ID, "vic")
	if st, _ := vic.get("/console/logs/req-mine"); st != http.StatusOK {
		t.Errorf("viewer reads a log: %d", st)
	}
	_, page = vic.get("/console/logs/req-mine")
	if strings.Contains(page, `id="feedback-form"`) {
		t.Errorf("a viewer is offered the feedback form")
	}
	if st, _, _ := vic.do("POST", "/console/logs/req-mine/feedback", url.Values{"csrf": {csrfOf(t, page)}, "score": {"up"}}); st != http.StatusForbidden {
		t.Errorf("viewer gives feedback: %d, want 403", st)
	}
	if st, _, _ := vic.do("POST", "/console/datasets/"+mine.ID+"/from-logs", url.Values{"csrf": {csrfOf(t, page)}}); st != http.StatusForbidden {
		t.Errorf("viewer changes a dataset: %d, want 403", st)
	}
}

// TestFlywheelEscapes puts markup in a logged prompt, a dataset name and
// the filters, and checks the pages show it as text.
func TestFlywheelEscapes(t *testing.T) {
	const evil = `<script>alert("x")</script>`
	up := upstream(t)
	up.SetDefault(fakeai.Behavior{Pieces: []string{evil}})
	e := startServer(t, oneModel("chat", up.URL))
	ten := e.seedTenant("Acme", "web")
	e.chat(e.keepBodies(ten), "req-evil", evil, true)
	b := newBrowser(t, e.base)
	b.signInAdmin()
	b.waitPage("/console/logs", "req-evil")
	_, page := b.get("/console/datasets")
	st, _, body := b.do("POST", "/console/datasets", url.Values{"csrf": {csrfOf(t, page)}, "name": {evil}, "project": {ten.ProjectID}})
	if st != http.StatusBadRequest || strings.Contains(body, "<script>alert") {
		t.Errorf("dataset named with markup: %d, unescaped: %v", st, strings.Contains(body, "<script>alert"))
	}
	for _, path := range []string{"/console/logs/req-evil", "/console/logs?q=" + url.QueryEscape(evil) + "&tag=" + url.QueryEscape(evil)} {
		st, page := b.get(path)
		if st != http.StatusOK || strings.Contains(page, "<script>alert") {
			t.Errorf("%s: %d, unescaped: %v", path, st, strings.Contains(page, "<script>alert"))
		}
		if !strings.Contains(page, "&lt;script&gt;alert") {
			t.Errorf("%s: the escaped text is missing", path)
		}
	}
}

// TestBrowserFlywheel drives the flywheel pages in Chromium: traffic of a
// project that keeps bodies shows in the log list; the operator opens it,
// gives feedback, makes a dataset from the logs, curates it and annotates
// a row. A prompt with markup stays text.
func TestBrowserFlywheel(t *testing.T) {
	const evil = `<script>document.title="pwned"</script>`
	ctx, consoleErrors := chrome(t)
	up := upstream(t)
	up.SetDefault(fakeai.Behavior{Pieces: []string{"Your parcel ", "left today."}})
	e := startServer(t, oneModel("chat", up.URL))
	ten := e.seedTenant("Acme", "web")
	e.chat(e.keepBodies(ten), "req-browser-1", "Where is my parcel? "+evil, false)
	base := e.base
	step := stepper(t, ctx)
	step("admin key sign-in", firstSignIn(base)...)
	var request, title string
	step("the log is listed and opens",
		chromedp.Click(chromedp.CSS(`header nav a[href="/console/logs"]`)),
		chromedp.WaitVisible(chromedp.CSS("#log-filter")),
		chromedp.SendKeys(chromedp.CSS("#f-text"), "parcel"),
		chromedp.Click(chromedp.CSS("#log-search")),
		chromedp.WaitVisible(chromedp.CSS("#logs a.log-link")),
		chromedp.Click(chromedp.CSS("#logs a.log-link")),
		chromedp.WaitVisible(chromedp.CSS("#log-request")),
		into(chromedp.Text(chromedp.CSS("#log-request")), &request),
		into(chromedp.Title(), &title),
	)
	if !strings.Contains(request, "<script>document.title=") || strings.Contains(title, "pwned") {
		t.Errorf("the prompt's markup ran or is missing: title %q, request %q", title, request)
	}
	var correction string
	step("give feedback",
		chromedp.SetValue(chromedp.CSS("#fb-score"), "down"),
		chromedp.SendKeys(chromedp.CSS("#fb-correction"), "It arrives tomorrow."),
		chromedp.SendKeys(chromedp.CSS("#fb-comment"), "wrong day"),
		chromedp.Click(chromedp.CSS("#fb-submit")),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
		into(chromedp.Text(chromedp.CSS("#feedback .fb-correction")), &correction),
	)
	if correction != "It arrives tomorrow." {
		t.Errorf("feedback shown as %q", correction)
	}
	var op, rows string
	step("create a dataset from the logs",
		chromedp.Click(chromedp.CSS(`header nav a[href="/console/datasets"]`)),
		chromedp.WaitVisible(chromedp.CSS("#ds-name")),
		chromedp.SendKeys(chromedp.CSS("#ds-name"), "support-chats"),
		chromedp.Click(chromedp.CSS("#ds-create")),
		chromedp.WaitVisible(chromedp.CSS("#from-logs-submit")),
		chromedp.Click(chromedp.CSS("#from-logs-submit")),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
		into(chromedp.Text(chromedp.CSS("#versions .v-op")), &op),
		into(chromedp.Text(chromedp.CSS("#versions .v-rows")), &rows),
	)
	if op != "from-logs" || rows != "1" {
		t.Errorf("newest version: op %q rows %q", op, rows)
	}
	step("curate it",
		chromedp.Click(chromedp.CSS("#curate-submit")),
		chromedp.WaitVisible(chromedp.CSS("#report")),
		into(chromedp.Text(chromedp.CSS("#versions .v-op")), &op),
	)
	if op != "curate" {
		t.Errorf("newest version after curating: %q", op)
	}
	var shown string
	step("annotate one row",
		chromedp.Click(chromedp.CSS("#annotate-link")),
		chromedp.WaitVisible(chromedp.CSS("#ann-row")),
		into(chromedp.Text(chromedp.CSS("#ann-row")), &shown),
		chromedp.Click(chromedp.CSS("#ann-accept")),
		chromedp.WaitVisible(chromedp.CSS("#ann-empty")),
		chromedp.WaitVisible(chromedp.CSS("#agreement")),
	)
	if !strings.Contains(shown, "It arrives tomorrow.") || !strings.Contains(shown, evil) {
		t.Errorf("row to annotate shown as %q", shown)
	}
	if errs := consoleErrors(); len(errs) > 0 {
		t.Errorf("browser console errors: %v", errs)
	}
}
