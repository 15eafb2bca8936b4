package openai

import (
	"context"
	"fmt"
	"net/http"
	"strings"

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
	u := c.base + req.Path
	switch q := c.quirks.Query; {
	case req.RawQuery != "" && q != "":
		u += "?" + req.RawQuery + "&" + q
	case req.RawQuery != "":
		u += "?" + req.RawQuery
	case q != "":
		u += "?" + q
	}
	method := req.Method
	if method == "" {
		method = http.MethodPost
	}
	body := req.Body
	if req.ContentLength == 0 {
		body = nil // http: no body at all, not an empty chunked one
	}
	hreq, cancel, err := c.up.NewRequest(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	hreq.ContentLength = req.ContentLength
	if body == nil {
		hreq.ContentLength = 0
	}
	h := hreq.Header
	for k, v := range req.Header {
		h[k] = v
	}
	resp, err := c.send(hreq, cancel, req.RequestID)
	if err != nil {
		return nil, err
	}
	c.up.IdleBody(resp, cancel)
	return resp, nil
}
