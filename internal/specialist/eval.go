package specialist

import (
	"cmp"
	"context"
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
)

// LabelMetrics are one label's precision, recall and F1 on an evaluation set.
type LabelMetrics struct {
	Label     string  `json:"label"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Support   int     `json:"support"`
}

// Confusion is a (true, predicted) pair and how often it happened.
type Confusion struct {
	True      string `json:"true"`
	Predicted string `json:"predicted"`
	Count     int    `json:"count"`
}

// Report holds evaluation metrics. Rows whose label is the model's
// out-of-scope label, or a label the model does not know, are out-of-scope
// rows. The predicted label of a row is its top label, or the out-of-scope
// label (OOSName) when the model rejects it and has one.
type Report struct {
	N        int     `json:"n"`
	Accuracy float64 `json:"accuracy"`
	MacroF1  float64 `json:"macro_f1"`
	// InScopeAccuracy: share of in-scope rows predicted right and not rejected.
	InScopeAccuracy float64 `json:"in_scope_accuracy"`
	// OOSRecall: share of out-of-scope rows rejected (OOSCount of them).
	OOSRecall float64 `json:"oos_recall"`
	OOSCount  int     `json:"oos_count"`
	// RejectRate: share of in-scope rows rejected as out of scope.
	RejectRate float64        `json:"reject_rate"`
	PerLabel   []LabelMetrics `json:"per_label"`
	// TopConfusions: the most frequent wrong (true, predicted) pairs.
	TopConfusions []Confusion `json:"top_confusions"`
	// Labels index the rows and columns of Matrix[true][predicted].
	Labels  []string `json:"labels"`
	Matrix  [][]int  `json:"matrix"`
	OOSName string   `json:"oos_name,omitempty"`
}

// outcome is one evaluated row.
type outcome struct {
	truth, pred string
	rejected    bool
}

// Evaluate predicts every example and scores the predictions.
func Evaluate(ctx context.Context, m *Model, ex []Example) (*Report, error) {
	texts := make([]string, len(ex))
	for i, e := range ex {
		texts[i] = e.Text
	}
	const batch = 256
	outs := make([]outcome, 0, len(ex))
	for i := 0; i < len(texts); i += batch {
		preds, err := m.Predict(ctx, texts[i:min(i+batch, len(texts))], 1)
		if err != nil {
			return nil, err
		}
		for j, p := range preds {
			outs = append(outs, m.outcomeOf(ex[i+j].Label, p.Labels[0].Label, p.OutOfScope))
		}
	}
	return buildReport(m, outs), nil
}

func (m *Model) outcomeOf(truth, top string, rejected bool) outcome {
	pred := top
	if rejected && m.oosLabel >= 0 {
		pred = m.labels[m.oosLabel]
	}
	return outcome{truth: truth, pred: pred, rejected: rejected}
}

// evaluateScores scores precomputed raw scores (rows aligned with ex).
func evaluateScores(m *Model, scores [][]float32, ex []Example) *Report {
	outs := make([]outcome, len(ex))
	probs := make([]float64, len(m.labels))
	for i, sc := range scores {
		softmaxInto(probs, sc, m.temperature)
		p := m.decide(probs, 1)
		outs[i] = m.outcomeOf(ex[i].Label, p.Labels[0].Label, p.OutOfScope)
	}
	return buildReport(m, outs)
}

func buildReport(m *Model, outs []outcome) *Report {
	known := map[string]bool{}
	for _, l := range m.labels {
		known[l] = true
	}
	oosName := ""
	if m.oosLabel >= 0 {
		oosName = m.labels[m.oosLabel]
	}
	isOOS := func(l string) bool { return !known[l] || l == oosName }

	labelSet := map[string]bool{}
	for _, l := range m.labels {
		labelSet[l] = true
	}
	for _, o := range outs {
		labelSet[o.truth] = true
	}
	labels := make([]string, 0, len(labelSet))
	for l := range labelSet {
		labels = append(labels, l)
	}
	slices.Sort(labels)
	pos := map[string]int{}
	for i, l := range labels {
		pos[l] = i
	}
	r := &Report{N: len(outs), Labels: labels, OOSName: oosName}
	r.Matrix = make([][]int, len(labels))
	for i := range r.Matrix {
		r.Matrix[i] = make([]int, len(labels))
	}
	var correct, inScope, inOK, inRejected int
	for _, o := range outs {
		r.Matrix[pos[o.truth]][pos[o.pred]]++
		if o.pred == o.truth {
			correct++
		}
		if isOOS(o.truth) {
			r.OOSCount++
			if o.rejected {
				r.OOSRecall++
			}
			continue
		}
		inScope++
		switch {
		case o.rejected:
			inRejected++
		case o.pred == o.truth:
			inOK++
		}
	}
	r.Accuracy = ratio(correct, len(outs))
	r.InScopeAccuracy = ratio(inOK, inScope)
	r.RejectRate = ratio(inRejected, inScope)
	if r.OOSCount > 0 {
		r.OOSRecall /= float64(r.OOSCount)
	}

	var f1sum float64
	var nf1 int
	for i, l := range labels {
		tp := r.Matrix[i][i]
		var support, predicted int
		for j := range labels {
			support += r.Matrix[i][j]
			predicted += r.Matrix[j][i]
		}
		if support == 0 && predicted == 0 {
			continue
		}
		p, rec := ratio(tp, predicted), ratio(tp, support)
		f1 := 0.0
		if p+rec > 0 {
			f1 = 2 * p * rec / (p + rec)
		}
		r.PerLabel = append(r.PerLabel, LabelMetrics{Label: l, Precision: p, Recall: rec, F1: f1, Support: support})
		f1sum += f1
		nf1++
	}
	r.MacroF1 = ratio2(f1sum, nf1)
	for i := range labels {
		for j := range labels {
			if i != j && r.Matrix[i][j] > 0 {
				r.TopConfusions = append(r.TopConfusions, Confusion{True: labels[i], Predicted: labels[j], Count: r.Matrix[i][j]})
			}
		}
	}
	slices.SortStableFunc(r.TopConfusions, func(a, b Confusion) int { return cmp.Compare(b.Count, a.Count) })
	if len(r.TopConfusions) > 10 {
		r.TopConfusions = r.TopConfusions[:10]
	}
	return r
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func ratio2(a float64, b int) float64 {
	if b == 0 {
		return 0
	}
	return a / float64(b)
}

// WriteTable writes the report as plain-text tables: the summary, the
// per-label metrics and the top confusion pairs.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "rows\t%d\n", r.N)
	fmt.Fprintf(tw, "accuracy\t%.4f\n", r.Accuracy)
	fmt.Fprintf(tw, "macro-F1\t%.4f\n", r.MacroF1)
	fmt.Fprintf(tw, "in-scope accuracy\t%.4f\n", r.InScopeAccuracy)
	fmt.Fprintf(tw, "in-scope reject rate\t%.4f\n", r.RejectRate)
	if r.OOSCount > 0 {
		fmt.Fprintf(tw, "out-of-scope recall\t%.4f (%d rows)\n", r.OOSRecall, r.OOSCount)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "label\tprecision\trecall\tF1\tsupport")
	for _, l := range r.PerLabel {
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t%d\n", l.Label, l.Precision, l.Recall, l.F1, l.Support)
	}
	if len(r.TopConfusions) > 0 {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "true\tpredicted\tcount")
		for _, c := range r.TopConfusions {
			fmt.Fprintf(tw, "%s\t%s\t%d\n", c.True, c.Predicted, c.Count)
		}
	}
	return tw.Flush()
}

// WriteSVG draws the confusion matrix (rows: true label, columns:
// predicted; colour: share of the row) as a standalone SVG image.
func (r *Report) WriteSVG(w io.Writer) error {
	n := len(r.Labels)
	cell := 18
	if n > 40 {
		cell = 10
	}
	if n > 100 {
		cell = 6
	}
	longest := 0
	for _, l := range r.Labels {
		longest = max(longest, runeLen(l))
	}
	margin := min(longest, 40)*7 + 10
	fontSize := max(cell-2, 5)
	size := margin + n*cell + 20
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="%d">`+"\n", size, size+30, fontSize)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="16" font-size="12">confusion matrix: rows true, columns predicted; accuracy %.4f, macro-F1 %.4f</text>`+"\n", 4, r.Accuracy, r.MacroF1)
	top := margin + 30
	for i, l := range r.Labels {
		name := html.EscapeString(truncate(l, 40))
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", margin-4, top+i*cell+cell-2, name)
		x, y := margin+i*cell+cell-2, top-4
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="start" transform="rotate(-90 %d %d)">%s</text>`+"\n", x, y, x, y, name)
	}
	for i, row := range r.Matrix {
		total := 0
		for _, v := range row {
			total += v
		}
		for j, v := range row {
			if v == 0 {
				continue
			}
			share := float64(v) / float64(total)
			var fill string
			if i == j {
				g := int(math.Round(230 - 180*share))
				fill = fmt.Sprintf("rgb(%d,%d,%d)", g, 120+g/2, g)
			} else {
				g := int(math.Round(235 - 200*math.Sqrt(share)))
				fill = fmt.Sprintf("rgb(230,%d,%d)", g, g)
			}
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"><title>%s → %s: %d</title></rect>`+"\n",
				margin+j*cell, top+i*cell, cell, cell, fill, html.EscapeString(r.Labels[i]), html.EscapeString(r.Labels[j]), v)
		}
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>`+"\n", margin, top, n*cell, n*cell)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func truncate(s string, n int) string {
	rs := []rune(s)
	if len(rs) <= n {
		return s
	}
	return string(rs[:n-1]) + "…"
}
