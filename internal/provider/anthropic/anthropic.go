// Package anthropic is the provider kind "anthropic": Anthropic's Messages
// API. OpenAI-shaped chat calls are translated with internal/wire/anthropic
// (requests, answers and streams); calls in Anthropic's own API
// ("anthropic.messages") go upstream byte for byte through DoNative.
package anthropic

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
	wire "switchyard/internal/wire/anthropic"
	sse "switchyard/internal/wire/openai"
)

// Kind is the registry name of this provider.
const Kind = "anthropic"

// NativeAPI is the vendor API this provider serves natively.
const NativeAPI = "anthropic.messages"

// Defaults for the options.
const (
	DefaultBaseURL = "https://api.anthropic.com"
	DefaultVersion = "2023-06-01"
)

// Options are the deployment keys this provider understands.
type Options struct {
	BaseURL          string            `yaml:"base_url"`           // without /v1 (a trailing /v1 is accepted)
	APIKey           config.Redacted   `yaml:"api_key"`            // sent as x-api-key
	AnthropicVersion string            `yaml:"anthropic_version"`  // anthropic-version header
	Beta             []string          `yaml:"beta"`               // anthropic-beta header, comma-joined
	Timeout          config.Duration   `yaml:"timeout"`            // whole request, including the stream
	ConnectTimeout   config.Duration   `yaml:"connect_timeout"`    // TCP+TLS
	FirstByteTimeout config.Duration   `yaml:"first_byte_timeout"` // until response headers
	IdleTimeout      config.Duration   `yaml:"idle_timeout"`       // longest gap between stream events
	Headers          map[string]string `yaml:"headers"`            // extra headers sent upstream
	MaxConns         int               `yaml:"max_conns"`          // per deployment; 0 = unlimited
}

const maxResponseBytes = 64 << 20

// Client is one Anthropic deployment.
type Client struct {
	base    string // ends in /v1
	key     string
	version string
	beta    string
	headers http.Header
	opts    Options
	http    *http.Client
	tr      *http.Transport
}

var (
	_ provider.Provider  = (*Client)(nil)
	_ provider.Supporter = (*Client)(nil)
	_ provider.Native    = (*Client)(nil)
)

// New is the provider factory.
func New(d provider.Deployment) (provider.Provider, error) {
	var o Options
	if err := d.Options.Decode(&o); err != nil {
		return nil, err
	}
	return NewClient(o)
}

// NewClient builds a client from decoded options.
func NewClient(o Options) (*Client, error) {
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(o.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("base_url %q must be an http(s) URL", o.BaseURL)
	}
	if o.AnthropicVersion == "" {
		o.AnthropicVersion = DefaultVersion
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
	for i, b := range o.Beta {
		if strings.TrimSpace(b) == "" || strings.ContainsAny(b, ",\r\n") {
			return nil, fmt.Errorf("beta[%d] %q must be one beta name", i, b)
		}
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
	base := strings.TrimRight(o.BaseURL, "/")
	if !strings.HasSuffix(base, "/v1") {
		base += "/v1"
	}
	c := &Client{
		base:    base,
		key:     string(o.APIKey),
		version: o.AnthropicVersion,
		beta:    strings.Join(o.Beta, ","),
		opts:    o,
		tr:      tr,
		http:    &http.Client{Transport: tr},
		headers: http.Header{},
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

// Supports implements provider.Supporter: only chat translates to Messages.
func (c *Client) Supports(op provider.Op) bool { return op == provider.OpChat }

// NativeAPI implements provider.Native.
func (c *Client) NativeAPI(api string) bool { return api == NativeAPI }

// kindError carries an error kind next to the cause, so errors.Is finds both.
type kindError struct {
	kind error
	msg  string
	err  error
}

func (e *kindError) Error() string   { return e.msg + ": " + e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

// Do serves provider.OpChat: the OpenAI body is translated to a Messages
// request and the answer (or stream) back to OpenAI's shape.
func (c *Client) Do(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	if req.Op != provider.OpChat {
		return nil, fmt.Errorf("%s: %w", req.Op, provider.ErrUnsupported)
	}
	body, err := wire.FromChatRequest(req.Body)
	if err != nil {
		return nil, &kindError{provider.ErrInvalidRequest, "translating the request for anthropic", err}
	}
	resp, cancel, err := c.post(ctx, "/messages", body, req.Stream, req.RequestID, nil)
	if err != nil {
		return nil, err
	}
	if !req.Stream {
		defer cancel()
		b, err := readAll(resp)
		resp.Body.Close()
		if err != nil {
			return nil, c.classify(ctx, fmt.Errorf("reading upstream response: %w", err))
		}
		out, err := wire.ToChatResponse(b)
		if err != nil {
			return nil, &kindError{provider.ErrUnavailable, "translating the anthropic answer", err}
		}
		return &provider.Response{Body: out, Header: resp.Header}, nil
	}
	s := c.newStream(ctx, resp, cancel)
	s.chat = wire.NewChatStream()
	return &provider.Response{Stream: s, Header: resp.Header}, nil
}

// DoNative sends a body of Anthropic's API upstream unchanged, to
// {base}/v1 + req.Path, and returns the answer as sent: a body, or a
// Stream of every event's data payload (frame them with
// wire.AppendEvent).
func (c *Client) DoNative(ctx context.Context, req *provider.NativeRequest) (*provider.Response, error) {
	if req.API != NativeAPI {
		return nil, fmt.Errorf("native API %q: %w", req.API, provider.ErrUnsupported)
	}
	if req.Path != "/messages" && req.Path != "/messages/count_tokens" {
		return nil, fmt.Errorf("anthropic path %q: %w", req.Path, provider.ErrUnsupported)
	}
	resp, cancel, err := c.post(ctx, req.Path, req.Body, req.Stream, req.RequestID, req.Header)
	if err != nil {
		return nil, err
	}
	if !req.Stream {
		defer cancel()
		b, err := readAll(resp)
		resp.Body.Close()
		if err != nil {
			return nil, c.classify(ctx, fmt.Errorf("reading upstream response: %w", err))
		}
		return &provider.Response{Body: b, Header: resp.Header}, nil
	}
	return &provider.Response{Stream: c.newStream(ctx, resp, cancel), Header: resp.Header}, nil
}

var (
	contentJSON = []string{"application/json"}
	acceptSSE   = []string{"text/event-stream"}
)

// post sends body and returns a 2xx response with the cancel func of its
// context; any other status is a *provider.StatusError.
func (c *Client) post(ctx context.Context, path string, body []byte, stream bool, reqID string, client http.Header) (*http.Response, context.CancelFunc, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout.D())
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("building upstream request: %w", err)
	}
	hreq.ContentLength = int64(len(body))
	h := hreq.Header
	h["Content-Type"] = contentJSON
	if stream {
		h["Accept"] = acceptSSE
	} else {
		h["Accept"] = contentJSON
	}
	if c.key != "" {
		h["X-Api-Key"] = []string{c.key}
	}
	h["Anthropic-Version"] = []string{c.version}
	if c.beta != "" {
		h["Anthropic-Beta"] = []string{c.beta}
	}
	if v := client.Get("Anthropic-Version"); v != "" {
		h["Anthropic-Version"] = []string{v}
	}
	if v := client.Values("Anthropic-Beta"); len(v) > 0 {
		h["Anthropic-Beta"] = []string{strings.Join(v, ",")}
	}
	if reqID != "" {
		h["X-Request-Id"] = []string{reqID}
	}
	for k, v := range c.headers {
		h[k] = v
	}
	resp, err := c.http.Do(hreq)
	if err != nil {
		cancel()
		return nil, nil, c.classify(ctx, err)
	}
	if resp.StatusCode/100 != 2 {
		defer cancel()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		return nil, nil, &provider.StatusError{
			Status:     resp.StatusCode,
			Body:       b,
			RetryAfter: provider.ParseRetryAfter(resp.Header, time.Now()),
		}
	}
	return resp, cancel, nil
}

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

func (c *Client) newStream(ctx context.Context, resp *http.Response, cancel context.CancelFunc) *stream {
	s := &stream{
		body:   resp.Body,
		dec:    sse.NewDecoder(resp.Body),
		cancel: cancel,
		ctx:    ctx,
		idle:   c.opts.IdleTimeout.D(),
	}
	s.timer = time.AfterFunc(s.idle, s.onIdle)
	return s
}

// stream reads an Anthropic SSE body. With chat set, events are
// translated into OpenAI chunk payloads; without, each event's data is
// returned as sent.
type stream struct {
	body   io.ReadCloser
	dec    *sse.Decoder
	cancel context.CancelFunc
	ctx    context.Context
	idle   time.Duration
	timer  *time.Timer
	chat   *wire.ChatStream
	done   bool // message_stop seen (translated streams)

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
	for {
		if s.done {
			return nil, io.EOF
		}
		data, err := s.event()
		if err != nil {
			return nil, err
		}
		if s.chat == nil {
			return data, nil
		}
		chunk, err := s.chat.Event(data)
		if err != nil {
			var e *wire.Error
			if errors.As(err, &e) && e.Status != 502 {
				// An error event from Anthropic mid-stream.
				return nil, &provider.StatusError{Status: e.Status, Body: e.Body()}
			}
			return nil, &kindError{provider.ErrUnavailable, "translating the anthropic stream", err}
		}
		s.done = s.chat.Done()
		if chunk != nil {
			return chunk, nil
		}
	}
}

// event returns the next event's data payload.
func (s *stream) event() ([]byte, error) {
	ev, err := s.dec.Next()
	if err != nil {
		s.mu.Lock()
		idle := s.idleFired
		s.mu.Unlock()
		if idle {
			return nil, &kindError{provider.ErrTimeout, "upstream stream stalled", fmt.Errorf("no data for %s", s.idle)}
		}
		if err == io.EOF {
			if s.chat != nil {
				// A translated stream must end with message_stop.
				return nil, &kindError{provider.ErrUnavailable, "anthropic stream", io.ErrUnexpectedEOF}
			}
			return nil, io.EOF
		}
		if s.ctx.Err() != nil && errors.Is(context.Cause(s.ctx), context.DeadlineExceeded) {
			return nil, &kindError{provider.ErrTimeout, "upstream request timed out", err}
		}
		return nil, err
	}
	s.timer.Reset(s.idle)
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
