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
	"net/http"
	"net/url"
	"strings"
	"time"

	"switchyard/internal/config"
	"switchyard/internal/provider"
	"switchyard/internal/provider/upstream"
)

// Kind is the registry name of this provider.
const Kind = "gemini"

// Options are the deployment keys this provider understands: the
// upstream's timeouts, connections and headers, and these.
type Options struct {
	BaseURL          string          `yaml:"base_url"`    // default https://generativelanguage.googleapis.com
	APIKey           config.Redacted `yaml:"api_key"`     // sent as x-goog-api-key
	APIVersion       string          `yaml:"api_version"` // default v1beta
	upstream.Options `yaml:",inline"`
}

// Client is one Gemini deployment.
type Client struct {
	base string // BaseURL/APIVersion
	key  string
	up   *upstream.Client
	now  func() time.Time
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
	if err := upstream.CheckBaseURL(o.BaseURL); err != nil {
		return nil, err
	}
	if o.APIVersion == "" {
		o.APIVersion = "v1beta"
	}
	if strings.ContainsAny(o.APIVersion, "/?#") {
		return nil, fmt.Errorf("api_version %q must be a version such as v1beta", o.APIVersion)
	}
	return &Client{
		base: strings.TrimRight(o.BaseURL, "/") + "/" + o.APIVersion,
		key:  string(o.APIKey),
		up:   upstream.New(o.Options),
		now:  time.Now,
	}, nil
}

// Close drops idle connections.
func (c *Client) Close() error { return c.up.Close() }

// Supports implements provider.Supporter: chat and embeddings.
func (c *Client) Supports(op provider.Op) bool {
	return op == provider.OpChat || op == provider.OpEmbedding
}

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
			return nil, upstream.Error(provider.ErrUnsupported, "gemini", errors.New("embeddings do not stream"))
		}
		model, body, err = EmbedRequest(req.Body)
		method = ":batchEmbedContents"
	default:
		return nil, upstream.Error(provider.ErrUnsupported, "gemini", fmt.Errorf("operation %s", req.Op))
	}
	if err != nil {
		return nil, upstream.Error(provider.ErrInvalidRequest, "translating request for gemini", err)
	}
	hreq, cancel, err := c.up.NewRequest(ctx, http.MethodPost, c.base+"/models/"+url.PathEscape(model)+method, bytes.NewReader(body))
	if err != nil {
		return nil, err
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
	resp, err := c.up.Do(hreq, cancel)
	if err != nil {
		var se *provider.StatusError
		if errors.As(err, &se) && se.RetryAfter == 0 {
			se.RetryAfter = RetryDelay(se.Body)
		}
		return nil, err
	}
	meta := Meta{ID: "chatcmpl-" + req.RequestID, Created: c.now().Unix(), Model: model}
	if req.RequestID == "" {
		meta.ID = "chatcmpl-gemini"
	}
	if !req.Stream {
		defer cancel()
		rb, err := upstream.ReadBody(resp)
		if err != nil {
			return nil, err
		}
		var out []byte
		if req.Op == provider.OpEmbedding {
			out, err = EmbedResponse(rb, model)
		} else {
			out, err = ChatResponse(rb, meta)
		}
		if err != nil {
			return nil, upstream.Error(provider.ErrUnavailable, "translating gemini response", err)
		}
		return &provider.Response{Body: out, Header: resp.Header}, nil
	}
	s := c.up.NewStream(resp, cancel, chatStream{NewStreamer(meta)})
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

// chatStream translates Gemini's stream events into OpenAI chunk payloads;
// the usage chunk goes out at the end.
type chatStream struct{ tr *Streamer }

func (t chatStream) Event(data []byte) ([]byte, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	out, err := t.tr.Event(data)
	if err != nil {
		return nil, upstream.Error(provider.ErrUnavailable, "translating gemini stream", err)
	}
	return out, nil
}

func (t chatStream) End() ([]byte, error) { return t.tr.Usage(), io.EOF }
