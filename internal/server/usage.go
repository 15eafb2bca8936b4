package server

import (
	"bytes"
	"encoding/csv"
	"html/template"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/metering"
	"switchyard/internal/metering/ledger"
	"switchyard/internal/tenancy"
)

func (s *Server) balance(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	o, err := s.org(r, k)
	if err != nil {
		return err
	}
	if err := s.ledger.Flush(r.Context()); err != nil {
		return err
	}
	spent, err := ledger.Spent(r.Context(), s.db, ledger.Filter{OrgID: o.ID, Currency: o.Currency})
	if err != nil {
		return err
	}
	entries, err := s.keys.BalanceEntries(r.Context(), o.ID)
	if err != nil {
		return err
	}
	if entries == nil {
		entries = []tenancy.BalanceEntry{}
	}
	topUps := s.keys.TopUps(o.ID)
	return writeJSON(w, http.StatusOK, map[string]any{
		"org_id": o.ID, "currency": o.Currency, "prepaid": o.Prepaid,
		"top_ups_micros": topUps, "spent_micros": spent, "balance_micros": topUps - spent,
		"entries": entries,
	})
}

// usageFilter reads the query and narrows it to what k may see.
func (s *Server) usageFilter(r *http.Request, k *tenancy.Key) (ledger.Filter, ledger.Group, error) {
	q := r.URL.Query()
	f := ledger.Filter{OrgID: q.Get("org"), ProjectID: q.Get("project"), KeyID: q.Get("key"), Model: q.Get("model")}
	bad := func(param, msg string) (ledger.Filter, ledger.Group, error) {
		return f, ledger.Group{}, invalidValue(param, msg)
	}
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		t, err := parseWhen(v)
		if err != nil {
			return bad(p.name, "'"+p.name+"' must be a date (2006-01-02) or an RFC 3339 time.")
		}
		*p.t = t
	}
	g := ledger.Group{Period: q.Get("group")}
	switch g.Period {
	case "", "hour", "day", "month":
	default:
		return bad("group", "'group' must be hour, day or month.")
	}
	if by := q.Get("by"); by != "" {
		for _, b := range strings.Split(by, ",") {
			if !slices.Contains([]string{"model", "project", "key", "deployment", "org"}, b) {
				return bad("by", "'by' takes model, project, key, deployment and org.")
			}
			g.By = append(g.By, b)
		}
	}
	// Scope to what the key may see.
	switch {
	case k.IsAdmin():
	case k.Role == tenancy.RoleProject:
		if (f.KeyID != "" && f.KeyID != k.ID) || (f.OrgID != "" && f.OrgID != k.OrgID) || (f.ProjectID != "" && f.ProjectID != k.ProjectID) {
			return f, g, errForbidden
		}
		f.OrgID, f.ProjectID, f.KeyID = k.OrgID, k.ProjectID, k.ID
	case k.Role == tenancy.RoleUser:
		if f.OrgID != "" && f.OrgID != k.OrgID {
			return f, g, errForbidden
		}
		f.OrgID = k.OrgID
		if f.KeyID != "" {
			if t, err := s.keys.Key(f.KeyID); err != nil || t.OrgID != k.OrgID {
				return f, g, errForbidden
			} else if t.ProjectID != "" && f.ProjectID == "" {
				f.ProjectID = t.ProjectID
			}
		}
		if !k.CanSeeUsage(k.OrgID, "") {
			p, err := s.keys.Project(f.ProjectID)
			if f.ProjectID == "" || err != nil || !k.CanReadProject(p) {
				return f, g, errMembersNameProject
			}
		}
	default:
		return f, g, errForbidden
	}
	return f, g, nil
}

func parseWhen(v string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01", v); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, v)
}

func (s *Server) usage(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	f, g, err := s.usageFilter(r, k)
	if err != nil {
		return err
	}
	if err := s.ledger.Flush(r.Context()); err != nil {
		return err
	}
	rows, err := ledger.Query(r.Context(), s.db, f, g)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("format") == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="usage.csv"`)
		cw := csv.NewWriter(w)
		cw.Write([]string{"period", "org_id", "project_id", "key_id", "model", "deployment", "requests", "prompt_tokens", "cached_tokens", "completion_tokens", "cost", "currency"})
		for _, x := range rows {
			cw.Write([]string{x.Period, x.OrgID, x.ProjectID, x.KeyID, x.Model, x.Deployment,
				strconv.FormatInt(x.Requests, 10), strconv.FormatInt(x.PromptTokens, 10), strconv.FormatInt(x.CachedTokens, 10),
				strconv.FormatInt(x.CompletionTokens, 10), metering.FormatMicros(x.CostMicros), x.Currency})
		}
		cw.Flush() // a write error here is a client gone: nothing to answer
		return nil
	}
	out := make([]UsageRow, len(rows))
	for i, x := range rows {
		out[i] = UsageRow(x)
	}
	return writeJSON(w, http.StatusOK, list(out))
}

// UsageRow is one line of GET /api/usage: a group's totals. Fields not
// grouped by are empty.
type UsageRow struct {
	Period           string `json:"period,omitempty"`
	OrgID            string `json:"org_id,omitempty"`
	ProjectID        string `json:"project_id,omitempty"`
	KeyID            string `json:"key_id,omitempty"`
	Model            string `json:"model,omitempty"`
	Deployment       string `json:"deployment,omitempty"`
	Requests         int64  `json:"requests"`
	PromptTokens     int64  `json:"prompt_tokens"`
	CachedTokens     int64  `json:"cached_tokens"`
	CompletionTokens int64  `json:"completion_tokens"`
	CostMicros       int64  `json:"cost_micros"`
	Currency         string `json:"currency"`
	// UnpricedRequests counts the requests no price covered (cost 0).
	UnpricedRequests int64 `json:"unpriced_requests"`
}

// Invoice is one organisation's bill for one month.
type Invoice struct {
	OrgID   string        `json:"org_id"`
	OrgName string        `json:"org_name"`
	Month   string        `json:"month"`
	Lines   []InvoiceLine `json:"lines"`
	// Totals has one sum per currency charged: the organisation's, and any
	// other a price named.
	Totals []Total `json:"totals"`
	// UnpricedRequests counts the month's requests no price covered: they
	// are billed at nothing, and flagged.
	UnpricedRequests int64     `json:"unpriced_requests"`
	IssuedAt         time.Time `json:"issued_at"`
}

// InvoiceLine is one model's usage in the month.
type InvoiceLine struct {
	Model            string `json:"model"`
	Requests         int64  `json:"requests"`
	PromptTokens     int64  `json:"prompt_tokens"`
	CachedTokens     int64  `json:"cached_tokens"`
	CompletionTokens int64  `json:"completion_tokens"`
	AmountMicros     int64  `json:"amount_micros"`
	Amount           string `json:"amount"`
	Currency         string `json:"currency"`
	UnpricedRequests int64  `json:"unpriced_requests"`
}

// Total is the invoice's sum in one currency.
type Total struct {
	Currency     string `json:"currency"`
	AmountMicros int64  `json:"amount_micros"`
	Amount       string `json:"amount"`
}

func (s *Server) invoice(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	o, err := s.org(r, k)
	if err != nil {
		return err
	}
	if !k.CanSeeUsage(o.ID, "") {
		return errForbidden
	}
	month, err := time.Parse("2006-01", r.PathValue("month"))
	if err != nil {
		return invalidValue("month", "The month must look like 2026-11.")
	}
	if err := s.ledger.Flush(r.Context()); err != nil {
		return err
	}
	rows, err := ledger.Query(r.Context(), s.db, ledger.Filter{OrgID: o.ID, From: month, To: month.AddDate(0, 1, 0)}, ledger.Group{By: []string{"model"}})
	if err != nil {
		return err
	}
	inv := Invoice{OrgID: o.ID, OrgName: o.Name, Month: month.Format("2006-01"), Lines: []InvoiceLine{}, Totals: []Total{}, IssuedAt: time.Now().UTC()}
	// One total per currency charged: the org's always, another only when
	// a price in it charged something. Usage without a currency (made
	// before prices existed, by an older version) is the org's, unpriced.
	totals := map[string]int64{o.Currency: 0}
	line := map[[2]string]int{}
	for _, x := range rows {
		if x.Currency == "" {
			x.Currency, x.UnpricedRequests = o.Currency, x.Requests
		}
		if x.Requests > x.UnpricedRequests {
			totals[x.Currency] += x.CostMicros
		}
		inv.UnpricedRequests += x.UnpricedRequests
		i, ok := line[[2]string{x.Model, x.Currency}]
		if !ok {
			i = len(inv.Lines)
			line[[2]string{x.Model, x.Currency}] = i
			inv.Lines = append(inv.Lines, InvoiceLine{Model: x.Model, Currency: x.Currency})
		}
		l := &inv.Lines[i]
		l.Requests += x.Requests
		l.PromptTokens += x.PromptTokens
		l.CachedTokens += x.CachedTokens
		l.CompletionTokens += x.CompletionTokens
		l.AmountMicros += x.CostMicros
		l.Amount = metering.FormatMicros(l.AmountMicros)
		l.UnpricedRequests += x.UnpricedRequests
	}
	for _, c := range slices.Sorted(maps.Keys(totals)) {
		inv.Totals = append(inv.Totals, Total{Currency: c, AmountMicros: totals[c], Amount: metering.FormatMicros(totals[c])})
	}
	if r.URL.Query().Get("format") == "html" {
		var b bytes.Buffer
		if err := invoiceHTML.Execute(&b, inv); err != nil {
			return err
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(b.Bytes())
		return nil
	}
	return writeJSON(w, http.StatusOK, inv)
}

var invoiceHTML = template.Must(template.New("invoice").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Invoice {{.Month}} — {{.OrgName}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:50em;color:#111}
table{border-collapse:collapse;width:100%}th,td{padding:.4em .6em;border-bottom:1px solid #ccc;text-align:right}
th:first-child,td:first-child{text-align:left}tfoot td{font-weight:bold;border-top:2px solid #111}
@media print{body{margin:0}}
</style></head><body>
<h1>Invoice</h1>
<p><strong>{{.OrgName}}</strong> ({{.OrgID}})<br>Period: {{.Month}}<br>Issued: {{.IssuedAt.Format "2006-01-02"}}</p>
<table><thead><tr><th>Model</th><th>Requests</th><th>Input tokens</th><th>Cached</th><th>Output tokens</th><th>Amount</th></tr></thead>
<tbody>{{range .Lines}}<tr><td>{{.Model}}{{if .UnpricedRequests}} ({{.UnpricedRequests}} unpriced){{end}}</td><td>{{.Requests}}</td><td>{{.PromptTokens}}</td><td>{{.CachedTokens}}</td><td>{{.CompletionTokens}}</td><td>{{.Amount}} {{.Currency}}</td></tr>
{{else}}<tr><td colspan="6">No usage this month.</td></tr>{{end}}</tbody>
<tfoot>{{range .Totals}}<tr><td colspan="5">Total</td><td>{{.Amount}} {{.Currency}}</td></tr>{{end}}</tfoot></table>
{{if .UnpricedRequests}}<p class="unpriced">{{.UnpricedRequests}} requests unpriced: no price covered them when they were made, so they are billed at 0.</p>{{end}}
</body></html>
`))
