package dataset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Annotation kinds.
const (
	KindLabel   = "label"   // Label is the row's class
	KindAccept  = "accept"  // the row is good as it is
	KindReject  = "reject"  // the row should be dropped
	KindCorrect = "correct" // Text is the corrected answer
	KindRank    = "rank"    // Prefer says which answer is better: "a" (Chosen) or "b" (Rejected)
)

// Annotation is one annotator's judgement of one row.
type Annotation struct {
	Kind   string `json:"kind"`
	Label  string `json:"label,omitempty"`
	Text   string `json:"text,omitempty"`
	Prefer string `json:"prefer,omitempty"`
}

// Validate checks the annotation's kind and its value.
func (a *Annotation) Validate() error {
	switch a.Kind {
	case KindLabel:
		if strings.TrimSpace(a.Label) == "" {
			return errors.New("label annotation without a label")
		}
	case KindAccept, KindReject:
	case KindCorrect:
		if strings.TrimSpace(a.Text) == "" {
			return errors.New("correction without text")
		}
	case KindRank:
		if a.Prefer != "a" && a.Prefer != "b" {
			return fmt.Errorf("preference %q: want a or b", a.Prefer)
		}
	default:
		return fmt.Errorf("annotation kind %q: want label, accept, reject, correct or rank", a.Kind)
	}
	if !utf8.ValidString(a.Label) || !utf8.ValidString(a.Text) {
		return errors.New("annotation: invalid UTF-8")
	}
	return nil
}

// category is the annotation's value for agreement: corrections count as
// acceptance.
func (a *Annotation) category() string {
	switch a.Kind {
	case KindLabel:
		return "label:" + a.Label
	case KindCorrect:
		return KindAccept
	case KindRank:
		return "prefer:" + a.Prefer
	}
	return a.Kind
}

// Annotate records an annotator's judgement of row rowIdx of a version,
// replacing that annotator's earlier one.
func (s *Store) Annotate(ctx context.Context, versionID string, rowIdx int, annotator string, a Annotation) error {
	if strings.TrimSpace(annotator) == "" {
		return invalidf("annotation: no annotator")
	}
	if err := a.Validate(); err != nil {
		return &kindError{ErrInvalid, err}
	}
	v, err := s.Version(ctx, versionID)
	if err != nil {
		return err
	}
	if rowIdx < 0 || rowIdx >= v.RowCount {
		return fmt.Errorf("row %d: version %s has rows 0..%d: %w", rowIdx, v.ID, v.RowCount-1, ErrNotFound)
	}
	val, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encoding annotation: %w", err)
	}
	tx, err := s.d.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("annotating: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, s.d.Rebind(`DELETE FROM dataset_annotations WHERE version_id = ? AND row_idx = ? AND annotator = ?`), v.ID, rowIdx, annotator); err != nil {
		return fmt.Errorf("annotating: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.d.Rebind(`INSERT INTO dataset_annotations (version_id, row_idx, annotator, kind, value, created_at) VALUES (?, ?, ?, ?, ?, ?)`),
		v.ID, rowIdx, annotator, a.Kind, string(val), now()); err != nil {
		return fmt.Errorf("annotating: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("annotating: %w", err)
	}
	return nil
}

// StoredAnnotation is an annotation with who made it, on which row, when.
type StoredAnnotation struct {
	Row       int        `json:"row"`
	Annotator string     `json:"annotator"`
	At        time.Time  `json:"at"`
	Value     Annotation `json:"value"`
}

// Annotations returns a version's annotations by row, then time.
func (s *Store) Annotations(ctx context.Context, versionID string) ([]StoredAnnotation, error) {
	rows, err := s.d.QueryContext(ctx, s.d.Rebind(`SELECT row_idx, annotator, value, created_at FROM dataset_annotations WHERE version_id = ? ORDER BY row_idx, created_at, annotator`), versionID)
	if err != nil {
		return nil, fmt.Errorf("reading annotations: %w", err)
	}
	defer rows.Close()
	var out []StoredAnnotation
	for rows.Next() {
		var a StoredAnnotation
		var val, at string
		if err := rows.Scan(&a.Row, &a.Annotator, &val, &at); err != nil {
			return nil, fmt.Errorf("reading annotations: %w", err)
		}
		if err := json.Unmarshal([]byte(val), &a.Value); err != nil {
			return nil, fmt.Errorf("decoding annotation: %w", err)
		}
		a.At = parseTime(at)
		out = append(out, a)
	}
	return out, rows.Err()
}

// QueueItem is a row waiting for an annotator.
type QueueItem struct {
	Row         int `json:"row"` // index in the version
	Data        Row `json:"data"`
	Annotations int `json:"annotations"` // by other annotators so far
}

// Queue returns up to limit rows of a version the annotator has not yet
// judged, those with the fewest annotations first, then in row order.
func (s *Store) Queue(ctx context.Context, versionID, annotator string, limit int) ([]QueueItem, error) {
	v, err := s.Version(ctx, versionID)
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 10
	}
	anns, err := s.Annotations(ctx, v.ID)
	if err != nil {
		return nil, err
	}
	count := map[int]int{}
	mine := map[int]bool{}
	for _, a := range anns {
		count[a.Row]++
		if a.Annotator == annotator {
			mine[a.Row] = true
		}
	}
	// Rows with no annotations come first in row order; then the others
	// by how many they have.
	var items []QueueItem
	for i := 0; i < v.RowCount && len(items) < limit; i++ {
		if count[i] == 0 {
			items = append(items, QueueItem{Row: i})
		}
	}
	if len(items) < limit {
		var rest []QueueItem
		for i, c := range count {
			if !mine[i] && c > 0 {
				rest = append(rest, QueueItem{Row: i, Annotations: c})
			}
		}
		sort.Slice(rest, func(a, b int) bool {
			if rest[a].Annotations != rest[b].Annotations {
				return rest[a].Annotations < rest[b].Annotations
			}
			return rest[a].Row < rest[b].Row
		})
		items = append(items, rest[:min(len(rest), limit-len(items))]...)
		sort.SliceStable(items, func(a, b int) bool { return items[a].Annotations < items[b].Annotations })
	}
	for k := range items {
		r, err := s.row(ctx, v.ID, items[k].Row)
		if err != nil {
			return nil, err
		}
		items[k].Data = r
	}
	return items, nil
}

func (s *Store) row(ctx context.Context, versionID string, idx int) (Row, error) {
	var data, origin string
	err := s.d.QueryRowContext(ctx, s.d.Rebind(`SELECT data, origin FROM dataset_rows WHERE version_id = ? AND idx = ?`), versionID, idx).Scan(&data, &origin)
	if err != nil {
		return Row{}, fmt.Errorf("reading row %d: %w", idx, err)
	}
	var r Row
	if err := json.Unmarshal([]byte(data), &r); err != nil {
		return Row{}, fmt.Errorf("decoding row %d: %w", idx, err)
	}
	if err := json.Unmarshal([]byte(origin), &r.Origin); err != nil {
		return Row{}, fmt.Errorf("decoding row %d: %w", idx, err)
	}
	return r, nil
}

// AgreementReport gives inter-annotator agreement on a version.
type AgreementReport struct {
	// Method is "cohen" (exactly two annotators), "fleiss" (more), or
	// "none" (fewer than two annotators, or no row judged twice).
	Method      string   `json:"method"`
	Annotators  []string `json:"annotators"`
	Items       int      `json:"items"`       // rows judged by at least two
	Annotations int      `json:"annotations"` // on those rows
	Observed    float64  `json:"observed"`    // observed agreement
	Expected    float64  `json:"expected"`    // agreement expected by chance
	Kappa       float64  `json:"kappa"`
}

// Agreement computes inter-annotator agreement on a version's rows judged
// by at least two annotators. Judgements are compared as categories:
// the label for labels, accept (corrections count as acceptance) or
// reject, and the preferred side for rankings. Two annotators get Cohen's
// kappa (on the rows both judged); more get Fleiss' kappa, in the form
// that allows a different number of annotators per row.
func (s *Store) Agreement(ctx context.Context, versionID string) (*AgreementReport, error) {
	anns, err := s.Annotations(ctx, versionID)
	if err != nil {
		return nil, err
	}
	return agreement(anns), nil
}

func agreement(anns []StoredAnnotation) *AgreementReport {
	byRow := map[int]map[string]string{}
	who := map[string]bool{}
	for _, a := range anns {
		if byRow[a.Row] == nil {
			byRow[a.Row] = map[string]string{}
		}
		byRow[a.Row][a.Annotator] = a.Value.category()
		who[a.Annotator] = true
	}
	rep := &AgreementReport{Method: "none", Annotators: []string{}}
	for w := range who {
		rep.Annotators = append(rep.Annotators, w)
	}
	sort.Strings(rep.Annotators)
	if len(rep.Annotators) < 2 {
		return rep
	}
	if len(rep.Annotators) == 2 {
		a, b := rep.Annotators[0], rep.Annotators[1]
		pa, pb := map[string]float64{}, map[string]float64{}
		agree := 0
		for _, m := range byRow {
			ca, okA := m[a]
			cb, okB := m[b]
			if !okA || !okB {
				continue
			}
			rep.Items++
			pa[ca]++
			pb[cb]++
			if ca == cb {
				agree++
			}
		}
		if rep.Items == 0 {
			rep.Method = "none"
			return rep
		}
		rep.Method = "cohen"
		rep.Annotations = 2 * rep.Items
		n := float64(rep.Items)
		rep.Observed = float64(agree) / n
		for c, x := range pa {
			rep.Expected += x / n * pb[c] / n
		}
		rep.Kappa = kappa(rep.Observed, rep.Expected)
		return rep
	}
	total := map[string]float64{}
	var sumP, sumN float64
	for _, m := range byRow {
		if len(m) < 2 {
			continue
		}
		rep.Items++
		cnt := map[string]float64{}
		for _, c := range m {
			cnt[c]++
			total[c]++
		}
		ni := float64(len(m))
		sumN += ni
		var sq float64
		for _, x := range cnt {
			sq += x * x
		}
		sumP += (sq - ni) / (ni * (ni - 1))
	}
	if rep.Items == 0 {
		return rep
	}
	rep.Method = "fleiss"
	rep.Annotations = int(sumN)
	rep.Observed = sumP / float64(rep.Items)
	for _, x := range total {
		p := x / sumN
		rep.Expected += p * p
	}
	rep.Kappa = kappa(rep.Observed, rep.Expected)
	return rep
}

func kappa(po, pe float64) float64 {
	if pe >= 1 {
		if po >= 1 {
			return 1
		}
		return 0
	}
	return (po - pe) / (1 - pe)
}

// ApplyReport says what ApplyAnnotations did.
type ApplyReport struct {
	Reviewed   int `json:"reviewed"`   // rows with at least one annotation
	Kept       int `json:"kept"`       // reviewed rows in the new version
	Rejected   int `json:"rejected"`   // dropped by a majority of rejections (or a tie)
	Unreviewed int `json:"unreviewed"` // rows without annotations, left out
	Relabelled int `json:"relabelled"`
	Corrected  int `json:"corrected"`
	Swapped    int `json:"swapped"` // preference pairs whose sides were swapped
}

// ApplyAnnotations makes a new version (op "annotate") of the reviewed rows
// of a version: a row is dropped when rejections are at least as many as
// other judgements; otherwise the majority label is set (ties: the
// alphabetically first), the latest correction replaces the answer (the
// last assistant message, Chosen, Reference or else Text), and a majority
// preference for b swaps Chosen and Rejected. Rows nobody judged are left
// out; they stay in the source version.
func (s *Store) ApplyAnnotations(ctx context.Context, versionID string) (*Version, error) {
	v, err := s.Version(ctx, versionID)
	if err != nil {
		return nil, err
	}
	anns, err := s.Annotations(ctx, v.ID)
	if err != nil {
		return nil, err
	}
	byRow := map[int][]StoredAnnotation{}
	for _, a := range anns {
		byRow[a.Row] = append(byRow[a.Row], a)
	}
	rep := &ApplyReport{}
	var out []Row
	err = s.EachRow(ctx, v.ID, func(idx int, r Row) error {
		as := byRow[idx]
		if len(as) == 0 {
			rep.Unreviewed++
			return nil
		}
		rep.Reviewed++
		if nr, ok := applyRow(r, as, rep); ok {
			out = append(out, nr)
			rep.Kept++
		} else {
			rep.Rejected++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, &kindError{ErrConflict, fmt.Errorf("applying annotations: no accepted rows (%d reviewed, %d rejected)", rep.Reviewed, rep.Rejected)}
	}
	return s.newVersion(ctx, v.DatasetID, v.ID, "annotate", map[string]any{"annotations": len(anns)}, rep, out)
}

func applyRow(r Row, as []StoredAnnotation, rep *ApplyReport) (Row, bool) {
	rejects := 0
	labels := map[string]int{}
	prefer := map[string]int{}
	var correction *StoredAnnotation
	for k := range as {
		a := &as[k]
		switch a.Value.Kind {
		case KindReject:
			rejects++
		case KindLabel:
			labels[a.Value.Label]++
		case KindRank:
			prefer[a.Value.Prefer]++
		case KindCorrect:
			if correction == nil || !a.At.Before(correction.At) {
				correction = a
			}
		}
	}
	if rejects*2 >= len(as) {
		return r, false
	}
	if len(labels) > 0 {
		best := ""
		for l, c := range labels {
			if best == "" || c > labels[best] || c == labels[best] && l < best {
				best = l
			}
		}
		if best != r.Label {
			r.Label = best
			rep.Relabelled++
		}
	}
	if correction != nil {
		rep.Corrected++
		text := correction.Value.Text
		switch {
		case len(r.Messages) > 0:
			ms := append([]Message(nil), r.Messages...)
			if last := len(ms) - 1; ms[last].Role == "assistant" {
				ms[last].Content = text
			} else {
				ms = append(ms, Message{Role: "assistant", Content: text})
			}
			r.Messages = ms
		case r.Prompt != "":
			r.Chosen = text
		case r.Reference != "":
			r.Reference = text
		default:
			r.Text = text
		}
	}
	if prefer["b"] > prefer["a"] && r.Prompt != "" {
		r.Chosen, r.Rejected = r.Rejected, r.Chosen
		rep.Swapped++
	}
	return r, true
}
