package anthropic

import (
	"strconv"
	"sync"

	wire "switchyard/internal/wire/openai"
)

// Info is what the gateway needs to know of a Messages request.
type Info struct {
	Model     string
	Stream    bool
	MaxTokens int
}

// effortFor maps Anthropic's thinking budget to OpenAI's reasoning_effort:
// under 4,096 tokens low, under 16,384 medium, else high; adaptive
// thinking without a budget is medium.
func effortFor(typ string, budget int64) string {
	switch {
	case typ == "adaptive" && budget == 0:
		return "medium"
	case budget < 4096:
		return "low"
	case budget < 16384:
		return "medium"
	}
	return "high"
}

const upstreamNote = "on an OpenAI-compatible upstream"

// The members ToChat reads, by object; the index constants follow them.
var (
	topNames = []string{"model", "max_tokens", "system", "messages", "tools", "tool_choice", "temperature",
		"top_p", "top_k", "stop_sequences", "stream", "metadata", "thinking", "service_tier"}
	thinkingNames = []string{"type", "budget_tokens"}
	metadataNames = []string{"user_id"}
	messageNames  = []string{"role", "content"}
	// blockNames covers every content block type ToChat takes; each type
	// allows the subset in its mask below.
	blockNames  = []string{"type", "text", "cache_control", "source", "tool_use_id", "content", "is_error", "id", "name", "input"}
	sourceNames = []string{"type", "media_type", "data", "url"}
	toolNames   = []string{"type", "name", "description", "input_schema", "cache_control", "strict"}
	choiceNames = []string{"type", "name", "disable_parallel_tool_use"}
)

const (
	tModel = iota
	tMaxTokens
	tSystem
	tMessages
	tTools
	tToolChoice
	tTemperature
	tTopP
	tTopK
	tStop
	tStream
	tMetadata
	tThinking
	tServiceTier
	nTop
)

const (
	bType = iota
	bText
	bCacheControl
	bSource
	bToolUseID
	bContent
	bIsError
	bID
	bName
	bInput
	nBlock
)

const (
	maskText       = 1<<bType | 1<<bText | 1<<bCacheControl
	maskImage      = 1<<bType | 1<<bSource | 1<<bCacheControl
	maskToolResult = 1<<bType | 1<<bToolUseID | 1<<bContent | 1<<bIsError | 1<<bCacheControl
	maskToolUse    = 1<<bType | 1<<bID | 1<<bName | 1<<bInput | 1<<bCacheControl
)

// part is one pending part of a user chat message.
type part struct {
	image bool
	a, b  wire.Span // text; or image URL, or base64 media type and data
	b64   bool
}

// aBlock is one block of an assistant message, text or tool call.
type aBlock struct {
	call           bool
	text           wire.Span
	id, name, args wire.Span
}

// indexes holds container indexes (a few hundred bytes each) for reuse.
var indexes = sync.Pool{New: func() any { return new(wire.Index) }}

// toChat is the state of one ToChat call.
type toChat struct {
	b      []byte // the Messages request
	ix     *wire.Index
	out    []byte
	nMsg   int // chat messages written
	parts  []part
	blocks []aBlock
}

// ToChat translates an Anthropic Messages request into an OpenAI chat body.
// Any error is an *Error naming the offending field.
//
// It validates the body once with wire.Scan, then walks it through spans
// and appends the chat body directly: schemas, tool inputs, numbers and
// strings are copied as raw JSON (compacted and made HTML-safe, as
// encoding/json wrote them), never decoded and re-encoded.
func ToChat(body []byte) (chat []byte, info Info, err error) {
	ix := indexes.Get().(*wire.Index)
	defer indexes.Put(ix)
	if _, err := wire.ScanIndexed(body, ix); err != nil {
		return nil, info, bodyError(err)
	}
	c := toChat{b: body, ix: ix, out: make([]byte, 0, len(body)+128)}
	info, e := c.request()
	if e != nil {
		return nil, Info{}, e
	}
	return c.out, info, nil
}

func (c *toChat) request() (Info, *Error) {
	b := c.b
	var info Info
	var f [nTop]wire.Span
	if extra, has := members(b, c.ix, rootSpan(b), topNames, f[:]); has {
		return info, invalid(string(extra), "is not supported "+upstreamNote)
	}
	if _, e := str(b, nil, "model", f[tModel], true); e != nil {
		return info, e
	}
	mt, ok, e := integer(b, nil, "max_tokens", f[tMaxTokens])
	if e != nil {
		return info, e
	}
	if !ok {
		return info, invalid("max_tokens", "is required")
	}
	if mt < 1 {
		return info, invalid("max_tokens", "must be at least 1")
	}
	stream, e := boolean(b, nil, "stream", f[tStream])
	if e != nil {
		return info, e
	}
	effort, e := c.thinking(f[tThinking])
	if e != nil {
		return info, e
	}
	if e := number(b, nil, "temperature", f[tTemperature]); e != nil {
		return info, e
	}
	if e := number(b, nil, "top_p", f[tTopP]); e != nil {
		return info, e
	}
	topK, hasTopK, e := integer(b, nil, "top_k", f[tTopK])
	if e != nil {
		return info, e
	}
	nStop := 0
	if sp := f[tStop]; !null(b, sp) {
		if b[sp.Start] != '[' {
			return info, invalid("stop_sequences", "must be an array, not "+kind(b, sp))
		}
		for it := c.ix.Iter(b, sp); ; nStop++ {
			_, v, ok := it.Next()
			if !ok {
				break
			}
			if b[v.Start] != '"' {
				return info, invalid(index("stop_sequences", nStop), "must be a string")
			}
		}
	}
	var user wire.Span
	if sp := f[tMetadata]; !null(b, sp) {
		p := &path{key: "metadata"}
		if b[sp.Start] != '{' {
			return info, p.err("must be an object, not " + kind(b, sp))
		}
		var m [1]wire.Span
		extra, has := members(b, c.ix, sp, metadataNames, m[:])
		if has {
			return info, p.errAt(string(extra), "is not supported "+upstreamNote)
		}
		if ok, e := str(b, p, "user_id", m[0], false); e != nil {
			return info, e
		} else if ok {
			user = m[0]
		}
	}

	c.out = append(c.out, `{"model":`...)
	c.out = appendStr(c.out, b, f[tModel])
	c.out = append(c.out, `,"messages":[`...)
	if sp := f[tSystem]; !null(b, sp) {
		if e := c.system(sp); e != nil {
			return info, e
		}
	}
	if e := c.messages(f[tMessages]); e != nil {
		return info, e
	}
	c.out = append(c.out, `],"max_tokens":`...)
	c.out = strconv.AppendInt(c.out, mt, 10)
	if sp := f[tTemperature]; !null(b, sp) {
		c.out = append(c.out, `,"temperature":`...)
		c.out = append(c.out, b[sp.Start:sp.End]...)
	}
	if sp := f[tTopP]; !null(b, sp) {
		c.out = append(c.out, `,"top_p":`...)
		c.out = append(c.out, b[sp.Start:sp.End]...)
	}
	if hasTopK {
		c.out = append(c.out, `,"top_k":`...)
		c.out = strconv.AppendInt(c.out, topK, 10)
	}
	if nStop > 0 {
		c.out = append(c.out, `,"stop":[`...)
		it := c.ix.Iter(b, f[tStop])
		for i := 0; ; i++ {
			_, v, ok := it.Next()
			if !ok {
				break
			}
			if i > 0 {
				c.out = append(c.out, ',')
			}
			c.out = appendStr(c.out, b, v)
		}
		c.out = append(c.out, ']')
	}
	if sp := f[tTools]; !null(b, sp) {
		if e := c.tools(sp); e != nil {
			return info, e
		}
	}
	if sp := f[tToolChoice]; !null(b, sp) {
		if e := c.toolChoice(sp); e != nil {
			return info, e
		}
	}
	if user.End-user.Start > 2 {
		c.out = append(c.out, `,"user":`...)
		c.out = appendStr(c.out, b, user)
	}
	if stream {
		c.out = append(c.out, `,"stream":true,"stream_options":{"include_usage":true}`...)
	}
	if effort != "" {
		c.out = append(c.out, `,"reasoning_effort":"`...)
		c.out = append(c.out, effort...)
		c.out = append(c.out, '"')
	}
	c.out = append(c.out, '}')
	model, _ := wire.String(b, f[tModel])
	return Info{Model: model, Stream: stream, MaxTokens: int(min(mt, 1<<31-1))}, nil
}

// thinking reads "thinking" as OpenAI's reasoning_effort. OpenAI's
// reasoning models take an effort, not a token budget: the budget picks
// the effort (coding agents send thinking, and must work on OpenAI-shaped
// reasoning models).
func (c *toChat) thinking(sp wire.Span) (string, *Error) {
	b := c.b
	if null(b, sp) {
		return "", nil
	}
	p := &path{key: "thinking"}
	if b[sp.Start] != '{' {
		return "", p.err("must be an object, not " + kind(b, sp))
	}
	var f [2]wire.Span
	members(b, c.ix, sp, thinkingNames, f[:])
	if _, e := str(b, p, "type", f[0], true); e != nil {
		return "", e
	}
	switch typ := string(strBytes(b, f[0])); typ {
	case "disabled":
		return "", nil
	case "enabled", "adaptive":
		budget, _, e := integer(b, p, "budget_tokens", f[1])
		if e != nil {
			return "", e
		}
		return effortFor(typ, budget), nil
	default:
		return "", p.errAt("type", "unknown thinking type "+strconv.Quote(typ)+" (want enabled, adaptive or disabled)")
	}
}

// sep separates chat messages.
func (c *toChat) sep() {
	if c.nMsg > 0 {
		c.out = append(c.out, ',')
	}
	c.nMsg++
}

// system writes "system" (a string or an array of text blocks, joined
// with "\n") as a system message.
func (c *toChat) system(sp wire.Span) *Error {
	b := c.b
	c.sep()
	c.out = append(c.out, `{"role":"system","content":`...)
	if b[sp.Start] == '"' {
		c.out = appendStr(c.out, b, sp)
		c.out = append(c.out, '}')
		return nil
	}
	if b[sp.Start] != '[' {
		return invalid("system", "must be a string or an array of text blocks")
	}
	c.out = append(c.out, '"')
	sys := path{key: "system"}
	it := c.ix.Iter(b, sp)
	for i := 0; ; i++ {
		_, v, ok := it.Next()
		if !ok {
			break
		}
		p := &path{up: &sys, i: i}
		if b[v.Start] != '{' {
			return p.err("must be an object, not " + kind(b, v))
		}
		var f [nBlock]wire.Span
		extra, has := members(b, c.ix, v, blockNames, f[:])
		if _, e := str(b, p, "type", f[bType], true); e != nil {
			return e
		}
		if typ := strBytes(b, f[bType]); string(typ) != "text" {
			return p.errAt("type", "system blocks must be text, not "+string(typ))
		}
		if e := only(p, upstreamNote, blockNames, f[:], maskText, extra, has); e != nil {
			return e
		}
		if _, e := str(b, p, "text", f[bText], true); e != nil {
			return e
		}
		if i > 0 {
			c.out = append(c.out, '\\', 'n')
		}
		c.out = appendInner(c.out, b, f[bText])
	}
	c.out = append(c.out, `"}`...)
	return nil
}

func (c *toChat) messages(sp wire.Span) *Error {
	b := c.b
	if !sp.Present() {
		return invalid("messages", "is required")
	}
	if b[sp.Start] != '[' {
		return invalid("messages", "must be an array, not "+kind(b, sp))
	}
	if isEmpty(b, sp) {
		return invalid("messages", "must not be empty")
	}
	msgs := path{key: "messages"}
	it := c.ix.Iter(b, sp)
	for i := 0; ; i++ {
		_, v, ok := it.Next()
		if !ok {
			return nil
		}
		p := path{up: &msgs, i: i}
		if e := c.message(v, &p); e != nil {
			return e
		}
	}
}

// message translates one Anthropic message into one or more chat messages
// (a user turn's tool results become "tool" messages).
func (c *toChat) message(sp wire.Span, p *path) *Error {
	b := c.b
	if b[sp.Start] != '{' {
		return p.err("must be an object, not " + kind(b, sp))
	}
	var f [2]wire.Span
	if extra, has := members(b, c.ix, sp, messageNames, f[:]); has {
		return p.errAt(string(extra), "is not supported in a message")
	}
	if _, e := str(b, p, "role", f[0], true); e != nil {
		return e
	}
	role := strBytes(b, f[0])
	assistant := string(role) == "assistant"
	if !assistant && string(role) != "user" {
		return p.errAt("role", `must be "user" or "assistant", not "`+string(role)+`"`)
	}
	cp := path{up: p, key: "content"}
	content := f[1]
	if !content.Present() {
		return cp.err("is required")
	}
	if b[content.Start] == '"' {
		c.sep()
		if assistant {
			c.out = append(c.out, `{"role":"assistant","content":`...)
		} else {
			c.out = append(c.out, `{"role":"user","content":`...)
		}
		c.out = appendStr(c.out, b, content)
		c.out = append(c.out, '}')
		return nil
	}
	if b[content.Start] != '[' {
		return cp.err("must be a string or an array of content blocks")
	}
	if isEmpty(b, content) {
		return cp.err("must not be empty")
	}
	if assistant {
		return c.assistant(content, &cp)
	}
	return c.user(content, &cp)
}

// block reads a content block's members and type.
func (c *toChat) block(sp wire.Span, p *path, f *[nBlock]wire.Span) (typ []byte, extra []byte, has bool, e *Error) {
	b := c.b
	if b[sp.Start] != '{' {
		return nil, nil, false, p.err("must be an object, not " + kind(b, sp))
	}
	extra, has = members(b, c.ix, sp, blockNames, f[:])
	if _, e := str(b, p, "type", f[bType], true); e != nil {
		return nil, nil, false, e
	}
	return strBytes(b, f[bType]), extra, has, nil
}

func (c *toChat) user(sp wire.Span, cp *path) *Error {
	b := c.b
	c.parts = c.parts[:0]
	it := c.ix.Iter(b, sp)
	for i := 0; ; i++ {
		_, v, ok := it.Next()
		if !ok {
			break
		}
		p := &path{up: cp, i: i}
		var f [nBlock]wire.Span
		typ, extra, has, e := c.block(v, p, &f)
		if e != nil {
			return e
		}
		switch string(typ) {
		case "text":
			if e := only(p, upstreamNote, blockNames, f[:], maskText, extra, has); e != nil {
				return e
			}
			if _, e := str(b, p, "text", f[bText], true); e != nil {
				return e
			}
			c.parts = append(c.parts, part{a: f[bText]})
		case "image":
			if e := only(p, upstreamNote, blockNames, f[:], maskImage, extra, has); e != nil {
				return e
			}
			pt, e := c.image(f[bSource], p)
			if e != nil {
				return e
			}
			c.parts = append(c.parts, pt)
		case "tool_result":
			if e := only(p, upstreamNote, blockNames, f[:], maskToolResult, extra, has); e != nil {
				return e
			}
			if _, e := str(b, p, "tool_use_id", f[bToolUseID], true); e != nil {
				return e
			}
			rp := path{up: p, key: "content"}
			if e := c.checkResult(f[bContent], &rp); e != nil {
				return e
			}
			isErr, e := boolean(b, p, "is_error", f[bIsError])
			if e != nil {
				return e
			}
			c.flush()
			c.toolResult(f[bToolUseID], f[bContent], isErr)
		case "tool_use", "thinking", "redacted_thinking":
			return p.errAt("type", string(typ)+" blocks belong in assistant messages")
		default:
			return p.errAt("type", "content blocks of type "+string(typ)+" are not supported "+upstreamNote)
		}
	}
	c.flush()
	return nil
}

// flush writes the pending parts as one user message: a string for a
// single text part, else an array of parts.
func (c *toChat) flush() {
	if len(c.parts) == 0 {
		return
	}
	b := c.b
	c.sep()
	c.out = append(c.out, `{"role":"user","content":`...)
	if len(c.parts) == 1 && !c.parts[0].image {
		c.out = appendStr(c.out, b, c.parts[0].a)
		c.out = append(c.out, '}')
		c.parts = c.parts[:0]
		return
	}
	c.out = append(c.out, '[')
	for i, pt := range c.parts {
		if i > 0 {
			c.out = append(c.out, ',')
		}
		switch {
		case !pt.image:
			c.out = append(c.out, `{"type":"text","text":`...)
			c.out = appendStr(c.out, b, pt.a)
			c.out = append(c.out, '}')
		case pt.b64:
			c.out = append(c.out, `{"type":"image_url","image_url":{"url":"data:`...)
			c.out = appendInner(c.out, b, pt.a)
			c.out = append(c.out, ";base64,"...)
			c.out = appendInner(c.out, b, pt.b)
			c.out = append(c.out, `"}}`...)
		default:
			c.out = append(c.out, `{"type":"image_url","image_url":{"url":`...)
			c.out = appendStr(c.out, b, pt.a)
			c.out = append(c.out, `}}`...)
		}
	}
	c.out = append(c.out, "]}"...)
	c.parts = c.parts[:0]
}

// image reads an image block's source as an image_url part.
func (c *toChat) image(sp wire.Span, bp *path) (part, *Error) {
	b := c.b
	p := &path{up: bp, key: "source"}
	if kind(b, sp) != "object" {
		return part{}, p.err("must be an object, not " + kind(b, sp))
	}
	var f [4]wire.Span
	extra, has := members(b, c.ix, sp, sourceNames, f[:])
	if _, e := str(b, p, "type", f[0], true); e != nil {
		return part{}, e
	}
	switch typ := strBytes(b, f[0]); string(typ) {
	case "base64":
		if e := only(p, upstreamNote, sourceNames, f[:], 1<<0|1<<1|1<<2, extra, has); e != nil {
			return part{}, e
		}
		if _, e := str(b, p, "media_type", f[1], true); e != nil {
			return part{}, e
		}
		if _, e := str(b, p, "data", f[2], true); e != nil {
			return part{}, e
		}
		return part{image: true, b64: true, a: f[1], b: f[2]}, nil
	case "url":
		if e := only(p, upstreamNote, sourceNames, f[:], 1<<0|1<<3, extra, has); e != nil {
			return part{}, e
		}
		if _, e := str(b, p, "url", f[3], true); e != nil {
			return part{}, e
		}
		return part{image: true, a: f[3]}, nil
	default:
		return part{}, p.errAt("type", "image sources of type "+string(typ)+" are not supported "+upstreamNote)
	}
}

// checkResult validates a tool_result's content: absent, null, a string,
// or an array of text blocks.
func (c *toChat) checkResult(sp wire.Span, rp *path) *Error {
	b := c.b
	if null(b, sp) || b[sp.Start] == '"' {
		return nil
	}
	if b[sp.Start] != '[' {
		return rp.err("must be a string or an array of text blocks")
	}
	it := c.ix.Iter(b, sp)
	for i := 0; ; i++ {
		_, v, ok := it.Next()
		if !ok {
			return nil
		}
		p := &path{up: rp, i: i}
		var f [nBlock]wire.Span
		typ, extra, has, e := c.block(v, p, &f)
		if e != nil {
			return e
		}
		if string(typ) != "text" {
			return p.errAt("type", "tool results of type "+string(typ)+" are not supported "+upstreamNote)
		}
		if e := only(p, upstreamNote, blockNames, f[:], maskText, extra, has); e != nil {
			return e
		}
		if _, e := str(b, p, "text", f[bText], true); e != nil {
			return e
		}
	}
}

// toolResult writes a validated tool_result as a tool message; its text
// blocks are joined with "\n", and an error result starts "Error: ".
func (c *toChat) toolResult(id, content wire.Span, isErr bool) {
	b := c.b
	c.sep()
	c.out = append(c.out, `{"role":"tool","content":"`...)
	if isErr {
		c.out = append(c.out, "Error: "...)
	}
	switch {
	case null(b, content):
	case b[content.Start] == '"':
		c.out = appendInner(c.out, b, content)
	default:
		it := c.ix.Iter(b, content)
		for i := 0; ; i++ {
			_, v, ok := it.Next()
			if !ok {
				break
			}
			if i > 0 {
				c.out = append(c.out, '\\', 'n')
			}
			var f [nBlock]wire.Span
			members(b, c.ix, v, blockNames, f[:])
			c.out = appendInner(c.out, b, f[bText])
		}
	}
	c.out = append(c.out, '"')
	if id.End-id.Start > 2 {
		c.out = append(c.out, `,"tool_call_id":`...)
		c.out = appendStr(c.out, b, id)
	}
	c.out = append(c.out, '}')
}

func (c *toChat) assistant(sp wire.Span, cp *path) *Error {
	b := c.b
	c.blocks = c.blocks[:0]
	nText, nCall := 0, 0
	join := false // a text after the first starts with a \u escape
	it := c.ix.Iter(b, sp)
	for i := 0; ; i++ {
		_, v, ok := it.Next()
		if !ok {
			break
		}
		p := &path{up: cp, i: i}
		var f [nBlock]wire.Span
		typ, extra, has, e := c.block(v, p, &f)
		if e != nil {
			return e
		}
		switch string(typ) {
		case "text":
			if e := only(p, upstreamNote, blockNames, f[:], maskText, extra, has); e != nil {
				return e
			}
			if _, e := str(b, p, "text", f[bText], true); e != nil {
				return e
			}
			if nText > 0 && startsWithEscape(b[f[bText].Start+1:f[bText].End-1]) {
				join = true
			}
			nText++
			c.blocks = append(c.blocks, aBlock{text: f[bText]})
		case "tool_use":
			if e := only(p, upstreamNote, blockNames, f[:], maskToolUse, extra, has); e != nil {
				return e
			}
			if _, e := str(b, p, "id", f[bID], true); e != nil {
				return e
			}
			if _, e := str(b, p, "name", f[bName], true); e != nil {
				return e
			}
			if in := f[bInput]; kind(b, in) != "object" {
				return p.errAt("input", "must be an object, not "+kind(b, in))
			}
			nCall++
			c.blocks = append(c.blocks, aBlock{call: true, id: f[bID], name: f[bName], args: f[bInput]})
		case "thinking", "redacted_thinking":
			// The model's own earlier reasoning: an OpenAI upstream has no
			// place for it (see the package doc).
		case "tool_result", "image":
			return p.errAt("type", string(typ)+" blocks belong in user messages")
		default:
			return p.errAt("type", "content blocks of type "+string(typ)+" are not supported "+upstreamNote)
		}
	}
	c.sep()
	c.out = append(c.out, `{"role":"assistant","content":`...)
	switch {
	case nText == 0 && nCall > 0:
		c.out = append(c.out, "null"...)
	case join:
		// Joining the raw texts could pair two escaped surrogate halves
		// that were separate: decode them and encode the whole.
		var s string
		for _, blk := range c.blocks {
			if !blk.call {
				t, _ := wire.String(b, blk.text)
				s += t
			}
		}
		c.out = appendQuoted(c.out, s)
	default:
		c.out = append(c.out, '"')
		for _, blk := range c.blocks {
			if !blk.call {
				c.out = appendInner(c.out, b, blk.text)
			}
		}
		c.out = append(c.out, '"')
	}
	if nCall > 0 {
		c.out = append(c.out, `,"tool_calls":[`...)
		n := 0
		for _, blk := range c.blocks {
			if !blk.call {
				continue
			}
			if n > 0 {
				c.out = append(c.out, ',')
			}
			n++
			c.out = append(c.out, `{"id":`...)
			c.out = appendStr(c.out, b, blk.id)
			c.out = append(c.out, `,"type":"function","function":{"name":`...)
			c.out = appendStr(c.out, b, blk.name)
			c.out = append(c.out, `,"arguments":"`...)
			c.out = appendCompact(c.out, b[blk.args.Start:blk.args.End], true)
			c.out = append(c.out, `"}}`...)
		}
		c.out = append(c.out, ']')
	}
	c.out = append(c.out, '}')
	return nil
}

func (c *toChat) tools(sp wire.Span) *Error {
	b := c.b
	if b[sp.Start] != '[' {
		return invalid("tools", "must be an array, not "+kind(b, sp))
	}
	tp := path{key: "tools"}
	it := c.ix.Iter(b, sp)
	n := 0
	for ; ; n++ {
		_, v, ok := it.Next()
		if !ok {
			break
		}
		p := &path{up: &tp, i: n}
		if b[v.Start] != '{' {
			return p.err("must be an object, not " + kind(b, v))
		}
		var f [6]wire.Span
		extra, has := members(b, c.ix, v, toolNames, f[:])
		if ok, e := str(b, p, "type", f[0], false); e != nil {
			return e
		} else if ok {
			if typ := strBytes(b, f[0]); len(typ) > 0 && string(typ) != "custom" {
				return p.errAt("type", "server tools ("+string(typ)+") are not supported "+upstreamNote)
			}
		}
		if has {
			return p.errAt(string(extra), "is not supported "+upstreamNote)
		}
		if _, e := str(b, p, "name", f[1], true); e != nil {
			return e
		}
		hasDesc, e := str(b, p, "description", f[2], false)
		if e != nil {
			return e
		}
		schema := f[3]
		if !schema.Present() {
			return p.errAt("input_schema", "is required")
		}
		if b[schema.Start] != '{' {
			return p.errAt("input_schema", "must be an object, not "+kind(b, schema))
		}
		strict, e := boolean(b, p, "strict", f[5])
		if e != nil {
			return e
		}
		if n == 0 {
			c.out = append(c.out, `,"tools":[`...)
		} else {
			c.out = append(c.out, ',')
		}
		c.out = append(c.out, `{"type":"function","function":{"name":`...)
		c.out = appendStr(c.out, b, f[1])
		if hasDesc && f[2].End-f[2].Start > 2 {
			c.out = append(c.out, `,"description":`...)
			c.out = appendStr(c.out, b, f[2])
		}
		c.out = append(c.out, `,"parameters":`...)
		c.out = appendCompact(c.out, b[schema.Start:schema.End], false)
		if !null(b, f[5]) {
			if strict {
				c.out = append(c.out, `,"strict":true`...)
			} else {
				c.out = append(c.out, `,"strict":false`...)
			}
		}
		c.out = append(c.out, "}}"...)
	}
	if n > 0 {
		c.out = append(c.out, ']')
	}
	return nil
}

func (c *toChat) toolChoice(sp wire.Span) *Error {
	b := c.b
	p := &path{key: "tool_choice"}
	if b[sp.Start] != '{' {
		return p.err("must be an object, not " + kind(b, sp))
	}
	var f [3]wire.Span
	if extra, has := members(b, c.ix, sp, choiceNames, f[:]); has {
		return p.errAt(string(extra), "is not supported "+upstreamNote)
	}
	if _, e := str(b, p, "type", f[0], true); e != nil {
		return e
	}
	mark := len(c.out)
	c.out = append(c.out, `,"tool_choice":`...)
	switch typ := strBytes(b, f[0]); string(typ) {
	case "auto":
		c.out = append(c.out, `"auto"`...)
	case "any":
		c.out = append(c.out, `"required"`...)
	case "none":
		c.out = append(c.out, `"none"`...)
	case "tool":
		if _, e := str(b, p, "name", f[1], true); e != nil {
			return e
		}
		c.out = append(c.out, `{"type":"function","function":{"name":`...)
		c.out = appendStr(c.out, b, f[1])
		c.out = append(c.out, "}}"...)
	default:
		c.out = c.out[:mark]
		return p.errAt("type", `must be "auto", "any", "tool" or "none", not "`+string(typ)+`"`)
	}
	dis, e := boolean(b, p, "disable_parallel_tool_use", f[2])
	if e != nil {
		return e
	}
	if dis {
		c.out = append(c.out, `,"parallel_tool_calls":false`...)
	}
	return nil
}
