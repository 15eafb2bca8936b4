package responses

// The request translation as it was before the single-pass rewrite
// (decode into structs with encoding/json, re-encode with marshal), kept
// as the reference oracle of FuzzParseOracle.

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	wire "switchyard/internal/wire/openai"
)

type oldRequest struct {
	Model              string
	Stream             bool
	Store              bool // default true
	PreviousResponseID string
	// Input is this turn's items as given, each with its "type" set (a
	// string input is one user message item).
	Input []json.RawMessage
	// Instructions is the system message for this turn only (it is not
	// carried to the next turn by previous_response_id).
	Instructions *string

	Temperature       *float64
	TopP              *float64
	MaxOutputTokens   *int64
	ParallelToolCalls *bool
	User              *string
	Metadata          json.RawMessage // an object of strings, or nil
	// Tools is the tools array as given (echoed); the chat translation
	// comes from tools.
	Tools      json.RawMessage
	ToolChoice json.RawMessage // as given, or nil
	Text       *TextConfig
	Reasoning  *Reasoning

	PromptCacheKey   *string
	SafetyIdentifier *string
	ServiceTier      *string

	tools      []oldChatTool
	toolChoice json.RawMessage // translated
}

// decode unmarshals a member, answering a type error that names param.
func oldDecode(raw []byte, v any, param, want string) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return wrongType(param, want)
	}
	return nil
}

// Parse reads a Responses create body. An error is a *wire.Error (400)
// naming the field: malformed JSON, a wrong type, an unknown parameter, or
// one whose meaning the chat translation cannot keep (background mode,
// conversations, hosted tools, include values…) — never a silent drop.
func oldParse(body []byte) (*oldRequest, error) {
	if _, err := wire.Scan(body); err != nil {
		return nil, wire.BodyError(err)
	}
	r := &oldRequest{Store: true}
	var ferr error
	wire.Each(body, wire.Span{End: len(body)}, func(key []byte, v wire.Span) bool {
		ferr = r.member(string(key), body[v.Start:v.End])
		return ferr == nil
	})
	if ferr != nil {
		return nil, ferr
	}
	if r.Model == "" {
		return nil, wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "missing_required_parameter", "model",
			"Missing required parameter: 'model'.")
	}
	if r.Input == nil {
		return nil, wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "missing_required_parameter", "input",
			"Missing required parameter: 'input'.")
	}
	return r, nil
}

// member reads one top-level member.
func (r *oldRequest) member(key string, raw []byte) error {
	switch key {
	case "model":
		if err := oldDecode(raw, &r.Model, key, "a string"); err != nil {
			return err
		}
	case "input":
		return r.input(raw)
	case "instructions":
		if !isNull(raw) {
			return oldDecode(raw, &r.Instructions, key, "a string")
		}
	case "tools":
		return r.parseTools(raw)
	case "tool_choice":
		return r.parseToolChoice(raw)
	case "parallel_tool_calls":
		if !isNull(raw) {
			return oldDecode(raw, &r.ParallelToolCalls, key, "a boolean")
		}
	case "temperature":
		if !isNull(raw) {
			return oldDecode(raw, &r.Temperature, key, "a number")
		}
	case "top_p":
		if !isNull(raw) {
			return oldDecode(raw, &r.TopP, key, "a number")
		}
	case "max_output_tokens":
		if !isNull(raw) {
			if err := oldDecode(raw, &r.MaxOutputTokens, key, "an integer"); err != nil {
				return err
			}
			if *r.MaxOutputTokens < 1 {
				return invalid(key, "Invalid 'max_output_tokens': integer below minimum value 1.")
			}
		}
	case "text":
		return r.parseText(raw)
	case "reasoning":
		if !isNull(raw) {
			var v Reasoning
			if err := oldDecode(raw, &v, key, "an object"); err != nil {
				return err
			}
			if err := oldOnlyKeys(raw, key, "effort", "summary", "generate_summary"); err != nil {
				return err
			}
			r.Reasoning = &v
		}
	case "metadata":
		if !isNull(raw) {
			var m map[string]string
			if err := oldDecode(raw, &m, key, "an object of strings"); err != nil {
				return err
			}
			if len(m) > 16 {
				return invalid(key, "Invalid 'metadata': at most 16 keys.")
			}
			r.Metadata = json.RawMessage(raw)
		}
	case "user":
		if !isNull(raw) {
			return oldDecode(raw, &r.User, key, "a string")
		}
	case "stream":
		if !isNull(raw) {
			return oldDecode(raw, &r.Stream, key, "a boolean")
		}
	case "stream_options":
		// include_obfuscation only pads events against side channels;
		// leaving the padding out changes nothing the client reads.
		if !isNull(raw) {
			var v struct {
				IncludeObfuscation *bool `json:"include_obfuscation"`
			}
			if err := oldDecode(raw, &v, key, "an object"); err != nil {
				return err
			}
			return oldOnlyKeys(raw, key, "include_obfuscation")
		}
	case "store":
		if !isNull(raw) {
			return oldDecode(raw, &r.Store, key, "a boolean")
		}
	case "previous_response_id":
		if !isNull(raw) {
			return oldDecode(raw, &r.PreviousResponseID, key, "a string")
		}
	case "prompt_cache_key":
		if !isNull(raw) {
			return oldDecode(raw, &r.PromptCacheKey, key, "a string")
		}
	case "safety_identifier":
		if !isNull(raw) {
			return oldDecode(raw, &r.SafetyIdentifier, key, "a string")
		}
	case "service_tier":
		if !isNull(raw) {
			return oldDecode(raw, &r.ServiceTier, key, "a string")
		}
	case "background":
		var b bool
		if !isNull(raw) {
			if err := oldDecode(raw, &b, key, "a boolean"); err != nil {
				return err
			}
		}
		if b {
			return unsupported(key, "Background responses are not supported by this gateway; send the request without 'background'.")
		}
	case "truncation":
		var s string
		if !isNull(raw) {
			if err := oldDecode(raw, &s, key, "a string"); err != nil {
				return err
			}
		}
		if s != "" && s != "disabled" {
			return unsupported(key, "Only truncation 'disabled' is supported by this gateway.")
		}
	case "top_logprobs":
		var n int64
		if !isNull(raw) {
			if err := oldDecode(raw, &n, key, "an integer"); err != nil {
				return err
			}
		}
		if n != 0 {
			return unsupported(key, "'top_logprobs' is not supported by this gateway.")
		}
	case "include":
		var v []string
		if !isNull(raw) {
			if err := oldDecode(raw, &v, key, "an array of strings"); err != nil {
				return err
			}
		}
		if len(v) > 0 {
			return unsupported("include[0]", "The include value '"+v[0]+"' is not supported by this gateway.")
		}
	case "conversation", "prompt", "max_tool_calls":
		if !isNull(raw) {
			return unsupported(key, "'"+key+"' is not supported by this gateway.")
		}
	default:
		return wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "unknown_parameter", key,
			"Unknown parameter: '"+key+"'.")
	}
	return nil
}

// onlyKeys refuses members of the object raw other than keys.
func oldOnlyKeys(raw []byte, param string, keys ...string) error {
	// One change from the original: an empty key is refused too (it used
	// to end the check early, letting the members after it through).
	var bad string
	found := false
	wire.Each(raw, wire.Span{End: len(raw)}, func(k []byte, _ wire.Span) bool {
		for _, want := range keys {
			if string(k) == want {
				return true
			}
		}
		bad, found = string(k), true
		return false
	})
	if found && raw[0] == '{' {
		return wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "unknown_parameter", param+"."+bad,
			"Unknown parameter: '"+param+"."+bad+"'.")
	}
	return nil
}

// input normalises the input member into items, each with its type.
func (r *oldRequest) input(raw []byte) error {
	if isNull(raw) {
		return nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return wrongType("input", "a string or an array of items")
		}
		oldItem, _ := marshal(struct {
			Type    string `json:"type"`
			Role    string `json:"role"`
			Content string `json:"content"`
		}{"message", "user", s})
		r.Input = []json.RawMessage{oldItem}
		return nil
	case '[':
	default:
		return wrongType("input", "a string or an array of items")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return wrongType("input", "a string or an array of items")
	}
	r.Input = make([]json.RawMessage, 0, len(items))
	for i, it := range items {
		param := "input[" + strconv.Itoa(i) + "]"
		var head struct {
			Type *string `json:"type"`
			Role *string `json:"role"`
		}
		if len(it) == 0 || it[0] != '{' || json.Unmarshal(it, &head) != nil {
			return wrongType(param, "an object")
		}
		if head.Type == nil {
			if head.Role == nil {
				return wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "missing_required_parameter", param+".type",
					"Missing required parameter: '"+param+".type'.")
			}
			// An easy input message: give it its type, so that stored
			// items read alike.
			it = append([]byte(`{"type":"message",`), bytes.TrimSpace(it)[1:]...)
		}
		if _, err := oldItemMessages(nil, it, param); err != nil {
			return err
		}
		r.Input = append(r.Input, it)
	}
	return nil
}

// chatRequest is the chat completions body a Responses request becomes.
type oldChatRequest struct {
	Model               string            `json:"model"`
	Messages            []oldChatMessage  `json:"messages"`
	Tools               []oldChatTool     `json:"tools,omitempty"`
	ToolChoice          json.RawMessage   `json:"tool_choice,omitempty"`
	ParallelToolCalls   *bool             `json:"parallel_tool_calls,omitempty"`
	Temperature         *float64          `json:"temperature,omitempty"`
	TopP                *float64          `json:"top_p,omitempty"`
	MaxCompletionTokens *int64            `json:"max_completion_tokens,omitempty"`
	ResponseFormat      json.RawMessage   `json:"response_format,omitempty"`
	ReasoningEffort     *string           `json:"reasoning_effort,omitempty"`
	Verbosity           *string           `json:"verbosity,omitempty"`
	User                *string           `json:"user,omitempty"`
	PromptCacheKey      *string           `json:"prompt_cache_key,omitempty"`
	SafetyIdentifier    *string           `json:"safety_identifier,omitempty"`
	ServiceTier         *string           `json:"service_tier,omitempty"`
	Stream              bool              `json:"stream,omitempty"`
	StreamOptions       *oldStreamOptions `json:"stream_options,omitempty"`
}

type oldStreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type oldChatMessage struct {
	Role       string            `json:"role"`
	Content    json.RawMessage   `json:"content"` // a string, parts, or null
	Refusal    string            `json:"refusal,omitempty"`
	ToolCalls  []oldChatToolCall `json:"tool_calls,omitempty"`
	ToolCallID string            `json:"tool_call_id,omitempty"`
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
	Type     string          `json:"type"`
	Function oldFunctionTool `json:"function"`
}

type oldFunctionTool struct {
	Name        string          `json:"name"`
	Description *string         `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

var oldNullJSON = json.RawMessage("null")

// Chat translates the request into a chat completions body. prior is the
// conversation so far (the stored items of previous_response_id: its
// inputs and outputs, oldest first); this turn's instructions lead as a
// system message. Reasoning items are not sent: chat completions take no
// reasoning back. metadata and store are the Responses API's own (echoed
// in the object, kept by the store) and are not sent upstream, where
// chat's metadata and store mean OpenAI's stored chat completions.
func (r *oldRequest) Chat(prior []json.RawMessage) ([]byte, error) {
	c := oldChatRequest{Model: r.Model, Tools: r.tools, ToolChoice: r.toolChoice, ParallelToolCalls: r.ParallelToolCalls,
		Temperature: r.Temperature, TopP: r.TopP, MaxCompletionTokens: r.MaxOutputTokens, User: r.User,
		PromptCacheKey: r.PromptCacheKey, SafetyIdentifier: r.SafetyIdentifier, ServiceTier: r.ServiceTier}
	if len(c.Tools) == 0 {
		c.ParallelToolCalls = nil // chat refuses it without tools
	}
	if r.Instructions != nil && *r.Instructions != "" {
		s, _ := marshal(*r.Instructions)
		c.Messages = append(c.Messages, oldChatMessage{Role: "system", Content: s})
	}
	var err error
	for _, it := range prior {
		if c.Messages, err = oldItemMessages(c.Messages, it, "previous_response_id"); err != nil {
			return nil, err
		}
	}
	for i, it := range r.Input {
		if c.Messages, err = oldItemMessages(c.Messages, it, "input["+strconv.Itoa(i)+"]"); err != nil {
			return nil, err
		}
	}
	if len(c.Messages) == 0 {
		return nil, invalid("input", "The input has no messages to send to the model.")
	}
	if r.Text != nil {
		if c.ResponseFormat, err = oldResponseFormat(r.Text.Format); err != nil {
			return nil, err
		}
		c.Verbosity = r.Text.Verbosity
	}
	if r.Reasoning != nil {
		c.ReasoningEffort = r.Reasoning.Effort
	}
	if r.Stream {
		c.Stream = true
		c.StreamOptions = &oldStreamOptions{IncludeUsage: true}
	}
	return marshal(c)
}

// item is the union of the input item shapes the translation reads.
type oldItem struct {
	Type      string          `json:"type"`
	Role      string          `json:"role"`
	Content   json.RawMessage `json:"content"`
	CallID    string          `json:"call_id"`
	Name      string          `json:"name"`
	Arguments *string         `json:"arguments"`
	Output    json.RawMessage `json:"output"`
}

// part is one content part of a message or of a function call's output.
type oldPart struct {
	Type     string  `json:"type"`
	Text     *string `json:"text"`
	Refusal  *string `json:"refusal"`
	ImageURL *string `json:"image_url"`
	FileID   *string `json:"file_id"`
	Detail   string  `json:"detail"`
}

// chatPart is a chat content part.
type oldChatPart struct {
	Type     string       `json:"type"`
	Text     *string      `json:"text,omitempty"`
	ImageURL *oldImageURL `json:"image_url,omitempty"`
}

type oldImageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

// itemMessages appends the chat messages of one input item to msgs.
// param names the item in errors.
func oldItemMessages(msgs []oldChatMessage, raw json.RawMessage, param string) ([]oldChatMessage, error) {
	var it oldItem
	if err := json.Unmarshal(raw, &it); err != nil {
		return nil, wrongType(param, "an input item object")
	}
	switch it.Type {
	case "message":
		return oldMessageItem(msgs, &it, param)
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
		tc := oldChatToolCall{ID: it.CallID, Type: "function", Function: oldChatFunction{Name: it.Name, Arguments: *it.Arguments}}
		if n := len(msgs); n > 0 && msgs[n-1].Role == "assistant" {
			msgs[n-1].ToolCalls = append(msgs[n-1].ToolCalls, tc)
			return msgs, nil
		}
		return append(msgs, oldChatMessage{Role: "assistant", Content: oldNullJSON, ToolCalls: []oldChatToolCall{tc}}), nil
	case "function_call_output":
		if it.CallID == "" {
			return nil, missing(param + ".call_id")
		}
		out, err := oldToolOutput(it.Output, param+".output")
		if err != nil {
			return nil, err
		}
		return append(msgs, oldChatMessage{Role: "tool", ToolCallID: it.CallID, Content: out}), nil
	case "reasoning":
		// The model's earlier reasoning: chat completions take none back.
		return msgs, nil
	case "":
		return nil, missing(param + ".type")
	}
	return nil, unsupported(param+".type", "Input items of type '"+it.Type+"' are not supported by this gateway.")
}

// messageItem translates a message item.
func oldMessageItem(msgs []oldChatMessage, it *oldItem, param string) ([]oldChatMessage, error) {
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
		return append(msgs, oldChatMessage{Role: role, Content: it.Content}), nil
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
			var p oldPart
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
		content := oldNullJSON
		if text.Len() > 0 || refusal == "" {
			content, _ = marshal(text.String())
		}
		return append(msgs, oldChatMessage{Role: role, Content: content, Refusal: refusal}), nil
	}
	out := make([]oldChatPart, 0, len(parts))
	for j, pr := range parts {
		pp := param + ".content[" + strconv.Itoa(j) + "]"
		var p oldPart
		if json.Unmarshal(pr, &p) != nil {
			return nil, wrongType(pp, "a content part object")
		}
		switch p.Type {
		case "input_text", "output_text":
			if p.Text == nil {
				return nil, missing(pp + ".text")
			}
			out = append(out, oldChatPart{Type: "text", Text: p.Text})
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
			out = append(out, oldChatPart{Type: "image_url", ImageURL: &oldImageURL{URL: *p.ImageURL, Detail: d}})
		case "":
			return nil, missing(pp + ".type")
		default:
			return nil, unsupported(pp+".type", "Content parts of type '"+p.Type+"' are not supported by this gateway.")
		}
	}
	if len(out) == 1 && out[0].Type == "text" {
		s, _ := marshal(*out[0].Text)
		return append(msgs, oldChatMessage{Role: role, Content: s}), nil
	}
	content, _ := marshal(out)
	return append(msgs, oldChatMessage{Role: role, Content: content}), nil
}

// toolOutput is a function call's output as a chat tool message's content.
func oldToolOutput(raw json.RawMessage, param string) (json.RawMessage, error) {
	if isNull(raw) {
		return nil, missing(param)
	}
	if raw[0] == '"' {
		return raw, nil
	}
	var parts []oldPart
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
func (r *oldRequest) parseTools(raw []byte) error {
	if isNull(raw) {
		return nil
	}
	var tools []json.RawMessage
	if err := oldDecode(raw, &tools, "tools", "an array of tools"); err != nil {
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
		if err := oldOnlyKeys(tr, param, "type", "name", "description", "parameters", "strict"); err != nil {
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
		r.tools = append(r.tools, oldChatTool{Type: "function", Function: oldFunctionTool{Name: t.Name, Description: t.Description,
			Parameters: t.Parameters, Strict: t.Strict}})
	}
	return nil
}

// parseToolChoice reads tool_choice into chat's shape.
func (r *oldRequest) parseToolChoice(raw []byte) error {
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
	if err := oldDecode(raw, &tc, "tool_choice", "a string or an object"); err != nil {
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
func (r *oldRequest) parseText(raw []byte) error {
	if isNull(raw) {
		return nil
	}
	var t TextConfig
	if err := oldDecode(raw, &t, "text", "an object"); err != nil {
		return err
	}
	if err := oldOnlyKeys(raw, "text", "format", "verbosity"); err != nil {
		return err
	}
	if _, err := oldResponseFormat(t.Format); err != nil {
		return err
	}
	r.Text = &t
	return nil
}

// responseFormat is text.format as chat's response_format (nil for text).
func oldResponseFormat(raw json.RawMessage) (json.RawMessage, error) {
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
	if err := oldDecode(raw, &f, "text.format", "an object"); err != nil {
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
