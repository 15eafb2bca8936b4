package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"switchyard/internal/fakeai"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// serve runs `switchyard serve args…` in-process and returns a stop func
// that sends SIGTERM and returns the exit code and output.
func serve(t *testing.T, addr string, args ...string) (stop func() (int, string)) {
	t.Helper()
	out := &syncBuf{}
	code := make(chan int, 1)
	go func() {
		code <- run(context.Background(), append([]string{"serve", "--addr", addr}, args...), out, out)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case c := <-code:
			t.Fatalf("serve exited with %d:\n%s", c, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not become ready:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return func() (int, string) {
		syscall.Kill(os.Getpid(), syscall.SIGTERM)
		select {
		case c := <-code:
			return c, out.String()
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop on SIGTERM")
			return 0, ""
		}
	}
}

func TestServeDefaultsAdminKeyOnceAndSIGTERM(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	stop := serve(t, addr, "--data-dir", dir)
	code, out := stop()
	if code != 0 {
		t.Fatalf("exit code %d:\n%s", code, out)
	}
	if !strings.Contains(out, "created an admin key") || !strings.Contains(out, "    sy-") {
		t.Fatalf("first start did not print the admin key:\n%s", out)
	}
	key := strings.TrimSpace(strings.SplitN(strings.SplitN(out, "    sy-", 2)[1], "\n", 2)[0])
	key = "sy-" + key
	if _, err := os.Stat(filepath.Join(dir, "switchyard.db")); err != nil {
		t.Fatalf("no database: %v", err)
	}
	db, _ := os.ReadFile(filepath.Join(dir, "switchyard.db"))
	if bytes.Contains(db, []byte(key)) {
		t.Error("the admin key is stored in clear")
	}
	stop = serve(t, addr, "--data-dir", dir)
	req, _ := http.NewRequest("GET", "http://"+addr+"/v1/models", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("printed admin key does not work after a restart: %v %v", resp, err)
	}
	code, out = stop()
	if code != 0 || strings.Contains(out, "created an admin key") {
		t.Errorf("second start printed a key or failed (%d):\n%s", code, out)
	}
}

func TestServeAdminKeyFromEnvAndSIGHUPReload(t *testing.T) {
	up, err := fakeai.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	t.Setenv("SWITCHYARD_ADMIN_KEY", "sy-from-the-environment-1234")
	t.Setenv("UP", up.URL)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "s.yaml")
	write := func(s string) {
		if err := os.WriteFile(cfgFile, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("models:\n  - name: a\n    deployments: [{provider: openai, base_url: '${UP}'}]\n")
	addr := freeAddr(t)
	stop := serve(t, addr, "--config", cfgFile, "--data-dir", dir)
	models := func() string {
		req, _ := http.NewRequest("GET", "http://"+addr+"/v1/models", nil)
		req.Header.Set("x-api-key", "sy-from-the-environment-1234")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if !strings.Contains(models(), `"id":"a"`) {
		t.Fatalf("models: %s", models())
	}
	write("models:\n  - name: a\n    deployments: [{provider: openai, base_url: '${UP}'}]\n  - name: b\n    deployments: [{provider: openai, base_url: '${UP}'}]\n")
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitFor(t, func() bool { return strings.Contains(models(), `"id":"b"`) })
	write("models:\n  - name: c\n    bogus: 1\n")
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	time.Sleep(300 * time.Millisecond)
	if m := models(); !strings.Contains(m, `"id":"b"`) || strings.Contains(m, `"id":"c"`) {
		t.Errorf("a bad reload changed the models: %s", m)
	}
	code, out := stop()
	if code != 0 || !strings.Contains(out, "config reload refused") || !strings.Contains(out, "bogus: unknown field") {
		t.Errorf("exit %d, log:\n%s", code, out)
	}
	if strings.Contains(out, "sy-from-the-environment-1234") {
		t.Error("the admin key appeared in the log")
	}
}

func waitFor(t *testing.T, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestConfigCheckAndHelp(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("models:\n  - name: a\n    deployments: [{provider: openai, base_url: 'http://x/v1'}]\n"), 0o600)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("models:\n  - name: a\n    deployments:\n      - provider: openai\n        base_url: ftp://x\n"), 0o600)
	var out bytes.Buffer
	if code := run(context.Background(), []string{"config", "check", good}, &out, &out); code != 0 || !strings.Contains(out.String(), "OK (1 models, 1 deployments)") {
		t.Errorf("good: %d %s", code, out.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"config", "check", bad}, &out, &out); code != 1 || !strings.Contains(out.String(), "bad.yaml:4") {
		t.Errorf("bad: %d %s", code, out.String())
	}
	for _, cmd := range [][]string{{"serve", "--help"}, {"version", "--help"}, {"config", "--help"}, {"bench", "--help"}, {"bench", "gateway", "--help"}, {"--help"}} {
		out.Reset()
		if code := run(context.Background(), cmd, &out, &out); code != 0 || !strings.Contains(out.String(), "Usage") {
			t.Errorf("%v: %d %s", cmd, code, out.String())
		}
	}
	out.Reset()
	if code := run(context.Background(), []string{"version"}, &out, &out); code != 0 || !strings.HasPrefix(out.String(), "switchyard ") {
		t.Errorf("version: %d %s", code, out.String())
	}
}
