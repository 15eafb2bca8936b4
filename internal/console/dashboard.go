package console

import (
	"context"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"time"

	"switchyard/internal/metering/ledger"
	"switchyard/internal/tenancy"
)

// scope is the slice of usage a session may see.
type scope struct {
	OrgID, ProjectID string
	Projects         []*tenancy.Project // choices, for members
	Orgs             []*tenancy.Org     // choices, for the admin
}

// usageScope narrows usage to what the session may read: the admin sees
// everything (or one organisation), owners, admins and viewers their
// organisation, members one of their projects. ok is false when the
// session may read no usage.
func (c *Console) usageScope(r *http.Request, s *session) (scope, bool) {
	k := s.key
	q := r.URL.Query()
	switch {
	case k.IsAdmin():
		sc := scope{Orgs: c.tenants.Orgs()}
		if o := q.Get("org"); o != "" {
			if _, err := c.tenants.Org(o); err == nil {
				sc.OrgID = o
			}
		}
		return sc, true
	case k.Role == tenancy.RoleUser && k.User != nil:
		sc := scope{OrgID: k.OrgID}
		if k.CanSeeUsage(k.OrgID, "") {
			return sc, true
		}
		for _, p := range c.tenants.Projects(k.OrgID) {
			if k.CanSeeUsage(p.OrgID, p.ID) {
				sc.Projects = append(sc.Projects, p)
			}
		}
		if len(sc.Projects) == 0 {
			return sc, false
		}
		sc.ProjectID = sc.Projects[0].ID
		for _, p := range sc.Projects {
			if p.ID == q.Get("project") {
				sc.ProjectID = p.ID
			}
		}
		return sc, true
	}
	return scope{}, false
}

// span is a dashboard time range: [From, To) in Buckets steps.
type span struct {
	Name     string
	Period   string // ledger period: hour or day
	From, To time.Time
	Step     time.Duration
}

func spanFor(name string, now time.Time) span {
	now = now.UTC()
	switch name {
	case "7d", "30d":
		days := 7
		if name == "30d" {
			days = 30
		}
		to := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, 1)
		return span{Name: name, Period: "day", From: to.AddDate(0, 0, -days), To: to, Step: 24 * time.Hour}
	default:
		to := now.Truncate(time.Hour).Add(time.Hour)
		return span{Name: "24h", Period: "hour", From: to.Add(-24 * time.Hour), To: to, Step: time.Hour}
	}
}

// label is the ledger's period string of the bucket starting at t.
func (sp span) label(t time.Time) string {
	if sp.Period == "day" {
		return t.Format("2006-01-02")
	}
	return t.Format("2006-01-02T15")
}

// latencyBounds are the upper edges (ms) of the ledger rollup's latency
// histogram, which the dashboard computes percentiles from; slower
// requests fall in a last bucket reported as its lower edge.
var latencyBounds = ledger.LatencyBounds[:]

// bucketStats are one period's request outcomes.
type bucketStats struct {
	requests, errors int64
	hist             []int64 // len(latencyBounds)+1
}

func (b *bucketStats) percentile(p float64) int64 {
	if b.requests == 0 {
		return 0
	}
	want := int64(float64(b.requests)*p + 0.999999)
	var seen int64
	for i, n := range b.hist {
		seen += n
		if seen >= want {
			if i < len(latencyBounds) {
				return latencyBounds[i]
			}
			return latencyBounds[len(latencyBounds)-1]
		}
	}
	return latencyBounds[len(latencyBounds)-1]
}

// aggregate reads everything the dashboard shows from the ledger's
// hourly rollup, in one pass: per period, model, project and currency, the
// requests, errors, tokens, cost and latency histogram. The dashboard's
// ranges are whole hours, so the rollup answers them exactly.
func (c *Console) aggregate(ctx context.Context, sc scope, sp span) ([]ledger.HourlyRow, error) {
	return ledger.Hourly(ctx, c.db, ledger.HourlyFilter{OrgID: sc.OrgID, ProjectID: sc.ProjectID, From: sp.From, To: sp.To, Day: sp.Period == "day"})
}

// money is an amount in one currency.
type money struct {
	Micros   int64
	Currency string
}

// groupRow is a line of the by-model or by-project table.
type groupRow struct {
	Name     string
	Requests int64
	Tokens   int64
	Cost     []money
}

type dashData struct {
	Range       string
	Ranges      []string
	Scope       scope
	Requests    int64
	Tokens      int64
	Cost        []money
	Unpriced    int64 // requests no price covered
	ErrorRate   string
	P50, P95    int64
	Charts      []template.HTML
	ByModel     []groupRow
	ByProject   []groupRow
	Empty       bool
	OrgID       string
	ProjectID   string
	CanSeeUsage bool
}

func addMoney(ms []money, micros int64, cur string) []money {
	for i := range ms {
		if ms[i].Currency == cur {
			ms[i].Micros += micros
			return ms
		}
	}
	return append(ms, money{micros, cur})
}

func groupRows(rows []ledger.HourlyRow, name func(*ledger.HourlyRow) string) []groupRow {
	var out []groupRow
	idx := map[string]int{}
	for i := range rows {
		x := &rows[i]
		n := name(x)
		j, ok := idx[n]
		if !ok {
			j = len(out)
			idx[n] = j
			out = append(out, groupRow{Name: n})
		}
		g := &out[j]
		g.Requests += x.Requests
		g.Tokens += x.PromptTokens + x.CompletionTokens
		g.Cost = addMoney(g.Cost, x.CostMicros, x.Currency)
	}
	slices.SortStableFunc(out, func(a, b groupRow) int { return int(b.Requests - a.Requests) })
	return out
}

func (c *Console) dashboard(w http.ResponseWriter, r *http.Request, s *session) {
	lang := PickLang(r)
	sp := spanFor(r.URL.Query().Get("range"), time.Now())
	d := dashData{Range: sp.Name, Ranges: []string{"24h", "7d", "30d"}}
	v := &view{Sess: s, Nav: "dashboard", Title: T(lang, "dash.title"), Data: &d}
	sc, ok := c.usageScope(r, s)
	d.Scope, d.CanSeeUsage = sc, ok
	d.OrgID, d.ProjectID = sc.OrgID, sc.ProjectID
	if !ok {
		d.Empty = true
		c.render(w, r, 0, "dashboard", v)
		return
	}
	ctx := r.Context()
	if c.ledger != nil {
		if err := c.ledger.Flush(ctx); err != nil {
			c.log.Error("console dashboard", "err", err)
		}
	}
	agg, err := c.aggregate(ctx, sc, sp)
	if err != nil {
		c.log.Error("console dashboard", "err", err)
		c.fail(w, r, s, http.StatusInternalServerError, "err.server", "")
		return
	}
	d.ByModel = groupRows(agg, func(x *ledger.HourlyRow) string { return x.Model })
	d.ByProject = groupRows(agg, func(x *ledger.HourlyRow) string { return c.projectName(x.ProjectID) })
	// One slot per bucket, zero where there was no traffic.
	n := int(sp.To.Sub(sp.From) / sp.Step)
	if sp.Period == "day" {
		n = int(sp.To.Sub(sp.From).Hours()/24 + 0.5)
	}
	labels := make([]string, n)
	ticks := make([]string, n)
	slot := map[string]int{}
	for i := range n {
		t := sp.From.Add(time.Duration(i) * sp.Step)
		if sp.Period == "day" {
			t = sp.From.AddDate(0, 0, i)
			ticks[i] = t.Format("01-02")
		} else {
			ticks[i] = t.Format("15:00")
		}
		labels[i] = sp.label(t)
		slot[labels[i]] = i
	}
	reqs, toks := make([]float64, n), make([]float64, n)
	costCur := ""
	var costs = map[string][]float64{}
	outs := map[string]*bucketStats{}
	for _, x := range agg {
		tokens := x.PromptTokens + x.CompletionTokens
		d.Requests += x.Requests
		d.Tokens += tokens
		d.Cost = addMoney(d.Cost, x.CostMicros, x.Currency)
		d.Unpriced += x.Unpriced
		i, ok := slot[x.Period]
		if !ok {
			continue
		}
		reqs[i] += float64(x.Requests)
		toks[i] += float64(tokens)
		if costs[x.Currency] == nil {
			costs[x.Currency] = make([]float64, n)
		}
		costs[x.Currency][i] += float64(x.CostMicros)
		bs := outs[x.Period]
		if bs == nil {
			bs = &bucketStats{hist: make([]int64, len(latencyBounds)+1)}
			outs[x.Period] = bs
		}
		for i, n := range x.Latency {
			bs.hist[i] += n
		}
		bs.requests += x.Requests
		bs.errors += x.Errors
	}
	var best int64 = -1
	for _, m := range d.Cost {
		if m.Micros > best {
			best, costCur = m.Micros, m.Currency
		}
	}
	errRate, p50, p95 := make([]float64, n), make([]float64, n), make([]float64, n)
	total := &bucketStats{hist: make([]int64, len(latencyBounds)+1)}
	for p, bs := range outs {
		total.requests += bs.requests
		total.errors += bs.errors
		for i := range bs.hist {
			total.hist[i] += bs.hist[i]
		}
		i, ok := slot[p]
		if !ok || bs.requests == 0 {
			continue
		}
		errRate[i] = float64(bs.errors) / float64(bs.requests)
		p50[i], p95[i] = float64(bs.percentile(0.5)), float64(bs.percentile(0.95))
	}
	d.Empty = d.Requests == 0 && total.requests == 0
	if total.requests > 0 {
		d.ErrorRate = FormatPercent(float64(total.errors) / float64(total.requests))
		d.P50, d.P95 = total.percentile(0.5), total.percentile(0.95)
	} else {
		d.ErrorRate = FormatPercent(0)
	}
	count := func(f float64) string { return FormatCompact(lang, int64(f)) }
	d.Charts = append(d.Charts,
		barChart(T(lang, "dash.requests"), ticks, reqs, count),
		barChart(T(lang, "dash.tokens"), ticks, toks, count))
	if costCur != "" {
		d.Charts = append(d.Charts, barChart(T(lang, "dash.cost")+" ("+costCur+")", ticks, costs[costCur],
			func(f float64) string { return FormatMoney(lang, int64(f), costCur) }))
	}
	d.Charts = append(d.Charts,
		lineChart(T(lang, "dash.errors"), ticks, [][]float64{errRate}, []string{T(lang, "dash.errors")}, FormatPercent),
		lineChart(T(lang, "dash.latency"), ticks, [][]float64{p50, p95}, []string{"p50", "p95"},
			func(f float64) string { return strconv.FormatInt(int64(f), 10) + " ms" }))
	c.render(w, r, 0, "dashboard", v)
}

// projectName shows a project by name, falling back to its id.
func (c *Console) projectName(id string) string {
	if p, err := c.tenants.Project(id); err == nil && p.Name != "" {
		return p.Name
	}
	if id == "" {
		return "—"
	}
	return id
}
