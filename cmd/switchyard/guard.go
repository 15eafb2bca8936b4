package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"switchyard/internal/config"
	"switchyard/internal/guard"
	"switchyard/internal/specialist"
)

const guardDesc = `
Privacy and safety checks, offline with the built-in recognisers.

  guard check [TEXT]        scan TEXT (or standard input): PII findings with
                            rune offsets, the injection score, content
                            categories and the redacted text, as JSON
  guard eval --data FILE    precision, recall and F1 per PII type and for
                            injection on a labelled JSONL file, one object per
                            line: {"text": "...", "entities": [{"type":
                            "PHONE", "start": 3, "end": 16}], "injection": false}
                            (start/end in runes, end exclusive; entities and
                            injection may be omitted when not labelled)
  guard eval --shared DIR   the evaluation on the public sets in DIR
                            (../shared/data): the README's table
  guard train --shared DIR [--out FILE] [--unlicensed]
                            train the built-in injection detector on the
                            corpus (DIR's public sets and the hand-written
                            sets in the binary; see the README) and write it
                            to FILE (default internal/guard/builtin_injection.bin);
                            --unlicensed adds Chinese review/title sets whose
                            sources state no licence
  --injection rules         (check, eval) score injection with the phrase
                            rules alone instead of the built-in detector
  --injection-specialist NAME  add a trained classifier (a specialist with
                            labels 0/1, e.g. trained on
                            prompt_injection_deepset/train.jsonl) to the rules

A server applies the same checks per project policy; see POST /v1/guard/check.`

// guardStdin is where guard check reads its text (tests replace it).
var guardStdin io.Reader = os.Stdin

func cmdGuard(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "train" {
		return guardTrain(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || (args[0] != "check" && args[0] != "eval") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintf(stdout, "Usage: switchyard guard check|eval|train [flags]\n%s\n", guardDesc)
			return nil
		}
		fmt.Fprintln(stderr, "Usage: switchyard guard check [TEXT] | guard eval --data FILE")
		return errUsage
	}
	if args[0] == "check" {
		fs := newFlags("guard check", "guard check [TEXT]", guardDesc, stdout)
		injection := fs.String("injection", "builtin", "injection scorer: builtin or rules")
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		sc, err := guard.New(guard.Options{Injection: *injection})
		if err != nil {
			return err
		}
		text := strings.Join(fs.Args(), " ")
		if fs.NArg() == 0 {
			b, err := io.ReadAll(guardStdin)
			if err != nil {
				return err
			}
			text = string(b)
		}
		res := sc.Scan(text)
		if res.Findings == nil {
			res.Findings = []guard.Finding{}
		}
		out := struct {
			guard.Result
			Redacted string `json:"redacted"`
		}{res, guard.NewRedactor().Redact(text, res.Findings)}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(out)
	}
	env := config.ReadEnv()
	fs := newFlags("guard eval", "guard eval --data FILE | --shared DIR [--injection-specialist NAME]", guardDesc, stdout)
	data := fs.String("data", "", "labelled JSONL file")
	shared := fs.String("shared", "", "directory of the public evaluation sets (../shared/data)")
	spec := fs.String("injection-specialist", "", "also score injection with this trained specialist (its promoted version)")
	dataDir := fs.String("data-dir", env.DataDir, "state directory holding the specialist (also SWITCHYARD_DATA_DIR; default ./switchyard-data)")
	injection := fs.String("injection", "builtin", "injection scorer: builtin or rules")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	opts := guard.Options{Injection: *injection}
	if *spec != "" {
		if *dataDir == "" {
			*dataDir = config.Default().DataDir
		}
		scorer, err := injectionScorer(*dataDir, *spec)
		if err != nil {
			return err
		}
		opts.Scorers = []guard.InjectionScorer{scorer}
	}
	sc, err := guard.New(opts)
	if err != nil {
		return err
	}
	switch {
	case *shared != "":
		_, err := guard.EvaluateWith(ctx, *shared, opts, stdout)
		return err
	case *data != "":
		return evalFile(sc, *data, stdout)
	}
	fmt.Fprintln(stderr, "switchyard guard eval: pass --data FILE or --shared DIR")
	return errUsage
}

// injectionScorer loads the promoted version of a specialist as an
// injection scorer.
func injectionScorer(dataDir, name string) (guard.InjectionScorer, error) {
	st, err := specialist.OpenStore(dataDir)
	if err != nil {
		return nil, err
	}
	m, _, err := st.LoadPromoted(name)
	if err != nil {
		return nil, fmt.Errorf("injection specialist %q: %w", name, err)
	}
	return guard.NewSpecialistScorer(m)
}

type labelled struct {
	Text     string `json:"text"`
	Entities *[]struct {
		Type       string `json:"type"`
		Start, End int
	} `json:"entities"`
	Injection *bool `json:"injection"`
}

type counts struct{ tp, fp, fn int }

func (c counts) row(name string) string {
	p, r := ratio(c.tp, c.tp+c.fp), ratio(c.tp, c.tp+c.fn)
	f := 0.0
	if p+r > 0 {
		f = 2 * p * r / (p + r)
	}
	return fmt.Sprintf("%s\t%.3f\t%.3f\t%.3f\t%d\t%d\t%d", name, p, r, f, c.tp, c.fp, c.fn)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// evalFile scores the scanner on a labelled JSONL file: exact span
// matches per type, and injection as a yes/no label.
func evalFile(sc *guard.Scanner, path string, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	per := map[string]*counts{}
	var inj counts
	injLabelled := false
	r := bufio.NewReader(f)
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if len(strings.TrimSpace(string(b))) > 0 {
			var ex labelled
			if jerr := json.Unmarshal(b, &ex); jerr != nil {
				return fmt.Errorf("%s:%d: %v", path, line, jerr)
			}
			res := sc.Scan(ex.Text)
			if ex.Entities != nil {
				gold := map[[3]string]bool{}
				for _, e := range *ex.Entities {
					gold[[3]string{e.Type, fmt.Sprint(e.Start), fmt.Sprint(e.End)}] = true
					if per[e.Type] == nil {
						per[e.Type] = &counts{}
					}
				}
				for _, fd := range res.Findings {
					k := [3]string{fd.Type, fmt.Sprint(fd.Start), fmt.Sprint(fd.End)}
					if per[fd.Type] == nil {
						per[fd.Type] = &counts{}
					}
					if gold[k] {
						per[fd.Type].tp++
						delete(gold, k)
					} else {
						per[fd.Type].fp++
					}
				}
				for k := range gold {
					per[k[0]].fn++
				}
			}
			if ex.Injection != nil {
				injLabelled = true
				switch {
				case *ex.Injection && res.Injection.Flagged:
					inj.tp++
				case *ex.Injection:
					inj.fn++
				case res.Injection.Flagged:
					inj.fp++
				}
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tPRECISION\tRECALL\tF1\tTP\tFP\tFN")
	types := make([]string, 0, len(per))
	for t := range per {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		fmt.Fprintln(tw, per[t].row(t))
	}
	if injLabelled {
		fmt.Fprintln(tw, inj.row("INJECTION"))
	}
	return tw.Flush()
}

// guardTrain trains the built-in injection detector.
func guardTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("guard train", "guard train --shared DIR [--out FILE]", guardDesc, stdout)
	shared := fs.String("shared", "", "the public data sets (../shared/data)")
	out := fs.String("out", "internal/guard/builtin_injection.bin", "where to write the model")
	unlicensed := fs.Bool("unlicensed", false, "also train on the Chinese review and title sets whose sources state no licence (only if you have cleared their use)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *shared == "" {
		return fmt.Errorf("guard train: --shared DIR is required: %w", errUsage)
	}
	corpus, err := guard.LoadInjectionCorpusWith(*shared, *unlicensed)
	if err != nil {
		return err
	}
	d, err := guard.TrainDetector(ctx, corpus, guard.TrainOptions{Log: func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) }})
	if err != nil {
		return err
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	if _, err := d.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %s\n", *out, d.Trained)
	return nil
}
