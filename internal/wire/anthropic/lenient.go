package anthropic

import (
	"encoding/json"
	"strings"

	wire "switchyard/internal/wire/openai"
)

// LenientChat is the chat view of a Messages request that ToChat refused
// as inexpressible on an OpenAI upstream (a document block, a server tool,
// a beta field) but that is well formed: the model, max_tokens and stream,
// and every text of the system prompt and the messages, so the gateway's
// steps (limits, the guard, metering) can act on the call while only a
// deployment speaking Anthropic's API natively may serve it. A body that
// is not even that much of a Messages request is an error.
func LenientChat(body []byte) ([]byte, Info, error) {
	var info Info
	if _, err := wire.Scan(body); err != nil {
		return nil, info, bodyError(err)
	}
	var req struct {
		Model     *string           `json:"model"`
		MaxTokens *int              `json:"max_tokens"`
		Stream    bool              `json:"stream"`
		System    json.RawMessage   `json:"system"`
		Messages  []json.RawMessage `json:"messages"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, info, invalid("", "the request is not a Messages request: "+err.Error())
	}
	switch {
	case req.Model == nil || *req.Model == "":
		return nil, info, invalid("model", "is required")
	case req.MaxTokens == nil:
		return nil, info, invalid("max_tokens", "is required")
	case *req.MaxTokens < 1:
		return nil, info, invalid("max_tokens", "must be at least 1")
	case len(req.Messages) == 0:
		return nil, info, invalid("messages", "must not be empty")
	}
	info = Info{Model: *req.Model, Stream: req.Stream, MaxTokens: *req.MaxTokens}
	type msg struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	out := struct {
		Model         string `json:"model"`
		MaxTokens     int    `json:"max_tokens"`
		Messages      []msg  `json:"messages"`
		Stream        bool   `json:"stream,omitempty"`
		StreamOptions *struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options,omitempty"`
	}{Model: info.Model, MaxTokens: info.MaxTokens, Stream: info.Stream}
	if info.Stream {
		out.StreamOptions = &struct {
			IncludeUsage bool `json:"include_usage"`
		}{true}
	}
	if s := texts(req.System); s != "" {
		out.Messages = append(out.Messages, msg{"system", s})
	}
	for _, raw := range req.Messages {
		var m struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		}
		if json.Unmarshal(raw, &m) != nil || (m.Role != "user" && m.Role != "assistant") {
			return nil, info, invalid("messages", "each message needs a role of user or assistant")
		}
		out.Messages = append(out.Messages, msg{m.Role, texts(m.Content)})
	}
	chat, err := json.Marshal(out)
	if err != nil {
		return nil, info, invalid("", err.Error())
	}
	return chat, info, nil
}

// texts joins every text a content value holds: a string, the "text" of
// blocks, the contents of tool results and the data of text documents,
// at any depth.
func texts(raw json.RawMessage) string {
	var v any
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil {
		return ""
	}
	var b strings.Builder
	var walk func(v any, key string)
	walk = func(v any, key string) {
		switch x := v.(type) {
		case string:
			if key == "" || key == "text" || key == "content" {
				if b.Len() > 0 {
					b.WriteByte('\n')
				}
				b.WriteString(x)
			}
		case []any:
			for _, e := range x {
				walk(e, key)
			}
		case map[string]any:
			for k, e := range x {
				switch k {
				case "text", "content":
					walk(e, k)
				case "source":
					if src, ok := e.(map[string]any); ok && src["type"] == "text" {
						walk(src["data"], "text")
					}
				}
			}
		}
	}
	walk(v, "")
	return b.String()
}
