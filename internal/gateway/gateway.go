// Package gateway is the request path of Switchyard: validate the body,
// find the model, route to a deployment (retries, fallbacks, breaker),
// call the provider, and relay the answer — stream or not — with the
// public model name, while recording metrics and one log line.
//
// Serve shows the whole path in one function; each step is a plain call.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"switchyard/internal/obs"
	"switchyard/internal/provider"
	"switchyard/internal/router"
	"switchyard/internal/tenancy"
	wire "switchyard/internal/wire/openai"
)

// Service is the gateway. It is safe for concurrent use.
type Service struct {
	Router     *router.Router
	Metrics    *obs.Metrics
	Log        *slog.Logger
	LogPrompts bool
	// Admit, when set, decides whether a call may go (model access, rate
	// limits, budgets) and accounts for it afterwards (metering).
	Admit Admitter
	// Guard, when set, inspects the input before routing (and may refuse
	// or rewrite it) and rewrites the generated text on the way back.
	Guard Guard
}

// Guard inspects a call's input and output.
type Guard interface {
	// Input may refuse the call (a *wire.Error), or return a changed body
	// (nil: unchanged) and a maker of output filters, one per choice
	// (nil: the answer passes untouched).
	Input(ctx context.Context, c *Call, r *Request) (body []byte, out func() Output, err error)
}

// Output rewrites one choice's generated text as it streams.
type Output interface {
	// Text takes the next piece of text and returns what may be released
	// now; it may hold some back.
	Text(s string) string
	// Flush returns what is still held at the end.
	Flush() string
}

// Admitter decides, before routing, whether a call may go.
type Admitter interface {
	// Admit returns a Ticket for an admitted call or an error (a
	// *wire.Error, typically 403 or 429) for a refused one.
	Admit(ctx context.Context, c *Call, r *Request) (Ticket, error)
}

// Request is what the gateway learned from the body, for the Admitter.
type Request struct {
	Model  string
	Body   []byte
	Fields wire.Fields
	Stream bool
}

// Ticket follows an admitted call.
type Ticket interface {
	// Header adds the rate-limit headers to the response.
	Header(h http.Header)
	// Route admits an attempt on deployment d (per-deployment limits); the
	// returned release is called when the attempt ends. An error wrapping
	// provider.ErrRateLimited lets the router try another deployment.
	Route(ctx context.Context, d *router.Deployment) (release func(), err error)
	// Done accounts for the finished call. It is called exactly once.
	Done(r *Result)
	// WantUsage reports whether the gateway should ask a streaming upstream
	// for a usage chunk when the client did not.
	WantUsage() bool
}

// Result is a finished call as the Ticket sees it.
type Result struct {
	Model, Deployment string
	Status            int
	Stream            bool
	Usage             Usage
	// UsageReported is false when the upstream sent no usage (an abandoned
	// or failed stream): Generated then holds the text streamed so far.
	UsageReported bool
	Generated     []byte
	Latency       time.Duration
	// Request is the body as sent upstream (after the guard) and Response
	// the body the client got (non-streamed answers only); both valid only
	// during Done.
	Request, Response []byte
}

// Usage is the token count an upstream reported.
type Usage struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	PromptDetails    struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
}

// Call is one API request as the handlers hand it over.
type Call struct {
	Op        provider.Op
	Body      []byte // the client's body; valid until Serve returns
	RequestID string
	Key       *tenancy.Key
	Start     time.Time
	Tags      string // the x-switchyard-tags header, for request logs
}

// Headers the gateway sets on every proxied answer.
const (
	HeaderRequestID  = "X-Request-Id"
	HeaderDeployment = "X-Switchyard-Deployment"
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// outcome is what Serve learned, for the log line and metrics.
type outcome struct {
	model, deployment string
	status            int
	usage             Usage
	hasUsage          bool
	stream            bool
	attempts          int
	ttft              time.Duration
	ticket            Ticket
	generated         *[]byte  // streamed text as the client saw it, kept only while a ticket wants it
	outputs           *outputs // the guard's output filters, if any
	request, response []byte   // for the ticket: the body sent upstream, the body the client got
}

// Serve runs the request path for c and writes the answer to w.
func (g *Service) Serve(ctx context.Context, w http.ResponseWriter, c *Call) {
	o := outcome{status: http.StatusOK}
	defer g.finish(c, &o)

	// 1. Validate the body and find what we act on.
	f, model, stream, err := validate(c.Op, c.Body)
	if err != nil {
		o.status = writeError(w, err)
		return
	}
	o.model, o.stream = model, stream
	if _, ok := g.Router.Catalog().Model(model); !ok {
		o.status = writeError(w, wire.NewError(http.StatusNotFound, wire.TypeNotFound, "model_not_found", "model",
			"The model `"+model+"` does not exist or you do not have access to it."))
		return
	}

	// 2. Admit: model access, rate limits, budgets.
	src := c.Body
	stripUsage := false
	if g.Admit != nil {
		t, err := g.Admit.Admit(ctx, c, &Request{Model: model, Body: c.Body, Fields: f, Stream: stream})
		if err != nil {
			o.status = writeError(w, err)
			return
		}
		o.ticket = t
		t.Header(w.Header())
		if stream && c.Op != provider.OpEmbedding && t.WantUsage() {
			if b, ok := askUsage(c.Body, f); ok {
				src, stripUsage = b, true
				if f, err = wire.Scan(src); err != nil {
					src, stripUsage = c.Body, false
				}
			}
			gp := genPool.Get().(*[]byte)
			*gp = (*gp)[:0]
			o.generated = gp
			defer genPool.Put(gp)
		}
	}

	// 3. Guard: may refuse the input, rewrite it, and filter the output.
	if g.Guard != nil {
		body, out, err := g.Guard.Input(ctx, c, &Request{Model: model, Body: src, Fields: f, Stream: stream})
		if err != nil {
			o.status = writeError(w, err)
			return
		}
		if body != nil {
			if nf, err := wire.Scan(body); err == nil {
				src, f = body, nf
			}
		}
		if out != nil {
			o.outputs = &outputs{make: out}
		}
	}

	o.request = src

	// 4. Route: each attempt renames the model for its deployment and relays.
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	res, err := g.Router.Do(ctx, model, func(ctx context.Context, d *router.Deployment) (bool, error) {
		if o.ticket != nil {
			release, err := o.ticket.Route(ctx, d)
			if err != nil {
				return false, err
			}
			defer release()
		}
		body := src
		if d.Upstream != model {
			*bp = wire.AppendReplaced((*bp)[:0], src, f.Model, d.Upstream)
			body = *bp
		}
		o.deployment = d.ID
		sent := time.Now()
		resp, err := d.Provider.Do(ctx, &provider.Request{Op: c.Op, Body: body, Stream: stream, RequestID: c.RequestID})
		if err != nil {
			return false, err
		}
		if stream {
			return g.relayStream(ctx, w, c, d, resp.Stream, model, sent, stripUsage, &o)
		}
		o.ttft = time.Since(sent)
		o.response = g.relayBody(w, c, d, resp.Body, model, &o)
		return true, nil
	})
	o.attempts = res.Attempts
	if res.Deployment != nil {
		o.deployment = res.Deployment.ID
	}
	if err != nil && !o.committed() {
		o.status = writeError(w, upstreamError(ctx, err))
	} else if err != nil && o.status == http.StatusOK && ctx.Err() != nil {
		o.status = 499 // client closed the stream
	}
}

func (o *outcome) committed() bool { return o.status != http.StatusOK || o.ttft > 0 }

// relayBody writes a non-streamed answer with the public model name.
func (g *Service) relayBody(w http.ResponseWriter, c *Call, d *router.Deployment, body []byte, model string, o *outcome) []byte {
	if f, err := wire.Scan(body); err == nil {
		o.usage, o.hasUsage = parseUsage(body, f.Usage) // before the splice moves the spans
		if f.Model.Present() && d.Upstream != model {
			body = wire.AppendReplaced(make([]byte, 0, len(body)+len(model)), body, f.Model, model)
		}
		if o.outputs != nil {
			body = o.outputs.body(body)
		}
	}
	h := w.Header()
	h["Content-Type"] = contentJSON
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	h[HeaderDeployment] = []string{d.ID}
	w.WriteHeader(http.StatusOK)
	w.Write(body)
	return body
}

var (
	contentJSON = []string{"application/json"}
	contentSSE  = []string{"text/event-stream"}
	noCache     = []string{"no-cache"}
)

// relayStream forwards SSE events. Nothing is written until the first event
// has arrived, so a stream that fails before it can still be retried.
func (g *Service) relayStream(ctx context.Context, w http.ResponseWriter, c *Call, d *router.Deployment, s provider.Stream, model string, sent time.Time, stripUsage bool, o *outcome) (bool, error) {
	defer s.Close()
	first, err := s.Next()
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return false, err
	}
	o.ttft = time.Since(sent)
	h := w.Header()
	h["Content-Type"] = contentSSE
	h["Cache-Control"] = noCache
	h[HeaderDeployment] = []string{d.ID}
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	data := first
	for {
		out := (*buf)[:0]
		if f, err := wire.Scan(data); err == nil {
			skip := false
			if f.Usage.Present() && data[f.Usage.Start] == '{' {
				o.usage, o.hasUsage = parseUsage(data, f.Usage)
				skip = stripUsage && usageOnly(data)
			}
			if o.outputs != nil && !skip {
				data = o.outputs.chunk(data)
				f, _ = wire.Scan(data)
			}
			if o.generated != nil {
				*o.generated = appendContent(*o.generated, data)
			}
			switch {
			case skip:
			case f.Model.Present() && d.Upstream != model:
				out = append(out, "data: "...)
				out = wire.AppendReplaced(out, data, f.Model, model)
				out = append(out, '\n', '\n')
			default:
				out = wire.AppendEvent(out, data)
			}
		} else {
			out = wire.AppendEvent(out, data)
		}
		*buf = out
		if len(out) > 0 {
			if _, err := w.Write(out); err != nil {
				return true, err
			}
		}
		if !s.Buffered() && flusher != nil {
			flusher.Flush()
		}
		data, err = s.Next()
		if err == io.EOF {
			if o.outputs != nil {
				if rest := o.outputs.rest(model); rest != nil {
					w.Write(wire.AppendEvent(nil, rest))
					if o.generated != nil {
						*o.generated = appendContent(*o.generated, rest)
					}
				}
			}
			w.Write(doneEvent)
			if flusher != nil {
				flusher.Flush()
			}
			return true, nil
		}
		if err != nil {
			if ctx.Err() == nil {
				e := upstreamError(ctx, err)
				w.Write(wire.AppendEvent(nil, e.Marshal()))
				if flusher != nil {
					flusher.Flush()
				}
				o.status = e.Status
			}
			return true, err
		}
	}
}

var doneEvent = []byte("data: [DONE]\n\n")

// parseUsage reads a usage object straight from the scanned body (no
// decoding of the rest: this runs on every answer).
func parseUsage(body []byte, sp wire.Span) (Usage, bool) {
	var u Usage
	if !sp.Present() || body[sp.Start] != '{' {
		return u, false
	}
	num := func(obj wire.Span, key string) int64 {
		n, _ := wire.Int(body, wire.Member(body, obj, key))
		return n
	}
	u.PromptTokens = num(sp, "prompt_tokens")
	u.CompletionTokens = num(sp, "completion_tokens")
	if d := wire.Member(body, sp, "prompt_tokens_details"); d.Present() && body[d.Start] == '{' {
		u.PromptDetails.CachedTokens = num(d, "cached_tokens")
	}
	return u, true
}

// upstreamError turns a routing error into the client's error.
func upstreamError(ctx context.Context, err error) *wire.Error {
	var se *provider.StatusError
	switch {
	case errors.Is(err, router.ErrModelNotFound):
		return wire.NewError(http.StatusNotFound, wire.TypeNotFound, "model_not_found", "model", err.Error())
	case errors.As(err, &se) && se.Status == http.StatusTooManyRequests:
		e := wire.NewError(http.StatusTooManyRequests, wire.TypeRateLimit, "rate_limit_exceeded", "",
			"upstream rate limit: "+provider.UpstreamMessage(se.Body))
		if se.RetryAfter > 0 {
			e.Header = http.Header{"Retry-After": {strconv.Itoa(int((se.RetryAfter + time.Second - 1) / time.Second))}}
		}
		return e
	case errors.As(err, &se) && se.Status >= 400 && se.Status < 500:
		return &wire.Error{Status: se.Status, Message: provider.UpstreamMessage(se.Body), Type: wire.TypeInvalidRequest, Raw: passthroughBody(se.Body)}
	case errors.Is(err, provider.ErrTimeout):
		return wire.NewError(http.StatusGatewayTimeout, wire.TypeTimeout, "upstream_timeout", "", "every upstream failed; last error: "+err.Error())
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return wire.NewError(499, wire.TypeInvalidRequest, "client_closed_request", "", "client closed the request")
	}
	return wire.NewError(http.StatusBadGateway, wire.TypeUpstream, "upstream_error", "", "every upstream failed; last error: "+err.Error())
}

// passthroughBody keeps an upstream 4xx body when it is already an OpenAI
// error envelope, so clients see exactly what the upstream said.
func passthroughBody(b []byte) []byte {
	var env struct {
		Error *json.RawMessage `json:"error"`
	}
	if json.Unmarshal(b, &env) != nil || env.Error == nil || len(*env.Error) == 0 || (*env.Error)[0] != '{' {
		return nil
	}
	return b
}

// writeError writes err in OpenAI's shape and returns the status.
func writeError(w http.ResponseWriter, err error) int {
	var e *wire.Error
	if !errors.As(err, &e) {
		e = wire.NewError(http.StatusInternalServerError, wire.TypeServer, "", "", err.Error())
	}
	if e.Status == 499 {
		return 499
	}
	h := w.Header()
	for k, v := range e.Header {
		h[k] = v
	}
	body := e.Raw
	if body == nil {
		body = e.Marshal()
	}
	h["Content-Type"] = contentJSON
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(e.Status)
	w.Write(body)
	return e.Status
}

// WriteError is writeError for the HTTP layer.
func WriteError(w http.ResponseWriter, err error) int { return writeError(w, err) }

// finish records metrics and the request's one log line.
func (g *Service) finish(c *Call, o *outcome) {
	took := time.Since(c.Start)
	if o.ticket != nil {
		r := &Result{Model: o.model, Deployment: o.deployment, Status: o.status, Stream: o.stream,
			Usage: o.usage, UsageReported: o.hasUsage, Latency: took, Request: o.request, Response: o.response}
		if o.generated != nil {
			r.Generated = *o.generated
		}
		o.ticket.Done(r)
	}
	route := c.Op.String()
	st := obs.Status(o.status)
	if g.Metrics != nil {
		g.Metrics.Requests.WithLabelValues(route, o.model, o.deployment, st).Inc()
		g.Metrics.Latency.WithLabelValues(route, o.model, o.deployment, st).Observe(took.Seconds())
		if o.ttft > 0 {
			g.Metrics.TTFT.WithLabelValues(o.model, o.deployment).Observe(o.ttft.Seconds())
		}
		if o.usage.PromptTokens > 0 {
			g.Metrics.Tokens.WithLabelValues(o.model, o.deployment, "input").Add(float64(o.usage.PromptTokens))
		}
		if o.usage.CompletionTokens > 0 {
			g.Metrics.Tokens.WithLabelValues(o.model, o.deployment, "output").Add(float64(o.usage.CompletionTokens))
		}
	}
	if g.Log == nil {
		return
	}
	level := slog.LevelInfo
	if o.status >= 500 {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("id", c.RequestID),
		slog.String("route", route),
		slog.String("model", o.model),
		slog.String("deployment", o.deployment),
		slog.Int("status", o.status),
		slog.Float64("latency_ms", float64(took.Microseconds())/1000),
		slog.Bool("stream", o.stream),
		slog.Int("attempts", o.attempts),
		slog.Int64("tokens_in", o.usage.PromptTokens),
		slog.Int64("tokens_out", o.usage.CompletionTokens),
	}
	if c.Key != nil {
		attrs = append(attrs, slog.String("key", c.Key.ID))
	}
	if g.LogPrompts {
		attrs = append(attrs, slog.String("body", string(c.Body)))
	}
	g.Log.LogAttrs(context.Background(), level, "request", attrs...)
}
