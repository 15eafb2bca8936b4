package openai_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"switchyard/internal/provider"
)

func TestDoRaw(t *testing.T) {
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/v1/fail":
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"error":{"message":"slow down"}}`)
			return
		case "/v1/stall":
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		w.Header().Set("Content-Type", "audio/mpeg")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, r.Method+" "+r.URL.RawQuery+" "+r.Header.Get("Authorization")+" "+r.Header.Get("Content-Type")+" "+
			r.Header.Get("X-Extra")+" "+string(b))
	})
	p := newClient(t, map[string]any{"base_url": u.URL + "/v1", "api_key": "sk-up", "idle_timeout": "200ms",
		"headers": map[string]string{"X-Extra": "x"}})
	rd := p.(provider.RawDoer)
	ctx := context.Background()
	resp, err := rd.DoRaw(ctx, &provider.RawRequest{Method: "PUT", Path: "/audio/speech", RawQuery: "a=1",
		Header: http.Header{"Content-Type": {"text/plain"}}, Body: strings.NewReader("hello"), ContentLength: 5})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || string(b) != "PUT a=1 Bearer sk-up text/plain x hello" {
		t.Errorf("answer %d %q", resp.StatusCode, b)
	}
	_, err = rd.DoRaw(ctx, &provider.RawRequest{Path: "/fail"})
	var se *provider.StatusError
	if !errors.As(err, &se) || se.Status != 429 || se.RetryAfter != 2*time.Second || !errors.Is(err, provider.ErrRateLimited) {
		t.Errorf("429: %v", err)
	}
	resp, err = rd.DoRaw(ctx, &provider.RawRequest{Path: "/stall"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(err, provider.ErrTimeout) {
		t.Errorf("stalled body: %v, want a timeout", err)
	}
	if _, err := rd.DoRaw(ctx, &provider.RawRequest{Path: "no-slash"}); !errors.Is(err, provider.ErrInvalidRequest) {
		t.Errorf("relative path: %v", err)
	}
}
