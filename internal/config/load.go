package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Node is a piece of YAML kept for a later strict decode (provider options).
type Node struct {
	file string
	n    *yaml.Node
}

// Line is the node's line, or 0.
func (n Node) Line() int {
	if n.n == nil {
		return 0
	}
	return n.n.Line
}

// Decode decodes the node strictly into v: unknown keys and type mismatches
// are errors naming file:line and the field.
func (n Node) Decode(v any) error {
	if n.n == nil {
		return nil
	}
	return decodeStrict(n.file, n.n, reflect.ValueOf(v).Elem(), "")
}

// NodeFromMap builds an options node from a Go map (for tests and for
// deployments created through the API rather than a file).
func NodeFromMap(m map[string]any) (Node, error) {
	var n yaml.Node
	if err := n.Encode(m); err != nil {
		return Node{}, err
	}
	return Node{n: &n}, nil
}

// Load reads, expands, strictly decodes and validates the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(path, data, os.LookupEnv)
}

// Parse is Load without the file read; lookup resolves ${VAR}.
func Parse(file string, data []byte, lookup func(string) (string, bool)) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	c := &Config{File: file}
	if len(doc.Content) == 0 {
		c.applyDefaults()
		return c, nil
	}
	root := doc.Content[0]
	if err := expandEnv(file, root, lookup); err != nil {
		return nil, err
	}
	if err := decodeStrict(file, root, reflect.ValueOf(c).Elem(), ""); err != nil {
		return nil, err
	}
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// expandEnv replaces ${VAR} and ${VAR:-default} in every scalar value.
// A variable that is unset and has no default is an error.
func expandEnv(file string, n *yaml.Node, lookup func(string) (string, bool)) error {
	var errs []error
	var walk func(n *yaml.Node, isKey bool)
	walk = func(n *yaml.Node, isKey bool) {
		switch n.Kind {
		case yaml.ScalarNode:
			if isKey || !strings.Contains(n.Value, "${") {
				return
			}
			v, err := expand(n.Value, lookup)
			if err != nil {
				errs = append(errs, &FieldError{File: file, Line: n.Line, Msg: err.Error()})
				return
			}
			n.Value = v
			if n.Tag == "!!int" || n.Tag == "!!float" || n.Tag == "!!bool" || n.Tag == "!!null" {
				n.Tag = ""
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i], true)
				walk(n.Content[i+1], false)
			}
		default:
			for _, c := range n.Content {
				walk(c, false)
			}
		}
	}
	walk(n, false)
	return errors.Join(errs...)
}

func expand(s string, lookup func(string) (string, bool)) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("unterminated ${ in %q", s)
		}
		expr := s[i+2 : i+j]
		name, def, hasDef := strings.Cut(expr, ":-")
		if name == "" {
			return "", fmt.Errorf("empty variable name in %q", s)
		}
		v, ok := lookup(name)
		switch {
		case ok && (v != "" || !hasDef):
			b.WriteString(v)
		case hasDef:
			b.WriteString(def)
		default:
			return "", fmt.Errorf("environment variable %s is not set (use ${%s:-default} for a default)", name, name)
		}
		s = s[i+j+1:]
	}
}

var durationType = reflect.TypeOf(Duration(0))
var nodeType = reflect.TypeOf(Node{})

// decodeStrict decodes n into v, rejecting unknown keys, with errors that
// name file:line and the dotted field path.
func decodeStrict(file string, n *yaml.Node, v reflect.Value, path string) error {
	fe := func(line int, msg string, args ...any) error {
		return &FieldError{File: file, Line: line, Field: strings.TrimPrefix(path, "."), Msg: fmt.Sprintf(msg, args...)}
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return decodeStrict(file, n, v.Elem(), path)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return fe(n.Line, "expected a mapping")
		}
		t := v.Type()
		fields := map[string][]int{}
		yamlFields(t, nil, fields)
		var rest *yaml.Node
		if _, ok := t.FieldByName("Options"); ok && t.Field(mustIndex(t, "Options")).Type == nodeType {
			rest = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
		}
		if f, ok := t.FieldByName("Line"); ok && f.Type.Kind() == reflect.Int {
			v.FieldByName("Line").SetInt(int64(n.Line))
		}
		var errs []error
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if seen[k.Value] {
				errs = append(errs, &FieldError{File: file, Line: k.Line, Field: strings.TrimPrefix(path+"."+k.Value, "."), Msg: "duplicate key"})
				continue
			}
			seen[k.Value] = true
			idx, ok := fields[k.Value]
			if !ok {
				if rest != nil {
					rest.Content = append(rest.Content, k, val)
					continue
				}
				errs = append(errs, &FieldError{File: file, Line: k.Line, Field: strings.TrimPrefix(path+"."+k.Value, "."), Msg: "unknown field"})
				continue
			}
			if err := decodeStrict(file, val, v.FieldByIndex(idx), path+"."+k.Value); err != nil {
				errs = append(errs, err)
			}
		}
		if rest != nil {
			v.FieldByName("Options").Set(reflect.ValueOf(Node{file: file, n: rest}))
		}
		return errors.Join(errs...)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return fe(n.Line, "expected a list")
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		var errs []error
		for i, c := range n.Content {
			if err := decodeStrict(file, c, s.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				errs = append(errs, err)
			}
		}
		v.Set(s)
		return errors.Join(errs...)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return fe(n.Line, "expected a mapping")
		}
		m := reflect.MakeMap(v.Type())
		var errs []error
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			ev := reflect.New(v.Type().Elem()).Elem()
			if err := decodeStrict(file, val, ev, path+"."+k.Value); err != nil {
				errs = append(errs, err)
				continue
			}
			m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), ev)
		}
		v.Set(m)
		return errors.Join(errs...)
	}
	if n.Kind != yaml.ScalarNode {
		return fe(n.Line, "expected a single value, not a %s", kindName(n.Kind))
	}
	s := n.Value
	switch {
	case v.Type() == durationType:
		d, err := parseDuration(s)
		if err != nil {
			return fe(n.Line, "invalid duration %q (want e.g. 30s, 1m, 500ms)", s)
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fe(n.Line, "expected true or false, got %q", s)
		}
		v.SetBool(b)
	case v.Kind() >= reflect.Int && v.Kind() <= reflect.Int64:
		i, err := parseSize(s)
		if err != nil {
			return fe(n.Line, "expected an integer, got %q", s)
		}
		v.SetInt(i)
	case v.Kind() == reflect.Float64 || v.Kind() == reflect.Float32:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fe(n.Line, "expected a number, got %q", s)
		}
		v.SetFloat(f)
	case v.Kind() == reflect.Interface:
		var x any
		if err := n.Decode(&x); err != nil {
			return fe(n.Line, "%v", err)
		}
		v.Set(reflect.ValueOf(x))
	default:
		return fe(n.Line, "unsupported field type %s", v.Type())
	}
	return nil
}

// yamlFields records, by yaml key, the index path of each field of t; the
// fields of a struct field tagged `yaml:",inline"` count as t's own, so
// options shared by several structs decode as keys of each.
func yamlFields(t reflect.Type, index []int, fields map[string][]int) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, flags, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		at := append(index[:len(index):len(index)], i)
		if name == "" && flags == "inline" && f.Type.Kind() == reflect.Struct {
			yamlFields(f.Type, at, fields)
			continue
		}
		if name != "" && name != "-" {
			fields[name] = at
		}
	}
}

func mustIndex(t reflect.Type, name string) int {
	f, _ := t.FieldByName(name)
	return f.Index[0]
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "node"
}

func parseDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid duration")
	}
	return d, nil
}

// parseSize accepts an integer or a size with a KiB/MiB/GiB (or KB/MB/GB) suffix.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}} {
		if strings.HasSuffix(s, u.suf) {
			mult, s = u.m, strings.TrimSpace(strings.TrimSuffix(s, u.suf))
			break
		}
	}
	i, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
	if err != nil {
		return 0, err
	}
	return i * mult, nil
}
