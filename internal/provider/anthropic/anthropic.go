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
	"net/http"
	"strings"

	"switchyard/internal/config"
	"switchyard/internal/provider"
	"switchyard/internal/provider/upstream"
	wire "switchyard/internal/wire/anthropic"
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

// Options are the deployment keys this provider understands: the
// upstream's timeouts, connections and headers, and these.
type Options struct {
	BaseURL          string          `yaml:"base_url"`          // without /v1 (a trailing /v1 is accepted)
	APIKey           config.Redacted `yaml:"api_key"`           // sent as x-api-key
	AnthropicVersion string          `yaml:"anthropic_version"` // anthropic-version header
	Beta             []string        `yaml:"beta"`              // anthropic-beta header, comma-joined
	upstream.Options `yaml:",inline"`
}

// Client is one Anthropic deployment.
type Client struct {
	base    string // ends in /v1
	key     string
	version string
	beta    string
	up      *upstream.Client
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
	if err := upstream.CheckBaseURL(o.BaseURL); err != nil {
		return nil, err
	}
	if o.AnthropicVersion == "" {
		o.AnthropicVersion = DefaultVersion
	}
	for i, b := range o.Beta {
		if strings.TrimSpace(b) == "" || strings.ContainsAny(b, ",\r\n") {
			return nil, fmt.Errorf("beta[%d] %q must be one beta name", i, b)
		}
	}
	base := strings.TrimRight(o.BaseURL, "/")
	if !strings.HasSuffix(base, "/v1") {
		base += "/v1"
	}
	return &Client{
		base:    base,
		key:     string(o.APIKey),
		version: o.AnthropicVersion,
		beta:    strings.Join(o.Beta, ","),
		up:      upstream.New(o.Options),
	}, nil
}

// Close drops idle connections.
func (c *Client) Close() error { return c.up.Close() }

// Supports implements provider.Supporter: only chat translates to Messages.
func (c *Client) Supports(op provider.Op) bool { return op == provider.OpChat }

// NativeAPI implements provider.Native.
func (c *Client) NativeAPI(api string) bool { return api == NativeAPI }

// Do serves provider.OpChat: the OpenAI body is translated to a Messages
// request and the answer (or stream) back to OpenAI's shape.
func (c *Client) Do(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	if req.Op != provider.OpChat {
		return nil, fmt.Errorf("%s: %w", req.Op, provider.ErrUnsupported)
	}
	body, err := wire.FromChatRequest(req.Body)
	if err != nil {
		return nil, upstream.Error(provider.ErrInvalidRequest, "translating the request for anthropic", err)
	}
	var tr upstream.Translator
	if req.Stream {
		tr = chatStream{wire.NewChatStream()}
	}
	resp, err := c.post(ctx, "/messages", body, req.RequestID, nil, req.Stream, tr)
	if err != nil || req.Stream {
		return resp, err
	}
	if resp.Body, err = wire.ToChatResponse(resp.Body); err != nil {
		return nil, upstream.Error(provider.ErrUnavailable, "translating the anthropic answer", err)
	}
	return resp, nil
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
	return c.post(ctx, req.Path, req.Body, req.RequestID, req.Header, req.Stream, nil)
}

var (
	contentJSON = []string{"application/json"}
	acceptSSE   = []string{"text/event-stream"}
)

// post sends body, with the Anthropic headers of client (the caller's
// request) over the deployment's, and returns the answer's body, or for a
// stream its events through tr; any non-2xx status is a
// *provider.StatusError.
func (c *Client) post(ctx context.Context, path string, body []byte, reqID string, client http.Header, stream bool, tr upstream.Translator) (*provider.Response, error) {
	hreq, cancel, err := c.up.NewRequest(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
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
		// The client's betas (coding agents always send some) join the
		// deployment's configured ones rather than replace them.
		all := append([]string{}, v...)
		if c.beta != "" {
			all = append([]string{c.beta}, all...)
		}
		h["Anthropic-Beta"] = []string{strings.Join(all, ",")}
	}
	if reqID != "" {
		h["X-Request-Id"] = []string{reqID}
	}
	resp, err := c.up.Do(hreq, cancel)
	if err != nil {
		return nil, err
	}
	if stream {
		return &provider.Response{Stream: c.up.NewStream(resp, cancel, tr), Header: resp.Header}, nil
	}
	defer cancel()
	b, err := upstream.ReadBody(resp)
	if err != nil {
		return nil, err
	}
	return &provider.Response{Body: b, Header: resp.Header}, nil
}

// chatStream translates an Anthropic stream's events into OpenAI chunk
// payloads, up to message_stop.
type chatStream struct{ chat *wire.ChatStream }

func (t chatStream) Event(data []byte) ([]byte, error) {
	chunk, err := t.chat.Event(data)
	if err != nil {
		var e *wire.Error
		if errors.As(err, &e) && e.Status != 502 {
			// An error event from Anthropic mid-stream.
			return nil, &provider.StatusError{Status: e.Status, Body: e.Body()}
		}
		return nil, upstream.Error(provider.ErrUnavailable, "translating the anthropic stream", err)
	}
	if t.chat.Done() {
		return chunk, io.EOF
	}
	return chunk, nil
}

// End: a translated stream must end with message_stop.
func (chatStream) End() ([]byte, error) {
	return nil, upstream.Error(provider.ErrUnavailable, "anthropic stream", io.ErrUnexpectedEOF)
}
