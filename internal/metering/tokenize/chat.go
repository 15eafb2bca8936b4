package tokenize

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Framing of chat requests, from OpenAI's cookbook "How to count tokens
// with tiktoken" (the figures it gives for gpt-3.5-turbo-0613 and later,
// gpt-4 and gpt-4o).
const (
	// TokensPerMessage frames every message (<|start|>{role}<|message|>…<|end|>,
	// less the role itself, which is counted as text).
	TokensPerMessage = 3
	// TokensPerName is added when a message carries a "name".
	TokensPerName = 1
	// ReplyPriming primes the reply: <|start|>assistant<|message|>.
	ReplyPriming = 3
)

// Fixed estimates for non-text content parts, whose real cost depends on
// data a gateway does not decode.
const (
	// ImageTokensLow is the cost of an image_url part with detail "low".
	ImageTokensLow = 85
	// ImageTokensHigh is the estimate for any other image_url part: a
	// 1024×1024 image at high detail, 85 + 4 tiles × 170.
	ImageTokensHigh = 765
	// AttachmentTokens is the estimate for an input_audio or file part.
	AttachmentTokens = 765
)

// CountChat counts the prompt tokens of a chat completion request from the
// raw JSON of its "messages" array and, if any, its "tools" array (nil,
// empty or null when absent), so a gateway can pass slices of the body it
// received without re-encoding them.
//
// Each message costs TokensPerMessage, plus, for every field: a string
// value's tokens (plus TokensPerName for "name"); for "content" given as
// an array of parts, each "text" part's text and "refusal" part's refusal,
// ImageTokensLow or ImageTokensHigh per image_url part, AttachmentTokens per
// input_audio or file part, and the JSON text of any other part; for any
// other non-null value (tool_calls, function_call, audio…), the tokens of
// its JSON text as sent. ReplyPriming is added once.
//
// Tool definitions are counted as the tokens of the tools JSON text as
// sent. OpenAI renders tools into an internal, terser form before the
// model sees them, so this over-estimates them, typically by a few tens
// of percent; tool calls in assistant messages are counted the same way.
func CountChat(enc *Encoding, messages, tools []byte) (int, error) {
	var msgs []map[string]json.RawMessage
	if err := json.Unmarshal(messages, &msgs); err != nil {
		return 0, fmt.Errorf("decoding messages: %w", err)
	}
	if msgs == nil {
		return 0, fmt.Errorf("decoding messages: not an array")
	}
	n := ReplyPriming
	for i, m := range msgs {
		if m == nil {
			return 0, fmt.Errorf("message %d: not an object", i)
		}
		c, err := countMessage(enc, m)
		if err != nil {
			return 0, fmt.Errorf("message %d: %w", i, err)
		}
		n += c
	}
	if t := bytes.TrimSpace(tools); len(t) > 0 && !bytes.Equal(t, []byte("null")) {
		if !json.Valid(t) {
			return 0, fmt.Errorf("decoding tools: invalid JSON")
		}
		n += enc.Count(string(t))
	}
	return n, nil
}

// CountChatRequest is CountChat on a whole chat completion request body:
// its "messages", and its "tools" and legacy "functions" if present.
func CountChatRequest(enc *Encoding, body []byte) (int, error) {
	var req struct {
		Messages  json.RawMessage `json:"messages"`
		Tools     json.RawMessage `json:"tools"`
		Functions json.RawMessage `json:"functions"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return 0, fmt.Errorf("decoding request: %w", err)
	}
	if req.Messages == nil {
		return 0, fmt.Errorf("decoding request: no messages")
	}
	n, err := CountChat(enc, req.Messages, req.Tools)
	if err != nil {
		return 0, err
	}
	if f := bytes.TrimSpace(req.Functions); len(f) > 0 && !bytes.Equal(f, []byte("null")) {
		n += enc.Count(string(f))
	}
	return n, nil
}

func countMessage(enc *Encoding, m map[string]json.RawMessage) (int, error) {
	n := TokensPerMessage
	for key, raw := range m {
		raw = bytes.TrimSpace(raw)
		switch {
		case len(raw) == 0 || bytes.Equal(raw, []byte("null")):
		case raw[0] == '"':
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return 0, fmt.Errorf("%s: %w", key, err)
			}
			n += enc.Count(s)
			if key == "name" {
				n += TokensPerName
			}
		case key == "content" && raw[0] == '[':
			c, err := countParts(enc, raw)
			if err != nil {
				return 0, fmt.Errorf("content: %w", err)
			}
			n += c
		default:
			n += enc.Count(string(raw))
		}
	}
	return n, nil
}

func countParts(enc *Encoding, raw []byte) (int, error) {
	var parts []json.RawMessage
	if err := json.Unmarshal(raw, &parts); err != nil {
		return 0, err
	}
	n := 0
	for i, p := range parts {
		var part struct {
			Type     string          `json:"type"`
			Text     string          `json:"text"`
			Refusal  string          `json:"refusal"`
			ImageURL json.RawMessage `json:"image_url"`
		}
		if err := json.Unmarshal(p, &part); err != nil {
			return 0, fmt.Errorf("part %d: %w", i, err)
		}
		switch part.Type {
		case "text":
			n += enc.Count(part.Text)
		case "refusal":
			n += enc.Count(part.Refusal)
		case "image_url":
			var img struct {
				Detail string `json:"detail"`
			}
			if u := bytes.TrimSpace(part.ImageURL); len(u) > 0 && u[0] == '{' {
				if err := json.Unmarshal(u, &img); err != nil {
					return 0, fmt.Errorf("part %d: %w", i, err)
				}
			}
			if img.Detail == "low" {
				n += ImageTokensLow
			} else {
				n += ImageTokensHigh
			}
		case "input_audio", "file":
			n += AttachmentTokens
		default:
			n += enc.Count(string(bytes.TrimSpace(p)))
		}
	}
	return n, nil
}
