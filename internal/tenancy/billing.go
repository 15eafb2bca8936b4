package tenancy

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

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
