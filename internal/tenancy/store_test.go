package tenancy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchyard/internal/db"
	"switchyard/internal/db/dbtest"
)

func newStore(t *testing.T, d *db.DB) *Store {
	t.Helper()
	s, err := NewStore(context.Background(), d, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStoreOnBothDatabases(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newStore(t, d)
		admin, err := s.EnsureAdmin(ctx, "")
		if err != nil || !strings.HasPrefix(admin, KeyPrefix) {
			t.Fatalf("EnsureAdmin: %q %v", admin, err)
		}
		if again, _ := s.EnsureAdmin(ctx, ""); again != "" {
			t.Error("a second EnsureAdmin made another key")
		}
		o, err := s.CreateOrg(ctx, Org{Name: "acme", Currency: "CNY", MarkupBPS: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateOrg(ctx, Org{Name: "x", Currency: "EUR"}); !errors.Is(err, ErrInvalid) {
			t.Errorf("EUR org: %v", err)
		}
		p, err := s.CreateProject(ctx, Project{OrgID: o.ID, Name: "web", RPM: 10, MonthlyBudget: 5_000_000})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateProject(ctx, Project{OrgID: "org_missing", Name: "x"}); !errors.Is(err, ErrNotFound) {
			t.Errorf("project in a missing org: %v", err)
		}
		k, secret, err := s.CreateKey(ctx, Key{ProjectID: p.ID, Name: "ci", Models: []string{"a", "b"}, TPM: 99})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Authenticate(secret, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != k.ID || got.Org.ID != o.ID || got.Project.ID != p.ID || !got.Allows("b") || got.Allows("c") || got.TPM != 99 {
			t.Errorf("authenticated key = %+v", got)
		}
		if _, err := s.Authenticate(secret+"x", time.Now()); !errors.Is(err, ErrInvalidKey) {
			t.Error("a wrong secret authenticated")
		}
		// A second replica on the same database sees changes through Watch.
		other := newStore(t, d)
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { other.Watch(wctx, 50*time.Millisecond); close(done) }()
		defer func() { cancel(); <-done }()
		if _, err := other.Authenticate(secret, time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeKey(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(secret, time.Now()); err == nil {
			t.Error("revoked key works on its own replica")
		}
		deadline := time.Now().Add(time.Second)
		for {
			if _, err := other.Authenticate(secret, time.Now()); err != nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the other replica still accepts the revoked key after 1s")
			}
			time.Sleep(10 * time.Millisecond)
		}
		// Updates keep what the caller did not change.
		p2 := *p
		p2.TPM = 1000
		up, err := s.UpdateProject(ctx, p2)
		if err != nil || up.TPM != 1000 || up.RPM != 10 || up.OrgID != o.ID {
			t.Errorf("UpdateProject = %+v, %v", up, err)
		}
		// Users get a key of their own; duplicate emails conflict.
		u, uk, usecret, err := s.CreateUser(ctx, User{OrgID: o.ID, Email: "a@example.com", Role: UserMember, Projects: []string{p.ID}})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := s.CreateUser(ctx, User{OrgID: o.ID, Email: "a@example.com", Role: UserViewer}); !errors.Is(err, ErrConflict) {
			t.Errorf("duplicate user: %v", err)
		}
		if ak, err := s.Authenticate(usecret, time.Now()); err != nil || ak.ID != uk.ID || ak.User.ID != u.ID || !ak.CanManageProject(p) || ak.CanManageOrg(o.ID) {
			t.Errorf("user key = %+v, %v", ak, err)
		}
		// Top-ups and prices.
		if _, err := s.TopUp(ctx, o.ID, 3_000_000, "wire"); err != nil {
			t.Fatal(err)
		}
		if got := s.TopUps(o.ID); got != 3_000_000 {
			t.Errorf("TopUps = %d", got)
		}
		now := time.Now()
		if _, err := s.AddPrice(ctx, Price{Model: "m", Currency: "USD", Input: 1_000_000, Output: 2_000_000}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddPrice(ctx, Price{Model: "m", Currency: "USD", Input: 5_000_000, Output: 5_000_000, EffectiveFrom: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddPrice(ctx, Price{Model: "m", Deployment: "d1", Currency: "USD", Input: 7, Output: 7}); err != nil {
			t.Fatal(err)
		}
		if p, _ := s.PriceAt("m", "d2", now.Add(time.Minute)); p.Input != 1_000_000 {
			t.Errorf("price now = %+v", p)
		}
		if p, _ := s.PriceAt("m", "d2", now.Add(2*time.Hour)); p.Input != 5_000_000 {
			t.Errorf("price later = %+v", p)
		}
		if p, _ := s.PriceAt("m", "d1", now.Add(time.Minute)); p.Input != 7 {
			t.Errorf("deployment price = %+v", p)
		}
		if _, ok := s.PriceAt("m", "", now.Add(-time.Hour)); ok {
			t.Error("a price applies before it was effective")
		}
		// Deleting the org revokes everything in it.
		if err := s.DeleteOrg(ctx, o.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(usecret, time.Now()); err == nil {
			t.Error("a user key of a deleted org still works")
		}
		if len(s.Projects(o.ID)) != 0 || len(s.Users(o.ID)) != 0 {
			t.Error("deleted org left projects or users")
		}
	})
}

func TestCost(t *testing.T) {
	p := Price{Input: 2_500_000, CachedInput: 1_250_000, Output: 10_000_000} // $2.50, $1.25, $10 per 1M
	cases := []struct {
		tok  Tokens
		want int64
	}{
		{Tokens{}, 0},
		{Tokens{Prompt: 1_000_000}, 2_500_000},
		{Tokens{Prompt: 1000, Completion: 500}, 2500 + 5000},
		{Tokens{Prompt: 1000, Cached: 400, Completion: 0}, 1500 + 500},
		{Tokens{Prompt: 1, Completion: 0}, 3}, // 2.5 rounds half up
		{Tokens{Prompt: 10, Cached: 50}, 13},  // cached above prompt is capped
	}
	for _, c := range cases {
		if got := p.Cost(c.tok); got != c.want {
			t.Errorf("Cost(%+v) = %d, want %d", c.tok, got, c.want)
		}
	}
	if got := WithMarkup(1000, 1500); got != 1150 {
		t.Errorf("markup 15%%: %d", got)
	}
	if got := WithMarkup(1000, -500); got != 950 {
		t.Errorf("discount 5%%: %d", got)
	}
}

func TestAuthorisation(t *testing.T) {
	proj := &Project{ID: "p1", OrgID: "o1"}
	other := &Project{ID: "p2", OrgID: "o1"}
	foreign := &Project{ID: "p3", OrgID: "o2"}
	user := func(role string, projects ...string) *Key {
		return &Key{Role: RoleUser, User: &User{OrgID: "o1", Role: role, Projects: projects}}
	}
	type can struct{ ReadOrg, ManageOrg, ManageP1, ManageP2, ReadP1, ReadForeign bool }
	cases := map[string]struct {
		k    *Key
		want can
	}{
		"admin":   {&Key{Role: RoleAdmin}, can{true, true, true, true, true, true}},
		"owner":   {user(UserOwner), can{true, true, true, true, true, false}},
		"orgadm":  {user(UserAdmin), can{true, true, true, true, true, false}},
		"member":  {user(UserMember, "p1"), can{true, false, true, false, true, false}},
		"viewer":  {user(UserViewer), can{true, false, false, false, true, false}},
		"project": {&Key{Role: RoleProject, OrgID: "o1", ProjectID: "p1", Project: proj}, can{}},
	}
	for name, c := range cases {
		got := can{c.k.CanReadOrg("o1"), c.k.CanManageOrg("o1"), c.k.CanManageProject(proj), c.k.CanManageProject(other), c.k.CanReadProject(proj), c.k.CanReadProject(foreign)}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
}

func TestEnsureAdminEnvKeyReplacesOnlyItself(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newStore(t, d)
		generated, err := s.EnsureAdmin(ctx, "")
		if err != nil || generated == "" {
			t.Fatalf("EnsureAdmin: %q %v", generated, err)
		}
		const first, second = "sy-first-env-admin-key-0001", "sy-second-env-admin-key-0002"
		for _, v := range []string{first, first, second} {
			if g, err := s.EnsureAdmin(ctx, v); err != nil || g != "" {
				t.Fatalf("EnsureAdmin(%s) = %q, %v", v, g, err)
			}
		}
		now := time.Now()
		for secret, works := range map[string]bool{generated: true, first: false, second: true} {
			if _, err := s.Authenticate(secret, now); (err == nil) != works {
				t.Errorf("%s…: Authenticate = %v, want working=%v", secret[:10], err, works)
			}
		}
		if k, _ := s.Authenticate(second, now); k == nil || k.ID != AdminEnvKeyID || k.Role != RoleAdmin {
			t.Errorf("env key = %+v, want id %s, role admin", k, AdminEnvKeyID)
		}
	})
}
