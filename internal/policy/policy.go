// Package policy says what the guard does with what it finds: an action per
// PII type, for prompt injection and per content category, separately for
// a request's input and a model's output. Policies are named in the config
// file (guard.policies) and chosen per project through the admin API, by
// name or inline.
package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Actions, from mildest to strictest.
const (
	Allow        = "allow"        // do nothing
	Flag         = "flag"         // log it (and audit it), change nothing
	Redact       = "redact"       // replace with [TYPE_n] placeholders
	Pseudonymise = "pseudonymise" // placeholders, restored in the answer for the same caller
	Block        = "block"        // refuse with 400, naming the category, never the value
)

// Rules are the actions for one direction (input or output).
type Rules struct {
	// PII maps a type (EMAIL, PHONE, …) or "*" to an action.
	PII map[string]string `json:"pii,omitempty" yaml:"pii"`
	// Injection is the action for a prompt flagged as an injection
	// (allow, flag or block).
	Injection string `json:"injection,omitempty" yaml:"injection"`
	// Categories maps a content category (violence, self-harm, …) or "*"
	// to allow, flag or block.
	Categories map[string]string `json:"categories,omitempty" yaml:"categories"`
	// Leak (output only) catches an answer that repeats a secret or the
	// request's system prompt.
	Leak *Leak `json:"leak,omitempty" yaml:"leak"`
}

// DefaultMinSpan is the shortest run of a system prompt, in characters,
// that counts as a leak when Leak.MinSpan is 0.
const DefaultMinSpan = 40

// Leak is the output check for an answer that gives away what it should
// not: one of the configured secret strings, or a long verbatim run of the
// request's system prompt (compared case-insensitively, with runs of
// white space as one space).
type Leak struct {
	// Action is flag or block (allow or empty: off).
	Action string `json:"action,omitempty" yaml:"action"`
	// Secrets are strings no answer may contain (a canary, an internal
	// code name).
	Secrets []string `json:"secrets,omitempty" yaml:"secrets"`
	// SystemPrompt checks the answer for MinSpan or more characters of
	// the request's system message(s) in a row.
	SystemPrompt bool `json:"system_prompt,omitempty" yaml:"system_prompt"`
	// MinSpan is that length (0: DefaultMinSpan).
	MinSpan int `json:"min_span,omitempty" yaml:"min_span"`
}

// Span is the leak check's minimum span of the system prompt.
func (l *Leak) Span() int {
	if l.MinSpan > 0 {
		return l.MinSpan
	}
	return DefaultMinSpan
}

// LeakAction is the action for a leak (allow when none is configured).
func (r *Rules) LeakAction() string {
	if r.Leak == nil || r.Leak.Action == "" || len(r.Leak.Secrets) == 0 && !r.Leak.SystemPrompt {
		return Allow
	}
	return r.Leak.Action
}

// Policy is a whole guard policy.
type Policy struct {
	Input  Rules `json:"input" yaml:"input"`
	Output Rules `json:"output" yaml:"output"`
}

// Detect is the default policy: detect everything on input, flag it, and
// block nothing.
var Detect = Policy{Input: Rules{PII: map[string]string{"*": Flag}, Injection: Flag, Categories: map[string]string{"*": Flag}}}

// PIITypes are the PII types a policy may name.
var PIITypes = []string{"EMAIL", "PHONE", "CN_ID", "BANK_CARD", "IBAN", "IP", "SECRET", "PASSPORT", "US_SSN", "PLATE", "URL_CREDENTIALS", "PERSON", "ADDRESS"}

// PIIAction is the action for a finding of type typ.
func (r *Rules) PIIAction(typ string) string {
	if a, ok := r.PII[typ]; ok {
		return a
	}
	if a, ok := r.PII["*"]; ok {
		return a
	}
	return Allow
}

// CategoryAction is the action for a flagged content category.
func (r *Rules) CategoryAction(cat string) string {
	if a, ok := r.Categories[cat]; ok {
		return a
	}
	if a, ok := r.Categories["*"]; ok {
		return a
	}
	return Allow
}

// InjectionAction is the action for a flagged injection.
func (r *Rules) InjectionAction() string {
	if r.Injection == "" {
		return Allow
	}
	return r.Injection
}

// Empty reports whether the rules do nothing at all (no scan needed).
func (r *Rules) Empty() bool {
	for _, a := range r.PII {
		if a != Allow {
			return false
		}
	}
	for _, a := range r.Categories {
		if a != Allow {
			return false
		}
	}
	return r.InjectionAction() == Allow && r.LeakAction() == Allow
}

// Pseudonymises reports whether any PII action restores values later.
func (r *Rules) Pseudonymises() bool {
	for _, a := range r.PII {
		if a == Pseudonymise {
			return true
		}
	}
	return false
}

// Validate checks every action and name.
func (p *Policy) Validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		r    *Rules
	}{{"input", &p.Input}, {"output", &p.Output}} {
		for _, typ := range sortedKeys(d.r.PII) {
			a := d.r.PII[typ]
			if typ != "*" && !contains(PIITypes, typ) {
				errs = append(errs, fmt.Errorf("%s.pii: unknown type %q (want one of %s or *)", d.name, typ, strings.Join(PIITypes, ", ")))
			}
			if !contains([]string{Allow, Flag, Redact, Pseudonymise, Block}, a) {
				errs = append(errs, fmt.Errorf("%s.pii.%s: unknown action %q (want allow, flag, redact, pseudonymise or block)", d.name, typ, a))
			}
			if d.name == "output" && a == Pseudonymise {
				errs = append(errs, fmt.Errorf("output.pii.%s: pseudonymise applies to input (its placeholders are restored in the output)", typ))
			}
		}
		if a := d.r.Injection; a != "" && !contains([]string{Allow, Flag, Block}, a) {
			errs = append(errs, fmt.Errorf("%s.injection: unknown action %q (want allow, flag or block)", d.name, a))
		}
		for _, c := range sortedKeys(d.r.Categories) {
			if a := d.r.Categories[c]; !contains([]string{Allow, Flag, Block}, a) {
				errs = append(errs, fmt.Errorf("%s.categories.%s: unknown action %q (want allow, flag or block)", d.name, c, a))
			}
		}
		if l := d.r.Leak; l != nil {
			if d.name == "input" {
				errs = append(errs, errors.New("input.leak: the leak check applies to output"))
			}
			if l.Action != "" && !contains([]string{Allow, Flag, Block}, l.Action) {
				errs = append(errs, fmt.Errorf("%s.leak.action: unknown action %q (want allow, flag or block)", d.name, l.Action))
			}
			if l.MinSpan != 0 && (l.MinSpan < 8 || l.MinSpan > 1000) {
				errs = append(errs, fmt.Errorf("%s.leak.min_span: %d is out of range (8 to 1000 characters)", d.name, l.MinSpan))
			}
			for i, sec := range l.Secrets {
				if n := len([]rune(sec)); n < 4 || n > 1000 {
					errs = append(errs, fmt.Errorf("%s.leak.secrets[%d]: want 4 to 1000 characters, not %d", d.name, i, n))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// Resolve turns a project's policy setting — empty, a JSON string naming a
// policy, or an inline policy object — into a policy, given the named
// policies from the config and the default.
func Resolve(raw json.RawMessage, named map[string]Policy, def Policy) (Policy, error) {
	raw = json.RawMessage(strings.TrimSpace(string(raw)))
	if len(raw) == 0 || string(raw) == "null" {
		return def, nil
	}
	if raw[0] == '"' {
		var name string
		if err := json.Unmarshal(raw, &name); err != nil {
			return def, err
		}
		p, ok := named[name]
		if !ok {
			return def, fmt.Errorf("unknown policy %q (the config's guard.policies has %s)", name, strings.Join(sortedKeys(named), ", "))
		}
		return p, nil
	}
	var p Policy
	d := json.NewDecoder(strings.NewReader(string(raw)))
	d.DisallowUnknownFields()
	if err := d.Decode(&p); err != nil {
		return def, fmt.Errorf("policy: %w", err)
	}
	return p, p.Validate()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
