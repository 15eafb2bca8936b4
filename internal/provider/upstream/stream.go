package upstream

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"switchyard/internal/provider"
	sse "switchyard/internal/wire/openai"
)

// idler cancels a request when its body has been silent for longer than
// idle; every read that brings data rearms it.
type idler struct {
	body   io.ReadCloser
	ctx    context.Context
	cancel context.CancelFunc
	idle   time.Duration
	timer  *time.Timer

	mu     sync.Mutex
	fired  bool
	closed bool
}

func (c *Client) newIdler(resp *http.Response, cancel context.CancelFunc) *idler {
	d := &idler{body: resp.Body, ctx: requestContext(resp), cancel: cancel, idle: c.idle}
	d.timer = time.AfterFunc(d.idle, d.onIdle)
	return d
}

func (d *idler) onIdle() {
	d.mu.Lock()
	d.fired = true
	d.mu.Unlock()
	d.cancel()
}

// stalled is the error for a body cut by the idle timer, or nil when the
// timer has not fired.
func (d *idler) stalled(what string) error {
	d.mu.Lock()
	fired := d.fired
	d.mu.Unlock()
	if !fired {
		return nil
	}
	return Error(provider.ErrTimeout, "upstream "+what+" stalled", fmt.Errorf("no data for %s", d.idle))
}

// Close stops the timer, ends the request and closes the body; later
// calls do nothing.
func (d *idler) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	d.timer.Stop()
	d.cancel()
	return d.body.Close()
}

// Translator turns the events of an upstream's SSE stream into what a
// Stream yields.
type Translator interface {
	// Event returns what the event with data payload yields: nil to read
	// on (an empty payload to yield is non-nil); with io.EOF, the stream
	// ends after out (which may be nil), reading no further.
	Event(data []byte) (out []byte, err error)
	// End returns what the upstream's clean end yields, the same way: a
	// last payload with io.EOF, io.EOF alone, or an error for a stream
	// that ended too soon.
	End() (out []byte, err error)
}

// Stream reads an upstream's SSE body and implements provider.Stream.
// With a nil Translator it yields every event's data payload as sent.
type Stream struct {
	*idler
	dec   *sse.Decoder
	tr    Translator
	ended bool
}

// NewStream reads the SSE body of resp, a 2xx answer from Do, whose
// request cancel ends; Close ends it too, as does a silence longer than
// the idle timeout.
func (c *Client) NewStream(resp *http.Response, cancel context.CancelFunc, tr Translator) *Stream {
	return &Stream{idler: c.newIdler(resp, cancel), dec: sse.NewDecoder(resp.Body), tr: tr}
}

// Buffered reports whether more of the body is already read.
func (s *Stream) Buffered() bool { return s.dec.Buffered() > 0 }

// Next returns the next payload, io.EOF at the end.
func (s *Stream) Next() ([]byte, error) {
	for !s.ended {
		out, err := s.next()
		switch {
		case err == io.EOF:
			s.ended = true
			if out != nil {
				return out, nil
			}
		case err != nil || out != nil || s.tr == nil:
			return out, err
		}
	}
	return nil, io.EOF
}

// next reads one event and translates it.
func (s *Stream) next() ([]byte, error) {
	ev, err := s.dec.Next()
	if err != nil {
		if err := s.stalled("stream"); err != nil {
			return nil, err
		}
		if err == io.EOF {
			// A clean end. A connection dropped mid-stream surfaces as
			// io.ErrUnexpectedEOF instead.
			if s.tr == nil {
				return nil, io.EOF
			}
			return s.tr.End()
		}
		if timedOut(s.ctx) {
			return nil, Error(provider.ErrTimeout, "upstream request timed out", err)
		}
		return nil, err
	}
	s.timer.Reset(s.idle)
	if s.tr == nil {
		return ev.Data, nil
	}
	return s.tr.Event(ev.Data)
}

// IdleBody replaces the body of resp, a 2xx answer from Do, with one that
// a silence longer than the idle timeout cuts, and whose Close ends the
// request (cancel).
func (c *Client) IdleBody(resp *http.Response, cancel context.CancelFunc) {
	resp.Body = &idleBody{c.newIdler(resp, cancel)}
}

type idleBody struct{ *idler }

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if n > 0 {
		b.timer.Reset(b.idle)
	}
	if err != nil && err != io.EOF {
		if err := b.stalled("body"); err != nil {
			return n, err
		}
		return n, Classify(b.ctx, err)
	}
	return n, err
}
