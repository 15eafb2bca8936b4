package console

import (
	"fmt"
	"html/template"
	"strings"
)

// Charts are inline SVG drawn here, on the server: no script, no library.
// Every piece of text in them is escaped.

const (
	chartW, chartH = 600, 180
	padL, padR     = 64, 8 // padL is the least left padding: longer y labels widen it
	padT, padB     = 24, 24
)

// labelWidth is a generous estimate of the width, in chart units, of an
// axis label (10 px text): the browser measures nothing here, so the left
// padding is sized from it.
func labelWidth(s string) int {
	w := 0
	for _, r := range s {
		switch {
		case r >= 0x2e80: // CJK: full width
			w += 11
		case r >= 'A' && r <= 'Z' || r == '$' || r == '%' || r == '¥':
			w += 8
		default:
			w += 7
		}
	}
	return w
}

func chartMax(series ...[]float64) float64 {
	m := 0.0
	for _, s := range series {
		for _, v := range s {
			m = max(m, v)
		}
	}
	if m == 0 {
		return 1
	}
	return m
}

// chartFrame writes the opening tag, the title, the y scale and x ticks,
// and returns the left edge of the plot: wide enough for the y labels,
// which end just left of it, to lie whole inside the chart.
func chartFrame(b *strings.Builder, title string, ticks []string, top float64, format func(float64) string) int {
	esc := template.HTMLEscapeString
	var ys [3]string
	left := padL
	for i := range ys {
		ys[i] = format(top * float64(2-i) / 2)
		left = max(left, labelWidth(ys[i])+8)
	}
	fmt.Fprintf(b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, chartW, chartH, esc(title))
	fmt.Fprintf(b, `<title>%s</title>`, esc(title))
	fmt.Fprintf(b, `<text class="ct" x="%d" y="14">%s</text>`, left, esc(title))
	for i, label := range ys {
		y := float64(padT) + float64(chartH-padT-padB)*float64(i)/2
		fmt.Fprintf(b, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, left, chartW-padR, y, y)
		fmt.Fprintf(b, `<text class="ax" x="%d" y="%.1f" text-anchor="end">%s</text>`, left-4, y+4, esc(label))
	}
	n := len(ticks)
	every := max(1, n/6)
	for i := 0; i < n; i += every {
		x := float64(left) + (float64(i)+0.5)*float64(chartW-left-padR)/float64(max(n, 1))
		fmt.Fprintf(b, `<text class="ax" x="%.1f" y="%d" text-anchor="middle">%s</text>`, x, chartH-6, esc(ticks[i]))
	}
	return left
}

// barChart draws one series as bars.
func barChart(title string, ticks []string, vals []float64, format func(float64) string) template.HTML {
	var b strings.Builder
	top := chartMax(vals)
	left := chartFrame(&b, title, ticks, top, format)
	n := max(len(vals), 1)
	slotW := float64(chartW-left-padR) / float64(n)
	plotH := float64(chartH - padT - padB)
	for i, v := range vals {
		h := plotH * v / top
		x := float64(left) + float64(i)*slotW + slotW*0.15
		fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %s</title></rect>`,
			x, float64(padT)+plotH-h, slotW*0.7, h, template.HTMLEscapeString(ticks[i]), template.HTMLEscapeString(format(v)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// lineChart draws one or more series as lines, with a legend.
func lineChart(title string, ticks []string, series [][]float64, names []string, format func(float64) string) template.HTML {
	var b strings.Builder
	top := chartMax(series...)
	left := chartFrame(&b, title, ticks, top, format)
	plotH := float64(chartH - padT - padB)
	for si, s := range series {
		n := max(len(s), 1)
		slotW := float64(chartW-left-padR) / float64(n)
		var pts []string
		for i, v := range s {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", float64(left)+(float64(i)+0.5)*slotW, float64(padT)+plotH-plotH*v/top))
		}
		fmt.Fprintf(&b, `<polyline class="line s%d" fill="none" points="%s"/>`, si, strings.Join(pts, " "))
		fmt.Fprintf(&b, `<text class="lg s%d" x="%d" y="14" text-anchor="end">%s</text>`, si, chartW-padR-60*(len(series)-1-si), template.HTMLEscapeString(names[si]))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
