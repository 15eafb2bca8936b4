package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"switchyard/internal/config"
	"switchyard/internal/dataset"
	"switchyard/internal/db"
	"switchyard/internal/reqlog"
	spec "switchyard/internal/specialist"
)

const datasetDesc = `
Datasets for the data flywheel, kept in the local database (the one 'serve'
uses): import files, curate, annotate, export. Every operation makes a new,
immutable version with a content hash.

  create    NAME [--project ID]
  import    NAME FILE --format chat-jsonl|text-label-csv|text-label-jsonl|sharegpt [--skip-bad]
  curate    NAME [--version V] [--near-dup 0.8] [--min-chars N] [--max-chars N] [--lang zh,en] [--scrub-pii]
  annotate  NAME --annotator WHO --row N --label L|--accept|--reject|--correct TEXT|--prefer a|b
            NAME --annotator WHO            (the annotator's queue)
            NAME --agreement | --apply      (kappa; make a version of the reviewed rows)
  export    NAME --format openai-chat|dpo|prompt-chosen-rejected|classification-csv|eval-jsonl [-o FILE]
  list      every dataset with its latest version
  show      NAME [--version V]: versions, hashes, row counts and the version's report
  diff      A B: what changed between two versions (version ids or NAME@N)
  from-logs NAME [--feedback negative] [--tag T] [--model M] [--text Q] [--only-corrected]
            add the project's kept conversations (corrections replace answers)

Run 'switchyard dataset VERB --help' for a verb's flags.`

// datasetVerbs holds each verb's synopsis and description.
var datasetVerbs = map[string][2]string{
	"create":   {"dataset create NAME [--project ID]", "Create an empty dataset."},
	"import":   {"dataset import NAME FILE --format F [--skip-bad]", "Import a file as a new version (the latest rows followed by the file's).\nFormats: chat-jsonl, text-label-csv, text-label-jsonl, sharegpt. Malformed\nlines are listed with their numbers; without --skip-bad they refuse the import."},
	"curate":   {"dataset curate NAME [--version V] [flags]", "Curate a version (default the latest) into a new one: label conflicts, exact\nand near-duplicates, quality filters, PII scrubbing, rare labels. Each step\nreports how many rows it removed and why, with examples."},
	"annotate": {"dataset annotate NAME --annotator WHO [--row N --label L|--accept|--reject|--correct TEXT|--prefer a|b] | --agreement | --apply", "Annotate rows of a version (default the latest). With --annotator alone,\nshow that annotator's queue; --agreement prints Cohen's or Fleiss' kappa;\n--apply makes a new version of the accepted, corrected and labelled rows."},
	"export":   {"dataset export NAME --format F [--version V] [-o FILE]", "Export a version (default the latest). Formats: openai-chat, dpo,\nprompt-chosen-rejected, classification-csv, eval-jsonl."},
	"list":     {"dataset list [--project ID]", "List datasets with their latest version."},
	"show":     {"dataset show NAME [--version V]", "Show a dataset's versions and one version's report (default the latest)."},
	"diff":     {"dataset diff A B", "Show what changed from version A to version B (version ids or NAME@N)."},
	"from-logs": {"dataset from-logs NAME [--feedback any|positive|negative|none] [--tag T] [--model M] [--text Q] [--from DATE] [--to DATE] [--limit N] [--only-corrected]",
		"Add the conversations the dataset's project kept in its request logs as chat\nrows: the messages sent, then the answer, or the correction from feedback\nwhen a person gave one. Makes a new version."},
}

type datasetFlags struct {
	dataDir, database, project, format, version, out, lang string
	annotator, label, correct, prefer, textCol, labelCol   string
	feedback, tag, model, text, from, to                   string
	onlyCorrected                                          bool
	skipBad, scrubPII, accept, reject, agreement, apply    bool
	nearDup                                                float64
	minChars, maxChars, row, limit                         int
}

func cmdDataset(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(stdout, "Usage: switchyard dataset VERB [flags]\n\n%s\n", strings.TrimSpace(datasetDesc))
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	verb := args[0]
	info, ok := datasetVerbs[verb]
	if !ok {
		fmt.Fprintf(stderr, "switchyard dataset: unknown verb %q\n", verb)
		return errUsage
	}
	env := config.ReadEnv()
	fs := newFlags("dataset "+verb, info[0], info[1], stdout)
	var f datasetFlags
	fs.StringVar(&f.dataDir, "data-dir", env.DataDir, "state directory (also SWITCHYARD_DATA_DIR; default ./switchyard-data)")
	fs.StringVar(&f.database, "database", "", "database URL (default: the data directory's SQLite file)")
	switch verb {
	case "create", "list":
		fs.StringVar(&f.project, "project", "", "project id")
	case "import":
		fs.StringVar(&f.format, "format", "", "file format: "+strings.Join(dataset.ImportFormats, ", "))
		fs.BoolVar(&f.skipBad, "skip-bad", false, "skip malformed lines instead of refusing the import")
		fs.StringVar(&f.textCol, "text-column", "", "text-label formats: the text column (default text)")
		fs.StringVar(&f.labelCol, "label-column", "", "text-label formats: the label column (default label)")
	case "curate":
		d := dataset.DefaultCurateOptions()
		fs.StringVar(&f.version, "version", "", "version number or id (default the latest)")
		fs.Float64Var(&f.nearDup, "near-dup", d.NearDup, "near-duplicate Jaccard threshold (0: off)")
		fs.IntVar(&f.minChars, "min-chars", 0, "drop rows shorter than this many characters")
		fs.IntVar(&f.maxChars, "max-chars", 0, "drop rows longer than this many characters")
		fs.StringVar(&f.lang, "lang", "", "keep only these languages (comma-separated: zh, en, other)")
		fs.BoolVar(&f.scrubPII, "scrub-pii", false, "replace PII with placeholders")
		fs.IntVar(&f.limit, "min-label-count", d.MinLabelCount, "drop labels with fewer rows (0: off)")
	case "annotate":
		fs.StringVar(&f.version, "version", "", "version number or id (default the latest)")
		fs.StringVar(&f.annotator, "annotator", "", "who is annotating")
		fs.IntVar(&f.row, "row", -1, "row index")
		fs.StringVar(&f.label, "label", "", "set the row's label")
		fs.BoolVar(&f.accept, "accept", false, "accept the row")
		fs.BoolVar(&f.reject, "reject", false, "reject the row")
		fs.StringVar(&f.correct, "correct", "", "replace the row's answer with this text")
		fs.StringVar(&f.prefer, "prefer", "", "which answer of a preference pair is better: a (chosen) or b (rejected)")
		fs.BoolVar(&f.agreement, "agreement", false, "print inter-annotator agreement")
		fs.BoolVar(&f.apply, "apply", false, "make a new version of the reviewed rows")
		fs.IntVar(&f.limit, "limit", 10, "queue length")
	case "export":
		fs.StringVar(&f.version, "version", "", "version number or id (default the latest)")
		fs.StringVar(&f.format, "format", "", "export format: "+strings.Join(dataset.ExportFormats, ", "))
		fs.StringVar(&f.out, "o", "", "output file (default stdout)")
	case "show":
		fs.StringVar(&f.version, "version", "", "version number or id (default the latest)")
	case "from-logs":
		fs.StringVar(&f.feedback, "feedback", "", "only logs with this feedback: any, positive, negative, none")
		fs.StringVar(&f.tag, "tag", "", "only logs with this x-switchyard-tags tag")
		fs.StringVar(&f.model, "model", "", "only logs of this model")
		fs.StringVar(&f.text, "text", "", "only logs containing this text")
		fs.StringVar(&f.from, "from", "", "only logs from this date (2026-11-01) or time on")
		fs.StringVar(&f.to, "to", "", "only logs before this date or time")
		fs.IntVar(&f.limit, "limit", 1000, "at most this many conversations (newest first)")
		fs.BoolVar(&f.onlyCorrected, "only-corrected", false, "only conversations whose answer a person corrected")
	}
	if err := parse(fs, interleave(fs, args[1:])); err != nil {
		return err
	}
	want := map[string]int{"create": 1, "import": 2, "curate": 1, "annotate": 1, "export": 1, "list": 0, "show": 1, "diff": 2, "from-logs": 1}[verb]
	if fs.NArg() != want {
		fs.Usage()
		return errUsage
	}
	if f.dataDir == "" {
		f.dataDir = config.Default().DataDir
	}
	d, err := db.Open(ctx, f.database, f.dataDir)
	if err != nil {
		return err
	}
	defer d.Close()
	st := dataset.Open(d)
	a := fs.Args()
	switch verb {
	case "create":
		ds, err := st.Create(ctx, a[0], f.project)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created dataset %s (%s)\n", ds.Name, ds.ID)
		return nil
	case "import":
		return datasetImport(ctx, st, a[0], a[1], &f, stdout)
	case "curate":
		return datasetCurate(ctx, st, a[0], &f, stdout, stderr)
	case "annotate":
		return datasetAnnotate(ctx, st, a[0], &f, stdout)
	case "export":
		return datasetExport(ctx, st, a[0], &f, stdout, stderr)
	case "list":
		return datasetList(ctx, st, f.project, stdout)
	case "show":
		return datasetShow(ctx, st, a[0], f.version, stdout)
	case "diff":
		return datasetDiff(ctx, st, a[0], a[1], stdout)
	case "from-logs":
		return datasetFromLogs(ctx, d, st, a[0], &f, stdout)
	}
	return errUsage
}

func datasetFromLogs(ctx context.Context, d *db.DB, st *dataset.Store, name string, f *datasetFlags, stdout io.Writer) error {
	ds, err := st.Get(ctx, name)
	if err != nil {
		return err
	}
	if ds.ProjectID == "" {
		return fmt.Errorf("dataset %s belongs to no project, so it has no request logs (create it with --project)", name)
	}
	q := reqlog.Query{ProjectID: ds.ProjectID, Feedback: f.feedback, Tag: f.tag, Model: f.model, Text: f.text, Limit: f.limit}
	for _, p := range []struct {
		v   string
		dst *time.Time
	}{{f.from, &q.From}, {f.to, &q.To}} {
		if p.v == "" {
			continue
		}
		t, err := time.Parse("2006-01-02", p.v)
		if err != nil {
			if t, err = time.Parse(time.RFC3339, p.v); err != nil {
				return fmt.Errorf("--from/--to: want 2006-01-02 or an RFC 3339 time, got %q", p.v)
			}
		}
		*p.dst = t
	}
	rows, corrected, err := reqlog.DatasetRows(ctx, d, q, f.onlyCorrected)
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		return errors.New("the query selects no kept conversations (does the project keep bodies?)")
	}
	v, err := st.AddRows(ctx, ds.ID, rows, "from-logs")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s v%d: %d conversations from the request logs (%d with a correction), %d rows in all\n", ds.Name, v.N, len(rows), corrected, v.RowCount)
	return nil
}

// resolve finds NAME's version v (a number, NAME@N, or an id), or its latest.
func resolve(ctx context.Context, st *dataset.Store, name, v string) (*dataset.Version, error) {
	switch {
	case v == "":
		return st.Resolve(ctx, name)
	case strings.HasPrefix(v, "dsv_"):
		return st.Resolve(ctx, v)
	}
	return st.Resolve(ctx, name+"@"+strings.TrimPrefix(v, "v"))
}

func datasetImport(ctx context.Context, st *dataset.Store, name, path string, f *datasetFlags, stdout io.Writer) error {
	if f.format == "" {
		return errors.New("--format is required (" + strings.Join(dataset.ImportFormats, ", ") + ")")
	}
	ds, err := st.Get(ctx, name)
	if err != nil {
		return err
	}
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	opt := dataset.ImportOptions{SkipBad: f.skipBad, TextColumn: f.textCol, LabelColumn: f.labelCol, Source: filepath.Base(path)}
	v, rep, err := st.Import(ctx, ds.ID, in, f.format, opt)
	if rep != nil && len(rep.Errors) > 0 {
		fmt.Fprintf(stdout, "%d malformed lines in %s:\n", rep.Skipped, path)
		for _, le := range rep.Errors {
			fmt.Fprintf(stdout, "  line %d: %s\n", le.Line, le.Err)
		}
		if rep.Skipped > len(rep.Errors) {
			fmt.Fprintf(stdout, "  … and %d more\n", rep.Skipped-len(rep.Errors))
		}
	}
	if err != nil {
		var ie *dataset.ImportError
		if errors.As(err, &ie) {
			return fmt.Errorf("import refused: %d malformed lines; fix them or pass --skip-bad", ie.Report.Skipped)
		}
		return err
	}
	fmt.Fprintf(stdout, "%s v%d: imported %d rows from %s (%d skipped); %d rows, content %s\n",
		ds.Name, v.N, rep.Rows, path, rep.Skipped, v.RowCount, short(v.ContentHash))
	return nil
}

func datasetCurate(ctx context.Context, st *dataset.Store, name string, f *datasetFlags, stdout, stderr io.Writer) error {
	v, err := resolve(ctx, st, name, f.version)
	if err != nil {
		return err
	}
	o := dataset.DefaultCurateOptions()
	o.NearDup, o.MinChars, o.MaxChars, o.ScrubPII, o.MinLabelCount = f.nearDup, f.minChars, f.maxChars, f.scrubPII, f.limit
	if f.lang != "" {
		for _, l := range strings.Split(f.lang, ",") {
			o.Langs = append(o.Langs, strings.TrimSpace(l))
		}
	}
	fmt.Fprintf(stderr, "curating %s v%d (%d rows)\n", name, v.N, v.RowCount)
	nv, rep, err := st.Curate(ctx, v.ID, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s v%d → v%d: %d → %d rows in %.2fs, content %s\n", name, v.N, nv.N, rep.Input, rep.Output, rep.Seconds, short(nv.ContentHash))
	printCuration(stdout, rep)
	return nil
}

func printCuration(w io.Writer, rep *dataset.CurationReport) {
	for _, s := range rep.Steps {
		what := fmt.Sprintf("removed %d", s.Removed)
		if s.Step == "pii" {
			what = fmt.Sprintf("scrubbed %d rows", s.Changed)
		}
		var reasons []string
		for r, n := range s.Reasons {
			reasons = append(reasons, fmt.Sprintf("%s %d", r, n))
		}
		sort.Strings(reasons)
		fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("  %-17s %-18s %s", s.Step, what, strings.Join(reasons, ", ")), " "))
		for _, e := range s.Examples {
			fmt.Fprintf(w, "      row %d (%s): %s\n", e.Row, e.Reason, oneLine(e.Text))
		}
	}
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 80 {
		return string(r[:80]) + "…"
	}
	return s
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func datasetAnnotate(ctx context.Context, st *dataset.Store, name string, f *datasetFlags, stdout io.Writer) error {
	v, err := resolve(ctx, st, name, f.version)
	if err != nil {
		return err
	}
	if f.agreement {
		ag, err := st.Agreement(ctx, v.ID)
		if err != nil {
			return err
		}
		if ag.Method == "none" {
			fmt.Fprintf(stdout, "%s v%d: no row judged by two annotators yet (%d annotators)\n", name, v.N, len(ag.Annotators))
			return nil
		}
		fmt.Fprintf(stdout, "%s v%d: %s's kappa %.3f over %d rows (%d annotations by %s); observed agreement %.3f, by chance %.3f\n",
			name, v.N, map[string]string{"cohen": "Cohen", "fleiss": "Fleiss"}[ag.Method], ag.Kappa, ag.Items, ag.Annotations,
			strings.Join(ag.Annotators, ", "), ag.Observed, ag.Expected)
		return nil
	}
	if f.apply {
		nv, err := st.ApplyAnnotations(ctx, v.ID)
		if err != nil {
			return err
		}
		var ar dataset.ApplyReport
		json.Unmarshal(nv.Report, &ar)
		fmt.Fprintf(stdout, "%s v%d → v%d: %d rows (%d reviewed, %d rejected, %d relabelled, %d corrected, %d swapped; %d unreviewed left out)\n",
			name, v.N, nv.N, nv.RowCount, ar.Reviewed, ar.Rejected, ar.Relabelled, ar.Corrected, ar.Swapped, ar.Unreviewed)
		return nil
	}
	if f.annotator == "" {
		return errors.New("--annotator is required")
	}
	var a dataset.Annotation
	n := 0
	if f.label != "" {
		a, n = dataset.Annotation{Kind: dataset.KindLabel, Label: f.label}, n+1
	}
	if f.accept {
		a, n = dataset.Annotation{Kind: dataset.KindAccept}, n+1
	}
	if f.reject {
		a, n = dataset.Annotation{Kind: dataset.KindReject}, n+1
	}
	if f.correct != "" {
		a, n = dataset.Annotation{Kind: dataset.KindCorrect, Text: f.correct}, n+1
	}
	if f.prefer != "" {
		a, n = dataset.Annotation{Kind: dataset.KindRank, Prefer: f.prefer}, n+1
	}
	switch {
	case n > 1:
		return errors.New("give one of --label, --accept, --reject, --correct, --prefer")
	case n == 1:
		if f.row < 0 {
			return errors.New("--row is required")
		}
		if err := st.Annotate(ctx, v.ID, f.row, f.annotator, a); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s v%d row %d: %s by %s\n", name, v.N, f.row, a.Kind, f.annotator)
		return nil
	}
	q, err := st.Queue(ctx, v.ID, f.annotator, f.limit)
	if err != nil {
		return err
	}
	if len(q) == 0 {
		fmt.Fprintf(stdout, "%s v%d: nothing left for %s\n", name, v.N, f.annotator)
		return nil
	}
	fmt.Fprintf(stdout, "%s v%d: next rows for %s\n", name, v.N, f.annotator)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROW\tJUDGED\tLABEL\tTEXT")
	for _, it := range q {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\n", it.Row, it.Annotations, it.Data.Label, oneLine(it.Data.Content()))
	}
	return tw.Flush()
}

func datasetExport(ctx context.Context, st *dataset.Store, name string, f *datasetFlags, stdout, stderr io.Writer) error {
	if f.format == "" {
		return errors.New("--format is required (" + strings.Join(dataset.ExportFormats, ", ") + ")")
	}
	v, err := resolve(ctx, st, name, f.version)
	if err != nil {
		return err
	}
	w := stdout
	var file *os.File
	if f.out != "" && f.out != "-" {
		if file, err = os.Create(f.out); err != nil {
			return err
		}
		defer file.Close()
		w = file
	}
	var progress func(done, total int)
	bar := &progressBar{w: stderr}
	if v.RowCount >= 10_000 {
		progress = func(done, total int) {
			bar.update(spec.Progress{Stage: "export", Done: done, Total: total})
		}
	}
	n, err := st.Export(ctx, v.ID, f.format, w, progress)
	bar.finish()
	if err != nil {
		return err
	}
	if file != nil {
		if err := file.Close(); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "%s v%d: exported %d of %d rows as %s\n", name, v.N, n, v.RowCount, f.format)
	return nil
}

func datasetList(ctx context.Context, st *dataset.Store, project string, stdout io.Writer) error {
	ds, err := st.List(ctx, project)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPROJECT\tVERSIONS\tLATEST\tOP\tROWS\tCONTENT\tCREATED")
	for _, d := range ds {
		vs, err := st.Versions(ctx, d.ID)
		if err != nil {
			return err
		}
		latest, op, rows, hash := "-", "-", "-", "-"
		if len(vs) > 0 {
			l := vs[len(vs)-1]
			latest, op, rows, hash = "v"+strconv.Itoa(l.N), l.Op, strconv.Itoa(l.RowCount), short(l.ContentHash)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", d.Name, orDash(d.ProjectID), len(vs), latest, op, rows, hash, d.CreatedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func datasetShow(ctx context.Context, st *dataset.Store, name, version string, stdout io.Writer) error {
	ds, err := st.Get(ctx, name)
	if err != nil {
		return err
	}
	vs, err := st.Versions(ctx, ds.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s (%s), project %s, %d versions\n\n", ds.Name, ds.ID, orDash(ds.ProjectID), len(vs))
	if len(vs) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tOP\tROWS\tCONTENT\tPARENT\tID\tCREATED")
	byID := map[string]int{}
	for _, v := range vs {
		byID[v.ID] = v.N
	}
	for _, v := range vs {
		parent := "-"
		if n, ok := byID[v.Parent]; ok {
			parent = "v" + strconv.Itoa(n)
		}
		fmt.Fprintf(tw, "v%d\t%s\t%d\t%s\t%s\t%s\t%s\n", v.N, v.Op, v.RowCount, short(v.ContentHash), parent, v.ID, v.CreatedAt.Format(time.RFC3339))
	}
	tw.Flush()
	v, err := resolve(ctx, st, ds.ID, version)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nv%d: %s %s, content %s\n", v.N, v.Op, string(v.Params), v.ContentHash)
	switch v.Op {
	case "curate":
		var rep dataset.CurationReport
		if err := json.Unmarshal(v.Report, &rep); err == nil {
			fmt.Fprintf(stdout, "curation: %d → %d rows in %.2fs\n", rep.Input, rep.Output, rep.Seconds)
			printCuration(stdout, &rep)
		}
	case "import":
		var rep dataset.ImportReport
		if err := json.Unmarshal(v.Report, &rep); err == nil {
			fmt.Fprintf(stdout, "import: %d rows from %s (%s), %d malformed lines skipped\n", rep.Rows, orDash(rep.Source), rep.Format, rep.Skipped)
			for _, le := range rep.Errors {
				fmt.Fprintf(stdout, "  line %d: %s\n", le.Line, le.Err)
			}
		}
	default:
		if len(v.Report) > 0 && string(v.Report) != "null" {
			fmt.Fprintf(stdout, "report: %s\n", v.Report)
		}
	}
	return nil
}

func datasetDiff(ctx context.Context, st *dataset.Store, a, b string, stdout io.Writer) error {
	va, err := st.Resolve(ctx, a)
	if err != nil {
		return err
	}
	vb, err := st.Resolve(ctx, b)
	if err != nil {
		return err
	}
	d, err := st.Diff(ctx, va.ID, vb.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s (v%d, %d rows, %s) → %s (v%d, %d rows, %s)\n", a, va.N, va.RowCount, short(va.ContentHash), b, vb.N, vb.RowCount, short(vb.ContentHash))
	if va.ContentHash == vb.ContentHash {
		fmt.Fprintln(stdout, "identical content")
	}
	fmt.Fprintf(stdout, "%d added, %d removed, %d changed, %d unchanged\n", d.Added, d.Removed, d.Changed, d.Unchanged)
	for _, c := range d.Examples {
		switch c.Kind {
		case "+":
			fmt.Fprintf(stdout, "+ row %d: %s\n", c.Row, oneLine(c.New))
		case "-":
			fmt.Fprintf(stdout, "- row %d: %s\n", c.Row, oneLine(c.Old))
		default:
			fmt.Fprintf(stdout, "~ row %d: %s\n          → %s\n", c.Row, oneLine(c.Old), oneLine(c.New))
		}
	}
	if n := d.Added + d.Removed + d.Changed; n > len(d.Examples) {
		fmt.Fprintf(stdout, "… and %d more\n", n-len(d.Examples))
	}
	return nil
}
