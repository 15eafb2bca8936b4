package responses

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	wire "switchyard/internal/wire/openai"
)

// chatRequest is the chat completions body a Responses request becomes.
type chatRequest struct {
	Model               string          `json:"model"`
	Messages            []chatMessage   `json:"messages"`
	Tools               []chatTool      `json:"tools,omitempty"`
	ToolChoice          json.RawMessage `json:"tool_choice,omitempty"`
	ParallelToolCalls   *bool           `json:"parallel_tool_calls,omitempty"`
	Temperature         *float64        `json:"temperature,omitempty"`
	TopP                *float64        `json:"top_p,omitempty"`
	MaxCompletionTokens *int64          `json:"max_completion_tokens,omitempty"`
	ResponseFormat      json.RawMessage `json:"response_format,omitempty"`
	ReasoningEffort     *string         `json:"reasoning_effort,omitempty"`
	Verbosity           *string         `json:"verbosity,omitempty"`
	User                *string         `json:"user,omitempty"`
	PromptCacheKey      *string         `json:"prompt_cache_key,omitempty"`
	SafetyIdentifier    *string         `json:"safety_identifier,omitempty"`
	ServiceTier         *string         `json:"service_tier,omitempty"`
	Stream              bool            `json:"stream,omitempty"`
	StreamOptions       *streamOptions  `json:"stream_options,omitempty"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type chatMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"` // a string, parts, or null
	Refusal    string          `json:"refusal,omitempty"`
	ToolCalls  []chatToolCall  `json:"tool_calls,omitempty"`
	ToolCallID string          `json:"tool_call_id,omitempty"`
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
	Type     string       `json:"type"`
	Function functionTool `json:"function"`
}

type functionTool struct {
	Name        string          `json:"name"`
	Description *string         `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

var nullJSON = json.RawMessage("null")

// Chat translates the request into a chat completions body. prior is the
// conversation so far (the stored items of previous_response_id: its
// inputs and outputs, oldest first); this turn's instructions lead as a
// system message. Reasoning items are not sent: chat completions take no
// reasoning back. metadata and store are the Responses API's own (echoed
// in the object, kept by the store) and are not sent upstream, where
// chat's metadata and store mean OpenAI's stored chat completions.
func (r *Request) Chat(prior []json.RawMessage) ([]byte, error) {
	c := chatRequest{Model: r.Model, Tools: r.tools, ToolChoice: r.toolChoice, ParallelToolCalls: r.ParallelToolCalls,
		Temperature: r.Temperature, TopP: r.TopP, MaxCompletionTokens: r.MaxOutputTokens, User: r.User,
		PromptCacheKey: r.PromptCacheKey, SafetyIdentifier: r.SafetyIdentifier, ServiceTier: r.ServiceTier}
	if len(c.Tools) == 0 {
		c.ParallelToolCalls = nil // chat refuses it without tools
	}
	if r.Instructions != nil && *r.Instructions != "" {
		s, _ := marshal(*r.Instructions)
		c.Messages = append(c.Messages, chatMessage{Role: "system", Content: s})
	}
	var err error
	for _, it := range prior {
		if c.Messages, err = itemMessages(c.Messages, it, "previous_response_id"); err != nil {
			return nil, err
		}
	}
	for i, it := range r.Input {
		if c.Messages, err = itemMessages(c.Messages, it, "input["+strconv.Itoa(i)+"]"); err != nil {
			return nil, err
		}
	}
	if len(c.Messages) == 0 {
		return nil, invalid("input", "The input has no messages to send to the model.")
	}
	if r.Text != nil {
		if c.ResponseFormat, err = responseFormat(r.Text.Format); err != nil {
			return nil, err
		}
		c.Verbosity = r.Text.Verbosity
	}
	if r.Reasoning != nil {
		c.ReasoningEffort = r.Reasoning.Effort
	}
	if r.Stream {
		c.Stream = true
		c.StreamOptions = &streamOptions{IncludeUsage: true}
	}
	return marshal(c)
}

// item is the union of the input item shapes the translation reads.
type item struct {
	Type      string          `json:"type"`
	Role      string          `json:"role"`
	Content   json.RawMessage `json:"content"`
	CallID    string          `json:"call_id"`
	Name      string          `json:"name"`
	Arguments *string         `json:"arguments"`
	Output    json.RawMessage `json:"output"`
}

// part is one content part of a message or of a function call's output.
type part struct {
	Type     string  `json:"type"`
	Text     *string `json:"text"`
	Refusal  *string `json:"refusal"`
	ImageURL *string `json:"image_url"`
	FileID   *string `json:"file_id"`
	Detail   string  `json:"detail"`
}

// chatPart is a chat content part.
type chatPart struct {
	Type     string    `json:"type"`
	Text     *string   `json:"text,omitempty"`
	ImageURL *imageURL `json:"image_url,omitempty"`
}

type imageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

// itemMessages appends the chat messages of one input item to msgs.
// param names the item in errors.
func itemMessages(msgs []chatMessage, raw json.RawMessage, param string) ([]chatMessage, error) {
	var it item
	if err := json.Unmarshal(raw, &it); err != nil {
		return nil, wrongType(param, "an input item object")
	}
	switch it.Type {
	case "message":
		return messageItem(msgs, &it, param)
	case "function_call":
		if it.CallID == "" {
			return nil, missing(param + ".call_id")
		}
		if it.Name == "" {
			return nil, missing(param + ".name")
		}
		if it.Arguments == nil {
			return nil, missing(param + ".arguments")
		}
		tc := chatToolCall{ID: it.CallID, Type: "function", Function: chatFunction{Name: it.Name, Arguments: *it.Arguments}}
		if n := len(msgs); n > 0 && msgs[n-1].Role == "assistant" {
			msgs[n-1].ToolCalls = append(msgs[n-1].ToolCalls, tc)
			return msgs, nil
		}
		return append(msgs, chatMessage{Role: "assistant", Content: nullJSON, ToolCalls: []chatToolCall{tc}}), nil
	case "function_call_output":
		if it.CallID == "" {
			return nil, missing(param + ".call_id")
		}
		out, err := toolOutput(it.Output, param+".output")
		if err != nil {
			return nil, err
		}
		return append(msgs, chatMessage{Role: "tool", ToolCallID: it.CallID, Content: out}), nil
	case "reasoning":
		// The model's earlier reasoning: chat completions take none back.
		return msgs, nil
	case "":
		return nil, missing(param + ".type")
	}
	return nil, unsupported(param+".type", "Input items of type '"+it.Type+"' are not supported by this gateway.")
}

func missing(param string) error {
	return wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "missing_required_parameter", param,
		"Missing required parameter: '"+param+"'.")
}

// messageItem translates a message item.
func messageItem(msgs []chatMessage, it *item, param string) ([]chatMessage, error) {
	role := it.Role
	switch role {
	case "user", "assistant", "system":
	case "developer":
		role = "system" // the same instruction role, in the form every chat upstream takes
	case "":
		return nil, missing(param + ".role")
	default:
		return nil, invalid(param+".role", "Invalid value: '"+role+"'. Supported values are: 'user', 'assistant', 'system' and 'developer'.")
	}
	if isNull(it.Content) {
		return nil, missing(param + ".content")
	}
	if it.Content[0] == '"' {
		return append(msgs, chatMessage{Role: role, Content: it.Content}), nil
	}
	var parts []json.RawMessage
	if it.Content[0] != '[' || json.Unmarshal(it.Content, &parts) != nil {
		return nil, wrongType(param+".content", "a string or an array of content parts")
	}
	if role == "assistant" {
		var text strings.Builder
		var refusal string
		for j, pr := range parts {
			pp := param + ".content[" + strconv.Itoa(j) + "]"
			var p part
			if json.Unmarshal(pr, &p) != nil {
				return nil, wrongType(pp, "a content part object")
			}
			switch p.Type {
			case "output_text", "input_text":
				if p.Text == nil {
					return nil, missing(pp + ".text")
				}
				text.WriteString(*p.Text)
			case "refusal":
				if p.Refusal == nil {
					return nil, missing(pp + ".refusal")
				}
				refusal += *p.Refusal
			default:
				return nil, invalid(pp+".type", "Assistant message parts must be 'output_text' or 'refusal', not '"+p.Type+"'.")
			}
		}
		content := nullJSON
		if text.Len() > 0 || refusal == "" {
			content, _ = marshal(text.String())
		}
		return append(msgs, chatMessage{Role: role, Content: content, Refusal: refusal}), nil
	}
	out := make([]chatPart, 0, len(parts))
	for j, pr := range parts {
		pp := param + ".content[" + strconv.Itoa(j) + "]"
		var p part
		if json.Unmarshal(pr, &p) != nil {
			return nil, wrongType(pp, "a content part object")
		}
		switch p.Type {
		case "input_text", "output_text":
			if p.Text == nil {
				return nil, missing(pp + ".text")
			}
			out = append(out, chatPart{Type: "text", Text: p.Text})
		case "input_image":
			if role != "user" {
				return nil, invalid(pp+".type", "Only user messages may carry images.")
			}
			if p.FileID != nil {
				return nil, unsupported(pp+".file_id", "Images by file_id are not supported by this gateway; send image_url (a URL or a data: URL).")
			}
			if p.ImageURL == nil || *p.ImageURL == "" {
				return nil, missing(pp + ".image_url")
			}
			d := p.Detail
			if d == "auto" {
				d = ""
			}
			out = append(out, chatPart{Type: "image_url", ImageURL: &imageURL{URL: *p.ImageURL, Detail: d}})
		case "":
			return nil, missing(pp + ".type")
		default:
			return nil, unsupported(pp+".type", "Content parts of type '"+p.Type+"' are not supported by this gateway.")
		}
	}
	if len(out) == 1 && out[0].Type == "text" {
		s, _ := marshal(*out[0].Text)
		return append(msgs, chatMessage{Role: role, Content: s}), nil
	}
	content, _ := marshal(out)
	return append(msgs, chatMessage{Role: role, Content: content}), nil
}

// toolOutput is a function call's output as a chat tool message's content.
func toolOutput(raw json.RawMessage, param string) (json.RawMessage, error) {
	if isNull(raw) {
		return nil, missing(param)
	}
	if raw[0] == '"' {
		return raw, nil
	}
	var parts []part
	if raw[0] != '[' || json.Unmarshal(raw, &parts) != nil {
		return nil, wrongType(param, "a string or an array of input_text parts")
	}
	var b strings.Builder
	for j, p := range parts {
		pp := param + "[" + strconv.Itoa(j) + "]"
		if p.Type != "input_text" {
			return nil, unsupported(pp+".type", "Function call outputs of type '"+p.Type+"' are not supported by this gateway (chat tool messages carry text).")
		}
		if p.Text == nil {
			return nil, missing(pp + ".text")
		}
		b.WriteString(*p.Text)
	}
	s, _ := marshal(b.String())
	return s, nil
}

// parseTools reads the tools member: function tools only.
func (r *Request) parseTools(raw []byte) error {
	if isNull(raw) {
		return nil
	}
	var tools []json.RawMessage
	if err := decode(raw, &tools, "tools", "an array of tools"); err != nil {
		return err
	}
	r.Tools = json.RawMessage(raw)
	for i, tr := range tools {
		param := "tools[" + strconv.Itoa(i) + "]"
		var t struct {
			Type        string          `json:"type"`
			Name        string          `json:"name"`
			Description *string         `json:"description"`
			Parameters  json.RawMessage `json:"parameters"`
			Strict      *bool           `json:"strict"`
		}
		if len(tr) == 0 || tr[0] != '{' || json.Unmarshal(tr, &t) != nil {
			return wrongType(param, "a function tool object")
		}
		switch t.Type {
		case "function":
		case "":
			return missing(param + ".type")
		default:
			return unsupported(param+".type", "Tools of type '"+t.Type+"' are not supported by this gateway; only 'function' tools are.")
		}
		if err := onlyKeys(tr, param, "type", "name", "description", "parameters", "strict"); err != nil {
			return err
		}
		if t.Name == "" {
			return missing(param + ".name")
		}
		if isNull(t.Parameters) {
			t.Parameters = nil
		} else if t.Parameters[0] != '{' {
			return wrongType(param+".parameters", "a JSON Schema object")
		}
		r.tools = append(r.tools, chatTool{Type: "function", Function: functionTool{Name: t.Name, Description: t.Description,
			Parameters: t.Parameters, Strict: t.Strict}})
	}
	return nil
}

// parseToolChoice reads tool_choice into chat's shape.
func (r *Request) parseToolChoice(raw []byte) error {
	if isNull(raw) {
		return nil
	}
	r.ToolChoice = json.RawMessage(raw)
	if raw[0] == '"' {
		var s string
		json.Unmarshal(raw, &s)
		switch s {
		case "none", "auto", "required":
			r.toolChoice = json.RawMessage(raw)
			return nil
		}
		return invalid("tool_choice", "Invalid value: '"+s+"'. Supported values are: 'none', 'auto' and 'required'.")
	}
	type named struct {
		Type string `json:"type"`
		Name string `json:"name"`
	}
	var tc struct {
		named
		Mode  string  `json:"mode"`
		Tools []named `json:"tools"`
	}
	if err := decode(raw, &tc, "tool_choice", "a string or an object"); err != nil {
		return err
	}
	fn := func(n named, param string) (json.RawMessage, error) {
		if n.Type != "function" {
			return nil, unsupported(param+".type", "Tool choices of type '"+n.Type+"' are not supported by this gateway; only 'function' is.")
		}
		if n.Name == "" {
			return nil, missing(param + ".name")
		}
		return marshal(map[string]any{"type": "function", "function": map[string]string{"name": n.Name}})
	}
	switch tc.Type {
	case "function":
		out, err := fn(tc.named, "tool_choice")
		r.toolChoice = out
		return err
	case "allowed_tools":
		if tc.Mode != "auto" && tc.Mode != "required" {
			return invalid("tool_choice.mode", "Invalid value: '"+tc.Mode+"'. Supported values are: 'auto' and 'required'.")
		}
		tools := make([]json.RawMessage, 0, len(tc.Tools))
		for i, t := range tc.Tools {
			out, err := fn(t, "tool_choice.tools["+strconv.Itoa(i)+"]")
			if err != nil {
				return err
			}
			tools = append(tools, out)
		}
		out, _ := marshal(map[string]any{"type": "allowed_tools", "allowed_tools": map[string]any{"mode": tc.Mode, "tools": tools}})
		r.toolChoice = out
		return nil
	case "":
		return missing("tool_choice.type")
	}
	return unsupported("tool_choice.type", "Tool choices of type '"+tc.Type+"' are not supported by this gateway.")
}

// parseText reads the text member (format and verbosity).
func (r *Request) parseText(raw []byte) error {
	if isNull(raw) {
		return nil
	}
	var t TextConfig
	if err := decode(raw, &t, "text", "an object"); err != nil {
		return err
	}
	if err := onlyKeys(raw, "text", "format", "verbosity"); err != nil {
		return err
	}
	if _, err := responseFormat(t.Format); err != nil {
		return err
	}
	r.Text = &t
	return nil
}

// responseFormat is text.format as chat's response_format (nil for text).
func responseFormat(raw json.RawMessage) (json.RawMessage, error) {
	if isNull(raw) {
		return nil, nil
	}
	var f struct {
		Type        string          `json:"type"`
		Name        string          `json:"name"`
		Description *string         `json:"description"`
		Schema      json.RawMessage `json:"schema"`
		Strict      *bool           `json:"strict"`
	}
	if err := decode(raw, &f, "text.format", "an object"); err != nil {
		return nil, err
	}
	switch f.Type {
	case "text":
		return nil, nil
	case "json_object":
		return json.RawMessage(`{"type":"json_object"}`), nil
	case "json_schema":
		if f.Name == "" {
			return nil, missing("text.format.name")
		}
		if isNull(f.Schema) || f.Schema[0] != '{' {
			return nil, missing("text.format.schema")
		}
		return marshal(map[string]any{"type": "json_schema", "json_schema": struct {
			Name        string          `json:"name"`
			Description *string         `json:"description,omitempty"`
			Schema      json.RawMessage `json:"schema"`
			Strict      *bool           `json:"strict,omitempty"`
		}{f.Name, f.Description, f.Schema, f.Strict}})
	case "":
		return nil, missing("text.format.type")
	}
	return nil, invalid("text.format.type", "Invalid value: '"+f.Type+"'. Supported values are: 'text', 'json_object' and 'json_schema'.")
}
