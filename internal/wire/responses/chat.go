package responses

import (
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"

	wire "switchyard/internal/wire/openai"
)

// chatWriter appends chat messages. The last message is left open (no
// closing brace, and its tool_calls array open) so that the function
// calls after an assistant message join it, as chat wants them.
type chatWriter struct {
	out       []byte
	n         int  // messages written
	open      bool // the last message is not closed
	assistant bool // it is an assistant message
	calls     bool // its tool_calls array is open
}

// start opens a message of role; its content follows.
func (w *chatWriter) start(role string) {
	w.close()
	if w.n > 0 {
		w.out = append(w.out, ',')
	}
	w.n++
	w.out = append(w.out, `{"role":"`...)
	w.out = append(w.out, role...)
	w.out = append(w.out, `","content":`...)
	w.open, w.assistant, w.calls = true, role == "assistant", false
}

// close ends the open message.
func (w *chatWriter) close() {
	if !w.open {
		return
	}
	if w.calls {
		w.out = append(w.out, ']')
	}
	w.out = append(w.out, '}')
	w.open = false
}

var (
	itemNames = []string{"type", "role", "content", "call_id", "name", "arguments", "output"}
	itemKinds = []kind{kStr, kStr, kRaw, kStr, kStr, kPtr, kRaw}
	partNames = []string{"type", "text", "refusal", "image_url", "file_id", "detail"}
	partKinds = []kind{kStr, kPtr, kPtr, kPtr, kPtr, kStr}
)

const (
	iType = iota
	iRole
	iContent
	iCallID
	iName
	iArguments
	iOutput
)

const (
	pType = iota
	pText
	pRefusal
	pImageURL
	pFileID
	pDetail
)

// item appends the chat messages of the input item at sp. easy marks an
// item without a type of its own, which is a message.
func (w *chatWriter) item(b []byte, ix *wire.Index, sp wire.Span, p param, easy bool) error {
	var f [7]wire.Span
	if !fields(b, ix, sp, itemNames, itemKinds, f[:]) {
		return wrongType(p.String(), "an input item object")
	}
	typ := strOf(b, f[iType])
	if easy && !f[iType].Present() {
		typ = []byte("message")
	}
	switch string(typ) {
	case "message":
		return w.message(b, ix, &f, p)
	case "function_call":
		if !filled(b, f[iCallID]) {
			return missing(p.sub(".call_id"))
		}
		if !filled(b, f[iName]) {
			return missing(p.sub(".name"))
		}
		if !set(b, f[iArguments]) {
			return missing(p.sub(".arguments"))
		}
		if w.open && w.assistant {
			if w.calls {
				w.out = append(w.out, ',')
			} else {
				w.out = append(w.out, `,"tool_calls":[`...)
			}
		} else {
			w.start("assistant")
			w.out = append(w.out, `null,"tool_calls":[`...)
		}
		w.calls = true
		w.out = append(w.out, `{"id":`...)
		w.out = appendStr(w.out, b, f[iCallID])
		w.out = append(w.out, `,"type":"function","function":{"name":`...)
		w.out = appendStr(w.out, b, f[iName])
		w.out = append(w.out, `,"arguments":`...)
		w.out = appendStr(w.out, b, f[iArguments])
		w.out = append(w.out, "}}"...)
		return nil
	case "function_call_output":
		if !filled(b, f[iCallID]) {
			return missing(p.sub(".call_id"))
		}
		return w.toolOutput(b, ix, f[iOutput], f[iCallID], p)
	case "reasoning":
		// The model's earlier reasoning: chat completions take none back.
		return nil
	case "":
		return missing(p.sub(".type"))
	}
	return unsupported(p.sub(".type"), "Input items of type '"+string(typ)+"' are not supported by this gateway.")
}

// filled reports whether the string member at sp is set and not "".
func filled(b []byte, sp wire.Span) bool { return set(b, sp) && sp.End-sp.Start > 2 }

// message translates a message item.
func (w *chatWriter) message(b []byte, ix *wire.Index, f *[7]wire.Span, p param) error {
	var role string
	switch r := strOf(b, f[iRole]); string(r) {
	case "user", "assistant", "system":
		role = string(r)
	case "developer":
		role = "system" // the same instruction role, in the form every chat upstream takes
	case "":
		return missing(p.sub(".role"))
	default:
		return invalid(p.sub(".role"), "Invalid value: '"+string(r)+"'. Supported values are: 'user', 'assistant', 'system' and 'developer'.")
	}
	content := f[iContent]
	if !set(b, content) {
		return missing(p.sub(".content"))
	}
	if b[content.Start] == '"' {
		w.start(role)
		w.out = append(w.out, b[content.Start:content.End]...)
		return nil
	}
	if b[content.Start] != '[' {
		return wrongType(p.sub(".content"), "a string or an array of content parts")
	}
	partErr := func(j int) string { return p.sub(".content[" + strconv.Itoa(j) + "]") }
	if role == "assistant" {
		// Text parts join in content, refusals in refusal: check them
		// all and write the text, then the refusals.
		w.start(role)
		quote := len(w.out)
		w.out = append(w.out, '"')
		text, refusal := false, false
		it := ix.Iter(b, content)
		for j := 0; ; j++ {
			_, v, ok := it.Next()
			if !ok {
				break
			}
			var pf [6]wire.Span
			if !fields(b, ix, v, partNames, partKinds, pf[:]) {
				return wrongType(partErr(j), "a content part object")
			}
			switch t := strOf(b, pf[pType]); string(t) {
			case "output_text", "input_text":
				if !set(b, pf[pText]) {
					return missing(partErr(j) + ".text")
				}
				raw := inner(b, pf[pText])
				text = text || len(raw) > 0
				w.out = appendCanon(w.out, raw)
			case "refusal":
				if !set(b, pf[pRefusal]) {
					return missing(partErr(j) + ".refusal")
				}
				refusal = refusal || pf[pRefusal].End-pf[pRefusal].Start > 2
			default:
				return invalid(partErr(j)+".type", "Assistant message parts must be 'output_text' or 'refusal', not '"+string(t)+"'.")
			}
		}
		if !text && refusal {
			w.out = append(w.out[:quote], "null"...)
		} else {
			w.out = append(w.out, '"')
		}
		if refusal {
			w.out = append(w.out, `,"refusal":"`...)
			for it := ix.Iter(b, content); ; {
				_, v, ok := it.Next()
				if !ok {
					break
				}
				var pf [6]wire.Span
				fields(b, ix, v, partNames, partKinds, pf[:])
				if isStr(b, pf[pType], "refusal") {
					w.out = appendCanon(w.out, inner(b, pf[pRefusal]))
				}
			}
			w.out = append(w.out, '"')
		}
		return nil
	}
	w.start(role)
	start := len(w.out)
	w.out = append(w.out, '[')
	n := 0
	var text wire.Span // where the text of a lone text part lies in out
	it := ix.Iter(b, content)
	for j := 0; ; j++ {
		_, v, ok := it.Next()
		if !ok {
			break
		}
		var pf [6]wire.Span
		if !fields(b, ix, v, partNames, partKinds, pf[:]) {
			return wrongType(partErr(j), "a content part object")
		}
		if n > 0 {
			w.out = append(w.out, ',')
		}
		switch t := strOf(b, pf[pType]); string(t) {
		case "input_text", "output_text":
			if !set(b, pf[pText]) {
				return missing(partErr(j) + ".text")
			}
			w.out = append(w.out, `{"type":"text","text":`...)
			text.Start = len(w.out)
			w.out = appendStr(w.out, b, pf[pText])
			text.End = len(w.out)
			w.out = append(w.out, '}')
			if n > 0 {
				text = wire.Span{}
			}
		case "input_image":
			if role != "user" {
				return invalid(partErr(j)+".type", "Only user messages may carry images.")
			}
			if set(b, pf[pFileID]) {
				return unsupported(partErr(j)+".file_id", "Images by file_id are not supported by this gateway; send image_url (a URL or a data: URL).")
			}
			if !filled(b, pf[pImageURL]) {
				return missing(partErr(j) + ".image_url")
			}
			w.out = append(w.out, `{"type":"image_url","image_url":{"url":`...)
			w.out = appendStr(w.out, b, pf[pImageURL])
			if d := pf[pDetail]; d.Present() && d.End-d.Start > 2 && !isStr(b, d, "auto") {
				w.out = append(w.out, `,"detail":`...)
				w.out = appendStr(w.out, b, d)
			}
			w.out = append(w.out, "}}"...)
			text = wire.Span{}
		case "":
			return missing(partErr(j) + ".type")
		default:
			return unsupported(partErr(j)+".type", "Content parts of type '"+string(t)+"' are not supported by this gateway.")
		}
		n++
	}
	if n == 1 && text.Present() {
		// A lone text part is plain string content.
		w.out = append(w.out[:start], w.out[text.Start:text.End]...)
		return nil
	}
	w.out = append(w.out, ']')
	return nil
}

// toolOutput appends the tool message of a function call's output (at
// sp) for the call id at id.
func (w *chatWriter) toolOutput(b []byte, ix *wire.Index, sp, id wire.Span, p param) error {
	if !set(b, sp) {
		return missing(p.sub(".output"))
	}
	if b[sp.Start] == '"' {
		w.start("tool")
		w.out = append(w.out, b[sp.Start:sp.End]...)
	} else {
		if b[sp.Start] != '[' {
			return wrongType(p.sub(".output"), "a string or an array of input_text parts")
		}
		// encoding/json decoded the whole array before any part was read.
		for it := ix.Iter(b, sp); ; {
			_, v, ok := it.Next()
			if !ok {
				break
			}
			var pf [6]wire.Span
			if !fields(b, ix, v, partNames, partKinds, pf[:]) {
				return wrongType(p.sub(".output"), "a string or an array of input_text parts")
			}
		}
		w.start("tool")
		w.out = append(w.out, '"')
		it := ix.Iter(b, sp)
		for j := 0; ; j++ {
			_, v, ok := it.Next()
			if !ok {
				break
			}
			var pf [6]wire.Span
			fields(b, ix, v, partNames, partKinds, pf[:])
			if t := strOf(b, pf[pType]); string(t) != "input_text" {
				pp := p.sub(".output[" + strconv.Itoa(j) + "]")
				return unsupported(pp+".type", "Function call outputs of type '"+string(t)+"' are not supported by this gateway (chat tool messages carry text).")
			}
			if !set(b, pf[pText]) {
				return missing(p.sub(".output["+strconv.Itoa(j)+"]") + ".text")
			}
			w.out = appendCanon(w.out, inner(b, pf[pText]))
		}
		w.out = append(w.out, '"')
	}
	w.out = append(w.out, `,"tool_call_id":`...)
	w.out = appendStr(w.out, b, id)
	return nil
}

// Chat translates the request into a chat completions body. prior is the
// conversation so far (the stored items of previous_response_id: its
// inputs and outputs, oldest first); this turn's instructions lead as a
// system message. Reasoning items are not sent: chat completions take no
// reasoning back. metadata and store are the Responses API's own (echoed
// in the object, kept by the store) and are not sent upstream, where
// chat's metadata and store mean OpenAI's stored chat completions.
//
// Tools, tool_choice and text.format go as Parse translated them, and so
// do the Input items when there is no prior and Input still holds the
// items Parse set. Other items are validated with wire.ScanIndexed and
// walked through spans; the body is appended directly.
func (r *Request) Chat(prior []json.RawMessage) ([]byte, error) {
	size := 256 + len(r.Model) + len(r.tools) + len(r.pre)
	for _, it := range prior {
		size += len(it)
	}
	for _, it := range r.Input {
		size += len(it)
	}
	w := chatWriter{out: make([]byte, 0, size)}
	w.out = append(w.out, `{"model":`...)
	w.out = appendString(w.out, r.Model)
	w.out = append(w.out, `,"messages":[`...)
	if r.Instructions != nil && *r.Instructions != "" {
		w.start("system")
		w.out = appendString(w.out, *r.Instructions)
	}
	ix := indexes.Get().(*wire.Index)
	defer indexes.Put(ix)
	for _, it := range prior {
		if err := w.stored(it, ix, param{"previous_response_id", -1}); err != nil {
			return nil, err
		}
	}
	if len(prior) == 0 && r.parsedInput() {
		// Parse translated these very items, with nothing before them
		// that a function call could join.
		w.close()
		if w.n > 0 && r.nMsgs > 0 {
			w.out = append(w.out, ',')
		}
		w.out = append(w.out, r.msgs...)
		w.n += r.nMsgs
	} else {
		for i, it := range r.Input {
			if err := w.stored(it, ix, param{"input", i}); err != nil {
				return nil, err
			}
		}
	}
	if w.n == 0 {
		return nil, invalid("input", "The input has no messages to send to the model.")
	}
	w.close()
	out := append(w.out, ']')
	if r.nTools > 0 {
		out = append(out, `,"tools":[`...)
		out = append(out, r.tools...)
		out = append(out, ']')
	}
	if r.choice.Present() {
		out = append(out, `,"tool_choice":`...)
		out = append(out, r.pre[r.choice.Start:r.choice.End]...)
	}
	if r.ParallelToolCalls != nil && r.nTools > 0 { // chat refuses it without tools
		out = append(out, `,"parallel_tool_calls":`...)
		out = strconv.AppendBool(out, *r.ParallelToolCalls)
	}
	if r.Temperature != nil {
		out = appendFloat(append(out, `,"temperature":`...), *r.Temperature)
	}
	if r.TopP != nil {
		out = appendFloat(append(out, `,"top_p":`...), *r.TopP)
	}
	if r.MaxOutputTokens != nil {
		out = strconv.AppendInt(append(out, `,"max_completion_tokens":`...), *r.MaxOutputTokens, 10)
	}
	if r.Text != nil && r.format.Present() {
		out = append(out, `,"response_format":`...)
		out = append(out, r.pre[r.format.Start:r.format.End]...)
	}
	opt := func(key string, s *string) {
		if s != nil {
			out = append(out, key...)
			out = appendString(out, *s)
		}
	}
	if r.Reasoning != nil {
		opt(`,"reasoning_effort":`, r.Reasoning.Effort)
	}
	if r.Text != nil {
		opt(`,"verbosity":`, r.Text.Verbosity)
	}
	opt(`,"user":`, r.User)
	opt(`,"prompt_cache_key":`, r.PromptCacheKey)
	opt(`,"safety_identifier":`, r.SafetyIdentifier)
	opt(`,"service_tier":`, r.ServiceTier)
	if r.Stream {
		out = append(out, `,"stream":true,"stream_options":{"include_usage":true}`...)
	}
	return append(out, '}'), nil
}

// parsedInput reports whether Input holds the items Parse translated into
// msgs (the shadow copy of their slices says).
func (r *Request) parsedInput() bool {
	if r.msgs == nil || len(r.Input) != len(r.shadow) {
		return false
	}
	for i, it := range r.Input {
		sh := r.shadow[i]
		if len(it) != len(sh) || len(it) == 0 || &it[0] != &sh[0] {
			return false
		}
	}
	return true
}

// stored appends the messages of one item of the conversation, checking
// it first: a stored item is JSON that nothing here has scanned.
func (w *chatWriter) stored(raw []byte, ix *wire.Index, p param) error {
	if !utf8.Valid(raw) {
		// encoding/json read each invalid byte as U+FFFD.
		raw = []byte(string([]rune(string(raw))))
	}
	if _, err := wire.ScanIndexed(raw, ix); err != nil {
		if errors.Is(err, wire.ErrNotObject) && string(raw[rootSpan(raw).Start:rootSpan(raw).End]) == "null" {
			return missing(p.sub(".type")) // null decoded as an item with no type
		}
		return wrongType(p.String(), "an input item object")
	}
	return w.item(raw, ix, rootSpan(raw), p, false)
}
