package tenancy

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/mail"
	"slices"
	"sort"
	"strings"
	"time"
)

// Org is an organisation: a team or a partner company, billed as one.
type Org struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Currency string `json:"currency"` // of its balance and budgets: USD or CNY
	// MarkupBPS changes every charge by this many basis points: 1000 is
	// +10%, -500 a 5% discount.
	MarkupBPS int64 `json:"markup_bps"`
	// Prepaid orgs are refused once their balance is spent.
	Prepaid   bool      `json:"prepaid"`
	CreatedAt time.Time `json:"created_at"`
}

// Project groups keys inside an organisation, with limits and a budget.
type Project struct {
	ID            string `json:"id"`
	OrgID         string `json:"org_id"`
	Name          string `json:"name"`
	RPM           int64  `json:"rpm"`
	TPM           int64  `json:"tpm"`
	Concurrency   int64  `json:"concurrency"`
	MonthlyBudget int64  `json:"monthly_budget_micros"`
	// Policy is the project's guard policy: a policy name from the config
	// (a JSON string) or an inline policy object; empty for the default.
	Policy json.RawMessage `json:"policy,omitempty"`
	// KeepBodies allows keeping request and response bodies (for the
	// feedback loop); off by default. RetentionDays bounds how long (0:
	// until deleted).
	KeepBodies    bool      `json:"keep_bodies"`
	RetentionDays int64     `json:"retention_days"`
	CreatedAt     time.Time `json:"created_at"`
}

// User roles within an organisation.
const (
	UserOwner  = "owner"  // everything in the org, including users
	UserAdmin  = "admin"  // everything in the org
	UserMember = "member" // keys and usage of their own projects
	UserViewer = "viewer" // read-only
)

// User is a person in an organisation.
type User struct {
	ID        string    `json:"id"`
	OrgID     string    `json:"org_id"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	Projects  []string  `json:"projects"` // for members: the projects they manage
	CreatedAt time.Time `json:"created_at"`
}

// Currencies money may be in.
var Currencies = []string{"USD", "CNY"}

func validCurrency(c string) bool { return slices.Contains(Currencies, c) }

// Orgs lists organisations by name.
func (s *Store) Orgs() []*Org {
	sn := s.snap.Load()
	out := make([]*Org, 0, len(sn.orgs))
	for _, o := range sn.orgs {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Name < out[j].Name || out[i].Name == out[j].Name && out[i].ID < out[j].ID
	})
	return out
}

// Org returns one organisation.
func (s *Store) Org(id string) (*Org, error) {
	if o, ok := s.snap.Load().orgs[id]; ok {
		return o, nil
	}
	return nil, ErrNotFound
}

func (o *Org) check() error {
	if strings.TrimSpace(o.Name) == "" {
		return invalid("name", "name is required")
	}
	if !validCurrency(o.Currency) {
		return invalid("currency", "currency must be USD or CNY")
	}
	if o.MarkupBPS <= -10000 {
		return invalid("markup_bps", "markup_bps must be above -10000")
	}
	return nil
}

// CreateOrg stores a new organisation.
func (s *Store) CreateOrg(ctx context.Context, o Org) (*Org, error) {
	if o.Currency == "" {
		o.Currency = "USD"
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	o.ID, o.CreatedAt = newID("org_"), time.Now().UTC()
	err := s.change(ctx, func(tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO orgs (id, name, currency, markup_bps, prepaid, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			o.ID, o.Name, o.Currency, o.MarkupBPS, boolInt(o.Prepaid), fmtTime(o.CreatedAt))
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.Org(o.ID)
}

// UpdateOrg replaces an organisation's editable fields.
func (s *Store) UpdateOrg(ctx context.Context, o Org) (*Org, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	return updated(s, ctx, o.ID, s.Org, `UPDATE orgs SET name = ?, currency = ?, markup_bps = ?, prepaid = ? WHERE id = ?`,
		o.Name, o.Currency, o.MarkupBPS, boolInt(o.Prepaid), o.ID)
}

// DeleteOrg removes an organisation with its projects and users and
// revokes all its keys. Its usage records and invoices stay.
func (s *Store) DeleteOrg(ctx context.Context, id string) error {
	if _, err := s.Org(id); err != nil {
		return err
	}
	now := fmtTime(time.Now())
	return s.change(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			`UPDATE api_keys SET revoked_at = ? WHERE org_id = ? AND revoked_at IS NULL`,
			`DELETE FROM projects WHERE org_id = ?`,
			`DELETE FROM users WHERE org_id = ?`,
			`DELETE FROM orgs WHERE id = ?`,
		} {
			args := []any{id}
			if strings.HasPrefix(q, "UPDATE") {
				args = []any{now, id}
			}
			if _, err := s.exec(ctx, tx, q, args...); err != nil {
				return err
			}
		}
		return nil
	})
}

// Projects lists an organisation's projects ("" for all).
func (s *Store) Projects(orgID string) []*Project {
	sn := s.snap.Load()
	var out []*Project
	for _, p := range sn.projects {
		if orgID == "" || p.OrgID == orgID {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Name < out[j].Name || out[i].Name == out[j].Name && out[i].ID < out[j].ID
	})
	return out
}

// Project returns one project.
func (s *Store) Project(id string) (*Project, error) {
	if p, ok := s.snap.Load().projects[id]; ok {
		return p, nil
	}
	return nil, ErrNotFound
}

func (p *Project) check() error {
	if strings.TrimSpace(p.Name) == "" {
		return invalid("name", "name is required")
	}
	if err := negative(field{"rpm", p.RPM}, field{"tpm", p.TPM}, field{"concurrency", p.Concurrency},
		field{"monthly_budget_micros", p.MonthlyBudget}, field{"retention_days", p.RetentionDays}); err != nil {
		return err
	}
	if len(p.Policy) > 0 && !json.Valid(p.Policy) {
		return invalid("policy", "policy is not valid JSON")
	}
	return nil
}

// CreateProject stores a new project in p.OrgID.
func (s *Store) CreateProject(ctx context.Context, p Project) (*Project, error) {
	if _, err := s.Org(p.OrgID); err != nil {
		return nil, err
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	p.ID, p.CreatedAt = newID("proj_"), time.Now().UTC()
	err := s.change(ctx, func(tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO projects (id, org_id, name, rpm, tpm, concurrency, monthly_budget, created_at, policy, keep_bodies, retention_days) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			p.ID, p.OrgID, p.Name, p.RPM, p.TPM, p.Concurrency, p.MonthlyBudget, fmtTime(p.CreatedAt), string(p.Policy), boolInt(p.KeepBodies), p.RetentionDays)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.Project(p.ID)
}

// UpdateProject replaces a project's editable fields.
func (s *Store) UpdateProject(ctx context.Context, p Project) (*Project, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	return updated(s, ctx, p.ID, s.Project, `UPDATE projects SET name = ?, rpm = ?, tpm = ?, concurrency = ?, monthly_budget = ?, policy = ?, keep_bodies = ?, retention_days = ? WHERE id = ?`,
		p.Name, p.RPM, p.TPM, p.Concurrency, p.MonthlyBudget, string(p.Policy), boolInt(p.KeepBodies), p.RetentionDays, p.ID)
}

// DeleteProject removes a project and revokes its keys.
func (s *Store) DeleteProject(ctx context.Context, id string) error {
	if _, err := s.Project(id); err != nil {
		return err
	}
	return s.change(ctx, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, `UPDATE api_keys SET revoked_at = ? WHERE project_id = ? AND revoked_at IS NULL`, fmtTime(time.Now()), id); err != nil {
			return err
		}
		_, err := s.exec(ctx, tx, `DELETE FROM projects WHERE id = ?`, id)
		return err
	})
}

// Users lists an organisation's users.
func (s *Store) Users(orgID string) []*User {
	sn := s.snap.Load()
	var out []*User
	for _, u := range sn.users {
		if u.OrgID == orgID {
			out = append(out, u)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Email < out[j].Email })
	return out
}

// User returns one user.
func (s *Store) User(id string) (*User, error) {
	if u, ok := s.snap.Load().users[id]; ok {
		return u, nil
	}
	return nil, ErrNotFound
}

func (s *Store) checkUser(u *User) error {
	if _, err := mail.ParseAddress(u.Email); err != nil || strings.ContainsAny(u.Email, "<> ") {
		return invalid("email", "email %q is not an address", u.Email)
	}
	switch u.Role {
	case UserOwner, UserAdmin, UserMember, UserViewer:
	default:
		return invalid("role", "role must be owner, admin, member or viewer")
	}
	for _, p := range u.Projects {
		if pr, err := s.Project(p); err != nil || pr.OrgID != u.OrgID {
			return invalid("projects", "project %q is not in organisation %s", p, u.OrgID)
		}
	}
	return nil
}

// CreateUser stores a user and creates their key, returned once.
func (s *Store) CreateUser(ctx context.Context, u User) (*User, *Key, string, error) {
	if _, err := s.Org(u.OrgID); err != nil {
		return nil, nil, "", err
	}
	if err := s.checkUser(&u); err != nil {
		return nil, nil, "", err
	}
	u.ID, u.CreatedAt = newID("user_"), time.Now().UTC()
	secret := NewSecret()
	keyID := newID("key_")
	err := s.change(ctx, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, `INSERT INTO users (id, org_id, email, role, projects, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			u.ID, u.OrgID, u.Email, u.Role, strings.Join(u.Projects, ","), fmtTime(u.CreatedAt)); err != nil {
			return err
		}
		_, err := s.exec(ctx, tx, `INSERT INTO api_keys (id, name, prefix, hash, role, org_id, user_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			keyID, u.Email, visiblePrefix(secret), Hash(secret), RoleUser, u.OrgID, u.ID, fmtTime(u.CreatedAt))
		return err
	})
	if err != nil {
		return nil, nil, "", err
	}
	nu, _ := s.User(u.ID)
	k, _ := s.Key(keyID)
	return nu, k, secret, nil
}

// UpdateUser replaces a user's role and projects.
func (s *Store) UpdateUser(ctx context.Context, u User) (*User, error) {
	if err := s.checkUser(&u); err != nil {
		return nil, err
	}
	return updated(s, ctx, u.ID, s.User, `UPDATE users SET email = ?, role = ?, projects = ? WHERE id = ?`,
		u.Email, u.Role, strings.Join(u.Projects, ","), u.ID)
}

// DeleteUser removes a user and revokes their keys.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	if _, err := s.User(id); err != nil {
		return err
	}
	return s.change(ctx, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, `UPDATE api_keys SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`, fmtTime(time.Now()), id); err != nil {
			return err
		}
		_, err := s.exec(ctx, tx, `DELETE FROM users WHERE id = ?`, id)
		return err
	})
}

// Keys lists keys matching the filter (empty fields match all).
func (s *Store) Keys(orgID, projectID string) []*Key {
	sn := s.snap.Load()
	var out []*Key
	for _, k := range sn.keys {
		if k.Role == RoleAdmin || (orgID != "" && k.OrgID != orgID) || (projectID != "" && k.ProjectID != projectID) {
			continue
		}
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].CreatedAt.Before(out[j].CreatedAt) || out[i].CreatedAt.Equal(out[j].CreatedAt) && out[i].ID < out[j].ID
	})
	return out
}

// Key returns one key's record.
func (s *Store) Key(id string) (*Key, error) {
	if k, ok := s.snap.Load().keys[id]; ok {
		return k, nil
	}
	return nil, ErrNotFound
}

func (k *Key) check() error {
	if err := negative(field{"rpm", k.RPM}, field{"tpm", k.TPM}, field{"concurrency", k.Concurrency},
		field{"monthly_budget_micros", k.MonthlyBudget}); err != nil {
		return err
	}
	for _, m := range k.Models {
		if m == "" || strings.Contains(m, ",") {
			return invalid("models", "model names must be non-empty and contain no comma")
		}
	}
	return nil
}

// CreateKey makes a project key; the secret is returned only here.
func (s *Store) CreateKey(ctx context.Context, k Key) (*Key, string, error) {
	p, err := s.Project(k.ProjectID)
	if err != nil {
		return nil, "", err
	}
	if err := k.check(); err != nil {
		return nil, "", err
	}
	secret := NewSecret()
	k.ID, k.OrgID, k.Role, k.CreatedAt = newID("key_"), p.OrgID, RoleProject, time.Now().UTC()
	err = s.change(ctx, func(tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO api_keys (id, name, prefix, hash, role, org_id, project_id, models, rpm, tpm, concurrency, monthly_budget, created_at, expires_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			k.ID, k.Name, visiblePrefix(secret), Hash(secret), k.Role, k.OrgID, k.ProjectID, strings.Join(k.Models, ","),
			k.RPM, k.TPM, k.Concurrency, k.MonthlyBudget, fmtTime(k.CreatedAt), fmtTime(k.ExpiresAt))
		return err
	})
	if err != nil {
		return nil, "", err
	}
	nk, _ := s.Key(k.ID)
	return nk, secret, nil
}

// UpdateKey replaces a key's name, models, limits, budget and expiry.
func (s *Store) UpdateKey(ctx context.Context, k Key) (*Key, error) {
	if err := k.check(); err != nil {
		return nil, err
	}
	return updated(s, ctx, k.ID, s.Key, `UPDATE api_keys SET name = ?, models = ?, rpm = ?, tpm = ?, concurrency = ?, monthly_budget = ?, expires_at = ? WHERE id = ? AND role <> 'admin'`,
		k.Name, strings.Join(k.Models, ","), k.RPM, k.TPM, k.Concurrency, k.MonthlyBudget, fmtTime(k.ExpiresAt), k.ID)
}

// RevokeKey stops a key working, on every replica within a second.
func (s *Store) RevokeKey(ctx context.Context, id string) error {
	k, err := s.Key(id)
	if err != nil {
		return err
	}
	if k.Role == RoleAdmin {
		return invalid("", "an admin key is retired with POST /api/keys/admin/rotate (switchyard keys rotate-admin), not revoked")
	}
	return s.change(ctx, func(tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, fmtTime(time.Now()), id)
		return err
	})
}

// updated runs one UPDATE by id and returns the record after it.
func updated[T any](s *Store, ctx context.Context, id string, get func(string) (T, error), q string, args ...any) (T, error) {
	var zero T
	if _, err := get(id); err != nil {
		return zero, err
	}
	err := s.change(ctx, func(tx *sql.Tx) error {
		n, err := s.exec(ctx, tx, q, args...)
		if err == nil && n == 0 {
			err = ErrNotFound
		}
		return err
	})
	if err != nil {
		return zero, err
	}
	return get(id)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
