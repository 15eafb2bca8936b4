package anthropic

import (
	"encoding/json"
	"strings"

	wire "switchyard/internal/wire/openai"
)

// message is an Anthropic Message object, in the member order written.
type message struct {
	ID           string         `json:"id"`
	Type         string         `json:"type"`
	Role         string         `json:"role"`
	Model        string         `json:"model"`
	Content      []contentBlock `json:"content"`
	StopReason   *string        `json:"stop_reason"`
	StopSequence *string        `json:"stop_sequence"`
	Usage        messageUsage   `json:"usage"`
}

type contentBlock struct {
	Type      string          `json:"type"`
	Text      *string         `json:"text,omitempty"`
	Thinking  *string         `json:"thinking,omitempty"`
	Signature *string         `json:"signature,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
}

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

// FromChat translates an OpenAI chat completion into an Anthropic Message
// whose "model" is model.
func FromChat(chatResp []byte, model string) ([]byte, error) {
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
	out := message{ID: "msg_" + resp.ID, Type: "message", Role: "assistant", Model: model, Content: []contentBlock{}}
	if r := ch.Message.ReasoningContent; r != nil && *r != "" {
		out.Content = append(out.Content, contentBlock{Type: "thinking", Thinking: r, Signature: new(string)})
	}
	text, err := wire.TextContent(ch.Message.Content)
	if err != nil {
		return nil, upstreamError("chat completion content: " + err.Error())
	}
	if text == "" && ch.Message.Refusal != nil {
		text = *ch.Message.Refusal
	}
	if text != "" {
		out.Content = append(out.Content, contentBlock{Type: "text", Text: &text})
	}
	for _, tc := range ch.Message.ToolCalls {
		out.Content = append(out.Content, contentBlock{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name, Input: toolInput(tc.Function.Arguments)})
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

// toolInput turns OpenAI's arguments string into a tool_use input object:
// the object itself, {} for none, or {"_raw": arguments} when the upstream
// produced something that is not a JSON object.
func toolInput(args string) json.RawMessage {
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

// upstreamError is a 502-class translation failure of an upstream answer.
func upstreamError(msg string) *Error {
	return &Error{Status: 502, Type: TypeAPI, Message: msg}
}
