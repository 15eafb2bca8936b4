package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"switchyard/internal/db"
)

// The hourly rollup: usage_hourly holds, per UTC hour, org, project, key,
// model, deployment, currency and status class (2, 4, 5…), the request,
// error and unpriced-request counts, token and cost sums, and a latency
// histogram. The inserter
// adds to it in the transaction that stores the records, counting only the
// records actually inserted, so a replayed request id adds nothing. Reads
// over whole hours (the dashboard, Query by hour, day or month) scan it
// instead of every record.

// LatencyBounds are the upper edges, in milliseconds, of the rollup's
// latency buckets: bucket i counts requests with latency below
// LatencyBounds[i] (and at least the edge before); the last bucket,
// len(LatencyBounds), counts the slower ones.
var LatencyBounds = [LatencyBuckets - 1]int64{10, 25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000, 30000}

// LatencyBuckets is the number of latency buckets (columns lat_0…lat_15).
const LatencyBuckets = 16

// latencyBucket is the bucket of a latency.
func latencyBucket(ms int64) int {
	for i, ub := range LatencyBounds {
		if ms < ub {
			return i
		}
	}
	return len(LatencyBounds)
}

var hourlyKeys = []string{"hour", "org_id", "project_id", "key_id", "model", "deployment", "currency", "status_class"}

// createdSums are the sums migration 0103 created; later migrations add
// the rest of hourlySums. Frozen: an applied migration's SQL never changes.
var createdSums = []string{"requests", "errors", "prompt_tokens", "cached_tokens", "completion_tokens", "cost_micros"}

var hourlySums = append(createdSums[:len(createdSums):len(createdSums)], "unpriced_requests")

func latColumns() []string {
	out := make([]string, LatencyBuckets)
	for i := range out {
		out[i] = "lat_" + strconv.Itoa(i)
	}
	return out
}

// rollupMigration creates usage_hourly and fills it from the records
// already stored.
func rollupMigration() db.Migration {
	var b strings.Builder
	b.WriteString("CREATE TABLE usage_hourly (\n  hour TEXT NOT NULL,\n  org_id TEXT NOT NULL,\n  project_id TEXT NOT NULL,\n  key_id TEXT NOT NULL,\n" +
		"  model TEXT NOT NULL,\n  deployment TEXT NOT NULL,\n  currency TEXT NOT NULL,\n  status_class INTEGER NOT NULL,\n")
	for _, c := range createdSums {
		b.WriteString("  " + c + " BIGINT NOT NULL,\n")
	}
	for _, c := range latColumns() {
		b.WriteString("  " + c + " BIGINT NOT NULL DEFAULT 0,\n")
	}
	b.WriteString("  PRIMARY KEY (" + strings.Join(hourlyKeys, ", ") + ")\n);\n")
	b.WriteString("CREATE INDEX usage_hourly_org ON usage_hourly (org_id, hour);\n")
	b.WriteString("CREATE INDEX usage_hourly_project ON usage_hourly (project_id, hour);\n")
	b.WriteString(backfillSQL())
	return db.Migration{Name: "0103_ledger_usage_hourly", SQL: b.String()}
}

// backfillSQL fills an empty usage_hourly from usage_records.
func backfillSQL() string {
	var b strings.Builder
	b.WriteString("INSERT INTO usage_hourly (" + strings.Join(hourlyKeys, ", ") + ", " + strings.Join(createdSums, ", ") + ", " + strings.Join(latColumns(), ", ") + ")\n")
	b.WriteString("SELECT hour, org_id, project_id, key_id, model, deployment, currency, status / 100, COUNT(*)," +
		" SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), SUM(prompt_tokens), SUM(cached_tokens), SUM(completion_tokens), SUM(cost_micros)")
	lo := int64(-1 << 62)
	for i := range LatencyBuckets {
		hi := int64(1 << 62)
		if i < len(LatencyBounds) {
			hi = LatencyBounds[i]
		}
		fmt.Fprintf(&b, ", SUM(CASE WHEN latency_ms >= %d AND latency_ms < %d THEN 1 ELSE 0 END)", lo, hi)
		lo = hi
	}
	b.WriteString("\nFROM usage_records GROUP BY hour, org_id, project_id, key_id, model, deployment, currency, status / 100")
	return b.String()
}

func init() {
	db.Register(rollupMigration(), db.Migration{Name: "0105_ledger_unpriced", SQL: `
ALTER TABLE usage_records ADD COLUMN unpriced INTEGER NOT NULL DEFAULT 0;
UPDATE usage_records SET unpriced = 1 WHERE currency = '';
ALTER TABLE usage_hourly ADD COLUMN unpriced_requests BIGINT NOT NULL DEFAULT 0;
UPDATE usage_hourly SET unpriced_requests = requests WHERE currency = ''`})
}

// hourlyKey is one row of usage_hourly.
type hourlyKey struct {
	hour, org, project, key, model, deployment, currency string
	class                                                int
}

type hourlySum struct {
	requests, errors, prompt, cached, completion, cost, unpriced int64
	lat                                                          [LatencyBuckets]int64
}

// rollup sums records by hourly key, in first-seen order.
type rollup struct {
	order []hourlyKey
	sums  map[hourlyKey]*hourlySum
}

func (ru *rollup) add(r *Record) {
	s := ru.sum(hourlyKey{r.Time.UTC().Format(hourLayout), r.OrgID, r.ProjectID, r.KeyID, r.Model, r.Deployment, r.Currency, r.Status / 100})
	s.requests++
	if r.Unpriced {
		s.unpriced++
	}
	if r.Status >= 400 {
		s.errors++
	}
	s.prompt += r.PromptTokens
	s.cached += r.CachedTokens
	s.completion += r.CompletionTokens
	s.cost += r.CostMicros
	s.lat[latencyBucket(r.LatencyMs)]++
}

// sum returns k's sums, adding k.
func (ru *rollup) sum(k hourlyKey) *hourlySum {
	if ru.sums == nil {
		ru.sums = map[hourlyKey]*hourlySum{}
	}
	s := ru.sums[k]
	if s == nil {
		s = &hourlySum{}
		ru.sums[k] = s
		ru.order = append(ru.order, k)
	}
	return s
}

// hourlyChunk bounds the rows of one upsert statement (31 parameters a row).
const hourlyChunk = 200

// upsertSQL is the statement adding n rows to usage_hourly.
func upsertSQL(d *db.DB, n int) string {
	cols := append(append(append([]string{}, hourlyKeys...), hourlySums...), latColumns()...)
	var b strings.Builder
	b.WriteString("INSERT INTO usage_hourly (" + strings.Join(cols, ", ") + ") VALUES ")
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	b.WriteString(" ON CONFLICT (" + strings.Join(hourlyKeys, ", ") + ") DO UPDATE SET ")
	for i, c := range cols[len(hourlyKeys):] {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c + " = usage_hourly." + c + " + excluded." + c)
	}
	return d.Rebind(b.String())
}

// write adds the rollup to usage_hourly within tx.
func (ru *rollup) write(ctx context.Context, d *db.DB, tx *sql.Tx) error {
	keys := ru.order
	args := make([]any, 0, hourlyChunk*(len(hourlyKeys)+len(hourlySums)+LatencyBuckets))
	for len(keys) > 0 {
		n := min(len(keys), hourlyChunk)
		args = args[:0]
		for _, k := range keys[:n] {
			s := ru.sums[k]
			args = append(args, k.hour, k.org, k.project, k.key, k.model, k.deployment, k.currency, k.class,
				s.requests, s.errors, s.prompt, s.cached, s.completion, s.cost, s.unpriced)
			for _, x := range s.lat {
				args = append(args, x)
			}
		}
		if _, err := tx.ExecContext(ctx, upsertSQL(d, n), args...); err != nil {
			return fmt.Errorf("rolling up usage: %w", err)
		}
		keys = keys[n:]
	}
	return nil
}

// AdoptUnpriced moves the usage an organisation made before any price
// existed — stored, before 0105_ledger_unpriced, under no currency — into
// the organisation's currency as unpriced usage (cost 0), so that no
// organisation has a second, currency-less total. currencyOf gives an
// organisation's currency ("" for none: its rows stay). It is cheap when
// there is nothing to move, and safe to run on several replicas at once:
// the rollup rows are moved by whoever deletes them.
func AdoptUnpriced(ctx context.Context, d *db.DB, currencyOf func(orgID string) string) error {
	rows, err := d.QueryContext(ctx, `SELECT DISTINCT org_id FROM usage_hourly WHERE currency = ''`)
	if err != nil {
		return fmt.Errorf("finding currency-less usage: %w", err)
	}
	var orgs []string
	for rows.Next() {
		var o string
		if err := rows.Scan(&o); err != nil {
			rows.Close()
			return fmt.Errorf("finding currency-less usage: %w", err)
		}
		orgs = append(orgs, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("finding currency-less usage: %w", err)
	}
	for _, org := range orgs {
		if cur := currencyOf(org); cur != "" {
			if err := adoptUnpriced(ctx, d, org, cur); err != nil {
				return fmt.Errorf("moving currency-less usage of %s: %w", org, err)
			}
		}
	}
	return nil
}

func adoptUnpriced(ctx context.Context, d *db.DB, org, currency string) error {
	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, d.Rebind(`UPDATE usage_records SET currency = ?, unpriced = 1, cost_micros = 0 WHERE org_id = ? AND currency = ''`), currency, org); err != nil {
		return err
	}
	cols := append(append(append([]string{}, hourlyKeys...), hourlySums...), latColumns()...)
	rows, err := tx.QueryContext(ctx, d.Rebind(`DELETE FROM usage_hourly WHERE org_id = ? AND currency = '' RETURNING `+strings.Join(cols, ", ")), org)
	if err != nil {
		return err
	}
	var ru rollup
	for rows.Next() {
		var k hourlyKey
		var s hourlySum
		dest := []any{&k.hour, &k.org, &k.project, &k.key, &k.model, &k.deployment, &k.currency, &k.class,
			&s.requests, &s.errors, &s.prompt, &s.cached, &s.completion, &s.cost, &s.unpriced}
		for i := range s.lat {
			dest = append(dest, &s.lat[i])
		}
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return err
		}
		k.currency, s.cost, s.unpriced = currency, 0, s.requests
		*ru.sum(k) = s
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if err := ru.write(ctx, d, tx); err != nil {
		return err
	}
	return tx.Commit()
}
