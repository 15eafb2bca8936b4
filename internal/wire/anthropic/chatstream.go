package anthropic

import "encoding/json"

// ChatStream translates an Anthropic Messages stream into OpenAI chat
// chunk payloads, one event's data at a time: a role chunk for
// message_start, content, reasoning_content and tool_calls deltas, a finish
// chunk for message_delta and a usage chunk ({"choices":[],"usage":…}) for
// message_stop. ping and event types it does not know (Anthropic may add
// some) yield nothing; an "error" event is returned as an *Error.
type ChatStream struct {
	id, model string
	created   int64
	block     string // type of the open content block
	tools     int    // tool_use blocks seen; the open one is tools-1
	usage     messageUsage
	done      bool
}

// Done reports whether message_stop has been translated: the stream is
// complete and nothing after it matters.
func (c *ChatStream) Done() bool { return c.done }

// NewChatStream returns a translator for one stream.
func NewChatStream() *ChatStream { return &ChatStream{created: clock().Unix()} }

type streamEvent struct {
	Type    string `json:"type"`
	Message *struct {
		ID    string        `json:"id"`
		Model string        `json:"model"`
		Usage *messageUsage `json:"usage"`
	} `json:"message"`
	Index        int                `json:"index"`
	ContentBlock *anthResponseBlock `json:"content_block"`
	Delta        *struct {
		Type        string  `json:"type"`
		Text        string  `json:"text"`
		Thinking    string  `json:"thinking"`
		PartialJSON string  `json:"partial_json"`
		StopReason  *string `json:"stop_reason"`
	} `json:"delta"`
	Usage *deltaUsage `json:"usage"`
}

// deltaUsage is message_delta's cumulative usage; absent members keep
// the counts message_start gave.
type deltaUsage struct {
	InputTokens              *int64 `json:"input_tokens"`
	OutputTokens             *int64 `json:"output_tokens"`
	CacheCreationInputTokens *int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int64 `json:"cache_read_input_tokens"`
}

func (d *deltaUsage) apply(u *messageUsage) {
	for _, p := range []struct {
		src *int64
		dst *int64
	}{{d.InputTokens, &u.InputTokens}, {d.OutputTokens, &u.OutputTokens},
		{d.CacheCreationInputTokens, &u.CacheCreationInputTokens}, {d.CacheReadInputTokens, &u.CacheReadInputTokens}} {
		if p.src != nil {
			*p.dst = *p.src
		}
	}
}

// Event translates one event's data payload into at most one chunk
// payload; nil means the event yields none.
func (c *ChatStream) Event(data []byte) ([]byte, error) {
	var ev streamEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		return nil, upstreamError("stream event is not valid JSON: " + err.Error())
	}
	switch ev.Type {
	case "message_start":
		if ev.Message == nil {
			return nil, upstreamError("message_start without a message")
		}
		c.id, c.model = ev.Message.ID, ev.Message.Model
		if ev.Message.Usage != nil {
			c.usage = *ev.Message.Usage
		}
		return c.chunk(&chatOutMsg{Role: "assistant", Content: quote("")}, nil)
	case "content_block_start":
		b := ev.ContentBlock
		if b == nil {
			return nil, upstreamError("content_block_start without a content_block")
		}
		c.block = b.Type
		switch b.Type {
		case "text":
			if b.Text == "" {
				return nil, nil
			}
			return c.chunk(&chatOutMsg{Content: quote(b.Text)}, nil)
		case "thinking":
			if b.Thinking == "" {
				return nil, nil
			}
			return c.chunk(&chatOutMsg{ReasoningContent: &b.Thinking}, nil)
		case "redacted_thinking":
			return nil, nil
		case "tool_use":
			args := ""
			if kindOf(b.Input) == "object" {
				if s, ok := compact(b.Input); ok && s != "{}" {
					args = s
				}
			}
			i := c.tools
			c.tools++
			return c.chunk(&chatOutMsg{ToolCalls: []chatOutToolCall{{Index: &i, ID: b.ID, Type: "function",
				Function: chatOutFnCall{Name: b.Name, Arguments: &args}}}}, nil)
		}
		return nil, upstreamError("content blocks of type " + b.Type + " cannot be expressed in a chat stream")
	case "content_block_delta":
		d := ev.Delta
		if d == nil {
			return nil, upstreamError("content_block_delta without a delta")
		}
		switch d.Type {
		case "text_delta":
			if d.Text == "" {
				return nil, nil
			}
			return c.chunk(&chatOutMsg{Content: quote(d.Text)}, nil)
		case "thinking_delta":
			return c.chunk(&chatOutMsg{ReasoningContent: &d.Thinking}, nil)
		case "signature_delta":
			return nil, nil
		case "input_json_delta":
			if c.block != "tool_use" {
				return nil, upstreamError("input_json_delta outside a tool_use block")
			}
			if d.PartialJSON == "" {
				return nil, nil
			}
			i := c.tools - 1
			return c.chunk(&chatOutMsg{ToolCalls: []chatOutToolCall{{Index: &i, Function: chatOutFnCall{Arguments: &d.PartialJSON}}}}, nil)
		}
		return nil, upstreamError("deltas of type " + d.Type + " cannot be expressed in a chat stream")
	case "content_block_stop":
		c.block = ""
		return nil, nil
	case "message_delta":
		if ev.Usage != nil {
			ev.Usage.apply(&c.usage)
		}
		stop := ""
		if ev.Delta != nil && ev.Delta.StopReason != nil {
			stop = *ev.Delta.StopReason
		}
		fr := FinishReason(stop)
		return c.chunk(&chatOutMsg{}, &fr)
	case "message_stop":
		c.done = true
		out := chatCompletion{ID: c.id, Object: "chat.completion.chunk", Created: c.created, Model: c.model,
			Choices: []chatChoice{}, Usage: c.usage.chat()}
		return marshal(out)
	case "error":
		return nil, ParseError(0, data)
	}
	return nil, nil // ping, or an event type added after this was written
}

func (c *ChatStream) chunk(delta *chatOutMsg, finish *string) ([]byte, error) {
	return marshal(chatCompletion{ID: c.id, Object: "chat.completion.chunk", Created: c.created, Model: c.model,
		Choices: []chatChoice{{Delta: delta, FinishReason: finish}}})
}
