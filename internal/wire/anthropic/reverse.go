package anthropic

import (
	"encoding/json"
	"strings"
	"time"

	wire "switchyard/internal/wire/openai"
)

// DefaultMaxTokens is the max_tokens FromChatRequest sends when an OpenAI
// request sets none (Anthropic requires the field).
const DefaultMaxTokens = 4096

// clock stamps "created" in translated OpenAI answers; tests fix it.
var clock = time.Now

// messagesRequest is an Anthropic Messages body, in the member order written.
type messagesRequest struct {
	Model         string          `json:"model"`
	MaxTokens     int64           `json:"max_tokens"`
	System        *string         `json:"system,omitempty"`
	Messages      []anthMessage   `json:"messages"`
	Temperature   json.RawMessage `json:"temperature,omitempty"`
	TopP          json.RawMessage `json:"top_p,omitempty"`
	TopK          *int64          `json:"top_k,omitempty"`
	StopSequences []string        `json:"stop_sequences,omitempty"`
	Tools         []anthTool      `json:"tools,omitempty"`
	ToolChoice    *anthToolChoice `json:"tool_choice,omitempty"`
	Metadata      *anthMetadata   `json:"metadata,omitempty"`
	Stream        bool            `json:"stream,omitempty"`
	Thinking      *anthThinking   `json:"thinking,omitempty"`
}

type anthThinking struct {
	Type         string `json:"type"`
	BudgetTokens int64  `json:"budget_tokens"`
}

// budgetFor is the thinking budget of an OpenAI reasoning_effort (the
// inverse of effortFor's bands).
var budgetFor = map[string]int64{"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576}

type anthMessage struct {
	Role    string      `json:"role"`
	Content []anthBlock `json:"content"`
}

type anthBlock struct {
	Type      string          `json:"type"`
	Text      *string         `json:"text,omitempty"`
	Source    *anthSource     `json:"source,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
	ToolUseID string          `json:"tool_use_id,omitempty"`
	Content   *string         `json:"content,omitempty"`
}

type anthSource struct {
	Type      string `json:"type"`
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
}

type anthTool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema"`
	Strict      *bool           `json:"strict,omitempty"`
}

type anthToolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
}

type anthMetadata struct {
	UserID string `json:"user_id"`
}

const anthNote = "on an Anthropic upstream"

// FromChatRequest translates an OpenAI chat body into an Anthropic Messages
// body. Any error is an *Error naming the offending field.
func FromChatRequest(chat []byte) ([]byte, error) {
	top, e := scanBody(chat)
	if e != nil {
		return nil, e
	}
	if e := top.only("", anthNote, "model", "messages", "max_tokens", "max_completion_tokens", "stop", "temperature",
		"top_p", "top_k", "tools", "tool_choice", "parallel_tool_calls", "stream", "stream_options", "user", "n",
		"logprobs", "response_format", "reasoning_effort"); e != nil {
		return nil, e
	}
	var out messagesRequest
	if out.Model, e = top.str("", "model", true); e != nil {
		return nil, e
	}
	out.MaxTokens = DefaultMaxTokens
	for _, k := range []string{"max_tokens", "max_completion_tokens"} {
		if v, ok, e := top.integer("", k); e != nil {
			return nil, e
		} else if ok {
			if v < 1 {
				return nil, invalid(k, "must be at least 1")
			}
			out.MaxTokens = v
		}
	}
	if n, ok, e := top.integer("", "n"); e != nil {
		return nil, e
	} else if ok && n != 1 {
		return nil, invalid("n", "only one choice can be generated "+anthNote)
	}
	if lp, e := top.boolean("", "logprobs"); e != nil {
		return nil, e
	} else if lp {
		return nil, invalid("logprobs", "log probabilities are not available "+anthNote)
	}
	if raw, ok := top["response_format"]; ok && !isNull(raw) {
		rf, e := decodeObject(raw, "response_format")
		if e != nil {
			return nil, e
		}
		typ, e := rf.str("response_format", "type", true)
		if e != nil {
			return nil, e
		}
		if typ != "text" {
			return nil, invalid("response_format.type", typ+" response formats are not supported "+anthNote)
		}
	}
	if effort, e := top.str("", "reasoning_effort", false); e != nil {
		return nil, e
	} else if effort != "" && effort != "none" {
		budget, ok := budgetFor[effort]
		if !ok {
			return nil, invalid("reasoning_effort", "must be minimal, low, medium or high")
		}
		// Anthropic wants 1,024 ≤ budget < max_tokens.
		budget = min(budget, out.MaxTokens-1)
		if budget < 1024 {
			return nil, invalid("reasoning_effort", "thinking "+anthNote+" needs max_tokens above 1024")
		}
		out.Thinking = &anthThinking{Type: "enabled", BudgetTokens: budget}
	}
	if out.Stream, e = top.boolean("", "stream"); e != nil {
		return nil, e
	}
	if out.Temperature, e = top.number("", "temperature"); e != nil {
		return nil, e
	}
	if out.TopP, e = top.number("", "top_p"); e != nil {
		return nil, e
	}
	if k, ok, e := top.integer("", "top_k"); e != nil {
		return nil, e
	} else if ok {
		out.TopK = &k
	}
	if raw, ok := top["stop"]; ok && !isNull(raw) {
		if kindOf(raw) == "string" {
			var s string
			json.Unmarshal(raw, &s)
			out.StopSequences = []string{s}
		} else {
			arr, e := decodeArray(raw, "stop")
			if e != nil {
				return nil, invalid("stop", "must be a string or an array of strings")
			}
			for i, r := range arr {
				var s string
				if kindOf(r) != "string" || json.Unmarshal(r, &s) != nil {
					return nil, invalid(index("stop", i), "must be a string")
				}
				out.StopSequences = append(out.StopSequences, s)
			}
		}
	}
	if u, e := top.str("", "user", false); e != nil {
		return nil, e
	} else if u != "" {
		out.Metadata = &anthMetadata{UserID: u}
	}
	raw, ok := top["messages"]
	if !ok {
		return nil, invalid("messages", "is required")
	}
	msgs, e := decodeArray(raw, "messages")
	if e != nil {
		return nil, e
	}
	var system []string
	for i, m := range msgs {
		p := index("messages", i)
		if out.Messages, system, e = appendChatMessage(out.Messages, system, m, p); e != nil {
			return nil, e
		}
	}
	if len(system) > 0 {
		s := strings.Join(system, "\n")
		out.System = &s
	}
	if len(out.Messages) == 0 {
		return nil, invalid("messages", "must contain at least one user or assistant message")
	}
	if raw, ok := top["tools"]; ok && !isNull(raw) {
		if out.Tools, e = anthTools(raw); e != nil {
			return nil, e
		}
	}
	if raw, ok := top["tool_choice"]; ok && !isNull(raw) {
		if out.ToolChoice, e = anthChoice(raw); e != nil {
			return nil, e
		}
	}
	if raw, ok := top["parallel_tool_calls"]; ok && !isNull(raw) {
		par, e := top.boolean("", "parallel_tool_calls")
		if e != nil {
			return nil, e
		}
		if !par {
			if out.ToolChoice == nil {
				out.ToolChoice = &anthToolChoice{Type: "auto"}
			}
			if out.ToolChoice.Type != "none" {
				out.ToolChoice.DisableParallelToolUse = true
			}
		}
	}
	return marshal(out)
}

// appendChatMessage translates one chat message. System messages must come
// before the conversation: Anthropic has one top-level system prompt.
func appendChatMessage(out []anthMessage, system []string, raw json.RawMessage, p string) ([]anthMessage, []string, *Error) {
	m, e := decodeObject(raw, p)
	if e != nil {
		return out, system, e
	}
	role, e := m.str(p, "role", true)
	if e != nil {
		return out, system, e
	}
	cp := join(p, "content")
	switch role {
	case "system", "developer":
		if e := m.only(p, anthNote, "role", "content", "name"); e != nil {
			return out, system, e
		}
		if len(out) > 0 {
			return out, system, invalid(join(p, "role"), "a system message after the conversation began cannot be expressed "+anthNote)
		}
		blocks, e := chatParts(m["content"], cp, false)
		if e != nil {
			return out, system, e
		}
		for _, b := range blocks {
			system = append(system, *b.Text)
		}
		return out, system, nil
	case "user":
		if e := m.only(p, anthNote, "role", "content", "name"); e != nil {
			return out, system, e
		}
		blocks, e := chatParts(m["content"], cp, true)
		if e != nil {
			return out, system, e
		}
		if len(blocks) == 0 {
			return out, system, invalid(cp, "must not be empty")
		}
		return append(out, anthMessage{Role: "user", Content: blocks}), system, nil
	case "assistant":
		if e := m.only(p, anthNote, "role", "content", "name", "tool_calls", "reasoning_content", "refusal"); e != nil {
			return out, system, e
		}
		blocks, e := chatParts(m["content"], cp, false)
		if e != nil {
			return out, system, e
		}
		if raw, ok := m["tool_calls"]; ok && !isNull(raw) {
			tcp := join(p, "tool_calls")
			calls, e := decodeArray(raw, tcp)
			if e != nil {
				return out, system, e
			}
			for i, c := range calls {
				b, e := toolUseBlock(c, index(tcp, i))
				if e != nil {
					return out, system, e
				}
				blocks = append(blocks, b)
			}
		}
		if len(blocks) == 0 {
			empty := ""
			blocks = []anthBlock{{Type: "text", Text: &empty}}
		}
		return append(out, anthMessage{Role: "assistant", Content: blocks}), system, nil
	case "tool":
		if e := m.only(p, anthNote, "role", "content", "tool_call_id", "name"); e != nil {
			return out, system, e
		}
		id, e := m.str(p, "tool_call_id", true)
		if e != nil {
			return out, system, e
		}
		parts, e := chatParts(m["content"], cp, false)
		if e != nil {
			return out, system, e
		}
		texts := make([]string, len(parts))
		for i, b := range parts {
			texts[i] = *b.Text
		}
		text := strings.Join(texts, "")
		b := anthBlock{Type: "tool_result", ToolUseID: id, Content: &text}
		if n := len(out); n > 0 && out[n-1].Role == "user" && out[n-1].Content[0].Type == "tool_result" &&
			out[n-1].Content[len(out[n-1].Content)-1].Type == "tool_result" {
			out[n-1].Content = append(out[n-1].Content, b)
			return out, system, nil
		}
		return append(out, anthMessage{Role: "user", Content: []anthBlock{b}}), system, nil
	}
	return out, system, invalid(join(p, "role"), `messages of role "`+role+`" are not supported `+anthNote)
}

// chatParts reads chat content (string, parts or null) as Anthropic blocks;
// images are allowed only where images is set. Empty text is skipped
// (Anthropic refuses empty text blocks).
func chatParts(raw json.RawMessage, p string, images bool) ([]anthBlock, *Error) {
	if isNull(raw) {
		return nil, nil
	}
	if kindOf(raw) == "string" {
		var s string
		json.Unmarshal(raw, &s)
		if s == "" {
			return nil, nil
		}
		return []anthBlock{{Type: "text", Text: &s}}, nil
	}
	arr, e := decodeArray(raw, p)
	if e != nil {
		return nil, invalid(p, "must be a string or an array of content parts")
	}
	var out []anthBlock
	for i, r := range arr {
		pp := index(p, i)
		o, typ, e := blockType(r, pp)
		if e != nil {
			return nil, e
		}
		switch {
		case typ == "text":
			if e := o.only(pp, anthNote, "type", "text"); e != nil {
				return nil, e
			}
			t, e := o.str(pp, "text", true)
			if e != nil {
				return nil, e
			}
			if t != "" {
				out = append(out, anthBlock{Type: "text", Text: &t})
			}
		case typ == "image_url" && images:
			if e := o.only(pp, anthNote, "type", "image_url"); e != nil {
				return nil, e
			}
			ip := join(pp, "image_url")
			img, e := decodeObject(o["image_url"], ip)
			if e != nil {
				return nil, e
			}
			if e := img.only(ip, anthNote, "url", "detail"); e != nil {
				return nil, e
			}
			u, e := img.str(ip, "url", true)
			if e != nil {
				return nil, e
			}
			src, e := imageSource(u, join(ip, "url"))
			if e != nil {
				return nil, e
			}
			out = append(out, anthBlock{Type: "image", Source: src})
		default:
			return nil, invalid(join(pp, "type"), "content parts of type "+typ+" are not supported here "+anthNote)
		}
	}
	return out, nil
}

// imageSource turns an image URL into an Anthropic image source: a base64
// data: URL or an http(s) URL.
func imageSource(u, p string) (*anthSource, *Error) {
	if rest, ok := strings.CutPrefix(u, "data:"); ok {
		meta, data, ok := strings.Cut(rest, ",")
		mt, isB64 := strings.CutSuffix(meta, ";base64")
		if !ok || !isB64 || mt == "" {
			return nil, invalid(p, "a data: URL must be base64 with a media type")
		}
		return &anthSource{Type: "base64", MediaType: mt, Data: data}, nil
	}
	if strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") {
		return &anthSource{Type: "url", URL: u}, nil
	}
	return nil, invalid(p, "must be a data: or http(s) URL")
}

func toolUseBlock(raw json.RawMessage, p string) (anthBlock, *Error) {
	o, e := decodeObject(raw, p)
	if e != nil {
		return anthBlock{}, e
	}
	if e := o.only(p, anthNote, "id", "type", "function", "index"); e != nil {
		return anthBlock{}, e
	}
	if typ, e := o.str(p, "type", false); e != nil {
		return anthBlock{}, e
	} else if typ != "" && typ != "function" {
		return anthBlock{}, invalid(join(p, "type"), "tool calls of type "+typ+" are not supported "+anthNote)
	}
	id, e := o.str(p, "id", true)
	if e != nil {
		return anthBlock{}, e
	}
	fp := join(p, "function")
	fn, e := decodeObject(o["function"], fp)
	if e != nil {
		return anthBlock{}, e
	}
	name, e := fn.str(fp, "name", true)
	if e != nil {
		return anthBlock{}, e
	}
	args, e := fn.str(fp, "arguments", false)
	if e != nil {
		return anthBlock{}, e
	}
	input := json.RawMessage("{}")
	if strings.TrimSpace(args) != "" {
		in := json.RawMessage(strings.TrimSpace(args))
		c, ok := compact(in)
		if !ok || kindOf(in) != "object" {
			return anthBlock{}, invalid(join(fp, "arguments"), "must be a JSON object")
		}
		input = json.RawMessage(c)
	}
	return anthBlock{Type: "tool_use", ID: id, Name: name, Input: input}, nil
}

func anthTools(raw json.RawMessage) ([]anthTool, *Error) {
	arr, e := decodeArray(raw, "tools")
	if e != nil {
		return nil, e
	}
	out := make([]anthTool, 0, len(arr))
	for i, r := range arr {
		p := index("tools", i)
		o, typ, e := blockType(r, p)
		if e != nil {
			return nil, e
		}
		if typ != "function" {
			return nil, invalid(join(p, "type"), "tools of type "+typ+" are not supported "+anthNote)
		}
		if e := o.only(p, anthNote, "type", "function"); e != nil {
			return nil, e
		}
		fp := join(p, "function")
		fn, e := decodeObject(o["function"], fp)
		if e != nil {
			return nil, e
		}
		if e := fn.only(fp, anthNote, "name", "description", "parameters", "strict"); e != nil {
			return nil, e
		}
		var t anthTool
		if t.Name, e = fn.str(fp, "name", true); e != nil {
			return nil, e
		}
		if t.Description, e = fn.str(fp, "description", false); e != nil {
			return nil, e
		}
		t.InputSchema = json.RawMessage(`{"type":"object","properties":{}}`)
		if ps, ok := fn["parameters"]; ok && !isNull(ps) {
			if kindOf(ps) != "object" {
				return nil, invalid(join(fp, "parameters"), "must be an object")
			}
			t.InputSchema = ps
		}
		if s, ok := fn["strict"]; ok && !isNull(s) {
			v, e := fn.boolean(fp, "strict")
			if e != nil {
				return nil, e
			}
			t.Strict = &v
		}
		out = append(out, t)
	}
	return out, nil
}

func anthChoice(raw json.RawMessage) (*anthToolChoice, *Error) {
	const p = "tool_choice"
	if kindOf(raw) == "string" {
		var s string
		json.Unmarshal(raw, &s)
		switch s {
		case "auto":
			return &anthToolChoice{Type: "auto"}, nil
		case "required":
			return &anthToolChoice{Type: "any"}, nil
		case "none":
			return &anthToolChoice{Type: "none"}, nil
		}
		return nil, invalid(p, `must be "auto", "required", "none" or a function choice, not "`+s+`"`)
	}
	o, typ, e := blockType(raw, p)
	if e != nil {
		return nil, e
	}
	if typ != "function" {
		return nil, invalid(join(p, "type"), "tool choices of type "+typ+" are not supported "+anthNote)
	}
	fn, e := decodeObject(o["function"], join(p, "function"))
	if e != nil {
		return nil, e
	}
	name, e := fn.str(join(p, "function"), "name", true)
	if e != nil {
		return nil, e
	}
	return &anthToolChoice{Type: "tool", Name: name}, nil
}

// FinishReason maps Anthropic's stop_reason to OpenAI's finish_reason.
func FinishReason(stop string) string {
	switch stop {
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		return "tool_calls"
	case "refusal":
		return "content_filter"
	}
	return "stop"
}

func (u messageUsage) chat() *chatUsage {
	prompt := u.InputTokens + u.CacheReadInputTokens + u.CacheCreationInputTokens
	c := &chatUsage{PromptTokens: prompt, CompletionTokens: u.OutputTokens, TotalTokens: prompt + u.OutputTokens}
	c.PromptTokensDetails = &struct {
		CachedTokens     int64 `json:"cached_tokens"`
		CacheWriteTokens int64 `json:"cache_write_tokens"`
	}{u.CacheReadInputTokens, u.CacheCreationInputTokens}
	return c
}

type chatCompletion struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []chatChoice `json:"choices"`
	Usage   *chatUsage   `json:"usage,omitempty"`
}

type chatChoice struct {
	Index        int         `json:"index"`
	Message      *chatOutMsg `json:"message,omitempty"`
	Delta        *chatOutMsg `json:"delta,omitempty"`
	FinishReason *string     `json:"finish_reason"`
	Logprobs     *struct{}   `json:"logprobs"`
}

type chatOutMsg struct {
	Role             string            `json:"role,omitempty"`
	Content          json.RawMessage   `json:"content,omitempty"`
	ReasoningContent *string           `json:"reasoning_content,omitempty"`
	ToolCalls        []chatOutToolCall `json:"tool_calls,omitempty"`
}

type chatOutToolCall struct {
	Index    *int          `json:"index,omitempty"`
	ID       string        `json:"id,omitempty"`
	Type     string        `json:"type,omitempty"`
	Function chatOutFnCall `json:"function"`
}

type chatOutFnCall struct {
	Name      string  `json:"name,omitempty"`
	Arguments *string `json:"arguments,omitempty"`
}

// anthResponseBlock is a content block of an Anthropic answer.
type anthResponseBlock struct {
	Type     string          `json:"type"`
	Text     string          `json:"text"`
	Thinking string          `json:"thinking"`
	ID       string          `json:"id"`
	Name     string          `json:"name"`
	Input    json.RawMessage `json:"input"`
}

// ToChatResponse translates an Anthropic Message into an OpenAI chat
// completion. Text blocks are joined; thinking becomes reasoning_content;
// redacted_thinking (encrypted) is left out.
func ToChatResponse(msg []byte) ([]byte, error) {
	if _, err := wire.Scan(msg); err != nil {
		return nil, upstreamError("message: " + bodyError(err).Message)
	}
	var m struct {
		ID         string              `json:"id"`
		Type       string              `json:"type"`
		Model      string              `json:"model"`
		Content    []anthResponseBlock `json:"content"`
		StopReason *string             `json:"stop_reason"`
		Usage      *messageUsage       `json:"usage"`
	}
	if err := json.Unmarshal(msg, &m); err != nil {
		return nil, upstreamError("message has an unexpected shape: " + err.Error())
	}
	if m.Type != "message" {
		return nil, upstreamError(`message must have type "message"`)
	}
	var text, thinking strings.Builder
	var calls []chatOutToolCall
	hasText := false
	for i, b := range m.Content {
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
			hasText = true
		case "thinking":
			thinking.WriteString(b.Thinking)
		case "redacted_thinking":
		case "tool_use":
			in := b.Input
			if kindOf(in) != "object" {
				return nil, upstreamError(index("content", i) + ".input must be an object")
			}
			args, _ := compact(in)
			calls = append(calls, chatOutToolCall{ID: b.ID, Type: "function", Function: chatOutFnCall{Name: b.Name, Arguments: &args}})
		default:
			return nil, upstreamError(index("content", i) + ": blocks of type " + b.Type + " cannot be expressed in a chat completion")
		}
	}
	om := &chatOutMsg{Role: "assistant", Content: nullJSON, ToolCalls: calls}
	if hasText || len(calls) == 0 {
		om.Content = quote(text.String())
	}
	if thinking.Len() > 0 {
		s := thinking.String()
		om.ReasoningContent = &s
	}
	stop := ""
	if m.StopReason != nil {
		stop = *m.StopReason
	}
	fr := FinishReason(stop)
	out := chatCompletion{ID: m.ID, Object: "chat.completion", Created: clock().Unix(), Model: m.Model,
		Choices: []chatChoice{{Message: om, FinishReason: &fr}}}
	if m.Usage != nil {
		out.Usage = m.Usage.chat()
	}
	return marshal(out)
}
