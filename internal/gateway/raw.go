package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/call"
	"switchyard/internal/provider"
	"switchyard/internal/router"
	wire "switchyard/internal/wire/openai"
)

// The raw path serves calls whose bodies are not OpenAI JSON answered with
// JSON: speech (JSON in, audio bytes out), transcriptions and translations
// (multipart uploads in), and passthrough paths. The steps are Serve's —
// authenticate, admit (model access, limits, budgets, on a small JSON view
// of the call), route with the same retries and fallbacks, meter, log —
// but the bodies are streamed: an upload is spooled to a temporary file
// (so every attempt can send it again) and re-sent from disk, and the
// upstream's answer is copied to the client as it arrives, with its
// status and Content-Type, never read whole. The guard does not inspect
// raw calls: their input is audio, or a body Switchyard does not know.

// rawCall is one raw call's request, ready for any deployment.
type rawCall struct {
	method, path, query string      // path relative to /v1
	header              http.Header // client headers that go upstream
	model               string
	queryModel          bool // the model came from the query's model parameter
	// admit is the JSON the steps see: the body itself when it is JSON,
	// else {"model":…}; its Fields.Model names the model when the body
	// carries it.
	admit  []byte
	fields wire.Fields
	json   bool  // admit is the body to send
	form   *form // a spooled multipart body
	file   *os.File
	size   int64 // of file
}

// close removes what was spooled.
func (rc *rawCall) close() {
	if rc.form != nil {
		rc.form.Close()
	}
	if rc.file != nil {
		rc.file.Close()
		os.Remove(rc.file.Name())
	}
}

// body returns the request body for a deployment that calls the model
// upstream, and done, to call when the attempt is over.
func (rc *rawCall) body(upstream string, bp *[]byte) (r io.Reader, n int64, contentType string, done func()) {
	done = func() {}
	switch {
	case rc.form != nil:
		pr, n, done := rc.form.open(upstream)
		return pr, n, rc.form.contentType(), done
	case rc.json:
		b := rc.admit
		if upstream != rc.model && rc.fields.Model.Present() {
			*bp = wire.AppendReplaced((*bp)[:0], b, rc.fields.Model, upstream)
			b = *bp
		}
		return bytes.NewReader(b), int64(len(b)), rc.header.Get("Content-Type"), done
	case rc.file != nil:
		return io.NewSectionReader(rc.file, 0, rc.size), rc.size, rc.header.Get("Content-Type"), done
	}
	return nil, 0, "", done
}

// queryFor is the query with the model parameter naming upstream, every
// other byte as the client sent it.
func (rc *rawCall) queryFor(upstream string) string {
	if !rc.queryModel || upstream == rc.model {
		return rc.query
	}
	parts := strings.Split(rc.query, "&")
	for i, p := range parts {
		k, _, _ := strings.Cut(p, "=")
		if k, err := url.QueryUnescape(k); err == nil && k == "model" {
			parts[i] = "model=" + url.QueryEscape(upstream)
		}
	}
	return strings.Join(parts, "&")
}

// begin makes the call for an HTTP request, as Handler does.
func begin(op provider.Op, r *http.Request) *call.Call {
	c := &call.Call{Op: op, Start: time.Now(), RequestID: r.Header.Get(HeaderRequestID),
		ID: CallID(r.Context()), Tags: r.Header.Get("X-Switchyard-Tags")}
	if c.ID == "" {
		c.ID = NewID()
	}
	if c.RequestID == "" {
		c.RequestID = c.ID
	}
	return c
}

// maxUpload is the largest upload accepted.
func (g *Service) maxUpload() int64 {
	if g.MaxUpload != nil {
		if n := g.MaxUpload(); n > 0 {
			return n
		}
	}
	return 32 << 20
}

// RawHandler serves a raw op over HTTP: OpSpeech (a JSON body) or
// OpTranscription and OpTranslation (multipart/form-data uploads, bounded
// by MaxUpload).
func (g *Service) RawHandler(op provider.Op) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := begin(op, r)
		k, err := g.authenticate(r, c.Start)
		if err != nil {
			writeError(w, err)
			return
		}
		c.Key = k
		o := outcome{status: http.StatusOK}
		defer g.finish(c, &o)
		rc := &rawCall{method: http.MethodPost, path: op.Path(), header: http.Header{}}
		defer rc.close()
		if op == provider.OpSpeech {
			err = g.readSpeech(w, r, rc)
		} else {
			err = g.readUpload(w, r, rc)
		}
		if err != nil {
			o.model = rc.model
			o.fail(w, err)
			return
		}
		if g.Metrics != nil {
			g.Metrics.InFlight.Inc()
			defer g.Metrics.InFlight.Dec()
		}
		g.serveRaw(r.Context(), w, c, rc, &o)
	}
}

// readSpeech reads and validates a speech request's JSON body.
func (g *Service) readSpeech(w http.ResponseWriter, r *http.Request, rc *rawCall) error {
	body, err := readBody(w, r, nil, g.MaxBody())
	if err != nil {
		return err
	}
	f, model, stream, err := validate(provider.OpSpeech, body)
	if err != nil {
		return err
	}
	_ = stream // stream_format "sse" answers are relayed like audio
	rc.model, rc.admit, rc.fields, rc.json = model, body, f, true
	rc.header.Set("Content-Type", "application/json")
	if a := r.Header.Get("Accept"); a != "" {
		rc.header.Set("Accept", a)
	}
	return nil
}

// readUpload spools a transcription or translation upload and checks
// its model and file parts.
func (g *Service) readUpload(w http.ResponseWriter, r *http.Request, rc *rawCall) error {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return wire.Invalid("", "The request body must be multipart/form-data, with the audio in a 'file' part.")
	}
	fm, err := g.spool(w, r, params["boundary"])
	if err != nil {
		return err
	}
	rc.form = fm
	rc.model = fm.model
	if fm.modelAt < 0 || fm.model == "" {
		return wire.Invalid("model", "you must provide a model parameter")
	}
	if !fm.has("file") {
		return wire.Invalid("file", "Missing required parameter: 'file'.")
	}
	rc.admit = modelJSON(fm.model)
	rc.fields, _ = wire.Scan(rc.admit)
	return nil
}

// spool reads r's multipart body to a temporary file, bounded by MaxUpload.
func (g *Service) spool(w http.ResponseWriter, r *http.Request, boundary string) (*form, error) {
	limit := g.maxUpload()
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	return spoolForm(http.MaxBytesReader(w, r.Body, limit), boundary, "", limit)
}

// modelJSON is the steps' view of a call whose body is not JSON.
func modelJSON(model string) []byte {
	return append(wire.AppendQuote([]byte(`{"model":`), model), '}')
}

// serveRaw is Serve for a raw call: find the model, admit, route, relay.
// o is finished (metered and logged) by the caller.
func (g *Service) serveRaw(ctx context.Context, w http.ResponseWriter, c *call.Call, rc *rawCall, o *outcome) {
	o.model = rc.model
	m, ok := g.Router.Catalog().Model(rc.model)
	if !ok {
		o.fail(w, modelNotFound(rc.model))
		return
	}
	if !m.Supports(c.Op) {
		what := c.Op.Path()
		if what == "" {
			what = "/" + c.Op.String()
		}
		o.fail(w, wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "unsupported_operation", "model",
			"The model `"+rc.model+"` does not support "+what[1:]+" requests."))
		return
	}
	req := &call.Request{Model: rc.model, Body: rc.admit, Fields: rc.fields, Header: w.Header()}
	if g.Admit != nil {
		var err error
		if o.ticket, err = g.Admit.Admit(ctx, c, req); err != nil {
			o.fail(w, err)
			return
		}
	}
	o.request = rc.admit
	plan, err := g.Router.Plan(rc.model, c.Op)
	if err != nil {
		o.routeFailed(ctx, w, err)
		return
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	var broken error
	for {
		d, err := plan.Next(ctx)
		if err != nil {
			o.routeFailed(ctx, w, err)
			break
		}
		o.deployment = d.ID
		committed, err := g.attemptRaw(ctx, w, c, rc, d, bp, o)
		if !plan.Report(d, committed, err) {
			if err != nil {
				o.routeFailed(ctx, w, err)
				if committed && ctx.Err() == nil {
					broken = err
				}
			}
			break
		}
	}
	o.attempts = plan.Attempts
	if plan.Deployment != nil {
		o.deployment = plan.Deployment.ID
	}
	if broken != nil {
		// The upstream failed mid-body: the status is sent, so the only
		// honest end is a cut connection, never a complete-looking body.
		// The handler's deferred finish still meters and logs the call.
		e := errorOf(upstreamError(ctx, broken, o.deployment), "")
		o.status, o.err = e.Status, broken
		panic(http.ErrAbortHandler)
	}
}

// attemptRaw is one try of a raw call on deployment d.
func (g *Service) attemptRaw(ctx context.Context, w http.ResponseWriter, c *call.Call, rc *rawCall, d *router.Deployment, bp *[]byte, o *outcome) (committed bool, err error) {
	if o.ticket != nil {
		release, err := o.ticket.Route(ctx, d.ID)
		if err != nil {
			return false, fmt.Errorf("%w: %w", provider.ErrNotSent, err)
		}
		defer release()
	}
	rd, ok := d.Provider.(provider.RawDoer)
	if !ok {
		return false, fmt.Errorf("%w: deployment %s makes no raw calls", provider.ErrUnsupported, d.ID)
	}
	body, n, ctype, done := rc.body(d.Upstream, bp)
	defer done()
	h := rc.header.Clone()
	if ctype != "" {
		h.Set("Content-Type", ctype)
	}
	sent := time.Now()
	resp, err := rd.DoRaw(ctx, &provider.RawRequest{Method: rc.method, Path: rc.path, RawQuery: rc.queryFor(d.Upstream),
		Header: h, Body: body, ContentLength: n, RequestID: c.RequestID})
	if err != nil {
		return false, err
	}
	return g.relayRaw(ctx, w, d, resp, sent, o)
}

// relayedHeaders are the upstream headers a raw answer keeps: what
// describes the body, never the upstream's account (rate limits,
// cookies, organisation).
var relayedHeaders = []string{"Content-Type", "Content-Disposition", "Content-Encoding", "Content-Language",
	"Cache-Control", "Etag", "Last-Modified"}

// relayRaw copies the upstream's answer to the client as it arrives,
// flushing after each read, and reads its usage from a JSON or SSE body on
// the way. Nothing is written until the first bytes have arrived, so an
// answer that fails at once can still be retried.
func (g *Service) relayRaw(ctx context.Context, w http.ResponseWriter, d *router.Deployment, resp *http.Response, sent time.Time, o *outcome) (bool, error) {
	defer resp.Body.Close()
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	b := (*buf)[:cap(*buf)]
	n, rerr := readSome(resp.Body, b)
	if rerr != nil && rerr != io.EOF {
		if !provider.Retryable(rerr) && ctx.Err() == nil {
			rerr = fmt.Errorf("%w: the answer failed before its first byte: %w", provider.ErrUnavailable, rerr)
		}
		return false, rerr
	}
	o.ttft = time.Since(sent)
	h := w.Header()
	for _, k := range relayedHeaders {
		if v := resp.Header.Values(k); len(v) > 0 {
			h[k] = v
		}
	}
	if rerr == io.EOF {
		h["Content-Length"] = []string{strconv.Itoa(n)}
	} else if resp.ContentLength >= 0 {
		h["Content-Length"] = []string{strconv.FormatInt(resp.ContentLength, 10)}
	}
	h[HeaderDeployment] = []string{d.ID}
	tap := newUsageTap(resp.Header.Get("Content-Type"))
	w.WriteHeader(resp.StatusCode)
	o.status = resp.StatusCode
	flusher, _ := w.(http.Flusher)
	for {
		if n > 0 {
			tap.Write(b[:n])
			if _, err := w.Write(b[:n]); err != nil {
				o.usage, o.hasUsage = tap.result()
				return true, err
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		if rerr == io.EOF {
			o.usage, o.hasUsage = tap.result()
			return true, nil
		}
		if rerr != nil {
			o.usage, o.hasUsage = tap.result()
			return true, rerr
		}
		n, rerr = resp.Body.Read(b)
	}
}

// readSome reads until it has some bytes, the end, or an error.
func readSome(r io.Reader, b []byte) (int, error) {
	for {
		n, err := r.Read(b)
		if n > 0 || err != nil {
			return n, err
		}
	}
}

// usageTap keeps what it needs of an answer to find its usage: a JSON
// body up to maxTapped bytes, or the data lines of an SSE stream.
type usageTap struct {
	kind  int // 0: not read, 1: JSON, 2: SSE
	buf   []byte
	over  bool
	usage call.Usage
	has   bool
}

const maxTapped = 1 << 20

func newUsageTap(contentType string) *usageTap {
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return &usageTap{kind: 1}
	case mt == "text/event-stream":
		return &usageTap{kind: 2}
	}
	return &usageTap{}
}

func (t *usageTap) Write(p []byte) {
	switch t.kind {
	case 1:
		if !t.over && len(t.buf)+len(p) <= maxTapped {
			t.buf = append(t.buf, p...)
		} else {
			t.over, t.buf = true, nil
		}
	case 2:
		t.buf = append(t.buf, p...)
		for {
			i := bytes.IndexByte(t.buf, '\n')
			if i < 0 {
				break
			}
			t.line(bytes.TrimRight(t.buf[:i], "\r"))
			t.buf = t.buf[i+1:]
		}
		if len(t.buf) > maxTapped {
			t.buf = nil // a line too long to be an event worth reading
		}
		t.buf = append([]byte(nil), t.buf...) // let the consumed prefix go
	}
}

// line reads one SSE line; a data line with usage replaces what was found.
func (t *usageTap) line(l []byte) {
	data, ok := bytes.CutPrefix(l, []byte("data:"))
	if !ok {
		return
	}
	data = bytes.TrimLeft(data, " ")
	if u, ok := usageIn(data); ok {
		t.usage, t.has = u, true
	}
}

func (t *usageTap) result() (call.Usage, bool) {
	if t.kind == 1 && !t.over {
		return usageIn(t.buf)
	}
	return t.usage, t.has
}

// usageIn reads the usage of a JSON object: its top-level usage, or that
// of a stream event's response (image and transcription events carry it
// at the top).
func usageIn(b []byte) (call.Usage, bool) {
	f, err := wire.Scan(b)
	if err != nil || !f.Usage.Present() || b[f.Usage.Start] != '{' {
		return call.Usage{}, false
	}
	return parseUsage(b, f.Usage)
}
