package upstream_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"switchyard/internal/config"
	"switchyard/internal/provider"
	"switchyard/internal/provider/upstream"
)

// sse answers with body, flushed, then holds the connection open until
// the request ends (so nothing past body can be read).
func sse(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, body)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}
}

// closed answers with body and ends it.
func closed(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }
}

// translator: "skip" reads on, "last" ends the stream after it, "bad"
// fails; End yields "end" (or fails when endErr is set).
type translator struct{ endErr error }

func (translator) Event(data []byte) ([]byte, error) {
	switch string(data) {
	case "skip":
		return nil, nil
	case "last":
		return []byte("LAST"), io.EOF
	case "bad":
		return nil, errors.New("bad event")
	}
	return []byte(strings.ToUpper(string(data))), nil
}

func (t translator) End() ([]byte, error) {
	if t.endErr != nil {
		return nil, t.endErr
	}
	return []byte("end"), io.EOF
}

func open(t *testing.T, o upstream.Options, h http.HandlerFunc, tr upstream.Translator) *upstream.Stream {
	t.Helper()
	srv := server(t, h)
	c := client(t, o)
	resp, cancel, err := get(t, c, context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	s := c.NewStream(resp, cancel, tr)
	t.Cleanup(func() { s.Close() })
	return s
}

// drain reads s to its end, returning the payloads joined by "|" and the
// error that ended it (nil for io.EOF).
func drain(s *upstream.Stream) (string, error) {
	var got []string
	for {
		b, err := s.Next()
		if err == io.EOF {
			return strings.Join(got, "|"), nil
		}
		if err != nil {
			return strings.Join(got, "|"), err
		}
		got = append(got, string(b))
	}
}

func TestStreamTranslates(t *testing.T) {
	for _, tc := range []struct {
		name    string
		h       http.HandlerFunc
		tr      upstream.Translator
		want    string
		wantErr string
	}{
		{"as sent", closed("data: a\n\ndata:\n\n: comment\n\ndata: skip\n\n"), nil, "a||skip", ""},
		{"translated, skips, end payload", closed("data: a\n\ndata: skip\n\ndata: b\n\n"), translator{}, "A|B|end", ""},
		{"ends after the last event, reading no further", sse("data: a\n\ndata: last\n\n"), translator{}, "A|LAST", ""},
		{"translation error", closed("data: a\n\ndata: bad\n\n"), translator{}, "A", "bad event"},
		{"too short an end", closed("data: a\n\n"), translator{endErr: io.ErrUnexpectedEOF}, "A", "unexpected EOF"},
		{"cut mid-event", closed("data: a\n\ndata: b"), nil, "a|b", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := drain(open(t, upstream.Options{}, tc.h, tc.tr))
			if got != tc.want {
				t.Errorf("payloads %q, want %q", got, tc.want)
			}
			if (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestStreamEndsAndStaysEnded(t *testing.T) {
	s := open(t, upstream.Options{}, closed("data: a\n\n"), translator{})
	if got, err := drain(s); got != "A|end" || err != nil {
		t.Fatalf("%q, %v", got, err)
	}
	if _, err := s.Next(); err != io.EOF {
		t.Errorf("Next after the end: %v, want io.EOF", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestStreamBuffered(t *testing.T) {
	s := open(t, upstream.Options{}, sse("data: a\n\ndata: b\n\n"), nil)
	if b, err := s.Next(); string(b) != "a" || err != nil {
		t.Fatalf("%q, %v", b, err)
	}
	if !s.Buffered() {
		t.Error("the second event, read with the first, is not reported buffered")
	}
	s.Next()
	if s.Buffered() {
		t.Error("nothing is left, yet Buffered")
	}
}

func TestStreamStalls(t *testing.T) {
	t0 := time.Now()
	s := open(t, upstream.Options{IdleTimeout: config.Duration(100 * time.Millisecond)}, sse("data: a\n\n"), nil)
	got, err := drain(s)
	if got != "a" || !errors.Is(err, provider.ErrTimeout) || !strings.Contains(err.Error(), "upstream stream stalled: no data for 100ms") {
		t.Fatalf("%q, %v; want a stall", got, err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("cut after %v", d)
	}
}

func TestStreamWholeRequestTimeout(t *testing.T) {
	s := open(t, upstream.Options{Timeout: config.Duration(150 * time.Millisecond)}, sse("data: a\n\n"), nil)
	got, err := drain(s)
	if got != "a" || !errors.Is(err, provider.ErrTimeout) || !strings.Contains(err.Error(), "upstream request timed out") {
		t.Fatalf("%q, %v; want the request's timeout", got, err)
	}
}

func TestIdleBody(t *testing.T) {
	for _, tc := range []struct {
		name    string
		h       http.HandlerFunc
		want    string
		wantErr string
	}{
		{"whole", closed("all of it"), "all of it", ""},
		{"stalled", sse("part"), "part", "upstream body stalled: no data for 100ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := server(t, tc.h)
			c := client(t, upstream.Options{IdleTimeout: config.Duration(100 * time.Millisecond)})
			resp, cancel, err := get(t, c, context.Background(), srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			c.IdleBody(resp, cancel)
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if string(b) != tc.want {
				t.Errorf("read %q, want %q", b, tc.want)
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Errorf("err = %v", err)
				}
				return
			}
			if !errors.Is(err, provider.ErrTimeout) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
