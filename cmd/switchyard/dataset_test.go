package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	spec "switchyard/internal/specialist"
)

const datasetCSV = `text,label
where is my parcel,shipping
Where is my   parcel,shipping
my parcel has not arrived yet and it has been a week,shipping
my parcel has not arrived yet and it has been a week now,shipping
I want a refund for the broken kettle,refund
"please refund me, write to jane.doe@example.com",refund
a,b,c
我的快递到哪了,shipping
hi,greeting
`

const datasetChat = `{"messages":[{"role":"user","content":"capital of France?"},{"role":"assistant","content":"Lyon"}]}
{"messages":[{"role":"user","content":"2+2?"},{"role":"assistant","content":"4"}]}
`

func TestDatasetCLI(t *testing.T) {
	dir := t.TempDir()
	csvFile := filepath.Join(dir, "support.csv")
	chatFile := filepath.Join(dir, "chat.jsonl")
	os.WriteFile(csvFile, []byte(datasetCSV), 0o644)
	os.WriteFile(chatFile, []byte(datasetChat), 0o644)
	dataDir := filepath.Join(dir, "state")
	out := filepath.Join(dir, "out.csv")
	chatOut := filepath.Join(dir, "chat-out.jsonl")
	dd := []string{"--data-dir", dataDir}
	for _, tc := range []struct {
		name           string
		args           []string
		code           int
		stdout, stderr []string // substrings
	}{
		{"create", []string{"create", "support", "--project", "p1"}, 0, []string{"created dataset support"}, nil},
		{"create twice", []string{"create", "support", "--project", "p1"}, 1, nil, []string{"already exists"}},
		{"import refused", []string{"import", "support", csvFile, "--format", "text-label-csv"}, 1,
			[]string{"1 malformed lines", "line 8: 3 fields, header has 2"}, []string{"import refused", "--skip-bad"}},
		{"import skip", []string{"import", "support", csvFile, "--format", "text-label-csv", "--skip-bad"}, 0,
			[]string{"support v1: imported 8 rows", "(1 skipped)"}, nil},
		{"curate", []string{"curate", "support", "--near-dup", "0.7", "--min-chars", "3", "--scrub-pii", "--lang", "en,zh", "--min-label-count", "1"}, 0,
			[]string{"support v1 → v2: 8 → 5 rows", "exact-duplicates  removed 1", "row 1 (duplicate: of row 0)", "too short 1",
				"near-duplicate 1", "scrubbed 1 rows", "EMAIL 1"}, []string{"curating support v1"}},
		{"list", []string{"list"}, 0, []string{"NAME", "support", "p1", "v2", "curate", "5"}, nil},
		{"show", []string{"show", "support"}, 0, []string{"v1", "import", "v2", "curate", "curation: 8 → 5 rows", "[EMAIL_1]"}, nil},
		{"show v1", []string{"show", "support", "--version", "1"}, 0, []string{"import: 8 rows from support.csv", "line 8:"}, nil},
		{"diff", []string{"diff", "support@1", "support@2"}, 0,
			[]string{"0 added, 3 removed, 1 changed, 4 unchanged", "- row 1: Where is my parcel", "~ row 3:", "→ please refund me, write to [EMAIL_1]"}, nil},
		{"queue", []string{"annotate", "support", "--annotator", "ann"}, 0, []string{"next rows for ann", "where is my parcel"}, nil},
		{"accept", []string{"annotate", "support", "--annotator", "ann", "--row", "0", "--accept"}, 0, []string{"row 0: accept by ann"}, nil},
		{"label", []string{"annotate", "support", "--annotator", "bob", "--row", "0", "--label", "delivery"}, 0, nil, nil},
		{"label 2", []string{"annotate", "support", "--annotator", "ann", "--row", "2", "--label", "refund"}, 0, nil, nil},
		{"label 2 bob", []string{"annotate", "support", "--annotator", "bob", "--row", "2", "--label", "refund"}, 0, nil, nil},
		{"two actions", []string{"annotate", "support", "--annotator", "bob", "--row", "1", "--accept", "--reject"}, 1, nil, []string{"give one of"}},
		{"bad row", []string{"annotate", "support", "--annotator", "bob", "--row", "99", "--accept"}, 1, nil, []string{"not found"}},
		{"agreement", []string{"annotate", "support", "--agreement"}, 0, []string{"Cohen's kappa", "over 2 rows", "observed agreement 0.500"}, nil},
		{"apply", []string{"annotate", "support", "--apply"}, 0, []string{"support v2 → v3: 2 rows", "1 relabelled", "3 unreviewed left out"}, nil},
		{"export csv", []string{"export", "support", "--version", "2", "--format", "classification-csv", "-o", out}, 0, nil, []string{"exported 5 of 5 rows"}},
		{"export bad", []string{"export", "support", "--format", "xml"}, 1, nil, []string{"unknown export format"}},
		{"chat", []string{"create", "chat"}, 0, nil, nil},
		{"chat import", []string{"import", "chat", chatFile, "--format", "chat-jsonl"}, 0, []string{"chat v1: imported 2 rows"}, nil},
		{"chat correct", []string{"annotate", "chat", "--annotator", "ann", "--row", "0", "--correct", "Paris"}, 0, nil, nil},
		{"chat accept", []string{"annotate", "chat", "--annotator", "ann", "--row", "1", "--accept"}, 0, nil, nil},
		{"chat apply", []string{"annotate", "chat", "--apply"}, 0, []string{"1 corrected"}, nil},
		{"chat export", []string{"export", "chat", "--format", "openai-chat", "-o", chatOut}, 0, nil, []string{"exported 2 of 2"}},
		{"chat diff", []string{"diff", "chat@1", "chat@2"}, 0, []string{"1 changed, 1 unchanged", "→ capital of France? Paris"}, nil},
		{"unknown dataset", []string{"show", "ghost"}, 1, nil, []string{"not found"}},
		{"bad verb", []string{"frobnicate"}, 2, nil, []string{"unknown verb"}},
		{"missing arg", []string{"import", "support"}, 2, []string{"Usage: switchyard dataset import"}, nil},
		{"help", []string{"curate", "--help"}, 0, []string{"Usage: switchyard dataset curate", "-near-dup"}, nil},
		{"no verb", nil, 2, []string{"Usage: switchyard dataset VERB"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o, e bytes.Buffer
			args := append([]string{"dataset"}, tc.args...)
			if len(tc.args) > 0 {
				args = append(args, dd...)
			}
			code := run(context.Background(), args, &o, &e)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, o.String(), e.String())
			}
			for _, s := range tc.stdout {
				if !strings.Contains(o.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, o.String())
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(e.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, e.String())
				}
			}
		})
	}
	ex, err := spec.LoadFile(out, spec.LoadOptions{})
	if err != nil || len(ex) != 5 {
		t.Fatalf("specialist.LoadFile(export) = %d rows, %v", len(ex), err)
	}
	b, _ := os.ReadFile(chatOut)
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m struct {
			Messages []struct{ Role, Content string } `json:"messages"`
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil || len(m.Messages) != 2 {
			t.Errorf("chat export line %q: %v", line, err)
		}
	}
	if !strings.Contains(string(b), `"content":"Paris"`) {
		t.Errorf("correction not exported:\n%s", b)
	}
}

func TestDatasetExportProgress(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := range 12_000 {
		b.WriteString(`{"text":"row number ` + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + `","label":"l"}` + "\n")
	}
	in := filepath.Join(dir, "big.jsonl")
	os.WriteFile(in, []byte(b.String()), 0o644)
	dd := []string{"--data-dir", filepath.Join(dir, "state")}
	for _, args := range [][]string{
		{"create", "big"},
		{"import", "big", in, "--format", "text-label-jsonl"},
	} {
		var o, e bytes.Buffer
		if code := run(context.Background(), append(append([]string{"dataset"}, args...), dd...), &o, &e); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, e.String())
		}
	}
	var o, e bytes.Buffer
	code := run(context.Background(), append([]string{"dataset", "export", "big", "--format", "eval-jsonl", "-o", filepath.Join(dir, "out.jsonl")}, dd...), &o, &e)
	if code != 0 || !strings.Contains(e.String(), "export    [##############################] 12000/12000") || !strings.Contains(e.String(), "exported 12000 of 12000") {
		t.Errorf("exit %d, stderr:\n%s", code, e.String())
	}
}
