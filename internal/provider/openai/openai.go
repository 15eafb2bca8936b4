// Package openai is the provider kind "openai": any upstream that speaks
// the OpenAI HTTP API (OpenAI, DeepSeek, DashScope compatible mode,
// Moonshot, Zhipu, vLLM, Ollama, llama.cpp server…). Request bodies are
// forwarded as given; responses come back untouched.
package openai

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"switchyard/internal/config"
	"switchyard/internal/provider"
	wire "switchyard/internal/wire/openai"
)

// Kind is the registry name of this provider.
const Kind = "openai"

// Options are the deployment keys this provider understands.
type Options struct {
	BaseURL          string            `yaml:"base_url"`
	APIKey           config.Redacted   `yaml:"api_key"`
	Timeout          config.Duration   `yaml:"timeout"`            // whole request, including the stream
	ConnectTimeout   config.Duration   `yaml:"connect_timeout"`    // TCP+TLS
	FirstByteTimeout config.Duration   `yaml:"first_byte_timeout"` // until response headers
	IdleTimeout      config.Duration   `yaml:"idle_timeout"`       // longest gap between stream chunks
	Headers          map[string]string `yaml:"headers"`            // extra headers sent upstream
	MaxConns         int               `yaml:"max_conns"`          // per deployment; 0 = unlimited
	// Responses says the upstream serves OpenAI's Responses API
	// (/responses) itself: Responses calls go to it natively.
	Responses bool `yaml:"responses"`
}

// maxResponseBytes bounds a non-streamed upstream answer.
const maxResponseBytes = 64 << 20

// Quirks adapt the client to a vendor that speaks OpenAI's API with small
// differences (vendor presets build them; the zero value is plain OpenAI).
type Quirks struct {
	// AuthHeader names the header that carries the API key as is (Azure:
	// "api-key"); "" sends "Authorization: Bearer KEY".
	AuthHeader string
	// URL builds the upstream URL of op from the base URL; nil is base+op.Path().
	URL func(base string, op provider.Op) string
	// Rewrite returns the body to send for req (it may return req.Body
	// itself); nil sends the body as given.
	Rewrite func(req *provider.Request) ([]byte, error)
}

// Client is one OpenAI-compatible deployment.
type Client struct {
	base       string
	authHeader string
	auth       string
	headers    http.Header
	opts       Options
	quirks     Quirks
	http       *http.Client
	tr         *http.Transport
}

var _ provider.Provider = (*Client)(nil)

// New is the provider factory.
func New(d provider.Deployment) (provider.Provider, error) {
	var o Options
	if err := d.Options.Decode(&o); err != nil {
		return nil, err
	}
	return NewClient(o)
}

// NewClient builds a client from decoded options.
func NewClient(o Options) (*Client, error) { return NewClientWith(o, Quirks{}) }

// NewClientWith builds a client from decoded options and a vendor's quirks.
func NewClientWith(o Options, q Quirks) (*Client, error) {
	if o.BaseURL == "" {
		return nil, errors.New("base_url is required for provider openai")
	}
	u, err := url.Parse(o.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("base_url %q must be an http(s) URL", o.BaseURL)
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = config.Duration(10 * time.Second)
	}
	if o.Timeout == 0 {
		o.Timeout = config.Duration(10 * time.Minute)
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = config.Duration(2 * time.Minute)
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
		base:    strings.TrimRight(o.BaseURL, "/"),
		opts:    o,
		tr:      tr,
		http:    &http.Client{Transport: tr},
		headers: http.Header{},
		quirks:  q,
	}
	if o.APIKey != "" {
		c.authHeader, c.auth = "Authorization", "Bearer "+string(o.APIKey)
		if q.AuthHeader != "" {
			c.authHeader, c.auth = http.CanonicalHeaderKey(q.AuthHeader), string(o.APIKey)
		}
	}
	for k, v := range o.Headers {
		c.headers.Set(k, v)
	}
	return c, nil
}

// Close drops idle connections.
func (c *Client) Close() error {
	c.tr.CloseIdleConnections()
	return nil
}

// kindError carries an error kind next to the cause, so errors.Is finds both.
type kindError struct {
	kind error
	msg  string
	err  error
}

func (e *kindError) Error() string   { return e.msg + ": " + e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

// Do sends the request. For streams the returned Stream must be closed.
func (c *Client) Do(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	body := req.Body
	if c.quirks.Rewrite != nil {
		b, err := c.quirks.Rewrite(req)
		if err != nil {
			return nil, &kindError{provider.ErrInvalidRequest, "preparing upstream body", err}
		}
		body = b
	}
	u := c.base + req.Op.Path()
	if c.quirks.URL != nil {
		u = c.quirks.URL(c.base, req.Op)
	}
	return c.post(ctx, u, body, req.Stream, req.RequestID)
}

// APIResponses is the native API name of OpenAI's Responses.
const APIResponses = "openai.responses"

// NativeAPI implements provider.Native: the Responses API, when the
// deployment's upstream serves it (option responses).
func (c *Client) NativeAPI(api string) bool { return api == APIResponses && c.opts.Responses }

// DoNative implements provider.Native: the body goes to {base}/responses
// as given; a stream yields each SSE event's data payload.
func (c *Client) DoNative(ctx context.Context, req *provider.NativeRequest) (*provider.Response, error) {
	if !c.NativeAPI(req.API) || req.Path != "/responses" {
		return nil, fmt.Errorf("%w: native %s %s", provider.ErrUnsupported, req.API, req.Path)
	}
	return c.post(ctx, c.base+req.Path, req.Body, req.Stream, req.RequestID)
}

var _ provider.Native = (*Client)(nil)

// post sends body to the upstream URL u.
func (c *Client) post(ctx context.Context, u string, body []byte, isStream bool, requestID string) (*provider.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout.D())
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("building upstream request: %w", err)
	}
	hreq.ContentLength = int64(len(body))
	h := hreq.Header
	h["Content-Type"] = contentJSON
	if isStream {
		h["Accept"] = acceptSSE
	} else {
		h["Accept"] = contentJSON
	}
	if c.auth != "" {
		h[c.authHeader] = []string{c.auth}
	}
	if requestID != "" {
		h["X-Request-Id"] = []string{requestID}
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
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		return nil, &provider.StatusError{
			Status:     resp.StatusCode,
			Body:       body,
			RetryAfter: provider.ParseRetryAfter(resp.Header, time.Now()),
		}
	}
	if !isStream {
		defer cancel()
		body, err := readAll(resp)
		resp.Body.Close()
		if err != nil {
			return nil, c.classify(ctx, fmt.Errorf("reading upstream response: %w", err))
		}
		return &provider.Response{Body: body, Header: resp.Header}, nil
	}
	s := &stream{
		body:   resp.Body,
		dec:    wire.NewDecoder(resp.Body),
		cancel: cancel,
		ctx:    ctx,
		idle:   c.opts.IdleTimeout.D(),
	}
	s.timer = time.AfterFunc(s.idle, s.onIdle)
	return &provider.Response{Stream: s, Header: resp.Header}, nil
}

var (
	contentJSON = []string{"application/json"}
	acceptSSE   = []string{"text/event-stream"}
)

func readAll(resp *http.Response) ([]byte, error) {
	n := resp.ContentLength
	if n > maxResponseBytes {
		return nil, fmt.Errorf("upstream response of %d bytes is over the %d limit", n, maxResponseBytes)
	}
	if n > 0 {
		buf := make([]byte, n)
		_, err := io.ReadFull(resp.Body, buf)
		return buf, err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if len(b) > maxResponseBytes {
		return nil, fmt.Errorf("upstream response is over the %d byte limit", maxResponseBytes)
	}
	return b, err
}

// classify maps a transport error to an error kind.
func (c *Client) classify(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		return &kindError{provider.ErrTimeout, "upstream request timed out", err}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &kindError{provider.ErrTimeout, "upstream timed out", err}
	}
	if errors.Is(err, context.Canceled) {
		return err // the client went away; not the upstream's fault
	}
	return &kindError{provider.ErrUnavailable, "calling upstream", err}
}

// stream reads an upstream SSE body.
type stream struct {
	body   io.ReadCloser
	dec    *wire.Decoder
	cancel context.CancelFunc
	ctx    context.Context
	idle   time.Duration
	timer  *time.Timer

	mu        sync.Mutex
	idleFired bool
	closed    bool
}

func (s *stream) onIdle() {
	s.mu.Lock()
	s.idleFired = true
	s.mu.Unlock()
	s.cancel()
}

func (s *stream) Buffered() bool { return s.dec.Buffered() > 0 }

func (s *stream) Next() ([]byte, error) {
	ev, err := s.dec.Next()
	if err != nil {
		s.mu.Lock()
		idle := s.idleFired
		s.mu.Unlock()
		if idle {
			return nil, &kindError{provider.ErrTimeout, "upstream stream stalled", fmt.Errorf("no data for %s", s.idle)}
		}
		if err == io.EOF {
			// A clean end without [DONE]: some servers omit it. A connection
			// dropped mid-stream surfaces as io.ErrUnexpectedEOF instead.
			return nil, io.EOF
		}
		if s.ctx.Err() != nil && errors.Is(context.Cause(s.ctx), context.DeadlineExceeded) {
			return nil, &kindError{provider.ErrTimeout, "upstream request timed out", err}
		}
		return nil, err
	}
	s.timer.Reset(s.idle)
	if bytes.Equal(ev.Data, wire.Done) {
		return nil, io.EOF
	}
	return ev.Data, nil
}

func (s *stream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.timer.Stop()
	s.cancel()
	return s.body.Close()
}

// Supports implements provider.Supporter: OpenAI's API has no /classify.
func (c *Client) Supports(op provider.Op) bool { return op != provider.OpClassify }

var _ provider.Supporter = (*Client)(nil)
