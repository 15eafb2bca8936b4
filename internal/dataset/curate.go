package dataset

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"switchyard/internal/guard"
	"switchyard/internal/hashmix"
)

// CurateOptions chooses the curation steps. Zero values turn a step off;
// DefaultCurateOptions turns on the usual ones.
type CurateOptions struct {
	// LabelConflicts drops rows whose identical (normalised) text carries
	// another label: the minority labels when one label has a strict
	// majority, every row of the text otherwise.
	LabelConflicts bool `json:"label_conflicts,omitempty"`
	// Exact drops rows whose normalised text (lower case, spaces collapsed,
	// full-width folded) and label repeat an earlier row.
	Exact bool `json:"exact,omitempty"`
	// MinChars and MaxChars bound a row's length in characters (runes).
	MinChars int `json:"min_chars,omitempty"`
	MaxChars int `json:"max_chars,omitempty"`
	// Langs keeps only rows detected as one of these ("zh", "en", "other").
	Langs []string `json:"langs,omitempty"`
	// MaxRepetition drops rows whose share of repeated shingles is above it
	// (rows with at least 10 shingles).
	MaxRepetition float64 `json:"max_repetition,omitempty"`
	// MaxNonText drops rows whose share of characters that are neither
	// letters, digits, spaces nor punctuation (symbols, emoji, control
	// characters, U+FFFD) is above it.
	MaxNonText float64 `json:"max_non_text,omitempty"`
	// NearDup drops near-duplicates: rows whose shingle sets have Jaccard
	// similarity at least NearDup with an earlier row (MinHash + LSH
	// candidates, checked exactly); the first row of each cluster stays.
	NearDup float64 `json:"near_dup,omitempty"`
	// ShingleSize is the shingle length in words, or in characters within
	// CJK text (default 3).
	ShingleSize int `json:"shingle_size,omitempty"`
	// ScrubPII replaces PII the guard finds with placeholders ([EMAIL_1]…).
	ScrubPII bool `json:"scrub_pii,omitempty"`
	// PIITypes limits scrubbing to these guard types (nil: all).
	PIITypes []string `json:"pii_types,omitempty"`
	// MinLabelCount drops labelled rows whose label has fewer rows.
	MinLabelCount int `json:"min_label_count,omitempty"`

	Examples int `json:"-"` // examples per step (default 3)
	Workers  int `json:"-"` // goroutines (default GOMAXPROCS)
}

// DefaultCurateOptions returns label conflicts, exact and near-duplicates
// at Jaccard 0.8, repetition above 0.5, non-text above 0.25 and labels
// with fewer than 2 rows; no length, language or PII step.
func DefaultCurateOptions() CurateOptions {
	return CurateOptions{
		LabelConflicts: true, Exact: true, NearDup: 0.8, ShingleSize: 3,
		MaxRepetition: 0.5, MaxNonText: 0.25, MinLabelCount: 2,
	}
}

// Validate reports every problem with the options.
func (o *CurateOptions) Validate() error {
	var errs []error
	if o.NearDup < 0 || o.NearDup > 1 {
		errs = append(errs, fmt.Errorf("near-dup threshold %v out of range 0..1", o.NearDup))
	}
	if o.MaxRepetition < 0 || o.MaxRepetition > 1 {
		errs = append(errs, fmt.Errorf("max repetition %v out of range 0..1", o.MaxRepetition))
	}
	if o.MaxNonText < 0 || o.MaxNonText > 1 {
		errs = append(errs, fmt.Errorf("max non-text %v out of range 0..1", o.MaxNonText))
	}
	if o.MinChars < 0 || o.MaxChars < 0 || o.MaxChars > 0 && o.MaxChars < o.MinChars {
		errs = append(errs, fmt.Errorf("length bounds %d..%d invalid", o.MinChars, o.MaxChars))
	}
	for _, l := range o.Langs {
		if l != "zh" && l != "en" && l != "other" {
			errs = append(errs, fmt.Errorf("language %q: want zh, en or other", l))
		}
	}
	if o.ShingleSize < 0 || o.ShingleSize > 16 {
		errs = append(errs, fmt.Errorf("shingle size %d out of range 1..16", o.ShingleSize))
	}
	return errors.Join(errs...)
}

// CurationReport says what each step removed or changed, and why.
type CurationReport struct {
	Input   int          `json:"input"`
	Output  int          `json:"output"`
	Steps   []StepReport `json:"steps"`
	Seconds float64      `json:"seconds"`
}

// StepReport is one curation step's result.
type StepReport struct {
	Step     string         `json:"step"`
	Removed  int            `json:"removed"`
	Changed  int            `json:"changed,omitempty"` // rows rewritten (PII)
	Reasons  map[string]int `json:"reasons,omitempty"` // count per reason
	Examples []Example      `json:"examples,omitempty"`
	Seconds  float64        `json:"seconds"`
}

// Example is one row a step removed or changed.
type Example struct {
	Row    int    `json:"row"` // index in the input version
	Reason string `json:"reason"`
	Text   string `json:"text"` // the start of the row's text
}

// Curate runs the curation steps on a version and stores the result as a
// new version (op "curate") whose report is the CurationReport.
func (s *Store) Curate(ctx context.Context, versionID string, c CurateOptions) (*Version, *CurationReport, error) {
	v, err := s.Version(ctx, versionID)
	if err != nil {
		return nil, nil, err
	}
	rows, err := s.Rows(ctx, v.ID)
	if err != nil {
		return nil, nil, err
	}
	out, rep, err := CurateRows(ctx, rows, c)
	if err != nil {
		return nil, nil, err
	}
	nv, err := s.newVersion(ctx, v.DatasetID, v.ID, "curate", c, rep, out)
	return nv, rep, err
}

// rowInfo is what curation measures of one row.
type rowInfo struct {
	norm    uint64 // hash of the normalised text
	stats   textStats
	set     []uint32
	preview string
}

// stepper records one step.
type stepper struct {
	rep   *StepReport
	start time.Time
	max   int
	keep  []bool
	info  []rowInfo
}

func (st *stepper) drop(i int, reason, detail string) {
	st.keep[i] = false
	st.rep.Removed++
	st.rep.Reasons[reason]++
	if len(st.rep.Examples) < st.max {
		if detail != "" {
			reason += ": " + detail
		}
		st.rep.Examples = append(st.rep.Examples, Example{Row: i, Reason: reason, Text: st.info[i].preview})
	}
}

// parallel runs fn over [0,n) in contiguous chunks on workers goroutines.
func parallel(n, workers int, fn func(lo, hi int)) {
	if workers <= 1 || n < 256 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for w := range workers {
		lo, hi := w*chunk, min((w+1)*chunk, n)
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); fn(lo, hi) }()
	}
	wg.Wait()
}

func preview(s string) string {
	const n = 100
	i := 0
	for p := range s {
		if i == n {
			return s[:p] + "…"
		}
		i++
	}
	return s
}

// CurateRows runs the curation steps on rows, in the order: label
// conflicts, exact duplicates, quality filters, near-duplicates, PII,
// rare labels. It returns the kept rows (rows itself is not modified).
func CurateRows(ctx context.Context, rows []Row, o CurateOptions) ([]Row, *CurationReport, error) {
	if err := o.Validate(); err != nil {
		return nil, nil, invalidf("curation options: %w", err)
	}
	if o.Examples <= 0 {
		o.Examples = 3
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.ShingleSize == 0 {
		o.ShingleSize = 3
	}
	t0 := time.Now()
	n := len(rows)
	rep := &CurationReport{Input: n}
	keep := make([]bool, n)
	info := make([]rowInfo, n)
	seed := maphash.MakeSeed()
	needSets := o.NearDup > 0 || o.MaxRepetition > 0 || o.MaxNonText > 0 || len(o.Langs) > 0
	parallel(n, o.Workers, func(lo, hi int) {
		sh := &shingler{k: o.ShingleSize}
		var buf []byte
		for i := lo; i < hi; i++ {
			keep[i] = true
			c := rows[i].Content()
			buf = normalise(buf[:0], c)
			info[i].norm = maphash.Bytes(seed, buf)
			info[i].preview = preview(c)
			if needSets {
				info[i].set = slices.Clip(sh.shingles(c, nil, &info[i].stats))
			} else {
				info[i].stats.runes = len([]rune(c))
			}
		}
	})
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	step := func(name string, fn func(st *stepper) error) error {
		sr := StepReport{Step: name, Reasons: map[string]int{}}
		st := &stepper{rep: &sr, start: time.Now(), max: o.Examples, keep: keep, info: info}
		if err := fn(st); err != nil {
			return err
		}
		sr.Seconds = time.Since(st.start).Seconds()
		rep.Steps = append(rep.Steps, sr)
		return ctx.Err()
	}
	labelled := false
	for i := range rows {
		if rows[i].Label != "" {
			labelled = true
			break
		}
	}
	if o.LabelConflicts && labelled {
		if err := step("label-conflicts", func(st *stepper) error { labelConflicts(st, rows); return nil }); err != nil {
			return nil, nil, err
		}
	}
	if o.Exact {
		err := step("exact-duplicates", func(st *stepper) error {
			first := make(map[uint64]int, n)
			for i := range rows {
				if !keep[i] {
					continue
				}
				k := info[i].norm
				if rows[i].Label != "" {
					k = hashmix.Mix64(k ^ maphash.String(seed, rows[i].Label))
				}
				if j, ok := first[k]; ok {
					st.drop(i, "duplicate", fmt.Sprintf("of row %d", j))
					continue
				}
				first[k] = i
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	if o.MinChars > 0 || o.MaxChars > 0 || len(o.Langs) > 0 || o.MaxRepetition > 0 || o.MaxNonText > 0 {
		if err := step("quality", func(st *stepper) error { quality(st, &o); return nil }); err != nil {
			return nil, nil, err
		}
	}
	if o.NearDup > 0 {
		err := step("near-duplicates", func(st *stepper) error {
			sigs := make([][numHashes]uint32, n)
			mh := newMinhasher()
			parallel(n, o.Workers, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					if keep[i] {
						mh.sign(info[i].set, &sigs[i])
					}
				}
			})
			root, err := nearDuplicates(ctx, setsOf(info), sigs, keep, o.NearDup, o.Workers)
			if err != nil {
				return err
			}
			for i, r := range root {
				if int(r) != i && keep[i] {
					st.drop(i, "near-duplicate", fmt.Sprintf("of row %d (Jaccard %.2f)", r, jaccard(info[i].set, info[r].set)))
				}
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	out := make([]Row, 0, n)
	idx := make([]int, 0, n)
	for i := range rows {
		if keep[i] {
			out = append(out, rows[i])
			idx = append(idx, i)
		}
	}
	if o.ScrubPII {
		err := step("pii", func(st *stepper) error { return scrubPII(st, out, idx, &o) })
		if err != nil {
			return nil, nil, err
		}
	}
	if o.MinLabelCount > 1 && labelled {
		if err := step("rare-labels", func(st *stepper) error { rareLabels(st, rows, o.MinLabelCount); return nil }); err != nil {
			return nil, nil, err
		}
		kept := out[:0]
		for k, i := range idx {
			if keep[i] {
				kept = append(kept, out[k])
			}
		}
		out = kept
	}
	if o.ScrubPII {
		// Examples quote rows as they were read: scrub them too, so the
		// report never keeps what the dataset no longer has.
		sc, err := guard.New(guard.Options{Types: o.PIITypes})
		if err != nil {
			return nil, nil, err
		}
		for k := range rep.Steps {
			for j := range rep.Steps[k].Examples {
				e := &rep.Steps[k].Examples[j]
				e.Text = guard.NewRedactor().Redact(e.Text, sc.PII(e.Text))
			}
		}
	}
	rep.Output = len(out)
	rep.Seconds = time.Since(t0).Seconds()
	return out, rep, nil
}

func setsOf(info []rowInfo) [][]uint32 {
	s := make([][]uint32, len(info))
	for i := range info {
		s[i] = info[i].set
	}
	return s
}

func labelConflicts(st *stepper, rows []Row) {
	groups := map[uint64][]int{}
	for i := range rows {
		if rows[i].Label != "" {
			groups[st.info[i].norm] = append(groups[st.info[i].norm], i)
		}
	}
	var bad [][]int
	for _, g := range groups {
		for _, i := range g[1:] {
			if rows[i].Label != rows[g[0]].Label {
				bad = append(bad, g)
				break
			}
		}
	}
	sort.Slice(bad, func(a, b int) bool { return bad[a][0] < bad[b][0] })
	for _, g := range bad {
		count := map[string]int{}
		for _, i := range g {
			count[rows[i].Label]++
		}
		labels := make([]string, 0, len(count))
		for l := range count {
			labels = append(labels, l)
		}
		sort.Slice(labels, func(a, b int) bool {
			if count[labels[a]] != count[labels[b]] {
				return count[labels[a]] > count[labels[b]]
			}
			return labels[a] < labels[b]
		})
		detail := ""
		for _, l := range labels {
			detail += fmt.Sprintf("%s×%d ", l, count[l])
		}
		detail = strings.TrimSpace(detail)
		tie := count[labels[0]] == count[labels[1]]
		for _, i := range g {
			switch {
			case tie:
				st.drop(i, "conflicting labels, no majority", detail)
			case rows[i].Label != labels[0]:
				st.drop(i, "minority label", fmt.Sprintf("%q (%s)", rows[i].Label, detail))
			}
		}
	}
}

func quality(st *stepper, o *CurateOptions) {
	for i := range st.info {
		if !st.keep[i] {
			continue
		}
		s := &st.info[i].stats
		switch {
		case o.MinChars > 0 && s.runes < o.MinChars:
			st.drop(i, "too short", fmt.Sprintf("%d < %d characters", s.runes, o.MinChars))
		case o.MaxChars > 0 && s.runes > o.MaxChars:
			st.drop(i, "too long", fmt.Sprintf("%d > %d characters", s.runes, o.MaxChars))
		case o.MaxNonText > 0 && s.runes > 0 && float64(s.nonText)/float64(s.runes) > o.MaxNonText:
			st.drop(i, "non-text characters", fmt.Sprintf("%.0f%%", 100*float64(s.nonText)/float64(s.runes)))
		case o.MaxRepetition > 0 && s.shingles >= 10 && 1-float64(len(st.info[i].set))/float64(s.shingles) > o.MaxRepetition:
			st.drop(i, "repetitive", fmt.Sprintf("%.0f%% repeated shingles", 100*(1-float64(len(st.info[i].set))/float64(s.shingles))))
		case len(o.Langs) > 0 && !slices.Contains(o.Langs, language(s)):
			st.drop(i, "language "+language(s), "")
		}
	}
}

func scrubPII(st *stepper, out []Row, idx []int, o *CurateOptions) error {
	sc, err := guard.New(guard.Options{Types: o.PIITypes})
	if err != nil {
		return err
	}
	type change struct {
		types   map[string]int
		changed bool
	}
	ch := make([]change, len(out))
	parallel(len(out), o.Workers, func(lo, hi int) {
		for k := lo; k < hi; k++ {
			r := &out[k]
			red := guard.NewRedactor()
			types := map[string]int{}
			scrub := func(s string) string {
				f := sc.PII(s)
				if len(f) == 0 {
					return s
				}
				for _, x := range f {
					types[x.Type]++
				}
				return red.Redact(s, f)
			}
			if len(r.Messages) > 0 {
				ms := make([]Message, len(r.Messages))
				for j, m := range r.Messages {
					ms[j] = Message{Role: m.Role, Content: scrub(m.Content)}
				}
				r.Messages = ms
			}
			r.Text, r.Prompt, r.Chosen = scrub(r.Text), scrub(r.Prompt), scrub(r.Chosen)
			r.Rejected, r.Reference = scrub(r.Rejected), scrub(r.Reference)
			ch[k] = change{types: types, changed: len(types) > 0}
		}
	})
	for k, c := range ch {
		if !c.changed {
			continue
		}
		st.rep.Changed++
		types := make([]string, 0, len(c.types))
		for t, n := range c.types {
			st.rep.Reasons[t] += n
			types = append(types, t)
		}
		sort.Strings(types)
		if len(st.rep.Examples) < st.max {
			st.rep.Examples = append(st.rep.Examples, Example{Row: idx[k], Reason: "scrubbed " + strings.Join(types, ", "), Text: preview(out[k].Content())})
		}
	}
	return nil
}

func rareLabels(st *stepper, rows []Row, minCount int) {
	count := map[string]int{}
	for i := range rows {
		if st.keep[i] && rows[i].Label != "" {
			count[rows[i].Label]++
		}
	}
	for i := range rows {
		if l := rows[i].Label; st.keep[i] && l != "" && count[l] < minCount {
			st.drop(i, "rare label", fmt.Sprintf("%q has %d rows < %d", l, count[l], minCount))
		}
	}
}
