package console_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"switchyard/internal/fakeai"
)

// chrome starts headless Chromium with a fresh profile. It skips the test
// when Chromium is missing, unless CI=true, where the browser tests must run.
// Console errors and uncaught exceptions are collected in *errs; on failure
// a screenshot is saved under testdata/out.
func chrome(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		path, err = exec.LookPath("chromium-browser")
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed; CI needs it (apt-get install -y chromium)")
		}
		t.Skip("chromium is not installed (apt-get install -y chromium); skipping the browser tests")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	// The browser lives as long as the context of the first call: start it
	// on one without a deadline, and bound the test's actions separately.
	if err := chromedp.Do(ctx); err != nil {
		cancelC()
		cancelA()
		t.Fatalf("starting chromium: %v", err)
	}
	bctx := ctx
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	var mu sync.Mutex
	var errs []string
	messages := chromedp.Console(bctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == "error" {
				mu.Lock()
				errs = append(errs, m.String())
				mu.Unlock()
			}
		}
	}()
	// Accept confirm() dialogs (revoking a key asks first).
	dialogs := chromedp.Events(bctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			sctx, cancel := context.WithTimeout(bctx, 10*time.Second)
			if png, err := chromedp.Run(sctx, chromedp.FullScreenshot(80)); err == nil {
				dir := filepath.Join("testdata", "out")
				os.MkdirAll(dir, 0o755)
				name := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".png")
				if os.WriteFile(name, png, 0o644) == nil {
					t.Logf("screenshot: %s", name)
				}
			}
			cancel()
		}
		cancelT()
		cancelC()
		cancelA()
	})
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), errs...)
	}
}

// stepper returns a function that runs named browser steps, failing the
// test at the first error.
func stepper(t *testing.T, ctx context.Context) func(name string, actions ...chromedp.Action[chromedp.Void]) {
	return func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

// firstSignIn signs in with the admin key and sets the console login
// "root" with a password, ending on the dashboard.
func firstSignIn(base string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(base + "/"),
		chromedp.WaitVisible(chromedp.CSS("#admin-key")),
		chromedp.SendKeys(chromedp.CSS("#admin-key"), adminKey),
		chromedp.Click(chromedp.CSS("#key-submit")),
		chromedp.WaitVisible(chromedp.CSS("#new-login")),
		chromedp.SendKeys(chromedp.CSS("#new-login"), "root"),
		chromedp.SendKeys(chromedp.CSS("#new-password"), "correct horse battery"),
		chromedp.SendKeys(chromedp.CSS("#new-confirm"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("#account-save")),
		chromedp.WaitVisible(chromedp.CSS("#kpi-requests")),
	}
}

func TestBrowserConsole(t *testing.T) {
	ctx, consoleErrors := chrome(t)
	up := upstream(t)
	up.SetDefault(fakeai.Behavior{Pieces: []string{"Hello", " from", " the", " fake", " upstream"}, ChunkDelay: 20 * time.Millisecond})
	e := startServer(t, oneModel("chat", up.URL))
	ten := e.seedTenant("Acme <script>x</script>", "web <b>bold</b>")
	base := e.base

	step := stepper(t, ctx)
	// Sign in with the admin key, set a password, sign out, sign in with it.
	step("admin key sign-in", firstSignIn(base)...)
	step("sign out and in with the password",
		chromedp.Click(chromedp.CSS(`button.link`)),
		chromedp.WaitVisible(chromedp.CSS("#login")),
		chromedp.SendKeys(chromedp.CSS("#login"), "root"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#kpi-requests")),
	)
	// Create a key: it is shown once and listed; names stay text.
	var secret, listed, crumbs string
	step("create a key",
		chromedp.Navigate(base+"/console/projects/"+ten.ProjectID),
		chromedp.WaitVisible(chromedp.CSS("#key-name")),
		chromedp.SendKeys(chromedp.CSS("#key-name"), "ci <script>key</script>"),
		chromedp.Click(chromedp.CSS("#key-create")),
		chromedp.WaitVisible(chromedp.CSS("#new-key")),
		into(chromedp.Text(chromedp.CSS("#new-key")), &secret),
		into(chromedp.Text(chromedp.CSS("#keys .key-name")), &listed),
		into(chromedp.Text(chromedp.CSS(".crumbs")), &crumbs),
	)
	if !strings.HasPrefix(secret, "sy-") {
		t.Errorf("new key shown as %q", secret)
	}
	if listed != "ci <script>key</script>" {
		t.Errorf("key listed as %q, want the name as text", listed)
	}
	if !strings.Contains(crumbs, "Acme <script>x</script>") || !strings.Contains(crumbs, "web <b>bold</b>") {
		t.Errorf("breadcrumbs %q lack the names as text", crumbs)
	}
	// Revoke it (accepting the confirm dialog).
	var status string
	step("revoke the key",
		chromedp.Navigate(base+"/console/projects/"+ten.ProjectID),
		chromedp.WaitVisible(chromedp.CSS("#keys button.danger")),
		chromedp.Click(chromedp.CSS("#keys button.danger")),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
		into(chromedp.Text(chromedp.CSS("#keys .key-status")), &status),
	)
	if status != "revoked" {
		t.Errorf("key status after revoking: %q", status)
	}
	// A streaming chat in the playground, through the session proxy.
	var answer, counter string
	step("playground",
		chromedp.Navigate(base+"/console/playground"),
		chromedp.WaitVisible(chromedp.CSS("#pg-user")),
		chromedp.SendKeys(chromedp.CSS("#pg-user"), "Say hello"),
		chromedp.Click(chromedp.CSS("#pg-send")),
		into(chromedp.Poll[bool](`document.getElementById("pg-counter").textContent.indexOf("$") >= 0`, chromedp.WithPollingTimeout(20*time.Second)), new(bool)),
		into(chromedp.Text(chromedp.CSS("#pg-answer")), &answer),
		into(chromedp.Text(chromedp.CSS("#pg-counter")), &counter),
	)
	if answer != "Hello from the fake upstream" {
		t.Errorf("answer %q", answer)
	}
	t.Logf("playground counter: %s", counter)
	// Switch language.
	var nav string
	step("switch to Chinese",
		chromedp.Click(chromedp.CSS("#lang-switch")),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/console/orgs"]`)),
		into(chromedp.Text(chromedp.CSS("header nav")), &nav),
	)
	if !strings.Contains(nav, "调试台") || !strings.Contains(nav, "概览") {
		t.Errorf("nav after switching: %q", nav)
	}
	var title string
	step("still Chinese on the next page",
		chromedp.Navigate(base+"/console/orgs"),
		into(chromedp.Text(chromedp.CSS("h1")), &title),
	)
	if title != "组织" {
		t.Errorf("orgs title %q, want 组织", title)
	}
	if errs := consoleErrors(); len(errs) > 0 {
		t.Errorf("browser console errors: %v", errs)
	}
}

// TestDashboardScreenshot writes docs/console-dashboard.png when
// SWITCHYARD_SCREENSHOT names the output file.
func TestDashboardScreenshot(t *testing.T) {
	out := os.Getenv("SWITCHYARD_SCREENSHOT")
	if out == "" {
		t.Skip("set SWITCHYARD_SCREENSHOT=path to write the dashboard screenshot")
	}
	ctx, consoleErrors := chrome(t)
	s := seedConsole(t, 20_000, 7)
	b := newBrowser(t, s.url)
	b.signInAdmin()
	var png []byte
	if err := chromedp.Do(ctx,
		chromedp.Navigate(s.url+"/console/login"),
		chromedp.WaitVisible(chromedp.CSS("#login")),
		chromedp.SendKeys(chromedp.CSS("#login"), "root"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#kpi-requests")),
		into(chromedp.CaptureScreenshot(), &png),
	); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	if errs := consoleErrors(); len(errs) > 0 {
		t.Errorf("browser console errors: %v", errs)
	}
}

// into runs a with a value and keeps the value in *p.
func into[T any](a chromedp.Action[T], p *T) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		v, err := a(ctx, t)
		*p = v
		return chromedp.Void{}, err
	}
}

// TestBrowserPhoneWidthAndKeyboard: at a phone's width no page scrolls
// sideways and the navigation is still reachable; and the pages can be
// used from the keyboard (Tab reaches the skip link, the nav and the
// forms, each focused element visibly outlined).
func TestBrowserPhoneWidthAndKeyboard(t *testing.T) {
	ctx, consoleErrors := chrome(t)
	e := startServer(t, "")
	ten := e.seedTenant("Phone org", "phone project")
	base := e.base
	step := stepper(t, ctx)
	step("phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	step("sign in at phone width", firstSignIn(base)...)
	for _, path := range []string{"/", "/console/orgs", "/console/projects/" + ten.ProjectID, "/console/models",
		"/console/playground", "/console/usage", "/console/specialists", "/console/policies", "/console/logs",
		"/console/datasets", "/console/audit"} {
		var overflow int
		step("load "+path,
			chromedp.Navigate(base+path),
			chromedp.WaitVisible(chromedp.CSS("h1")),
			into(chromedp.Evaluate[int](`document.documentElement.scrollWidth - window.innerWidth`), &overflow),
		)
		if overflow > 1 {
			t.Errorf("%s scrolls sideways by %d px at 390 px wide", path, overflow)
		}
	}
	// Keyboard: from the top of the page, Tab moves focus through real
	// links and controls, and the focused element shows an outline.
	var seen []string
	step("reset", chromedp.EmulateViewport(1280, 800), chromedp.Navigate(base+"/console/orgs"), chromedp.WaitVisible(chromedp.CSS("h1")))
	for i := 0; i < 40; i++ {
		var tag, outline string
		step("tab",
			chromedp.KeyEvent("\t"),
			into(chromedp.Evaluate[string](`document.activeElement.tagName`), &tag),
			into(chromedp.Evaluate[string](`getComputedStyle(document.activeElement).outlineStyle`), &outline),
		)
		if tag == "BODY" {
			if i == 0 {
				t.Fatal("the first Tab focused nothing")
			}
			break // past the last control: focus leaves the page
		}
		if outline == "none" {
			t.Errorf("tab %d: the focused %s has no visible outline", i, tag)
		}
		seen = append(seen, tag)
	}
	if !slices.Contains(seen, "A") || !(slices.Contains(seen, "INPUT") || slices.Contains(seen, "BUTTON") || slices.Contains(seen, "SELECT")) {
		t.Errorf("tabbing visited %v; want links and form controls", seen)
	}
	if errs := consoleErrors(); len(errs) > 0 {
		t.Errorf("browser console errors: %v", errs)
	}
}
