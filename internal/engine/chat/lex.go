package chat

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The lexer follows Jinja2 with the settings Hugging Face uses for chat
// templates: trim_blocks and lstrip_blocks on, keep_trailing_newline off,
// newlines normalised to "\n".

type tokKind int

const (
	tokEOF tokKind = iota
	tokText
	tokVarBegin   // {{
	tokVarEnd     // }}
	tokBlockBegin // {%
	tokBlockEnd   // %}
	tokName
	tokString
	tokInt
	tokFloat
	tokOp
)

type token struct {
	kind tokKind
	val  string
	line int
}

func (t token) String() string {
	switch t.kind {
	case tokEOF:
		return "end of template"
	case tokVarBegin, tokVarEnd, tokBlockBegin, tokBlockEnd, tokOp, tokName:
		return strconv.Quote(t.val)
	case tokString:
		return "string " + strconv.Quote(t.val)
	}
	return t.val
}

// SyntaxError reports a template that cannot be parsed or uses a construct
// this renderer does not support.
type SyntaxError struct {
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("chat template line %d: %s", e.Line, e.Msg) }

type lexer struct {
	src  string
	pos  int
	line int
	toks []token
}

func lex(src string) ([]token, error) {
	src = strings.ReplaceAll(src, "\r\n", "\n")
	src = strings.ReplaceAll(src, "\r", "\n")
	src = strings.TrimSuffix(src, "\n") // keep_trailing_newline=False
	l := &lexer{src: src, line: 1}
	if err := l.run(); err != nil {
		return nil, err
	}
	return l.toks, nil
}

func (l *lexer) errf(format string, args ...any) error {
	return &SyntaxError{Line: l.line, Msg: fmt.Sprintf(format, args...)}
}

func (l *lexer) emit(k tokKind, v string) { l.toks = append(l.toks, token{k, v, l.line}) }

// emitText adds template data that starts at offset start of the source,
// applying "-" stripping and lstrip_blocks for the tag that follows it.
func (l *lexer) emitText(text string, start int, next string) {
	if len(next) >= 3 && next[2] == '-' {
		text = strings.TrimRight(text, " \t\n\v\f\r")
	} else if len(next) >= 2 && (next[1] == '%' || next[1] == '#') && !(len(next) >= 3 && next[2] == '+') {
		// lstrip_blocks: drop spaces and tabs between a line start and the tag.
		i := len(text)
		for i > 0 && (text[i-1] == ' ' || text[i-1] == '\t') {
			i--
		}
		if p := start + i; p == 0 || l.src[p-1] == '\n' {
			text = text[:i]
		}
	}
	if text != "" {
		l.emit(tokText, text)
	}
}

func (l *lexer) run() error {
	for l.pos < len(l.src) {
		i := l.findTagStart()
		if i < 0 {
			l.emitText(l.src[l.pos:], l.pos, "")
			l.line += strings.Count(l.src[l.pos:], "\n")
			l.pos = len(l.src)
			break
		}
		text := l.src[l.pos:i]
		tagHead := l.src[i:min(i+3, len(l.src))]
		l.emitText(text, l.pos, tagHead)
		l.line += strings.Count(text, "\n")
		l.pos = i + 2
		if l.pos < len(l.src) && (l.src[l.pos] == '-' || l.src[l.pos] == '+') {
			l.pos++
		}
		switch tagHead[1] {
		case '#':
			end := strings.Index(l.src[l.pos:], "#}")
			if end < 0 {
				return l.errf("unclosed comment")
			}
			body := l.src[l.pos : l.pos+end]
			l.line += strings.Count(body, "\n")
			l.pos += end + 2
			l.afterTag(strings.HasSuffix(body, "-"), true)
		case '{':
			l.emit(tokVarBegin, "{{")
			if err := l.lexExpr("}}"); err != nil {
				return err
			}
		case '%':
			l.emit(tokBlockBegin, "{%")
			if err := l.lexExpr("%}"); err != nil {
				return err
			}
			if err := l.maybeRaw(); err != nil {
				return err
			}
		}
	}
	return nil
}

// findTagStart returns the index of the next "{{", "{%" or "{#".
func (l *lexer) findTagStart() int {
	for i := l.pos; i+1 < len(l.src); i++ {
		if l.src[i] == '{' {
			switch l.src[i+1] {
			case '{', '%', '#':
				return i
			}
		}
	}
	return -1
}

// afterTag applies "-" stripping or trim_blocks to the text after a tag.
func (l *lexer) afterTag(dash, block bool) {
	if dash {
		for l.pos < len(l.src) && strings.IndexByte(" \t\n\v\f\r", l.src[l.pos]) >= 0 {
			if l.src[l.pos] == '\n' {
				l.line++
			}
			l.pos++
		}
		return
	}
	if block && l.pos < len(l.src) && l.src[l.pos] == '\n' {
		l.pos++ // trim_blocks
		l.line++
	}
}

// maybeRaw handles {% raw %}...{% endraw %}: the tokens just emitted are
// "{%" "raw" "%}".
func (l *lexer) maybeRaw() error {
	n := len(l.toks)
	if n < 3 || l.toks[n-2].kind != tokName || l.toks[n-2].val != "raw" || l.toks[n-3].kind != tokBlockBegin {
		return nil
	}
	l.toks = l.toks[:n-3]
	rest := l.src[l.pos:]
	for off := 0; ; {
		k := strings.Index(rest[off:], "{%")
		if k < 0 {
			return l.errf("unclosed raw block")
		}
		j := off + k + 2
		if j < len(rest) && rest[j] == '-' {
			j++
		}
		for j < len(rest) && (rest[j] == ' ' || rest[j] == '\t' || rest[j] == '\n') {
			j++
		}
		if strings.HasPrefix(rest[j:], "endraw") {
			text := rest[:off+k]
			if off+k+2 < len(rest) && rest[off+k+2] == '-' {
				text = strings.TrimRight(text, " \t\n\v\f\r")
			}
			if text != "" {
				l.emit(tokText, text)
			}
			l.line += strings.Count(rest[:j], "\n")
			end := strings.Index(rest[j:], "%}")
			if end < 0 {
				return l.errf("unclosed endraw tag")
			}
			dash := j+end > 0 && rest[j+end-1] == '-'
			l.pos += j + end + 2
			l.afterTag(dash, true)
			return nil
		}
		off += k + 2
	}
}

// lexExpr tokenizes the inside of a tag up to its closing delimiter.
func (l *lexer) lexExpr(closer string) error {
	depth := 0 // open brackets: "}}" inside {'a': {'b': 1}} does not end the tag
	for {
		for l.pos < len(l.src) && strings.IndexByte(" \t\n\v\f\r", l.src[l.pos]) >= 0 {
			if l.src[l.pos] == '\n' {
				l.line++
			}
			l.pos++
		}
		if l.pos >= len(l.src) {
			return l.errf("unclosed tag, expected %q", closer)
		}
		rest := l.src[l.pos:]
		if depth == 0 && (strings.HasPrefix(rest, "-"+closer) || strings.HasPrefix(rest, "+"+closer) || strings.HasPrefix(rest, closer)) {
			dash := rest[0] == '-'
			if rest[0] == '-' || rest[0] == '+' {
				l.pos++
			}
			l.pos += 2
			if closer == "}}" {
				l.emit(tokVarEnd, closer)
				l.afterTag(dash, false)
			} else {
				l.emit(tokBlockEnd, closer)
				l.afterTag(dash, true)
			}
			return nil
		}
		c := rest[0]
		switch {
		case c == '"' || c == '\'':
			s, n, err := unquote(rest)
			if err != nil {
				return l.errf("%v", err)
			}
			l.line += strings.Count(rest[:n], "\n")
			l.emit(tokString, s)
			l.pos += n
		case c >= '0' && c <= '9':
			n := 0
			for n < len(rest) && (rest[n] >= '0' && rest[n] <= '9' || rest[n] == '_') {
				n++
			}
			kind := tokInt
			if n+1 < len(rest) && rest[n] == '.' && rest[n+1] >= '0' && rest[n+1] <= '9' {
				n++
				for n < len(rest) && (rest[n] >= '0' && rest[n] <= '9' || rest[n] == '_') {
					n++
				}
				kind = tokFloat
			}
			if n < len(rest) && (rest[n] == 'e' || rest[n] == 'E') {
				m := n + 1
				if m < len(rest) && (rest[m] == '+' || rest[m] == '-') {
					m++
				}
				if m < len(rest) && rest[m] >= '0' && rest[m] <= '9' {
					for m < len(rest) && rest[m] >= '0' && rest[m] <= '9' {
						m++
					}
					n, kind = m, tokFloat
				}
			}
			l.emit(kind, strings.ReplaceAll(rest[:n], "_", ""))
			l.pos += n
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			n := 0
			for n < len(rest) && (rest[n] == '_' || rest[n] >= 'a' && rest[n] <= 'z' || rest[n] >= 'A' && rest[n] <= 'Z' || rest[n] >= '0' && rest[n] <= '9') {
				n++
			}
			l.emit(tokName, rest[:n])
			l.pos += n
		default:
			op := ""
			for _, o := range []string{"**", "//", "==", "!=", "<=", ">="} {
				if strings.HasPrefix(rest, o) {
					op = o
					break
				}
			}
			if op == "" {
				if strings.IndexByte("+-*/%~|.,:()[]{}<>=", c) < 0 {
					r, _ := utf8.DecodeRuneInString(rest)
					return l.errf("unexpected character %q in tag", r)
				}
				op = rest[:1]
			}
			switch op {
			case "(", "[", "{":
				depth++
			case ")", "]", "}":
				if depth > 0 {
					depth--
				}
			}
			l.emit(tokOp, op)
			l.pos += len(op)
		}
	}
}

// unquote reads a Python string literal at the start of s and returns its
// value and length.
func unquote(s string) (string, int, error) {
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q:
			return b.String(), i + 1, nil
		case c == '\\' && i+1 < len(s):
			i++
			switch e := s[i]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '0':
				b.WriteByte(0)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'v':
				b.WriteByte('\v')
			case 'a':
				b.WriteByte('\a')
			case '\\', '\'', '"':
				b.WriteByte(e)
			case '\n':
				// line continuation
			case 'x', 'u', 'U':
				n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
				if i+n >= len(s) {
					return "", 0, fmt.Errorf("bad \\%c escape in string", e)
				}
				v, err := strconv.ParseUint(s[i+1:i+1+n], 16, 32)
				if err != nil || v > utf8.MaxRune {
					return "", 0, fmt.Errorf("bad \\%c escape in string", e)
				}
				b.WriteRune(rune(v))
				i += n
			default:
				b.WriteByte('\\')
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, fmt.Errorf("unterminated string")
}
