package ledger

import (
	"cmp"
	"context"
	"slices"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"switchyard/internal/db"
	"switchyard/internal/db/dbtest"
)

// hourlyFromRecords is what Hourly should answer for f, computed from the
// records in Go, sorted.
func hourlyFromRecords(recs []Record, f HourlyFilter) []HourlyRow {
	type key struct{ period, model, project, currency string }
	sums := map[key]*HourlyRow{}
	from, to := f.From.UTC().Truncate(time.Hour), f.To.UTC().Truncate(time.Hour)
	for _, r := range recs {
		at := r.Time.UTC()
		if at.Before(from) || !at.Before(to) || (f.OrgID != "" && r.OrgID != f.OrgID) || (f.ProjectID != "" && r.ProjectID != f.ProjectID) {
			continue
		}
		p := at.Format(hourLayout)
		if f.Day {
			p = at.Format("2006-01-02")
		}
		k := key{p, r.Model, r.ProjectID, r.Currency}
		s := sums[k]
		if s == nil {
			s = &HourlyRow{Period: p, Model: r.Model, ProjectID: r.ProjectID, Currency: r.Currency}
			sums[k] = s
		}
		s.Requests++
		if r.Status >= 400 {
			s.Errors++
		}
		if r.Unpriced {
			s.Unpriced++
		}
		s.PromptTokens += r.PromptTokens
		s.CompletionTokens += r.CompletionTokens
		s.CostMicros += r.CostMicros
		s.Latency[latencyBucket(r.LatencyMs)]++
	}
	var out []HourlyRow
	for _, s := range sums {
		out = append(out, *s)
	}
	sortHourly(out)
	return out
}

func sortHourly(rows []HourlyRow) {
	slices.SortFunc(rows, func(a, b HourlyRow) int {
		return cmp.Or(cmp.Compare(a.Period, b.Period), cmp.Compare(a.Model, b.Model), cmp.Compare(a.ProjectID, b.ProjectID), cmp.Compare(a.Currency, b.Currency))
	})
}

func TestHourly(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		w := openWriter(t, d, t.TempDir())
		recs := randomRecords(11, 600, "h")
		// And some on the next day, for the daily grouping.
		for _, r := range randomRecords(12, 100, "next") {
			r.Time = r.Time.Add(24 * time.Hour)
			recs = append(recs, r)
		}
		addAll(t, w, recs...)
		day := t0.Truncate(24 * time.Hour)
		cases := map[string]HourlyFilter{
			"two days by hour":        {From: day, To: day.AddDate(0, 0, 2)},
			"two days by day":         {From: day, To: day.AddDate(0, 0, 2), Day: true},
			"one org":                 {OrgID: "org-1", From: day, To: day.AddDate(0, 0, 2)},
			"one project by day":      {ProjectID: "proj-2", From: day, To: day.AddDate(0, 0, 2), Day: true},
			"org and project":         {OrgID: "org-0", ProjectID: "proj-0", From: day, To: day.AddDate(0, 0, 2)},
			"some hours":              {From: t0.Add(time.Hour).Truncate(time.Hour), To: t0.Add(3 * time.Hour).Truncate(time.Hour)},
			"hours of the second day": {From: t0.Add(25 * time.Hour).Truncate(time.Hour), To: t0.Add(27 * time.Hour).Truncate(time.Hour), Day: true},
			"nothing in range":        {From: day.AddDate(0, 0, 5), To: day.AddDate(0, 0, 6)},
		}
		for name, f := range cases {
			got, err := Hourly(ctx, d, f)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			sortHourly(got)
			want := hourlyFromRecords(recs, f)
			if diff := gocmp.Diff(want, got); diff != "" {
				t.Errorf("%s (-records +Hourly):\n%s", name, diff)
			}
			if name != "nothing in range" && len(got) == 0 {
				t.Errorf("%s: no rows", name)
			}
		}
	})
}
