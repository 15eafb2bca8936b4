package anthropic

import (
	"bytes"
	"encoding/json"

	wire "switchyard/internal/wire/openai"
)

// Usage is token usage as Anthropic reports it.
type Usage struct {
	Input, Output, CacheRead, CacheWrite int64
}

func (u messageUsage) export() Usage {
	return Usage{Input: u.InputTokens, Output: u.OutputTokens, CacheRead: u.CacheReadInputTokens, CacheWrite: u.CacheCreationInputTokens}
}

// ReadUsage reads Anthropic usage from a Message object, a message_start
// event (message.usage) or a message_delta event (usage); ok is false when
// there is none. A message_delta's absent members are 0.
func ReadUsage(msgOrEvent []byte) (u Usage, ok bool) {
	var v struct {
		Type    string `json:"type"`
		Message *struct {
			Usage *messageUsage `json:"usage"`
		} `json:"message"`
		Usage *messageUsage `json:"usage"`
	}
	if json.Unmarshal(msgOrEvent, &v) != nil {
		return Usage{}, false
	}
	switch v.Type {
	case "message", "message_delta":
		if v.Usage != nil {
			return v.Usage.export(), true
		}
	case "message_start":
		if v.Message != nil && v.Message.Usage != nil {
			return v.Message.Usage.export(), true
		}
	}
	return Usage{}, false
}

// AppendEvent frames a native event payload as
// "event: <its type>\ndata: <data>\n\n". A payload without a readable
// top-level "type" is framed as data only.
func AppendEvent(dst, data []byte) []byte {
	var typ wire.Span
	if _, err := wire.Scan(data); err == nil {
		wire.Each(data, wire.Span{Start: 0, End: len(data)}, func(k []byte, v wire.Span) bool {
			if string(k) == "type" {
				typ = v
			}
			return true
		})
	}
	if typ.Present() && data[typ.Start] == '"' && eventName(data[typ.Start+1:typ.End-1]) {
		dst = append(dst, "event: "...)
		dst = append(dst, data[typ.Start+1:typ.End-1]...)
		dst = append(dst, '\n')
	}
	dst = append(dst, "data: "...)
	if bytes.IndexAny(data, "\r\n") < 0 {
		dst = append(dst, data...)
		return append(dst, '\n', '\n')
	}
	// An SSE data line cannot hold a line break; in JSON one is only
	// whitespace between tokens.
	for _, c := range data {
		if c == '\n' || c == '\r' {
			c = ' '
		}
		dst = append(dst, c)
	}
	return append(dst, '\n', '\n')
}

// eventName reports whether b can be written as an SSE event name as is.
func eventName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}
