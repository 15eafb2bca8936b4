package library

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func stories(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "shared", "models", "stories260K.gguf")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared fixtures not found: %v", err)
	}
	return p
}

func TestParseRef(t *testing.T) {
	tests := []struct {
		in   string
		want Ref
		url  string
		err  bool
	}{
		{in: "hf://o/r/f.gguf", want: Ref{Repo: "o/r", File: "f.gguf", Revision: "main"}, url: "http://h/o/r/resolve/main/f.gguf"},
		{in: "hf://o/r/sub/F.GGUF@v1.0", want: Ref{Repo: "o/r", File: "sub/F.GGUF", Revision: "v1.0"}, url: "http://h/o/r/resolve/v1.0/sub/F.GGUF"},
		{in: "hf://o/r/a b.gguf", want: Ref{Repo: "o/r", File: "a b.gguf", Revision: "main"}, url: "http://h/o/r/resolve/main/a%20b.gguf"},
		{in: "https://o/r/f.gguf", err: true},
		{in: "hf://o/r", err: true},
		{in: "hf://o/r/f.bin", err: true},
		{in: "hf://o//f.gguf", err: true},
		{in: "hf://o/r/../f.gguf", err: true},
		{in: "hf://o/r/f.gguf@", err: true},
	}
	for _, tt := range tests {
		got, err := ParseRef(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("ParseRef(%q) error %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if tt.err {
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseRef(%q) (-want +got):\n%s", tt.in, diff)
		}
		if u := got.URL("http://h/"); u != tt.url {
			t.Errorf("URL = %q, want %q", u, tt.url)
		}
	}
}

func TestDigestAndContentRange(t *testing.T) {
	d := strings.Repeat("ab", 32)
	for _, tt := range []struct {
		h    http.Header
		want string
	}{
		{http.Header{"X-Linked-Etag": {`"` + d + `"`}, "Etag": {`"x"`}}, d},
		{http.Header{"Etag": {`W/"` + strings.ToUpper(d) + `"`}}, d},
		{http.Header{"Etag": {`"abc-123"`}}, ""},
		{http.Header{"Etag": {`"` + strings.Repeat("zz", 32) + `"`}}, ""},
	} {
		if got := digestOf(tt.h); got != tt.want {
			t.Errorf("digestOf(%v) = %q, want %q", tt.h, got, tt.want)
		}
	}
	for _, tt := range []struct {
		in          string
		start, size int64
		ok          bool
	}{
		{"bytes 10-99/100", 10, 100, true},
		{"bytes 0-0/*", 0, -1, true},
		{"bytes */100", 0, 0, false},
		{"items 1-2/3", 0, 0, false},
	} {
		s, n, ok := contentRange(tt.in)
		if s != tt.start || n != tt.size || ok != tt.ok {
			t.Errorf("contentRange(%q) = %d, %d, %v", tt.in, s, n, ok)
		}
	}
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"hf://o/r/f.gguf", "hf://o/r/a/b.gguf@x", "hf://@", "hf:///.gguf"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s)
		if err != nil {
			return
		}
		if strings.Contains(r.Repo+"/"+r.File, "/../") || r.Revision == "" {
			t.Fatalf("accepted %q as %+v", s, r)
		}
		_ = r.URL(DefaultEndpoint)
		contentRange(s)
	})
}

func TestImportListRemove(t *testing.T) {
	src := stories(t)
	lib := Open(t.TempDir())
	if ms, err := lib.List(); err != nil || len(ms) != 0 {
		t.Fatalf("empty List = %v, %v", ms, err)
	}
	m, err := lib.Import(src, "")
	if err != nil {
		t.Fatal(err)
	}
	want := Model{Name: "stories260K", Path: filepath.Join(lib.Dir, "stories260K.gguf"), Arch: "llama", Params: m.Params, FileType: "F32", Size: 1185376, Context: 2048}
	if fi, _ := os.Stat(src); fi != nil {
		want.Size = fi.Size()
	}
	if diff := cmp.Diff(want, m); diff != "" || m.Params < 250_000 {
		t.Errorf("Import (-want +got):\n%s (params %d)", diff, m.Params)
	}
	if _, err := lib.Import(src, "second"); err != nil {
		t.Fatal(err)
	}
	if _, err := lib.Import(src, "second"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("duplicate import: %v", err)
	}
	if _, err := lib.Import(src, "../evil"); err == nil {
		t.Error("import accepted the name ../evil")
	}
	junk := filepath.Join(t.TempDir(), "junk.gguf")
	os.WriteFile(junk, []byte("GGUF not really"), 0o644)
	if _, err := lib.Import(junk, ""); err == nil || !strings.Contains(err.Error(), "not a loadable GGUF") {
		t.Errorf("junk import: %v", err)
	}
	ms, err := lib.List()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
	}
	if diff := cmp.Diff([]string{"second", "stories260K"}, names); diff != "" {
		t.Errorf("List names (-want +got):\n%s", diff)
	}
	if p, err := lib.Path("second"); err != nil || p != filepath.Join(lib.Dir, "second.gguf") {
		t.Errorf("Path = %q, %v", p, err)
	}
	if err := lib.Remove("second"); err != nil {
		t.Fatal(err)
	}
	if _, err := lib.Path("second"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Path after Remove: %v", err)
	}
	if err := lib.Remove("second"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Remove: %v", err)
	}
}

// hfServer serves body at /o/r/resolve/main/m.gguf the way Hugging Face
// serves LFS files: a redirect carrying X-Linked-Etag, then the bytes with
// Range support. It records the Range headers it saw.
type hfServer struct {
	*httptest.Server
	mu     sync.Mutex
	ranges []string
	auth   []string
}

func newHF(t *testing.T, body []byte, digest string) *hfServer {
	s := &hfServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("/o/r/resolve/main/m.gguf", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.auth = append(s.auth, r.Header.Get("Authorization"))
		s.mu.Unlock()
		w.Header().Set("X-Linked-Etag", `"`+digest+`"`)
		http.Redirect(w, r, "/cdn/m.gguf", http.StatusFound)
	})
	mux.HandleFunc("/cdn/m.gguf", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.ranges = append(s.ranges, r.Header.Get("Range"))
		s.mu.Unlock()
		http.ServeContent(w, r, "m.gguf", time.Time{}, bytes.NewReader(body))
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func TestPull(t *testing.T) {
	body, err := os.ReadFile(stories(t))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	digest := hex.EncodeToString(sum[:])
	ref, _ := ParseRef("hf://o/r/m.gguf")
	ctx := context.Background()

	t.Run("full", func(t *testing.T) {
		hf := newHF(t, body, digest)
		lib := Open(t.TempDir())
		var last, total int64
		m, err := lib.Pull(ctx, ref, "", PullOptions{Endpoint: hf.URL, Token: "tok", Progress: func(d, n int64) { last, total = d, n }})
		if err != nil {
			t.Fatal(err)
		}
		if m.Name != "m" || m.SHA256 != digest || m.Arch != "llama" || last != int64(len(body)) || total != int64(len(body)) {
			t.Errorf("Pull = %+v, progress %d/%d", m, last, total)
		}
		if diff := cmp.Diff([]string{"Bearer tok"}, hf.auth); diff != "" {
			t.Errorf("Authorization (-want +got):\n%s", diff)
		}
		if _, err := os.Stat(m.Path + ".part"); err == nil {
			t.Error(".part file left behind")
		}
	})
	t.Run("resume", func(t *testing.T) {
		hf := newHF(t, body, digest)
		lib := Open(t.TempDir())
		os.MkdirAll(lib.Dir, 0o755)
		os.WriteFile(filepath.Join(lib.Dir, "m.gguf.part"), body[:1000], 0o644)
		m, err := lib.Pull(ctx, ref, "", PullOptions{Endpoint: hf.URL})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"bytes=1000-"}, hf.ranges); diff != "" {
			t.Errorf("Range headers (-want +got):\n%s", diff)
		}
		got, _ := os.ReadFile(m.Path)
		if !bytes.Equal(got, body) {
			t.Error("resumed file differs")
		}
	})
	t.Run("mismatch", func(t *testing.T) {
		hf := newHF(t, body, strings.Repeat("0", 64))
		lib := Open(t.TempDir())
		_, err := lib.Pull(ctx, ref, "", PullOptions{Endpoint: hf.URL})
		if err == nil || !strings.Contains(err.Error(), "sha256 mismatch") {
			t.Fatalf("Pull = %v, want a sha256 mismatch", err)
		}
		if ents, _ := os.ReadDir(lib.Dir); len(ents) != 0 {
			t.Errorf("left %v behind", ents)
		}
	})
	t.Run("offline", func(t *testing.T) {
		lib := Open(t.TempDir())
		_, err := lib.Pull(ctx, ref, "", PullOptions{Endpoint: "http://127.0.0.1:1"})
		if err == nil || !strings.Contains(err.Error(), "cannot reach 127.0.0.1:1") || !strings.Contains(err.Error(), "switchyard models import FILE") {
			t.Fatalf("Pull = %v", err)
		}
	})
	t.Run("not found", func(t *testing.T) {
		hf := newHF(t, body, digest)
		lib := Open(t.TempDir())
		r2, _ := ParseRef("hf://o/r/other.gguf")
		_, err := lib.Pull(ctx, r2, "", PullOptions{Endpoint: hf.URL})
		var he *HTTPError
		if !errors.As(err, &he) || he.Status != 404 {
			t.Fatalf("Pull = %v, want a 404", err)
		}
	})
}
