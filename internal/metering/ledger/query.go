package ledger

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"switchyard/internal/db"
)

// Filter selects records; a zero field does not filter. Time is [From, To).
type Filter struct {
	OrgID, ProjectID, KeyID, Model string
	Currency                       string
	From, To                       time.Time
}

// Group says how Query aggregates.
type Group struct {
	Period string   // "", "hour", "day" or "month" (UTC)
	By     []string // any of "model", "project", "key", "deployment", "org"
}

// Row is one aggregate. Only the fields named in Group.By are set, and
// Period when Group.Period is.
type Row struct {
	Period                                     string // "2026-11-29T13", "2026-11-29", "2026-11" or ""
	OrgID, ProjectID, KeyID, Model, Deployment string
	Requests                                   int64
	PromptTokens, CachedTokens                 int64
	CompletionTokens                           int64
	CostMicros                                 int64
	Currency                                   string
	// UnpricedRequests counts the requests no price covered (cost 0).
	UnpricedRequests int64
}

var periodExpr = map[string]string{
	"hour":  "hour",
	"day":   "substr(hour, 1, 10)",
	"month": "substr(hour, 1, 7)",
}

var byColumn = map[string]string{
	"model": "model", "project": "project_id", "key": "key_id", "deployment": "deployment", "org": "org_id",
}

// where is the filter as a clause over usage_records.
func (f *Filter) where() *db.Where {
	w := f.eqs()
	return w.Range("ts", db.Millis(f.From), db.Millis(f.To))
}

func (f *Filter) eqs() *db.Where {
	w := &db.Where{}
	return w.Eq("org_id", f.OrgID).Eq("project_id", f.ProjectID).Eq("key_id", f.KeyID).Eq("model", f.Model).Eq("currency", f.Currency)
}

// hourly reports whether f's time range is whole UTC hours, so that the
// hourly rollup answers it exactly.
func (f *Filter) hourly() bool {
	whole := func(t time.Time) bool { return t.IsZero() || t.UTC().Truncate(time.Hour).Equal(t) }
	return whole(f.From) && whole(f.To)
}

// hourWhere is where() for usage_hourly, comparing hour strings (which
// sort as times); f must be hourly.
func (f *Filter) hourWhere() *db.Where {
	hour := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.UTC().Format(hourLayout)
	}
	return f.eqs().Range("hour", hour(f.From), hour(f.To))
}

// Query aggregates the records f selects, grouped by g and by currency.
// Rows are ordered by period, then the grouped fields in g.By's order, then
// currency, comparing bytes. A time range of whole hours (or none) is read
// from the hourly rollup; any other from the records themselves.
func Query(ctx context.Context, d *db.DB, f Filter, g Group) ([]Row, error) {
	return query(ctx, d, f, g, f.hourly())
}

func query(ctx context.Context, d *db.DB, f Filter, g Group, rollup bool) ([]Row, error) {
	var keys []string // grouping expressions
	if g.Period != "" {
		e, ok := periodExpr[g.Period]
		if !ok {
			return nil, fmt.Errorf("querying usage: unknown period %q", g.Period)
		}
		keys = append(keys, e)
	}
	seen := map[string]bool{}
	var by []string
	for _, b := range g.By {
		c, ok := byColumn[b]
		if !ok {
			return nil, fmt.Errorf("querying usage: unknown grouping %q", b)
		}
		if !seen[b] {
			seen[b] = true
			by = append(by, b)
			keys = append(keys, c)
		}
	}
	keys = append(keys, "currency")
	where := f.where()
	count, unpriced, table := "COUNT(*)", "SUM(unpriced)", "usage_records"
	if rollup {
		where = f.hourWhere()
		count, unpriced, table = "CAST(SUM(requests) AS BIGINT)", "SUM(unpriced_requests)", "usage_hourly"
	}
	q := "SELECT " + strings.Join(keys, ", ") +
		", " + count + ", CAST(SUM(prompt_tokens) AS BIGINT), CAST(SUM(cached_tokens) AS BIGINT)" +
		", CAST(SUM(completion_tokens) AS BIGINT), CAST(SUM(cost_micros) AS BIGINT), CAST(" + unpriced + " AS BIGINT)" +
		" FROM " + table + where.SQL() + " GROUP BY " + strings.Join(keys, ", ")
	rows, err := d.QueryContext(ctx, d.Rebind(q), where.Args()...)
	if err != nil {
		return nil, fmt.Errorf("querying usage: %w", err)
	}
	defer rows.Close()
	var out []Row
	for rows.Next() {
		var r Row
		dest := make([]any, 0, len(keys)+5)
		if g.Period != "" {
			dest = append(dest, &r.Period)
		}
		for _, b := range by {
			dest = append(dest, r.field(b))
		}
		dest = append(dest, &r.Currency, &r.Requests, &r.PromptTokens, &r.CachedTokens, &r.CompletionTokens, &r.CostMicros, &r.UnpricedRequests)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("querying usage: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("querying usage: %w", err)
	}
	slices.SortFunc(out, func(a, b Row) int {
		if c := cmp.Compare(a.Period, b.Period); c != 0 {
			return c
		}
		for _, k := range by {
			if c := cmp.Compare(*a.field(k), *b.field(k)); c != 0 {
				return c
			}
		}
		return cmp.Compare(a.Currency, b.Currency)
	})
	return out, nil
}

func (r *Row) field(by string) *string {
	switch by {
	case "model":
		return &r.Model
	case "project":
		return &r.ProjectID
	case "key":
		return &r.KeyID
	case "deployment":
		return &r.Deployment
	default: // "org"
		return &r.OrgID
	}
}

// Spent returns the sum of CostMicros over the records f selects. Amounts
// in different currencies are added together; set f.Currency to keep one.
func Spent(ctx context.Context, d *db.DB, f Filter) (int64, error) {
	where := f.where()
	var n int64
	q := "SELECT CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) FROM usage_records" + where.SQL()
	if err := d.QueryRowContext(ctx, d.Rebind(q), where.Args()...).Scan(&n); err != nil {
		return 0, fmt.Errorf("summing usage cost: %w", err)
	}
	return n, nil
}
