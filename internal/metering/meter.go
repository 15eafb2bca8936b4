// Package metering is the pay-per-use half of the gateway: before a call it
// checks the key's model access, rate limits (per key, project and
// deployment) and budgets (monthly per key and project, prepaid balance per
// organisation), reserving the call's estimated maximum cost; after it, it
// counts the tokens, prices them from the price book and writes one usage
// record to the ledger.
package metering

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"switchyard/internal/call"
	"switchyard/internal/db"
	"switchyard/internal/limits"
	"switchyard/internal/metering/ledger"
	"switchyard/internal/metering/tokenize"
	"switchyard/internal/provider"
	"switchyard/internal/tenancy"
	wire "switchyard/internal/wire/openai"
)

// DefaultMaxOutput is the output size assumed for rate limits and budget
// reservations when a request sets no max_tokens.
const DefaultMaxOutput = 4096

// Meter admits calls and meters them: it is the gateway's Admitter, and
// the tickets it returns are the path's metering step.
type Meter struct {
	Tenants *tenancy.Store
	Prices  *PriceBook
	DB      *db.DB
	Limits  limits.Limiter
	Budgets limits.Budgets
	Ledger  *ledger.Writer
	Log     *slog.Logger
	// FailOpen admits calls when the limit backend fails (else 503).
	FailOpen bool

	deploy atomic.Pointer[Deployments]
	now    func() time.Time
}

// Deployments is what the configuration says about each deployment: its
// limits and list price, and the tokenizer of each public model.
type Deployments struct {
	Limits     map[string]limits.Rule // by deployment id
	Prices     map[string]Price       // by deployment id, from the config file
	Tokenizers *tokenize.Mapper
}

// SetDeployments swaps in the configuration's view (on start and reload).
func (m *Meter) SetDeployments(d *Deployments) { m.deploy.Store(d) }

func (m *Meter) clock() time.Time {
	if m.now != nil {
		return m.now()
	}
	return time.Now()
}

var _ call.Ticket = (*ticket)(nil)

// ticket follows one admitted call.
type ticket struct {
	m        *Meter
	key      *tenancy.Key
	call     *call.Call
	model    string
	start    time.Time
	req      *call.Request
	prompt   int64 // estimated prompt tokens; -1 until counted
	maxOut   int64
	decision limits.Decision
	lease    limits.Lease
	res      limits.Reservation
	tok      *tokenize.Mapper
	enc      *tokenize.Encoding // loaded on first use
}

// Admit checks the key's model access, rate limits and budgets; it returns
// a ticket that meters the call, or a *call.Refusal.
func (m *Meter) Admit(ctx context.Context, c *call.Call, r *call.Request) (call.Ticket, error) {
	k := c.Key
	if k.Role == tenancy.RoleUser {
		return nil, &call.Refusal{Kind: call.ErrForbidden,
			Message: "A user key manages the platform through /api; call /v1 with a project key."}
	}
	if !k.Allows(r.Model) {
		return nil, &call.Refusal{Kind: call.ErrModelNotFound, Param: "model",
			Message: "The model `" + r.Model + "` does not exist or you do not have access to it."}
	}
	dep := m.deploy.Load()
	t := &ticket{m: m, key: k, call: c, req: r, model: r.Model, start: m.clock(), tok: dep.Tokenizers, prompt: -1}
	t.maxOut = DefaultMaxOutput
	if noOutput(c.Op) {
		t.maxOut = 0
	} else if n, ok := wire.Int(r.Body, r.Fields.MaxTokens); ok && n > 0 {
		t.maxOut = n
	}

	// Rate limits: the key's and its project's, all or nothing.
	rules := make([]limits.Rule, 0, 2)
	if k.RPM > 0 || k.TPM > 0 || k.Concurrency > 0 {
		rules = append(rules, limits.Rule{Scope: "key:" + k.ID, RPM: k.RPM, TPM: k.TPM, Concurrency: k.Concurrency})
	}
	if p := k.Project; p != nil && (p.RPM > 0 || p.TPM > 0 || p.Concurrency > 0) {
		rules = append(rules, limits.Rule{Scope: "project:" + p.ID, RPM: p.RPM, TPM: p.TPM, Concurrency: p.Concurrency})
	}
	if len(rules) > 0 {
		d, lease, err := m.Limits.Acquire(ctx, rules, limits.Usage{Tokens: t.promptTokens() + t.maxOut})
		if err != nil {
			if !m.FailOpen {
				return nil, backendDown(err)
			}
			m.Log.Warn("rate limits unavailable; admitting", "err", err)
		} else if !d.Allowed {
			e := &call.Refusal{Kind: call.ErrRateLimited, RetryAfter: d.RetryAfter, Header: http.Header{},
				Message: fmt.Sprintf("Rate limit reached for %s on %s. Please try again in %s.", scopeName(d.Scope), d.Reason, d.RetryAfter.Round(time.Millisecond))}
			d.Header(e.Header)
			return nil, e
		} else {
			t.decision, t.lease = d, lease
			if r.Header != nil {
				d.Header(r.Header)
			}
		}
	}

	// Budgets: reserve the most this call can cost.
	if budgets := t.budgets(); len(budgets) > 0 {
		price, ok := m.price(r.Model, "", t.start)
		if ok && price.Currency == k.Org.Currency {
			most := WithMarkup(price.Cost(Tokens{Prompt: t.promptTokens(), Completion: t.maxOut}), k.Org.MarkupBPS)
			res, err := m.Budgets.Reserve(ctx, budgets, most)
			var be *limits.BudgetError
			switch {
			case errors.As(err, &be):
				t.release()
				return nil, &call.Refusal{Kind: call.ErrQuota,
					Message: "You exceeded your current quota (" + scopeName(be.Scope) + "); please check your plan and billing details."}
			case err != nil && !m.FailOpen:
				t.release()
				return nil, backendDown(err)
			case err != nil:
				m.Log.Warn("budgets unavailable; admitting", "err", err)
			default:
				t.res = res
			}
		}
	}
	return t, nil
}

func backendDown(err error) error {
	return &call.Refusal{Kind: call.ErrUnavailable, Cause: err,
		Message: "Rate limits and budgets cannot be checked right now; try again shortly."}
}

func scopeName(scope string) string {
	switch {
	case len(scope) > 4 && scope[:4] == "key:":
		return "this API key"
	case len(scope) > 8 && scope[:8] == "project:":
		return "project " + scope[8:]
	case len(scope) > 11 && scope[:11] == "deployment:":
		return "deployment " + scope[11:]
	case len(scope) > 8 && scope[:8] == "balance:":
		return "the organisation's prepaid balance"
	case len(scope) > 11 && scope[:11] == "budget:key:":
		return "this API key's monthly budget"
	case len(scope) > 15 && scope[:15] == "budget:project:":
		return "the project's monthly budget"
	}
	return scope
}

// budgets lists the caps this call counts against.
func (t *ticket) budgets() []limits.Budget {
	k := t.key
	if k.Org == nil {
		return nil
	}
	month := t.start.UTC().Format("2006-01")
	var out []limits.Budget
	if k.MonthlyBudget > 0 {
		out = append(out, limits.Budget{Scope: "budget:key:" + k.ID + ":" + month, Limit: k.MonthlyBudget})
	}
	if p := k.Project; p != nil && p.MonthlyBudget > 0 {
		out = append(out, limits.Budget{Scope: "budget:project:" + p.ID + ":" + month, Limit: p.MonthlyBudget})
	}
	if k.Org.Prepaid {
		out = append(out, limits.Budget{Scope: "balance:" + k.Org.ID, Limit: t.m.Tenants.TopUps(k.Org.ID)})
	}
	return out
}

// Seed tells a budget backend what a scope has spent, from the ledger.
func (m *Meter) Seed(ctx context.Context, scope string) (int64, error) {
	var f ledger.Filter
	var month string
	switch {
	case hasPrefix(scope, "balance:"):
		f.OrgID = scope[len("balance:"):]
		if o, err := m.Tenants.Org(f.OrgID); err == nil {
			f.Currency = o.Currency // budgets count charges in the org's currency
		}
	case hasPrefix(scope, "budget:key:"):
		f.KeyID, month = splitMonth(scope[len("budget:key:"):])
		if k, err := m.Tenants.Key(f.KeyID); err == nil && k.Org != nil {
			f.Currency = k.Org.Currency
		}
	case hasPrefix(scope, "budget:project:"):
		f.ProjectID, month = splitMonth(scope[len("budget:project:"):])
		if p, err := m.Tenants.Project(f.ProjectID); err == nil {
			if o, err := m.Tenants.Org(p.OrgID); err == nil {
				f.Currency = o.Currency
			}
		}
	default:
		return 0, fmt.Errorf("unknown budget scope %q", scope)
	}
	if month != "" {
		from, err := time.Parse("2006-01", month)
		if err != nil {
			return 0, fmt.Errorf("budget scope %q: %w", scope, err)
		}
		f.From, f.To = from, from.AddDate(0, 1, 0)
	}
	if err := m.Ledger.Flush(ctx); err != nil {
		return 0, err
	}
	return ledger.Spent(ctx, m.DB, f)
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

func splitMonth(s string) (id, month string) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ':' {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// price finds the price for model on deployment at t: the price book
// first, then the deployment's list price from the config file.
func (m *Meter) price(model, deployment string, at time.Time) (Price, bool) {
	if p, ok := m.Prices.PriceAt(model, deployment, at); ok {
		return p, true
	}
	dep := m.deploy.Load()
	if deployment != "" {
		p, ok := dep.Prices[deployment]
		return p, ok
	}
	// Before routing: the dearest list price among the model's deployments
	// is the safe reservation.
	var best Price
	found := false
	for _, p := range dep.Prices {
		if p.Model == model && (!found || p.Output+p.Input > best.Output+best.Input) {
			best, found = p, true
		}
	}
	return best, found
}

// Route implements call.Ticket with the deployment's own limits. A
// deployment at its limit is refused with call.ErrRateLimited and the
// wait, so the router skips it for that long and tries another.
func (t *ticket) Route(ctx context.Context, deployment string) (func(), error) {
	rule, ok := t.m.deploy.Load().Limits[deployment]
	if !ok {
		return noRelease, nil
	}
	dec, lease, err := t.m.Limits.Acquire(ctx, []limits.Rule{rule}, limits.Usage{Tokens: t.promptTokens() + t.maxOut})
	if err != nil {
		if t.m.FailOpen {
			return noRelease, nil
		}
		return nil, backendDown(err)
	}
	if !dec.Allowed {
		return nil, &call.Refusal{Kind: call.ErrRateLimited, RetryAfter: dec.RetryAfter,
			Message: "Deployment " + deployment + " is at its " + dec.Reason + " limit. Please try again in " + dec.RetryAfter.Round(time.Millisecond).String() + "."}
	}
	return lease.Release, nil
}

func noRelease() {}

func (t *ticket) release() {
	if t.lease != nil {
		t.lease.Release()
	}
}

// Done implements call.Ticket: count, price, settle and record.
func (t *ticket) Done(r *call.Result) {
	// Its own context, not the request's: the call is over (the client may
	// have gone) and its usage must still be settled and recorded.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tok := Tokens{Prompt: r.Usage.PromptTokens, Cached: r.Usage.PromptDetails.CachedTokens,
		CacheWrite: r.Usage.PromptDetails.CacheWriteTokens, Completion: r.Usage.CompletionTokens}
	if !r.UsageReported {
		tok = Tokens{}
		if r.Status == http.StatusOK || r.Status == 499 || len(r.Generated) > 0 {
			tok.Prompt = t.promptTokens()
			tok.Completion = int64(t.encoding().Count(string(r.Generated)))
		}
	}
	if r.Deployment == "" { // never reached an upstream
		tok = Tokens{}
	}
	if t.lease != nil {
		t.lease.Reconcile(ctx, tok.Prompt+tok.Completion)
		t.lease.Release()
	}
	k := t.key
	rec := &ledger.Record{
		ID: t.call.ID, ClientRequestID: t.call.RequestID, Time: t.start.UTC(), KeyID: k.ID, OrgID: k.OrgID, ProjectID: k.ProjectID,
		Model: t.model, Deployment: r.Deployment,
		PromptTokens: tok.Prompt, CachedTokens: tok.Cached, CompletionTokens: tok.Completion,
		LatencyMs: r.Latency.Milliseconds(), Status: r.Status, Stream: r.Stream,
	}
	if p, ok := t.m.price(t.model, r.Deployment, t.start); ok {
		rec.Currency = p.Currency
		rec.CostMicros = p.Cost(tok)
		if k.Org != nil {
			rec.CostMicros = WithMarkup(rec.CostMicros, k.Org.MarkupBPS)
		}
	} else {
		// No price: usage in the organisation's currency, at no cost and
		// marked so — never a currency-less total of its own.
		rec.Unpriced = true
		if k.Org != nil {
			rec.Currency = k.Org.Currency
		}
	}
	if t.res != nil {
		if k.Org != nil && rec.Currency == k.Org.Currency {
			if err := t.res.Settle(ctx, rec.CostMicros); err != nil {
				t.m.Log.Warn("settling budget", "id", rec.ID, "err", err)
			}
		} else {
			t.res.Cancel(ctx)
		}
	}
	if p := k.Project; p != nil && p.KeepBodies {
		rec.Log = t.log(r)
	}
	if err := t.m.Ledger.Add(rec); err != nil {
		t.m.Log.Error("writing usage record", "id", rec.ID, "err", err)
	}
}

// log is what a project that keeps bodies keeps of this call: copies, as
// the gateway reuses its buffers once Done returns.
func (t *ticket) log(r *call.Result) *ledger.Log {
	body := t.req.Body
	l := &ledger.Log{Request: capped(r.Request), Response: capped(r.Response)}
	if r.Stream {
		l.Response = capped(r.Generated)
	}
	if u, ok := wire.String(body, t.req.Fields.User); ok {
		l.EndUser = u
	}
	if sp := t.req.Fields.Metadata; sp.Present() && body[sp.Start] == '{' {
		l.Metadata = bytes.Clone(body[sp.Start:sp.End])
	}
	for _, tag := range strings.Split(t.call.Tags, ",") {
		if tag = strings.TrimSpace(tag); tag != "" && len(l.Tags) < 32 {
			l.Tags = append(l.Tags, tag)
		}
	}
	return l
}

// capped copies b, cut at ledger.MaxLogBody.
func capped(b []byte) []byte {
	if len(b) > ledger.MaxLogBody {
		b = b[:ledger.MaxLogBody]
	}
	return bytes.Clone(b)
}

// promptTokens counts the prompt once, when something needs it: token
// limits, a budget reservation, or usage the upstream did not report.
func (t *ticket) promptTokens() int64 {
	if t.prompt < 0 {
		t.prompt = estimatePrompt(t.encoding(), t.call.Op, t.req)
	}
	return t.prompt
}

// encoding is the model's tokenizer, built on first use (a vocabulary
// takes a while to load; requests that need no count never pay for it).
func (t *ticket) encoding() *tokenize.Encoding {
	if t.enc == nil {
		t.enc = t.tok.For(t.model)
	}
	return t.enc
}

// estimatePrompt counts the prompt's tokens.
func estimatePrompt(enc *tokenize.Encoding, op provider.Op, r *call.Request) int64 {
	switch op {
	case provider.OpChat:
		if n, ok := countPlainChat(enc, r.Body, r.Fields); ok {
			return n
		}
		if n, err := tokenize.CountChatRequest(enc, r.Body); err == nil {
			return int64(n)
		}
	case provider.OpCompletion:
		return countTexts(enc, r.Body, r.Fields.Prompt)
	case provider.OpEmbedding, provider.OpClassify, provider.OpModeration, provider.OpSpeech:
		return countTexts(enc, r.Body, r.Fields.Input)
	case provider.OpImage:
		return countTexts(enc, r.Body, r.Fields.Prompt)
	case provider.OpRerank:
		return countRerank(enc, r.Body)
	case provider.OpTranscription, provider.OpTranslation:
		return 0 // audio: only the upstream can count it
	}
	return int64(len(r.Body) / 4)
}

// noOutput reports whether op's answers carry no generated tokens worth
// reserving for: scores, vectors, labels, audio bytes.
func noOutput(op provider.Op) bool {
	switch op {
	case provider.OpEmbedding, provider.OpClassify, provider.OpRerank, provider.OpModeration, provider.OpSpeech:
		return true
	}
	return false
}

// countRerank counts a rerank request's query and documents (strings or
// objects with text), as token-priced rerankers bill them.
func countRerank(enc *tokenize.Encoding, body []byte) int64 {
	all := wire.Span{End: len(body)}
	n := countTexts(enc, body, wire.Member(body, all, "query"))
	wire.Each(body, wire.Member(body, all, "documents"), func(_ []byte, v wire.Span) bool {
		if wire.Kind(body, v) == "object" {
			v = wire.Member(body, v, "text")
		}
		if s, ok := wire.String(body, v); ok {
			n += int64(enc.Count(s))
		}
		return true
	})
	return n
}

// countPlainChat is tokenize.CountChatRequest for the common request whose
// messages hold only strings and which defines no tools, read straight
// from the body's spans. ok is false for anything else.
func countPlainChat(enc *tokenize.Encoding, body []byte, f wire.Fields) (int64, bool) {
	if f.Tools.Present() && wire.Kind(body, f.Tools) != "null" {
		return 0, false
	}
	n, ok := int64(tokenize.ReplyPriming), true
	wire.Each(body, f.Messages, func(_ []byte, m wire.Span) bool {
		if body[m.Start] != '{' {
			ok = false
			return false
		}
		n += tokenize.TokensPerMessage
		var seen [8][]byte
		keys := 0
		wire.Each(body, m, func(k []byte, v wire.Span) bool {
			// A repeated key means JSON's last-wins; leave that to the slow path.
			for _, s := range seen[:min(keys, len(seen))] {
				if string(s) == string(k) {
					ok = false
					return false
				}
			}
			if keys == len(seen) || bytes.IndexByte(k, '\\') >= 0 {
				ok = false
				return false
			}
			seen[keys] = k
			keys++
			switch body[v.Start] {
			case 'n': // null
			case '"':
				s, _ := wire.String(body, v)
				n += int64(enc.Count(s))
				if string(k) == "name" {
					n += tokenize.TokensPerName
				}
			default:
				ok = false
			}
			return ok
		})
		return ok
	})
	return n, ok
}

// countTexts counts a string or an array of strings (token arrays count
// one per element).
func countTexts(enc *tokenize.Encoding, body []byte, sp wire.Span) int64 {
	if s, ok := wire.String(body, sp); ok {
		return int64(enc.Count(s))
	}
	var n int64
	wire.Each(body, sp, func(_ []byte, v wire.Span) bool {
		switch wire.Kind(body, v) {
		case "string":
			s, _ := wire.String(body, v)
			n += int64(enc.Count(s))
		case "array":
			wire.Each(body, v, func(_ []byte, _ wire.Span) bool { n++; return true })
		default:
			n++
		}
		return true
	})
	return n
}

// FormatMicros renders micro-units as a decimal amount: 1234567 → "1.234567".
func FormatMicros(v int64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	frac := strconv.FormatInt(v%1_000_000, 10)
	for len(frac) < 6 {
		frac = "0" + frac
	}
	return sign + strconv.FormatInt(v/1_000_000, 10) + "." + frac
}
