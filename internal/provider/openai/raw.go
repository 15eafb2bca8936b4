package openai

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"switchyard/internal/provider"
)

var _ provider.RawDoer = (*Client)(nil)

// DoRaw implements provider.RawDoer: req goes to the deployment's base URL
// at req.Path with the deployment's credentials, transport and timeouts.
// The answer's body is left unread for the caller, who must close it; it
// is bounded by the whole-request timeout and, between reads, by the idle
// timeout, like a stream.
func (c *Client) DoRaw(ctx context.Context, req *provider.RawRequest) (*http.Response, error) {
	if !strings.HasPrefix(req.Path, "/") {
		return nil, fmt.Errorf("%w: raw path %q is not absolute", provider.ErrInvalidRequest, req.Path)
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout.D())
	u := c.base + req.Path
	if req.RawQuery != "" {
		u += "?" + req.RawQuery
	}
	method := req.Method
	if method == "" {
		method = http.MethodPost
	}
	body := req.Body
	if req.ContentLength == 0 {
		body = nil // http: no body at all, not an empty chunked one
	}
	hreq, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("building upstream request: %w", err)
	}
	hreq.ContentLength = req.ContentLength
	if body == nil {
		hreq.ContentLength = 0
	}
	h := hreq.Header
	for k, v := range req.Header {
		h[k] = v
	}
	if c.auth != "" {
		h["Authorization"] = []string{c.auth}
	}
	if req.RequestID != "" {
		h["X-Request-Id"] = []string{req.RequestID}
	}
	for k, v := range c.headers {
		h[k] = v
	}
	resp, err := c.http.Do(hreq)
	if err != nil {
		cancel()
		return nil, c.classify(ctx, err)
	}
	if resp.StatusCode/100 != 2 {
		defer cancel()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		return nil, &provider.StatusError{
			Status:     resp.StatusCode,
			Body:       b,
			RetryAfter: provider.ParseRetryAfter(resp.Header, time.Now()),
		}
	}
	rb := &rawBody{body: resp.Body, cancel: cancel, ctx: ctx, idle: c.opts.IdleTimeout.D(), c: c}
	rb.timer = time.AfterFunc(rb.idle, rb.onIdle)
	resp.Body = rb
	return resp, nil
}

// rawBody is a raw answer's body: closing it ends the request, and a
// silence longer than the idle timeout cancels it.
type rawBody struct {
	body   io.ReadCloser
	cancel context.CancelFunc
	ctx    context.Context
	idle   time.Duration
	timer  *time.Timer
	c      *Client

	mu        sync.Mutex
	idleFired bool
	closed    bool
}

func (b *rawBody) onIdle() {
	b.mu.Lock()
	b.idleFired = true
	b.mu.Unlock()
	b.cancel()
}

func (b *rawBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if n > 0 {
		b.timer.Reset(b.idle)
	}
	if err != nil && err != io.EOF {
		b.mu.Lock()
		idle := b.idleFired
		b.mu.Unlock()
		if idle {
			return n, &kindError{provider.ErrTimeout, "upstream body stalled", fmt.Errorf("no data for %s", b.idle)}
		}
		return n, b.c.classify(b.ctx, err)
	}
	return n, err
}

func (b *rawBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	b.timer.Stop()
	b.cancel()
	return b.body.Close()
}
