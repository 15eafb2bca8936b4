package guard

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"switchyard/internal/audit"
	"switchyard/internal/call"
	"switchyard/internal/config"
	"switchyard/internal/policy"
	"switchyard/internal/provider"
	"switchyard/internal/specialist"
	"switchyard/internal/tenancy"
	wire "switchyard/internal/wire/openai"
)

// GateOptions are what a Gate is built from.
type GateOptions struct {
	// Config returns the guard configuration in force; it is read on
	// every call, so a reload takes effect at once.
	Config func() *config.Guard
	// DataDir holds the specialist store (the injection specialist).
	DataDir string
	// Audit records every decision; nil records nothing.
	Audit *audit.Log
	Log   *slog.Logger
	// Interval is how often the injection specialist's promoted version is
	// checked (default 5s).
	Interval time.Duration

	// wrap, for tests, wraps each specialist scorer as it is loaded.
	wrap func(InjectionScorer) InjectionScorer
}

// Gate applies each project's guard policy to the gateway's traffic: it
// scans the input, blocks, redacts or pseudonymises it, filters the
// output, and records every decision in the audit log (never the values).
//
// It is safe for concurrent use and takes no lock on the request path:
// the scanners are immutable values published atomically. A background
// goroutine watches the injection specialist's promoted version and, when
// it changes, loads the new model and swaps the input scanner; a request
// never opens the store, reads a file or loads a model.
type Gate struct {
	cfg      func() *config.Guard
	dataDir  string
	audit    *audit.Log
	log      *slog.Logger
	interval time.Duration
	wrap     func(InjectionScorer) InjectionScorer

	input   atomic.Pointer[inputScanner]        // all types, with the injection specialist
	output  atomic.Pointer[map[string]*Scanner] // by the sorted types list; copy-on-write
	store   *specialist.Store                   // opened by the watcher, guarded by checkMu
	checkMu sync.Mutex                          // serialises checks (never taken by a request)

	outputWaiters chan struct{} // output audit entries waiting aside for queue room

	stop context.CancelFunc
	done chan struct{}
}

// inputScanner is the scanner for inputs and the specialist it uses.
type inputScanner struct {
	sc      *Scanner
	name    string // the injection specialist configured ("" none)
	version int    // its version loaded (0: none, rules only)
	mode    string // guard.injection it was built for
}

// NewGate builds a Gate, loads the injection specialist's promoted version
// if one is configured, and starts watching it until ctx ends or Close.
func NewGate(ctx context.Context, o GateOptions) (*Gate, error) {
	if o.Config == nil {
		return nil, errors.New("guard gate: no config")
	}
	g := &Gate{cfg: o.Config, dataDir: o.DataDir, audit: o.Audit, log: o.Log, interval: o.Interval, wrap: o.wrap, done: make(chan struct{}),
		outputWaiters: make(chan struct{}, maxOutputWaiters)}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.interval <= 0 {
		g.interval = 5 * time.Second
	}
	mode := g.cfg().Injection
	rules, err := New(Options{Injection: mode})
	if err != nil {
		return nil, err
	}
	g.input.Store(&inputScanner{sc: rules, mode: mode})
	g.output.Store(&map[string]*Scanner{})
	g.Refresh(ctx)
	ctx, g.stop = context.WithCancel(ctx)
	go g.watch(ctx)
	return g, nil
}

// Close stops the watcher and waits for it. It may be called more than once.
func (g *Gate) Close() error {
	g.stop()
	<-g.done
	return nil
}

// watch checks the injection specialist every interval until ctx ends.
func (g *Gate) watch(ctx context.Context) {
	defer close(g.done)
	t := time.NewTicker(g.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			g.Refresh(ctx)
		}
	}
}

// Refresh checks now which version of the injection specialist is
// promoted and, if it is not the one in use, loads it and swaps the input
// scanner (rules only when none is promoted or it fails to load). The
// watcher calls it every interval; a reload may call it to apply a changed
// injection_specialist at once.
func (g *Gate) Refresh(ctx context.Context) {
	g.checkMu.Lock()
	defer g.checkMu.Unlock()
	cur := g.input.Load()
	name := g.cfg().InjectionSpecialist
	version := 0
	if name != "" {
		if g.store == nil {
			st, err := specialist.OpenStore(g.dataDir)
			if err != nil {
				g.log.LogAttrs(ctx, slog.LevelWarn, "guard: specialist store unavailable; keeping the injection scorer in use", slog.String("err", err.Error()))
				return
			}
			g.store = st
		}
		v, err := g.store.Promoted(name)
		if err != nil {
			g.log.LogAttrs(ctx, slog.LevelWarn, "guard: reading the injection specialist's state; keeping the scorer in use",
				slog.String("specialist", name), slog.String("err", err.Error()))
			return
		}
		version = v
	}
	mode := g.cfg().Injection
	if name == cur.name && version == cur.version && mode == cur.mode {
		return
	}
	o := Options{Injection: mode}
	if version > 0 {
		sc, err := g.load(name, version)
		if err != nil {
			// Remembered as in use, so a broken version is reported once.
			g.log.LogAttrs(ctx, slog.LevelWarn, "guard: injection specialist unavailable; using rules only",
				slog.String("specialist", name), slog.Int("version", version), slog.String("err", err.Error()))
		} else {
			o.Scorers = []InjectionScorer{sc}
		}
	}
	sc, err := New(o)
	if err != nil {
		g.log.LogAttrs(ctx, slog.LevelWarn, "guard: building the scanner", slog.String("err", err.Error()))
		return
	}
	g.input.Store(&inputScanner{sc: sc, name: name, version: version, mode: mode})
	if version > 0 {
		g.log.LogAttrs(ctx, slog.LevelInfo, "guard: injection specialist in use", slog.String("specialist", name), slog.Int("version", version))
	}
}

// load reads one version of the injection specialist as a scorer.
func (g *Gate) load(name string, version int) (InjectionScorer, error) {
	m, _, err := g.store.Load(name, version)
	if err != nil {
		return nil, err
	}
	sc, err := NewSpecialistScorer(m)
	if err != nil {
		return nil, err
	}
	if g.wrap != nil {
		return g.wrap(sc), nil
	}
	return sc, nil
}

// Specialist is the injection specialist in use and its version (0: none
// loaded, the rules alone score injection).
func (g *Gate) Specialist() (name string, version int) {
	in := g.input.Load()
	return in.name, in.version
}

// outputScanner returns the scanner for the PII types (sorted), built the
// first time a type set is seen and published by copy-on-write.
func (g *Gate) outputScanner(types []string) (*Scanner, error) {
	key := strings.Join(types, ",")
	m := g.output.Load()
	if sc, ok := (*m)[key]; ok {
		return sc, nil
	}
	sc, err := New(Options{Types: types, Injection: "rules"}) // answers are not scored for injection
	if err != nil {
		return nil, err
	}
	for {
		next := make(map[string]*Scanner, len(*m)+1)
		for k, v := range *m {
			next[k] = v
		}
		next[key] = sc
		if g.output.CompareAndSwap(m, &next) {
			return sc, nil
		}
		m = g.output.Load()
		if have, ok := (*m)[key]; ok {
			return have, nil
		}
	}
}

// PolicyFor is the policy of the key's project, or the default.
func (g *Gate) PolicyFor(k *tenancy.Key) policy.Policy {
	cfg := g.cfg()
	def := policy.Detect
	if p, ok := cfg.Policies[cfg.Default]; ok && cfg.Default != "" {
		def = p
	}
	if k == nil || k.Project == nil {
		return def
	}
	p, err := policy.Resolve(k.Project.Policy, cfg.Policies, def)
	if err != nil {
		g.log.Warn("guard: project policy no longer valid; using the default", "project", k.Project.ID, "err", err)
		return def
	}
	return p
}

// Check runs every detector on text, the injection specialist included;
// Findings and Categories are never nil.
func (g *Gate) Check(ctx context.Context, text string) (Result, error) {
	res, err := g.input.Load().sc.ScanContext(ctx, text)
	if err != nil {
		return Result{}, err
	}
	if res.Categories == nil {
		res.Categories = []Category{}
	}
	return res, nil
}

// textSpan is one piece of user text in a request body.
type textSpan struct {
	sp    wire.Span
	text  string
	where string
}

// inputTexts finds the texts of a request: chat message contents (strings
// and text parts), completion prompts, embedding inputs.
func inputTexts(op provider.Op, body []byte, f wire.Fields) []textSpan {
	var out []textSpan
	add := func(sp wire.Span, where string) {
		if s, ok := wire.String(body, sp); ok && s != "" {
			out = append(out, textSpan{sp, s, where})
		}
	}
	list := func(sp wire.Span, name string) {
		if wire.Kind(body, sp) == "string" {
			add(sp, name)
			return
		}
		i := 0
		wire.Each(body, sp, func(_ []byte, v wire.Span) bool {
			add(v, name+"["+strconv.Itoa(i)+"]")
			i++
			return true
		})
	}
	switch op {
	case provider.OpChat:
		i := 0
		wire.Each(body, f.Messages, func(_ []byte, m wire.Span) bool {
			where := "messages[" + strconv.Itoa(i) + "].content"
			i++
			c := wire.Member(body, m, "content")
			switch wire.Kind(body, c) {
			case "string":
				add(c, where)
			case "array":
				j := 0
				wire.Each(body, c, func(_ []byte, part wire.Span) bool {
					add(wire.Member(body, part, "text"), where+"["+strconv.Itoa(j)+"].text")
					j++
					return true
				})
			}
			return true
		})
	case provider.OpCompletion:
		list(f.Prompt, "prompt")
	case provider.OpEmbedding, provider.OpClassify, provider.OpModeration:
		list(f.Input, "input")
	case provider.OpImage:
		list(f.Prompt, "prompt")
	case provider.OpRerank:
		all := wire.Span{End: len(body)}
		add(wire.Member(body, all, "query"), "query")
		i := 0
		wire.Each(body, wire.Member(body, all, "documents"), func(_ []byte, d wire.Span) bool {
			where := "documents[" + strconv.Itoa(i) + "]"
			i++
			if wire.Kind(body, d) == "object" {
				add(wire.Member(body, d, "text"), where+".text")
			} else {
				add(d, where)
			}
			return true
		})
	}
	return out
}

// Input implements the gateway's Guard step: it may refuse the call
// (call.ErrBlocked), return the body with values redacted or
// pseudonymised, and a maker of output filters.
func (g *Gate) Input(ctx context.Context, c *call.Call, r *call.Request) ([]byte, func() call.Output, error) {
	cfg := g.cfg()
	pol := g.PolicyFor(c.Key)
	in, outRules := pol.Input, pol.Output
	if in.Empty() && outRules.Empty() {
		return nil, nil, nil
	}
	// Redacted and pseudonymised values get separate redactors, so only
	// the pseudonymised ones are restored in the answer.
	var redactor, pseudo *Redactor
	var edits []textSpan
	decisions := map[string]int{} // "PHONE:redact" → count
	var blocked []string
	injection := 0.0
	if !in.Empty() {
		sc := g.input.Load().sc
		for _, t := range inputTexts(c.Op, r.Body, r.Fields) {
			res, err := sc.ScanContext(ctx, t.text)
			if err != nil {
				return nil, nil, canceled(err)
			}
			var change, pseudonymise []Finding
			for _, f := range res.Findings {
				a := in.PIIAction(f.Type)
				if a == policy.Allow {
					continue
				}
				decisions[f.Type+":"+a]++
				switch a {
				case policy.Block:
					blocked = append(blocked, f.Type+" (personal data) in "+t.where)
				case policy.Redact:
					change = append(change, f)
				case policy.Pseudonymise:
					pseudonymise = append(pseudonymise, f)
				}
			}
			if res.Injection.Flagged {
				injection = max(injection, res.Injection.Score)
				a := in.InjectionAction()
				if a != policy.Allow {
					decisions["INJECTION:"+a]++
				}
				if a == policy.Block {
					blocked = append(blocked, "a prompt injection in "+t.where)
				}
			}
			for _, cat := range res.Categories {
				if !cat.Flagged {
					continue
				}
				a := in.CategoryAction(cat.Category)
				if a != policy.Allow {
					decisions["category "+cat.Category+":"+a]++
				}
				if a == policy.Block {
					blocked = append(blocked, cat.Category+" content in "+t.where)
				}
			}
			if len(change)+len(pseudonymise) > 0 {
				if redactor == nil {
					redactor, pseudo = NewRedactor(), NewRedactor()
				}
				// Findings are resolved (no overlaps): redact one kind, then
				// the other, by rune offsets into the text as it changes.
				edits = append(edits, textSpan{t.sp, redactBoth(t.text, change, pseudonymise, redactor, pseudo), t.where})
			}
		}
	}
	if err := g.record(ctx, c, decisions, injection, len(blocked) > 0); err != nil {
		return nil, nil, err
	}
	if len(blocked) > 0 {
		return nil, nil, &call.Refusal{Kind: call.ErrBlocked,
			Message: "The request was blocked by the guard policy: it contains " + strings.Join(dedupe(blocked), "; ") + "."}
	}
	var body []byte
	if len(edits) > 0 {
		body = make([]byte, 0, len(r.Body)+64)
		last := 0
		for _, e := range edits {
			body = append(body, r.Body[last:e.sp.Start]...)
			body = wire.AppendQuote(body, e.text)
			last = e.sp.End
		}
		body = append(body, r.Body[last:]...)
	}
	restore := pseudo != nil && in.Pseudonymises()
	out, err := g.outputFilters(c, r, outRules, cfg.HoldBack, restore, pseudo)
	return body, out, err
}

// outputFilters returns the maker of output filters for the output rules
// (nil when they do nothing and nothing is to be restored).
func (g *Gate) outputFilters(c *call.Call, r *call.Request, rules policy.Rules, hold int, restore bool, pseudo *Redactor) (func() call.Output, error) {
	actions := map[string]string{}
	var outTypes []string
	for _, typ := range policy.PIITypes {
		if a := rules.PIIAction(typ); a != policy.Allow {
			outTypes = append(outTypes, typ)
			actions[typ] = a
		}
	}
	cats := false
	for _, a := range rules.Categories {
		cats = cats || a != policy.Allow
	}
	leakAct := rules.LeakAction()
	if !restore && len(outTypes) == 0 && !cats && leakAct == policy.Allow {
		return nil, nil
	}
	var outScanner *Scanner
	if len(outTypes) > 0 {
		sc, err := g.outputScanner(outTypes)
		if err != nil {
			return nil, err
		}
		outScanner = sc
	}
	if hold <= 0 {
		hold = DefaultHoldBack
	}
	// The hold-back covers what inspection looks for, so a block comes
	// before any of it is released.
	var secrets []string
	var prompt string
	span := 0
	if leakAct != policy.Allow {
		secrets = rules.Leak.Secrets
		for _, s := range secrets {
			hold = max(hold, utf8.RuneCountInString(s))
		}
		if rules.Leak.SystemPrompt {
			prompt = systemPrompt(c.Op, r.Body, r.Fields)
			span = rules.Leak.Span()
			hold = max(hold, span)
		}
	}
	if cats {
		hold = max(hold, 32)
	}
	inspect := len(outTypes) > 0 || cats || leakAct != policy.Allow
	var catScanner *Scanner
	if cats {
		catScanner = g.input.Load().sc
	}
	var leak *leakIndex
	if leakAct != policy.Allow {
		leak = newLeakIndex(secrets, prompt, max(span, 1))
	}
	w := auditWho(c)
	return func() call.Output {
		// Restore the caller's pseudonymised values first, then inspect,
		// flag, redact or block what the output policy names (redacted
		// values get their own numbering).
		o := &outputFilter{decisions: map[string]int{}, catAct: rules.CategoryAction, leakAct: leakAct}
		if restore {
			o.restore = NewStreamRedactor(nil, pseudo, hold, true)
		}
		if inspect {
			o.hold = NewStreamRedactor(outScanner, NewRedactor(), hold, false)
			o.hold.actions, o.hold.counts = actions, map[string]int{}
			o.report = func(d map[string]int, blocked bool) { g.recordOutput(w, d, blocked) }
		}
		if catScanner != nil {
			o.cats = newCategoryTally(catScanner)
		}
		if leak != nil {
			o.leak = newLeakCheck(leak)
		}
		return o
	}, nil
}

// canceled is the error for a call whose client went away mid-scan.
func canceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return wire.NewError(499, wire.TypeInvalidRequest, "client_closed_request", "", "client closed the request")
	}
	return wire.NewError(http.StatusGatewayTimeout, wire.TypeTimeout, "timeout", "", "The request timed out in the guard.")
}

// redactBoth masks change with r and pseudonymise with p. Both lists are
// from one resolved scan, so they do not overlap.
func redactBoth(text string, change, pseudonymise []Finding, r, p *Redactor) string {
	if len(pseudonymise) == 0 {
		return r.Redact(text, change)
	}
	if len(change) == 0 {
		return p.Redact(text, pseudonymise)
	}
	// Redact the later findings first so earlier offsets stay valid.
	runes := []rune(text)
	all := append(append([]Finding(nil), change...), pseudonymise...)
	sort.Slice(all, func(i, j int) bool { return all[i].Start > all[j].Start })
	isPseudo := map[Finding]bool{}
	for _, f := range pseudonymise {
		isPseudo[f] = true
	}
	for _, f := range all {
		red := r
		if isPseudo[f] {
			red = p
		}
		masked := red.Redact(string(runes[f.Start:f.End]), []Finding{{Type: f.Type, Start: 0, End: f.End - f.Start, Text: f.Text, Score: f.Score}})
		runes = append(runes[:f.Start], append([]rune(masked), runes[f.End:]...)...)
	}
	return string(runes)
}

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// record audits the guard's decisions for one request: types, actions
// and counts, never the values. When the audit log cannot accept the
// entry (its queue is full while the database is down, and the client
// gave up), the call is refused: a guarded call is never served unaudited.
func (g *Gate) record(ctx context.Context, c *call.Call, decisions map[string]int, injection float64, blocked bool) error {
	if len(decisions) == 0 {
		return nil
	}
	parts, action := summary(decisions, blocked)
	detail := map[string]string{"decisions": parts}
	if injection > 0 {
		detail["injection_score"] = strconv.FormatFloat(injection, 'f', 2, 64)
	}
	w := auditWho(c)
	if g.audit != nil {
		e := audit.Entry{Actor: w.actor, Action: action, Target: w.target, RequestID: w.requestID, Detail: detail}
		if err := g.audit.RecordContext(ctx, e); err != nil {
			return &call.Refusal{Kind: call.ErrUnavailable, Cause: err,
				Message: "The guard's audit log cannot take entries right now; try again shortly."}
		}
	}
	g.log.LogAttrs(ctx, slog.LevelInfo, "guard", slog.String("id", c.RequestID), slog.String("action", action), slog.String("decisions", detail["decisions"]))
	return nil
}

// summary is the decisions as "TYPE:action=count,…" (sorted) and the
// audit action they add up to: guard.block, guard.redact or guard.flag.
func summary(decisions map[string]int, blocked bool) (parts, action string) {
	keys := make([]string, 0, len(decisions))
	for k := range decisions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	action = "guard.flag"
	for i, k := range keys {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(k + "=" + strconv.Itoa(decisions[k]))
		if strings.HasSuffix(k, ":"+policy.Redact) || strings.HasSuffix(k, ":"+policy.Pseudonymise) {
			action = "guard.redact"
		}
	}
	if blocked {
		action = "guard.block"
	}
	return sb.String(), action
}

// who is whom an audit entry is about.
type who struct{ actor, target, requestID string }

func auditWho(c *call.Call) who {
	w := who{actor: "-", target: "-", requestID: c.RequestID}
	if c.Key != nil {
		w.actor = c.Key.ID
		if c.Key.ProjectID != "" {
			w.target = c.Key.ProjectID
		}
	}
	return w
}

// recordOutput audits one answer's output decisions, with the detail
// direction=output. The answer has already gone (or is going) to the
// client, so it does not wait while it can help it: when the audit queue
// is full, up to maxOutputWaiters goroutines wait for room (or the log's
// Close) instead of requests; beyond that the request waits.
func (g *Gate) recordOutput(w who, decisions map[string]int, blocked bool) {
	if len(decisions) == 0 {
		return
	}
	parts, action := summary(decisions, blocked)
	g.log.LogAttrs(context.Background(), slog.LevelInfo, "guard output", slog.String("id", w.requestID), slog.String("action", action), slog.String("decisions", parts))
	if g.audit == nil {
		return
	}
	e := audit.Entry{Actor: w.actor, Action: action, Target: w.target, RequestID: w.requestID,
		Detail: map[string]string{"decisions": parts, "direction": "output"}}
	if err := g.audit.RecordContext(doneCtx, e); err == nil {
		return
	}
	select {
	case g.outputWaiters <- struct{}{}: // a bounded number wait aside
		go func() {
			defer func() { <-g.outputWaiters }()
			g.audit.Record(e)
		}()
	default: // beyond that, back-pressure: this call waits for room
		g.audit.Record(e)
	}
}

// maxOutputWaiters bounds the goroutines holding output audit entries
// while the audit queue is full.
const maxOutputWaiters = 1024

// doneCtx is an ended context: RecordContext with it never waits.
var doneCtx = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()
