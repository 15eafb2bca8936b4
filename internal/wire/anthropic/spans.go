package anthropic

import (
	"bytes"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	wire "switchyard/internal/wire/openai"
)

// Helpers of the single-pass translators (ToChat, FromChat): they read a
// body that already passed wire.Scan through spans, and append output JSON
// directly, copying values that pass unchanged as raw bytes.

// path names a value in error messages. It is a chain of stack values,
// turned into a string only when an error is reported.
type path struct {
	up  *path
	key string // a member name; "" for the element at index i
	i   int
}

func (p *path) String() string {
	if p == nil {
		return ""
	}
	if p.key == "" {
		return p.up.String() + "[" + strconv.Itoa(p.i) + "]"
	}
	return join(p.up.String(), p.key)
}

// err is a 400 naming p; errAt one naming its member key.
func (p *path) err(msg string) *Error        { return invalid(p.String(), msg) }
func (p *path) errAt(key, msg string) *Error { return invalid(join(p.String(), key), msg) }

// members reads the object at sp: the span of each member named in names
// goes to the same index of spans (the last duplicate wins, as in
// encoding/json), and the smallest other key is returned as extra.
func members(b []byte, ix *wire.Index, sp wire.Span, names []string, spans []wire.Span) (extra []byte, hasExtra bool) {
	it := ix.Iter(b, sp)
	for {
		k, v, ok := it.Next()
		if !ok {
			return extra, hasExtra
		}
		if bytes.IndexByte(k, '\\') >= 0 {
			k = unescapeKey(k)
		}
		i := lookup(names, k)
		if i >= 0 {
			spans[i] = v
			continue
		}
		if !hasExtra || string(k) < string(extra) {
			extra, hasExtra = k, true
		}
	}
}

func lookup(names []string, k []byte) int {
	for i, n := range names {
		if n == string(k) {
			return i
		}
	}
	return -1
}

// unescapeKey decodes a raw key that holds escapes.
func unescapeKey(k []byte) []byte { return appendUnquote(nil, k) }

// appendUnquote appends the decoding of valid JSON string contents raw,
// as wire.String decodes them (a lone surrogate becomes U+FFFD).
func appendUnquote(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		j := bytes.IndexByte(raw[i:], '\\')
		if j < 0 {
			return append(dst, raw[i:]...)
		}
		dst = append(dst, raw[i:i+j]...)
		i += j
		if i+1 >= len(raw) {
			return dst
		}
		c := raw[i+1]
		i += 2
		switch c {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(raw, i)
			i += 4
			if utf16.IsSurrogate(r) {
				if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					if d := utf16.DecodeRune(r, hex4(raw, i+2)); d != utf8.RuneError {
						dst = utf8.AppendRune(dst, d)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
		default: // " \ /
			dst = append(dst, c)
		}
	}
	return dst
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

// only reports the smallest member outside allowed (a bit mask over
// names), counting extra, the smallest member not in names at all: the
// same error the map-based object.only gives.
func only(p *path, what string, names []string, spans []wire.Span, allowed uint32, extra []byte, hasExtra bool) *Error {
	bad, found := string(extra), hasExtra
	for i, n := range names {
		if spans[i].Present() && allowed&(1<<i) == 0 && (!found || n < bad) {
			bad, found = n, true
		}
	}
	if found {
		return p.errAt(bad, "is not supported "+what)
	}
	return nil
}

// rootSpan is the span of the top-level value of a scanned body, without
// the whitespace around it.
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

func kind(b []byte, sp wire.Span) string { return wire.Kind(b, sp) }

func null(b []byte, sp wire.Span) bool { return !sp.Present() || b[sp.Start] == 'n' }

// strBytes returns the contents of the string at sp: its raw bytes when
// it holds no escapes, else the decoded ones.
func strBytes(b []byte, sp wire.Span) []byte {
	raw := b[sp.Start+1 : sp.End-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw
	}
	s, _ := wire.String(b, sp)
	return []byte(s)
}

// str checks the string member key (at sp) of the object at p: a required
// one must be present; an optional one may be absent or null (ok false).
func str(b []byte, p *path, key string, sp wire.Span, required bool) (ok bool, e *Error) {
	if !sp.Present() || (!required && b[sp.Start] == 'n') {
		if required {
			return false, p.errAt(key, "is required")
		}
		return false, nil
	}
	if b[sp.Start] != '"' {
		return false, p.errAt(key, "must be a string, not "+kind(b, sp))
	}
	return true, nil
}

// boolean reads an optional boolean member.
func boolean(b []byte, p *path, key string, sp wire.Span) (bool, *Error) {
	if null(b, sp) {
		return false, nil
	}
	switch b[sp.Start] {
	case 't':
		return true, nil
	case 'f':
		return false, nil
	}
	return false, p.errAt(key, "must be a boolean, not "+kind(b, sp))
}

// integer reads an optional integer member; present reports whether set.
func integer(b []byte, p *path, key string, sp wire.Span) (v int64, present bool, e *Error) {
	if null(b, sp) {
		return 0, false, nil
	}
	n, ok := wire.ParseInt(b[sp.Start:sp.End])
	if !ok {
		return 0, false, p.errAt(key, "must be an integer")
	}
	return n, true, nil
}

// number checks an optional numeric member.
func number(b []byte, p *path, key string, sp wire.Span) *Error {
	if !null(b, sp) && kind(b, sp) != "number" {
		return p.errAt(key, "must be a number, not "+kind(b, sp))
	}
	return nil
}

// isEmpty reports whether the array or object at sp has no element.
func isEmpty(b []byte, sp wire.Span) bool {
	it := wire.NewIter(b, sp) // stops at the first element
	_, _, ok := it.Next()
	return !ok
}

// htmlSafe marks the bytes encoding/json escapes inside strings (<, > and
// &, and 0xE2, the lead byte of U+2028 and U+2029): the translated output
// stays byte for byte what it was when it was built with encoding/json.
var htmlSafe = func() (t [256]bool) {
	for _, c := range []byte("<>&\xe2") {
		t[c] = true
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendEscaped appends string contents s (valid JSON string contents,
// without quotes) with <, >, &, U+2028 and U+2029 escaped.
func appendEscaped(dst, s []byte) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !htmlSafe[c] {
			continue
		}
		if c == 0xE2 {
			if i+2 < len(s) && s[i+1] == 0x80 && s[i+2]&^1 == 0xA8 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[s[i+2]&0xF])
				i += 2
				start = i + 1
			}
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		start = i + 1
	}
	return append(dst, s[start:]...)
}

// appendStr appends the string at sp as it is, but HTML-safe.
func appendStr(dst, b []byte, sp wire.Span) []byte {
	return appendEscaped(dst, b[sp.Start:sp.End])
}

// appendInner appends the contents of the string at sp, without quotes.
func appendInner(dst, b []byte, sp wire.Span) []byte {
	return appendEscaped(dst, b[sp.Start+1:sp.End-1])
}

// appendQuoted appends s as a JSON string the way encoding/json writes it
// (HTML-safe; invalid UTF-8 becomes U+FFFD).
func appendQuoted(dst []byte, s string) []byte {
	start := len(dst)
	dst = wire.AppendQuote(dst, s)
	for _, c := range dst[start:] {
		if htmlSafe[c] {
			q := append([]byte(nil), dst[start:]...)
			return appendEscaped(dst[:start], q)
		}
	}
	return dst
}

// compactSpecial marks the bytes appendCompact acts on.
var compactSpecial = func() (t [256]bool) {
	for _, c := range []byte(" \t\n\r\"\\<>&\xe2") {
		t[c] = true
	}
	return t
}()

// appendCompact appends the valid JSON value v without insignificant
// whitespace and HTML-safe, as json.Compact followed by json.Marshal of a
// json.RawMessage writes it. With quote the result is escaped again to
// sit inside a JSON string (the caller writes the quotes): a tool input
// becomes an arguments string.
func appendCompact(dst, v []byte, quote bool) []byte {
	start := 0
	inStr := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !compactSpecial[c] {
			continue
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			if !inStr {
				dst = append(dst, v[start:i]...)
				start = i + 1
			}
		case '"':
			inStr = !inStr
			if quote {
				dst = append(dst, v[start:i]...)
				dst = append(dst, '\\', '"')
				start = i + 1
			}
		case '\\':
			if quote {
				dst = append(dst, v[start:i]...)
				dst = append(dst, '\\', '\\')
				start = i + 1
			}
			i++ // the escaped byte
			if quote && i < len(v) && (v[i] == '"' || v[i] == '\\') {
				dst = append(dst, '\\', v[i])
				start = i + 1
			}
		case 0xE2:
			if i+2 < len(v) && v[i+1] == 0x80 && v[i+2]&^1 == 0xA8 {
				dst = append(dst, v[start:i]...)
				dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[v[i+2]&0xF])
				i += 2
				start = i + 1
			}
		default: // < > &
			dst = append(dst, v[start:i]...)
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			start = i + 1
		}
	}
	return append(dst, v[start:]...)
}

// startsWithEscape reports whether string contents begin with a \u escape
// (which could complete a surrogate pair with the contents before it).
func startsWithEscape(raw []byte) bool {
	return len(raw) > 1 && raw[0] == '\\' && raw[1] == 'u'
}
