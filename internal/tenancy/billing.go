package tenancy

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

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
	Output        int64     `json:"output_micros"`
	EffectiveFrom time.Time `json:"effective_from"`
	CreatedAt     time.Time `json:"created_at,omitzero"`
}

// Tokens are a request's token counts by kind.
type Tokens struct {
	Prompt, Cached, Completion int64 // Cached is the part of Prompt served from the upstream's cache
}

// Cost is the price of t in micro-units, rounded half up.
func (p *Price) Cost(t Tokens) int64 {
	cached := min(max(t.Cached, 0), t.Prompt)
	cachedPrice := p.CachedInput
	if cachedPrice == 0 {
		cachedPrice = p.Input
	}
	// Per 1M tokens: sum in micro-units × 1e6, then round once.
	n := (t.Prompt-cached)*p.Input + cached*cachedPrice + t.Completion*p.Output
	return (n + 500_000) / 1_000_000
}

// WithMarkup applies an organisation's markup (basis points) to a cost.
func WithMarkup(cost, bps int64) int64 {
	if bps == 0 {
		return cost
	}
	return (cost*(10_000+bps) + 5_000) / 10_000
}

// Prices lists the price book, newest first.
func (s *Store) Prices() []Price { return append([]Price(nil), s.snap.Load().prices...) }

// PriceAt returns the price in force at t for model on deployment: a
// deployment-specific entry first, then the model's.
func (s *Store) PriceAt(model, deployment string, t time.Time) (Price, bool) {
	prices := s.snap.Load().prices
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

// AddPrice adds a price book entry. EffectiveFrom defaults to now and may
// not lie in the past: history is never rewritten.
func (s *Store) AddPrice(ctx context.Context, p Price) (*Price, error) {
	now := time.Now().UTC()
	if p.EffectiveFrom.IsZero() {
		p.EffectiveFrom = now
	}
	switch {
	case strings.TrimSpace(p.Model) == "":
		return nil, invalid("model", "model is required")
	case !validCurrency(p.Currency):
		return nil, invalid("currency", "currency must be USD or CNY")
	case p.Input < 0 || p.CachedInput < 0 || p.Output < 0:
		return nil, negative(field{"input_micros", p.Input}, field{"cached_input_micros", p.CachedInput}, field{"output_micros", p.Output})
	case p.EffectiveFrom.Before(now.Add(-time.Minute)):
		return nil, invalid("effective_from", "effective_from may not be in the past: charges already made keep their price")
	}
	p.ID, p.CreatedAt = newID("price_"), now
	err := s.change(ctx, func(tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO prices (id, model, deployment, currency, input, cached_input, output, effective_from, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			p.ID, p.Model, p.Deployment, p.Currency, p.Input, p.CachedInput, p.Output, fmtTime(p.EffectiveFrom), fmtTime(p.CreatedAt))
		return err
	})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// BalanceEntry is a top-up (positive) or adjustment of an org's balance.
type BalanceEntry struct {
	ID        string    `json:"id"`
	OrgID     string    `json:"org_id"`
	Amount    int64     `json:"amount_micros"`
	Currency  string    `json:"currency"`
	Note      string    `json:"note,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// TopUp records money paid into an organisation's balance.
func (s *Store) TopUp(ctx context.Context, orgID string, amount int64, note string) (*BalanceEntry, error) {
	o, err := s.Org(orgID)
	if err != nil {
		return nil, err
	}
	if amount == 0 {
		return nil, invalid("amount_micros", "amount_micros must not be zero")
	}
	e := &BalanceEntry{ID: newID("bal_"), OrgID: orgID, Amount: amount, Currency: o.Currency, Note: note, CreatedAt: time.Now().UTC()}
	err = s.change(ctx, func(tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO balance_entries (id, org_id, amount, currency, note, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			e.ID, e.OrgID, e.Amount, e.Currency, e.Note, fmtTime(e.CreatedAt))
		return err
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// BalanceEntries lists an organisation's top-ups, oldest first.
func (s *Store) BalanceEntries(ctx context.Context, orgID string) ([]BalanceEntry, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT id, org_id, amount, currency, note, created_at FROM balance_entries WHERE org_id = ? ORDER BY created_at`), orgID)
	if err != nil {
		return nil, fmt.Errorf("listing balance entries: %w", err)
	}
	defer rows.Close()
	var out []BalanceEntry
	for rows.Next() {
		var e BalanceEntry
		var created sql.NullString
		if err := rows.Scan(&e.ID, &e.OrgID, &e.Amount, &e.Currency, &e.Note, &created); err != nil {
			return nil, err
		}
		e.CreatedAt = parseTime(created)
		out = append(out, e)
	}
	return out, rows.Err()
}

// TopUps is the sum of an organisation's balance entries.
func (s *Store) TopUps(orgID string) int64 { return s.snap.Load().topUps[orgID] }
