package library

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// DefaultEndpoint is the Hugging Face base URL.
const DefaultEndpoint = "https://huggingface.co"

// Ref is a parsed hf://OWNER/REPO/FILE.gguf[@REVISION] reference.
type Ref struct {
	Repo     string // OWNER/REPO
	File     string // path inside the repository
	Revision string // branch, tag or commit; "main" when not given
}

// ParseRef parses an hf:// reference.
func ParseRef(s string) (Ref, error) {
	rest, ok := strings.CutPrefix(s, "hf://")
	if !ok {
		return Ref{}, fmt.Errorf("%q: want hf://OWNER/REPO/FILE.gguf[@REVISION]", s)
	}
	r := Ref{Revision: "main"}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		r.Revision = rest[i+1:]
		rest = rest[:i]
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 3 || r.Revision == "" {
		return Ref{}, fmt.Errorf("%q: want hf://OWNER/REPO/FILE.gguf[@REVISION]", s)
	}
	for _, p := range parts {
		if p == "" || p == "." || p == ".." {
			return Ref{}, fmt.Errorf("%q: empty or relative path element", s)
		}
	}
	r.Repo = parts[0] + "/" + parts[1]
	r.File = strings.Join(parts[2:], "/")
	if !strings.HasSuffix(strings.ToLower(r.File), Ext) {
		return Ref{}, fmt.Errorf("%q: the file must be a .gguf file", s)
	}
	return r, nil
}

// URL is the download URL of r under endpoint.
func (r Ref) URL(endpoint string) string {
	var file []string
	for _, p := range strings.Split(r.File, "/") {
		file = append(file, url.PathEscape(p))
	}
	return strings.TrimRight(endpoint, "/") + "/" + r.Repo + "/resolve/" + url.PathEscape(r.Revision) + "/" + strings.Join(file, "/")
}

// PullOptions configure Pull.
type PullOptions struct {
	Endpoint string       // base URL; "" means DefaultEndpoint
	Token    string       // sent as "Authorization: Bearer"; "" for none
	Client   *http.Client // nil: a client with no overall timeout
	// Progress, if set, is called as bytes arrive with the bytes on disk
	// so far and the total (-1 when unknown).
	Progress func(done, total int64)
}

// Pull downloads ref into the library as name (NameOf(ref.File) when
// empty). Bytes go to NAME.gguf.part first; an existing .part is resumed
// with a Range request. When the server names a sha256 digest (Hugging
// Face's X-Linked-Etag or ETag of LFS files) the file is verified against
// it and deleted on a mismatch. The result must be a loadable GGUF file.
func (l *Library) Pull(ctx context.Context, ref Ref, name string, o PullOptions) (Model, error) {
	if name == "" {
		name = NameOf(ref.File)
	}
	dst, err := l.path(name)
	if err != nil {
		return Model{}, err
	}
	if _, err := os.Stat(dst); err == nil {
		return Model{}, fmt.Errorf("model %q already exists (remove it first)", name)
	}
	if err := os.MkdirAll(l.Dir, 0o755); err != nil {
		return Model{}, err
	}
	endpoint := o.Endpoint
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	part := dst + ".part"
	sum, err := download(ctx, ref.URL(endpoint), part, o)
	if err != nil {
		return Model{}, offline(endpoint, err)
	}
	m, err := Describe(part)
	if err != nil {
		os.Remove(part)
		return Model{}, fmt.Errorf("downloaded file is not a loadable GGUF model: %w", err)
	}
	if err := os.Rename(part, dst); err != nil {
		return Model{}, err
	}
	m.Name, m.Path, m.SHA256 = name, dst, sum
	return m, nil
}

// offline rewrites a failure to reach the endpoint into advice.
func offline(endpoint string, err error) error {
	var dns *net.DNSError
	var op *net.OpError
	if errors.As(err, &dns) || errors.As(err, &op) && op.Op == "dial" || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTUNREACH) {
		host := endpoint
		if u, perr := url.Parse(endpoint); perr == nil && u.Host != "" {
			host = u.Host
		}
		return fmt.Errorf("cannot reach %s: %w; download the file elsewhere and use `switchyard models import FILE`", host, err)
	}
	return err
}

// HTTPError is a download refused by the server.
type HTTPError struct {
	URL    string
	Status int
}

func (e *HTTPError) Error() string {
	hint := ""
	switch e.Status {
	case 401, 403:
		hint = " (a gated or private repository? accept its terms and set HF_TOKEN)"
	case 404:
		hint = " (check the owner, repository, file name and revision)"
	}
	return fmt.Sprintf("GET %s: %d %s%s", e.URL, e.Status, http.StatusText(e.Status), hint)
}

// download fetches u into part, resuming it, and verifies the digest the
// server names; it returns that digest, or "" when the server named none.
func download(ctx context.Context, u, part string, o PullOptions) (string, error) {
	client := o.Client
	if client == nil {
		client = &http.Client{}
	}
	// Hugging Face redirects LFS files to a CDN; the digest is on the
	// redirect response, so remember headers of every hop.
	var mu sync.Mutex
	var linked string
	c := *client
	prev := client.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if r := req.Response; r != nil {
			mu.Lock()
			if d := digestOf(r.Header); d != "" && linked == "" {
				linked = d
			}
			mu.Unlock()
		}
		if prev != nil {
			return prev(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	for attempt := 0; ; attempt++ {
		have := int64(0)
		if fi, err := os.Stat(part); err == nil {
			have = fi.Size()
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return "", err
		}
		if o.Token != "" {
			req.Header.Set("Authorization", "Bearer "+o.Token)
		}
		if have > 0 {
			req.Header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
		}
		resp, err := c.Do(req)
		if err != nil {
			return "", err
		}
		if resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && have > 0 && attempt == 0 {
			// The part file is as long as the file or longer: start over.
			resp.Body.Close()
			if err := os.Remove(part); err != nil {
				return "", err
			}
			continue
		}
		mu.Lock()
		want := linked
		mu.Unlock()
		if want == "" {
			want = digestOf(resp.Header)
		}
		sum, err := receive(resp, part, have, want, o.Progress)
		resp.Body.Close()
		if err != nil {
			return "", err
		}
		return sum, nil
	}
}

// receive writes resp's body to part (appending from have for a 206),
// hashing the whole file, and checks it against want when set.
func receive(resp *http.Response, part string, have int64, want string, progress func(int64, int64)) (string, error) {
	total := int64(-1)
	flags := os.O_CREATE | os.O_WRONLY
	switch resp.StatusCode {
	case http.StatusOK:
		have = 0
		flags |= os.O_TRUNC
		total = resp.ContentLength
	case http.StatusPartialContent:
		start, size, ok := contentRange(resp.Header.Get("Content-Range"))
		if !ok || start != have {
			return "", fmt.Errorf("GET %s: unexpected Content-Range %q for a resume from %d", resp.Request.URL, resp.Header.Get("Content-Range"), have)
		}
		total = size
		flags |= os.O_APPEND
	default:
		return "", &HTTPError{URL: resp.Request.URL.String(), Status: resp.StatusCode}
	}
	h := sha256.New()
	if have > 0 {
		f, err := os.Open(part)
		if err != nil {
			return "", err
		}
		_, err = io.CopyN(h, f, have)
		f.Close()
		if err != nil {
			return "", fmt.Errorf("hashing %s: %w", part, err)
		}
	}
	f, err := os.OpenFile(part, flags, 0o644)
	if err != nil {
		return "", err
	}
	done := have
	buf := make([]byte, 256<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, err := f.Write(buf[:n]); err != nil {
				f.Close()
				return "", err
			}
			h.Write(buf[:n])
			done += int64(n)
			if progress != nil {
				progress(done, total)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			f.Close()
			return "", fmt.Errorf("downloading (%d bytes kept in %s; run pull again to resume): %w", done, part, rerr)
		}
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	if total >= 0 && done != total {
		return "", fmt.Errorf("download ended at %d of %d bytes (kept in %s; run pull again to resume)", done, total, part)
	}
	if want == "" {
		return "", nil
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != want {
		os.Remove(part)
		return "", fmt.Errorf("sha256 mismatch: got %s, the server says %s; the download was deleted", sum, want)
	}
	return want, nil
}

// digestOf returns the sha256 named by X-Linked-Etag or ETag when it is a
// 64-hex-digit digest (as for Hugging Face's LFS files), or "".
func digestOf(h http.Header) string {
	for _, k := range []string{"X-Linked-Etag", "Etag"} {
		v := strings.TrimPrefix(strings.TrimSpace(h.Get(k)), "W/")
		v = strings.ToLower(strings.Trim(v, `"`))
		if len(v) == 64 {
			if _, err := hex.DecodeString(v); err == nil {
				return v
			}
		}
	}
	return ""
}

// contentRange parses "bytes START-END/SIZE" (SIZE may be "*": -1).
func contentRange(s string) (start, size int64, ok bool) {
	rest, ok := strings.CutPrefix(s, "bytes ")
	if !ok {
		return 0, 0, false
	}
	rng, sz, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, false
	}
	a, _, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	if sz == "*" {
		return start, -1, true
	}
	size, err = strconv.ParseInt(sz, 10, 64)
	return start, size, err == nil
}
