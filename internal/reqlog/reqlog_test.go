package reqlog

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"switchyard/internal/db"
	"switchyard/internal/db/dbtest"
	"switchyard/internal/metering/ledger"
)

func TestParseScore(t *testing.T) {
	for raw, want := range map[string]float64{`"up"`: 1, `"down"`: -1, `true`: 1, `false`: -1, `0.5`: 0.5, `-1`: -1, `5`: 1, `1`: 1, `3`: 0, `2`: -0.5} {
		got, _, err := ParseScore(json.RawMessage(raw))
		if err != nil || got != want {
			t.Errorf("%s: %v %v, want %v", raw, got, err, want)
		}
	}
	for _, raw := range []string{`"meh"`, `6`, `-2`, `null`, `{}`, `[1]`} {
		if _, _, err := ParseScore(json.RawMessage(raw)); err == nil {
			t.Errorf("%s accepted", raw)
		}
	}
}

func TestExpireAndDelete(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		w, err := ledger.Open(ctx, ledger.Options{DB: d, Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-40 * 24 * time.Hour)
		for i, at := range []time.Time{old, old, time.Now()} {
			w.Add(&ledger.Record{ID: []string{"a", "b", "c"}[i], Time: at, ProjectID: "p1", Model: "m", Status: 200,
				Log: &ledger.Log{EndUser: []string{"u1", "u2", "u1"}[i], Request: []byte(`{"messages":[{"role":"user","content":"Hi"}]}`), Response: []byte("text")}})
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		AddFeedback(ctx, d, &Feedback{RequestID: "a", ProjectID: "p1", Score: 1, RawScore: "up"})
		n, err := Expire(ctx, d, "p1", time.Now().Add(-30*24*time.Hour))
		if err != nil || n != 2 {
			t.Fatalf("Expire = %d, %v; want 2", n, err)
		}
		if fb, _ := feedbackOf(ctx, d, "a"); len(fb) != 0 {
			t.Error("feedback of an expired log stayed")
		}
		e, err := Get(ctx, d, "c")
		if err != nil || string(e.Response) != `"text"` {
			t.Fatalf("Get = %+v, %v", e, err)
		}
		del, err := DeleteData(ctx, d, "p1", "u1")
		if err != nil || del.Logs != 1 {
			t.Errorf("DeleteData = %+v, %v", del, err)
		}
		if _, err := Get(ctx, d, "c"); err != ErrNotFound {
			t.Errorf("deleted log: %v", err)
		}
	})
}

func FuzzParseScore(f *testing.F) {
	for _, s := range []string{`"up"`, `5`, `-0.5`, `true`, `"meh"`, `{}`, `1e309`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		v, _, err := ParseScore(raw)
		if err == nil && (v < -1 || v > 1 || v != v) {
			t.Fatalf("%s → %v, outside -1..1", raw, v)
		}
	})
}
