package dataset

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"switchyard/internal/db"
	"switchyard/internal/db/dbtest"
	"switchyard/internal/specialist"
)

const csvIn = "text,label\nwhere is my card,card\nhow do I get a refund,refund\nI want my money back,refund\n"

func TestVersions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := Open(d)
		ds, err := s.Create(ctx, "intents", "p1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Create(ctx, "intents", "p1"); err == nil {
			t.Error("duplicate name accepted")
		}
		if _, err := s.Create(ctx, "bad name", "p1"); err == nil {
			t.Error("invalid name accepted")
		}
		// A refused import stores nothing.
		_, rep, err := s.Import(ctx, ds.ID, strings.NewReader(csvIn+"a,b,c\n"), FormatTextLabelCSV, ImportOptions{})
		var ie *ImportError
		if !errors.As(err, &ie) || rep.Skipped != 1 || rep.Errors[0].Line != 5 {
			t.Fatalf("import = %v, %+v", err, rep)
		}
		if vs, _ := s.Versions(ctx, ds.ID); len(vs) != 0 {
			t.Fatalf("refused import made %d versions", len(vs))
		}
		v1, rep, err := s.Import(ctx, ds.ID, strings.NewReader(csvIn), FormatTextLabelCSV, ImportOptions{Source: "a.csv"})
		if err != nil {
			t.Fatal(err)
		}
		if v1.N != 1 || v1.RowCount != 3 || rep.Rows != 3 {
			t.Errorf("v1 = %+v, report %+v", v1, rep)
		}
		// The content hash depends on the rows only: another dataset with
		// the same rows from another file has the same hash.
		ds2, _ := s.Create(ctx, "copy", "p1")
		w1, _, err := s.Import(ctx, ds2.ID, strings.NewReader(csvIn), FormatTextLabelCSV, ImportOptions{Source: "b.csv"})
		if err != nil {
			t.Fatal(err)
		}
		if w1.ContentHash != v1.ContentHash {
			t.Errorf("same rows, hashes %s and %s", v1.ContentHash, w1.ContentHash)
		}
		hs, _ := s.rowHashes(ctx, v1.ID)
		if ContentHash(hs) != v1.ContentHash {
			t.Error("stored content hash does not match the rows")
		}
		// AddRows appends, keeping v1 as it was.
		v2, err := s.AddRows(ctx, ds.ID, []Row{{Text: "cancel my order", Label: "cancel", Origin: Origin{Source: "log", RequestID: "req_1"}}}, "log-query")
		if err != nil {
			t.Fatal(err)
		}
		if v2.N != 2 || v2.Parent != v1.ID || v2.RowCount != 4 || v2.Op != "log-query" {
			t.Errorf("v2 = %+v", v2)
		}
		rows1, _ := s.Rows(ctx, v1.ID)
		if len(rows1) != 3 {
			t.Errorf("v1 has %d rows after AddRows", len(rows1))
		}
		rows2, _ := s.Rows(ctx, v2.ID)
		if rows2[3].Origin.RequestID != "req_1" || rows2[0].Origin.Source != "a.csv" || rows2[0].Origin.Line != 2 {
			t.Errorf("origins = %+v", rows2)
		}
		if again, _ := s.Version(ctx, v1.ID); again.ContentHash != v1.ContentHash || again.RowCount != 3 {
			t.Error("v1 changed")
		}
		// Resolving references.
		for _, ref := range []string{"intents@1", v1.ID} {
			v, err := s.Resolve(ctx, ref)
			if err != nil || v.ID != v1.ID {
				t.Errorf("Resolve(%q) = %v, %v", ref, v, err)
			}
		}
		if v, err := s.Resolve(ctx, "intents"); err != nil || v.ID != v2.ID {
			t.Errorf("Resolve(intents) = %v, %v", v, err)
		}
		if _, err := s.Resolve(ctx, "intents@9"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Resolve(intents@9) = %v", err)
		}
		list, _ := s.List(ctx, "")
		if len(list) != 2 || list[0].Name != "copy" {
			t.Errorf("List = %+v", list)
		}
		// Diff v1 → v2: one row added.
		df, err := s.Diff(ctx, v1.ID, v2.ID)
		if err != nil {
			t.Fatal(err)
		}
		if df.Added != 1 || df.Removed != 0 || df.Unchanged != 3 || df.Examples[0].Kind != "+" || df.Examples[0].Row != 3 {
			t.Errorf("diff = %+v", df)
		}
	})
}

func TestCurateSteps(t *testing.T) {
	long := "the quick brown fox jumps over the lazy dog while the farmer watches from the porch and drinks his coffee slowly"
	rows := []Row{
		0:  {Text: long, Label: "a"},
		1:  {Text: "THE  quick brown fox jumps over the lazy dog while the farmer watches from the porch and drinks his coffee slowly", Label: "a"}, // exact dup of 0
		2:  {Text: long + " today", Label: "a"},                                                                                                     // near dup of 0
		3:  {Text: "refund please, the parcel never arrived at my door", Label: "b"},                                                                // conflict, majority b
		4:  {Text: "Refund please, the parcel never arrived at my door", Label: "b"},
		5:  {Text: "refund please, the parcel never arrived at my door", Label: "c"},
		6:  {Text: "tie text for the test", Label: "a"}, // tie
		7:  {Text: "tie text for the test", Label: "b"},
		8:  {Text: "hi", Label: "a"},                                                                      // too short
		9:  {Text: "buy now buy now buy now buy now buy now buy now buy now buy now buy now", Label: "b"}, // repetitive
		10: {Text: "★★★★★ ☆☆☆☆ ♥♥♥♥ is the best", Label: "a"},                                             // non-text
		11: {Text: "mail me at jane.doe@example.com about the order", Label: "b"},                         // PII
		12: {Text: "c'est la vie mon ami, toujours la même chose", Label: "b"},                            // other language
		13: {Text: "我想查询一下我的订单什么时候能到", Label: "a"},                                                        // zh
		14: {Text: "a unique sentence about something else entirely", Label: "rare"},                      // rare label
	}
	o := DefaultCurateOptions()
	o.MinChars = 5
	o.Langs = []string{"en", "zh"}
	o.ScrubPII = true
	o.Examples = 5
	out, rep, err := CurateRows(context.Background(), rows, o)
	if err != nil {
		t.Fatal(err)
	}
	type step struct {
		Step    string
		Removed int
		Changed int
		Reasons map[string]int
		Rows    []int
	}
	var got []step
	for _, s := range rep.Steps {
		st := step{Step: s.Step, Removed: s.Removed, Changed: s.Changed, Reasons: s.Reasons}
		for _, e := range s.Examples {
			st.Rows = append(st.Rows, e.Row)
		}
		got = append(got, st)
	}
	want := []step{
		{Step: "label-conflicts", Removed: 3, Reasons: map[string]int{"minority label": 1, "conflicting labels, no majority": 2}, Rows: []int{5, 6, 7}},
		{Step: "exact-duplicates", Removed: 2, Reasons: map[string]int{"duplicate": 2}, Rows: []int{1, 4}},
		{Step: "quality", Removed: 4, Reasons: map[string]int{"too short": 1, "repetitive": 1, "non-text characters": 1, "language other": 1}, Rows: []int{8, 9, 10, 12}},
		{Step: "near-duplicates", Removed: 1, Reasons: map[string]int{"near-duplicate": 1}, Rows: []int{2}},
		{Step: "pii", Changed: 1, Reasons: map[string]int{"EMAIL": 1}, Rows: []int{11}},
		{Step: "rare-labels", Removed: 1, Reasons: map[string]int{"rare label": 1}, Rows: []int{14}},
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	var texts []string
	for _, r := range out {
		texts = append(texts, r.Text)
	}
	wantTexts := []string{long, "refund please, the parcel never arrived at my door", "mail me at [EMAIL_1] about the order", "我想查询一下我的订单什么时候能到"}
	if diff := cmp.Diff(wantTexts, texts); diff != "" {
		t.Errorf("kept rows (-want +got):\n%s", diff)
	}
	if rep.Input != len(rows) || rep.Output != len(out) {
		t.Errorf("report %d → %d", rep.Input, rep.Output)
	}
	if e := rep.Steps[1].Examples[0]; e.Reason != "duplicate: of row 0" {
		t.Errorf("example reason %q", e.Reason)
	}
	if strings.Contains(rep.Steps[4].Examples[0].Text, "jane") {
		t.Error("the report quotes PII")
	}
	if rows[11].Text != "mail me at jane.doe@example.com about the order" {
		t.Error("CurateRows modified its input")
	}
}

func TestLanguage(t *testing.T) {
	for _, tt := range []struct{ text, want string }{
		{"Where is my parcel? It was due on Monday.", "en"},
		{"我的快递到哪里了？周一就应该到了。", "zh"},
		{"我想买 iPhone 15 Pro Max 的手机壳", "zh"},
		{"Der Zug kommt heute nicht pünktlich an", "other"},
		{"12345 !!!", "other"},
	} {
		var st textStats
		(&shingler{k: 3}).shingles(tt.text, nil, &st)
		if got := language(&st); got != tt.want {
			t.Errorf("language(%q) = %s, want %s", tt.text, got, tt.want)
		}
	}
}

func TestCurateStore(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := Open(d)
		ds, _ := s.Create(ctx, "c", "")
		v1, _, err := s.Import(ctx, ds.ID, strings.NewReader(csvIn+"where is my card,card\n"), FormatTextLabelCSV, ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		o := DefaultCurateOptions()
		o.MinLabelCount = 0
		v2, rep, err := s.Curate(ctx, v1.ID, o)
		if err != nil {
			t.Fatal(err)
		}
		if v2.RowCount != 3 || v2.Op != "curate" || v2.Parent != v1.ID || rep.Steps[1].Removed != 1 {
			t.Errorf("v2 = %+v, report %+v", v2, rep)
		}
		var stored CurationReport
		if err := json.Unmarshal(v2.Report, &stored); err != nil || stored.Output != 3 {
			t.Errorf("stored report %s: %v", v2.Report, err)
		}
		df, _ := s.Diff(ctx, v1.ID, v2.ID)
		if df.Removed != 1 || df.Unchanged != 3 {
			t.Errorf("diff = %+v", df)
		}
	})
}

// Cohen's kappa: 50 items, both yes 20, A yes B no 5, A no B yes 10, both
// no 15: po = 0.7, pe = 0.5·0.6 + 0.5·0.4 = 0.5, κ = 0.4.
func TestCohen(t *testing.T) {
	var anns []StoredAnnotation
	add := func(n int, a, b string) {
		for range n {
			row := len(anns) / 2
			anns = append(anns, StoredAnnotation{Row: row, Annotator: "ann", Value: Annotation{Kind: a}},
				StoredAnnotation{Row: row, Annotator: "bob", Value: Annotation{Kind: b}})
		}
	}
	add(20, KindAccept, KindAccept)
	add(5, KindAccept, KindReject)
	add(10, KindReject, KindAccept)
	add(15, KindReject, KindReject)
	rep := agreement(anns)
	want := &AgreementReport{Method: "cohen", Annotators: []string{"ann", "bob"}, Items: 50, Annotations: 100, Observed: 0.7, Expected: 0.5, Kappa: 0.4}
	if diff := cmp.Diff(want, rep, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("agreement (-want +got):\n%s", diff)
	}
}

// Fleiss' kappa on the classic example (Fleiss 1971, as on Wikipedia): 10
// items, 14 raters, 5 categories; P̄ = 0.378, P̄e = 0.213, κ = 0.210.
func TestFleiss(t *testing.T) {
	table := [][5]int{
		{0, 0, 0, 0, 14}, {0, 2, 6, 4, 2}, {0, 0, 3, 5, 6}, {0, 3, 9, 2, 0}, {2, 2, 8, 1, 1},
		{7, 7, 0, 0, 0}, {3, 2, 6, 3, 0}, {2, 5, 3, 2, 2}, {6, 5, 2, 1, 0}, {0, 2, 2, 3, 7},
	}
	var anns []StoredAnnotation
	for row, counts := range table {
		rater := 0
		for cat, n := range counts {
			for range n {
				anns = append(anns, StoredAnnotation{Row: row, Annotator: string(rune('a' + rater)), Value: Annotation{Kind: KindLabel, Label: string(rune('1' + cat))}})
				rater++
			}
		}
	}
	rep := agreement(anns)
	if rep.Method != "fleiss" || rep.Items != 10 || len(rep.Annotators) != 14 {
		t.Fatalf("report %+v", rep)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"observed", rep.Observed, 0.378}, {"expected", rep.Expected, 0.213}, {"kappa", rep.Kappa, 0.210}} {
		if math.Abs(c.got-c.want) > 0.001 {
			t.Errorf("%s = %.4f, want %.3f", c.name, c.got, c.want)
		}
	}
}

func TestAnnotation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := Open(d)
		ds, _ := s.Create(ctx, "ann", "")
		v1, err := s.AddRows(ctx, ds.ID, []Row{
			{Text: "where is my card"},
			{Messages: []Message{{"user", "capital of France?"}, {"assistant", "Lyon"}}},
			{Prompt: "say hi", Chosen: "hey you", Rejected: "Hello! How can I help?"},
			{Text: "spam spam"},
			{Text: "never reviewed"},
		}, "")
		if err != nil {
			t.Fatal(err)
		}
		must := func(row int, who string, a Annotation) {
			t.Helper()
			if err := s.Annotate(ctx, v1.ID, row, who, a); err != nil {
				t.Fatal(err)
			}
		}
		must(0, "ann", Annotation{Kind: KindLabel, Label: "card"})
		must(0, "bob", Annotation{Kind: KindLabel, Label: "card"})
		must(1, "ann", Annotation{Kind: KindCorrect, Text: "Paris"})
		must(2, "ann", Annotation{Kind: KindRank, Prefer: "a"})
		must(2, "ann", Annotation{Kind: KindRank, Prefer: "b"}) // replaces the first
		must(2, "bob", Annotation{Kind: KindRank, Prefer: "b"})
		must(3, "ann", Annotation{Kind: KindReject})
		must(3, "bob", Annotation{Kind: KindAccept})
		if err := s.Annotate(ctx, v1.ID, 9, "ann", Annotation{Kind: KindAccept}); !errors.Is(err, ErrNotFound) {
			t.Errorf("row out of range: %v", err)
		}
		if err := s.Annotate(ctx, v1.ID, 0, "ann", Annotation{Kind: "maybe"}); err == nil {
			t.Error("unknown kind accepted")
		}
		q, err := s.Queue(ctx, v1.ID, "bob", 10)
		if err != nil {
			t.Fatal(err)
		}
		var qrows []int
		for _, it := range q {
			qrows = append(qrows, it.Row)
		}
		if diff := cmp.Diff([]int{4, 1}, qrows); diff != "" {
			t.Errorf("bob's queue (-want +got):\n%s", diff)
		}
		ag, err := s.Agreement(ctx, v1.ID)
		if err != nil {
			t.Fatal(err)
		}
		// Rows 0, 2, 3 judged by both: agree, agree, disagree.
		if ag.Method != "cohen" || ag.Items != 3 || math.Abs(ag.Observed-2.0/3) > 1e-9 {
			t.Errorf("agreement %+v", ag)
		}
		v2, err := s.ApplyAnnotations(ctx, v1.ID)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := s.Rows(ctx, v2.ID)
		want := []Row{
			{Text: "where is my card", Label: "card"},
			{Messages: []Message{{"user", "capital of France?"}, {"assistant", "Paris"}}},
			{Prompt: "say hi", Chosen: "Hello! How can I help?", Rejected: "hey you"},
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("applied rows (-want +got):\n%s", diff)
		}
		var ar ApplyReport
		json.Unmarshal(v2.Report, &ar)
		if diff := cmp.Diff(ApplyReport{Reviewed: 4, Kept: 3, Rejected: 1, Unreviewed: 1, Relabelled: 1, Corrected: 1, Swapped: 1}, ar); diff != "" {
			t.Errorf("apply report (-want +got):\n%s", diff)
		}
	})
}

func TestExport(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := Open(d)
		ds, _ := s.Create(ctx, "ex", "")
		v, err := s.AddRows(ctx, ds.ID, []Row{
			{Messages: []Message{{"user", "hi"}, {"assistant", "hello"}}},
			{Text: "where is my card, \"now\"", Label: "card"},
			{Prompt: "say hi", Chosen: "Hello!", Rejected: "go away"},
			{Text: "2+2?", Reference: "4"},
		}, "")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			ExportOpenAIChat: `{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}
{"messages":[{"role":"user","content":"where is my card, \"now\""},{"role":"assistant","content":"card"}]}
{"messages":[{"role":"user","content":"say hi"},{"role":"assistant","content":"Hello!"}]}
{"messages":[{"role":"user","content":"2+2?"},{"role":"assistant","content":"4"}]}
`,
			ExportDPO: `{"input":{"messages":[{"role":"user","content":"say hi"}]},"preferred_output":[{"role":"assistant","content":"Hello!"}],"non_preferred_output":[{"role":"assistant","content":"go away"}]}
`,
			ExportPromptChosenRejected: `{"chosen":"Hello!","prompt":"say hi","rejected":"go away"}
`,
			ExportClassificationCSV: "text,label\n\"where is my card, \"\"now\"\"\",card\n",
			ExportEvalJSONL: `{"input":"hi","reference":"hello"}
{"input":"where is my card, \"now\"","reference":"card"}
{"input":"say hi","reference":"Hello!"}
{"input":"2+2?","reference":"4"}
`,
		}
		for _, f := range ExportFormats {
			var buf bytes.Buffer
			var last [2]int
			n, err := s.Export(ctx, v.ID, f, &buf, func(done, total int) { last = [2]int{done, total} })
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if diff := cmp.Diff(want[f], buf.String()); diff != "" {
				t.Errorf("%s (-want +got):\n%s", f, diff)
			}
			if n != strings.Count(want[f], "\n")-map[bool]int{true: 1}[f == ExportClassificationCSV] || last != [2]int{4, 4} {
				t.Errorf("%s: n = %d, progress %v", f, n, last)
			}
			if f == ExportClassificationCSV {
				path := filepath.Join(t.TempDir(), "c.csv")
				os.WriteFile(path, buf.Bytes(), 0o600)
				ex, err := specialist.LoadFile(path, specialist.LoadOptions{})
				if err != nil || len(ex) != 1 || ex[0].Label != "card" || ex[0].Text != `where is my card, "now"` {
					t.Errorf("specialist.LoadFile = %+v, %v", ex, err)
				}
			}
			if f == ExportOpenAIChat {
				for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
					var m struct {
						Messages []Message `json:"messages"`
					}
					if err := json.Unmarshal([]byte(line), &m); err != nil || len(m.Messages) == 0 {
						t.Errorf("chat line %s: %v", line, err)
					}
				}
			}
		}
		if _, err := s.Export(ctx, v.ID, "parquet", &bytes.Buffer{}, nil); err == nil {
			t.Error("unknown format accepted")
		}
	})
}

func TestDiffChanged(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := Open(d)
		ds, _ := s.Create(ctx, "pii", "")
		v1, _, err := s.Import(ctx, ds.ID, strings.NewReader("text,label\nmail jane.doe@example.com now,a\nhello there,a\n"), FormatTextLabelCSV, ImportOptions{Source: "x.csv"})
		if err != nil {
			t.Fatal(err)
		}
		v2, _, err := s.Curate(ctx, v1.ID, CurateOptions{ScrubPII: true})
		if err != nil {
			t.Fatal(err)
		}
		df, err := s.Diff(ctx, v1.ID, v2.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := []DiffChange{{Kind: "~", Row: 0, Old: "mail jane.doe@example.com now", New: "mail [EMAIL_1] now"}}
		if df.Changed != 1 || df.Unchanged != 1 || df.Added != 0 || df.Removed != 0 {
			t.Errorf("diff = %+v", df)
		}
		if diff := cmp.Diff(want, df.Examples); diff != "" {
			t.Errorf("examples (-want +got):\n%s", diff)
		}
	})
}
