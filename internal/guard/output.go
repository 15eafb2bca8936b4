package guard

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"switchyard/internal/call"
	"switchyard/internal/policy"
	"switchyard/internal/provider"
	wire "switchyard/internal/wire/openai"
)

// outputFilter is one choice's output filter. It restores the caller's
// pseudonymised values, inspects the text as it arrives for the content
// categories and leaks the output policy acts on, and passes it through a
// hold-back stage that redacts, flags or blocks PII. Inspection sees each
// piece before the hold-back stage releases any of it, and the hold-back is
// at least as long as what inspection looks for, so a block stops the
// answer before any of the offending text is released.
type outputFilter struct {
	restore *StreamRedactor // nil: nothing pseudonymised
	hold    *StreamRedactor // redacts and holds back; nil: no inspection
	cats    *categoryTally  // nil: no category acts on output
	catAct  func(string) string
	leak    *leakCheck // nil: no leak check
	leakAct string

	decisions map[string]int // categories and leaks; PII counts are in hold
	blocked   string
	done      bool
	report    func(decisions map[string]int, blocked bool) // once, at the end or on block
}

var (
	_ call.Output  = (*outputFilter)(nil)
	_ call.Blocker = (*outputFilter)(nil)
)

func (o *outputFilter) Text(s string) string {
	if o.blocked != "" {
		return ""
	}
	if o.restore != nil {
		s = o.restore.Write(s)
	}
	if o.hold == nil {
		return s
	}
	if o.inspect(s) {
		return ""
	}
	out := o.hold.Write(s)
	if o.hold.blocked != "" {
		o.block(o.hold.blocked + " (personal data)")
		return ""
	}
	return out
}

func (o *outputFilter) Flush() string {
	if o.blocked != "" {
		return ""
	}
	s := ""
	if o.restore != nil {
		s = o.restore.Flush()
	}
	if o.hold == nil {
		o.finish()
		return s
	}
	if o.inspect(s) {
		return ""
	}
	out := o.hold.Write(s) + o.hold.Flush()
	if o.hold.blocked != "" {
		o.block(o.hold.blocked + " (personal data)")
		return ""
	}
	o.finish()
	return out
}

// Blocked implements call.Blocker.
func (o *outputFilter) Blocked() (string, bool) { return o.blocked, o.blocked != "" }

// inspect checks the next piece of text for categories and leaks and
// reports whether it blocked the answer.
func (o *outputFilter) inspect(s string) bool {
	if s == "" {
		return false
	}
	if o.cats != nil {
		for _, cat := range o.cats.add(s) {
			a := o.catAct(cat)
			if a == policy.Allow {
				continue
			}
			o.decisions["category "+cat+":"+a]++
			if a == policy.Block {
				o.block(cat + " content")
				return true
			}
		}
	}
	if o.leak != nil {
		if what := o.leak.add(s); what != "" {
			o.decisions["LEAK "+what+":"+o.leakAct]++
			if o.leakAct == policy.Block {
				o.block(map[string]string{"secret": "a protected secret", "system_prompt": "the system prompt"}[what])
				return true
			}
		}
	}
	return false
}

func (o *outputFilter) block(reason string) {
	o.blocked = reason
	o.finish()
}

// finish reports the decisions once.
func (o *outputFilter) finish() {
	if o.done {
		return
	}
	o.done = true
	if o.hold != nil {
		for k, n := range o.hold.counts {
			o.decisions[k] += n
		}
	}
	if o.report != nil {
		o.report(o.decisions, o.blocked != "")
	}
}

// categoryTally scores the content categories of a text that arrives in
// pieces, as one text: each piece is matched together with the end of the
// one before (so a term split across pieces is found), and a term counts
// once however often it appears.
type categoryTally struct {
	cs      *categorySet
	thresh  float64
	keep    []float64
	seen    map[string]bool
	flagged []bool
	carry   string
}

// carryRunes bounds the terms found across a piece boundary.
const carryRunes = 64

func newCategoryTally(sc *Scanner) *categoryTally {
	t := &categoryTally{cs: sc.cats, thresh: sc.catThresh, keep: make([]float64, len(sc.cats.cats)),
		seen: map[string]bool{}, flagged: make([]bool, len(sc.cats.cats))}
	for i := range t.keep {
		t.keep[i] = 1
	}
	return t
}

// add scores the next piece and returns the categories it newly flags.
func (t *categoryTally) add(s string) []string {
	text := t.carry + s
	var stack [4096]byte
	norm, _, _, _, _ := normalise(text, stack[:0])
	ns := string(norm)
	t.cs.m.find(ns, func(h kwHit) {
		w := ns[h.start:h.end]
		if t.seen[w] {
			return
		}
		t.seen[w] = true
		t.keep[h.id] *= 1 - h.weight
	})
	var out []string
	for i, c := range t.cs.cats {
		for j, re := range c.res {
			key := "re:" + c.name + ":" + strconv.Itoa(j)
			if !t.seen[key] && re.MatchString(ns) {
				t.seen[key] = true
				t.keep[i] *= 1 - c.rew
			}
		}
		if !t.flagged[i] && round3(1-t.keep[i]) >= t.thresh {
			t.flagged[i] = true
			out = append(out, c.name)
		}
	}
	t.carry = tail(text, carryRunes)
	return out
}

// tail is the last n runes of s, starting after a word break when the cut
// falls inside a word (so the carry never starts with half a word).
func tail(s string, n int) string {
	cut := len(s)
	for k := 0; k < n && cut > 0; k++ {
		_, w := utf8.DecodeLastRuneInString(s[:cut])
		cut -= w
	}
	if cut == 0 {
		return s
	}
	r, _ := utf8.DecodeLastRuneInString(s[:cut])
	if r < utf8.RuneSelf && isAlnum(byte(r)) {
		for cut < len(s) && s[cut] < utf8.RuneSelf && isAlnum(s[cut]) {
			cut++
		}
	}
	return s[cut:]
}

// leakIndex is what the leak check looks for in one request's answers:
// the secrets, and the system prompt's n-character windows (lower-cased,
// white space runs as one space) as rolling hashes in a set. It is built
// once per request and shared, read-only, by the choices' filters.
type leakIndex struct {
	secrets   []string
	maxSecret int // bytes
	n         int
	prompt    []rune           // nil: no system prompt of n characters or more
	set       map[uint64]int32 // window hash → its first start in prompt
	pow       uint64           // base^(n-1)
}

const leakBase = 1_000_003

// normRune folds r for the comparison: ok false drops it (a space after
// a space).
func normRune(r rune, lastSpace bool) (rune, bool) {
	if unicode.IsSpace(r) {
		return ' ', !lastSpace
	}
	return unicode.ToLower(r), true
}

func newLeakIndex(secrets []string, systemPrompt string, n int) *leakIndex {
	x := &leakIndex{secrets: secrets, n: n}
	for _, s := range secrets {
		x.maxSecret = max(x.maxSecret, len(s))
	}
	space := true // leading white space is dropped
	var prompt []rune
	for _, r := range systemPrompt {
		if r, ok := normRune(r, space); ok {
			prompt = append(prompt, r)
			space = r == ' '
		}
	}
	if len(prompt) < n {
		return x
	}
	x.prompt = prompt
	x.pow = 1
	for i := 0; i < n-1; i++ {
		x.pow *= leakBase
	}
	x.set = make(map[uint64]int32, len(prompt)-n+1)
	var h uint64
	for i, r := range prompt {
		if i >= n {
			h -= uint64(prompt[i-n]) * x.pow
		}
		h = h*leakBase + uint64(r)
		if start := i - n + 1; start >= 0 {
			if _, ok := x.set[h]; !ok {
				x.set[h] = int32(start)
			}
		}
	}
	return x
}

// leakCheck finds, in one answer that arrives in pieces, a secret or a run
// of at least n characters of the system prompt: the answer's last n
// characters are hashed as they stream, so each character costs O(1), and
// a hash found in the index is confirmed by comparing the characters.
type leakCheck struct {
	x         *leakIndex
	carry     string // the end of the text so far, for a secret split across pieces
	secretHit bool
	promptHit bool
	ring      []rune
	pos       int // next slot in ring
	count     int
	h         uint64
	space     bool // the last rune kept was a space
}

func newLeakCheck(x *leakIndex) *leakCheck {
	l := &leakCheck{x: x, space: true}
	if x.prompt != nil {
		l.ring = make([]rune, x.n)
	}
	return l
}

// add checks the next piece: "secret", "system_prompt", or "" for none.
// Each kind is reported once.
func (l *leakCheck) add(s string) string {
	x := l.x
	found := ""
	if len(x.secrets) > 0 && !l.secretHit {
		text := l.carry + s
		for _, sec := range x.secrets {
			if strings.Contains(text, sec) {
				l.secretHit, found = true, "secret"
				break
			}
		}
		if k := len(text) - (x.maxSecret - 1); k > 0 {
			text = text[k:]
		}
		l.carry = text
	}
	if x.prompt == nil || l.promptHit {
		return found
	}
	n := x.n
	for _, r := range s {
		r, ok := normRune(r, l.space)
		if !ok {
			continue
		}
		l.space = r == ' '
		if l.count >= n {
			l.h -= uint64(l.ring[l.pos]) * x.pow
		}
		l.h = l.h*leakBase + uint64(r)
		l.ring[l.pos] = r
		l.pos = (l.pos + 1) % n
		l.count++
		if l.count < n {
			continue
		}
		if start, ok := x.set[l.h]; ok && l.same(int(start)) {
			l.promptHit = true
			if found == "" {
				found = "system_prompt"
			}
			break
		}
	}
	return found
}

// same compares the ring (oldest first) with the prompt window at start.
func (l *leakCheck) same(start int) bool {
	n := l.x.n
	for i := 0; i < n; i++ {
		if l.ring[(l.pos+i)%n] != l.x.prompt[start+i] {
			return false
		}
	}
	return true
}

// systemPrompt is the text of a chat request's system and developer
// messages, one per line.
func systemPrompt(op provider.Op, body []byte, f wire.Fields) string {
	if op != provider.OpChat {
		return ""
	}
	var sb strings.Builder
	add := func(sp wire.Span) {
		if s, ok := wire.String(body, sp); ok && s != "" {
			if sb.Len() > 0 {
				sb.WriteByte('\n')
			}
			sb.WriteString(s)
		}
	}
	wire.Each(body, f.Messages, func(_ []byte, m wire.Span) bool {
		role, _ := wire.String(body, wire.Member(body, m, "role"))
		if role != "system" && role != "developer" {
			return true
		}
		c := wire.Member(body, m, "content")
		switch wire.Kind(body, c) {
		case "string":
			add(c)
		case "array":
			wire.Each(body, c, func(_ []byte, part wire.Span) bool {
				add(wire.Member(body, part, "text"))
				return true
			})
		}
		return true
	})
	return sb.String()
}
