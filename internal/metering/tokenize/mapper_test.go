package tokenize

import (
	"errors"
	"testing"
)

func TestMapperBuiltin(t *testing.T) {
	m, err := NewMapper(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ model, want string }{
		{"gpt-4o", O200KBase},
		{"gpt-4o-mini-2024-07-18", O200KBase},
		{"GPT-4o", O200KBase},
		{"chatgpt-4o-latest", O200KBase},
		{"gpt-4.1-nano", O200KBase},
		{"gpt-4.5-preview", O200KBase},
		{"gpt-5", O200KBase},
		{"gpt-5-mini", O200KBase},
		{"o1", O200KBase},
		{"o1-mini", O200KBase},
		{"o3-pro", O200KBase},
		{"o4-mini", O200KBase},
		{"gpt-oss-120b", O200KBase},
		{"gpt-4", CL100KBase},
		{"gpt-4-turbo-2024-04-09", CL100KBase},
		{"gpt-4-0613", CL100KBase},
		{"gpt-3.5-turbo", CL100KBase},
		{"gpt-35-turbo", CL100KBase},
		{"text-embedding-3-small", CL100KBase},
		{"text-embedding-ada-002", CL100KBase},
		{"ft:gpt-4o-mini:acme::abc123", O200KBase},
		{"ft:gpt-3.5-turbo:acme::abc", CL100KBase},
		{"openai/gpt-4-turbo", CL100KBase},
		{"azure/gpt-4o", O200KBase},
		{"claude-3-5-sonnet", O200KBase},
		{"qwen2.5-7b-instruct", O200KBase},
		{"", O200KBase},
	}
	for _, tt := range tests {
		if got := m.EncodingName(tt.model); got != tt.want {
			t.Errorf("EncodingName(%q) = %q, want %q", tt.model, got, tt.want)
		}
	}
	if enc := m.For("gpt-4"); enc.Name() != CL100KBase {
		t.Errorf("For(gpt-4) = %s", enc.Name())
	}
}

func TestMapperOverrides(t *testing.T) {
	m, err := NewMapper(map[string]string{
		"gpt-4o-legacy":  CL100KBase, // exact beats the built-in gpt-4o*
		"my-*":           CL100KBase,
		"my-special-*":   O200KBase, // more specific than my-*
		"*-cl":           CL100KBase,
		"Team/GPT-4":     O200KBase, // case-insensitive, beats built-in gpt-4*
		"local-?b":       CL100KBase,
		"deepseek*chat*": CL100KBase,
	}, CL100KBase)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ model, want string }{
		{"gpt-4o-legacy", CL100KBase},
		{"gpt-4o-legacy-2", O200KBase},
		{"my-model", CL100KBase},
		{"my-special-model", O200KBase},
		{"anything-cl", CL100KBase},
		{"team/gpt-4", O200KBase},
		{"other/gpt-4", CL100KBase},
		{"local-7b", CL100KBase},
		{"local-70b", CL100KBase}, // fallback, not the local-?b pattern
		{"deepseek-v3-chat-0324", CL100KBase},
		{"unknown", CL100KBase},
		{"gpt-5", O200KBase},
	}
	for _, tt := range tests {
		if got := m.EncodingName(tt.model); got != tt.want {
			t.Errorf("EncodingName(%q) = %q, want %q", tt.model, got, tt.want)
		}
	}
}

func TestNewMapperErrors(t *testing.T) {
	tests := []struct {
		name      string
		overrides map[string]string
		fallback  string
	}{
		{"bad fallback", nil, "p50k_base"},
		{"bad override", map[string]string{"x": "gpt2"}, ""},
		{"empty model", map[string]string{"": O200KBase}, ""},
	}
	for _, tt := range tests {
		_, err := NewMapper(tt.overrides, tt.fallback)
		if err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
	_, err := NewMapper(map[string]string{"a": "x", "b": "y"}, "z")
	if !errors.Is(err, ErrUnknownEncoding) {
		t.Errorf("errors.Is(%v, ErrUnknownEncoding) = false", err)
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"gpt-4*", "gpt-4", true},
		{"gpt-4*", "gpt-4o", true},
		{"gpt-4*", "gpt-3", false},
		{"*", "", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"*/gpt", "x/y/gpt", true},
		{"exact", "exact", true},
		{"exact", "exactly", false},
	}
	for _, tt := range tests {
		if got := match(tt.pattern, tt.name); got != tt.want {
			t.Errorf("match(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}
