// Package responses translates OpenAI's Responses API to and from chat
// completions, with no I/O: a Responses request becomes a chat body
// (Parse, then Request.Chat), a chat completion becomes a Response object
// (Complete), and a chat stream becomes Responses stream events (Stream).
// Errors are OpenAI's error envelope (package wire/openai), which the
// Responses API shares; each names the offending field.
//
// Conversation state (previous_response_id) is the caller's: Request.Chat
// takes the prior items of the conversation, and every translation returns
// the output items to keep for the next turn.
package responses
