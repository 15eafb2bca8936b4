package tenancy

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// KeyPrefix starts every Switchyard key.
const KeyPrefix = "sy-"

// Kinds of key.
const (
	RoleAdmin   = "admin"   // the platform operator: everything
	RoleProject = "project" // calls /v1 for one project
	RoleUser    = "user"    // a person's key for the admin API, with their organisation role
)

// AdminKeyID is the id of the admin key generated on the first start.
const AdminKeyID = "admin"

// AdminEnvKeyID is the id of the admin key SWITCHYARD_ADMIN_KEY adds.
const AdminEnvKeyID = "key_admin_env"

// ErrInvalidKey is returned for a missing, unknown, expired or revoked key.
var ErrInvalidKey = errors.New("invalid API key")

// Key is an API key's record, never its secret.
type Key struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	Prefix        string    `json:"prefix"` // first characters, for people to recognise a key
	Role          string    `json:"role"`
	OrgID         string    `json:"org_id,omitempty"`
	ProjectID     string    `json:"project_id,omitempty"`
	UserID        string    `json:"user_id,omitempty"`
	Models        []string  `json:"models"` // allowed public model names; empty: all
	RPM           int64     `json:"rpm"`
	TPM           int64     `json:"tpm"`
	Concurrency   int64     `json:"concurrency"`
	MonthlyBudget int64     `json:"monthly_budget_micros"`
	CreatedAt     time.Time `json:"created_at"`
	ExpiresAt     time.Time `json:"expires_at,omitzero"`
	RevokedAt     time.Time `json:"revoked_at,omitzero"`

	// Resolved from the snapshot the key was loaded in.
	Org     *Org     `json:"-"`
	Project *Project `json:"-"`
	User    *User    `json:"-"`
}

// LogValue implements slog.LogValuer: only the id is ever logged.
func (k *Key) LogValue() slog.Value { return slog.StringValue(k.ID) }

// Allows reports whether the key may use model.
func (k *Key) Allows(model string) bool {
	return len(k.Models) == 0 || slices.Contains(k.Models, model)
}

// Active reports whether the key works at now.
func (k *Key) Active(now time.Time) bool {
	return k.RevokedAt.IsZero() && (k.ExpiresAt.IsZero() || now.Before(k.ExpiresAt))
}

// Hash is the stored form of a key secret.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// NewSecret returns a fresh key: "sy-" and 32 random bytes, base64url.
func NewSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return KeyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

func newID(prefix string) string {
	var b [9]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return prefix + hex.EncodeToString(b[:])
}

func visiblePrefix(secret string) string {
	if len(secret) > 10 {
		return secret[:10]
	}
	return secret
}

// BearerToken extracts the key from "Authorization: Bearer KEY" or x-api-key.
func BearerToken(authorization, xAPIKey string) string {
	if xAPIKey != "" {
		return strings.TrimSpace(xAPIKey)
	}
	if len(authorization) > 7 && strings.EqualFold(authorization[:7], "bearer ") {
		return strings.TrimSpace(authorization[7:])
	}
	return ""
}
