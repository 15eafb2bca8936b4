package anthropic

import (
	"strconv"

	wire "switchyard/internal/wire/openai"
)

type blockKind uint8

const (
	blockNone blockKind = iota
	blockText
	blockThinking
	blockTool
)

// Stream translates an OpenAI chat stream, one chunk payload at a time,
// into Anthropic Messages SSE frames. Text, reasoning_content and tool-call
// deltas become content blocks; string values are copied as raw JSON
// literals, never decoded, so a chunk costs a validating scan and no
// allocation once the destination buffer has grown.
//
// Tool calls are expected one after another by index (as OpenAI sends
// them): a new index, or a new id at the same index, closes the open block.
// A tool call that comes back after another one started cannot be
// expressed (Anthropic blocks do not interleave) and is an error.
//
// message_delta and message_stop are written by End, so a usage chunk that
// follows the finish_reason is counted.
type Stream struct {
	model, id string
	started   bool
	ended     bool
	open      blockKind
	next      int // index of the next Anthropic content block
	toolIdx   int64
	maxTool   int64
	toolID    []byte // raw JSON literal of the open tool call's id
	stop      string
	usage     messageUsage
}

// NewStream returns a translator for one response. model is written in
// message_start; id is the message id ("" derives msg_<chunk id> from the
// first chunk).
func NewStream(model, id string) *Stream {
	return &Stream{model: model, id: id, maxTool: -1, toolIdx: -1}
}

func startFrame(dst []byte, event string) []byte {
	dst = append(dst, "event: "...)
	dst = append(dst, event...)
	return append(dst, "\ndata: "...)
}

func endFrame(dst []byte) []byte { return append(dst, '\n', '\n') }

// Chunk appends the frames that one OpenAI chunk payload translates to.
// On error dst is returned as it was.
func (s *Stream) Chunk(dst, data []byte) ([]byte, error) {
	if s.ended {
		return dst, upstreamError("chat chunk after the end of the stream")
	}
	f, err := wire.Scan(data)
	if err != nil {
		return dst, upstreamError("chat chunk: " + bodyError(err).Message)
	}
	// The values are walked with wire.Iter, which does not validate
	// again: Scan has. (Fields has no id or choices.)
	var idSp, choices wire.Span
	for it := wire.NewIter(data, rootSpan(data)); ; {
		k, v, ok := it.Next()
		if !ok {
			break
		}
		switch string(k) {
		case "id":
			idSp = v
		case "choices":
			choices = v
		}
	}
	if f.Usage.Present() && data[f.Usage.Start] == '{' {
		s.readUsage(data, f.Usage)
	}
	mark := len(dst)
	if !s.started {
		if s.id == "" {
			id, _ := wire.String(data, idSp)
			s.id = "msg_" + id
		}
		dst = s.messageStart(dst)
	}
	if !choices.Present() || wire.Kind(data, choices) == "null" {
		return dst, nil
	}
	if data[choices.Start] != '[' {
		return dst[:mark], upstreamError("chat chunk: choices must be an array")
	}
	for it := wire.NewIter(data, choices); ; {
		_, c, ok := it.Next()
		if !ok {
			return dst, nil
		}
		var e *Error
		if dst, e = s.choice(dst, data, c); e != nil {
			return dst[:mark], e
		}
	}
}

func (s *Stream) messageStart(dst []byte) []byte {
	s.started = true
	if s.id == "" {
		s.id = "msg_gateway"
	}
	dst = startFrame(dst, "message_start")
	dst = append(dst, `{"type":"message_start","message":{"id":`...)
	dst = wire.AppendQuote(dst, s.id)
	dst = append(dst, `,"type":"message","role":"assistant","model":`...)
	dst = wire.AppendQuote(dst, s.model)
	dst = append(dst, `,"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":`...)
	dst = strconv.AppendInt(dst, s.usage.InputTokens, 10)
	dst = append(dst, `,"output_tokens":0,"cache_creation_input_tokens":`...)
	dst = strconv.AppendInt(dst, s.usage.CacheCreationInputTokens, 10)
	dst = append(dst, `,"cache_read_input_tokens":`...)
	dst = strconv.AppendInt(dst, s.usage.CacheReadInputTokens, 10)
	dst = append(dst, "}}}"...)
	dst = endFrame(dst)
	// Anthropic sends a ping after message_start; clients expect it.
	return append(dst, "event: ping\ndata: {\"type\":\"ping\"}\n\n"...)
}

// readUsage records an OpenAI usage object.
func (s *Stream) readUsage(data []byte, sp wire.Span) {
	var prompt, completion, read, write int64
	for it := wire.NewIter(data, sp); ; {
		k, v, ok := it.Next()
		if !ok {
			break
		}
		switch string(k) {
		case "prompt_tokens":
			prompt = atoi(data, v)
		case "completion_tokens":
			completion = atoi(data, v)
		case "prompt_tokens_details":
			for it := wire.NewIter(data, v); ; {
				k, v, ok := it.Next()
				if !ok {
					break
				}
				switch string(k) {
				case "cached_tokens":
					read = atoi(data, v)
				case "cache_write_tokens":
					write = atoi(data, v)
				}
			}
		}
	}
	s.usage = messageUsage{
		InputTokens:              max(prompt-read-write, 0),
		OutputTokens:             completion,
		CacheReadInputTokens:     read,
		CacheCreationInputTokens: write,
	}
}

// atoi reads a non-negative JSON integer without allocating; anything else
// is 0.
func atoi(data []byte, sp wire.Span) int64 {
	var n int64
	for i := sp.Start; i < sp.End; i++ {
		c := data[i]
		if c < '0' || c > '9' || n > (1<<62)/10 {
			return 0
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

func (s *Stream) choice(dst, data []byte, c wire.Span) ([]byte, *Error) {
	if data[c.Start] != '{' {
		return dst, upstreamError("chat chunk: a choice must be an object")
	}
	var delta, finish, idx wire.Span
	for it := wire.NewIter(data, c); ; {
		k, v, ok := it.Next()
		if !ok {
			break
		}
		switch string(k) {
		case "delta":
			delta = v
		case "finish_reason":
			finish = v
		case "index":
			idx = v
		}
	}
	if idx.Present() && atoi(data, idx) != 0 {
		return dst, upstreamError("chat chunk: only one choice can be translated")
	}
	if delta.Present() && data[delta.Start] == '{' {
		var reasoning, content, calls wire.Span
		for it := wire.NewIter(data, delta); ; {
			k, v, ok := it.Next()
			if !ok {
				break
			}
			switch string(k) {
			case "reasoning_content", "reasoning":
				reasoning = v
			case "content":
				content = v
			case "tool_calls":
				calls = v
			}
		}
		var e *Error
		if dst, e = s.text(dst, data, reasoning, blockThinking); e != nil {
			return dst, e
		}
		if dst, e = s.text(dst, data, content, blockText); e != nil {
			return dst, e
		}
		if calls.Present() && data[calls.Start] == '[' {
			for it := wire.NewIter(data, calls); ; {
				_, tc, ok := it.Next()
				if !ok {
					break
				}
				if dst, e = s.toolCall(dst, data, tc); e != nil {
					return dst, e
				}
			}
		}
	}
	if finish.Present() && data[finish.Start] == '"' {
		s.stop = stopReasonRaw(data[finish.Start+1 : finish.End-1])
		dst = s.closeBlock(dst)
	}
	return dst, nil
}

func stopReasonRaw(b []byte) string {
	switch string(b) {
	case "length":
		return "max_tokens"
	case "tool_calls", "function_call":
		return "tool_use"
	case "content_filter":
		return "refusal"
	}
	return "end_turn"
}

// text appends a text or thinking delta; sp is a JSON string or absent.
func (s *Stream) text(dst, data []byte, sp wire.Span, kind blockKind) ([]byte, *Error) {
	if !sp.Present() || data[sp.Start] == 'n' {
		return dst, nil
	}
	if data[sp.Start] != '"' {
		return dst, upstreamError("chat chunk: delta content must be a string")
	}
	if sp.End-sp.Start == 2 { // ""
		return dst, nil
	}
	if s.open != kind {
		dst = s.closeBlock(dst)
		dst = startFrame(dst, "content_block_start")
		dst = append(dst, `{"type":"content_block_start","index":`...)
		dst = strconv.AppendInt(dst, int64(s.next), 10)
		if kind == blockText {
			dst = append(dst, `,"content_block":{"type":"text","text":""}}`...)
		} else {
			dst = append(dst, `,"content_block":{"type":"thinking","thinking":""}}`...)
		}
		dst = endFrame(dst)
		s.open = kind
	}
	dst = startFrame(dst, "content_block_delta")
	dst = append(dst, `{"type":"content_block_delta","index":`...)
	dst = strconv.AppendInt(dst, int64(s.next), 10)
	if kind == blockText {
		dst = append(dst, `,"delta":{"type":"text_delta","text":`...)
	} else {
		dst = append(dst, `,"delta":{"type":"thinking_delta","thinking":`...)
	}
	dst = append(dst, data[sp.Start:sp.End]...)
	dst = append(dst, "}}"...)
	return endFrame(dst), nil
}

func (s *Stream) toolCall(dst, data []byte, tc wire.Span) ([]byte, *Error) {
	if data[tc.Start] != '{' {
		return dst, upstreamError("chat chunk: a tool call must be an object")
	}
	var idxSp, id, fn, name, args wire.Span
	for it := wire.NewIter(data, tc); ; {
		k, v, ok := it.Next()
		if !ok {
			break
		}
		switch string(k) {
		case "index":
			idxSp = v
		case "id":
			id = v
		case "function":
			fn = v
		}
	}
	if fn.Present() && data[fn.Start] == '{' {
		for it := wire.NewIter(data, fn); ; {
			k, v, ok := it.Next()
			if !ok {
				break
			}
			switch string(k) {
			case "name":
				name = v
			case "arguments":
				args = v
			}
		}
	}
	idx := s.toolIdx
	if idxSp.Present() {
		idx = atoi(data, idxSp)
	} else if idx < 0 {
		idx = 0
	}
	hasID := id.Present() && data[id.Start] == '"' && id.End-id.Start > 2
	newCall := s.open != blockTool || idx != s.toolIdx || (hasID && string(data[id.Start:id.End]) != string(s.toolID))
	if newCall {
		if idx != s.toolIdx && idx <= s.maxTool {
			return dst, upstreamError("chat chunk: tool call " + strconv.FormatInt(idx, 10) + " resumed after another one began")
		}
		if !name.Present() || data[name.Start] != '"' || name.End-name.Start <= 2 {
			return dst, upstreamError("chat chunk: a new tool call has no function name")
		}
		dst = s.closeBlock(dst)
		s.toolIdx, s.maxTool = idx, max(s.maxTool, idx)
		dst = startFrame(dst, "content_block_start")
		dst = append(dst, `{"type":"content_block_start","index":`...)
		dst = strconv.AppendInt(dst, int64(s.next), 10)
		dst = append(dst, `,"content_block":{"type":"tool_use","id":`...)
		if hasID {
			s.toolID = append(s.toolID[:0], data[id.Start:id.End]...)
		} else {
			s.toolID = append(s.toolID[:0], `"toolu_`...)
			s.toolID = strconv.AppendInt(s.toolID, int64(s.next), 10)
			s.toolID = append(s.toolID, '"')
		}
		dst = append(dst, s.toolID...)
		dst = append(dst, `,"name":`...)
		dst = append(dst, data[name.Start:name.End]...)
		dst = append(dst, `,"input":{}}}`...)
		dst = endFrame(dst)
		s.open = blockTool
	}
	if args.Present() && data[args.Start] == '"' && args.End-args.Start > 2 {
		dst = startFrame(dst, "content_block_delta")
		dst = append(dst, `{"type":"content_block_delta","index":`...)
		dst = strconv.AppendInt(dst, int64(s.next), 10)
		dst = append(dst, `,"delta":{"type":"input_json_delta","partial_json":`...)
		dst = append(dst, data[args.Start:args.End]...)
		dst = append(dst, "}}"...)
		dst = endFrame(dst)
	} else if args.Present() && data[args.Start] != '"' && data[args.Start] != 'n' {
		return dst, upstreamError("chat chunk: tool call arguments must be a string")
	}
	return dst, nil
}

func (s *Stream) closeBlock(dst []byte) []byte {
	if s.open == blockNone {
		return dst
	}
	dst = startFrame(dst, "content_block_stop")
	dst = append(dst, `{"type":"content_block_stop","index":`...)
	dst = strconv.AppendInt(dst, int64(s.next), 10)
	dst = append(dst, '}')
	dst = endFrame(dst)
	s.open = blockNone
	s.next++
	return dst
}

// End appends the closing frames: the open block's stop, message_delta
// with the stop reason and usage, and message_stop. Later calls append
// nothing.
func (s *Stream) End(dst []byte) []byte {
	if s.ended {
		return dst
	}
	if !s.started {
		dst = s.messageStart(dst)
	}
	s.ended = true
	dst = s.closeBlock(dst)
	stop := s.stop
	if stop == "" {
		stop = "end_turn"
	}
	dst = startFrame(dst, "message_delta")
	dst = append(dst, `{"type":"message_delta","delta":{"stop_reason":"`...)
	dst = append(dst, stop...)
	dst = append(dst, `","stop_sequence":null},"usage":{"input_tokens":`...)
	dst = strconv.AppendInt(dst, s.usage.InputTokens, 10)
	dst = append(dst, `,"output_tokens":`...)
	dst = strconv.AppendInt(dst, s.usage.OutputTokens, 10)
	dst = append(dst, `,"cache_creation_input_tokens":`...)
	dst = strconv.AppendInt(dst, s.usage.CacheCreationInputTokens, 10)
	dst = append(dst, `,"cache_read_input_tokens":`...)
	dst = strconv.AppendInt(dst, s.usage.CacheReadInputTokens, 10)
	dst = append(dst, "}}"...)
	dst = endFrame(dst)
	dst = startFrame(dst, "message_stop")
	dst = append(dst, `{"type":"message_stop"}`...)
	return endFrame(dst)
}

// Error appends an "error" event carrying e; it ends the stream.
func (s *Stream) Error(dst []byte, e *Error) []byte {
	s.ended = true
	dst = startFrame(dst, "error")
	dst = appendErrorBody(dst, e)
	return endFrame(dst)
}
