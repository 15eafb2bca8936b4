package chat

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzTemplate parses and renders arbitrary templates: no panics, and the
// step and output bounds hold.
func FuzzTemplate(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "templates", "*.jinja"))
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(string(b))
		}
	}
	for _, s := range []string{
		"{% for i in range(10) %}{{ loop.index }}{% endfor %}",
		"{% set ns = namespace(x=[]) %}{% for m in messages %}{% set ns.x = ns.x + [m] %}{% endfor %}{{ ns.x | tojson }}",
		"{{ messages[::-1] | map(attribute='content') | join(', ') }}{{ 'a' * 3 }}{{ {'a': {'b': 1}} }}",
		"{% macro m(a, b=2) %}{{ a ~ b }}{% endmacro %}{{ m(1) }}{% raw %}{{{% endraw %}",
	} {
		f.Add(s)
	}
	const maxOut = 1 << 16
	msgs := []Message{
		{Role: "system", Content: "s"},
		{Role: "user", Content: "u"},
		{Role: "assistant", Content: "", ToolCalls: []ToolCall{{ID: "123456789", Function: FunctionCall{Name: "f", Arguments: `{"a":1}`}}}},
		{Role: "tool", Content: "r", ToolCallID: "123456789"},
	}
	f.Fuzz(func(t *testing.T, src string) {
		tmpl, err := Parse(src)
		if err != nil {
			return
		}
		out, err := tmpl.Render(msgs, Options{
			AddGenerationPrompt: true,
			ToolsJSON:           []byte(`[{"type":"function","function":{"name":"f","parameters":{}}}]`),
			MaxSteps:            50_000,
			MaxOutput:           maxOut,
		})
		if err == nil && len(out) > maxOut {
			t.Fatalf("output of %d bytes exceeds the %d limit", len(out), maxOut)
		}
	})
}
