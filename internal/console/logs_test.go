package console

import (
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLogFilterQuery(t *testing.T) {
	tests := []struct {
		raw     string
		wantErr string
		status  int
		from    time.Time
	}{
		{raw: "status=502&from=2026-11-29", status: 502, from: time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)},
		{raw: "from=2026-11-29T13:04", from: time.Date(2026, 11, 29, 13, 4, 0, 0, time.UTC)},
		{raw: "status=abc", wantErr: "status"},
		{raw: "status=-1", wantErr: "status"},
		{raw: "feedback=sideways", wantErr: "feedback"},
		{raw: "to=yesterday", wantErr: "to"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			v, _ := url.ParseQuery(tt.raw)
			q, err := logFilterOf(v).query()
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]any{tt.status, tt.from}, []any{q.Status, q.From}); diff != "" {
				t.Error(diff)
			}
		})
	}
}

// FuzzLogFilter: any query string gives a query or an error, never a panic.
func FuzzLogFilter(f *testing.F) {
	for _, s := range []string{"status=200&feedback=any", "from=2026-11-29&to=2026-11-30T10:00", "q=%3Cscript%3E"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := logFilterOf(v).query()
		if err == nil && q.Status < 0 {
			t.Errorf("negative status %d from %q", q.Status, raw)
		}
	})
}

func TestScore(t *testing.T) {
	v := &view{}
	neg := -0.5
	for _, tt := range []struct {
		in   any
		want string
	}{{1.0, "+1.00"}, {&neg, "-0.50"}, {(*float64)(nil), "—"}, {0.0, "0.00"}} {
		if got := v.Score(tt.in); got != tt.want {
			t.Errorf("Score(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
