// Package gemini is the provider kind "gemini": Google's Gemini API
// (generativelanguage.googleapis.com) spoken natively. OpenAI-shaped chat
// and embeddings bodies are translated (translate.go) into generateContent,
// streamGenerateContent?alt=sse and batchEmbedContents calls, and the
// answers back into OpenAI's shapes.
package gemini

import (
	"bytes"
	"context"
	"encoding/json"
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
const Kind = "gemini"

// Options are the deployment keys this provider understands.
type Options struct {
	BaseURL          string            `yaml:"base_url"`    // default https://generativelanguage.googleapis.com
	APIKey           config.Redacted   `yaml:"api_key"`     // sent as x-goog-api-key
	APIVersion       string            `yaml:"api_version"` // default v1beta
	Timeout          config.Duration   `yaml:"timeout"`
	ConnectTimeout   config.Duration   `yaml:"connect_timeout"`
	FirstByteTimeout config.Duration   `yaml:"first_byte_timeout"`
	IdleTimeout      config.Duration   `yaml:"idle_timeout"`
	Headers          map[string]string `yaml:"headers"`
	MaxConns         int               `yaml:"max_conns"`
}

const maxResponseBytes = 64 << 20

// Client is one Gemini deployment.
type Client struct {
	base    string // BaseURL/APIVersion
	key     string
	headers http.Header
	opts    Options
	http    *http.Client
	tr      *http.Transport
	now     func() time.Time
}

var (
	_ provider.Provider  = (*Client)(nil)
	_ provider.Supporter = (*Client)(nil)
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
		o.BaseURL = "https://generativelanguage.googleapis.com"
	}
	u, err := url.Parse(o.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("base_url %q must be an http(s) URL", o.BaseURL)
	}
	if o.APIVersion == "" {
		o.APIVersion = "v1beta"
	}
	if strings.ContainsAny(o.APIVersion, "/?#") {
		return nil, fmt.Errorf("api_version %q must be a version such as v1beta", o.APIVersion)
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
	}
	c := &Client{
		base:    strings.TrimRight(o.BaseURL, "/") + "/" + o.APIVersion,
		key:     string(o.APIKey),
		headers: http.Header{},
		opts:    o,
		tr:      tr,
		http:    &http.Client{Transport: tr},
		now:     time.Now,
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

// Supports implements provider.Supporter: chat and embeddings.
func (c *Client) Supports(op provider.Op) bool {
	return op == provider.OpChat || op == provider.OpEmbedding
}

// kindError carries an error kind next to the cause.
type kindError struct {
	kind error
	msg  string
	err  error
}

func (e *kindError) Error() string   { return e.msg + ": " + e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

// Do translates and sends the request. For streams the Stream must be closed.
func (c *Client) Do(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	var (
		model, method string
		body          []byte
		err           error
	)
	switch req.Op {
	case provider.OpChat:
		model, body, err = ChatRequest(req.Body)
		method = ":generateContent"
		if req.Stream {
			method = ":streamGenerateContent?alt=sse"
		}
	case provider.OpEmbedding:
		if req.Stream {
			return nil, &kindError{provider.ErrUnsupported, "gemini", errors.New("embeddings do not stream")}
		}
		model, body, err = EmbedRequest(req.Body)
		method = ":batchEmbedContents"
	default:
		return nil, &kindError{provider.ErrUnsupported, "gemini", fmt.Errorf("operation %s", req.Op)}
	}
	if err != nil {
		return nil, &kindError{provider.ErrInvalidRequest, "translating request for gemini", err}
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout.D())
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/models/"+url.PathEscape(model)+method, bytes.NewReader(body))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("building upstream request: %w", err)
	}
	h := hreq.Header
	h.Set("Content-Type", "application/json")
	if req.Stream {
		h.Set("Accept", "text/event-stream")
	}
	if c.key != "" {
		h.Set("X-Goog-Api-Key", c.key)
	}
	if req.RequestID != "" {
		h.Set("X-Request-Id", req.RequestID)
	}
	for k, v := range c.headers {
		h[k] = v
	}
	resp, err := c.http.Do(hreq)
	if err != nil {
		cancel()
		return nil, classify(ctx, err)
	}
	if resp.StatusCode/100 != 2 {
		defer cancel()
		eb, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		ra := provider.ParseRetryAfter(resp.Header, c.now())
		if ra == 0 {
			ra = RetryDelay(eb)
		}
		return nil, &provider.StatusError{Status: resp.StatusCode, Body: eb, RetryAfter: ra}
	}
	meta := Meta{ID: "chatcmpl-" + req.RequestID, Created: c.now().Unix(), Model: model}
	if req.RequestID == "" {
		meta.ID = "chatcmpl-gemini"
	}
	if !req.Stream {
		defer cancel()
		rb, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
		resp.Body.Close()
		if err == nil && len(rb) > maxResponseBytes {
			err = fmt.Errorf("upstream response is over the %d byte limit", maxResponseBytes)
		}
		if err != nil {
			return nil, classify(ctx, fmt.Errorf("reading upstream response: %w", err))
		}
		var out []byte
		if req.Op == provider.OpEmbedding {
			out, err = EmbedResponse(rb, model)
		} else {
			out, err = ChatResponse(rb, meta)
		}
		if err != nil {
			return nil, &kindError{provider.ErrUnavailable, "translating gemini response", err}
		}
		return &provider.Response{Body: out, Header: resp.Header}, nil
	}
	s := &stream{
		body:   resp.Body,
		dec:    wire.NewDecoder(resp.Body),
		tr:     NewStreamer(meta),
		cancel: cancel,
		ctx:    ctx,
		idle:   c.opts.IdleTimeout.D(),
	}
	s.timer = time.AfterFunc(s.idle, s.onIdle)
	return &provider.Response{Stream: s, Header: resp.Header}, nil
}

// RetryDelay reads the wait a Google error body asks for: the retryDelay
// ("22s") of a google.rpc.RetryInfo in error.details; 0 when none.
func RetryDelay(body []byte) time.Duration {
	var e struct {
		Error struct {
			Details []struct {
				Type       string `json:"@type"`
				RetryDelay string `json:"retryDelay"`
			} `json:"details"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return 0
	}
	for _, d := range e.Error.Details {
		if strings.HasSuffix(d.Type, "google.rpc.RetryInfo") {
			if v, err := time.ParseDuration(d.RetryDelay); err == nil && v > 0 {
				return v
			}
		}
	}
	return 0
}

func classify(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		return &kindError{provider.ErrTimeout, "upstream request timed out", err}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &kindError{provider.ErrTimeout, "upstream timed out", err}
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return &kindError{provider.ErrUnavailable, "calling upstream", err}
}

// stream reads Gemini's SSE body and yields OpenAI chunk payloads.
type stream struct {
	body   io.ReadCloser
	dec    *wire.Decoder
	tr     *Streamer
	cancel context.CancelFunc
	ctx    context.Context
	idle   time.Duration
	timer  *time.Timer
	done   bool // the usage chunk went out

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
		ev, err := s.dec.Next()
		if err != nil {
			s.mu.Lock()
			idle := s.idleFired
			s.mu.Unlock()
			if idle {
				return nil, &kindError{provider.ErrTimeout, "upstream stream stalled", fmt.Errorf("no data for %s", s.idle)}
			}
			if err == io.EOF {
				if !s.done {
					s.done = true
					if u := s.tr.Usage(); u != nil {
						return u, nil
					}
				}
				return nil, io.EOF
			}
			if s.ctx.Err() != nil && errors.Is(context.Cause(s.ctx), context.DeadlineExceeded) {
				return nil, &kindError{provider.ErrTimeout, "upstream request timed out", err}
			}
			return nil, err
		}
		s.timer.Reset(s.idle)
		if len(bytes.TrimSpace(ev.Data)) == 0 {
			continue
		}
		out, err := s.tr.Event(ev.Data)
		if err != nil {
			return nil, &kindError{provider.ErrUnavailable, "translating gemini stream", err}
		}
		if out != nil {
			return out, nil
		}
	}
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
