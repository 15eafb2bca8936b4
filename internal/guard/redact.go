package guard

import (
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Redactor replaces findings with numbered placeholders such as
// [PHONE_1] and remembers the originals so Restore can put them back.
// Numbering is per type in order of first appearance and stable for the
// Redactor's life; the same value always gets the same placeholder.
// A Redactor is meant for one request or conversation; it is safe for
// concurrent use.
type Redactor struct {
	mu     sync.Mutex
	next   map[string]int    // type → last number used
	byVal  map[string]string // type + "\x00" + value → placeholder
	byName map[string]string // placeholder → value
}

// NewRedactor returns an empty Redactor.
func NewRedactor() *Redactor {
	return &Redactor{next: map[string]int{}, byVal: map[string]string{}, byName: map[string]string{}}
}

func (r *Redactor) placeholder(typ, val string) string {
	key := typ + "\x00" + val
	if p, ok := r.byVal[key]; ok {
		return p
	}
	r.next[typ]++
	p := "[" + typ + "_" + strconv.Itoa(r.next[typ]) + "]"
	r.byVal[key] = p
	r.byName[p] = val
	return p
}

// Redact replaces each finding (rune offsets into text) with its
// placeholder. Findings out of range or overlapping an earlier one are
// skipped.
func (r *Redactor) Redact(text string, f []Finding) string {
	if len(f) == 0 {
		return text
	}
	fs := append([]Finding(nil), f...)
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Start < fs[j].Start })
	r.mu.Lock()
	defer r.mu.Unlock()
	var sb strings.Builder
	sb.Grow(len(text))
	rpos, bpos := 0, 0 // current rune and byte position
	advance := func(to int) bool {
		for rpos < to {
			if bpos >= len(text) {
				return false
			}
			_, w := utf8.DecodeRuneInString(text[bpos:])
			bpos += w
			rpos++
		}
		return true
	}
	copied := 0
	for _, x := range fs {
		if x.Start < rpos || x.End <= x.Start || x.Type == "" {
			continue
		}
		if !advance(x.Start) {
			break
		}
		bs := bpos
		if !advance(x.End) {
			break
		}
		sb.WriteString(text[copied:bs])
		sb.WriteString(r.placeholder(x.Type, text[bs:bpos]))
		copied = bpos
	}
	sb.WriteString(text[copied:])
	return sb.String()
}

// Restore replaces every placeholder this Redactor issued with its
// original value; unknown bracketed text is left alone.
func (r *Redactor) Restore(text string) string {
	if strings.IndexByte(text, '[') < 0 {
		return text
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var sb strings.Builder
	copied := 0
	for i := 0; i < len(text); {
		j := strings.IndexByte(text[i:], '[')
		if j < 0 {
			break
		}
		s := i + j
		e := strings.IndexByte(text[s:min(len(text), s+maxPlaceholder)], ']')
		if e < 0 {
			i = s + 1
			continue
		}
		if v, ok := r.byName[text[s:s+e+1]]; ok {
			sb.WriteString(text[copied:s])
			sb.WriteString(v)
			copied = s + e + 1
			i = copied
			continue
		}
		i = s + 1
	}
	if copied == 0 {
		return text
	}
	sb.WriteString(text[copied:])
	return sb.String()
}

// Mapping returns a copy of placeholder → original value.
func (r *Redactor) Mapping() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := make(map[string]string, len(r.byName))
	for k, v := range r.byName {
		m[k] = v
	}
	return m
}

// maxPlaceholder bounds the length in bytes of "[URL_CREDENTIALS_99999]".
const maxPlaceholder = 32

// DefaultHoldBack is the stream hold-back in runes when none is given.
const DefaultHoldBack = 64

// StreamRedactor redacts (or restores) an output stream chunk by chunk.
// It keeps back at most the last holdBack runes plus the rest of a token
// (digits, separators, e-mail or key characters) that reaches into them,
// so a value split across chunks is still seen whole. Text it returns is
// final. Values longer than the hold-back can be released partly
// unredacted; the default of 64 runes covers every structured type except
// PEM private-key blocks. Not safe for concurrent use.
type StreamRedactor struct {
	s       *Scanner
	r       *Redactor
	hold    int
	restore bool
	pending string

	// actions, when set, is the output policy's action per type: a
	// finding about to be released whose action is block stops the
	// stream (blocked names its type and nothing more is released), a
	// flagged one passes unchanged, a redacted one is masked. Each
	// released finding is counted in counts as "TYPE:action".
	actions map[string]string
	counts  map[string]int
	blocked string
}

// NewStreamRedactor returns a StreamRedactor that redacts with s and r, or
// when restore is true replaces r's placeholders with their values.
func NewStreamRedactor(s *Scanner, r *Redactor, holdBack int, restore bool) *StreamRedactor {
	if holdBack <= 0 {
		holdBack = DefaultHoldBack
	}
	return &StreamRedactor{s: s, r: r, hold: holdBack, restore: restore}
}

func isStreamToken(c byte) bool {
	return isAlnum(c) || c >= 0x80 && c < 0xC0 || strings.IndexByte("@.-_+:/()%=", c) >= 0
}

// findings is what the scanner finds in p (nothing without a scanner).
func (sr *StreamRedactor) findings(p string) []Finding {
	if sr.s == nil {
		return nil
	}
	return sr.s.PII(p)
}

// act applies the actions to findings about to be released: it returns
// those to redact, or ok false when one blocks the stream.
func (sr *StreamRedactor) act(fs []Finding) (redact []Finding, ok bool) {
	if sr.actions == nil {
		return fs, true
	}
	for _, f := range fs {
		a := sr.actions[f.Type]
		sr.counts[f.Type+":"+a]++
		switch a {
		case "block":
			sr.blocked, sr.pending = f.Type, ""
			return nil, false
		case "redact":
			redact = append(redact, f)
		}
	}
	return redact, true
}

// Write adds chunk and returns what can be released now.
func (sr *StreamRedactor) Write(chunk string) string {
	if sr.blocked != "" {
		return ""
	}
	sr.pending += chunk
	if sr.restore {
		return sr.writeRestore()
	}
	p := sr.pending
	// cut = byte offset of the first held-back rune
	cut := len(p)
	for k := 0; k < sr.hold && cut > 0; k++ {
		_, w := utf8.DecodeLastRuneInString(p[:cut])
		cut -= w
	}
	if cut == 0 {
		return ""
	}
	// do not cut inside a token; tokens may be spaced digit groups
	limit := cut
	for k := 0; k < sr.hold && limit > 0; k++ {
		_, w := utf8.DecodeLastRuneInString(p[:limit])
		limit -= w
	}
	for cut > limit && (isStreamToken(p[cut-1]) && isStreamToken(p[cut]) ||
		p[cut-1] == ' ' && cut >= 2 && isDigit(p[cut-2]) ||
		p[cut] == ' ' && isDigit(p[cut-1])) {
		cut--
	}
	for cut > 0 && !utf8.RuneStart(p[cut]) {
		cut--
	}
	if cut == 0 {
		return ""
	}
	return sr.release(cut)
}

// release redacts the pending text, emits everything before cut (moved
// back so no finding is split) and keeps the rest.
func (sr *StreamRedactor) release(cut int) string {
	p := sr.pending
	fs := sr.findings(p)
	// findings in bytes
	var out []Finding
	rpos, bpos := 0, 0
	for _, f := range fs {
		bs := bpos + runeBytes(p[bpos:], f.Start-rpos)
		be := bs + len(f.Text)
		rpos, bpos = f.End, be
		if bs >= cut {
			break
		}
		if be > cut {
			cut = bs
			break
		}
		out = append(out, f)
	}
	out, ok := sr.act(out)
	if !ok {
		return ""
	}
	head := p[:cut]
	sr.pending = p[cut:]
	return sr.r.Redact(head, out)
}

// runeBytes returns the byte length of the first n runes of s.
func runeBytes(s string, n int) int {
	b := 0
	for ; n > 0 && b < len(s); n-- {
		_, w := utf8.DecodeRuneInString(s[b:])
		b += w
	}
	return b
}

func (sr *StreamRedactor) writeRestore() string {
	p := sr.pending
	cut := len(p)
	if k := strings.LastIndexByte(p, '['); k >= 0 && len(p)-k < maxPlaceholder && strings.IndexByte(p[k:], ']') < 0 {
		cut = k
	}
	sr.pending = p[cut:]
	return sr.r.Restore(p[:cut])
}

// Flush returns the rest of the stream.
func (sr *StreamRedactor) Flush() string {
	p := sr.pending
	sr.pending = ""
	if p == "" {
		return ""
	}
	if sr.restore {
		return sr.r.Restore(p)
	}
	out, ok := sr.act(sr.findings(p))
	if !ok {
		return ""
	}
	return sr.r.Redact(p, out)
}

// HoldBack returns the hold-back in runes.
func (sr *StreamRedactor) HoldBack() int { return sr.hold }
