// Package upstream is the HTTP client machinery the HTTP providers share:
// the timeout and connection options with their defaults, the transport,
// the mapping of transport failures and non-2xx answers to provider
// errors, bounded bodies, and SSE streams cut by an idle timer.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"switchyard/internal/config"
	"switchyard/internal/provider"
)

// Options are the deployment keys of an HTTP upstream. A provider embeds
// them in its own options with `yaml:",inline"`, so they decode as its
// keys, strictly like the rest.
type Options struct {
	Timeout          config.Duration   `yaml:"timeout"`            // whole request, including the stream
	ConnectTimeout   config.Duration   `yaml:"connect_timeout"`    // TCP+TLS
	FirstByteTimeout config.Duration   `yaml:"first_byte_timeout"` // until response headers; 0 = none
	IdleTimeout      config.Duration   `yaml:"idle_timeout"`       // longest gap between stream reads
	Headers          map[string]string `yaml:"headers"`            // extra headers sent upstream
	MaxConns         int               `yaml:"max_conns"`          // per deployment; 0 = unlimited
}

// Defaults for the options left at zero.
const (
	DefaultTimeout        = 10 * time.Minute
	DefaultConnectTimeout = 10 * time.Second
	DefaultIdleTimeout    = 2 * time.Minute
)

// MaxBody bounds a non-streamed upstream answer (ReadBody).
const MaxBody = 64 << 20

// maxErrorBody bounds the body kept from a non-2xx answer.
const maxErrorBody = 1 << 20

// CheckBaseURL returns an error unless base, a deployment's base_url, is
// an absolute http(s) URL.
func CheckBaseURL(base string) error {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("base_url %q must be an http(s) URL", base)
	}
	return nil
}

// Client sends the requests of one deployment: its transport, timeouts
// and extra headers.
type Client struct {
	http    *http.Client
	tr      *http.Transport
	headers http.Header
	timeout time.Duration
	idle    time.Duration
}

// New builds a client from o, zero durations taking the defaults.
func New(o Options) *Client {
	if o.Timeout == 0 {
		o.Timeout = config.Duration(DefaultTimeout)
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = config.Duration(DefaultConnectTimeout)
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = config.Duration(DefaultIdleTimeout)
	}
	dialer := &net.Dialer{Timeout: o.ConnectTimeout.D(), KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   1024,
		MaxConnsPerHost:       o.MaxConns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   o.ConnectTimeout.D(),
		ResponseHeaderTimeout: o.FirstByteTimeout.D(),
		DisableCompression:    true,
		WriteBufferSize:       32 << 10,
		ReadBufferSize:        32 << 10,
	}
	c := &Client{
		http:    &http.Client{Transport: tr},
		tr:      tr,
		headers: make(http.Header, len(o.Headers)),
		timeout: o.Timeout.D(),
		idle:    o.IdleTimeout.D(),
	}
	for k, v := range o.Headers {
		c.headers.Set(k, v)
	}
	return c
}

// Close drops idle connections.
func (c *Client) Close() error {
	c.tr.CloseIdleConnections()
	return nil
}

// NewRequest builds a request to url whose context is ctx bounded by the
// whole-request timeout. The caller sets its own headers, then hands the
// request and cancel to Do.
func (c *Client) NewRequest(ctx context.Context, method, url string, body io.Reader) (*http.Request, context.CancelFunc, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	hreq, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("building upstream request: %w", err)
	}
	return hreq, cancel, nil
}

// Do sets the deployment's extra headers over hreq's own and sends it. A
// 2xx answer comes back with its body unread, and cancel is then the
// caller's to call once done with it (ReadBody, NewStream and IdleBody
// take that on). Otherwise Do has called cancel: a transport failure
// comes back through Classify, any other status as a *provider.StatusError.
func (c *Client) Do(hreq *http.Request, cancel context.CancelFunc) (*http.Response, error) {
	h := hreq.Header
	for k, v := range c.headers {
		h[k] = v
	}
	resp, err := c.http.Do(hreq)
	if err != nil {
		cancel()
		return nil, Classify(hreq.Context(), err)
	}
	if resp.StatusCode/100 != 2 {
		defer cancel()
		return nil, statusError(resp)
	}
	return resp, nil
}

// statusError reads and closes the body of a non-2xx answer.
func statusError(resp *http.Response) *provider.StatusError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	return &provider.StatusError{
		Status:     resp.StatusCode,
		Body:       b,
		RetryAfter: provider.ParseRetryAfter(resp.Header, time.Now()),
	}
}

// ReadBody reads and closes a 2xx answer's body, of at most MaxBody
// bytes; an error is classified against the request's context.
func ReadBody(resp *http.Response) ([]byte, error) {
	b, err := readBody(resp)
	resp.Body.Close()
	if err != nil {
		return nil, Classify(requestContext(resp), fmt.Errorf("reading upstream response: %w", err))
	}
	return b, nil
}

func readBody(resp *http.Response) ([]byte, error) {
	n := resp.ContentLength
	if n > MaxBody {
		return nil, fmt.Errorf("upstream response of %d bytes is over the %d limit", n, MaxBody)
	}
	if n > 0 {
		buf := make([]byte, n)
		_, err := io.ReadFull(resp.Body, buf)
		return buf, err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if len(b) > MaxBody {
		return nil, fmt.Errorf("upstream response is over the %d byte limit", MaxBody)
	}
	return b, err
}

func requestContext(resp *http.Response) context.Context {
	if resp.Request != nil {
		return resp.Request.Context()
	}
	return context.Background()
}

// Classify maps the transport error err of a request made with ctx to an
// error kind: provider.ErrTimeout when ctx's deadline passed or the
// network timed out, the error itself when the caller cancelled (the
// client went away; not the upstream's fault), provider.ErrUnavailable
// otherwise.
func Classify(ctx context.Context, err error) error {
	if timedOut(ctx) {
		return Error(provider.ErrTimeout, "upstream request timed out", err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return Error(provider.ErrTimeout, "upstream timed out", err)
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return Error(provider.ErrUnavailable, "calling upstream", err)
}

// timedOut reports whether ctx ended at its deadline.
func timedOut(ctx context.Context) bool {
	return ctx.Err() != nil && errors.Is(context.Cause(ctx), context.DeadlineExceeded)
}

// Error is err with the error kind kind (a provider.Err… value) next to
// it, so errors.Is finds both; its message is msg: err.
func Error(kind error, msg string, err error) error {
	return &kindError{kind: kind, msg: msg, err: err}
}

type kindError struct {
	kind error
	msg  string
	err  error
}

func (e *kindError) Error() string   { return e.msg + ": " + e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }
