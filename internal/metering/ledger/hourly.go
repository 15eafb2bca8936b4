package ledger

import (
	"context"
	"fmt"
	"strings"
	"time"

	"switchyard/internal/db"
)

// HourlyFilter selects rows of the hourly rollup; an empty OrgID or
// ProjectID does not filter. From and To count by the UTC hour they fall
// in: the rows from From's hour up to, not including, To's hour. Day
// groups by UTC day instead of by hour.
type HourlyFilter struct {
	OrgID, ProjectID string
	From, To         time.Time
	Day              bool
}

// HourlyRow is one period, model, project and currency of the rollup:
// its requests, errors, tokens, cost and latency histogram (bucket i as
// described at LatencyBounds).
type HourlyRow struct {
	Period                         string // "2026-11-29T13", or "2026-11-29" by day
	Model, ProjectID, Currency     string
	Requests, Errors               int64
	Unpriced                       int64 // requests no price applied to
	PromptTokens, CompletionTokens int64
	CostMicros                     int64
	Latency                        [LatencyBuckets]int64
}

// hourlySQL is the statement Hourly runs, without its conditions.
var hourlySQL = "SELECT hour, model, project_id, currency, requests, errors, unpriced_requests, prompt_tokens, completion_tokens, cost_micros, " +
	strings.Join(latColumns(), ", ") + " FROM usage_hourly WHERE hour >= ? AND hour < ?"

// Hourly reads, in one pass over the hourly rollup, everything a usage
// dashboard shows, summed per period, model, project and currency, in the
// order each group is first met. Reading one row per hour and key instead
// of one per request keeps it fast over many records. The rows are summed
// here rather than with GROUP BY: SQLite would sort them first, which took
// most of the time.
func Hourly(ctx context.Context, d *db.DB, f HourlyFilter) ([]HourlyRow, error) {
	q := hourlySQL
	args := []any{f.From.UTC().Format(hourLayout), f.To.UTC().Format(hourLayout)}
	if f.OrgID != "" {
		q += " AND org_id = ?"
		args = append(args, f.OrgID)
	}
	if f.ProjectID != "" {
		q += " AND project_id = ?"
		args = append(args, f.ProjectID)
	}
	rows, err := d.QueryContext(ctx, d.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("reading hourly usage: %w", err)
	}
	defer rows.Close()
	type groupKey struct{ period, model, project, currency string }
	idx := map[groupKey]int{}
	var out []HourlyRow
	var a HourlyRow
	dest := []any{&a.Period, &a.Model, &a.ProjectID, &a.Currency, &a.Requests, &a.Errors, &a.Unpriced, &a.PromptTokens, &a.CompletionTokens, &a.CostMicros}
	for i := range a.Latency {
		dest = append(dest, &a.Latency[i])
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("reading hourly usage: %w", err)
		}
		if f.Day {
			a.Period = a.Period[:min(len(a.Period), len("2006-01-02"))]
		}
		k := groupKey{a.Period, a.Model, a.ProjectID, a.Currency}
		j, ok := idx[k]
		if !ok {
			idx[k] = len(out)
			out = append(out, a)
			continue
		}
		g := &out[j]
		g.Requests += a.Requests
		g.Unpriced += a.Unpriced
		g.Errors += a.Errors
		g.PromptTokens += a.PromptTokens
		g.CompletionTokens += a.CompletionTokens
		g.CostMicros += a.CostMicros
		for i, n := range a.Latency {
			g.Latency[i] += n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading hourly usage: %w", err)
	}
	return out, nil
}
