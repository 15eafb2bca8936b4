package main

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestAdminKeyFromEnvAddsAndRotateAdmin walks the admin key rule through
// real `serve` starts and the CLI: SWITCHYARD_ADMIN_KEY adds an admin key
// beside the generated one (and says so once), both survive a start
// without the variable, and `keys rotate-admin` retires the key it is
// called with.
func TestAdminKeyFromEnvAddsAndRotateAdmin(t *testing.T) {
	const envKey = "sy-admin-from-env-0123456789"
	dir := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	status := func(key string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+addr+"/api/audit", nil) // admin keys only
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	printed := func(out string) string {
		t.Helper()
		_, rest, ok := strings.Cut(out, "store it now:\n\n    ")
		if !ok {
			t.Fatalf("no key printed:\n%s", out)
		}
		return strings.TrimSpace(strings.SplitN(rest, "\n", 2)[0])
	}
	want := func(what string, key string, code int) {
		t.Helper()
		if got := status(key); got != code {
			t.Errorf("%s: %s answers %d, want %d", what, key[:10], got, code)
		}
	}

	// 1. First start, no variable: a generated key, printed once.
	t.Setenv("SWITCHYARD_ADMIN_KEY", "")
	stop := serve(t, addr, "--data-dir", dir)
	code, out := stop()
	generated := printed(out)
	if code != 0 {
		t.Fatalf("serve: %d\n%s", code, out)
	}

	// 2. With the variable: both keys work, and the log says what changed.
	t.Setenv("SWITCHYARD_ADMIN_KEY", envKey)
	stop = serve(t, addr, "--data-dir", dir)
	want("generated key with the variable set", generated, 200)
	want("variable's key", envKey, 200)
	_, out = stop()
	if !strings.Contains(out, "SWITCHYARD_ADMIN_KEY added as an admin key") || !strings.Contains(out, envKey[:10]) || !strings.Contains(out, generated[:10]) {
		t.Errorf("no log line naming the added key and the key prefixes:\n%s", out)
	}
	if strings.Contains(out, "store it now") {
		t.Errorf("a start with the variable printed a new key:\n%s", out)
	}

	// 3. The same value again: nothing changes, nothing is logged.
	stop = serve(t, addr, "--data-dir", dir)
	want("generated key, same variable again", generated, 200)
	want("variable's key, same variable again", envKey, 200)
	if _, out = stop(); strings.Contains(out, "SWITCHYARD_ADMIN_KEY") {
		t.Errorf("a start with an unchanged variable logged a change:\n%s", out)
	}

	// 4. Without the variable both still work; rotate-admin retires the
	// key it is called with and prints the new one once.
	t.Setenv("SWITCHYARD_ADMIN_KEY", "")
	stop = serve(t, addr, "--data-dir", dir)
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	want("generated key after a start without the variable", generated, 200)
	want("variable's key after a start without the variable", envKey, 200)
	var buf bytes.Buffer
	if c := run(context.Background(), []string{"keys", "rotate-admin", "--server", "http://" + addr, "--key", generated}, &buf, &buf); c != 0 {
		t.Fatalf("keys rotate-admin: %d\n%s", c, buf.String())
	}
	rotated := printed(buf.String())
	if !strings.HasPrefix(rotated, "sy-") || rotated == generated {
		t.Fatalf("rotate-admin printed %q", rotated)
	}
	want("rotated key", rotated, 200)
	want("generated key after rotate-admin", generated, 401)
	want("variable's key after rotating the generated one", envKey, 200)
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/audit?action=key.rotate_admin", nil)
	req.Header.Set("Authorization", "Bearer "+rotated)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var audit bytes.Buffer
	audit.ReadFrom(resp.Body)
	resp.Body.Close()
	if !strings.Contains(audit.String(), `"actor":"admin"`) {
		t.Errorf("rotate-admin is not in the audit log: %s", audit.String())
	}

	// 5. A retired SWITCHYARD_ADMIN_KEY stays retired on the next start.
	buf.Reset()
	if c := run(context.Background(), []string{"keys", "rotate-admin", "--server", "http://" + addr, "--key", envKey}, &buf, &buf); c != 0 {
		t.Fatalf("keys rotate-admin with the variable's key: %d\n%s", c, buf.String())
	}
	stop()
	t.Setenv("SWITCHYARD_ADMIN_KEY", envKey)
	stop = serve(t, addr, "--data-dir", dir)
	want("retired variable's key, set again", envKey, 401)
	want("rotated key after restart", rotated, 200)
	_, out = stop()
	stop = nil
	if !strings.Contains(out, "revoked admin key; it stays revoked") {
		t.Errorf("no warning about a revoked SWITCHYARD_ADMIN_KEY:\n%s", out)
	}
}
