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
		// Top-ups.
		if _, err := s.TopUp(ctx, o.ID, 3_000_000, "wire"); err != nil {
			t.Fatal(err)
		}
		if got := s.TopUps(o.ID); got != 3_000_000 {
			t.Errorf("TopUps = %d", got)
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

func TestCanSeeUsage(t *testing.T) {
	user := func(role string, projects ...string) *Key {
		return &Key{Role: RoleUser, OrgID: "o1", User: &User{OrgID: "o1", Role: role, Projects: projects}}
	}
	// What each key may see: the whole of o1, project p1 and p2 of o1,
	// the whole of o2 and its project p3, and p1 named under o2.
	type sees struct{ Org1, P1, P2, Org2, P3, P1InOrg2 bool }
	cases := map[string]struct {
		k    *Key
		want sees
	}{
		"admin":                      {&Key{Role: RoleAdmin}, sees{true, true, true, true, true, true}},
		"owner":                      {user(UserOwner), sees{Org1: true, P1: true, P2: true}},
		"org admin":                  {user(UserAdmin), sees{Org1: true, P1: true, P2: true}},
		"viewer":                     {user(UserViewer), sees{Org1: true, P1: true, P2: true}},
		"member of p1":               {user(UserMember, "p1"), sees{P1: true}},
		"member of no project":       {user(UserMember), sees{}},
		"user without a user record": {&Key{Role: RoleUser, OrgID: "o1"}, sees{}},
		"unknown role":               {user("guest"), sees{}},
		"other org owner": {&Key{Role: RoleUser, OrgID: "o2", User: &User{OrgID: "o2", Role: UserOwner}},
			sees{Org2: true, P3: true, P1InOrg2: true}},
		"project key p1": {&Key{Role: RoleProject, OrgID: "o1", ProjectID: "p1"}, sees{P1: true}},
		"project key p3": {&Key{Role: RoleProject, OrgID: "o2", ProjectID: "p3"}, sees{P3: true}},
	}
	for name, c := range cases {
		k := c.k
		got := sees{k.CanSeeUsage("o1", ""), k.CanSeeUsage("o1", "p1"), k.CanSeeUsage("o1", "p2"),
			k.CanSeeUsage("o2", ""), k.CanSeeUsage("o2", "p3"), k.CanSeeUsage("o2", "p1")}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	if (&Key{Role: RoleUser, User: &User{Role: UserOwner}}).CanSeeUsage("", "") {
		t.Error("a user with no organisation sees the usage of organisation \"\"")
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
