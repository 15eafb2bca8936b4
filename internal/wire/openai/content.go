package openai

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrNotText is wrapped by TextContent for a content part that is not text.
var ErrNotText = errors.New("content part is not text")

// TextContent reads a chat message's content — a string, or an array of
// parts of which every one is {"type":"text","text":…} — as one string.
// null or absent content is "". A non-text part (image, audio, file) is an
// error wrapping ErrNotText and naming the part's type.
func TextContent(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", errors.New("content must be a string or an array of parts")
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type != "text" {
			return "", fmt.Errorf("%w: type %q", ErrNotText, p.Type)
		}
		b.WriteString(p.Text)
	}
	return b.String(), nil
}
