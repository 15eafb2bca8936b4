package console_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// axisLabel is one text of a dashboard chart's axes, as the browser laid
// it out, in the chart's own units.
type axisLabel struct {
	Chart, Text string
	Left, Right float64 // the text's box
	Width       float64 // the chart's viewBox width
}

// readAxisLabels returns every axis label of the dashboard's charts.
const readAxisLabels = `[...document.querySelectorAll("svg.chart")].flatMap(svg =>
  [...svg.querySelectorAll("text.ax")].map(t => { const b = t.getBBox();
    return {Chart: svg.getAttribute("aria-label"), Text: t.textContent, Left: b.x, Right: b.x + b.width, Width: svg.viewBox.baseVal.width}; }))`

// TestBrowserChartAxisLabelsFit: every axis label of the dashboard's
// charts lies inside its chart, so none is cut at the edge, in English and
// in Chinese. The Chinese cost axis, in US$, used to lose its "U".
func TestBrowserChartAxisLabelsFit(t *testing.T) {
	ctx, consoleErrors := chrome(t)
	s := seedConsole(t, 40, 1) // a few sub-cent amounts an hour: long money labels
	step := stepper(t, ctx)
	step("sign in", firstSignIn(s.url)...)
	for _, lang := range []struct{ code, symbol string }{{"en", "$"}, {"zh", "US$"}} {
		var labels []axisLabel
		step("dashboard in "+lang.code,
			chromedp.Navigate(s.url+"/console/lang?to="+lang.code+"&next=/"),
			chromedp.WaitVisible(chromedp.CSS("svg.chart")),
			into(chromedp.Evaluate[[]axisLabel](readAxisLabels), &labels),
		)
		var money int
		for _, l := range labels {
			if l.Left < 0 || l.Right > l.Width {
				t.Errorf("%s: chart %q: axis label %q spans %.1f…%.1f, outside the chart's 0…%.0f", lang.code, l.Chart, l.Text, l.Left, l.Right, l.Width)
			}
			if strings.Contains(l.Text, "$") {
				money++
				if !strings.HasPrefix(l.Text, lang.symbol) || (lang.code == "en" && strings.HasPrefix(l.Text, "US$")) {
					t.Errorf("%s: cost label %q, want it to start with %s", lang.code, l.Text, lang.symbol)
				}
			}
		}
		if money < 3 {
			t.Errorf("%s: %d money labels on the dashboard, want the cost chart's three: %v", lang.code, money, labels)
		}
	}
	if errs := consoleErrors(); len(errs) > 0 {
		t.Errorf("browser console errors: %v", errs)
	}
}

// TestBrowserModelsShowPriceBook: the models page shows the price book's
// current price of a deployment (per 1M tokens: input / cached / output),
// over the config file's list price, and the list price where the book has
// none.
func TestBrowserModelsShowPriceBook(t *testing.T) {
	ctx, consoleErrors := chrome(t)
	up := upstream(t)
	e := startServer(t, fmt.Sprintf(`
models:
  - name: listed
    deployments:
      - {id: listed-a, provider: openai, base_url: %[1]s, model: m, price: {input: 0.5, output: 1.5, currency: USD}}
  - name: booked
    deployments:
      - {id: booked-a, provider: openai, base_url: %[1]s, model: m}
  - name: both
    deployments:
      - {id: both-a, provider: openai, base_url: %[1]s, model: m, price: {input: 0.5, output: 1.5, currency: USD}}
  - name: bare
    deployments:
      - {id: bare-a, provider: openai, base_url: %[1]s, model: m}
`, up.URL))
	e.api("POST", "/api/prices", map[string]any{"model": "booked", "currency": "CNY", "input_micros": 2_000_000, "cached_input_micros": 500_000, "output_micros": 8_000_000}, nil)
	e.api("POST", "/api/prices", map[string]any{"model": "both", "deployment": "both-a", "currency": "USD", "input_micros": 3_000_000, "output_micros": 12_000_000}, nil)
	step := stepper(t, ctx)
	step("sign in", firstSignIn(e.base)...)
	var prices map[string]string
	step("models page",
		chromedp.Navigate(e.base+"/console/models"),
		chromedp.WaitVisible(chromedp.CSS("section.model")),
		into(chromedp.Evaluate[map[string]string](`Object.fromEntries([...document.querySelectorAll("section.model tbody tr:not(.sub)")].map(
			tr => [tr.cells[0].textContent, tr.cells[tr.cells.length-1].textContent]))`), &prices),
	)
	want := map[string]string{
		"listed-a": "$0.50 / $0.50 / $1.50",
		"booked-a": "CN¥2.00 / CN¥0.50 / CN¥8.00",
		"both-a":   "$3.00 / $3.00 / $12.00",
		"bare-a":   "—",
	}
	for dep, w := range want {
		if got := prices[dep]; got != w {
			t.Errorf("price of %s: %q, want %q", dep, got, w)
		}
	}
	if errs := consoleErrors(); len(errs) > 0 {
		t.Errorf("browser console errors: %v", errs)
	}
}

// navItem is a navigation link as laid out.
type navItem struct {
	Text        string
	Top, Bottom float64
}

// TestBrowserNavOneRowAt1280: at 1280 px wide the admin's navigation (the
// longest), with the brand before it and the language switch and account
// after it, stays on one row, in English and in Chinese.
func TestBrowserNavOneRowAt1280(t *testing.T) {
	ctx, consoleErrors := chrome(t)
	e := startServer(t, "")
	step := stepper(t, ctx)
	step("width 1280", chromedp.EmulateViewport(1280, 800))
	step("sign in", firstSignIn(e.base)...)
	for _, lang := range []string{"en", "zh"} {
		var items []navItem
		step("nav in "+lang,
			chromedp.Navigate(e.base+"/console/lang?to="+lang+"&next=/console/orgs"),
			chromedp.WaitVisible(chromedp.CSS("header nav")),
			into(chromedp.Evaluate[[]navItem](`[...document.querySelectorAll("header .brand, header nav li, header .tools")].map(e => {
				const r = e.getBoundingClientRect(); return {Text: e.textContent.trim().replace(/\s+/g, " "), Top: r.top, Bottom: r.bottom}; })`), &items),
		)
		if len(items) < 12 {
			t.Fatalf("%s: %d header items, want the brand, the admin's 10 nav items and the tools: %v", lang, len(items), items)
		}
		for _, it := range items[1:] {
			if it.Top >= items[0].Bottom || it.Bottom <= items[0].Top {
				t.Errorf("%s: header item %q (top %.0f) is on another row than %q (top %.0f)", lang, it.Text, it.Top, items[0].Text, items[0].Top)
			}
		}
	}
	if errs := consoleErrors(); len(errs) > 0 {
		t.Errorf("browser console errors: %v", errs)
	}
}
