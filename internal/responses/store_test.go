package responses

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchyard/internal/db"
	"switchyard/internal/db/dbtest"
	"switchyard/internal/tenancy"
)

func TestStore(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := NewStore(d)
		rec := &Record{ID: "resp_1", Project: "proj_a", Model: "m", PreviousID: "resp_0",
			Input:    []json.RawMessage{json.RawMessage(`{"type":"message","role":"user","content":"hi"}`)},
			Items:    []json.RawMessage{json.RawMessage(`{"type":"message","role":"user","content":"hi"}`), json.RawMessage(`{"type":"message","role":"assistant","content":"yo"}`)},
			Response: json.RawMessage(`{"id":"resp_1","object":"response"}`), Created: time.UnixMilli(1700000000000)}
		s.Stage(rec)
		if got, err := s.Get(ctx, "proj_a", "resp_1"); err != nil || got != rec {
			t.Fatalf("staged Get = %v, %v", got, err)
		}
		if _, err := s.Get(ctx, "proj_b", "resp_1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("another project sees a staged response: %v", err)
		}
		if err := s.Put(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if len(s.staged) != 0 {
			t.Fatal("Put left the record staged")
		}
		got, err := s.Get(ctx, "proj_a", "resp_1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(rec, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
			t.Errorf("stored record (-want +got):\n%s", diff)
		}
		// Another project never sees it, not even by the same id.
		if _, err := s.Get(ctx, "proj_b", "resp_1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("another project reads it: %v", err)
		}
		if err := s.Delete(ctx, "proj_b", "resp_1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("another project deletes it: %v", err)
		}
		// The same id in another project is another response.
		other := *rec
		other.Project, other.Model = "proj_b", "n"
		if err := s.Put(ctx, &other); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Get(ctx, "proj_a", "resp_1"); got.Model != "m" {
			t.Fatalf("proj_a's response changed: %+v", got)
		}
		// Put again replaces.
		rec.Model = "m2"
		if err := s.Put(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Get(ctx, "proj_a", "resp_1"); got.Model != "m2" {
			t.Fatalf("Put did not replace: %+v", got)
		}
		if err := s.Delete(ctx, "proj_a", "resp_1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "proj_a", "resp_1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("deleted response still there: %v", err)
		}
		if got, err := s.Get(ctx, "proj_b", "resp_1"); err != nil || got.Model != "n" {
			t.Fatalf("deleting proj_a's removed proj_b's: %v", err)
		}
	})
}

func TestScope(t *testing.T) {
	if got := Scope(&tenancy.Key{ID: "k1", ProjectID: "p1"}); got != "p1" {
		t.Errorf("Scope = %q", got)
	}
	if got := Scope(&tenancy.Key{ID: "k1"}); got != "key:k1" {
		t.Errorf("Scope without project = %q", got)
	}
}
