package anthropic

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Info is what the gateway needs to know of a Messages request.
type Info struct {
	Model     string
	Stream    bool
	MaxTokens int
}

// chat body and message shapes, in the member order they are written.
type chatRequest struct {
	Model             string            `json:"model"`
	Messages          []chatMessage     `json:"messages"`
	MaxTokens         int64             `json:"max_tokens"`
	Temperature       json.RawMessage   `json:"temperature,omitempty"`
	TopP              json.RawMessage   `json:"top_p,omitempty"`
	TopK              *int64            `json:"top_k,omitempty"`
	Stop              []string          `json:"stop,omitempty"`
	Tools             []chatTool        `json:"tools,omitempty"`
	ToolChoice        json.RawMessage   `json:"tool_choice,omitempty"`
	ParallelToolCalls *bool             `json:"parallel_tool_calls,omitempty"`
	User              string            `json:"user,omitempty"`
	Stream            bool              `json:"stream,omitempty"`
	StreamOptions     *chatStreamOption `json:"stream_options,omitempty"`
	ReasoningEffort   string            `json:"reasoning_effort,omitempty"`
}

type chatStreamOption struct {
	IncludeUsage bool `json:"include_usage"`
}

type chatMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	ToolCalls  []chatToolCall  `json:"tool_calls,omitempty"`
	ToolCallID string          `json:"tool_call_id,omitempty"`
}

type chatPart struct {
	Type     string        `json:"type"`
	Text     *string       `json:"text,omitempty"`
	ImageURL *chatImageURL `json:"image_url,omitempty"`
}

type chatImageURL struct {
	URL string `json:"url"`
}

type chatToolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"`
	Function chatFunction `json:"function"`
}

type chatFunction struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

type chatTool struct {
	Type     string          `json:"type"`
	Function chatFunctionDef `json:"function"`
}

type chatFunctionDef struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

var nullJSON = json.RawMessage("null")

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

// ToChat translates an Anthropic Messages request into an OpenAI chat body.
// Any error is an *Error naming the offending field.
func ToChat(body []byte) (chat []byte, info Info, err error) {
	top, e := scanBody(body)
	if e != nil {
		return nil, info, e
	}
	if e := top.only("", "on an OpenAI-compatible upstream", "model", "max_tokens", "system", "messages", "tools",
		"tool_choice", "temperature", "top_p", "top_k", "stop_sequences", "stream", "metadata", "thinking", "service_tier"); e != nil {
		return nil, info, e
	}
	var out chatRequest
	if out.Model, e = top.str("", "model", true); e != nil {
		return nil, info, e
	}
	mt, ok, e := top.integer("", "max_tokens")
	if e != nil {
		return nil, info, e
	}
	if !ok {
		return nil, info, invalid("max_tokens", "is required")
	}
	if mt < 1 {
		return nil, info, invalid("max_tokens", "must be at least 1")
	}
	out.MaxTokens = mt
	if out.Stream, e = top.boolean("", "stream"); e != nil {
		return nil, info, e
	}
	if out.Stream {
		out.StreamOptions = &chatStreamOption{IncludeUsage: true}
	}
	if raw, ok := top["thinking"]; ok && !isNull(raw) {
		th, e := decodeObject(raw, "thinking")
		if e != nil {
			return nil, info, e
		}
		typ, e := th.str("thinking", "type", true)
		if e != nil {
			return nil, info, e
		}
		switch typ {
		case "disabled":
		case "enabled", "adaptive":
			// OpenAI's reasoning models take an effort, not a token
			// budget: the budget picks the effort (coding agents send
			// thinking, and must work on OpenAI-shaped reasoning models).
			budget, _, e := th.integer("thinking", "budget_tokens")
			if e != nil {
				return nil, info, e
			}
			out.ReasoningEffort = effortFor(typ, budget)
		default:
			return nil, info, invalid("thinking.type", "unknown thinking type "+strconv.Quote(typ)+" (want enabled, adaptive or disabled)")
		}
	}
	if out.Temperature, e = top.number("", "temperature"); e != nil {
		return nil, info, e
	}
	if out.TopP, e = top.number("", "top_p"); e != nil {
		return nil, info, e
	}
	if k, ok, e := top.integer("", "top_k"); e != nil {
		return nil, info, e
	} else if ok {
		out.TopK = &k
	}
	if raw, ok := top["stop_sequences"]; ok && !isNull(raw) {
		arr, e := decodeArray(raw, "stop_sequences")
		if e != nil {
			return nil, info, e
		}
		for i, r := range arr {
			var s string
			if kindOf(r) != "string" || json.Unmarshal(r, &s) != nil {
				return nil, info, invalid(index("stop_sequences", i), "must be a string")
			}
			out.Stop = append(out.Stop, s)
		}
	}
	if raw, ok := top["metadata"]; ok && !isNull(raw) {
		md, e := decodeObject(raw, "metadata")
		if e != nil {
			return nil, info, e
		}
		if e := md.only("metadata", "on an OpenAI-compatible upstream", "user_id"); e != nil {
			return nil, info, e
		}
		if out.User, e = md.str("metadata", "user_id", false); e != nil {
			return nil, info, e
		}
	}
	if raw, ok := top["system"]; ok && !isNull(raw) {
		text, e := systemText(raw)
		if e != nil {
			return nil, info, e
		}
		out.Messages = append(out.Messages, chatMessage{Role: "system", Content: quote(text)})
	}
	raw, ok := top["messages"]
	if !ok {
		return nil, info, invalid("messages", "is required")
	}
	msgs, e := decodeArray(raw, "messages")
	if e != nil {
		return nil, info, e
	}
	if len(msgs) == 0 {
		return nil, info, invalid("messages", "must not be empty")
	}
	for i, m := range msgs {
		if out.Messages, e = appendMessage(out.Messages, m, index("messages", i)); e != nil {
			return nil, info, e
		}
	}
	if raw, ok := top["tools"]; ok && !isNull(raw) {
		if out.Tools, e = chatTools(raw); e != nil {
			return nil, info, e
		}
	}
	if raw, ok := top["tool_choice"]; ok && !isNull(raw) {
		if out.ToolChoice, out.ParallelToolCalls, e = chatToolChoice(raw); e != nil {
			return nil, info, e
		}
	}
	b, err := marshal(out)
	if err != nil {
		return nil, info, err
	}
	return b, Info{Model: out.Model, Stream: out.Stream, MaxTokens: int(min(mt, 1<<31-1))}, nil
}

// systemText reads "system": a string or an array of text blocks.
func systemText(raw json.RawMessage) (string, *Error) {
	if kindOf(raw) == "string" {
		var s string
		json.Unmarshal(raw, &s)
		return s, nil
	}
	blocks, e := decodeArray(raw, "system")
	if e != nil {
		return "", invalid("system", "must be a string or an array of text blocks")
	}
	parts := make([]string, 0, len(blocks))
	for i, b := range blocks {
		p := index("system", i)
		o, e := decodeObject(b, p)
		if e != nil {
			return "", e
		}
		typ, e := o.str(p, "type", true)
		if e != nil {
			return "", e
		}
		if typ != "text" {
			return "", invalid(join(p, "type"), "system blocks must be text, not "+typ)
		}
		if e := o.only(p, "on an OpenAI-compatible upstream", "type", "text", "cache_control"); e != nil {
			return "", e
		}
		t, e := o.str(p, "text", true)
		if e != nil {
			return "", e
		}
		parts = append(parts, t)
	}
	return strings.Join(parts, "\n"), nil
}

// appendMessage translates one Anthropic message into one or more chat
// messages (a user turn's tool results become "tool" messages).
func appendMessage(out []chatMessage, raw json.RawMessage, path string) ([]chatMessage, *Error) {
	m, e := decodeObject(raw, path)
	if e != nil {
		return out, e
	}
	if e := m.only(path, "in a message", "role", "content"); e != nil {
		return out, e
	}
	role, e := m.str(path, "role", true)
	if e != nil {
		return out, e
	}
	if role != "user" && role != "assistant" {
		return out, invalid(join(path, "role"), `must be "user" or "assistant", not "`+role+`"`)
	}
	craw, ok := m["content"]
	if !ok {
		return out, invalid(join(path, "content"), "is required")
	}
	cpath := join(path, "content")
	if kindOf(craw) == "string" {
		return append(out, chatMessage{Role: role, Content: craw}), nil
	}
	blocks, e := decodeArray(craw, cpath)
	if e != nil {
		return out, invalid(cpath, "must be a string or an array of content blocks")
	}
	if len(blocks) == 0 {
		return out, invalid(cpath, "must not be empty")
	}
	if role == "assistant" {
		return appendAssistant(out, blocks, cpath)
	}
	return appendUser(out, blocks, cpath)
}

func blockType(raw json.RawMessage, path string) (object, string, *Error) {
	o, e := decodeObject(raw, path)
	if e != nil {
		return nil, "", e
	}
	typ, e := o.str(path, "type", true)
	return o, typ, e
}

const upstreamNote = "on an OpenAI-compatible upstream"

func appendUser(out []chatMessage, blocks []json.RawMessage, cpath string) ([]chatMessage, *Error) {
	var parts []chatPart
	flush := func() {
		if len(parts) == 0 {
			return
		}
		var content json.RawMessage
		if len(parts) == 1 && parts[0].Type == "text" {
			content = quote(*parts[0].Text)
		} else {
			content, _ = json.Marshal(parts)
		}
		out = append(out, chatMessage{Role: "user", Content: content})
		parts = nil
	}
	for i, b := range blocks {
		p := index(cpath, i)
		o, typ, e := blockType(b, p)
		if e != nil {
			return out, e
		}
		switch typ {
		case "text":
			if e := o.only(p, upstreamNote, "type", "text", "cache_control"); e != nil {
				return out, e
			}
			t, e := o.str(p, "text", true)
			if e != nil {
				return out, e
			}
			parts = append(parts, chatPart{Type: "text", Text: &t})
		case "image":
			if e := o.only(p, upstreamNote, "type", "source", "cache_control"); e != nil {
				return out, e
			}
			u, e := imageURL(o, p)
			if e != nil {
				return out, e
			}
			parts = append(parts, chatPart{Type: "image_url", ImageURL: &chatImageURL{URL: u}})
		case "tool_result":
			if e := o.only(p, upstreamNote, "type", "tool_use_id", "content", "is_error", "cache_control"); e != nil {
				return out, e
			}
			id, e := o.str(p, "tool_use_id", true)
			if e != nil {
				return out, e
			}
			text, e := toolResultText(o["content"], join(p, "content"))
			if e != nil {
				return out, e
			}
			isErr, e := o.boolean(p, "is_error")
			if e != nil {
				return out, e
			}
			if isErr {
				text = "Error: " + text
			}
			flush()
			out = append(out, chatMessage{Role: "tool", Content: quote(text), ToolCallID: id})
		case "tool_use", "thinking", "redacted_thinking":
			return out, invalid(join(p, "type"), typ+" blocks belong in assistant messages")
		default:
			return out, invalid(join(p, "type"), "content blocks of type "+typ+" are not supported "+upstreamNote)
		}
	}
	flush()
	return out, nil
}

// imageURL renders an image block's source as an image_url URL.
func imageURL(o object, p string) (string, *Error) {
	sp := join(p, "source")
	src, e := decodeObject(o["source"], sp)
	if e != nil {
		return "", e
	}
	typ, e := src.str(sp, "type", true)
	if e != nil {
		return "", e
	}
	switch typ {
	case "base64":
		if e := src.only(sp, upstreamNote, "type", "media_type", "data"); e != nil {
			return "", e
		}
		mt, e := src.str(sp, "media_type", true)
		if e != nil {
			return "", e
		}
		data, e := src.str(sp, "data", true)
		if e != nil {
			return "", e
		}
		return "data:" + mt + ";base64," + data, nil
	case "url":
		if e := src.only(sp, upstreamNote, "type", "url"); e != nil {
			return "", e
		}
		return src.str(sp, "url", true)
	}
	return "", invalid(join(sp, "type"), "image sources of type "+typ+" are not supported "+upstreamNote)
}

// toolResultText reads a tool_result's content: absent, a string, or an
// array of text blocks.
func toolResultText(raw json.RawMessage, path string) (string, *Error) {
	if isNull(raw) {
		return "", nil
	}
	if kindOf(raw) == "string" {
		var s string
		json.Unmarshal(raw, &s)
		return s, nil
	}
	blocks, e := decodeArray(raw, path)
	if e != nil {
		return "", invalid(path, "must be a string or an array of text blocks")
	}
	var b strings.Builder
	for i, blk := range blocks {
		p := index(path, i)
		o, typ, e := blockType(blk, p)
		if e != nil {
			return "", e
		}
		if typ != "text" {
			return "", invalid(join(p, "type"), "tool results of type "+typ+" are not supported "+upstreamNote)
		}
		if e := o.only(p, upstreamNote, "type", "text", "cache_control"); e != nil {
			return "", e
		}
		t, e := o.str(p, "text", true)
		if e != nil {
			return "", e
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(t)
	}
	return b.String(), nil
}

func appendAssistant(out []chatMessage, blocks []json.RawMessage, cpath string) ([]chatMessage, *Error) {
	var text strings.Builder
	hasText := false
	var calls []chatToolCall
	for i, b := range blocks {
		p := index(cpath, i)
		o, typ, e := blockType(b, p)
		if e != nil {
			return out, e
		}
		switch typ {
		case "text":
			if e := o.only(p, upstreamNote, "type", "text", "cache_control"); e != nil {
				return out, e
			}
			t, e := o.str(p, "text", true)
			if e != nil {
				return out, e
			}
			text.WriteString(t)
			hasText = true
		case "tool_use":
			if e := o.only(p, upstreamNote, "type", "id", "name", "input", "cache_control"); e != nil {
				return out, e
			}
			id, e := o.str(p, "id", true)
			if e != nil {
				return out, e
			}
			name, e := o.str(p, "name", true)
			if e != nil {
				return out, e
			}
			in := o["input"]
			if kindOf(in) != "object" {
				return out, invalid(join(p, "input"), "must be an object, not "+kindOf(in))
			}
			args, _ := compact(in)
			calls = append(calls, chatToolCall{ID: id, Type: "function", Function: chatFunction{Name: name, Arguments: args}})
		case "thinking", "redacted_thinking":
			// The model's own earlier reasoning: an OpenAI upstream has no
			// place for it (see the package doc).
		case "tool_result", "image":
			return out, invalid(join(p, "type"), typ+" blocks belong in user messages")
		default:
			return out, invalid(join(p, "type"), "content blocks of type "+typ+" are not supported "+upstreamNote)
		}
	}
	msg := chatMessage{Role: "assistant", Content: nullJSON, ToolCalls: calls}
	if hasText || len(calls) == 0 {
		msg.Content = quote(text.String())
	}
	return append(out, msg), nil
}

func chatTools(raw json.RawMessage) ([]chatTool, *Error) {
	arr, e := decodeArray(raw, "tools")
	if e != nil {
		return nil, e
	}
	tools := make([]chatTool, 0, len(arr))
	for i, t := range arr {
		p := index("tools", i)
		o, e := decodeObject(t, p)
		if e != nil {
			return nil, e
		}
		typ, e := o.str(p, "type", false)
		if e != nil {
			return nil, e
		}
		if typ != "" && typ != "custom" {
			return nil, invalid(join(p, "type"), "server tools ("+typ+") are not supported "+upstreamNote)
		}
		if e := o.only(p, upstreamNote, "type", "name", "description", "input_schema", "cache_control", "strict"); e != nil {
			return nil, e
		}
		var def chatFunctionDef
		if def.Name, e = o.str(p, "name", true); e != nil {
			return nil, e
		}
		if def.Description, e = o.str(p, "description", false); e != nil {
			return nil, e
		}
		schema, ok := o["input_schema"]
		if !ok {
			return nil, invalid(join(p, "input_schema"), "is required")
		}
		if kindOf(schema) != "object" {
			return nil, invalid(join(p, "input_schema"), "must be an object, not "+kindOf(schema))
		}
		def.Parameters = schema
		if raw, ok := o["strict"]; ok && !isNull(raw) {
			s, e := o.boolean(p, "strict")
			if e != nil {
				return nil, e
			}
			def.Strict = &s
		}
		tools = append(tools, chatTool{Type: "function", Function: def})
	}
	return tools, nil
}

func chatToolChoice(raw json.RawMessage) (json.RawMessage, *bool, *Error) {
	const p = "tool_choice"
	o, e := decodeObject(raw, p)
	if e != nil {
		return nil, nil, e
	}
	if e := o.only(p, upstreamNote, "type", "name", "disable_parallel_tool_use"); e != nil {
		return nil, nil, e
	}
	typ, e := o.str(p, "type", true)
	if e != nil {
		return nil, nil, e
	}
	var choice json.RawMessage
	switch typ {
	case "auto":
		choice = quote("auto")
	case "any":
		choice = quote("required")
	case "none":
		choice = quote("none")
	case "tool":
		name, e := o.str(p, "name", true)
		if e != nil {
			return nil, nil, e
		}
		choice, _ = json.Marshal(struct {
			Type     string `json:"type"`
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		}{Type: "function", Function: struct {
			Name string `json:"name"`
		}{name}})
	default:
		return nil, nil, invalid(join(p, "type"), `must be "auto", "any", "tool" or "none", not "`+typ+`"`)
	}
	dis, e := o.boolean(p, "disable_parallel_tool_use")
	if e != nil {
		return nil, nil, e
	}
	var par *bool
	if dis {
		f := false
		par = &f
	}
	return choice, par, nil
}
