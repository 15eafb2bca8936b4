// Package anthropic translates between Anthropic's Messages API and the
// OpenAI chat-completions format the gateway speaks internally. It does no
// I/O: every function takes bytes and returns bytes.
//
// Two directions are covered:
//
//   - Anthropic clients in front of OpenAI-shaped upstreams: ToChat turns a
//     Messages request into a chat body, FromChat turns a chat completion
//     into a Message, and Stream turns chat chunks into Messages SSE frames.
//   - OpenAI-shaped clients in front of Anthropic: FromChatRequest,
//     ToChatResponse and ChatStream do the reverse.
//
// Usage and AppendEvent serve the native pass-through path, where bodies go
// to Anthropic untouched and the gateway only meters and re-frames them.
//
// Choices made where the formats differ (each is tested):
//
//   - cache_control is a pricing hint with no OpenAI equivalent; ToChat drops
//     it wherever it appears. On the native path it passes untouched.
//   - thinking and redacted_thinking blocks in assistant history are the
//     model's own earlier output; an OpenAI upstream cannot take them back,
//     so ToChat drops them (as Anthropic itself does for earlier turns).
//     DeepSeek-style reasoning_content in history is dropped by
//     FromChatRequest for the same reason.
//   - A request's "thinking" becomes OpenAI's reasoning_effort: a budget
//     under 4,096 tokens is low, under 16,384 medium, else high; adaptive
//     without a budget is medium; disabled sends none. service_tier is a
//     capacity hint and is dropped like cache_control.
//   - Several system blocks are joined with "\n"; several assistant text
//     blocks are joined with "" (they are one turn of output).
//   - A tool_result with is_error true becomes a tool message whose text
//     starts with "Error: ".
//   - Tool-call arguments that are not a JSON object are wrapped as
//     {"_raw": "<arguments>"} by FromChat (an input must be an object; the
//     text is kept rather than dropped); empty arguments become {}.
//   - FromChatRequest sends max_tokens 4096 when the client gives none
//     (Anthropic requires it); unknown finish reasons become end_turn.
//   - Fields with no equivalent on the other side (document blocks, server
//     tools, citations, n > 1, logprobs, json_schema response formats…) are
//     an *Error naming the field path, never a silent drop.
//
// Formats follow Anthropic's documentation:
// https://docs.anthropic.com/en/api/messages,
// https://docs.anthropic.com/en/api/messages-streaming and
// https://docs.anthropic.com/en/api/errors.
package anthropic
