package tenancy

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchyard/internal/db"
	"switchyard/internal/db/dbtest"
)

func TestSessions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		ss := newStore(t, d).Sessions()
		if login, err := ss.LoginOf(ctx, "k1"); login != "" || err != nil {
			t.Errorf("LoginOf before any: %q %v", login, err)
		}
		if _, _, err := ss.PasswordHash(ctx, "alice"); !errors.Is(err, ErrNotFound) {
			t.Errorf("PasswordHash of an unknown login: %v", err)
		}
		if err := ss.SetLogin(ctx, "k1", "alice", "hash-1"); err != nil {
			t.Fatal(err)
		}
		if err := ss.SetLogin(ctx, "k2", "alice", "hash-2"); !errors.Is(err, ErrConflict) {
			t.Errorf("another key taking alice: %v, want ErrConflict", err)
		}
		now := time.Unix(time.Now().Unix(), 0)
		s1 := Session{ID: "s1", KeyID: "k1", CSRF: "c1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		old := Session{ID: "old", KeyID: "k2", CSRF: "c2", CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)}
		for _, s := range []Session{s1, old} {
			if err := ss.Create(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		got, err := ss.Get(ctx, "s1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(s1, got); diff != "" {
			t.Errorf("Get (-want +got):\n%s", diff)
		}
		if err := ss.DeleteExpired(ctx, now); err != nil {
			t.Fatal(err)
		}
		if _, err := ss.Get(ctx, "old"); !errors.Is(err, ErrNotFound) {
			t.Errorf("expired session after DeleteExpired: %v", err)
		}
		if _, err := ss.Get(ctx, "s1"); err != nil {
			t.Errorf("live session after DeleteExpired: %v", err)
		}
		// A new login name for k1 frees the old one and ends k1's sessions.
		if err := ss.SetLogin(ctx, "k1", "alice2", "hash-3"); err != nil {
			t.Fatal(err)
		}
		if _, err := ss.Get(ctx, "s1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("k1's session after its password changed: %v", err)
		}
		if key, hash, err := ss.PasswordHash(ctx, "alice2"); key != "k1" || hash != "hash-3" || err != nil {
			t.Errorf("PasswordHash(alice2) = %q %q %v", key, hash, err)
		}
		if login, _ := ss.LoginOf(ctx, "k1"); login != "alice2" {
			t.Errorf("LoginOf(k1) = %q", login)
		}
		if err := ss.SetLogin(ctx, "k2", "alice", "hash-2"); err != nil {
			t.Errorf("k2 taking the freed name: %v", err)
		}
		if err := ss.Create(ctx, s1); err != nil {
			t.Fatal(err)
		}
		if err := ss.Delete(ctx, "s1"); err != nil {
			t.Fatal(err)
		}
		if _, err := ss.Get(ctx, "s1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("session after Delete: %v", err)
		}
		if err := ss.Delete(ctx, "s1"); err != nil {
			t.Errorf("deleting a gone session: %v", err)
		}
	})
}
