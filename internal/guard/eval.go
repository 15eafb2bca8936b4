package guard

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
)

// EvalRow is one line of the evaluation table.
type EvalRow struct {
	Dataset   string  `json:"dataset"`
	Type      string  `json:"type"`
	TP        int     `json:"tp"`
	FP        int     `json:"fp"`
	FN        int     `json:"fn"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	N         int     `json:"n"` // gold positives (spans or texts)
	// Negatives and FPR: benign texts scored and the share flagged
	// (injection rows only).
	Negatives int     `json:"negatives,omitempty"`
	FPR       float64 `json:"fpr,omitempty"`
}

func (r *EvalRow) finish() {
	if r.TP+r.FP > 0 {
		r.Precision = round3(float64(r.TP) / float64(r.TP+r.FP))
	}
	if r.TP+r.FN > 0 {
		r.Recall = round3(float64(r.TP) / float64(r.TP+r.FN))
	}
	if r.Negatives > 0 {
		r.FPR = round3(float64(r.FP) / float64(r.Negatives))
	}
	if r.Precision+r.Recall > 0 {
		r.F1 = round3(2 * r.Precision * r.Recall / (r.Precision + r.Recall))
	}
}

// Label maps: dataset label → our type. Labels not listed are ignored, and
// our findings of types a dataset does not label are not scored on it.
var (
	presidioMap = map[string]string{
		"EMAIL_ADDRESS": TypeEmail, "PHONE_NUMBER": TypePhone, "CREDIT_CARD": TypeBankCard, "IBAN_CODE": TypeIBAN,
		"US_SSN": TypeUSSSN, "IP_ADDRESS": TypeIP, "PERSON": TypePerson, "STREET_ADDRESS": TypeAddress,
	}
	ccfMap       = map[string]string{"mobile": TypePhone, "email": TypeEmail, "name": TypePerson, "address": TypeAddress}
	multiprivMap = map[string]string{"ID_CARD": TypeCNID, "PHONE": TypePhone, "EMAIL": TypeEmail, "ADDRESS": TypeAddress, "PERSON": TypePerson}
)

type spanRow struct {
	Text     string `json:"text"`
	Entities []struct {
		Type       string `json:"type"`
		Start, End int
	} `json:"entities"`
}

// Evaluate scores the scanner on the labelled sets under dataDir (the
// shared data folder) and writes a table to w. PII spans must match
// exactly (type, start, end).
func Evaluate(ctx context.Context, dataDir string, w io.Writer) ([]EvalRow, error) {
	return EvaluateWith(ctx, dataDir, Options{}, w)
}

// EvaluateWith is Evaluate with the scanner built from o (extra injection
// scorers, such as a trained classifier).
func EvaluateWith(ctx context.Context, dataDir string, o Options, w io.Writer) ([]EvalRow, error) {
	def, err := New(o)
	if err != nil {
		return nil, err
	}
	lenient, err := New(Options{MinScore: 0.3, Types: []string{TypeCNID}})
	if err != nil {
		return nil, err
	}
	var rows []EvalRow
	piiSets := []struct {
		name, file string
		m          map[string]string
		s          *Scanner
	}{
		{"presidio_synth_en", "pii_presidio_synth_en/test.jsonl", presidioMap, def},
		{"ccf2020_privacy_zh", "pii_ccf2020_privacy_zh/test.jsonl", ccfMap, def},
		{"multipriv_zh", "pii_multipriv_zh/test.jsonl", multiprivMap, def},
		{"multipriv_zh(no checksum)", "pii_multipriv_zh/test.jsonl", map[string]string{"ID_CARD": TypeCNID}, lenient},
	}
	for _, ds := range piiSets {
		r, err := evalPII(ctx, filepath.Join(dataDir, ds.file), ds.name, ds.m, ds.s)
		if err != nil {
			return nil, fmt.Errorf("evaluating %s: %w", ds.name, err)
		}
		rows = append(rows, r...)
	}
	inj, err := evalInjection(ctx, dataDir, def)
	if err != nil {
		return nil, err
	}
	rows = append(rows, inj...)
	if w != nil {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "dataset\ttype\tprecision\trecall\tF1\tn\ttp\tfp\tfn\tbenign\tFPR\t")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%.3f\t%.3f\t%.3f\t%d\t%d\t%d\t%d\t%d\t%.3f\t\n", r.Dataset, r.Type, r.Precision, r.Recall, r.F1, r.N, r.TP, r.FP, r.FN, r.Negatives, r.FPR)
		}
		if err := tw.Flush(); err != nil {
			return rows, err
		}
	}
	return rows, nil
}

func readLines(path string, fn func([]byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if err := fn(sc.Bytes()); err != nil {
			return err
		}
	}
	return sc.Err()
}

type span struct {
	typ        string
	start, end int
}

func evalPII(ctx context.Context, path, name string, m map[string]string, s *Scanner) ([]EvalRow, error) {
	scored := map[string]bool{}
	for _, t := range m {
		scored[t] = true
	}
	per := map[string]*EvalRow{}
	row := func(t string) *EvalRow {
		if per[t] == nil {
			per[t] = &EvalRow{Dataset: name, Type: t}
		}
		return per[t]
	}
	err := readLines(path, func(b []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		var r spanRow
		if err := json.Unmarshal(b, &r); err != nil {
			return err
		}
		gold := map[span]bool{}
		for _, e := range r.Entities {
			if t, ok := m[e.Type]; ok {
				gold[span{t, e.Start, e.End}] = true
			}
		}
		for g := range gold {
			row(g.typ).N++
		}
		for _, f := range s.PII(r.Text) {
			if !scored[f.Type] {
				continue
			}
			k := span{f.Type, f.Start, f.End}
			if gold[k] {
				row(f.Type).TP++
				delete(gold, k)
			} else {
				row(f.Type).FP++
			}
		}
		for g := range gold {
			row(g.typ).FN++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []EvalRow
	all := EvalRow{Dataset: name, Type: "ALL"}
	for _, r := range per {
		r.finish()
		out = append(out, *r)
		all.TP += r.TP
		all.FP += r.FP
		all.FN += r.FN
		all.N += r.N
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	if len(out) > 1 {
		all.finish()
		out = append(out, all)
	}
	return out, nil
}

// evalInjection scores injection on the test split of the injection
// corpus (LoadInjectionCorpus): one row per set, and per family where the
// data names families, with false-positive rates on the benign texts.
func evalInjection(ctx context.Context, dataDir string, s *Scanner) ([]EvalRow, error) {
	corpus, err := LoadInjectionCorpus(dataDir)
	if err != nil {
		return nil, err
	}
	byKey := map[string]*EvalRow{}
	var keys []string
	row := func(k string) *EvalRow {
		r := byKey[k]
		if r == nil {
			r = &EvalRow{Dataset: k, Type: "INJECTION"}
			byKey[k] = r
			keys = append(keys, k)
		}
		return r
	}
	for i, ex := range corpus {
		if ex.Split != "test" {
			continue
		}
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		got := s.Injection(ex.Text).Flagged
		ks := []string{ex.Set + "(" + ex.Lang + ")"}
		if ex.Family != "" && ex.Family != "ordinary" && !strings.HasPrefix(ex.Set, "obfuscated_") {
			ks = append(ks, ex.Set+"("+ex.Lang+")/"+ex.Family)
		}
		if !ex.Label {
			ks = append(ks, "all benign("+ex.Lang+")")
		}
		for _, k := range ks {
			r := row(k)
			switch {
			case got && ex.Label:
				r.TP++
			case got:
				r.FP++
			case ex.Label:
				r.FN++
			}
			if ex.Label {
				r.N++
			} else {
				r.Negatives++
			}
		}
	}
	sort.Strings(keys)
	var rows []EvalRow
	for _, k := range keys {
		r := byKey[k]
		r.finish()
		rows = append(rows, *r)
	}
	return rows, nil
}
