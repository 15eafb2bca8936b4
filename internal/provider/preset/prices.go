package preset

import "switchyard/internal/config"

// ModelPrice is a vendor's public list price for one upstream model, per 1M
// tokens, in Currency.
type ModelPrice struct {
	Preset      string
	Model       string // the upstream model name, as sent in "model"
	Input       float64
	CachedInput float64
	Output      float64
	Currency    string // USD or CNY
	Note        string // how the figure was read, when it needs saying
}

// prices is the built-in price table. Each row names the vendor page it was
// read from; the pages were read on 2026-12-03 (stored copies). A model
// whose price could not be found on the vendor's own page is left out
// rather than guessed: an operator prices it with `price:` or the price book.
var prices = []ModelPrice{
	// https://api-docs.deepseek.com/quick_start/pricing — the list in effect
	// from 2025-09-05 16:00 UTC: one price for both models (DeepSeek-V3.1
	// non-thinking and thinking), cache hit / cache miss / output.
	{Preset: "deepseek", Model: "deepseek-chat", Input: 0.56, CachedInput: 0.07, Output: 1.68, Currency: "USD"},
	{Preset: "deepseek", Model: "deepseek-reasoner", Input: 0.56, CachedInput: 0.07, Output: 1.68, Currency: "USD"},

	// https://help.aliyun.com/zh/model-studio/glm-4-5 — GLM-4.5 served by
	// Model Studio (DashScope), priced per 1K tokens in tiers by prompt
	// length; these are the first tier (prompt ≤ 32K tokens), ×1000. Longer
	// prompts cost more (32K–96K: 4/16 and 1.2/8 CNY per 1M).
	{Preset: "qwen", Model: "glm-4.5", Input: 3, Output: 14, Currency: "CNY", Note: "tier prompt ≤32K"},
	{Preset: "qwen", Model: "glm-4.5-air", Input: 0.8, Output: 6, Currency: "CNY", Note: "tier prompt ≤32K"},
}

// Prices lists the built-in prices of preset (every preset's when preset is "").
func Prices(preset string) []ModelPrice {
	var out []ModelPrice
	for _, p := range prices {
		if preset == "" || p.Preset == preset {
			out = append(out, p)
		}
	}
	return out
}

// DefaultPrice is the built-in list price of model served by provider kind
// kind, for a deployment whose config names no price.
func DefaultPrice(kind, model string) (config.Price, bool) {
	for _, p := range prices {
		if p.Preset == kind && p.Model == model {
			return config.Price{Input: p.Input, CachedInput: p.CachedInput, Output: p.Output, Currency: p.Currency}, true
		}
	}
	return config.Price{}, false
}
