package openai

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// maxDepth bounds nesting so a hostile body cannot exhaust the stack.
const maxDepth = 512

// Span is a half-open byte range [Start, End) of a value inside a body.
// The zero Span means "absent".
type Span struct{ Start, End int }

// Present reports whether the span refers to a value.
func (s Span) Present() bool { return s.End > s.Start }

// Fields are the top-level members of a request or response object that the
// gateway reads. Only spans are recorded; values are decoded on demand.
type Fields struct {
	Model         Span
	Stream        Span
	StreamOptions Span
	Messages      Span
	Prompt        Span
	Input         Span
	Usage         Span
	MaxTokens     Span
	Metadata      Span
	User          Span
	Tools         Span // "tools" or the legacy "functions"
}

// field identifies which Fields member a key maps to.
func (f *Fields) slot(key []byte) *Span {
	switch string(key) { // the compiler does not allocate for this conversion
	case "model":
		return &f.Model
	case "stream":
		return &f.Stream
	case "stream_options":
		return &f.StreamOptions
	case "messages":
		return &f.Messages
	case "prompt":
		return &f.Prompt
	case "input":
		return &f.Input
	case "usage":
		return &f.Usage
	case "max_tokens", "max_completion_tokens":
		return &f.MaxTokens
	case "metadata":
		return &f.Metadata
	case "user":
		return &f.User
	case "tools", "functions":
		return &f.Tools
	}
	return nil
}

// SyntaxError reports malformed JSON at a byte offset.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Msg)
}

// ErrNotObject is returned when a body is valid JSON but not an object.
var ErrNotObject = errors.New("request body must be a JSON object")

// ErrInvalidUTF8 is returned when a body is not valid UTF-8.
var ErrInvalidUTF8 = errors.New("request body is not valid UTF-8")

// Scan validates body as one JSON object (strict RFC 8259 grammar, valid
// UTF-8, bounded depth) and records the spans of the top-level members in
// Fields. For duplicate keys the last one wins, as in encoding/json.
func Scan(body []byte) (Fields, error) {
	return scan(body, nil)
}

// ScanIndexed is Scan that also records in ix (reusing its storage) where
// every nested array and object ends, for Index.Iter.
func ScanIndexed(body []byte, ix *Index) (Fields, error) {
	ix.reset()
	if len(body) > maxIndexed {
		ix = nil // offsets would not fit; iterators fall back to skipping
	}
	return scan(body, ix)
}

func scan(body []byte, ix *Index) (Fields, error) {
	var f Fields
	if !utf8.Valid(body) {
		return f, ErrInvalidUTF8
	}
	s := scanner{b: body, ix: ix}
	s.ws()
	if s.i >= len(s.b) {
		return f, &SyntaxError{s.i, "empty body"}
	}
	if s.b[s.i] != '{' {
		if _, err := s.value(0); err != nil {
			return f, err
		}
		return f, ErrNotObject
	}
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
	} else {
		for {
			s.ws()
			ks := s.i
			if err := s.str(); err != nil {
				return f, err
			}
			key := s.b[ks+1 : s.i-1]
			s.ws()
			if s.i >= len(s.b) || s.b[s.i] != ':' {
				return f, s.errf("expected ':' after object key")
			}
			s.i++
			s.ws()
			vs := s.i
			if _, err := s.value(1); err != nil {
				return f, err
			}
			if sp := f.slot(key); sp != nil {
				*sp = Span{vs, s.i}
			}
			s.ws()
			if s.i >= len(s.b) {
				return f, s.errf("unexpected end of input in object")
			}
			if s.b[s.i] == ',' {
				s.i++
				continue
			}
			if s.b[s.i] == '}' {
				s.i++
				break
			}
			return f, s.errf("expected ',' or '}' in object")
		}
	}
	s.ws()
	if s.i != len(s.b) {
		return f, s.errf("unexpected data after the top-level value")
	}
	return f, nil
}

type scanner struct {
	b  []byte
	i  int
	ix *Index // nil unless indexing
}

// open records a container opening at s.i when indexing.
func (s *scanner) open() int {
	if s.ix == nil {
		return 0
	}
	s.ix.c = append(s.ix.c, container{start: int32(s.i)})
	return len(s.ix.c) - 1
}

// close records the end (s.i, just past it) of the container at slot.
func (s *scanner) close(slot int) {
	if s.ix != nil {
		s.ix.c[slot].end = int32(s.i)
		s.ix.c[slot].after = int32(len(s.ix.c))
	}
}

func (s *scanner) errf(msg string) error { return &SyntaxError{s.i, msg} }

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value skips one JSON value and returns its first byte.
func (s *scanner) value(depth int) (byte, error) {
	if depth > maxDepth {
		return 0, s.errf("nesting too deep")
	}
	if s.i >= len(s.b) {
		return 0, s.errf("unexpected end of input")
	}
	c := s.b[s.i]
	switch {
	case c == '"':
		return c, s.str()
	case c == '{':
		slot := s.open()
		s.i++
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == '}' {
			s.i++
			s.close(slot)
			return c, nil
		}
		for {
			s.ws()
			if err := s.str(); err != nil {
				return c, err
			}
			s.ws()
			if s.i >= len(s.b) || s.b[s.i] != ':' {
				return c, s.errf("expected ':' after object key")
			}
			s.i++
			s.ws()
			if _, err := s.value(depth + 1); err != nil {
				return c, err
			}
			s.ws()
			if s.i >= len(s.b) {
				return c, s.errf("unexpected end of input in object")
			}
			if s.b[s.i] == ',' {
				s.i++
				continue
			}
			if s.b[s.i] == '}' {
				s.i++
				s.close(slot)
				return c, nil
			}
			return c, s.errf("expected ',' or '}' in object")
		}
	case c == '[':
		slot := s.open()
		s.i++
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == ']' {
			s.i++
			s.close(slot)
			return c, nil
		}
		for {
			s.ws()
			if _, err := s.value(depth + 1); err != nil {
				return c, err
			}
			s.ws()
			if s.i >= len(s.b) {
				return c, s.errf("unexpected end of input in array")
			}
			if s.b[s.i] == ',' {
				s.i++
				continue
			}
			if s.b[s.i] == ']' {
				s.i++
				s.close(slot)
				return c, nil
			}
			return c, s.errf("expected ',' or ']' in array")
		}
	case c == 't':
		return c, s.lit("true")
	case c == 'f':
		return c, s.lit("false")
	case c == 'n':
		return c, s.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return c, s.num()
	}
	return c, s.errf("unexpected character " + strconv.QuoteRune(rune(c)))
}

func (s *scanner) lit(word string) error {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return s.errf("invalid literal")
	}
	s.i += len(word)
	return nil
}

func (s *scanner) str() error {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return s.errf("expected string")
	}
	s.i++
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return nil
		case c == '\\':
			s.i++
			if s.i >= len(s.b) {
				return s.errf("unexpected end of input in string escape")
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if len(s.b)-s.i < 5 {
					return s.errf("short \\u escape")
				}
				for _, h := range s.b[s.i+1 : s.i+5] {
					if !isHex(h) {
						return s.errf("invalid \\u escape")
					}
				}
				s.i += 5
			default:
				return s.errf("invalid escape character")
			}
		case c < 0x20:
			return s.errf("control character in string")
		default:
			s.i++
		}
	}
	return s.errf("unterminated string")
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func (s *scanner) num() error {
	if s.b[s.i] == '-' {
		s.i++
	}
	if s.i >= len(s.b) {
		return s.errf("invalid number")
	}
	if s.b[s.i] == '0' {
		s.i++
	} else if s.b[s.i] >= '1' && s.b[s.i] <= '9' {
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
		}
	} else {
		return s.errf("invalid number")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		d := s.i
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
		}
		if s.i == d {
			return s.errf("invalid number: no digits after '.'")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		d := s.i
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
		}
		if s.i == d {
			return s.errf("invalid number: no digits in exponent")
		}
	}
	return nil
}

// Kind is the JSON type of a value, from its first byte.
func Kind(body []byte, sp Span) string {
	if !sp.Present() {
		return "absent"
	}
	switch c := body[sp.Start]; {
	case c == '"':
		return "string"
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	case c == 't' || c == 'f':
		return "boolean"
	case c == 'n':
		return "null"
	default:
		return "number"
	}
}

// String decodes the string value at sp. The fast path (no escapes) does
// not allocate beyond the returned string.
func String(body []byte, sp Span) (string, bool) {
	if Kind(body, sp) != "string" {
		return "", false
	}
	raw := body[sp.Start+1 : sp.End-1]
	for _, c := range raw {
		if c == '\\' {
			return unquoteJSON(raw)
		}
	}
	return string(raw), true
}

// Bool decodes the boolean at sp.
func Bool(body []byte, sp Span) (bool, bool) {
	if Kind(body, sp) != "boolean" {
		return false, false
	}
	return body[sp.Start] == 't', true
}

// Int decodes the integer at sp.
func Int(body []byte, sp Span) (int64, bool) {
	if Kind(body, sp) != "number" {
		return 0, false
	}
	return ParseInt(body[sp.Start:sp.End])
}

// ParseInt is strconv.ParseInt(string(s), 10, 64) for a JSON number
// token, without allocating on the common path (up to 18 digits).
func ParseInt(s []byte) (int64, bool) {
	d := s
	if len(d) > 0 && d[0] == '-' {
		d = d[1:]
	}
	if len(d) == 0 || len(d) > 18 {
		n, err := strconv.ParseInt(string(s), 10, 64)
		return n, err == nil
	}
	var n int64
	for _, c := range d {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if len(d) < len(s) {
		n = -n
	}
	return n, true
}
