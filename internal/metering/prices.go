package metering

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"switchyard/internal/db"
	"switchyard/internal/tenancy"
)

// The prices table was created by tenancy's 0002_tenancy_orgs before the
// price book moved here: IF NOT EXISTS leaves an existing database's
// table alone and creates it in a new one.
func init() {
	db.Register(db.Migration{Name: "0110_metering_prices", SQL: `
CREATE TABLE IF NOT EXISTS prices (
  id TEXT PRIMARY KEY,
  model TEXT NOT NULL,
  deployment TEXT NOT NULL DEFAULT '',
  currency TEXT NOT NULL,
  input BIGINT NOT NULL,
  cached_input BIGINT NOT NULL,
  output BIGINT NOT NULL,
  effective_from TEXT NOT NULL,
  created_at TEXT NOT NULL
)`})
	// Prompt-cache writes (Anthropic's cache_creation_input_tokens) have
	// their own price; 0 charges them as input.
	db.Register(db.Migration{Name: "0111_metering_prices_cache_write", SQL: `ALTER TABLE prices ADD COLUMN cache_write BIGINT NOT NULL DEFAULT 0`})
}

// Price is what 1M tokens of a model cost, in integer micro-units of
// Currency (1 USD = 1,000,000 micro-units). A price applies from
// EffectiveFrom until a later price for the same model and deployment
// takes over, so changing a price never rewrites past charges.
type Price struct {
	ID            string    `json:"id"`
	Model         string    `json:"model"`
	Deployment    string    `json:"deployment,omitempty"` // "" for every deployment of Model
	Currency      string    `json:"currency"`
	Input         int64     `json:"input_micros"`
	CachedInput   int64     `json:"cached_input_micros"`
	CacheWrite    int64     `json:"cache_write_micros,omitempty"` // prompt tokens written to the vendor's cache; 0: Input
	Output        int64     `json:"output_micros"`
	EffectiveFrom time.Time `json:"effective_from"`
	CreatedAt     time.Time `json:"created_at,omitzero"`
}

// Tokens are a request's token counts by kind.
type Tokens struct {
	Prompt, Cached, Completion int64 // Cached is the part of Prompt served from the upstream's cache
	CacheWrite                 int64 // the part of Prompt written to the upstream's cache
}

// Cost is the price of t in micro-units, rounded half up.
func (p *Price) Cost(t Tokens) int64 {
	cached := min(max(t.Cached, 0), t.Prompt)
	written := min(max(t.CacheWrite, 0), t.Prompt-cached)
	cachedPrice := p.CachedInput
	if cachedPrice == 0 {
		cachedPrice = p.Input
	}
	writePrice := p.CacheWrite
	if writePrice == 0 {
		writePrice = p.Input
	}
	// Per 1M tokens: sum in micro-units × 1e6, then round once.
	n := (t.Prompt-cached-written)*p.Input + cached*cachedPrice + written*writePrice + t.Completion*p.Output
	return (n + 500_000) / 1_000_000
}

// WithMarkup applies an organisation's markup (basis points) to a cost.
func WithMarkup(cost, bps int64) int64 {
	if bps == 0 {
		return cost
	}
	return (cost*(10_000+bps) + 5_000) / 10_000
}

// PriceBook is the effective-dated price book (the prices table) with an
// in-memory snapshot for the request path. Prices are only ever added,
// so the row count tells a replica that another added one.
type PriceBook struct {
	db   *db.DB
	log  *slog.Logger
	snap atomic.Pointer[priceSnap]
	mu   sync.Mutex // serialises reloads
}

type priceSnap struct {
	rows   int64
	prices []Price // newest effective_from first
}

// NewPriceBook loads the price book.
func NewPriceBook(ctx context.Context, d *db.DB, log *slog.Logger) (*PriceBook, error) {
	b := &PriceBook{db: d, log: log}
	if err := b.Reload(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// Prices lists the price book, newest first.
func (b *PriceBook) Prices() []Price { return append([]Price(nil), b.snap.Load().prices...) }

// PriceAt returns the price in force at t for model on deployment: a
// deployment-specific entry first, then the model's.
func (b *PriceBook) PriceAt(model, deployment string, t time.Time) (Price, bool) {
	prices := b.snap.Load().prices
	var general *Price
	for i, p := range prices {
		if p.Model != model || p.EffectiveFrom.After(t) {
			continue
		}
		if p.Deployment == deployment && deployment != "" {
			return p, true
		}
		if p.Deployment == "" && general == nil {
			general = &prices[i]
		}
	}
	if general != nil {
		return *general, true
	}
	return Price{}, false
}

// invalid names the field at fault (a *tenancy.FieldError, which matches
// tenancy.ErrInvalid).
func invalid(field, msg string) error { return &tenancy.FieldError{Field: field, Msg: msg} }

// Add adds a price book entry. EffectiveFrom defaults to now and may not
// lie in the past: history is never rewritten. Errors for a bad entry
// match tenancy.ErrInvalid.
func (b *PriceBook) Add(ctx context.Context, p Price) (*Price, error) {
	now := time.Now().UTC()
	if p.EffectiveFrom.IsZero() {
		p.EffectiveFrom = now
	}
	switch {
	case strings.TrimSpace(p.Model) == "":
		return nil, invalid("model", "model is required")
	case !slices.Contains(tenancy.Currencies, p.Currency):
		return nil, invalid("currency", "currency must be USD or CNY")
	case p.Input < 0:
		return nil, invalid("input_micros", "input_micros must not be negative")
	case p.CachedInput < 0:
		return nil, invalid("cached_input_micros", "cached_input_micros must not be negative")
	case p.CacheWrite < 0:
		return nil, invalid("cache_write_micros", "cache_write_micros must not be negative")
	case p.Output < 0:
		return nil, invalid("output_micros", "output_micros must not be negative")
	case p.EffectiveFrom.Before(now.Add(-time.Minute)):
		return nil, invalid("effective_from", "effective_from may not be in the past: charges already made keep their price")
	}
	var id [9]byte
	rand.Read(id[:])
	p.ID, p.CreatedAt = "price_"+hex.EncodeToString(id[:]), now
	_, err := b.db.ExecContext(ctx, b.db.Rebind(`INSERT INTO prices (id, model, deployment, currency, input, cached_input, cache_write, output, effective_from, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		p.ID, p.Model, p.Deployment, p.Currency, p.Input, p.CachedInput, p.CacheWrite, p.Output, p.EffectiveFrom.UTC().Format(time.RFC3339Nano), p.CreatedAt.Format(time.RFC3339Nano))
	if err != nil {
		return nil, fmt.Errorf("adding price: %w", err)
	}
	if err := b.Reload(ctx); err != nil {
		return nil, err
	}
	return &p, nil
}

// Reload rebuilds the snapshot from the database.
func (b *PriceBook) Reload(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	rows, err := b.db.QueryContext(ctx, `SELECT id, model, deployment, currency, input, cached_input, cache_write, output, effective_from, created_at FROM prices ORDER BY effective_from DESC, created_at DESC`)
	if err != nil {
		return fmt.Errorf("loading prices: %w", err)
	}
	defer rows.Close()
	sn := &priceSnap{}
	for rows.Next() {
		var p Price
		var from, created sql.NullString
		if err := rows.Scan(&p.ID, &p.Model, &p.Deployment, &p.Currency, &p.Input, &p.CachedInput, &p.CacheWrite, &p.Output, &from, &created); err != nil {
			return fmt.Errorf("loading prices: %w", err)
		}
		p.EffectiveFrom, p.CreatedAt = parseTime(from), parseTime(created)
		sn.prices = append(sn.prices, p)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("loading prices: %w", err)
	}
	sn.rows = int64(len(sn.prices))
	b.snap.Store(sn)
	return nil
}

func parseTime(s sql.NullString) time.Time {
	if !s.Valid || s.String == "" {
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339Nano, s.String)
	return t
}

// Watch reloads the snapshot whenever the prices table's row count
// differs from the snapshot's (another replica added a price), checking
// every interval until ctx ends.
func (b *PriceBook) Watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var n int64
		if err := b.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM prices`).Scan(&n); err != nil {
			if ctx.Err() == nil {
				b.log.Warn("prices: checking for changes", "err", err)
			}
			continue
		}
		if n != b.snap.Load().rows {
			if err := b.Reload(ctx); err != nil && ctx.Err() == nil {
				b.log.Warn("prices: reloading", "err", err)
			}
		}
	}
}
