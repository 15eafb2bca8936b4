package guard

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"unicode/utf8"
	"unsafe"
)

// PII type names, exactly as they appear in Finding.Type.
const (
	TypeEmail          = "EMAIL"
	TypePhone          = "PHONE"
	TypeCNID           = "CN_ID"
	TypeBankCard       = "BANK_CARD"
	TypeIBAN           = "IBAN"
	TypeIP             = "IP"
	TypeSecret         = "SECRET"
	TypePassport       = "PASSPORT"
	TypeUSSSN          = "US_SSN"
	TypePlate          = "PLATE"
	TypeURLCredentials = "URL_CREDENTIALS"
	TypePerson         = "PERSON"
	TypeAddress        = "ADDRESS"
)

// Types lists every PII type the scanner knows, in a fixed order.
var Types = []string{
	TypeEmail, TypePhone, TypeCNID, TypeBankCard, TypeIBAN, TypeIP, TypeSecret,
	TypePassport, TypeUSSSN, TypePlate, TypeURLCredentials, TypePerson, TypeAddress,
}

// Finding is one PII value found in a text.
type Finding struct {
	Type   string  `json:"type"`
	Start  int     `json:"start"` // rune offset in the original text
	End    int     `json:"end"`   // rune offset, exclusive
	Text   string  `json:"text"`
	Score  float64 `json:"score"`
	Action string  `json:"action,omitempty"` // filled by the caller from policy
}

// Injection is the prompt-injection verdict for a text.
type Injection struct {
	Score   float64  `json:"score"`
	Flagged bool     `json:"flagged"`
	Rules   []string `json:"rules,omitempty"`
	// Families are the attack families a flagged text matched (direct,
	// exfil, roleplay, jailbreak, indirect, manipulation,
	// obfuscation.<kind>; "learned" when only the model's n-grams point
	// to an injection).
	Families []string `json:"families,omitempty"`
}

// Category is the verdict for one content category.
type Category struct {
	Category string  `json:"category"`
	Score    float64 `json:"score"`
	Flagged  bool    `json:"flagged"`
}

// Result is everything Scan finds in a text.
type Result struct {
	Findings   []Finding  `json:"findings"`
	Injection  Injection  `json:"injection"`
	Categories []Category `json:"categories"`
}

// InjectionScorer scores a text for prompt injection. The rule scorer is
// built in; a trained classifier can be added through Options.Scorers.
// Implementations must be safe for concurrent use.
type InjectionScorer interface {
	// ScoreInjection returns a score in 0..1 and the names of what fired.
	ScoreInjection(text string) (score float64, rules []string)
}

// ContextScorer is an InjectionScorer whose work can be cut short (a
// classifier that embeds the text): ScanContext passes it the request's
// context. When ctx ends it returns early; what it returns is then unused.
type ContextScorer interface {
	InjectionScorer
	ScoreInjectionContext(ctx context.Context, text string) (score float64, rules []string)
}

// Options configures a Scanner. Zero values mean defaults.
type Options struct {
	Types              []string            // PII types to detect; nil = all
	MinScore           float64             // drop findings below (0 = default 0.5)
	InjectionThreshold float64             // flag at or above (0 = default 0.5)
	Categories         map[string][]string // extra/override word lists per category; nil = defaults
	CategoryThreshold  float64             // 0 = default 0.5
	// Injection chooses the injection scorer: "builtin" (default: the
	// detector trained into the binary, which takes the phrase rules as
	// evidence) or "rules" (the phrase rules' own score).
	Injection string
	// Detector replaces the built-in detector (a model from `guard train`).
	Detector *Detector
	// Scorers are extra injection scorers; the injection score is the
	// maximum over the rule scorer and these.
	Scorers []InjectionScorer
}

// Scanner detects PII, prompt injection and content categories.
// It is immutable and safe for concurrent use.
type Scanner struct {
	enabled   [numTypes]bool
	minScore  float64
	injThresh float64
	catThresh float64
	rules     *ruleScorer
	detector  *Detector // nil: the rules' own score
	scorers   []InjectionScorer
	cats      *categorySet
	contextKW *matcher // context words, id = type index
	rawKW     *matcher // contextKW (set 0) and cueKW (set 1) merged
	normKW    *matcher // rules.m (set 0) and cats.m (set 1) merged
}

// New validates o and builds a Scanner.
func New(o Options) (*Scanner, error) {
	var errs []error
	s := &Scanner{minScore: 0.5, injThresh: 0.5, catThresh: 0.5}
	if o.Types == nil {
		for i := range s.enabled {
			s.enabled[i] = true
		}
	}
	for _, t := range o.Types {
		i := slices.Index(Types, t)
		if i < 0 {
			errs = append(errs, fmt.Errorf("unknown PII type %q", t))
			continue
		}
		s.enabled[i] = true
	}
	check := func(name string, v float64, dst *float64) {
		switch {
		case v < 0 || v > 1:
			errs = append(errs, fmt.Errorf("%s %v out of range 0..1", name, v))
		case v > 0:
			*dst = v
		}
	}
	check("min score", o.MinScore, &s.minScore)
	check("injection threshold", o.InjectionThreshold, &s.injThresh)
	check("category threshold", o.CategoryThreshold, &s.catThresh)
	for _, sc := range o.Scorers {
		if sc == nil {
			errs = append(errs, errors.New("nil injection scorer"))
		}
	}
	switch o.Injection {
	case "", "builtin":
		s.detector = o.Detector
		if s.detector == nil {
			s.detector = Builtin()
		}
	case "rules":
	default:
		errs = append(errs, fmt.Errorf("injection %q: want builtin or rules", o.Injection))
	}
	cats, err := newCategorySet(o.Categories)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("guard options: %w", errors.Join(errs...))
	}
	s.cats = cats
	s.scorers = o.Scorers
	s.rules = defaultRules
	s.contextKW = contextMatcher
	s.rawKW = rawMatcher
	if o.Categories == nil {
		s.normKW = defaultNormMatcher()
	} else {
		s.normKW = mergeMatchers(s.rules.m, cats.m)
	}
	return s, nil
}

// Scan runs every detector on text.
func (s *Scanner) Scan(text string) Result {
	return s.scan(nil, text)
}

// ScanContext is Scan for a request: it stops early, with ctx's error,
// when ctx ends, and passes ctx to the scorers that take one.
func (s *Scanner) ScanContext(ctx context.Context, text string) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	r := s.scan(ctx, text)
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	return r, nil
}

// scan is Scan with an optional context for the extra scorers.
func (s *Scanner) scan(ctx context.Context, text string) Result {
	sp := getScratch()
	defer putScratch(sp)
	norm, zw, homo, tags, bidi := normalise(text, sp.norm)
	sp.norm = norm[:0]
	// one pass over the normalised text for the rules and the categories;
	// ns shares norm's pooled bytes, so nothing may keep it past scan
	ns := bytesString(norm)
	var fired [16]bool
	var nfired int
	ct := s.cats.tallyIn(sp)
	s.normKW.find(ns, func(h kwHit) {
		if h.set == 1 {
			ct.hit(ns, h)
		} else if !fired[h.id] {
			fired[h.id] = true
			nfired++
		}
	})
	var inj Injection
	if s.detector != nil {
		inj = s.detect(ctx, text, norm, &fired, zw, homo, tags, bidi)
	} else {
		score, rules := s.rules.scoreFired(norm, fired, nfired, zw, homo, tags, bidi)
		inj = s.injection(ctx, text, score, rules)
	}
	r := Result{Findings: s.pii(text, sp), Injection: inj, Categories: ct.finish(ns, s.catThresh)}
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	return r
}

// defaultNormMatcher merges the default rules and categories once.
var defaultNormMatcher = sync.OnceValue(func() *matcher {
	cs, err := newCategorySet(nil)
	if err != nil {
		panic(err)
	}
	return mergeMatchers(defaultRules.m, cs.m)
})

// detect scores injection with the built-in detector, then the extra
// scorers; norm is only valid during the call.
func (s *Scanner) detect(ctx context.Context, text string, norm []byte, fired *[16]bool, zw, homo, tags, bidi int) Injection {
	a := analyse(s.rules, text, norm, fired, zw, homo, tags, bidi)
	score := round3(s.detector.score(&a))
	inj := s.injection(ctx, text, score, a.ev.names)
	if score >= s.injThresh {
		inj.Families = families(a.ev.names)
	}
	return inj
}

// Injection scores text for prompt injection and jailbreak attempts.
func (s *Scanner) Injection(text string) Injection {
	if s.detector != nil {
		sp := getScratch()
		defer putScratch(sp)
		norm, zw, homo, tags, bidi := normalise(text, sp.norm)
		sp.norm = norm[:0]
		var fired [16]bool
		s.rules.m.find(bytesString(norm), func(h kwHit) { fired[h.id] = true })
		return s.detect(nil, text, norm, &fired, zw, homo, tags, bidi)
	}
	score, rules := s.rules.ScoreInjection(text)
	return s.injection(nil, text, score, rules)
}

// injection adds the extra scorers' verdicts; a ContextScorer gets ctx
// when there is one.
func (s *Scanner) injection(ctx context.Context, text string, score float64, rules []string) Injection {
	for _, sc := range s.scorers {
		var v float64
		var r []string
		if cs, ok := sc.(ContextScorer); ok && ctx != nil {
			v, r = cs.ScoreInjectionContext(ctx, text)
		} else {
			v, r = sc.ScoreInjection(text)
		}
		if v > score {
			score = v
		}
		rules = append(rules, r...)
	}
	return Injection{Score: score, Flagged: score >= s.injThresh, Rules: rules}
}

// Categories scores text against the content category lists.
func (s *Scanner) Categories(text string) []Category {
	return s.cats.score(text, s.catThresh)
}

// PII returns the PII findings in text, resolved (no overlaps; the longer,
// then higher-scoring candidate wins) and sorted by Start. Offsets are rune
// offsets into text.
func (s *Scanner) PII(text string) []Finding {
	sp := getScratch()
	defer putScratch(sp)
	return s.pii(text, sp)
}

// pii is PII with its working lists in sp.
func (s *Scanner) pii(text string, sp *scratch) []Finding {
	sc := scanState{s: s, text: text, cands: sp.cands[:0], ctx: sp.ctx[:0], cueHits: sp.cueHits[:0]}
	sc.run()
	out := sc.finish()
	sp.cands, sp.ctx, sp.cueHits = sc.cands[:0], sc.ctx[:0], sc.cueHits[:0]
	return out
}

// scratch holds one scan's working memory; scans take it from scratchPool
// so that a scan allocates little more than its Result.
type scratch struct {
	norm    []byte
	cands   []cand
	ctx     []kwHit
	cueHits []kwHit
	cat     catScore
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// maxPooledNorm bounds the normalised-text buffer kept for the next scan.
const maxPooledNorm = 64 << 10

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

func putScratch(sp *scratch) {
	if cap(sp.norm) > maxPooledNorm {
		sp.norm = nil
	}
	if cap(sp.cands) > 1024 {
		sp.cands = nil
	}
	if cap(sp.ctx) > 1024 {
		sp.ctx = nil
	}
	if cap(sp.cueHits) > 1024 {
		sp.cueHits = nil
	}
	clear(sp.cat.seen[:cap(sp.cat.seen)])
	if cap(sp.cat.seen) > 256 {
		sp.cat.seen = nil
	}
	sp.cat.seen = sp.cat.seen[:0]
	scratchPool.Put(sp)
}

// bytesString views b as a string without copying; b must not change
// while the string is in use.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// cand is a candidate finding in byte offsets before resolution.
type cand struct {
	typ        int
	start, end int // byte offsets
	score      float64
	ctxBoost   float64 // added when a context word of typ is near
}

type scanState struct {
	s       *Scanner
	text    string
	cands   []cand
	ctx     []kwHit // context hits, sorted by start
	cueHits []kwHit // cue word hits, sorted by start
}

func (sc *scanState) add(typ int, start, end int, score, boost float64) {
	if !sc.s.enabled[typ] || start >= end {
		return
	}
	sc.cands = append(sc.cands, cand{typ: typ, start: start, end: end, score: score, ctxBoost: boost})
}

// context windows in bytes before and after a candidate.
const (
	ctxBefore = 60
	ctxAfter  = 24
)

// hasContext reports whether a context word for typ lies near [start,end).
func (sc *scanState) hasContext(typ, start, end int) bool {
	lo := start - ctxBefore
	// first hit whose end is >= lo
	i := sort.Search(len(sc.ctx), func(i int) bool { return sc.ctx[i].end >= lo })
	for ; i < len(sc.ctx) && sc.ctx[i].start <= end+ctxAfter; i++ {
		if sc.ctx[i].id == typ {
			return true
		}
	}
	return false
}

func (sc *scanState) finish() []Finding {
	if len(sc.cands) == 0 {
		return nil
	}
	// apply context and threshold
	kept := sc.cands[:0]
	for _, c := range sc.cands {
		if c.ctxBoost > 0 && sc.hasContext(c.typ, c.start, c.end) {
			c.score += c.ctxBoost
		}
		if c.score > 1 {
			c.score = 1
		}
		if c.score >= sc.s.minScore {
			kept = append(kept, c)
		}
	}
	res := resolve(kept)
	out := make([]Finding, 0, len(res))
	// byte → rune offsets, walking forward once
	bpos, rpos := 0, 0
	for _, c := range res {
		rpos += runeCount(sc.text[bpos:c.start])
		rs := rpos
		rpos += runeCount(sc.text[c.start:c.end])
		bpos = c.end
		out = append(out, Finding{Type: Types[c.typ], Start: rs, End: rpos, Text: sc.text[c.start:c.end], Score: round3(c.score)})
	}
	return out
}

// runeCount is utf8.RuneCountInString (an invalid byte counts as one
// rune), quicker on ASCII runs and on well-formed three-byte characters.
func runeCount(s string) int {
	n, i := 0, 0
	for i < len(s) {
		for i+8 <= len(s) && load64(s[i:i+8])&(0x80*0x0101010101010101) == 0 {
			i += 8
			n += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		switch {
		case c < 0x80:
			i++
		case i+2 < len(s) && (c >= 0xE1 && c <= 0xEC || c >= 0xEE && c <= 0xEF) &&
			s[i+1]&0xC0 == 0x80 && s[i+2]&0xC0 == 0x80:
			i += 3 // no overlong or surrogate form starts with these
		default:
			_, w := utf8.DecodeRuneInString(s[i:])
			i += w
		}
		n++
	}
	return n
}

func round3(f float64) float64 { return float64(int(f*1000+0.5)) / 1000 }

// better reports whether a should win over b when they overlap.
func better(a, b cand) bool {
	la, lb := a.end-a.start, b.end-b.start
	if a.score >= 0.8 && b.score >= 0.8 || a.score == b.score {
		if la != lb {
			return la > lb
		}
		return a.score > b.score
	}
	if a.score != b.score {
		return a.score > b.score
	}
	return la > lb
}

// resolve removes overlaps greedily in start order: of two overlapping
// candidates the better one stays.
func resolve(cs []cand) []cand {
	// slices.SortFunc runs the same pdqsort as sort.Slice did, so equal
	// candidates keep the order they had; it needs no reflection.
	slices.SortFunc(cs, func(a, b cand) int {
		switch {
		case a.start != b.start:
			return cmp.Compare(a.start, b.start)
		case a.end != b.end:
			return cmp.Compare(b.end, a.end)
		}
		return 0
	})
	out := cs[:0]
	for _, c := range cs {
		if n := len(out); n > 0 && c.start < out[n-1].end {
			if better(c, out[n-1]) {
				out[n-1] = c
				// the new one may now overlap earlier kept ones
				for len(out) > 1 && out[len(out)-2].end > out[len(out)-1].start {
					if better(out[len(out)-1], out[len(out)-2]) {
						out[len(out)-2] = out[len(out)-1]
					}
					out = out[:len(out)-1]
				}
			}
			continue
		}
		out = append(out, c)
	}
	return out
}
