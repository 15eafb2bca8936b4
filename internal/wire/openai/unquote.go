package openai

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// unquoteJSON decodes JSON string contents (without the quotes), handling
// the escapes Go's strconv.Unquote does not accept (\/ and surrogate pairs).
func unquoteJSON(raw []byte) (string, bool) {
	var sb strings.Builder
	sb.Grow(len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			sb.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(raw) {
			return "", false
		}
		switch raw[i+1] {
		case '"', '\\', '/':
			sb.WriteByte(raw[i+1])
		case 'b':
			sb.WriteByte('\b')
		case 'f':
			sb.WriteByte('\f')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 't':
			sb.WriteByte('\t')
		case 'u':
			if i+6 > len(raw) {
				return "", false
			}
			r1, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 32)
			if err != nil {
				return "", false
			}
			r := rune(r1)
			i += 6
			if utf16.IsSurrogate(r) && i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
				if r2, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 32); err == nil {
					if d := utf16.DecodeRune(r, rune(r2)); d != utf8.RuneError {
						sb.WriteRune(d)
						i += 6
						continue
					}
				}
			}
			if utf16.IsSurrogate(r) {
				r = utf8.RuneError
			}
			sb.WriteRune(r)
			continue
		default:
			return "", false
		}
		i += 2
	}
	return sb.String(), true
}
