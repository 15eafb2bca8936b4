// Package gateway is the request path of Switchyard. Serve shows the
// whole path in one function, each step a plain call in order:
//
//	authenticate → validate → admit (limits, budget) → guard input →
//	route (attempts, retries, fallbacks, breaker) → provider →
//	guard output (while relaying) → meter → log
//
// Each step the gateway does not do itself is a small interface it owns
// (Authenticator, Admitter, Guard, and the call.Ticket that Admit returns),
// implemented by a domain package (tenancy, metering, guard) that never
// imports the gateway: the types that cross live in package call.
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"switchyard/internal/call"
	"switchyard/internal/obs"
	"switchyard/internal/provider"
	"switchyard/internal/router"
	"switchyard/internal/tenancy"
	wire "switchyard/internal/wire/openai"
)

// Authenticator finds the key a secret belongs to (tenancy.Store).
type Authenticator interface {
	Authenticate(secret string, now time.Time) (*tenancy.Key, error)
}

// Admitter decides, before routing, whether a call may go (model access,
// rate limits, budgets) and returns the ticket that meters it (metering).
type Admitter interface {
	// Admit returns a ticket for an admitted call, or a *call.Refusal.
	Admit(ctx context.Context, c *call.Call, r *call.Request) (call.Ticket, error)
}

// Guard inspects a call's input and, through the filters it returns, the
// generated output (guard.Gate).
type Guard interface {
	// Input may refuse the call (a *call.Refusal), or return a changed
	// body (nil: unchanged) and a maker of output filters, one per choice
	// (nil: the answer passes untouched).
	Input(ctx context.Context, c *call.Call, r *call.Request) (body []byte, out func() call.Output, err error)
}

// Service is the gateway. It is safe for concurrent use.
type Service struct {
	Auth    Authenticator
	Router  *router.Router
	Metrics *obs.Metrics
	Log     *slog.Logger
	Admit   Admitter // nil: every call goes, unmetered
	Guard   Guard    // nil: nothing is inspected
	// MaxBody is the largest request body accepted, in bytes.
	MaxBody func() int64
	// MaxUpload is the largest upload (multipart or binary body, spooled
	// to disk) accepted, in bytes; nil: 32 MiB.
	MaxUpload func() int64

	logPrompts atomic.Bool
}

// SetLogPrompts turns the request bodies in the log line on or off; safe
// while requests are served (configuration reloads call it).
func (g *Service) SetLogPrompts(on bool) { g.logPrompts.Store(on) }

// Headers the gateway sets on every proxied answer.
const (
	HeaderRequestID  = "X-Request-Id"
	HeaderDeployment = "X-Switchyard-Deployment"
)

// idKey carries the id Switchyard made for an HTTP request in its context.
type idKey struct{}

// WithCallID returns ctx carrying the id Switchyard generated for the
// request (the ledger's identity for the call it makes).
func WithCallID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, idKey{}, id)
}

// CallID returns the id WithCallID stored, or "".
func CallID(ctx context.Context) string {
	id, _ := ctx.Value(idKey{}).(string)
	return id
}

// NewID returns an id unique to this call: a random per-process prefix
// and a counter. The server's middleware gives one to every request;
// Handler makes one for callers without it.
func NewID() string { return idPrefix + strconv.FormatUint(idCount.Add(1), 36) }

var (
	idPrefix = func() string {
		var b [6]byte
		rand.Read(b[:])
		return "req_" + hex.EncodeToString(b[:])
	}()
	idCount atomic.Uint64
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}
var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// outcome is what Serve learned, for the meter, the log line and metrics.
type outcome struct {
	model, deployment string
	status            int
	err               error // the cause of an error answer, for the log
	usage             call.Usage
	hasUsage          bool
	stream            bool
	attempts          int
	ttft              time.Duration
	ticket            call.Ticket
	generated         *[]byte  // streamed text as the client saw it, kept only while a ticket wants it
	outputs           *outputs // the guard's output filters, if any
	guarded           bool     // the guard rewrote the body
	request, response []byte   // the body sent upstream (after the guard), the body the client got
}

// Handler serves op over HTTP: it authenticates the key, reads the body
// and hands the call to Serve.
func (g *Service) Handler(op provider.Op) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := begin(op, r)
		bp := bodyPool.Get().(*[]byte)
		defer bodyPool.Put(bp)
		if !g.open(w, w, r, c, bp) {
			return
		}
		c.Body = *bp
		if g.Metrics != nil {
			g.Metrics.InFlight.Inc()
			defer g.Metrics.InFlight.Dec()
		}
		g.Serve(r.Context(), w, c)
	}
}

// open is the path's first step for an HTTP request: 1. authenticate the
// key, then read the body into *bp (from w's request, bounded by
// MaxBody). Errors are written to ew; ok is false then.
func (g *Service) open(w, ew http.ResponseWriter, r *http.Request, c *call.Call, bp *[]byte) (ok bool) {
	k, err := g.authenticate(r, c.Start)
	if err != nil {
		writeError(ew, err)
		return false
	}
	c.Key = k
	body, err := readBody(w, r, (*bp)[:0], g.MaxBody())
	if err != nil {
		writeError(ew, err)
		return false
	}
	*bp = body
	return true
}

// Serve runs the request path for the authenticated call c (c.Key set) and
// writes the answer to w.
func (g *Service) Serve(ctx context.Context, w http.ResponseWriter, c *call.Call) {
	o := outcome{status: http.StatusOK}
	defer g.finish(c, &o) // meter, then log

	// 2. Validate the body and find what we act on.
	f, model, stream, err := validate(c.Op, c.Body)
	if err != nil {
		o.fail(w, err)
		return
	}
	o.model, o.stream = model, stream
	m, ok := g.Router.Catalog().Model(model)
	if !ok {
		o.fail(w, modelNotFound(model))
		return
	}
	if !m.Supports(c.Op) {
		o.fail(w, wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "unsupported_operation", "model",
			"The model `"+model+"` does not support "+c.Op.Path()[1:]+" requests."))
		return
	}
	req := &call.Request{Model: model, Body: c.Body, Fields: f, Stream: stream, Header: w.Header()}

	// 3. Admit: model access, rate limits, budgets.
	stripUsage := false
	if g.Admit != nil {
		if o.ticket, err = g.Admit.Admit(ctx, c, req); err != nil {
			o.fail(w, err)
			return
		}
		if stream && (c.Op == provider.OpChat || c.Op == provider.OpCompletion) {
			// The meter counts streams from the upstream's usage chunk.
			if b, ok := askUsage(req.Body, req.Fields); ok {
				if nf, err := wire.Scan(b); err == nil {
					req.Body, req.Fields, stripUsage = b, nf, true
				}
			}
			gp := genPool.Get().(*[]byte)
			*gp = (*gp)[:0]
			o.generated = gp // back to the pool in finish, once metered
		}
	}

	// 4. Guard the input: it may refuse it, rewrite it, and filter the output.
	if g.Guard != nil {
		body, out, err := g.Guard.Input(ctx, c, req)
		if err != nil {
			o.fail(w, err)
			return
		}
		if body != nil {
			nf, err := wire.Scan(body)
			if err != nil { // never send the unguarded body instead
				o.fail(w, fmt.Errorf("guard rewrote the body into one that does not scan: %w", err))
				return
			}
			req.Body, req.Fields = body, nf
			o.guarded = true
		}
		if out != nil {
			o.outputs = &outputs{make: out}
		}
	}
	o.request = req.Body
	if err := o.nativeOnly(c, m); err != nil {
		o.fail(w, err)
		return
	}

	// 5. Route: attempts on deployments, retries, fallbacks, the breaker.
	plan, err := g.Router.Plan(model, c.Op)
	if err != nil {
		o.routeFailed(ctx, w, err)
		return
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	for {
		d, err := plan.Next(ctx)
		if err != nil {
			o.routeFailed(ctx, w, err)
			break
		}
		o.deployment = d.ID
		committed, err := g.attempt(ctx, w, c, req, d, stripUsage, bp, &o)
		if !plan.Report(d, committed, err) {
			if err != nil {
				o.routeFailed(ctx, w, err)
			}
			break
		}
	}
	o.attempts = plan.Attempts
	if plan.Deployment != nil {
		o.deployment = plan.Deployment.ID
	}
}

// attempt is one try on deployment d: the ticket admits it on d's own
// limits, the model is renamed for d, 6. the provider is called, and the
// answer relayed through the guard's output filters.
func (g *Service) attempt(ctx context.Context, w http.ResponseWriter, c *call.Call, req *call.Request, d *router.Deployment, stripUsage bool, bp *[]byte, o *outcome) (committed bool, err error) {
	if o.ticket != nil {
		release, err := o.ticket.Route(ctx, d.ID)
		if err != nil {
			return false, fmt.Errorf("%w: %w", provider.ErrNotSent, err)
		}
		defer release()
	}
	body := req.Body
	if d.Upstream != req.Model {
		*bp = wire.AppendReplaced((*bp)[:0], req.Body, req.Fields.Model, d.Upstream)
		body = *bp
	}
	if o.native(c, d) {
		return g.attemptNative(ctx, c, req, d, bp, o)
	}
	if c.Native != nil && c.Native.ChatErr != nil {
		return false, &inexpressible{c.Native.ChatErr}
	}
	sent := time.Now()
	resp, err := d.Provider.Do(ctx, &provider.Request{Op: c.Op, Body: body, Stream: req.Stream, RequestID: c.RequestID})
	if err != nil {
		return false, err
	}
	if req.Stream {
		return g.relayStream(ctx, w, d, resp.Stream, req.Model, sent, stripUsage, o)
	}
	o.ttft = time.Since(sent)
	o.response = g.relayBody(w, d, resp.Body, req.Model, o)
	return true, nil
}

// routeFailed ends a call that routing could not serve: with the client's
// view of the error when nothing was written yet (the full cause stays for
// the log line), or as 499 when the client left mid-stream.
func (o *outcome) routeFailed(ctx context.Context, w http.ResponseWriter, err error) {
	switch {
	case !o.committed():
		o.fail(w, upstreamError(ctx, err, o.deployment))
		o.err = err
	case o.status == http.StatusOK && ctx.Err() != nil:
		o.status = 499 // client closed the stream
	}
}

// fail answers with err, unless something was already written.
func (o *outcome) fail(w http.ResponseWriter, err error) {
	if o.committed() {
		return
	}
	o.err = err
	o.status = writeError(w, err)
}

func (o *outcome) committed() bool { return o.status != http.StatusOK || o.ttft > 0 }

// relayBody writes a non-streamed answer with the public model name.
func (g *Service) relayBody(w http.ResponseWriter, d *router.Deployment, body []byte, model string, o *outcome) []byte {
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

// firstEvent waits for a stream's first event. A stream that ends or
// breaks before it, with no reason from the upstream, is a fault of the
// deployment (nothing reached the client): worth another one.
func firstEvent(ctx context.Context, s provider.Stream) ([]byte, error) {
	first, err := s.Next()
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil && !provider.Retryable(err) && !errors.Is(err, provider.ErrInvalidRequest) && ctx.Err() == nil {
		err = fmt.Errorf("%w: the stream ended before its first event: %w", provider.ErrUnavailable, err)
	}
	return first, err
}

// relayStream forwards SSE events. Nothing is written until the first event
// has arrived, so a stream that fails before it can still be retried.
func (g *Service) relayStream(ctx context.Context, w http.ResponseWriter, d *router.Deployment, s provider.Stream, model string, sent time.Time, stripUsage bool, o *outcome) (bool, error) {
	defer s.Close()
	first, err := firstEvent(ctx, s)
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
				if reason, ok := o.outputs.blocked(); ok {
					endBlocked(w, flusher, reason)
					return true, nil
				}
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
				rest := o.outputs.rest(model)
				if reason, ok := o.outputs.blocked(); ok {
					endBlocked(w, flusher, reason)
					return true, nil
				}
				if rest != nil {
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
				e := errorOf(upstreamError(ctx, err, d.ID), "")
				w.Write(wire.AppendEvent(nil, e.Marshal()))
				if flusher != nil {
					flusher.Flush()
				}
				o.status, o.err = e.Status, err
			}
			return true, err
		}
	}
}

var doneEvent = []byte("data: [DONE]\n\n")

// endBlocked ends a stream the guard's output policy stopped: an error
// event (code content_policy_violation) and no [DONE]; the held text is
// never sent, and returning closes the upstream stream.
func endBlocked(w http.ResponseWriter, flusher http.Flusher, reason string) {
	w.Write(wire.AppendEvent(nil, blockedError(reason)))
	if flusher != nil {
		flusher.Flush()
	}
}

// parseUsage reads a usage object straight from the scanned body (no
// decoding of the rest: this runs on every answer).
func parseUsage(body []byte, sp wire.Span) (call.Usage, bool) {
	var u call.Usage
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
		u.PromptDetails.CacheWriteTokens = num(d, "cache_write_tokens")
	}
	if u.PromptTokens == 0 && u.CompletionTokens == 0 {
		otherUsage(body, sp, &u) // images, audio, rerank
	}
	return u, true
}

// upstreamError turns a routing error into the client's error: the kind
// and the deployment, never the upstream's address or transport detail
// (those go to the log line with the request id).
func upstreamError(ctx context.Context, err error, deployment string) error {
	var se *provider.StatusError
	var ref *call.Refusal
	var inex *inexpressible
	switch {
	case errors.As(err, &inex):
		return inex.err
	case errors.As(err, &ref):
		return err // a step's refusal (a deployment at its own limit)
	case errors.Is(err, router.ErrModelNotFound):
		return wire.NewError(http.StatusNotFound, wire.TypeNotFound, "model_not_found", "model", err.Error())
	case errors.As(err, &se) && se.Status == http.StatusTooManyRequests:
		// Not the upstream's text: it may name the operator's account.
		e := wire.NewError(http.StatusTooManyRequests, wire.TypeRateLimit, "rate_limit_exceeded", "",
			"Deployment "+deployment+" is rate limited by its upstream; try again shortly.")
		if se.RetryAfter > 0 {
			e.Header = http.Header{"Retry-After": {retryAfter(se.RetryAfter)}}
		}
		return e
	case errors.As(err, &se) && (se.Status == http.StatusUnauthorized || se.Status == http.StatusForbidden ||
		se.Status == http.StatusProxyAuthRequired):
		// The deployment's own credentials are wrong: the operator's
		// problem, not the client's (whose key is fine).
		return wire.NewError(http.StatusBadGateway, wire.TypeUpstream, "upstream_error", "",
			"Deployment "+deployment+" was refused by its upstream (status "+strconv.Itoa(se.Status)+").")
	case errors.As(err, &se) && se.Status >= 400 && se.Status < 500:
		return &wire.Error{Status: se.Status, Message: provider.UpstreamMessage(se.Body), Type: wire.TypeInvalidRequest, Raw: passthroughBody(se.Body)}
	case errors.Is(err, provider.ErrInvalidRequest) && !errors.As(err, &se):
		// Refused before sending: the request cannot be expressed in the
		// deployment's API (a provider's translation names the field).
		return wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "unsupported_on_deployment", "",
			"Deployment "+deployment+" cannot take this request: "+err.Error())
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return wire.NewError(499, wire.TypeInvalidRequest, "client_closed_request", "", "client closed the request")
	case errors.As(err, new(*router.CoolingError)):
		e := wire.NewError(http.StatusTooManyRequests, wire.TypeRateLimit, "rate_limit_exceeded", "",
			"Every deployment of this model is rate limited right now; try again after the Retry-After.")
		e.Header = http.Header{"Retry-After": {retryAfter(provider.RetryAfterOf(err))}}
		return e
	case errors.Is(err, router.ErrNoDeployment):
		return wire.NewError(http.StatusServiceUnavailable, wire.TypeUpstream, "no_healthy_deployment", "",
			"No deployment of this model is available right now; try again shortly.")
	case errors.Is(err, provider.ErrTimeout):
		return wire.NewError(http.StatusGatewayTimeout, wire.TypeTimeout, "upstream_timeout", "",
			"Deployment "+deployment+" timed out.")
	case errors.As(err, &se):
		return wire.NewError(http.StatusBadGateway, wire.TypeUpstream, "upstream_error", "",
			"Deployment "+deployment+" failed: upstream status "+strconv.Itoa(se.Status)+".")
	}
	return wire.NewError(http.StatusBadGateway, wire.TypeUpstream, "upstream_unreachable", "",
		"Deployment "+deployment+" could not be reached.")
}

func retryAfter(d time.Duration) string {
	return strconv.Itoa(int((d + time.Second - 1) / time.Second))
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

// errorOf maps an error of any step to the API's error: the one place
// where kinds become statuses, types and codes. Anything without a kind
// is a 500 that names the request id and nothing internal.
func errorOf(err error, requestID string) *wire.Error {
	var e *wire.Error
	if errors.As(err, &e) {
		return e
	}
	var r *call.Refusal
	if errors.As(err, &r) {
		var out *wire.Error
		switch r.Kind {
		case call.ErrForbidden:
			out = wire.NewError(http.StatusForbidden, wire.TypePermission, "insufficient_permissions", r.Param, r.Message)
		case call.ErrModelNotFound:
			out = wire.NewError(http.StatusNotFound, wire.TypeNotFound, "model_not_found", "model", r.Message)
		case call.ErrRateLimited:
			out = wire.NewError(http.StatusTooManyRequests, wire.TypeRateLimit, "rate_limit_exceeded", r.Param, r.Message)
		case call.ErrQuota:
			out = wire.NewError(http.StatusTooManyRequests, "insufficient_quota", "insufficient_quota", r.Param, r.Message)
		case call.ErrBlocked:
			out = wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "content_policy_violation", r.Param, r.Message)
		case call.ErrUnavailable:
			out = wire.NewError(http.StatusServiceUnavailable, wire.TypeServer, "service_unavailable", r.Param, r.Message)
		}
		if out != nil {
			out.Header = r.Header
			if r.RetryAfter > 0 {
				if out.Header == nil {
					out.Header = http.Header{}
				}
				if out.Header.Get("Retry-After") == "" {
					out.Header.Set("Retry-After", retryAfter(r.RetryAfter))
				}
			}
			return out
		}
	}
	msg := "Internal error."
	if requestID != "" {
		msg = "Internal error (request id " + requestID + ")."
	}
	return wire.NewError(http.StatusInternalServerError, wire.TypeServer, "internal_error", "", msg)
}

// writeError writes err in the API's error shape and returns the status.
func writeError(w http.ResponseWriter, err error) int {
	e := errorOf(err, w.Header().Get(HeaderRequestID))
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

// WriteError is writeError for the HTTP layer: the same mapping for every
// handler. It returns the status written.
func WriteError(w http.ResponseWriter, err error) int { return writeError(w, err) }

// ErrorOf is the API error err maps to (for handlers that log or wrap it).
func ErrorOf(err error, requestID string) *wire.Error { return errorOf(err, requestID) }

// Authenticate finds the caller's key from Authorization or x-api-key (for
// the other handlers, so that every route answers a bad key alike).
func (g *Service) Authenticate(r *http.Request, now time.Time) (*tenancy.Key, error) {
	return g.authenticate(r, now)
}

// authenticate finds the caller's key from Authorization or x-api-key.
func (g *Service) authenticate(r *http.Request, now time.Time) (*tenancy.Key, error) {
	secret := tenancy.BearerToken(r.Header.Get("Authorization"), r.Header.Get("X-Api-Key"))
	if secret == "" {
		return nil, wire.NewError(http.StatusUnauthorized, wire.TypeAuthentication, "missing_api_key", "",
			"You didn't provide an API key. Send it as 'Authorization: Bearer KEY' or 'x-api-key: KEY'.")
	}
	k, err := g.Auth.Authenticate(secret, now)
	if err != nil {
		return nil, wire.NewError(http.StatusUnauthorized, wire.TypeAuthentication, "invalid_api_key", "", "Incorrect API key provided.")
	}
	return k, nil
}

// readBody reads the request body into buf, refusing more than max bytes.
func readBody(w http.ResponseWriter, r *http.Request, buf []byte, max int64) ([]byte, error) {
	tooBig := func() error {
		return wire.NewError(http.StatusRequestEntityTooLarge, wire.TypeInvalidRequest, "request_too_large", "",
			"The request body is larger than the limit of "+strconv.FormatInt(max, 10)+" bytes.")
	}
	if r.ContentLength > max {
		return nil, tooBig()
	}
	if r.ContentLength > 0 && int64(cap(buf)) < r.ContentLength {
		buf = make([]byte, 0, r.ContentLength)
	}
	body := http.MaxBytesReader(w, r.Body, max)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, tooBig()
			}
			if err == io.EOF {
				return buf, nil
			}
			return nil, wire.Invalid("", "The request body could not be read completely.")
		}
	}
}

// ReadBody is readBody for other handlers of JSON bodies.
func ReadBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	return readBody(w, r, nil, max)
}

func modelNotFound(model string) error {
	return wire.NewError(http.StatusNotFound, wire.TypeNotFound, "model_not_found", "model",
		"The model `"+model+"` does not exist or you do not have access to it.")
}

// finish is the path's last two steps, run however the call ended:
// 7. meter the call (the ticket counts, prices and records it), then
// 8. record metrics and the request's one log line.
func (g *Service) finish(c *call.Call, o *outcome) {
	took := time.Since(c.Start)
	if o.ticket != nil {
		r := &call.Result{Model: o.model, Deployment: o.deployment, Status: o.status, Stream: o.stream,
			Usage: o.usage, UsageReported: o.hasUsage, Latency: took, Request: o.request, Response: o.response}
		if o.generated != nil {
			r.Generated = *o.generated
		}
		o.ticket.Done(r)
	}
	if o.generated != nil {
		genPool.Put(o.generated) // only now: Done read it
		o.generated = nil
	}
	route := c.Op.String()
	if c.Route != "" {
		route = c.Route
	}
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
	if c.ID != c.RequestID {
		attrs = append(attrs, slog.String("call", c.ID))
	}
	if c.Key != nil {
		attrs = append(attrs, slog.String("key", c.Key.ID))
	}
	if o.err != nil && o.status >= 500 {
		attrs = append(attrs, slog.String("err", o.err.Error()))
	}
	if g.logPrompts.Load() && o.request != nil {
		// Only what the guard let through: o.request is the body as sent
		// upstream, and stays nil for a call refused before routing.
		attrs = append(attrs, slog.String("body", string(o.request)))
	}
	g.Log.LogAttrs(context.Background(), level, "request", attrs...)
}
