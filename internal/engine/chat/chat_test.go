package chat

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type caseFile struct {
	Tokens        map[string][2]string `json:"tokens"`
	Now           time.Time            `json:"now"`
	Conversations map[string]struct {
		AddGenerationPrompt bool            `json:"add_generation_prompt"`
		Tools               json.RawMessage `json:"tools"`
		Extra               map[string]any  `json:"extra"`
		Messages            []struct {
			Role       string `json:"role"`
			Content    string `json:"content"`
			ToolCallID string `json:"tool_call_id"`
			Name       string `json:"name"`
			ToolCalls  []struct {
				ID       string `json:"id"`
				Type     string `json:"type"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"messages"`
	} `json:"conversations"`
}

func loadCases(t *testing.T) caseFile {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cf caseFile
	if err := json.Unmarshal(raw, &cf); err != nil {
		t.Fatal(err)
	}
	return cf
}

// TestGolden renders real chat templates of the common model families for
// a set of conversations and compares with the output of Jinja2 itself
// (testdata/gen_golden.py, configured as Hugging Face renders templates).
func TestGolden(t *testing.T) {
	cf := loadCases(t)
	files, err := filepath.Glob(filepath.Join("testdata", "templates", "*.jinja"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no templates: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".jinja")
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		tmpl, err := Parse(string(src))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		toks, ok := cf.Tokens[name]
		if !ok {
			t.Fatalf("%s: no tokens in cases.json", name)
		}
		for cname, conv := range cf.Conversations {
			t.Run(name+"/"+cname, func(t *testing.T) {
				var msgs []Message
				for _, m := range conv.Messages {
					msg := Message{Role: m.Role, Content: m.Content, ToolCallID: m.ToolCallID, Name: m.Name}
					for _, c := range m.ToolCalls {
						msg.ToolCalls = append(msg.ToolCalls, ToolCall{ID: c.ID, Type: c.Type,
							Function: FunctionCall{Name: c.Function.Name, Arguments: c.Function.Arguments}})
					}
					msgs = append(msgs, msg)
				}
				opts := Options{
					AddGenerationPrompt: conv.AddGenerationPrompt,
					ToolsJSON:           conv.Tools,
					BOSToken:            toks[0],
					EOSToken:            toks[1],
					Extra:               conv.Extra,
					Now:                 func() time.Time { return cf.Now },
				}
				want, err := os.ReadFile(filepath.Join("testdata", "golden", name+"__"+cname+".txt"))
				if err != nil {
					t.Fatal(err)
				}
				got, err := tmpl.Render(msgs, opts)
				switch w := string(want); {
				case strings.HasPrefix(w, "ERROR(raise): "):
					var te *TemplateError
					if !errors.As(err, &te) || te.Msg != strings.TrimPrefix(w, "ERROR(raise): ") {
						t.Errorf("got (%q, %v), want template exception %q", got, err, w)
					}
				case strings.HasPrefix(w, "ERROR(other): "):
					if err == nil {
						t.Errorf("rendered %q, want an error (Jinja2: %s)", got, w)
					}
				default:
					if err != nil {
						t.Fatalf("Render: %v", err)
					}
					if diff := cmp.Diff(w, got); diff != "" {
						t.Errorf("Render mismatch (-jinja2 +got):\n%s", diff)
					}
				}
			})
		}
	}
}
