package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"switchyard/internal/call"
	"switchyard/internal/provider"
	"switchyard/internal/router"
	"switchyard/internal/tenancy"
	wire "switchyard/internal/wire/openai"
)

// Ingress is a client API other than OpenAI's that the gateway serves as
// a chat call: its body is translated into a chat body, the call takes
// the whole request path (keys, limits, guard, routing, metering, logs),
// and the OpenAI-shaped answer is translated back as it is written.
type Ingress interface {
	// Route names the API for the log line and metrics ("messages").
	Route() string
	// Begin starts one exchange on the client's writer.
	Begin(w http.ResponseWriter, r *http.Request) Exchange
}

// Exchange is one call's translation. The gateway writes the OpenAI
// answer (a JSON body, an SSE stream, or an OpenAI error) to it as it
// would to the client; it writes the client's API instead.
type Exchange interface {
	http.ResponseWriter
	http.Flusher
	// Request translates the client's body (valid until Close) into a
	// chat body, for the authenticated key k. An error is an API error
	// (*wire.Error) the exchange renders in its own shape. native, when
	// non-nil, lets a deployment that speaks the client's API natively
	// take the body untouched.
	Request(ctx context.Context, k *tenancy.Key, body []byte) (chat []byte, native *call.Native, err error)
	// Close ends the answer: a buffered body is translated and written.
	Close()
}

// IngressHandler serves the ingress API in over HTTP as chat calls.
func (g *Service) IngressHandler(in Ingress) http.HandlerFunc {
	route := in.Route()
	return func(w http.ResponseWriter, r *http.Request) {
		x := in.Begin(w, r)
		defer x.Close()
		c := begin(provider.OpChat, r)
		c.Route = route
		bp := bodyPool.Get().(*[]byte)
		defer bodyPool.Put(bp)
		if !g.open(w, x, r, c, bp) {
			return
		}
		var err error
		if c.Body, c.Native, err = x.Request(r.Context(), c.Key, *bp); err != nil {
			writeError(x, err)
			return
		}
		if g.Metrics != nil {
			g.Metrics.InFlight.Inc()
			defer g.Metrics.InFlight.Dec()
		}
		g.Serve(r.Context(), x, c)
	}
}

// inexpressible is an attempt skipped because the call cannot be put in
// the deployment's API: never sent, so no verdict on the deployment, and
// worth trying another one (one that speaks the client's API).
type inexpressible struct{ err error }

func (e *inexpressible) Error() string { return e.err.Error() }
func (e *inexpressible) Unwrap() []error {
	return []error{provider.ErrNotSent, provider.ErrUnavailable, e.err}
}

// nativeOnly is the answer for a call only a native deployment may serve
// when none of model m's can (or a step needs the chat form): nil when
// some deployment can.
func (o *outcome) nativeOnly(c *call.Call, m *router.Model) error {
	if c.Native == nil || c.Native.ChatErr == nil {
		return nil
	}
	if !o.guarded && o.outputs == nil {
		for _, d := range m.Deployments {
			if provider.SupportsNative(d.Provider, c.Native.API) {
				return nil
			}
		}
	}
	return c.Native.ChatErr
}

// native reports whether the attempt on d may send the client's own body:
// the deployment speaks the API, and no step needs the chat form (the
// guard left the body alone and filters no output).
func (o *outcome) native(c *call.Call, d *router.Deployment) bool {
	return c.Native != nil && !o.guarded && o.outputs == nil && provider.SupportsNative(d.Provider, c.Native.API)
}

// attemptNative is attempt for a deployment that speaks the client's API:
// the client's body goes upstream (the model renamed), and the vendor's
// answer comes back to the client's own writer untouched but for the
// model name; usage is read from it for the meter.
func (g *Service) attemptNative(ctx context.Context, c *call.Call, req *call.Request, d *router.Deployment, bp *[]byte, o *outcome) (bool, error) {
	n := c.Native
	body := n.Body
	f, err := wire.Scan(body)
	if err != nil {
		return false, fmt.Errorf("%w: native body: %w", provider.ErrInvalidRequest, err)
	}
	if d.Upstream != req.Model && f.Model.Present() {
		*bp = wire.AppendReplaced((*bp)[:0], body, f.Model, d.Upstream)
		body = *bp
	}
	np := d.Provider.(provider.Native)
	sent := time.Now()
	resp, err := np.DoNative(ctx, &provider.NativeRequest{API: n.API, Path: n.Path, Body: body, Stream: req.Stream,
		RequestID: c.RequestID, Header: n.Header})
	if err != nil {
		return false, err
	}
	w := n.W
	h := w.Header()
	h[HeaderDeployment] = []string{d.ID}
	if !req.Stream {
		o.ttft = time.Since(sent)
		out := resp.Body
		if f, err := wire.Scan(out); err == nil {
			if f.Model.Present() && d.Upstream != req.Model {
				out = wire.AppendReplaced(make([]byte, 0, len(out)+len(req.Model)), out, f.Model, req.Model)
			}
		}
		if n.Usage != nil {
			o.usage, o.hasUsage = n.Usage(out)
		}
		h["Content-Type"] = contentJSON
		h["Content-Length"] = []string{strconv.Itoa(len(out))}
		w.WriteHeader(http.StatusOK)
		w.Write(out)
		o.response = out
		return true, nil
	}
	s := resp.Stream
	defer s.Close()
	first, err := firstEvent(ctx, s)
	if err != nil {
		return false, err
	}
	if n.EventErr != nil {
		if err := n.EventErr(first); err != nil {
			return false, err // nothing reached the client: worth another deployment
		}
	}
	o.ttft = time.Since(sent)
	h["Content-Type"] = contentSSE
	h["Cache-Control"] = noCache
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	data := first
	for {
		if n.Usage != nil {
			if u, ok := n.Usage(data); ok {
				o.usage, o.hasUsage = u, true
			}
		}
		if o.generated != nil && n.Text != nil {
			*o.generated = n.Text(*o.generated, data)
		}
		out := (*buf)[:0]
		if d.Upstream != req.Model {
			if m := wire.Member(data, wire.Span{End: len(data)}, "message"); m.Present() && data[m.Start] == '{' {
				// message_start carries the model inside "message".
				if ms := wire.Member(data, m, "model"); ms.Present() {
					data = wire.AppendReplaced(make([]byte, 0, len(data)+len(req.Model)), data, ms, req.Model)
				}
			}
		}
		out = n.Frame(out, data)
		*buf = out
		if _, err := w.Write(out); err != nil {
			return true, err
		}
		if n.EventErr != nil {
			if err := n.EventErr(data); err != nil { // relayed as sent; the call failed
				if flusher != nil {
					flusher.Flush()
				}
				var se *provider.StatusError
				o.status, o.err = http.StatusBadGateway, err
				if errors.As(err, &se) {
					o.status = se.Status
				}
				return true, err
			}
		}
		if !s.Buffered() && flusher != nil {
			flusher.Flush()
		}
		data, err = s.Next()
		if err == io.EOF {
			if flusher != nil {
				flusher.Flush()
			}
			return true, nil
		}
		if err != nil {
			if ctx.Err() == nil {
				e := errorOf(upstreamError(ctx, err, d.ID), "")
				w.Write(n.StreamError(nil, e.Status, e.Marshal()))
				if flusher != nil {
					flusher.Flush()
				}
				o.status, o.err = e.Status, err
			}
			return true, err
		}
	}
}
