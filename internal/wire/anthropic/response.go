package anthropic

import (
	"bytes"
	"strconv"

	wire "switchyard/internal/wire/openai"
)

type messageUsage struct {
	InputTokens              int64 `json:"input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
}

// chatUsage is OpenAI's usage, with the gateway's cache_write_tokens.
type chatUsage struct {
	PromptTokens        int64 `json:"prompt_tokens"`
	CompletionTokens    int64 `json:"completion_tokens"`
	TotalTokens         int64 `json:"total_tokens"`
	PromptTokensDetails *struct {
		CachedTokens     int64 `json:"cached_tokens"`
		CacheWriteTokens int64 `json:"cache_write_tokens"`
	} `json:"prompt_tokens_details,omitempty"`
}

// StopReason maps an OpenAI finish_reason to Anthropic's stop_reason.
// Unknown or empty reasons are end_turn.
func StopReason(finish string) string {
	switch finish {
	case "length":
		return "max_tokens"
	case "tool_calls", "function_call":
		return "tool_use"
	case "content_filter":
		return "refusal"
	}
	return "end_turn"
}

// The members FromChat reads. As with encoding/json decoding into a
// struct, keys match case-insensitively, members of other names are
// ignored, and null stands for an absent member.
var (
	respNames    = []string{"id", "choices", "usage"}
	choiceNames2 = []string{"index", "message", "finish_reason"}
	msgNames     = []string{"content", "reasoning_content", "refusal", "tool_calls"}
	callNames    = []string{"id", "function"}
	funcNames    = []string{"name", "arguments"}
	usageNames   = []string{"prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details"}
	detailNames  = []string{"cached_tokens", "cache_write_tokens"}
	partNames    = []string{"type", "text"}
)

// fold reads the members of the object at sp named in names, matching keys
// case-insensitively when no name matches exactly.
func fold(b []byte, ix *wire.Index, sp wire.Span, names []string, spans []wire.Span) {
	it := ix.Iter(b, sp)
	for {
		k, v, ok := it.Next()
		if !ok {
			return
		}
		if bytes.IndexByte(k, '\\') >= 0 {
			k = unescapeKey(k)
		}
		i := lookup(names, k)
		for j := 0; i < 0 && j < len(names); j++ {
			if len(names[j]) == len(k) && bytes.EqualFold([]byte(names[j]), k) {
				i = j
			}
		}
		if i >= 0 {
			spans[i] = v
		}
	}
}

// shape checks that the value at sp is null or of the kind want
// ("string", "integer", "object" or "array"), as decoding into a Go field
// of that type requires.
func shape(b []byte, sp wire.Span, p *path, key, want string) *Error {
	if null(b, sp) {
		return nil
	}
	ok := false
	switch want {
	case "string":
		ok = b[sp.Start] == '"'
	case "object":
		ok = b[sp.Start] == '{'
	case "array":
		ok = b[sp.Start] == '['
	case "integer":
		_, ok = wire.ParseInt(b[sp.Start:sp.End])
	}
	if ok {
		return nil
	}
	at := p.String()
	if key != "" {
		at = join(at, key)
	}
	return upstreamError("chat completion has an unexpected shape: " + at + " must be " + article(want) + ", not " + kind(b, sp))
}

func article(want string) string {
	if want == "integer" || want == "object" || want == "array" {
		return "an " + want
	}
	return "a " + want
}

// toInt reads a checked integer member; absent or null is 0.
func toInt(b []byte, sp wire.Span) int64 {
	if null(b, sp) {
		return 0
	}
	n, _ := wire.ParseInt(b[sp.Start:sp.End])
	return n
}

// FromChat translates an OpenAI chat completion into an Anthropic Message
// whose "model" is model. Like ToChat it validates once with wire.Scan and
// then appends the Message directly from spans of the completion.
func FromChat(chatResp []byte, model string) ([]byte, error) {
	ix := indexes.Get().(*wire.Index)
	defer indexes.Put(ix)
	if _, err := wire.ScanIndexed(chatResp, ix); err != nil {
		return nil, upstreamError("chat completion: " + bodyError(err).Message)
	}
	out, e := fromChat(chatResp, ix, model)
	if e != nil {
		return nil, e
	}
	return out, nil
}

func fromChat(b []byte, ix *wire.Index, model string) ([]byte, *Error) {
	var top [3]wire.Span
	fold(b, ix, rootSpan(b), respNames, top[:])
	root := (*path)(nil)
	if e := shape(b, top[0], root, "id", "string"); e != nil {
		return nil, e
	}
	if e := shape(b, top[1], root, "choices", "array"); e != nil {
		return nil, e
	}
	// Every choice is checked, as decoding them all did; one is read.
	var ch [3]wire.Span
	var msg [4]wire.Span
	n := 0
	cp := path{key: "choices"}
	for it := ix.Iter(b, top[1]); ; n++ {
		_, v, ok := it.Next()
		if !ok {
			break
		}
		p := path{up: &cp, i: n}
		var c [3]wire.Span
		var m [4]wire.Span
		if e := checkChoice(b, ix, v, &p, &c, &m); e != nil {
			return nil, e
		}
		if n == 0 {
			ch, msg = c, m
		}
	}
	var usage messageUsage
	if sp := top[2]; !null(b, sp) {
		u, e := readChatUsage(b, ix, sp)
		if e != nil {
			return nil, e
		}
		usage = u
	}
	if n != 1 {
		return nil, upstreamError("chat completion must have exactly one choice")
	}

	out := make([]byte, 0, len(b)+128)
	out = append(out, `{"id":"msg_`...)
	if !null(b, top[0]) {
		out = appendInner(out, b, top[0])
	}
	out = append(out, `","type":"message","role":"assistant","model":`...)
	out = appendQuoted(out, model)
	out = append(out, `,"content":[`...)
	nb := 0
	sep := func() {
		if nb > 0 {
			out = append(out, ',')
		}
		nb++
	}
	if r := msg[1]; !null(b, r) && r.End-r.Start > 2 {
		sep()
		out = append(out, `{"type":"thinking","thinking":`...)
		out = appendStr(out, b, r)
		out = append(out, `,"signature":""}`...)
	}
	mark := len(out)
	sep()
	out = append(out, `{"type":"text","text":`...)
	textStart := len(out)
	out, e := appendText(out, b, ix, msg[0])
	if e != nil {
		return nil, e
	}
	if len(out)-textStart == 2 { // "": the refusal, if any, is the text
		out = out[:textStart]
		if r := msg[2]; !null(b, r) {
			out = appendStr(out, b, r)
		} else {
			out = append(out, `""`...)
		}
	}
	if len(out)-textStart == 2 {
		out = out[:mark] // no text block
		nb--
	} else {
		out = append(out, '}')
	}
	it := ix.Iter(b, msg[3])
	for i := 0; ; i++ {
		_, v, ok := it.Next()
		if !ok {
			break
		}
		var tc [2]wire.Span
		var fn [2]wire.Span
		if !null(b, v) {
			fold(b, ix, v, callNames, tc[:])
			if !null(b, tc[1]) {
				fold(b, ix, tc[1], funcNames, fn[:])
			}
		}
		sep()
		out = append(out, `{"type":"tool_use"`...)
		if sp := tc[0]; !null(b, sp) && sp.End-sp.Start > 2 {
			out = append(out, `,"id":`...)
			out = appendStr(out, b, sp)
		}
		if sp := fn[0]; !null(b, sp) && sp.End-sp.Start > 2 {
			out = append(out, `,"name":`...)
			out = appendStr(out, b, sp)
		}
		out = append(out, `,"input":`...)
		out = appendToolInput(out, b, fn[1])
		out = append(out, '}')
	}
	out = append(out, `],"stop_reason":"`...)
	finish := []byte(nil)
	if sp := ch[2]; !null(b, sp) {
		finish = strBytes(b, sp)
	}
	out = append(out, stopReasonRaw(finish)...)
	out = append(out, `","stop_sequence":null,"usage":{"input_tokens":`...)
	out = strconv.AppendInt(out, usage.InputTokens, 10)
	out = append(out, `,"output_tokens":`...)
	out = strconv.AppendInt(out, usage.OutputTokens, 10)
	out = append(out, `,"cache_creation_input_tokens":`...)
	out = strconv.AppendInt(out, usage.CacheCreationInputTokens, 10)
	out = append(out, `,"cache_read_input_tokens":`...)
	out = strconv.AppendInt(out, usage.CacheReadInputTokens, 10)
	return append(out, "}}"...), nil
}

// checkChoice checks the shape of one choice and returns its members and
// its message's.
func checkChoice(b []byte, ix *wire.Index, v wire.Span, p *path, c *[3]wire.Span, m *[4]wire.Span) *Error {
	if null(b, v) {
		return nil
	}
	if b[v.Start] != '{' {
		return shape(b, v, p, "", "object")
	}
	fold(b, ix, v, choiceNames2, c[:])
	if e := shape(b, c[0], p, "index", "integer"); e != nil {
		return e
	}
	if e := shape(b, c[2], p, "finish_reason", "string"); e != nil {
		return e
	}
	if e := shape(b, c[1], p, "message", "object"); e != nil || null(b, c[1]) {
		return e
	}
	mp := path{up: p, key: "message"}
	fold(b, ix, c[1], msgNames, m[:])
	if e := shape(b, m[1], &mp, "reasoning_content", "string"); e != nil {
		return e
	}
	if e := shape(b, m[2], &mp, "refusal", "string"); e != nil {
		return e
	}
	if e := shape(b, m[3], &mp, "tool_calls", "array"); e != nil {
		return e
	}
	tp := path{up: &mp, key: "tool_calls"}
	it := ix.Iter(b, m[3])
	for i := 0; ; i++ {
		_, tc, ok := it.Next()
		if !ok {
			return nil
		}
		p := path{up: &tp, i: i}
		if e := shape(b, tc, &p, "", "object"); e != nil || null(b, tc) {
			if e != nil {
				return e
			}
			continue
		}
		var f [2]wire.Span
		fold(b, ix, tc, callNames, f[:])
		if e := shape(b, f[0], &p, "id", "string"); e != nil {
			return e
		}
		if e := shape(b, f[1], &p, "function", "object"); e != nil || null(b, f[1]) {
			if e != nil {
				return e
			}
			continue
		}
		fp := path{up: &p, key: "function"}
		var fn [2]wire.Span
		fold(b, ix, f[1], funcNames, fn[:])
		if e := shape(b, fn[0], &fp, "name", "string"); e != nil {
			return e
		}
		if e := shape(b, fn[1], &fp, "arguments", "string"); e != nil {
			return e
		}
	}
}

// readChatUsage splits OpenAI's prompt tokens into Anthropic's uncached,
// cache-read and cache-write parts (cache_write_tokens is the gateway's).
func readChatUsage(b []byte, ix *wire.Index, sp wire.Span) (messageUsage, *Error) {
	up := &path{key: "usage"}
	if e := shape(b, sp, nil, "usage", "object"); e != nil {
		return messageUsage{}, e
	}
	var f [4]wire.Span
	fold(b, ix, sp, usageNames, f[:])
	for i, n := range usageNames[:3] {
		if e := shape(b, f[i], up, n, "integer"); e != nil {
			return messageUsage{}, e
		}
	}
	var read, write int64
	if e := shape(b, f[3], up, "prompt_tokens_details", "object"); e != nil {
		return messageUsage{}, e
	}
	if !null(b, f[3]) {
		dp := &path{up: up, key: "prompt_tokens_details"}
		var d [2]wire.Span
		fold(b, ix, f[3], detailNames, d[:])
		for i, n := range detailNames {
			if e := shape(b, d[i], dp, n, "integer"); e != nil {
				return messageUsage{}, e
			}
		}
		read, write = toInt(b, d[0]), toInt(b, d[1])
	}
	prompt := toInt(b, f[0])
	return messageUsage{
		InputTokens:              max(prompt-read-write, 0),
		OutputTokens:             toInt(b, f[1]),
		CacheReadInputTokens:     read,
		CacheCreationInputTokens: write,
	}, nil
}

// appendText appends a message's content — null, a string, or an array of
// text parts — as one JSON string. A part of another type is an error.
func appendText(out, b []byte, ix *wire.Index, sp wire.Span) ([]byte, *Error) {
	const prefix = "chat completion content: "
	switch {
	case null(b, sp):
		return append(out, `""`...), nil
	case b[sp.Start] == '"':
		return appendStr(out, b, sp), nil
	case b[sp.Start] != '[':
		return out, upstreamError(prefix + "content must be a string or an array of parts")
	}
	// The parts' shapes are checked before their types, as decoding the
	// array first did.
	join := false
	n := 0
	for it := ix.Iter(b, sp); ; n++ {
		_, v, ok := it.Next()
		if !ok {
			break
		}
		if null(b, v) {
			continue
		}
		if b[v.Start] != '{' {
			return out, upstreamError(prefix + "content must be a string or an array of parts")
		}
		var f [2]wire.Span
		fold(b, ix, v, partNames, f[:])
		if !null(b, f[0]) && b[f[0].Start] != '"' || !null(b, f[1]) && b[f[1].Start] != '"' {
			return out, upstreamError(prefix + "content must be a string or an array of parts")
		}
		if n > 0 && !null(b, f[1]) && startsWithEscape(b[f[1].Start+1:f[1].End-1]) {
			join = true
		}
	}
	var s string // the slow path's decoded text
	start := len(out)
	out = append(out, '"')
	for it := ix.Iter(b, sp); ; {
		_, v, ok := it.Next()
		if !ok {
			break
		}
		var f [2]wire.Span
		if !null(b, v) {
			fold(b, ix, v, partNames, f[:])
		}
		var typ []byte
		if !null(b, f[0]) {
			typ = strBytes(b, f[0])
		}
		if string(typ) != "text" {
			return out[:start], upstreamError(prefix + wire.ErrNotText.Error() + ": type " + strconv.Quote(string(typ)))
		}
		if null(b, f[1]) {
			continue
		}
		if join {
			t, _ := wire.String(b, f[1])
			s += t
		} else {
			out = appendInner(out, b, f[1])
		}
	}
	if join {
		return appendQuoted(out[:start], s), nil
	}
	return append(out, '"'), nil
}

// appendToolInput turns OpenAI's arguments string (at sp) into a tool_use
// input object: the object itself, {} for none, or {"_raw": arguments}
// when the upstream produced something that is not a JSON object.
func appendToolInput(out, b []byte, sp wire.Span) []byte {
	if null(b, sp) {
		return append(out, "{}"...)
	}
	args := b[sp.Start+1 : sp.End-1]
	var buf [1024]byte
	if bytes.IndexByte(args, '\\') >= 0 {
		args = appendUnquote(buf[:0], args)
	}
	trimmed := bytes.TrimSpace(args)
	if len(trimmed) == 0 {
		return append(out, "{}"...)
	}
	if trimmed[0] == '{' {
		if _, err := wire.Scan(trimmed); err == nil {
			return appendCompact(out, trimmed, false)
		}
	}
	out = append(out, `{"_raw":`...)
	out = appendStr(out, b, sp)
	return append(out, '}')
}

// upstreamError is a 502-class translation failure of an upstream answer.
func upstreamError(msg string) *Error {
	return &Error{Status: 502, Type: TypeAPI, Message: msg}
}
