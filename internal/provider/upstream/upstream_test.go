package upstream_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"switchyard/internal/config"
	"switchyard/internal/leakcheck"
	"switchyard/internal/provider"
	"switchyard/internal/provider/upstream"
)

func TestMain(m *testing.M) {
	leakcheck.Main(m, "switchyard/internal/provider/upstream", "net/http.(*persistConn)", "net/http.(*conn).serve")
}

// server answers every request with h and closes with the test.
func server(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func client(t *testing.T, o upstream.Options) *upstream.Client {
	t.Helper()
	c := upstream.New(o)
	t.Cleanup(func() { c.Close() })
	return c
}

// get sends a GET to url through c.
func get(t *testing.T, c *upstream.Client, ctx context.Context, url string) (*http.Response, context.CancelFunc, error) {
	t.Helper()
	hreq, cancel, err := c.NewRequest(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(hreq, cancel)
	return resp, cancel, err
}

func TestOptionsDecodeInlineAndStrictly(t *testing.T) {
	type opts struct {
		BaseURL          string `yaml:"base_url"`
		upstream.Options `yaml:",inline"`
	}
	n, err := config.NodeFromMap(map[string]any{"base_url": "http://x", "timeout": "5s", "idle_timeout": 3,
		"first_byte_timeout": "1s", "connect_timeout": "2s", "max_conns": 4, "headers": map[string]any{"X-A": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	var o opts
	if err := n.Decode(&o); err != nil {
		t.Fatal(err)
	}
	want := upstream.Options{Timeout: config.Duration(5 * time.Second), IdleTimeout: config.Duration(3 * time.Second),
		FirstByteTimeout: config.Duration(time.Second), ConnectTimeout: config.Duration(2 * time.Second), MaxConns: 4,
		Headers: map[string]string{"X-A": "b"}}
	if o.BaseURL != "http://x" || fmt.Sprint(o.Options) != fmt.Sprint(want) {
		t.Errorf("decoded %+v", o)
	}
	n, _ = config.NodeFromMap(map[string]any{"idle_timout": "1s"})
	if err := n.Decode(&o); err == nil || !strings.Contains(err.Error(), "idle_timout: unknown field") {
		t.Errorf("unknown key: %v", err)
	}
}

func TestDoSendsHeadersAndMapsStatus(t *testing.T) {
	var got http.Header
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		switch r.URL.Path {
		case "/ok":
			io.WriteString(w, "fine")
		case "/busy":
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"error":{"message":"slow down"}}`)
		case "/big":
			w.WriteHeader(http.StatusBadGateway)
			w.Write(make([]byte, 2<<20))
		}
	})
	c := client(t, upstream.Options{Headers: map[string]string{"x-extra": "1", "Authorization": "deployment"}})

	hreq, cancel, err := c.NewRequest(context.Background(), http.MethodGet, srv.URL+"/ok", nil)
	if err != nil {
		t.Fatal(err)
	}
	hreq.Header.Set("Authorization", "provider")
	resp, err := c.Do(hreq, cancel)
	if err != nil {
		t.Fatal(err)
	}
	b, err := upstream.ReadBody(resp)
	cancel()
	if err != nil || string(b) != "fine" {
		t.Fatalf("body %q, %v", b, err)
	}
	if got.Get("X-Extra") != "1" || got.Get("Authorization") != "deployment" {
		t.Errorf("headers sent: %v (the deployment's extra headers go over the provider's)", got)
	}
	if got.Get("Accept-Encoding") != "" {
		t.Errorf("Accept-Encoding %q sent; compression is off", got.Get("Accept-Encoding"))
	}

	_, _, err = get(t, c, context.Background(), srv.URL+"/busy")
	var se *provider.StatusError
	if !errors.As(err, &se) || se.Status != 429 || se.RetryAfter != 7*time.Second || !strings.Contains(string(se.Body), "slow down") {
		t.Fatalf("err = %#v", err)
	}
	if !errors.Is(err, provider.ErrRateLimited) {
		t.Errorf("%v is not ErrRateLimited", err)
	}

	_, _, err = get(t, c, context.Background(), srv.URL+"/big")
	if !errors.As(err, &se) || se.Status != 502 || len(se.Body) != 1<<20 {
		t.Errorf("error body of %d bytes kept, want 1 MiB", len(se.Body))
	}
}

func TestCheckBaseURL(t *testing.T) {
	for _, tc := range []struct {
		base string
		ok   bool
	}{
		{"https://api.example.com/v1", true},
		{"http://127.0.0.1:8000", true},
		{"", false},
		{"api.example.com", false},
		{"ftp://example.com", false},
		{"http:///v1", false},
		{"http://x/%zz", false},
	} {
		err := upstream.CheckBaseURL(tc.base)
		if (err == nil) != tc.ok || (err != nil && !strings.Contains(err.Error(), "must be an http(s) URL")) {
			t.Errorf("CheckBaseURL(%q) = %v", tc.base, err)
		}
	}
}

func TestNewRequestRejectsABadURL(t *testing.T) {
	c := client(t, upstream.Options{})
	if _, _, err := c.NewRequest(context.Background(), http.MethodGet, "http://x/\x7f", nil); err == nil || !strings.Contains(err.Error(), "building upstream request") {
		t.Errorf("err = %v", err)
	}
}

func TestReadBodyIsBounded(t *testing.T) {
	for _, tc := range []struct {
		name   string
		length int64 // ContentLength
		size   int
		want   string
	}{
		{"declared", 10, 10, ""},
		{"unknown length", -1, 1000, ""},
		{"declared over the limit", upstream.MaxBody + 1, 0, "of 67108865 bytes is over the"},
		{"undeclared over the limit", -1, upstream.MaxBody + 1, "is over the 67108864 byte limit"},
		{"cut short", 10, 5, "unexpected EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := &http.Response{ContentLength: tc.length, Body: io.NopCloser(io.LimitReader(zeros{}, int64(tc.size)))}
			b, err := upstream.ReadBody(resp)
			if tc.want == "" {
				if err != nil || len(b) != tc.size {
					t.Fatalf("read %d bytes, %v", len(b), err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, provider.ErrUnavailable) {
				t.Fatalf("err = %v, want %q and ErrUnavailable", err, tc.want)
			}
		})
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

var _ net.Error = timeoutErr{}

func TestClassify(t *testing.T) {
	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	gone, cancelGone := context.WithCancel(context.Background())
	cancelGone()
	refused := errors.New("connection refused")
	for _, tc := range []struct {
		name     string
		ctx      context.Context
		err      error
		kind     error
		msg      string
		passedOn bool // the error comes back as is
	}{
		{"deadline passed", expired, refused, provider.ErrTimeout, "upstream request timed out", false},
		{"network timeout", context.Background(), fmt.Errorf("dial: %w", timeoutErr{}), provider.ErrTimeout, "upstream timed out", false},
		{"client went away", gone, context.Canceled, nil, "", true},
		{"anything else", context.Background(), refused, provider.ErrUnavailable, "calling upstream", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := upstream.Classify(tc.ctx, tc.err)
			if tc.passedOn {
				if got != tc.err {
					t.Fatalf("got %v, want the error as is", got)
				}
				return
			}
			if !errors.Is(got, tc.kind) || !errors.Is(got, tc.err) || !strings.HasPrefix(got.Error(), tc.msg+": ") {
				t.Errorf("got %v, want kind %v and %q", got, tc.kind, tc.msg)
			}
		})
	}
}

func TestDoClassifiesTransportFailures(t *testing.T) {
	// A listener that accepts and never answers: the first-byte timeout.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	c := client(t, upstream.Options{FirstByteTimeout: config.Duration(50 * time.Millisecond)})
	if _, _, err := get(t, c, context.Background(), "http://"+l.Addr().String()); !errors.Is(err, provider.ErrTimeout) {
		t.Errorf("silent upstream: %v, want ErrTimeout", err)
	}
	c = client(t, upstream.Options{Timeout: config.Duration(50 * time.Millisecond)})
	if _, _, err := get(t, c, context.Background(), "http://"+l.Addr().String()); !errors.Is(err, provider.ErrTimeout) ||
		!strings.Contains(err.Error(), "upstream request timed out") {
		t.Errorf("whole-request timeout: %v", err)
	}
	c = client(t, upstream.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	if _, _, err := get(t, c, ctx, "http://"+l.Addr().String()); !errors.Is(err, context.Canceled) || errors.Is(err, provider.ErrTimeout) {
		t.Errorf("client cancel: %v, want context.Canceled", err)
	}
}
