package responses

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"switchyard/internal/call"
	"switchyard/internal/gateway"
	"switchyard/internal/provider/openai"
	"switchyard/internal/tenancy"
	wire "switchyard/internal/wire/openai"
	rwire "switchyard/internal/wire/responses"
)

// API is the native API name of OpenAI's Responses, for providers that
// serve it (provider.NativeRequest.API).
const API = openai.APIResponses

// Ingress serves POST /v1/responses as a chat call (gateway.Ingress).
//
// previous_response_id is always resolved here, from the Store: the
// conversation so far is prepended to the input, whether the call is
// translated to chat or passed natively to an upstream that serves the
// Responses API (which would not know Switchyard's ids), so the native
// body is then rewritten without previous_response_id. Responses with
// store (the default) are kept: the translation's object, or the
// upstream's own object when passed through.
type Ingress struct {
	Store *Store
	Log   *slog.Logger
}

var _ gateway.Ingress = (*Ingress)(nil)

// Route implements gateway.Ingress.
func (in *Ingress) Route() string { return "responses" }

// Begin implements gateway.Ingress.
func (in *Ingress) Begin(w http.ResponseWriter, r *http.Request) gateway.Exchange {
	return &exchange{in: in, w: w}
}

// storeTimeout bounds the write of a finished response.
const storeTimeout = 5 * time.Second

// exchange is one Responses call.
type exchange struct {
	in    *Ingress
	w     http.ResponseWriter
	key   *tenancy.Key
	req   *rwire.Request
	prior []json.RawMessage
	id    string

	status int    // status written by the gateway (0: none yet)
	mode   byte   // 'p' pass the bytes through (errors), 'b' buffer a JSON answer, 's' translate a stream
	buf    []byte // the buffered answer, or a stream's incomplete event
	out    []byte
	st     *rwire.Stream
	record *Record // staged, written at Close

	nativeSeq int64 // a native stream's last sequence number
}

// Request implements gateway.Exchange.
func (x *exchange) Request(ctx context.Context, k *tenancy.Key, body []byte) ([]byte, *call.Native, error) {
	req, err := rwire.Parse(body)
	if err != nil {
		return nil, nil, err
	}
	x.key, x.req = k, req
	if req.PreviousResponseID != "" {
		rec, err := x.in.Store.Get(ctx, Scope(k), req.PreviousResponseID)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil, nil, wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "previous_response_not_found",
					"previous_response_id", "Previous response with id '"+req.PreviousResponseID+"' not found.")
			}
			return nil, nil, err
		}
		x.prior = rec.Items
	}
	chat, err := req.Chat(x.prior)
	if err != nil {
		return nil, nil, err
	}
	x.id = newID()
	nb := body
	if x.prior != nil {
		if nb, err = nativeBody(body, x.prior, req.Input); err != nil {
			return nil, nil, err
		}
	}
	n := &call.Native{API: API, Path: "/responses", Body: nb, Usage: x.nativeUsage, Frame: x.frame,
		StreamError: x.streamError, Text: outputText, W: x.w}
	return chat, n, nil
}

// outputText appends the text of a response.output_text.delta event.
func outputText(dst, data []byte) []byte {
	if !bytes.Contains(data, []byte(`"response.output_text.delta"`)) {
		return dst
	}
	var ev struct{ Type, Delta string }
	if json.Unmarshal(data, &ev) == nil && ev.Type == "response.output_text.delta" {
		dst = append(dst, ev.Delta...)
	}
	return dst
}

// newID is a fresh response id.
func newID() string {
	var b [24]byte
	rand.Read(b[:])
	return "resp_" + hex.EncodeToString(b[:])
}

// nativeBody rewrites the client's body for a native upstream: the prior
// conversation joins the input, and previous_response_id goes. Reasoning
// items without encrypted content are left out: an upstream can resolve
// only its own.
func nativeBody(body []byte, prior, input []json.RawMessage) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, wire.BodyError(err)
	}
	delete(m, "previous_response_id")
	items := make([]json.RawMessage, 0, len(prior)+len(input))
	for _, it := range prior {
		var h struct {
			Type             string `json:"type"`
			EncryptedContent string `json:"encrypted_content"`
		}
		if json.Unmarshal(it, &h) == nil && h.Type == "reasoning" && h.EncryptedContent == "" {
			continue
		}
		items = append(items, it)
	}
	items = append(items, input...)
	in, err := json.Marshal(items)
	if err != nil {
		return nil, err
	}
	m["input"] = in
	return json.Marshal(m)
}

// Header implements http.ResponseWriter.
func (x *exchange) Header() http.Header { return x.w.Header() }

// WriteHeader implements http.ResponseWriter: errors pass through (the
// Responses API shares OpenAI's error shape); answers are translated.
func (x *exchange) WriteHeader(code int) {
	if x.status != 0 {
		return
	}
	x.status = code
	h := x.w.Header()
	switch {
	case code != http.StatusOK || x.req == nil:
		x.mode = 'p'
		x.w.WriteHeader(code)
	case h.Get("Content-Type") == "text/event-stream":
		x.mode = 's'
		delete(h, "Content-Length")
		x.st = x.req.NewStream(x.id, time.Now().Unix())
		x.w.WriteHeader(code)
	default:
		x.mode = 'b'
	}
}

// Write implements http.ResponseWriter.
func (x *exchange) Write(p []byte) (int, error) {
	if x.status == 0 {
		x.WriteHeader(http.StatusOK)
	}
	switch x.mode {
	case 'p':
		return x.w.Write(p)
	case 'b':
		x.buf = append(x.buf, p...)
		return len(p), nil
	}
	x.buf = append(x.buf, p...)
	x.out = x.out[:0]
	for {
		i := bytes.Index(x.buf, []byte("\n\n"))
		if i < 0 {
			break
		}
		x.event(x.buf[:i])
		x.buf = x.buf[i+2:]
	}
	if len(x.buf) == 0 {
		x.buf = x.buf[:0:cap(x.buf)]
	}
	if len(x.out) > 0 {
		if _, err := x.w.Write(x.out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// event translates one chat SSE event (its data line).
func (x *exchange) event(ev []byte) {
	data, ok := bytes.CutPrefix(ev, []byte("data: "))
	if !ok {
		return
	}
	switch {
	case bytes.Equal(data, wire.Done):
		x.out = x.st.End(x.out)
		o := x.st.Object()
		x.stage(o, o.Marshal()) // before Write sends response.completed
	case isError(data):
		x.out = x.st.Fail(x.out, data)
	default:
		var err error
		if x.out, err = x.st.Chunk(x.out, data); err != nil {
			x.in.Log.Warn("responses: unreadable chat chunk", "err", err)
			e := wire.NewError(http.StatusBadGateway, wire.TypeUpstream, "upstream_error", "", "The upstream sent a chunk that could not be read.")
			x.out = x.st.Fail(x.out, e.Marshal())
		}
	}
}

// isError reports whether a stream event is OpenAI's error event.
func isError(data []byte) bool {
	if _, err := wire.Scan(data); err != nil {
		return false
	}
	sp := wire.Member(data, wire.Span{End: len(data)}, "error")
	return sp.Present() && data[sp.Start] == '{'
}

// stage makes the finished response (o, rendered as body) visible to the
// next turn before the client has it; Close writes it.
func (x *exchange) stage(o *rwire.Object, body []byte) {
	x.stageItems(o.ID, o.CreatedAt, o.Output, body)
}

func (x *exchange) stageItems(id string, createdAt int64, output []json.RawMessage, body []byte) {
	if !x.req.Store || x.record != nil {
		return
	}
	items := make([]json.RawMessage, 0, len(x.prior)+len(x.req.Input)+len(output))
	items = append(append(append(items, x.prior...), x.req.Input...), output...)
	x.record = &Record{ID: id, Project: Scope(x.key), Model: x.req.Model, PreviousID: x.req.PreviousResponseID,
		Input: x.req.Input, Items: items, Response: body, Created: time.Unix(createdAt, 0)}
	x.in.Store.Stage(x.record)
}

// Flush implements http.Flusher.
func (x *exchange) Flush() {
	if x.mode == 'b' {
		return
	}
	if f, ok := x.w.(http.Flusher); ok {
		f.Flush()
	}
}

// Close implements gateway.Exchange: a buffered answer is translated and
// written, then the finished response stored.
func (x *exchange) Close() {
	if x.mode == 'b' {
		x.writeObject()
	}
	if x.record == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := x.in.Store.Put(ctx, x.record); err != nil {
		x.in.Log.Warn("responses: storing the response failed", "id", x.record.ID, "err", err)
	}
}

func (x *exchange) writeObject() {
	h := x.w.Header()
	o, err := x.req.Complete(x.buf, x.id, time.Now().Unix())
	if err != nil {
		x.in.Log.Warn("responses: unreadable chat completion", "err", err)
		e := wire.NewError(http.StatusBadGateway, wire.TypeUpstream, "upstream_error", "", "The upstream's answer could not be read.")
		gateway.WriteError(x.w, e)
		return
	}
	body := o.Marshal()
	x.stage(o, body)
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	x.w.WriteHeader(http.StatusOK)
	x.w.Write(body)
	if f, ok := x.w.(http.Flusher); ok {
		f.Flush() // the client has it all before the store write
	}
}
