package policy

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestResolveAndActions(t *testing.T) {
	strict := Policy{Input: Rules{PII: map[string]string{"CN_ID": Block, "*": Redact}, Injection: Block}, Output: Rules{PII: map[string]string{"*": Redact}}}
	named := map[string]Policy{"strict": strict}
	cases := []struct {
		raw     string
		wantErr string
		check   func(p Policy) bool
	}{
		{``, "", func(p Policy) bool { return p.Input.PIIAction("EMAIL") == Flag && p.Input.InjectionAction() == Flag }},
		{`"strict"`, "", func(p Policy) bool {
			return p.Input.PIIAction("CN_ID") == Block && p.Input.PIIAction("EMAIL") == Redact && p.Output.PIIAction("IP") == Redact
		}},
		{`"lax"`, "unknown policy", nil},
		{`{"input":{"pii":{"PHONE":"pseudonymise"},"categories":{"violence":"block"}}}`, "", func(p Policy) bool {
			return p.Input.PIIAction("PHONE") == Pseudonymise && p.Input.PIIAction("EMAIL") == Allow && p.Input.Pseudonymises() &&
				p.Input.CategoryAction("violence") == Block && p.Input.CategoryAction("sexual") == Allow && p.Output.Empty()
		}},
		{`{"input":{"pii":{"PHONE":"shred"}}}`, "unknown action", nil},
		{`{"input":{"pii":{"TELEPHONE":"redact"}}}`, "unknown type", nil},
		{`{"output":{"pii":{"*":"pseudonymise"}}}`, "applies to input", nil},
		{`{"input":{"injection":"redact"}}`, "unknown action", nil},
		{`{"inputs":{}}`, "unknown field", nil},
		{`{"output":{"pii":{"EMAIL":"block"},"categories":{"violence":"block"},"leak":{"action":"block","secrets":["ACME-7731"],"system_prompt":true}}}`, "", func(p Policy) bool {
			return p.Output.PIIAction("EMAIL") == Block && p.Output.CategoryAction("violence") == Block &&
				p.Output.LeakAction() == Block && p.Output.Leak.Span() == DefaultMinSpan && !p.Output.Empty()
		}},
		{`{"output":{"leak":{"action":"flag","system_prompt":true,"min_span":60}}}`, "", func(p Policy) bool {
			return p.Output.LeakAction() == Flag && p.Output.Leak.Span() == 60
		}},
		{`{"output":{"leak":{"action":"block"}}}`, "", func(p Policy) bool { return p.Output.LeakAction() == Allow && p.Output.Empty() }},
		{`{"input":{"leak":{"action":"block","system_prompt":true}}}`, "applies to output", nil},
		{`{"output":{"leak":{"action":"redact","system_prompt":true}}}`, "unknown action", nil},
		{`{"output":{"leak":{"action":"block","system_prompt":true,"min_span":3}}}`, "out of range", nil},
		{`{"output":{"leak":{"action":"block","secrets":["ab"]}}}`, "4 to 1000", nil},
	}
	for _, c := range cases {
		p, err := Resolve(json.RawMessage(c.raw), named, Detect)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%s: err = %v, want %q", c.raw, err, c.wantErr)
			}
			continue
		}
		if err != nil || !c.check(p) {
			t.Errorf("%s: %+v, %v", c.raw, p, err)
		}
	}
	if !(&Rules{}).Empty() || Detect.Input.Empty() {
		t.Error("Empty is wrong")
	}
}

func FuzzResolve(f *testing.F) {
	for _, s := range []string{``, `"strict"`, `{"input":{"pii":{"PHONE":"redact"}}}`, `{"output":{"injection":"block"}}`, `[1]`, `{"input":`} {
		f.Add([]byte(s))
	}
	named := map[string]Policy{"strict": Detect}
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := Resolve(raw, named, Detect)
		if err == nil {
			if verr := p.Validate(); verr != nil {
				t.Fatalf("%s resolved to an invalid policy: %v", raw, verr)
			}
		}
	})
}
