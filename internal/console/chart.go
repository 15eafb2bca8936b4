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
	padL, padR     = 64, 8
	padT, padB     = 24, 24
)

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

// chartFrame writes the opening tag, the title, the y scale and x ticks.
func chartFrame(b *strings.Builder, title string, ticks []string, top float64, format func(float64) string) {
	esc := template.HTMLEscapeString
	fmt.Fprintf(b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, chartW, chartH, esc(title))
	fmt.Fprintf(b, `<title>%s</title>`, esc(title))
	fmt.Fprintf(b, `<text class="ct" x="%d" y="14">%s</text>`, padL, esc(title))
	for i := 0; i <= 2; i++ {
		y := float64(padT) + float64(chartH-padT-padB)*float64(i)/2
		val := top * float64(2-i) / 2
		fmt.Fprintf(b, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, padL, chartW-padR, y, y)
		fmt.Fprintf(b, `<text class="ax" x="%d" y="%.1f" text-anchor="end">%s</text>`, padL-4, y+4, esc(format(val)))
	}
	n := len(ticks)
	every := max(1, n/6)
	for i := 0; i < n; i += every {
		x := float64(padL) + (float64(i)+0.5)*float64(chartW-padL-padR)/float64(max(n, 1))
		fmt.Fprintf(b, `<text class="ax" x="%.1f" y="%d" text-anchor="middle">%s</text>`, x, chartH-6, esc(ticks[i]))
	}
}

// barChart draws one series as bars.
func barChart(title string, ticks []string, vals []float64, format func(float64) string) template.HTML {
	var b strings.Builder
	top := chartMax(vals)
	chartFrame(&b, title, ticks, top, format)
	n := max(len(vals), 1)
	slotW := float64(chartW-padL-padR) / float64(n)
	plotH := float64(chartH - padT - padB)
	for i, v := range vals {
		h := plotH * v / top
		x := float64(padL) + float64(i)*slotW + slotW*0.15
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
	chartFrame(&b, title, ticks, top, format)
	plotH := float64(chartH - padT - padB)
	for si, s := range series {
		n := max(len(s), 1)
		slotW := float64(chartW-padL-padR) / float64(n)
		var pts []string
		for i, v := range s {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", float64(padL)+(float64(i)+0.5)*slotW, float64(padT)+plotH-plotH*v/top))
		}
		fmt.Fprintf(&b, `<polyline class="line s%d" fill="none" points="%s"/>`, si, strings.Join(pts, " "))
		fmt.Fprintf(&b, `<text class="lg s%d" x="%d" y="14" text-anchor="end">%s</text>`, si, chartW-padR-60*(len(series)-1-si), template.HTMLEscapeString(names[si]))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
