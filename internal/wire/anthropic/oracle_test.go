package anthropic

// The translation as it was before the single-pass rewrite (decode into
// maps and structs, re-encode with encoding/json), kept as the reference
// oracle of the differential fuzz tests.

import (
	"encoding/json"
	"strconv"
	"strings"

	wire "switchyard/internal/wire/openai"
)

// chat body and message shapes, in the member order they are written.
type oldChatRequest struct {
	Model             string               `json:"model"`
	Messages          []oldChatMessage     `json:"messages"`
	MaxTokens         int64                `json:"max_tokens"`
	Temperature       json.RawMessage      `json:"temperature,omitempty"`
	TopP              json.RawMessage      `json:"top_p,omitempty"`
	TopK              *int64               `json:"top_k,omitempty"`
	Stop              []string             `json:"stop,omitempty"`
	Tools             []oldChatTool        `json:"tools,omitempty"`
	ToolChoice        json.RawMessage      `json:"tool_choice,omitempty"`
	ParallelToolCalls *bool                `json:"parallel_tool_calls,omitempty"`
	User              string               `json:"user,omitempty"`
	Stream            bool                 `json:"stream,omitempty"`
	StreamOptions     *oldChatStreamOption `json:"stream_options,omitempty"`
	ReasoningEffort   string               `json:"reasoning_effort,omitempty"`
}

type oldChatStreamOption struct {
	IncludeUsage bool `json:"include_usage"`
}

type oldChatMessage struct {
	Role       string            `json:"role"`
	Content    json.RawMessage   `json:"content"`
	ToolCalls  []oldChatToolCall `json:"tool_calls,omitempty"`
	ToolCallID string            `json:"tool_call_id,omitempty"`
}

type oldChatPart struct {
	Type     string           `json:"type"`
	Text     *string          `json:"text,omitempty"`
	ImageURL *oldChatImageURL `json:"image_url,omitempty"`
}

type oldChatImageURL struct {
	URL string `json:"url"`
}

type oldChatToolCall struct {
	ID       string          `json:"id"`
	Type     string          `json:"type"`
	Function oldChatFunction `json:"function"`
}

type oldChatFunction struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

type oldChatTool struct {
	Type     string             `json:"type"`
	Function oldChatFunctionDef `json:"function"`
}

type oldChatFunctionDef struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// oldToChat translates an Anthropic Messages request into an OpenAI chat body.
// Any error is an *Error naming the offending field.
func oldToChat(body []byte) (chat []byte, info Info, err error) {
	top, e := scanBody(body)
	if e != nil {
		return nil, info, e
	}
	if e := top.only("", "on an OpenAI-compatible upstream", "model", "max_tokens", "system", "messages", "tools",
		"tool_choice", "temperature", "top_p", "top_k", "stop_sequences", "stream", "metadata", "thinking", "service_tier"); e != nil {
		return nil, info, e
	}
	var out oldChatRequest
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
		out.StreamOptions = &oldChatStreamOption{IncludeUsage: true}
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
		text, e := oldSystemText(raw)
		if e != nil {
			return nil, info, e
		}
		out.Messages = append(out.Messages, oldChatMessage{Role: "system", Content: quote(text)})
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
		if out.Messages, e = oldAppendMessage(out.Messages, m, index("messages", i)); e != nil {
			return nil, info, e
		}
	}
	if raw, ok := top["tools"]; ok && !isNull(raw) {
		if out.Tools, e = oldChatTools(raw); e != nil {
			return nil, info, e
		}
	}
	if raw, ok := top["tool_choice"]; ok && !isNull(raw) {
		if out.ToolChoice, out.ParallelToolCalls, e = oldChatToolChoice(raw); e != nil {
			return nil, info, e
		}
	}
	b, err := marshal(out)
	if err != nil {
		return nil, info, err
	}
	return b, Info{Model: out.Model, Stream: out.Stream, MaxTokens: int(min(mt, 1<<31-1))}, nil
}

// oldSystemText reads "system": a string or an array of text blocks.
func oldSystemText(raw json.RawMessage) (string, *Error) {
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

// oldAppendMessage translates one Anthropic message into one or more chat
// messages (a user turn's tool results become "tool" messages).
func oldAppendMessage(out []oldChatMessage, raw json.RawMessage, path string) ([]oldChatMessage, *Error) {
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
		return append(out, oldChatMessage{Role: role, Content: craw}), nil
	}
	blocks, e := decodeArray(craw, cpath)
	if e != nil {
		return out, invalid(cpath, "must be a string or an array of content blocks")
	}
	if len(blocks) == 0 {
		return out, invalid(cpath, "must not be empty")
	}
	if role == "assistant" {
		return oldAppendAssistant(out, blocks, cpath)
	}
	return oldAppendUser(out, blocks, cpath)
}

func oldAppendUser(out []oldChatMessage, blocks []json.RawMessage, cpath string) ([]oldChatMessage, *Error) {
	var parts []oldChatPart
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
		out = append(out, oldChatMessage{Role: "user", Content: content})
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
			parts = append(parts, oldChatPart{Type: "text", Text: &t})
		case "image":
			if e := o.only(p, upstreamNote, "type", "source", "cache_control"); e != nil {
				return out, e
			}
			u, e := oldImageURL(o, p)
			if e != nil {
				return out, e
			}
			parts = append(parts, oldChatPart{Type: "image_url", ImageURL: &oldChatImageURL{URL: u}})
		case "tool_result":
			if e := o.only(p, upstreamNote, "type", "tool_use_id", "content", "is_error", "cache_control"); e != nil {
				return out, e
			}
			id, e := o.str(p, "tool_use_id", true)
			if e != nil {
				return out, e
			}
			text, e := oldToolResultText(o["content"], join(p, "content"))
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
			out = append(out, oldChatMessage{Role: "tool", Content: quote(text), ToolCallID: id})
		case "tool_use", "thinking", "redacted_thinking":
			return out, invalid(join(p, "type"), typ+" blocks belong in assistant messages")
		default:
			return out, invalid(join(p, "type"), "content blocks of type "+typ+" are not supported "+upstreamNote)
		}
	}
	flush()
	return out, nil
}

// oldImageURL renders an image block's source as an image_url URL.
func oldImageURL(o object, p string) (string, *Error) {
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

// oldToolResultText reads a tool_result's content: absent, a string, or an
// array of text blocks.
func oldToolResultText(raw json.RawMessage, path string) (string, *Error) {
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

func oldAppendAssistant(out []oldChatMessage, blocks []json.RawMessage, cpath string) ([]oldChatMessage, *Error) {
	var text strings.Builder
	hasText := false
	var calls []oldChatToolCall
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
			calls = append(calls, oldChatToolCall{ID: id, Type: "function", Function: oldChatFunction{Name: name, Arguments: args}})
		case "thinking", "redacted_thinking":
			// The model's own earlier reasoning: an OpenAI upstream has no
			// place for it (see the package doc).
		case "tool_result", "image":
			return out, invalid(join(p, "type"), typ+" blocks belong in user messages")
		default:
			return out, invalid(join(p, "type"), "content blocks of type "+typ+" are not supported "+upstreamNote)
		}
	}
	msg := oldChatMessage{Role: "assistant", Content: nullJSON, ToolCalls: calls}
	if hasText || len(calls) == 0 {
		msg.Content = quote(text.String())
	}
	return append(out, msg), nil
}

func oldChatTools(raw json.RawMessage) ([]oldChatTool, *Error) {
	arr, e := decodeArray(raw, "tools")
	if e != nil {
		return nil, e
	}
	tools := make([]oldChatTool, 0, len(arr))
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
		var def oldChatFunctionDef
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
		tools = append(tools, oldChatTool{Type: "function", Function: def})
	}
	return tools, nil
}

func oldChatToolChoice(raw json.RawMessage) (json.RawMessage, *bool, *Error) {
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

// oldMessage is an Anthropic Message object, in the member order written.
type oldMessage struct {
	ID           string            `json:"id"`
	Type         string            `json:"type"`
	Role         string            `json:"role"`
	Model        string            `json:"model"`
	Content      []oldContentBlock `json:"content"`
	StopReason   *string           `json:"stop_reason"`
	StopSequence *string           `json:"stop_sequence"`
	Usage        messageUsage      `json:"usage"`
}

type oldContentBlock struct {
	Type      string          `json:"type"`
	Text      *string         `json:"text,omitempty"`
	Thinking  *string         `json:"thinking,omitempty"`
	Signature *string         `json:"signature,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
}

// anthropicUsage splits OpenAI's prompt tokens into Anthropic's uncached,
// cache-read and cache-write parts.
func (u *chatUsage) anthropic() messageUsage {
	var read, write int64
	if d := u.PromptTokensDetails; d != nil {
		read, write = d.CachedTokens, d.CacheWriteTokens
	}
	return messageUsage{
		InputTokens:              max(u.PromptTokens-read-write, 0),
		OutputTokens:             u.CompletionTokens,
		CacheReadInputTokens:     read,
		CacheCreationInputTokens: write,
	}
}

// oldFromChat translates an OpenAI chat completion into an Anthropic Message
// whose "model" is model.
func oldFromChat(chatResp []byte, model string) ([]byte, error) {
	if _, err := wire.Scan(chatResp); err != nil {
		return nil, upstreamError("chat completion: " + bodyError(err).Message)
	}
	var resp struct {
		ID      string `json:"id"`
		Choices []struct {
			Index   int `json:"index"`
			Message struct {
				Content          json.RawMessage `json:"content"`
				ReasoningContent *string         `json:"reasoning_content"`
				Refusal          *string         `json:"refusal"`
				ToolCalls        []struct {
					ID       string `json:"id"`
					Function struct {
						Name      string `json:"name"`
						Arguments string `json:"arguments"`
					} `json:"function"`
				} `json:"tool_calls"`
			} `json:"message"`
			FinishReason *string `json:"finish_reason"`
		} `json:"choices"`
		Usage *chatUsage `json:"usage"`
	}
	if err := json.Unmarshal(chatResp, &resp); err != nil {
		return nil, upstreamError("chat completion has an unexpected shape: " + err.Error())
	}
	if len(resp.Choices) != 1 {
		return nil, upstreamError("chat completion must have exactly one choice")
	}
	ch := resp.Choices[0]
	out := oldMessage{ID: "msg_" + resp.ID, Type: "message", Role: "assistant", Model: model, Content: []oldContentBlock{}}
	if r := ch.Message.ReasoningContent; r != nil && *r != "" {
		out.Content = append(out.Content, oldContentBlock{Type: "thinking", Thinking: r, Signature: new(string)})
	}
	text, err := wire.TextContent(ch.Message.Content)
	if err != nil {
		return nil, upstreamError("chat completion content: " + err.Error())
	}
	if text == "" && ch.Message.Refusal != nil {
		text = *ch.Message.Refusal
	}
	if text != "" {
		out.Content = append(out.Content, oldContentBlock{Type: "text", Text: &text})
	}
	for _, tc := range ch.Message.ToolCalls {
		out.Content = append(out.Content, oldContentBlock{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name, Input: oldToolInput(tc.Function.Arguments)})
	}
	finish := ""
	if ch.FinishReason != nil {
		finish = *ch.FinishReason
	}
	sr := StopReason(finish)
	out.StopReason = &sr
	if resp.Usage != nil {
		out.Usage = resp.Usage.anthropic()
	}
	return marshal(out)
}

// oldToolInput turns OpenAI's arguments string into a tool_use input object:
// the object itself, {} for none, or {"_raw": arguments} when the upstream
// produced something that is not a JSON object.
func oldToolInput(args string) json.RawMessage {
	trimmed := strings.TrimSpace(args)
	if trimmed == "" {
		return json.RawMessage("{}")
	}
	raw := json.RawMessage(trimmed)
	if kindOf(raw) == "object" && json.Valid(raw) {
		if c, ok := compact(raw); ok {
			return json.RawMessage(c)
		}
	}
	b := append([]byte(`{"_raw":`), wire.AppendQuote(nil, args)...)
	return append(b, '}')
}
