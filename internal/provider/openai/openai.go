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
	"net/http"
	"strings"

	"switchyard/internal/config"
	"switchyard/internal/provider"
	"switchyard/internal/provider/upstream"
	wire "switchyard/internal/wire/openai"
)

// Kind is the registry name of this provider.
const Kind = "openai"

// Options are the deployment keys this provider understands: the
// upstream's timeouts, connections and headers, and these.
type Options struct {
	BaseURL          string          `yaml:"base_url"`
	APIKey           config.Redacted `yaml:"api_key"`
	upstream.Options `yaml:",inline"`
	// Responses says the upstream serves OpenAI's Responses API
	// (/responses) itself: Responses calls go to it natively.
	Responses bool `yaml:"responses"`
}

// Quirks adapt the client to a vendor that speaks OpenAI's API with small
// differences (vendor presets build them; the zero value is plain OpenAI).
type Quirks struct {
	// AuthHeader names the header that carries the API key as is (Azure:
	// "api-key"); "" sends "Authorization: Bearer KEY".
	AuthHeader string
	// URL builds the upstream URL of op from the base URL; nil is base+op.Path().
	URL func(base string, op provider.Op) string
	// Query is added to the query of raw calls (audio, passthrough), whose
	// URL is base+path: Azure's api-version.
	Query string
	// Rewrite returns the body to send for req (it may return req.Body
	// itself); nil sends the body as given.
	Rewrite func(req *provider.Request) ([]byte, error)
}

// Client is one OpenAI-compatible deployment.
type Client struct {
	base       string
	authHeader string
	auth       string
	opts       Options
	quirks     Quirks
	up         *upstream.Client
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
	if err := upstream.CheckBaseURL(o.BaseURL); err != nil {
		return nil, err
	}
	c := &Client{
		base:   strings.TrimRight(o.BaseURL, "/"),
		opts:   o,
		up:     upstream.New(o.Options),
		quirks: q,
	}
	if o.APIKey != "" {
		c.authHeader, c.auth = "Authorization", "Bearer "+string(o.APIKey)
		if q.AuthHeader != "" {
			c.authHeader, c.auth = http.CanonicalHeaderKey(q.AuthHeader), string(o.APIKey)
		}
	}
	return c, nil
}

// Close drops idle connections.
func (c *Client) Close() error { return c.up.Close() }

// Do sends the request. For streams the returned Stream must be closed.
func (c *Client) Do(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	body := req.Body
	if c.quirks.Rewrite != nil {
		b, err := c.quirks.Rewrite(req)
		if err != nil {
			return nil, upstream.Error(provider.ErrInvalidRequest, "preparing upstream body", err)
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
	hreq, cancel, err := c.up.NewRequest(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	h := hreq.Header
	h["Content-Type"] = contentJSON
	if isStream {
		h["Accept"] = acceptSSE
	} else {
		h["Accept"] = contentJSON
	}
	resp, err := c.send(hreq, cancel, requestID)
	if err != nil {
		return nil, err
	}
	if !isStream {
		defer cancel()
		body, err := upstream.ReadBody(resp)
		if err != nil {
			return nil, err
		}
		return &provider.Response{Body: body, Header: resp.Header}, nil
	}
	return &provider.Response{Stream: c.up.NewStream(resp, cancel, untilDone{}), Header: resp.Header}, nil
}

// send adds the credentials and request id to hreq and sends it
// (upstream.Client.Do).
func (c *Client) send(hreq *http.Request, cancel context.CancelFunc, requestID string) (*http.Response, error) {
	h := hreq.Header
	if c.auth != "" {
		h[c.authHeader] = []string{c.auth}
	}
	if requestID != "" {
		h["X-Request-Id"] = []string{requestID}
	}
	return c.up.Do(hreq, cancel)
}

var (
	contentJSON = []string{"application/json"}
	acceptSSE   = []string{"text/event-stream"}
)

// untilDone passes an OpenAI stream's payloads through up to [DONE].
type untilDone struct{}

func (untilDone) Event(data []byte) ([]byte, error) {
	if bytes.Equal(data, wire.Done) {
		return nil, io.EOF
	}
	if data == nil {
		return []byte{}, nil // an empty payload is one too
	}
	return data, nil
}

// End: a clean end without [DONE] is an end; some servers omit it.
func (untilDone) End() ([]byte, error) { return nil, io.EOF }

// Supports implements provider.Supporter: OpenAI's API has no /classify.
func (c *Client) Supports(op provider.Op) bool { return op != provider.OpClassify }

var _ provider.Supporter = (*Client)(nil)
