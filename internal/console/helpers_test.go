package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"switchyard/internal/config"
	"switchyard/internal/fakeai"
	"switchyard/internal/server"
)

const adminKey = "sy-test-admin-key-abcdefghijklmnop"

// env is a real Switchyard server on a loopback port.
type env struct {
	t    *testing.T
	srv  *server.Server
	base string
}

func startServer(t *testing.T, modelsYAML string) *env {
	t.Helper()
	yaml := "data_dir: " + t.TempDir() + "\nrouter:\n  backoff: {initial: 1ms, max: 5ms, max_wait: 3s}\n" + modelsYAML
	cfg, err := config.Parse("test.yaml", []byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	srv, err := server.New(context.Background(), server.Options{Config: cfg, AdminKey: adminKey})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { srv.Serve(ln); close(done) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	})
	return &env{t: t, srv: srv, base: "http://" + ln.Addr().String()}
}

func upstream(t *testing.T) *fakeai.Server {
	t.Helper()
	up, err := fakeai.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(up.Close)
	return up
}

func oneModel(name, url string) string {
	return fmt.Sprintf(`
models:
  - name: %q
    deployments:
      - id: dep-a
        provider: openai
        base_url: %s
        model: upstream-chat
        price: {input: 0.5, output: 1.5, currency: USD}
`, name, url)
}

// api calls the JSON admin API with the admin key and decodes the answer.
func (e *env) api(method, path string, body any, out any) {
	e.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, e.base+path, r)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		e.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

type tenant struct{ OrgID, ProjectID string }

// seedTenant makes an organisation and a project through the API.
func (e *env) seedTenant(org, project string) tenant {
	var o, p struct {
		ID string `json:"id"`
	}
	e.api("POST", "/api/orgs", map[string]any{"name": org, "currency": "USD"}, &o)
	e.api("POST", "/api/orgs/"+o.ID+"/projects", map[string]any{"name": project}, &p)
	return tenant{o.ID, p.ID}
}

// browser is a cookie-keeping HTTP client that does not follow redirects.
type browser struct {
	t    testing.TB
	base string
	c    *http.Client
	lang string
}

func newBrowser(t testing.TB, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(method, path string, form url.Values) (int, http.Header, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if b.lang != "" {
		req.Header.Set("Accept-Language", b.lang)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(out)
}

func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	st, _, body := b.do("GET", path, nil)
	return st, body
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t testing.TB, page string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf token in page:\n%.600s", page)
	}
	return m[1]
}

// signInAdmin signs in with the admin key and sets a console password.
func (b *browser) signInAdmin() {
	b.t.Helper()
	_, page := b.get("/console/login")
	st, h, body := b.do("POST", "/console/login/key", url.Values{"csrf": {csrfOf(b.t, page)}, "key": {adminKey}})
	if st != http.StatusSeeOther || h.Get("Location") != "/console/account" {
		b.t.Fatalf("admin key sign-in: %d %s %.300s", st, h.Get("Location"), body)
	}
	_, page = b.get("/console/account")
	st, h, body = b.do("POST", "/console/account", url.Values{"csrf": {csrfOf(b.t, page)}, "login": {"root"},
		"password": {"correct horse battery"}, "confirm": {"correct horse battery"}})
	if st != http.StatusSeeOther {
		b.t.Fatalf("set password: %d %s %.300s", st, h.Get("Location"), body)
	}
}
