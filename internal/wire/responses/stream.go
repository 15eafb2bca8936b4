package responses

import (
	"encoding/json"
	"errors"
	"strconv"

	wire "switchyard/internal/wire/openai"
)

// Stream translates one chat completion stream into Responses stream
// events. Chunk takes each chunk's data payload; End follows the last one
// ([DONE]); Fail ends the stream with an error instead. Each appends the
// events, framed as SSE ("event: <type>\ndata: {...}\n\n"), to dst.
//
// The model's text is carried as raw JSON string content, never decoded:
// the deltas are copied into the events as they came, and the item's full
// text is the concatenation of their escaped contents.
type Stream struct {
	obj     *Object
	seq     int64
	items   []streamItem
	msg     int   // index in items of the open message, or -1
	rsn     int   // index in items of the open reasoning item, or -1
	tools   []int // by chat tool-call index: index in items, or -1
	finish  string
	usage   *chatUsage
	started bool
	ended   bool
	scratch []byte
}

type streamItem struct {
	kind   byte   // 'm' message, 'r' reasoning, 'f' function call
	id     string // item id
	text   []byte // escaped content of the text, summary or arguments so far
	callID string
	name   []byte // escaped name
	open   bool
}

// NewStream starts the translation of a streamed answer to r, as response id.
func (r *Request) NewStream(id string, createdAt int64) *Stream {
	return &Stream{obj: r.NewObject(id, createdAt), msg: -1, rsn: -1}
}

// Object is the response as streamed so far; after End or Fail, the final
// one (output and usage filled in).
func (s *Stream) Object() *Object { return s.obj }

// Ended reports whether End or Fail was called.
func (s *Stream) Ended() bool { return s.ended }

// event appends one event whose JSON body (without the leading '{' and
// the type and sequence number) is rest.
func (s *Stream) event(dst []byte, typ string, rest []byte) []byte {
	dst = append(dst, "event: "...)
	dst = append(dst, typ...)
	dst = append(dst, "\ndata: {\"type\":\""...)
	dst = append(dst, typ...)
	dst = append(dst, "\",\"sequence_number\":"...)
	dst = strconv.AppendInt(dst, s.seq, 10)
	s.seq++
	if len(rest) > 0 {
		dst = append(dst, ',')
		dst = append(dst, rest...)
	}
	return append(dst, "}\n\n"...)
}

// eventJSON is event with members from v (an object), marshalled.
func (s *Stream) eventJSON(dst []byte, typ string, v any) []byte {
	b, _ := marshal(v)
	return s.event(dst, typ, b[1:len(b)-1])
}

func (s *Stream) start(dst []byte) []byte {
	s.started = true
	dst = s.eventJSON(dst, "response.created", struct {
		Response *Object `json:"response"`
	}{s.obj})
	return s.eventJSON(dst, "response.in_progress", struct {
		Response *Object `json:"response"`
	}{s.obj})
}

// Errors in chunks.
var errChunk = errors.New("responses: unreadable chat chunk")

// Chunk translates one chat completion chunk.
func (s *Stream) Chunk(dst, data []byte) ([]byte, error) {
	if s.ended {
		return dst, nil
	}
	f, err := wire.Scan(data)
	if err != nil {
		return dst, errors.Join(errChunk, err)
	}
	if !s.started {
		if m, ok := wire.String(data, f.Model); ok && m != "" {
			s.obj.Model = m
		}
		dst = s.start(dst)
	}
	if f.Usage.Present() && data[f.Usage.Start] == '{' {
		var u chatUsage
		if json.Unmarshal(data[f.Usage.Start:f.Usage.End], &u) == nil {
			s.usage = &u
		}
	}
	choices := wire.Member(data, wire.Span{End: len(data)}, "choices")
	if wire.Kind(data, choices) != "array" {
		return dst, nil
	}
	var choice wire.Span
	wire.Each(data, choices, func(_ []byte, v wire.Span) bool { choice = v; return false })
	if wire.Kind(data, choice) != "object" {
		return dst, nil
	}
	var delta, finish wire.Span
	wire.Each(data, choice, func(k []byte, v wire.Span) bool {
		switch string(k) {
		case "delta":
			delta = v
		case "finish_reason":
			finish = v
		}
		return true
	})
	if wire.Kind(data, delta) == "object" {
		var content, reasoning, toolCalls wire.Span
		wire.Each(data, delta, func(k []byte, v wire.Span) bool {
			switch string(k) {
			case "content":
				content = v
			case "reasoning_content", "reasoning":
				if !reasoning.Present() || v.End-v.Start > 2 {
					reasoning = v
				}
			case "tool_calls":
				toolCalls = v
			}
			return true
		})
		if r := rawString(data, reasoning); len(r) > 0 {
			dst = s.reasoningDelta(dst, r)
		}
		if c := rawString(data, content); len(c) > 0 {
			dst = s.textDelta(dst, c)
		}
		if wire.Kind(data, toolCalls) == "array" {
			wire.Each(data, toolCalls, func(_ []byte, tc wire.Span) bool {
				dst, err = s.toolDelta(dst, data, tc)
				return err == nil
			})
			if err != nil {
				return dst, err
			}
		}
	}
	if r, ok := wire.String(data, finish); ok {
		s.finish = r
	}
	return dst, nil
}

// rawString is the escaped content of the JSON string at sp (nil when sp
// is not a string).
func rawString(body []byte, sp wire.Span) []byte {
	if !sp.Present() || body[sp.Start] != '"' {
		return nil
	}
	return body[sp.Start+1 : sp.End-1]
}

func (s *Stream) add(dst []byte, it streamItem, item any) []byte {
	s.items = append(s.items, it)
	s.scratch = append(s.scratch[:0], `"output_index":`...)
	s.scratch = strconv.AppendInt(s.scratch, int64(len(s.items)-1), 10)
	b, _ := marshal(item)
	s.scratch = append(s.scratch, `,"item":`...)
	s.scratch = append(s.scratch, b...)
	return s.event(dst, "response.output_item.added", s.scratch)
}

// head appends the item_id and output_index members of item i.
func (s *Stream) head(i int) []byte {
	s.scratch = append(s.scratch[:0], `"item_id":"`...)
	s.scratch = append(s.scratch, s.items[i].id...)
	s.scratch = append(s.scratch, `","output_index":`...)
	s.scratch = strconv.AppendInt(s.scratch, int64(i), 10)
	return s.scratch
}

func (s *Stream) reasoningDelta(dst, raw []byte) []byte {
	if s.rsn < 0 {
		dst = s.closeMessage(dst)
		id := itemID("rs", s.obj.ID, len(s.items))
		dst = s.add(dst, streamItem{kind: 'r', id: id, open: true}, outReasoning{Type: "reasoning", ID: id, Summary: []summaryText{}})
		s.rsn = len(s.items) - 1
		b := append(s.head(s.rsn), `,"summary_index":0,"part":{"type":"summary_text","text":""}`...)
		dst = s.event(dst, "response.reasoning_summary_part.added", b)
	}
	it := &s.items[s.rsn]
	it.text = append(it.text, raw...)
	b := append(s.head(s.rsn), `,"summary_index":0,"delta":"`...)
	b = append(b, raw...)
	s.scratch = append(b, '"')
	return s.event(dst, "response.reasoning_summary_text.delta", s.scratch)
}

func (s *Stream) textDelta(dst, raw []byte) []byte {
	if s.msg < 0 {
		dst = s.closeReasoning(dst)
		id := itemID("msg", s.obj.ID, len(s.items))
		dst = s.add(dst, streamItem{kind: 'm', id: id, open: true},
			outMessage{Type: "message", ID: id, Status: "in_progress", Role: "assistant", Content: []any{}})
		s.msg = len(s.items) - 1
		b := append(s.head(s.msg), `,"content_index":0,"part":{"type":"output_text","text":"","annotations":[],"logprobs":[]}`...)
		dst = s.event(dst, "response.content_part.added", b)
	}
	if len(raw) == 0 {
		return dst
	}
	it := &s.items[s.msg]
	it.text = append(it.text, raw...)
	b := append(s.head(s.msg), `,"content_index":0,"delta":"`...)
	b = append(b, raw...)
	s.scratch = append(b, `","logprobs":[]`...)
	return s.event(dst, "response.output_text.delta", s.scratch)
}

func (s *Stream) toolDelta(dst, data []byte, tc wire.Span) ([]byte, error) {
	if wire.Kind(data, tc) != "object" {
		return dst, errors.Join(errChunk, errors.New("a tool call delta that is not an object"))
	}
	var index, id, fn wire.Span
	wire.Each(data, tc, func(k []byte, v wire.Span) bool {
		switch string(k) {
		case "index":
			index = v
		case "id":
			id = v
		case "function":
			fn = v
		}
		return true
	})
	var name, args []byte
	if wire.Kind(data, fn) == "object" {
		wire.Each(data, fn, func(k []byte, v wire.Span) bool {
			switch string(k) {
			case "name":
				name = rawString(data, v)
			case "arguments":
				args = rawString(data, v)
			}
			return true
		})
	}
	n, ok := wire.Int(data, index)
	if !index.Present() {
		n, ok = int64(len(s.tools)-1), true // one call at a time, no index
		if n < 0 || id.Present() {
			n++
		}
	}
	if !ok || n < 0 || n > 1024 {
		return dst, errors.Join(errChunk, errors.New("a tool call delta with a bad index"))
	}
	for int(n) >= len(s.tools) {
		s.tools = append(s.tools, -1)
	}
	if s.tools[n] < 0 {
		dst = s.closeReasoning(s.closeMessage(dst))
		fid := itemID("fc", s.obj.ID, len(s.items))
		callID, _ := wire.String(data, id)
		if callID == "" {
			callID = itemID("call", s.obj.ID, int(n))
		}
		it := streamItem{kind: 'f', id: fid, callID: callID, name: append([]byte(nil), name...), open: true}
		dst = s.add(dst, it, outCall{Type: "function_call", ID: fid, CallID: callID, Name: quoted(name),
			Arguments: json.RawMessage(`""`), Status: "in_progress"})
		s.tools[n] = len(s.items) - 1
	} else if len(name) > 0 && len(s.items[s.tools[n]].name) == 0 {
		s.items[s.tools[n]].name = append(s.items[s.tools[n]].name, name...)
	}
	i := s.tools[n]
	if len(args) > 0 {
		s.items[i].text = append(s.items[i].text, args...)
		b := append(s.head(i), `,"delta":"`...)
		b = append(b, args...)
		s.scratch = append(b, '"')
		dst = s.event(dst, "response.function_call_arguments.delta", s.scratch)
	}
	return dst, nil
}

// quoted makes a JSON string from escaped content.
func quoted(raw []byte) json.RawMessage {
	b := make([]byte, 0, len(raw)+2)
	b = append(b, '"')
	b = append(b, raw...)
	return append(b, '"')
}

func (s *Stream) closeMessage(dst []byte) []byte {
	if s.msg < 0 {
		return dst
	}
	i := s.msg
	s.msg = -1
	it := &s.items[i]
	it.open = false
	text := quoted(it.text)
	b := append(s.head(i), `,"content_index":0,"text":`...)
	b = append(b, text...)
	s.scratch = append(b, `,"logprobs":[]`...)
	dst = s.event(dst, "response.output_text.done", s.scratch)
	part, _ := marshal(newText(text))
	b = append(s.head(i), `,"content_index":0,"part":`...)
	s.scratch = append(b, part...)
	dst = s.event(dst, "response.content_part.done", s.scratch)
	return s.itemDone(dst, i)
}

func (s *Stream) closeReasoning(dst []byte) []byte {
	if s.rsn < 0 {
		return dst
	}
	i := s.rsn
	s.rsn = -1
	it := &s.items[i]
	it.open = false
	text := quoted(it.text)
	b := append(s.head(i), `,"summary_index":0,"text":`...)
	s.scratch = append(b, text...)
	dst = s.event(dst, "response.reasoning_summary_text.done", s.scratch)
	b = append(s.head(i), `,"summary_index":0,"part":{"type":"summary_text","text":`...)
	b = append(b, text...)
	s.scratch = append(b, '}')
	dst = s.event(dst, "response.reasoning_summary_part.done", s.scratch)
	return s.itemDone(dst, i)
}

func (s *Stream) closeCall(dst []byte, i int) []byte {
	it := &s.items[i]
	if !it.open {
		return dst
	}
	it.open = false
	b := append(s.head(i), `,"name":`...)
	b = append(b, quoted(it.name)...)
	b = append(b, `,"arguments":`...)
	s.scratch = append(b, quoted(it.text)...)
	dst = s.event(dst, "response.function_call_arguments.done", s.scratch)
	return s.itemDone(dst, i)
}

// final is item i as it stands in the finished response.
func (s *Stream) final(i int) json.RawMessage {
	it := &s.items[i]
	var v any
	switch it.kind {
	case 'm':
		status := "completed"
		if s.finish == "length" {
			status = "incomplete"
		}
		v = outMessage{Type: "message", ID: it.id, Status: status, Role: "assistant", Content: []any{newText(quoted(it.text))}}
	case 'r':
		v = outReasoning{Type: "reasoning", ID: it.id, Summary: []summaryText{{Type: "summary_text", Text: quoted(it.text)}}}
	default:
		v = outCall{Type: "function_call", ID: it.id, CallID: it.callID, Name: quoted(it.name), Arguments: quoted(it.text), Status: "completed"}
	}
	b, _ := marshal(v)
	return b
}

func (s *Stream) itemDone(dst []byte, i int) []byte {
	s.scratch = append(s.scratch[:0], `"output_index":`...)
	s.scratch = strconv.AppendInt(s.scratch, int64(i), 10)
	s.scratch = append(s.scratch, `,"item":`...)
	s.scratch = append(s.scratch, s.final(i)...)
	return s.event(dst, "response.output_item.done", s.scratch)
}

// End closes the open items and appends response.completed (or
// response.incomplete when the answer was cut short), with the final
// object.
func (s *Stream) End(dst []byte) []byte {
	if s.ended {
		return dst
	}
	if !s.started {
		dst = s.start(dst)
	}
	s.ended = true
	if len(s.items) == 0 {
		dst = s.textDelta(dst, nil) // an empty answer is still a message
	}
	dst = s.closeReasoning(s.closeMessage(dst))
	for _, i := range s.tools {
		if i >= 0 {
			dst = s.closeCall(dst, i)
		}
	}
	s.obj.Output = make([]json.RawMessage, len(s.items))
	for i := range s.items {
		s.obj.Output[i] = s.final(i)
	}
	s.obj.finish(s.finish, s.usage)
	typ := "response.completed"
	if s.obj.Status == "incomplete" {
		typ = "response.incomplete"
	}
	return s.eventJSON(dst, typ, struct {
		Response *Object `json:"response"`
	}{s.obj})
}

// Fail ends the stream with an OpenAI error (as its envelope body): an
// error event, then response.failed with the object as it stood.
func (s *Stream) Fail(dst []byte, body []byte) []byte {
	if s.ended {
		return dst
	}
	if !s.started {
		dst = s.start(dst)
	}
	s.ended = true
	code, msg := errorOf(body)
	dst = s.eventJSON(dst, "error", errorEvent{code, msg, nil})
	s.obj.Status = "failed"
	s.obj.Error = &ObjectError{Code: code, Message: msg}
	s.obj.Output = make([]json.RawMessage, len(s.items))
	for i := range s.items {
		s.obj.Output[i] = s.final(i)
	}
	s.obj.Usage = s.usage.usage()
	return s.eventJSON(dst, "response.failed", struct {
		Response *Object `json:"response"`
	}{s.obj})
}

type errorEvent struct {
	Code    string  `json:"code"`
	Message string  `json:"message"`
	Param   *string `json:"param"`
}

// errorOf reads the code and message of an OpenAI error envelope.
func errorOf(body []byte) (code, msg string) {
	var env struct {
		Error struct {
			Message string          `json:"message"`
			Type    string          `json:"type"`
			Code    json.RawMessage `json:"code"`
		} `json:"error"`
	}
	json.Unmarshal(body, &env)
	e := env.Error
	code, msg = e.Type, e.Message
	var c string
	if json.Unmarshal(e.Code, &c) == nil && c != "" {
		code = c
	}
	if code == "" {
		code = "server_error"
	}
	if msg == "" {
		msg = "The response failed."
	}
	return code, msg
}

// AppendError appends the Responses "error" stream event, with sequence
// number seq, for an OpenAI error envelope body (a native stream's end).
func AppendError(dst []byte, seq int64, body []byte) []byte {
	s := Stream{seq: seq}
	code, msg := errorOf(body)
	return s.eventJSON(dst, "error", errorEvent{code, msg, nil})
}
