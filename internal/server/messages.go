package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"switchyard/internal/call"
	"switchyard/internal/gateway"
	"switchyard/internal/metering/tokenize"
	"switchyard/internal/provider"
	"switchyard/internal/tenancy"
	"switchyard/internal/wire/anthropic"
	wire "switchyard/internal/wire/openai"
)

// messagesAPI is the provider.NativeRequest API of Anthropic's Messages.
const messagesAPI = "anthropic.messages"

// messagesIngress serves Anthropic's Messages API (POST /v1/messages) as
// chat calls: any public model answers it, by translation both ways, and
// a deployment of the anthropic provider gets the client's bytes as sent.
type messagesIngress struct{}

func (messagesIngress) Route() string { return "messages" }

func (messagesIngress) Begin(w http.ResponseWriter, r *http.Request) gateway.Exchange {
	return &messagesExchange{w: w, reqHeader: r.Header, id: "msg_" + gateway.CallID(r.Context())}
}

// messagesExchange translates one call's OpenAI answer into Anthropic's.
type messagesExchange struct {
	w         http.ResponseWriter
	reqHeader http.Header
	id        string
	info      anthropic.Info
	status    int // 0 until the gateway writes a header
	sse       bool
	buf       []byte // a non-stream body, or a stream's partial event
	st        *anthropic.Stream
	ended     bool // the stream's closing or error frames are written
	usage     call.Usage
	// in, read, write are a native stream's prompt counts so far.
	in, read, write int64
}

func (x *messagesExchange) Header() http.Header { return x.w.Header() }

func (x *messagesExchange) WriteHeader(code int) {
	if x.status != 0 {
		return
	}
	x.status = code
	h := x.w.Header()
	delete(h, "Content-Length") // the translation has its own length
	if code == http.StatusOK && h.Get("Content-Type") == "text/event-stream" {
		x.sse = true
		x.st = anthropic.NewStream(x.info.Model, x.id)
		x.w.WriteHeader(code)
	}
}

func (x *messagesExchange) Write(p []byte) (int, error) {
	if x.status == 0 {
		x.WriteHeader(http.StatusOK)
	}
	if !x.sse {
		x.buf = append(x.buf, p...)
		return len(p), nil
	}
	x.buf = append(x.buf, p...)
	var out []byte
	for {
		i := bytes.Index(x.buf, eventEnd)
		if i < 0 {
			break
		}
		ev := x.buf[:i]
		out = x.event(out, ev)
		x.buf = x.buf[i+len(eventEnd):]
	}
	if len(x.buf) == 0 {
		x.buf = x.buf[:0:0]
	}
	if len(out) > 0 {
		if _, err := x.w.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

var eventEnd = []byte("\n\n")

// event translates one OpenAI SSE event (its "data: " line).
func (x *messagesExchange) event(out, ev []byte) []byte {
	if x.ended {
		return out
	}
	data, ok := bytes.CutPrefix(ev, []byte("data: "))
	if !ok {
		return out
	}
	if bytes.Equal(data, wire.Done) {
		x.ended = true
		return x.st.End(out)
	}
	if f, err := wire.Scan(data); err == nil && isErrorEvent(data, f) {
		x.ended = true
		return x.st.Error(out, anthropic.ErrorFromOpenAI(streamErrorStatus(data), data))
	}
	out, err := x.st.Chunk(out, data)
	if err != nil {
		x.ended = true
		return x.st.Error(out, &anthropic.Error{Status: http.StatusBadGateway, Type: "api_error",
			Message: "The upstream's stream could not be translated: " + err.Error()})
	}
	return out
}

// isErrorEvent reports whether an SSE payload is the gateway's error
// event ({"error": {...}}) rather than a chunk.
func isErrorEvent(data []byte, f wire.Fields) bool {
	return !f.Model.Present() && wire.Member(data, wire.Span{End: len(data)}, "error").Present()
}

// streamErrorStatus is the status an error event stands for: its code
// says whether the client's call was refused (the output policy) or the
// upstream failed.
func streamErrorStatus(data []byte) int {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	json.Unmarshal(data, &e)
	switch e.Error.Code {
	case "content_policy_violation":
		return http.StatusBadRequest
	case "upstream_timeout":
		return http.StatusGatewayTimeout
	case "rate_limit_exceeded":
		return http.StatusTooManyRequests
	}
	return http.StatusBadGateway
}

func (x *messagesExchange) Flush() {
	if f, ok := x.w.(http.Flusher); ok && x.sse {
		f.Flush()
	}
}

// Request translates the Messages body into a chat body.
func (x *messagesExchange) Request(_ context.Context, _ *tenancy.Key, body []byte) ([]byte, *call.Native, error) {
	chat, info, err := anthropic.ToChat(body)
	var chatErr error
	if err != nil {
		// Well formed but not expressible in chat (a document block, a
		// server tool…): a deployment speaking Anthropic's API may still
		// serve it as sent; the steps act on the lenient view.
		lenient, linfo, lerr := anthropic.LenientChat(body)
		if lerr != nil {
			return nil, nil, apiErrorOf(err)
		}
		chat, info, chatErr = lenient, linfo, apiErrorOf(err)
	}
	x.info = info
	n := &call.Native{API: messagesAPI, Path: "/messages", Body: body, Header: anthropicHeaders(x.reqHeader),
		Usage: x.nativeUsage, Frame: anthropic.AppendEvent, StreamError: nativeStreamError, Text: anthropicText,
		EventErr: anthropicEventErr, ChatErr: chatErr, W: x.w}
	return chat, n, nil
}

// nativeUsage reads Anthropic usage from a native answer or event. A
// stream's message_start holds the prompt's counts and message_delta the
// final ones (cumulative; a field it leaves out keeps its earlier value,
// so each count is the largest seen). Usage counts as reported only from
// a whole message or a message_delta: a stream cut before its end is
// metered from the text the client got, not from message_start's output
// count of 1.
func (x *messagesExchange) nativeUsage(data []byte) (call.Usage, bool) {
	u, ok := anthropic.ReadUsage(data)
	if !ok {
		return x.usage, false
	}
	x.in, x.read, x.write = max(x.in, u.Input), max(x.read, u.CacheRead), max(x.write, u.CacheWrite)
	x.usage.PromptTokens = x.in + x.read + x.write
	x.usage.PromptDetails.CachedTokens = x.read
	x.usage.PromptDetails.CacheWriteTokens = x.write
	x.usage.CompletionTokens = max(x.usage.CompletionTokens, u.Output)
	final := !bytes.Contains(data, []byte(`"message_start"`))
	return x.usage, final
}

// anthropicEventErr is a native stream's error event as the error it
// stands for (overloaded_error: 529, counted as unavailable).
func anthropicEventErr(data []byte) error {
	if !bytes.Contains(data, []byte(`"error"`)) {
		return nil
	}
	var ev struct{ Type string }
	if json.Unmarshal(data, &ev) != nil || ev.Type != "error" {
		return nil
	}
	e := anthropic.ParseError(0, data)
	return &provider.StatusError{Status: e.Status, Body: data}
}

// anthropicText appends the text of a content_block_delta event.
func anthropicText(dst, data []byte) []byte {
	if !bytes.Contains(data, []byte(`"text_delta"`)) {
		return dst
	}
	var ev struct {
		Delta struct {
			Type, Text string
		}
	}
	if json.Unmarshal(data, &ev) == nil && ev.Delta.Type == "text_delta" {
		dst = append(dst, ev.Delta.Text...)
	}
	return dst
}

func nativeStreamError(dst []byte, status int, body []byte) []byte {
	return anthropic.NewStream("", "").Error(dst, anthropic.ErrorFromOpenAI(status, body))
}

// anthropicHeaders are the client's headers that Anthropic's API defines.
func anthropicHeaders(h http.Header) http.Header {
	out := http.Header{}
	for _, k := range [...]string{"Anthropic-Version", "Anthropic-Beta"} {
		if v := h.Values(k); len(v) > 0 {
			out[k] = v
		}
	}
	return out
}

// apiErrorOf turns a translation error into the API error the gateway
// writes (and the exchange renders in Anthropic's shape again).
func apiErrorOf(err error) error {
	var ae *anthropic.Error
	if errors.As(err, &ae) {
		return wire.NewError(ae.Status, wire.TypeInvalidRequest, "invalid_request", "", ae.Message)
	}
	return wire.Invalid("", err.Error())
}

// Close writes a buffered answer in Anthropic's shape.
func (x *messagesExchange) Close() {
	if x.sse || x.status <= 0 {
		return
	}
	h := x.w.Header()
	h["Content-Type"] = []string{"application/json"}
	if x.status == http.StatusOK {
		out, err := anthropic.FromChat(x.buf, x.info.Model)
		if err == nil {
			h["Content-Length"] = []string{strconv.Itoa(len(out))}
			x.w.WriteHeader(http.StatusOK)
			x.w.Write(out)
			return
		}
		x.status, x.buf = http.StatusBadGateway, wire.NewError(http.StatusBadGateway, wire.TypeUpstream, "upstream_error", "",
			"The upstream's answer could not be translated: "+err.Error()).Marshal()
	}
	e := anthropic.ErrorFromOpenAI(x.status, x.buf)
	out := e.Body()
	h["Content-Length"] = []string{strconv.Itoa(len(out))}
	x.w.WriteHeader(e.Status)
	x.w.Write(out)
}

// countTokens serves POST /v1/messages/count_tokens: a deployment that
// speaks Anthropic's API counts natively; any other model is counted with
// its tokenizer (the one the meter uses) on the translated request.
func (s *Server) countTokens(w http.ResponseWriter, r *http.Request) {
	x := &messagesExchange{w: w, reqHeader: r.Header}
	defer x.Close()
	fail := func(err error) { gateway.WriteError(x, err) }
	k, err := s.gw.Authenticate(r, time.Now())
	if err != nil {
		fail(err)
		return
	}
	body, err := gateway.ReadBody(w, r, s.Config().Server.MaxBodyBytes)
	if err != nil {
		fail(err)
		return
	}
	// count_tokens takes a Messages request without max_tokens.
	probe := body
	if f, err := wire.Scan(body); err == nil && !f.MaxTokens.Present() {
		if i := bytes.IndexByte(body, '{'); i >= 0 {
			probe = append(append(append([]byte{}, body[:i+1]...), `"max_tokens":1,`...), body[i+1:]...)
			if bytes.HasPrefix(bytes.TrimLeft(body[i+1:], " \t\r\n"), []byte("}")) {
				probe = append(append([]byte{}, body[:i+1]...), `"max_tokens":1}`...)
			}
		}
	}
	if k.Role == tenancy.RoleUser {
		fail(wire.NewError(http.StatusForbidden, wire.TypePermission, "insufficient_permissions", "",
			"A user key manages the platform through /api; call /v1 with a project key."))
		return
	}
	chat, info, err := anthropic.ToChat(probe)
	var chatErr error
	if err != nil { // as in Request: only a native deployment may count it
		lenient, linfo, lerr := anthropic.LenientChat(probe)
		if lerr != nil {
			fail(apiErrorOf(err))
			return
		}
		chat, info, chatErr = lenient, linfo, apiErrorOf(err)
	}
	m, ok := s.router.Catalog().Model(info.Model)
	if !ok || !k.Allows(info.Model) {
		fail(wire.NewError(http.StatusNotFound, wire.TypeNotFound, "model_not_found", "model",
			"The model `"+info.Model+"` does not exist or you do not have access to it."))
		return
	}
	for _, d := range m.Deployments {
		if !provider.SupportsNative(d.Provider, messagesAPI) {
			continue
		}
		nb := body
		if f, err := wire.Scan(body); err == nil && f.Model.Present() && d.Upstream != info.Model {
			nb = wire.AppendReplaced(nil, body, f.Model, d.Upstream)
		}
		resp, err := d.Provider.(provider.Native).DoNative(r.Context(), &provider.NativeRequest{API: messagesAPI,
			Path: "/messages/count_tokens", Body: nb, RequestID: r.Header.Get(gateway.HeaderRequestID), Header: anthropicHeaders(r.Header)})
		if err != nil {
			var se *provider.StatusError
			switch {
			case errors.As(err, &se) && (se.Status == http.StatusUnauthorized || se.Status == http.StatusForbidden):
				// The deployment's own credentials: the operator's problem.
				fail(wire.NewError(http.StatusBadGateway, wire.TypeUpstream, "upstream_error", "",
					"Deployment "+d.ID+" was refused by its upstream (status "+strconv.Itoa(se.Status)+")."))
				return
			case errors.As(err, &se) && se.Status >= 400 && se.Status < 500 && se.Status != http.StatusTooManyRequests:
				fail(wire.NewError(se.Status, wire.TypeInvalidRequest, "", "", provider.UpstreamMessage(se.Body)))
				return
			}
			continue // another deployment, or the local count
		}
		x.status = -1 // written natively
		w.Header().Set("Content-Type", "application/json")
		w.Write(resp.Body)
		return
	}
	if chatErr != nil {
		fail(chatErr)
		return
	}
	cfg := s.Config()
	tok, err := tokenize.NewMapper(cfg.Metering.Tokenizers, cfg.Metering.DefaultTokenizer)
	if err != nil {
		fail(err)
		return
	}
	n, err := tokenize.CountChatRequest(tok.For(info.Model), chat)
	if err != nil {
		fail(wire.Invalid("messages", "The messages could not be counted: "+err.Error()))
		return
	}
	x.status = -1
	writeJSON(w, http.StatusOK, map[string]int{"input_tokens": n})
}
