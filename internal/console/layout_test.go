package console_test

import (
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

