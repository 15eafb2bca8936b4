package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPullCommand(t *testing.T) {
	body, err := os.ReadFile(storiesPath(t))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	var gotRange, gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/o/r/resolve/v2/stories.gguf" {
			http.NotFound(w, r)
			return
		}
		gotRange, gotAuth = r.Header.Get("Range"), r.Header.Get("Authorization")
		w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
		http.ServeContent(w, r, "stories.gguf", time.Time{}, bytes.NewReader(body))
	}))
	defer srv.Close()
	dir := t.TempDir()
	t.Setenv("SWITCHYARD_HF_ENDPOINT", srv.URL)
	t.Setenv("HF_TOKEN", "hf_secret")
	os.MkdirAll(filepath.Join(dir, "models"), 0o755)
	os.WriteFile(filepath.Join(dir, "models", "tales.gguf.part"), body[:4096], 0o644)
	code, out, errs := sy(t, "pull", "hf://o/r/stories.gguf@v2", "--name", "tales", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "pulled tales (llama") || !strings.Contains(out, "verified") {
		t.Fatalf("pull: %d\n%s\n%s", code, out, errs)
	}
	if gotRange != "bytes=4096-" || gotAuth != "Bearer hf_secret" {
		t.Errorf("Range %q, Authorization %q", gotRange, gotAuth)
	}
	if !strings.Contains(errs, "stories.gguf: 100.0% 1.1 MiB / 1.1 MiB at") {
		t.Errorf("progress lines:\n%s", errs)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "models", "tales.gguf")); !bytes.Equal(got, body) {
		t.Error("pulled file differs")
	}
	// Offline: a clear error naming the way out.
	t.Setenv("SWITCHYARD_HF_ENDPOINT", "http://127.0.0.1:1")
	code, _, errs = sy(t, "pull", "hf://o/r/stories.gguf", "--data-dir", dir)
	if code != 1 || !strings.Contains(errs, "cannot reach 127.0.0.1:1") || !strings.Contains(errs, "use `switchyard models import FILE`") {
		t.Errorf("offline: %d %q", code, errs)
	}
	if code, _, _ := sy(t, "pull", "https://example.com/x.gguf"); code != 1 {
		t.Errorf("bad reference: exit %d", code)
	}
}
