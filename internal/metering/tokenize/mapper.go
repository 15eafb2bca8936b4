package tokenize

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// builtin maps OpenAI model-name patterns to encodings; see Mapper.
var builtin = []rule{
	{"gpt-4o*", O200KBase},
	{"chatgpt-4o*", O200KBase},
	{"gpt-4.1*", O200KBase},
	{"gpt-4.5*", O200KBase},
	{"gpt-5*", O200KBase},
	{"gpt-oss*", O200KBase},
	{"o1*", O200KBase},
	{"o3*", O200KBase},
	{"o4*", O200KBase},
	{"gpt-4*", CL100KBase},
	{"gpt-3.5*", CL100KBase},
	{"gpt-35*", CL100KBase},
	{"text-embedding-*", CL100KBase},
}

func init() { sortRules(builtin) }

type rule struct {
	pattern  string // lower case; '*' matches any run, '?' one byte
	encoding string
}

// sortRules puts more specific patterns first: more literal bytes, then
// the pattern text for a stable order.
func sortRules(rs []rule) {
	slices.SortStableFunc(rs, func(a, b rule) int {
		if c := cmp.Compare(literalLen(b.pattern), literalLen(a.pattern)); c != 0 {
			return c
		}
		return strings.Compare(a.pattern, b.pattern)
	})
}

func literalLen(p string) int {
	return len(p) - strings.Count(p, "*") - strings.Count(p, "?")
}

// Mapper resolves model names to encodings. A name is looked up, in order:
// an exact override; the most specific override pattern that matches; the
// built-in OpenAI patterns (gpt-4o*, gpt-4.1*, gpt-4.5*, gpt-5*, o1*, o3*,
// o4*, chatgpt-4o*, gpt-oss* → o200k_base; gpt-4*, gpt-3.5*, gpt-35*,
// text-embedding-* → cl100k_base), matched against the name without a
// "ft:" prefix or a "provider/" path; finally the fallback. Matching is
// case-insensitive. A Mapper is immutable and safe for concurrent use.
type Mapper struct {
	exact    map[string]string
	patterns []rule
	fallback string
}

// NewMapper returns a Mapper with the given overrides, from a model name or
// a pattern ('*' matches any run of characters, '?' any one) to an encoding
// name, and the encoding for models nothing matches ("" means o200k_base).
func NewMapper(overrides map[string]string, fallback string) (*Mapper, error) {
	if fallback == "" {
		fallback = O200KBase
	}
	m := &Mapper{exact: make(map[string]string), fallback: fallback}
	var errs []error
	if _, ok := specs[fallback]; !ok {
		errs = append(errs, fmt.Errorf("fallback: encoding %q: %w", fallback, ErrUnknownEncoding))
	}
	for name, enc := range overrides {
		if _, ok := specs[enc]; !ok {
			errs = append(errs, fmt.Errorf("model %q: encoding %q: %w", name, enc, ErrUnknownEncoding))
			continue
		}
		if name == "" {
			errs = append(errs, errors.New("empty model name in tokenizer overrides"))
			continue
		}
		name = strings.ToLower(name)
		if strings.ContainsAny(name, "*?") {
			m.patterns = append(m.patterns, rule{name, enc})
		} else {
			m.exact[name] = enc
		}
	}
	if len(errs) > 0 {
		slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
		return nil, errors.Join(errs...)
	}
	sortRules(m.patterns)
	return m, nil
}

// EncodingName returns the name of the encoding for model.
func (m *Mapper) EncodingName(model string) string {
	model = lower(model)
	if enc, ok := m.exact[model]; ok {
		return enc
	}
	for _, r := range m.patterns {
		if match(r.pattern, model) {
			return r.encoding
		}
	}
	base := strings.TrimPrefix(model, "ft:")
	if i := strings.LastIndexByte(base, '/'); i >= 0 {
		base = base[i+1:]
	}
	for _, r := range builtin {
		if match(r.pattern, base) {
			return r.encoding
		}
	}
	return m.fallback
}

// For returns the encoding for model, building it on first use. The
// vocabularies are embedded and tested, so building cannot fail in a
// correct binary; if it does (a corrupt build), For panics.
func (m *Mapper) For(model string) *Encoding {
	enc, err := Get(m.EncodingName(model))
	if err != nil {
		panic(fmt.Sprintf("tokenize: embedded vocabulary: %v", err))
	}
	return enc
}

// lower returns s in lower case, without allocating when it already is.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' || c >= 0x80 {
			return strings.ToLower(s)
		}
	}
	return s
}

// match reports whether name matches pattern, where '*' matches any run of
// bytes (including '/') and '?' any one byte.
func match(pattern, name string) bool {
	// Iterative glob with single-star backtracking.
	p, n := 0, 0
	star, mark := -1, 0
	for n < len(name) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == name[n]):
			p++
			n++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, n
			p++
		case star >= 0:
			mark++
			p, n = star+1, mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
