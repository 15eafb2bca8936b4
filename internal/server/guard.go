package server

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"switchyard/internal/audit"
	"switchyard/internal/call"
	"switchyard/internal/gateway"
	"switchyard/internal/guard"
	"switchyard/internal/policy"
	"switchyard/internal/provider"
	"switchyard/internal/specialist"
	"switchyard/internal/tenancy"
	wire "switchyard/internal/wire/openai"
)

// guardGate applies each project's guard policy to the gateway's traffic:
// it scans the input, blocks, redacts or pseudonymises it, filters the
// output, and records every decision in the audit log (never the values).
type guardGate struct {
	s        *Server
	mu       sync.Mutex
	scanners map[string]*guard.Scanner // by the sorted list of types ("" = all)

	// The injection specialist's promoted version, checked at most every
	// few seconds; a new one rebuilds the scanners.
	specName    string
	specVersion int
	specChecked time.Time
}

var _ gateway.Guard = (*guardGate)(nil)

// scanner returns a scanner for types (nil: all), built once.
func (g *guardGate) scanner(types []string) (*guard.Scanner, error) {
	key := strings.Join(types, ",")
	g.mu.Lock()
	defer g.mu.Unlock()
	cfg := g.s.Config()
	name := cfg.Guard.InjectionSpecialist
	if name != g.specName || (name != "" && time.Since(g.specChecked) > 5*time.Second) {
		v := -1
		if st, err := specialist.OpenStore(cfg.DataDir); err == nil && name != "" {
			if pv, err := st.Promoted(name); err == nil {
				v = pv
			}
		}
		if name != g.specName || v != g.specVersion {
			g.scanners = nil // rebuild with the new classifier
		}
		g.specName, g.specVersion, g.specChecked = name, v, time.Now()
	}
	if sc, ok := g.scanners[key]; ok {
		return sc, nil
	}
	opts := guard.Options{Types: types}
	if name != "" && g.specVersion >= 0 {
		scorer, err := g.injectionScorer(cfg.DataDir, name)
		if err != nil {
			g.s.log.Warn("guard: injection specialist unavailable; using rules only", "specialist", name, "err", err)
		} else {
			opts.Scorers = []guard.InjectionScorer{scorer}
		}
	}
	sc, err := guard.New(opts)
	if err != nil {
		return nil, err
	}
	if g.scanners == nil {
		g.scanners = map[string]*guard.Scanner{}
	}
	g.scanners[key] = sc
	return sc, nil
}

// injectionScorer loads the promoted version of the injection specialist.
func (g *guardGate) injectionScorer(dataDir, name string) (guard.InjectionScorer, error) {
	st, err := specialist.OpenStore(dataDir)
	if err != nil {
		return nil, err
	}
	m, _, err := st.LoadPromoted(name)
	if err != nil {
		return nil, err
	}
	return guard.NewSpecialistScorer(m)
}

// policyFor is the policy of the key's project, or the default.
func (g *guardGate) policyFor(k *tenancy.Key) policy.Policy {
	cfg := g.s.Config().Guard
	def := policy.Detect
	if p, ok := cfg.Policies[cfg.Default]; ok && cfg.Default != "" {
		def = p
	}
	if k == nil || k.Project == nil {
		return def
	}
	p, err := policy.Resolve(k.Project.Policy, cfg.Policies, def)
	if err != nil {
		g.s.log.Warn("guard: project policy no longer valid; using the default", "project", k.Project.ID, "err", err)
		return def
	}
	return p
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
	strings := func(sp wire.Span, name string) {
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
		strings(f.Prompt, "prompt")
	case provider.OpEmbedding, provider.OpClassify:
		strings(f.Input, "input")
	}
	return out
}

// Input implements gateway.Guard.
func (g *guardGate) Input(ctx context.Context, c *call.Call, r *call.Request) ([]byte, func() call.Output, error) {
	pol := g.policyFor(c.Key)
	in, outRules := pol.Input, pol.Output
	if in.Empty() && outRules.Empty() {
		return nil, nil, nil
	}
	// Redacted and pseudonymised values get separate redactors, so only
	// the pseudonymised ones are restored in the answer.
	var redactor, pseudo *guard.Redactor
	var edits []textSpan
	decisions := map[string]int{} // "PHONE:redact" → count
	var blocked []string
	injection := 0.0
	if !in.Empty() {
		sc, err := g.scanner(nil)
		if err != nil {
			return nil, nil, err
		}
		for _, t := range inputTexts(c.Op, r.Body, r.Fields) {
			res := sc.Scan(t.text)
			var change, pseudonymise []guard.Finding
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
					redactor, pseudo = guard.NewRedactor(), guard.NewRedactor()
				}
				// Findings are resolved (no overlaps): redact one kind, then
				// the other, by rune offsets into the text as it changes.
				edits = append(edits, textSpan{t.sp, redactBoth(t.text, change, pseudonymise, redactor, pseudo), t.where})
			}
		}
	}
	g.audit(c, decisions, injection, len(blocked) > 0)
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
	var outTypes []string
	for _, typ := range policy.PIITypes {
		if a := outRules.PIIAction(typ); a == policy.Redact || a == policy.Block {
			outTypes = append(outTypes, typ)
		}
	}
	if !restore && len(outTypes) == 0 {
		return body, nil, nil
	}
	var outScanner *guard.Scanner
	if len(outTypes) > 0 {
		sc, err := g.scanner(outTypes)
		if err != nil {
			return nil, nil, err
		}
		outScanner = sc
	}
	hold := g.s.Config().Guard.HoldBack
	return body, func() call.Output {
		// Restore the caller's pseudonymised values first, then redact
		// what the output policy forbids (with its own numbering).
		var o chainOutput
		if restore {
			o.restore = guard.NewStreamRedactor(nil, pseudo, hold, true)
		}
		if outScanner != nil {
			o.redact = guard.NewStreamRedactor(outScanner, guard.NewRedactor(), hold, false)
		}
		return o
	}, nil
}

// redactBoth masks change with r and pseudonymise with p. Both lists are
// from one resolved scan, so they do not overlap.
func redactBoth(text string, change, pseudonymise []guard.Finding, r, p *guard.Redactor) string {
	if len(pseudonymise) == 0 {
		return r.Redact(text, change)
	}
	if len(change) == 0 {
		return p.Redact(text, pseudonymise)
	}
	// Redact the later findings first so earlier offsets stay valid.
	runes := []rune(text)
	all := append(append([]guard.Finding(nil), change...), pseudonymise...)
	sort.Slice(all, func(i, j int) bool { return all[i].Start > all[j].Start })
	isPseudo := map[guard.Finding]bool{}
	for _, f := range pseudonymise {
		isPseudo[f] = true
	}
	for _, f := range all {
		red := r
		if isPseudo[f] {
			red = p
		}
		masked := red.Redact(string(runes[f.Start:f.End]), []guard.Finding{{Type: f.Type, Start: 0, End: f.End - f.Start, Text: f.Text, Score: f.Score}})
		runes = append(runes[:f.Start], append([]rune(masked), runes[f.End:]...)...)
	}
	return string(runes)
}

// chainOutput restores, then redacts, a stream of generated text.
type chainOutput struct{ restore, redact *guard.StreamRedactor }

func (o chainOutput) Text(s string) string {
	if o.restore != nil {
		s = o.restore.Write(s)
	}
	if o.redact != nil {
		s = o.redact.Write(s)
	}
	return s
}

func (o chainOutput) Flush() string {
	s := ""
	if o.restore != nil {
		s = o.restore.Flush()
	}
	if o.redact != nil {
		s = o.redact.Write(s) + o.redact.Flush()
	}
	return s
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

// audit records the guard's decisions for one request: types, actions
// and counts, never the values.
func (g *guardGate) audit(c *call.Call, decisions map[string]int, injection float64, blocked bool) {
	if len(decisions) == 0 {
		return
	}
	keys := make([]string, 0, len(decisions))
	for k := range decisions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Itoa(decisions[k])
	}
	action := "guard.flag"
	for _, k := range keys {
		if strings.HasSuffix(k, ":"+policy.Redact) || strings.HasSuffix(k, ":"+policy.Pseudonymise) {
			action = "guard.redact"
		}
	}
	if blocked {
		action = "guard.block"
	}
	target := "-"
	if c.Key != nil && c.Key.ProjectID != "" {
		target = c.Key.ProjectID
	}
	detail := map[string]string{"decisions": strings.Join(parts, ",")}
	if injection > 0 {
		detail["injection_score"] = strconv.FormatFloat(injection, 'f', 2, 64)
	}
	actor := "-"
	if c.Key != nil {
		actor = c.Key.ID
	}
	g.s.audit.Record(audit.Entry{Actor: actor, Action: action, Target: target, RequestID: c.RequestID, Detail: detail})
	g.s.log.Info("guard", "id", c.RequestID, "action", action, "decisions", detail["decisions"])
}

// guardCheck serves POST /v1/guard/check: the caller's project policy (or
// the default) applied to one text, with every finding and the redacted text.
func (s *Server) guardCheck(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	var in struct {
		Input *string `json:"input"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	if in.Input == nil {
		errorJSON(w, http.StatusBadRequest, wire.TypeInvalidRequest, "invalid_value", "input", "Missing required parameter: 'input'.")
		return
	}
	pol := s.guard.policyFor(k)
	sc, err := s.guard.scanner(nil)
	if err != nil {
		errorJSON(w, http.StatusInternalServerError, wire.TypeServer, "", "", err.Error())
		return
	}
	res := sc.Scan(*in.Input)
	for i := range res.Findings {
		res.Findings[i].Action = pol.Input.PIIAction(res.Findings[i].Type)
	}
	if res.Findings == nil {
		res.Findings = []guard.Finding{}
	}
	if res.Categories == nil {
		res.Categories = []guard.Category{}
	}
	writeJSON(w, http.StatusOK, struct {
		guard.Result
		Redacted string `json:"redacted"`
	}{res, guard.NewRedactor().Redact(*in.Input, res.Findings)})
}
