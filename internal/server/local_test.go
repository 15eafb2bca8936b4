package server_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
)

// TestLocalProviderMatchesLlamaCpp serves the tiny stories260K model with
// provider: local and checks that greedy completions through the gateway
// produce exactly llama.cpp's reference text for every reference prompt.
func TestLocalProviderMatchesLlamaCpp(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	models := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "models")
	raw, err := os.ReadFile(filepath.Join(models, "stories260K.reference.json"))
	if err != nil {
		t.Skipf("shared fixtures not found: %v", err)
	}
	var ref struct {
		Runs []struct {
			Prompt        string `json:"prompt"`
			GeneratedText string `json:"generated_text"`
			Generated     []int  `json:"generated_token_ids"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	e := start(t, `
models:
  - name: stories
    deployments:
      - provider: local
        path: `+filepath.Join(models, "stories260K.gguf")+`
        parallel: 2
`)
	ctx := context.Background()
	for _, r := range ref.Runs {
		c, err := e.sdk.Completions.New(ctx, openai.CompletionNewParams{
			Model:       "stories",
			Prompt:      openai.CompletionNewParamsPromptUnion{OfString: openai.String(r.Prompt)},
			MaxTokens:   openai.Int(int64(len(r.Generated))),
			Temperature: openai.Float(0),
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Choices[0].Text; got != r.GeneratedText {
			t.Errorf("prompt %q:\n got %q\nwant %q", r.Prompt, got, r.GeneratedText)
		}
		if c.Usage.CompletionTokens != int64(len(r.Generated)) || c.Choices[0].FinishReason != "length" || c.Model != "stories" {
			t.Errorf("usage %+v finish %q model %q", c.Usage, c.Choices[0].FinishReason, c.Model)
		}
	}
	// Chat, streamed, through the same model (ChatML fallback template).
	s := e.sdk.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model:     "stories",
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Tell me a story.")},
		MaxTokens: openai.Int(16),
	})
	var text strings.Builder
	for s.Next() {
		if ch := s.Current(); len(ch.Choices) > 0 {
			text.WriteString(ch.Choices[0].Delta.Content)
		}
	}
	if err := s.Err(); err != nil || text.Len() == 0 {
		t.Errorf("streamed chat: %q, %v", text.String(), err)
	}
	// Context overflow is a clear 400.
	status, _, b := e.post("/v1/completions", adminKey, []byte(`{"model":"stories","prompt":"Once","max_tokens":100000}`))
	if status != 400 || !strings.Contains(string(b), "context") {
		t.Errorf("overflow: %d %s", status, b)
	}
}
