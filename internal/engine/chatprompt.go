package engine

import (
	"encoding/json"
	"fmt"
	"sync"

	"switchyard/internal/engine/chat"
)

// ChatPrompt renders messages with the model's chat template (ChatML when
// the file has none), ending with the assistant's generation prompt. tools
// is a JSON array of OpenAI tool definitions, or nil. The result is meant
// for Request.Prompt: it contains the template's special tokens as text.
func (e *Model) ChatPrompt(messages []chat.Message, tools json.RawMessage) (string, error) {
	e.tmplOnce.Do(func() {
		if e.tmpl != "" {
			e.parsed, e.tmplErr = chat.Parse(e.tmpl)
		}
	})
	opts := chat.Options{AddGenerationPrompt: true, ToolsJSON: tools}
	if bos := e.tok.BOS(); bos >= 0 {
		opts.BOSToken = e.tok.TokenText(bos)
	}
	if eos := e.tok.EOS(); eos >= 0 {
		opts.EOSToken = e.tok.TokenText(eos)
	}
	if e.tmplErr != nil {
		return "", fmt.Errorf("engine: chat template: %w", e.tmplErr)
	}
	if e.parsed == nil {
		return chat.ChatML(messages, true), nil
	}
	s, err := e.parsed.Render(messages, opts)
	if err != nil {
		return "", fmt.Errorf("engine: chat template: %w", err)
	}
	return s, nil
}

// chatState is the lazily parsed chat template.
type chatState struct {
	tmplOnce sync.Once
	parsed   *chat.Template
	tmplErr  error
}
