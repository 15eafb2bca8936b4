package provider

import "encoding/json"

// UpstreamMessage extracts a human message from an upstream error body:
// OpenAI's {"error":{"message"}}, {"error":"..."}, {"message"} or raw text.
func UpstreamMessage(body []byte) string {
	var v struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Detail  string          `json:"detail"`
	}
	if json.Unmarshal(body, &v) == nil {
		var inner struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(v.Error, &inner) == nil && inner.Message != "" {
			return inner.Message
		}
		var s string
		if json.Unmarshal(v.Error, &s) == nil && s != "" {
			return s
		}
		if v.Message != "" {
			return v.Message
		}
		if v.Detail != "" {
			return v.Detail
		}
	}
	const max = 512
	if len(body) > max {
		return string(body[:max]) + "…"
	}
	return string(body)
}
