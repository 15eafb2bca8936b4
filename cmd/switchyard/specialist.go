package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"switchyard/internal/config"
	spec "switchyard/internal/specialist"
)

const specialistDesc = `
Train, evaluate and version specialists: small text classifiers served by
deployments with provider: specialist. They live in the data directory
(DIR/specialists/NAME/vN), the same one 'serve' uses.

  train     --name NAME --data FILE [--eval FILE] [--text-column C] [--label-column C]
            train a new version from a CSV or JSONL file; it is promoted when
            there is none yet or it beats the promoted one (on --eval when
            given, else on validation accuracy)
  eval      --name NAME --data FILE [--version N] [--svg FILE]
            evaluate the promoted (or given) version and print the tables
  list      every specialist, its versions and the promoted one
  show      --name NAME: every version with its metrics
  promote   --name NAME --version N
  rollback  --name NAME: re-promote the version promoted before`

// specialistFlags are the flags of every specialist verb.
type specialistFlags struct {
	dataDir, name, data, eval, textCol, labelCol, svg string
	embedModel                                        string
	version                                           int
}

func cmdSpecialist(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	env := config.ReadEnv()
	fs := newFlags("specialist", "specialist train|eval|list|show|promote|rollback [flags]", specialistDesc, stdout)
	var f specialistFlags
	fs.StringVar(&f.dataDir, "data-dir", env.DataDir, "state directory (also SWITCHYARD_DATA_DIR; default ./switchyard-data)")
	fs.StringVar(&f.name, "name", "", "specialist name")
	fs.StringVar(&f.data, "data", "", "labelled data file (.csv, .tsv, .jsonl)")
	fs.StringVar(&f.eval, "eval", "", "train: evaluation file, also used to decide promotion")
	fs.StringVar(&f.embedModel, "embed-model", "", "train: a GGUF model whose sentence embeddings join the n-gram features (serving loads the same file)")
	fs.StringVar(&f.textCol, "text-column", "", "text column (default: the first of text, sentence, query, …)")
	fs.StringVar(&f.labelCol, "label-column", "", "label column (default: the first of label, intent, category, …)")
	fs.StringVar(&f.svg, "svg", "", "eval: also write the confusion matrix as an SVG file")
	fs.IntVar(&f.version, "version", 0, "version number (promote; eval: default the promoted one)")
	if err := parse(fs, interleave(fs, args)); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	verb := fs.Arg(0)
	if f.name == "" && fs.NArg() == 2 {
		f.name = fs.Arg(1) // "show NAME" works like "show --name NAME"
	} else if fs.NArg() > 1 {
		fs.Usage()
		return errUsage
	}
	if f.dataDir == "" {
		f.dataDir = config.Default().DataDir
	}
	if verb != "list" && f.name == "" {
		return errors.New("--name is required")
	}
	st, err := spec.OpenStore(f.dataDir)
	if err != nil {
		return err
	}
	switch verb {
	case "train":
		return specialistTrain(ctx, st, &f, stdout, stderr)
	case "eval":
		return specialistEval(ctx, st, &f, stdout)
	case "list":
		return specialistList(st, stdout)
	case "show":
		return specialistShow(st, f.name, stdout)
	case "promote":
		if f.version < 1 {
			return errors.New("--version is required")
		}
		if err := st.Promote(f.name, f.version); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: v%d promoted\n", f.name, f.version)
		return nil
	case "rollback":
		v, err := st.Rollback(f.name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: rolled back to v%d\n", f.name, v)
		return nil
	}
	fmt.Fprintf(stderr, "switchyard specialist: unknown verb %q\n", verb)
	return errUsage
}

func (f *specialistFlags) load(path string) ([]spec.Example, error) {
	if path == "" {
		return nil, errors.New("--data is required")
	}
	return spec.LoadFile(path, spec.LoadOptions{TextColumn: f.textCol, LabelColumn: f.labelCol})
}

func specialistTrain(ctx context.Context, st *spec.Store, f *specialistFlags, stdout, stderr io.Writer) error {
	if !spec.ValidName(f.name) {
		return fmt.Errorf("invalid name %q: use letters, digits, . _ - (at most 64)", f.name)
	}
	ex, err := f.load(f.data)
	if err != nil {
		return err
	}
	var eval []spec.Example
	if f.eval != "" {
		if eval, err = f.load(f.eval); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "training %s on %d rows from %s\n", f.name, len(ex), f.data)
	bar := &progressBar{w: stderr}
	cfg := spec.Config{Seed: 1, Progress: bar.update}
	if f.embedModel != "" {
		path, err := filepath.Abs(f.embedModel)
		if err != nil {
			return err
		}
		emb, err := spec.OpenEngineEmbedder(path)
		if err != nil {
			return err
		}
		defer emb.Close()
		cfg.Embedder = emb
	}
	m, res, err := spec.Train(ctx, ex, nil, cfg)
	bar.finish()
	if err != nil {
		return err
	}
	man := spec.NewManifest(m, res, ex)
	man.DataSource = f.data
	if emb, ok := cfg.Embedder.(*spec.EngineEmbedder); ok {
		man.EmbedModel = emb.Path
	}
	if len(eval) > 0 {
		rep, err := spec.Evaluate(ctx, m, eval)
		if err != nil {
			return err
		}
		sum := rep.Summary()
		man.Eval = &sum
	}
	if man, err = st.Add(f.name, m, man); err != nil {
		return err
	}
	gate, err := st.PromoteIfBetter(ctx, f.name, man.Version, eval)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s v%d: %d train + %d validation rows, %d labels, %.2fs, %d bytes\n",
		f.name, man.Version, man.TrainRows, man.ValRows, len(man.Labels), man.TrainSeconds, man.ModelBytes)
	fmt.Fprintf(stdout, "validation: accuracy %.4f  macro-F1 %.4f  in-scope accuracy %.4f\n",
		man.Validation.Accuracy, man.Validation.MacroF1, man.Validation.InScopeAccuracy)
	if man.Eval != nil {
		fmt.Fprintf(stdout, "eval:       accuracy %.4f  macro-F1 %.4f  in-scope accuracy %.4f (%d rows)\n",
			man.Eval.Accuracy, man.Eval.MacroF1, man.Eval.InScopeAccuracy, man.Eval.Rows)
	}
	if gate.Promoted {
		fmt.Fprintf(stdout, "promoted v%d (%s)\n", man.Version, gate.Reason)
	} else {
		fmt.Fprintf(stdout, "not promoted: v%d stays (%s: %.4f vs %.4f); promote with 'switchyard specialist promote --name %s --version %d'\n",
			gate.CurrentVersion, gate.Reason, gate.Candidate, gate.Current, f.name, man.Version)
	}
	return nil
}

func specialistEval(ctx context.Context, st *spec.Store, f *specialistFlags, stdout io.Writer) error {
	ex, err := f.load(f.data)
	if err != nil {
		return err
	}
	var m *spec.Model
	var man spec.Manifest
	if f.version > 0 {
		m, man, err = st.Load(f.name, f.version)
	} else {
		m, man, err = st.LoadPromoted(f.name)
	}
	if err != nil {
		return err
	}
	if m.UsesEmbeddings() {
		emb, err := spec.OpenEngineEmbedder(man.EmbedModel)
		if err != nil {
			return err
		}
		defer emb.Close()
		m.SetEmbedder(emb)
	}
	rep, err := spec.Evaluate(ctx, m, ex)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s v%d on %s\n\n", f.name, man.Version, f.data)
	if err := rep.WriteTable(stdout); err != nil {
		return err
	}
	if f.svg != "" {
		out, err := os.Create(f.svg)
		if err != nil {
			return err
		}
		if err := rep.WriteSVG(out); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	}
	return nil
}

func specialistList(st *spec.Store, stdout io.Writer) error {
	es, err := st.List()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSIONS\tPROMOTED\tLATEST\tLABELS\tVAL ACCURACY\tCREATED")
	for _, e := range es {
		promoted := "-"
		if e.Promoted > 0 {
			promoted = fmt.Sprintf("v%d", e.Promoted)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\tv%d\t%d\t%.4f\t%s\n", e.Name, e.Versions, promoted, e.Latest.Version,
			len(e.Latest.Labels), e.Latest.Validation.Accuracy, e.Latest.CreatedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

func specialistShow(st *spec.Store, name string, stdout io.Writer) error {
	vs, err := st.Versions(name)
	if err != nil {
		return err
	}
	p, err := st.Promoted(name)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d versions, labels %s\n\n", name, len(vs), strings.Join(vs[len(vs)-1].Labels, ", "))
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tPROMOTED\tROWS\tVAL ACCURACY\tMACRO F1\tEVAL ACCURACY\tSECONDS\tBYTES\tCREATED\tDATA")
	for _, m := range vs {
		mark, ev := "", "-"
		if m.Version == p {
			mark = "*"
		}
		if m.Eval != nil {
			ev = fmt.Sprintf("%.4f", m.Eval.Accuracy)
		}
		fmt.Fprintf(tw, "v%d\t%s\t%d\t%.4f\t%.4f\t%s\t%.2f\t%d\t%s\t%s\n", m.Version, mark, m.TrainRows+m.ValRows,
			m.Validation.Accuracy, m.Validation.MacroF1, ev, m.TrainSeconds, m.ModelBytes, m.CreatedAt.Format(time.RFC3339), m.DataSource)
	}
	return tw.Flush()
}

// progressBar draws training progress on one terminal line per stage.
type progressBar struct {
	w     io.Writer
	stage string
	last  int // characters drawn of the current bar, -1: none yet
}

const barWidth = 30

func (b *progressBar) update(p spec.Progress) {
	if p.Total <= 0 {
		return
	}
	if p.Stage != b.stage {
		if b.stage != "" {
			fmt.Fprintln(b.w)
		}
		b.stage, b.last = p.Stage, -1
	}
	n := barWidth * p.Done / p.Total
	if n == b.last && p.Done != p.Total {
		return
	}
	b.last = n
	fmt.Fprintf(b.w, "\r%-9s [%s%s] %d/%d", p.Stage, strings.Repeat("#", n), strings.Repeat(" ", barWidth-n), p.Done, p.Total)
}

func (b *progressBar) finish() {
	if b.stage != "" {
		fmt.Fprintln(b.w)
	}
}
