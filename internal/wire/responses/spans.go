package responses

import (
	"bytes"
	"math"
	"strconv"
	"sync"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	wire "switchyard/internal/wire/openai"
)

// Helpers of the single-pass request translation: it reads a body that
// passed wire.ScanIndexed through spans, and appends the chat body
// directly, writing every value byte for byte as encoding/json (without
// HTML escaping, as marshal) wrote it when the translation decoded into
// structs: strings re-encoded canonically, raw values compacted.

// indexes holds container indexes for reuse.
var indexes = sync.Pool{New: func() any { return new(wire.Index) }}

// param names an input item in errors: "input[3]", or name alone when i
// is negative. It becomes a string only when an error is reported.
type param struct {
	name string
	i    int
}

func (p param) String() string {
	if p.i < 0 {
		return p.name
	}
	return p.name + "[" + strconv.Itoa(p.i) + "]"
}

// sub is the name of a member below p: p.sub(".content") is
// "input[3].content".
func (p param) sub(s string) string { return p.String() + s }

// kind is how a struct field decoded by encoding/json takes a value.
type kind uint8

const (
	kStr  kind = iota // string: a string, or null (which keeps the earlier value)
	kPtr              // *string: a string, or null (nil)
	kBool             // *bool: a boolean or null
	kArr              // a slice: an array or null
	kRaw              // json.RawMessage: anything
)

// fields reads the object at sp as encoding/json decodes it into a struct
// whose fields are names, of kinds: the span of each member a field takes
// goes to the same index of out (keys matched exactly, else
// case-insensitively; the last duplicate wins). It reports false where
// json.Unmarshal reports a type error: the value is not an object (or
// null, which sets nothing), or a member does not fit its field.
func fields(b []byte, ix *wire.Index, sp wire.Span, names []string, kinds []kind, out []wire.Span) bool {
	switch b[sp.Start] {
	case 'n':
		return true
	case '{':
	default:
		return false
	}
	ok := true
	it := ix.Iter(b, sp)
	for {
		k, v, more := it.Next()
		if !more {
			return ok
		}
		if bytes.IndexByte(k, '\\') >= 0 {
			k = unquote(nil, k)
		}
		i := match(names, k)
		if i < 0 {
			continue
		}
		switch c := b[v.Start]; kinds[i] {
		case kStr:
			if c == '"' {
				out[i] = v
			} else if c != 'n' {
				ok = false
			}
		case kPtr:
			if c == '"' || c == 'n' {
				out[i] = v
			} else {
				ok = false
			}
		case kBool:
			if c == 't' || c == 'f' || c == 'n' {
				out[i] = v
			} else {
				ok = false
			}
		case kArr:
			if c == '[' || c == 'n' {
				out[i] = v
			} else {
				ok = false
			}
		default:
			out[i] = v
		}
	}
}

// match finds the field a decoded key sets: the exact name, else the one
// it equals under encoding/json's case folding.
func match(names []string, k []byte) int {
	for i, n := range names {
		if n == string(k) {
			return i
		}
	}
	for i, n := range names {
		if foldEq(n, k) {
			return i
		}
	}
	return -1
}

// foldEq reports whether the key k folds to the ASCII name n, as
// encoding/json folds names (ASCII letters to upper case, other runes to
// the smallest rune of their fold set, so that U+212A KELVIN SIGN is K).
func foldEq(n string, k []byte) bool {
	i := 0
	for j := 0; j < len(k); i++ {
		if i >= len(n) {
			return false
		}
		want := upper(n[i])
		if c := k[j]; c < utf8.RuneSelf {
			if upper(c) != want {
				return false
			}
			j++
			continue
		}
		r, size := utf8.DecodeRune(k[j:])
		if foldRune(r) != rune(want) {
			return false
		}
		j += size
	}
	return i == len(n)
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}

// set reports whether a member is present and not null.
func set(b []byte, sp wire.Span) bool { return sp.Present() && b[sp.Start] != 'n' }

// rootSpan is the span of the top-level value of a scanned body.
func rootSpan(b []byte) wire.Span {
	i, j := 0, len(b)
	for i < j && isSpace(b[i]) {
		i++
	}
	for j > i && isSpace(b[j-1]) {
		j--
	}
	return wire.Span{Start: i, End: j}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// inner is the raw contents of the string at sp, between its quotes.
func inner(b []byte, sp wire.Span) []byte { return b[sp.Start+1 : sp.End-1] }

// strOf is the decoded contents of the string at sp: its raw bytes when
// it holds no escapes (no copy), else the decoding. Absent or null is "".
func strOf(b []byte, sp wire.Span) []byte {
	if !set(b, sp) {
		return nil
	}
	raw := inner(b, sp)
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw
	}
	return unquote(nil, raw)
}

// isStr reports whether the string at sp decodes to s.
func isStr(b []byte, sp wire.Span, s string) bool { return string(strOf(b, sp)) == s }

// unquote appends the decoding of valid JSON string contents raw, as
// encoding/json decodes them (a lone surrogate becomes U+FFFD).
func unquote(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		j := bytes.IndexByte(raw[i:], '\\')
		if j < 0 {
			return append(dst, raw[i:]...)
		}
		dst = append(dst, raw[i:i+j]...)
		var r rune
		r, i = escape(raw, i+j)
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

// escape decodes the escape at raw[i] (a backslash) of valid string
// contents, returning the rune and the offset past it.
func escape(raw []byte, i int) (rune, int) {
	if i+1 >= len(raw) {
		return utf8.RuneError, len(raw)
	}
	switch c := raw[i+1]; c {
	case 'b':
		return '\b', i + 2
	case 'f':
		return '\f', i + 2
	case 'n':
		return '\n', i + 2
	case 'r':
		return '\r', i + 2
	case 't':
		return '\t', i + 2
	case 'u':
		r := hex4(raw, i+2)
		i += 6
		if r < 0 {
			return utf8.RuneError, min(i, len(raw))
		}
		if utf16.IsSurrogate(r) {
			if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
				if d := utf16.DecodeRune(r, hex4(raw, i+2)); d != utf8.RuneError {
					return d, i + 6
				}
			}
			return utf8.RuneError, i
		}
		return r, i
	default: // " \ /
		return rune(c), i + 2
	}
}

// hex4 reads the four hex digits at raw[i:] (-1 when they are not).
func hex4(raw []byte, i int) rune {
	if i+4 > len(raw) {
		return -1
	}
	var r rune
	for _, c := range raw[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

const hexDigits = "0123456789abcdef"

// appendRune appends r inside a JSON string as encoding/json writes it
// without HTML escaping.
func appendRune(dst []byte, r rune) []byte {
	if r < utf8.RuneSelf {
		c := byte(r)
		switch {
		case c == '"' || c == '\\':
			return append(dst, '\\', c)
		case c >= 0x20:
			return append(dst, c)
		case c == '\b':
			return append(dst, '\\', 'b')
		case c == '\f':
			return append(dst, '\\', 'f')
		case c == '\n':
			return append(dst, '\\', 'n')
		case c == '\r':
			return append(dst, '\\', 'r')
		case c == '\t':
			return append(dst, '\\', 't')
		}
		return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
	}
	if r == '\u2028' || r == '\u2029' {
		return append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
	}
	return utf8.AppendRune(dst, r)
}

// appendString appends s (valid UTF-8 or not) as a JSON string, as
// marshal writes it: invalid bytes become U+FFFD.
func appendString[T string | []byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		if c < utf8.RuneSelf {
			dst = appendRune(dst, rune(c))
			i++
		} else {
			n := min(len(s)-i, utf8.UTFMax)
			r, size := utf8.DecodeRuneInString(string(s[i : i+n]))
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, `\ufffd`...)
			} else if r == '\u2028' || r == '\u2029' {
				dst = appendRune(dst, r)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
		}
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendCanon appends the contents of a JSON string (raw, valid, without
// quotes) as marshal writes the decoded string: escapes rewritten in
// encoding/json's form, U+2028 and U+2029 escaped. Most strings hold
// neither and are copied as they are.
func appendCanon(dst, raw []byte) []byte {
	if bytes.IndexByte(raw, '\\') < 0 && bytes.IndexByte(raw, 0xE2) < 0 {
		return append(dst, raw...)
	}
	start := 0
	for i := 0; i < len(raw); {
		switch c := raw[i]; {
		case c == '\\':
			dst = append(dst, raw[start:i]...)
			var r rune
			r, i = escape(raw, i)
			dst = appendRune(dst, r)
			start = i
		case c == 0xE2 && i+2 < len(raw) && raw[i+1] == 0x80 && raw[i+2]&^1 == 0xA8:
			dst = append(dst, raw[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[raw[i+2]&0xF])
			i += 3
			start = i
		default:
			i++
		}
	}
	return append(dst, raw[start:]...)
}

// appendStr appends the string at sp, re-encoded as marshal writes it.
func appendStr(dst, b []byte, sp wire.Span) []byte {
	dst = append(dst, '"')
	dst = appendCanon(dst, inner(b, sp))
	return append(dst, '"')
}

// appendCompact appends the valid JSON value v without insignificant
// whitespace, as marshal writes a json.RawMessage.
func appendCompact(dst, v []byte) []byte {
	start := 0
	in := false
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			in = !in
		case '\\':
			i++
		case ' ', '\t', '\n', '\r':
			if !in {
				dst = append(dst, v[start:i]...)
				start = i + 1
			}
		}
	}
	return append(dst, v[start:]...)
}

// appendFloat appends f as encoding/json writes a float64.
func appendFloat(dst []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}
