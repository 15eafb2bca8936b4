package server

import (
	"testing"

	"switchyard/internal/config"
)

// A deployment of a preset with no price: gets the preset's list price; one
// with a price: keeps its own; an unknown model stays unpriced.
func TestMeterViewPresetPriceFallback(t *testing.T) {
	cfg := config.Default()
	cfg.Models = []config.Model{{Name: "chat", Deployments: []config.Deployment{
		{ID: "ds", Provider: "deepseek", Model: "deepseek-chat"},
		{ID: "ds-own", Provider: "deepseek", Model: "deepseek-chat", Price: &config.Price{Input: 1, Output: 2, Currency: "CNY"}},
		{ID: "ds-new", Provider: "deepseek", Model: "deepseek-v9"},
		{ID: "oa", Provider: "openai", Model: "deepseek-chat"},
	}}}
	v, err := meterView(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := v.Prices["ds"]
	if !ok || p.Input != 560000 || p.CachedInput != 70000 || p.Output != 1680000 || p.Currency != "USD" || p.Model != "chat" {
		t.Fatalf("fallback price: %+v %v", p, ok)
	}
	if p := v.Prices["ds-own"]; p.Input != 1000000 || p.Output != 2000000 || p.Currency != "CNY" {
		t.Fatalf("config price overridden: %+v", p)
	}
	for _, id := range []string{"ds-new", "oa"} {
		if p, ok := v.Prices[id]; ok {
			t.Errorf("%s priced: %+v", id, p)
		}
	}
}
