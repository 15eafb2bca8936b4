package metering

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"switchyard/internal/db"
	"switchyard/internal/db/dbtest"
	"switchyard/internal/tenancy"
)

func newBook(t *testing.T, d *db.DB) *PriceBook {
	t.Helper()
	b, err := NewPriceBook(context.Background(), d, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPriceBook(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newBook(t, d)
		now := time.Now()
		if _, err := s.Add(ctx, Price{Model: "m", Currency: "USD", Input: 1_000_000, Output: 2_000_000}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Add(ctx, Price{Model: "m", Currency: "USD", Input: 5_000_000, Output: 5_000_000, EffectiveFrom: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Add(ctx, Price{Model: "m", Deployment: "d1", Currency: "USD", Input: 7, Output: 7}); err != nil {
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
		for _, bad := range []Price{{Currency: "USD"}, {Model: "m", Currency: "EUR"}, {Model: "m", Currency: "USD", Input: -1},
			{Model: "m", Currency: "USD", EffectiveFrom: now.Add(-time.Hour)}} {
			if _, err := s.Add(ctx, bad); !errors.Is(err, tenancy.ErrInvalid) {
				t.Errorf("Add(%+v) = %v, want ErrInvalid", bad, err)
			}
		}
		// Another replica's book sees the prices, and a later one within
		// a poll.
		other := newBook(t, d)
		if len(other.Prices()) != 3 {
			t.Fatalf("second book has %d prices, want 3", len(other.Prices()))
		}
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { other.Watch(wctx, 10*time.Millisecond); close(done) }()
		defer func() { cancel(); <-done }()
		if _, err := s.Add(ctx, Price{Model: "n", Currency: "CNY", Input: 1}); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			if _, ok := other.PriceAt("n", "", time.Now()); ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("a price added on one replica never reached the other")
			}
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

func TestCostPricesCacheWrites(t *testing.T) {
	p := Price{Input: 3_000_000, CachedInput: 300_000, CacheWrite: 3_750_000, Output: 15_000_000} // $3, $0.30, $3.75, $15 per 1M
	// 1M prompt tokens: 200k read from the cache, 300k written to it.
	got := p.Cost(Tokens{Prompt: 1_000_000, Cached: 200_000, CacheWrite: 300_000, Completion: 100_000})
	want := int64(500_000*3 + 200_000*0.3 + 300_000*3.75 + 100_000*15)
	if got != want {
		t.Fatalf("cost = %d, want %d", got, want)
	}
	p.CacheWrite = 0 // unpriced writes are charged as input
	if got, want := p.Cost(Tokens{Prompt: 100, CacheWrite: 100}), int64(300); got != want {
		t.Fatalf("cost = %d, want %d", got, want)
	}
	// Writes can never exceed the uncached prompt.
	if got, want := p.Cost(Tokens{Prompt: 100, Cached: 100, CacheWrite: 100}), int64(30); got != want {
		t.Fatalf("cost = %d, want %d", got, want)
	}
}
