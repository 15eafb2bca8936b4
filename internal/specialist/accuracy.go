package specialist

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// suiteCase is one dataset setting of the accuracy suite.
type suiteCase struct {
	name     string
	train    []string // files concatenated
	val      string   // optional validation file
	test     string
	opt      LoadOptions
	cfg      Config
	metrics  []suiteMetric
	noRefit  bool
	fewshotK int
}

type suiteMetric struct {
	name   string
	get    func(*Report) float64
	target string
}

func accuracyMetric(target string) suiteMetric {
	return suiteMetric{"accuracy", func(r *Report) float64 { return r.Accuracy }, target}
}

func macroF1Metric(target string) suiteMetric {
	return suiteMetric{"macro-F1", func(r *Report) float64 { return r.MacroF1 }, target}
}

// SuiteRow is one measured line of the accuracy suite.
type SuiteRow struct {
	Dataset    string
	Metric     string
	Value      float64
	Target     string
	TrainSecs  float64
	TrainCPU   float64 // CPU seconds (all threads) spent training
	TrainRows  int
	ModelBytes int
}

func suiteCases() []suiteCase {
	b77 := LoadOptions{TextColumn: "text", LabelColumn: "category"}
	clinc := LoadOptions{TextColumn: "text", LabelColumn: "intent"}
	fc := LoadOptions{TextColumn: "sentence", LabelColumn: "label"}
	return []suiteCase{
		{name: "banking77 (full)", train: []string{"banking77/train.csv"}, test: "banking77/test.csv", opt: b77,
			metrics: []suiteMetric{accuracyMetric("≥ 0.925 (BERT-large 0.9366)"), macroF1Metric("")}},
		{name: "banking77 (full, balanced costs)", train: []string{"banking77/train.csv"}, test: "banking77/test.csv", opt: b77,
			cfg:     Config{Balanced: true},
			metrics: []suiteMetric{accuracyMetric("≥ 0.925 (BERT-large 0.9366)"), macroF1Metric("")}},
		{name: "banking77 (10-shot)", train: []string{"banking77/fewshot/train_10shot.csv"}, test: "banking77/test.csv", opt: b77,
			metrics: []suiteMetric{accuracyMetric("≥ 0.78 (USE+ConveRT 0.8519)")}},
		{name: "clinc150 (full, oos)", train: []string{"clinc150/train.jsonl"}, val: "clinc150/val.jsonl", test: "clinc150/test.jsonl", opt: clinc,
			cfg: Config{OOSLabel: "oos"},
			metrics: []suiteMetric{
				{"in-scope accuracy", func(r *Report) float64 { return r.InScopeAccuracy }, "≥ 0.94 (BERT 0.962)"},
				{"oos recall", func(r *Report) float64 { return r.OOSRecall }, "≥ 0.5 (BERT 0.523)"},
			}},
		{name: "waimai_10k", train: []string{"waimai_10k/train.csv"}, test: "waimai_10k/test.csv",
			opt:     LoadOptions{TextColumn: "review", LabelColumn: "label"},
			metrics: []suiteMetric{accuracyMetric("> 0.904 (plain n-gram)"), macroF1Metric("")}},
		{name: "online_shopping_10_cats category", train: []string{"online_shopping_10_cats/train-00.csv", "online_shopping_10_cats/train-01.csv", "online_shopping_10_cats/train-02.csv"},
			test: "online_shopping_10_cats/test.csv", opt: LoadOptions{TextColumn: "review", LabelColumn: "cat"},
			metrics: []suiteMetric{accuracyMetric("none published (majority 0.159)"), macroF1Metric("")}},
		{name: "online_shopping_10_cats sentiment", train: []string{"online_shopping_10_cats/train-00.csv", "online_shopping_10_cats/train-01.csv", "online_shopping_10_cats/train-02.csv"},
			test: "online_shopping_10_cats/test.csv", opt: LoadOptions{TextColumn: "review", LabelColumn: "label"},
			metrics: []suiteMetric{accuracyMetric("none published (majority 0.506)"), macroF1Metric("")}},
		{name: "FewCLUE EPRSTMT (train_0/dev_0)", train: []string{"fewclue/eprstmt/train_0.json"}, val: "fewclue/eprstmt/dev_0.json", test: "fewclue/eprstmt/test_public.json",
			opt: fc, noRefit: true, metrics: []suiteMetric{accuracyMetric("PET 0.872, FT-RoBERTa 0.632")}},
		{name: "FewCLUE TNEWS (train_0/dev_0)", train: []string{"fewclue/tnews/train_0.json"}, val: "fewclue/tnews/dev_0.json", test: "fewclue/tnews/test_public.json",
			opt: fc, noRefit: true, metrics: []suiteMetric{accuracyMetric("LM-BFF 0.563, FT-RoBERTa 0.493")}},
		{name: "FewCLUE IFLYTEK (train_0/dev_0)", train: []string{"fewclue/iflytek/train_0.json"}, val: "fewclue/iflytek/dev_0.json", test: "fewclue/iflytek/test_public.json",
			opt: fc, noRefit: true, metrics: []suiteMetric{accuracyMetric("LM-BFF 0.461, FT-RoBERTa 0.328")}},
	}
}

// RunAccuracySuite trains on each public dataset under dataDir (the
// shared/data layout), choosing hyper-parameters on validation only,
// evaluates once on the test split, and writes a table to w. With a
// non-empty filter only cases whose name contains one of its
// comma-separated parts run.
func RunAccuracySuite(ctx context.Context, dataDir string, filter string, w io.Writer) ([]SuiteRow, error) {
	var rows []SuiteRow
	fmt.Fprintf(w, "specialist accuracy suite (GOMAXPROCS=%d)\n", runtime.GOMAXPROCS(0))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "dataset\tmetric\tours\ttarget / anchor\ttrain s (wall)\ttrain s (cpu)\ttrain rows\tmodel MiB")
	for _, c := range suiteCases() {
		if filter != "" && !containsFold(c.name, filter) {
			continue
		}
		r, err := runCase(ctx, dataDir, c)
		if err != nil {
			return rows, fmt.Errorf("%s: %w", c.name, err)
		}
		for _, x := range r {
			rows = append(rows, x)
			fmt.Fprintf(tw, "%s\t%s\t%.4f\t%s\t%.1f\t%.1f\t%d\t%.2f\n", x.Dataset, x.Metric, x.Value, x.Target, x.TrainSecs, x.TrainCPU, x.TrainRows, float64(x.ModelBytes)/(1<<20))
		}
		tw.Flush()
	}
	return rows, tw.Flush()
}

func runCase(ctx context.Context, dataDir string, c suiteCase) ([]SuiteRow, error) {
	var train []Example
	for _, f := range c.train {
		ex, err := LoadFile(filepath.Join(dataDir, f), c.opt)
		if err != nil {
			return nil, err
		}
		train = append(train, ex...)
	}
	var val []Example
	if c.val != "" {
		var err error
		if val, err = LoadFile(filepath.Join(dataDir, c.val), c.opt); err != nil {
			return nil, err
		}
	}
	test, err := LoadFile(filepath.Join(dataDir, c.test), c.opt)
	if err != nil {
		return nil, err
	}
	cfg := c.cfg
	cfg.NoRefit = c.noRefit
	start, cpu0 := time.Now(), processCPU()
	m, _, err := Train(ctx, train, val, cfg)
	if err != nil {
		return nil, err
	}
	secs, cpu := time.Since(start).Seconds(), (processCPU() - cpu0).Seconds()
	size, err := m.EncodedSize()
	if err != nil {
		return nil, err
	}
	rep, err := Evaluate(ctx, m, test)
	if err != nil {
		return nil, err
	}
	var out []SuiteRow
	for _, mt := range c.metrics {
		out = append(out, SuiteRow{Dataset: c.name, Metric: mt.name, Value: mt.get(rep), Target: mt.target, TrainSecs: secs, TrainCPU: cpu, TrainRows: len(train) + len(val), ModelBytes: size})
	}
	return out, nil
}

// containsFold reports whether s contains any of the comma-separated
// parts of filter, ignoring case.
func containsFold(s, filter string) bool {
	for _, part := range strings.Split(filter, ",") {
		if part = strings.TrimSpace(part); part != "" && indexFold(s, part) >= 0 {
			return true
		}
	}
	return false
}
