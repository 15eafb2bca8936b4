package openai

import "strconv"

// AppendReplaced appends body to dst with the value at sp replaced by the
// JSON string s. It is how the gateway renames "model" without re-encoding.
// If sp is absent, body is appended unchanged.
func AppendReplaced(dst, body []byte, sp Span, s string) []byte {
	if !sp.Present() {
		return append(dst, body...)
	}
	dst = append(dst, body[:sp.Start]...)
	dst = AppendQuote(dst, s)
	return append(dst, body[sp.End:]...)
}

// AppendQuote appends s as a JSON string.
func AppendQuote(dst []byte, s string) []byte {
	simple := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			simple = false
			break
		}
	}
	if simple {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	// strconv's Go quoting differs from JSON only for a few escapes; keep
	// non-ASCII as is (valid UTF-8 is legal JSON).
	dst = append(dst, '"')
	for _, r := range s {
		switch {
		case r == '"':
			dst = append(dst, '\\', '"')
		case r == '\\':
			dst = append(dst, '\\', '\\')
		case r == '\n':
			dst = append(dst, '\\', 'n')
		case r == '\r':
			dst = append(dst, '\\', 'r')
		case r == '\t':
			dst = append(dst, '\\', 't')
		case r < 0x20:
			dst = append(dst, '\\', 'u', '0', '0')
			h := strconv.FormatInt(int64(r), 16)
			if len(h) < 2 {
				dst = append(dst, '0')
			}
			dst = append(dst, h...)
		default:
			dst = append(dst, string(r)...)
		}
	}
	return append(dst, '"')
}
