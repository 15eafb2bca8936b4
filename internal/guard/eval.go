package guard

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
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
}

func (r *EvalRow) finish() {
	if r.TP+r.FP > 0 {
		r.Precision = round3(float64(r.TP) / float64(r.TP+r.FP))
	}
	if r.TP+r.FN > 0 {
		r.Recall = round3(float64(r.TP) / float64(r.TP+r.FN))
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
		fmt.Fprintln(tw, "dataset\ttype\tprecision\trecall\tF1\tn\ttp\tfp\tfn\t")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%.3f\t%.3f\t%.3f\t%d\t%d\t%d\t%d\t\n", r.Dataset, r.Type, r.Precision, r.Recall, r.F1, r.N, r.TP, r.FP, r.FN)
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

// evalInjection scores the injection rules: deepset test (and train, on
// which the phrase lists were written), CyberSecEval English and Chinese
// (positives only), and JailBench jailbreak prompts against benign
// Chinese questions (AFQMC sentence1 and TNEWS titles).
func evalInjection(ctx context.Context, dataDir string, s *Scanner) ([]EvalRow, error) {
	var rows []EvalRow
	score := func(name string, texts []string, labels []bool) {
		r := EvalRow{Dataset: name, Type: "INJECTION"}
		for i, t := range texts {
			got := s.Injection(t).Flagged
			switch {
			case got && labels[i]:
				r.TP++
			case got:
				r.FP++
			case labels[i]:
				r.FN++
			}
			if labels[i] {
				r.N++
			}
		}
		r.finish()
		rows = append(rows, r)
	}
	for _, split := range []string{"test", "train"} {
		var texts []string
		var labels []bool
		err := readLines(filepath.Join(dataDir, "prompt_injection_deepset", split+".jsonl"), func(b []byte) error {
			var r struct {
				Text  string `json:"text"`
				Label int    `json:"label"`
			}
			if err := json.Unmarshal(b, &r); err != nil {
				return err
			}
			texts = append(texts, r.Text)
			labels = append(labels, r.Label == 1)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading deepset: %w", err)
		}
		score("deepset_"+split, texts, labels)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type cse struct {
		UserInput string `json:"user_input"`
		Lang      string `json:"speaking_language"`
	}
	readCSE := func(file string) ([]cse, error) {
		b, err := os.ReadFile(filepath.Join(dataDir, "cyberseceval_prompt_injection", file))
		if err != nil {
			return nil, err
		}
		var cs []cse
		return cs, json.Unmarshal(b, &cs)
	}
	en, err := readCSE("prompt_injection.json")
	if err != nil {
		return nil, fmt.Errorf("reading cyberseceval: %w", err)
	}
	ml, err := readCSE("prompt_injection_multilingual_machine_translated.json")
	if err != nil {
		return nil, fmt.Errorf("reading cyberseceval: %w", err)
	}
	var enT, zhT []string
	for _, c := range en {
		enT = append(enT, c.UserInput)
	}
	for _, c := range ml {
		if c.Lang == "Chinese" {
			zhT = append(zhT, c.UserInput)
		}
	}
	score("cyberseceval_en(pos only)", enT, trues(len(enT)))
	score("cyberseceval_zh(pos only)", zhT, trues(len(zhT)))

	jb, err := readCSVColumn(filepath.Join(dataDir, "jailbench_zh", "JailBench.csv"), 1)
	if err != nil {
		return nil, fmt.Errorf("reading jailbench: %w", err)
	}
	var benign []string
	err = readLines(filepath.Join(dataDir, "afqmc_zh", "test.jsonl"), func(b []byte) error {
		var r struct {
			S string `json:"sentence1"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			return err
		}
		benign = append(benign, r.S)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading afqmc: %w", err)
	}
	err = readLines(filepath.Join(dataDir, "fewclue", "tnews", "test_public.json"), func(b []byte) error {
		var r struct {
			S string `json:"sentence"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			return err
		}
		benign = append(benign, r.S)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading tnews: %w", err)
	}
	texts := append(append([]string{}, jb...), benign...)
	labels := append(trues(len(jb)), make([]bool, len(benign))...)
	score("jailbench_zh+benign_zh", texts, labels)
	score("benign_zh(neg only)", benign, make([]bool, len(benign)))
	return rows, nil
}

func trues(n int) []bool {
	b := make([]bool, n)
	for i := range b {
		b[i] = true
	}
	return b
}

func readCSVColumn(path string, col int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		return nil, err
	}
	var out []string
	for i, rec := range recs {
		if i == 0 || len(rec) <= col {
			continue
		}
		out = append(out, rec[col])
	}
	return out, nil
}
