package specialist

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLoadCSV(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		opt     LoadOptions
		want    []Example
		wantErr string
	}{
		{
			name: "default columns",
			in:   "text,label\nhello there,greet\n\"a, quoted\nline\",other\n",
			want: []Example{{Text: "hello there", Label: "greet", Line: 2}, {Text: "a, quoted\nline", Label: "other", Line: 3}},
		},
		{
			name: "named columns and BOM",
			in:   "\ufeffcat,label,review\n书籍,1,很好看\n",
			opt:  LoadOptions{TextColumn: "review", LabelColumn: "cat"},
			want: []Example{{Text: "很好看", Label: "书籍", Line: 2}},
		},
		{
			name: "fallback names",
			in:   "category,text\ncard_arrival,where is my card\n",
			want: []Example{{Text: "where is my card", Label: "card_arrival", Line: 2}},
		},
		{name: "missing column", in: "a,b\n1,2\n", opt: LoadOptions{TextColumn: "text"}, wantErr: `no text column "text"`},
		{name: "empty label", in: "text,label\nok,x\nbad,\n", wantErr: "line 3: empty label"},
		{name: "empty text", in: "text,label\nok,x\n\n  ,y\n", wantErr: "line 4: empty text"},
		{name: "short row", in: "label,x,text\nq,1,ok\nq\n", wantErr: "line 3: has 1 fields"},
		{name: "bad quote", in: "text,label\n\"open,x\nz\n", wantErr: "line"},
		{name: "no rows", in: "text,label\n", wantErr: "no rows"},
		{name: "empty", in: "", wantErr: "empty file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadCSV(strings.NewReader(tt.in), tt.opt)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestLoadJSONL(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		opt     LoadOptions
		want    []Example
		wantErr string
	}{
		{
			name: "intent and numeric labels",
			in:   "{\"text\": \"hi\", \"intent\": \"greet\"}\n\n{\"text\": \"bye\", \"intent\": 3}\n",
			want: []Example{{Text: "hi", Label: "greet", Line: 1}, {Text: "bye", Label: "3", Line: 3}},
		},
		{
			name: "configured columns",
			in:   `{"sentence": "好评", "label": "Positive", "id": 1}`,
			opt:  LoadOptions{TextColumn: "sentence", LabelColumn: "label"},
			want: []Example{{Text: "好评", Label: "Positive", Line: 1}},
		},
		{name: "bad json", in: "{\"text\":\"a\",\"label\":\"b\"}\n{oops\n", wantErr: "line 2: invalid JSON"},
		{name: "null label", in: "{\"text\":\"a\",\"label\":null}\n", wantErr: `line 1: field "label": is null`},
		{name: "missing label", in: "{\"text\":\"a\",\"label\":\"x\"}\n{\"text\":\"b\"}\n", wantErr: `line 2: field "label": missing`},
		{name: "object label", in: "{\"text\":\"a\",\"label\":{}}\n", wantErr: "want a string or number"},
		{name: "no label column", in: "{\"text\":\"a\"}\n", wantErr: "line 1: no label column"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadJSONL(strings.NewReader(tt.in), tt.opt)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				var re *RowError
				if strings.Contains(tt.wantErr, "line") && !errors.As(err, &re) {
					t.Errorf("error %v is not a *RowError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestLoadFileFormats(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "d.csv")
	jsonPath := filepath.Join(dir, "d.jsonl")
	os.WriteFile(csvPath, []byte("text,label\na,x\n"), 0o644)
	os.WriteFile(jsonPath, []byte(`{"text":"a","label":"x"}`+"\n"), 0o644)
	for _, p := range []string{csvPath, jsonPath} {
		got, err := LoadFile(p, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff([]Example{{Text: "a", Label: "x", Line: 2 - btoi(p == jsonPath)}}, got); d != "" {
			t.Errorf("%s: %s", p, d)
		}
	}
	if _, err := LoadFile(filepath.Join(dir, "d.txt"), LoadOptions{}); err == nil {
		t.Error("want error for missing file")
	}
	os.WriteFile(filepath.Join(dir, "d.xml"), []byte("x"), 0o644)
	if _, err := LoadFile(filepath.Join(dir, "d.xml"), LoadOptions{}); err == nil || !strings.Contains(err.Error(), "unknown format") {
		t.Errorf("err = %v, want unknown format", err)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestStratifiedSplit(t *testing.T) {
	var ex []Example
	for i := range 100 {
		ex = append(ex, Example{Text: string(rune('a' + i%26)), Label: []string{"a", "b", "c"}[i%3]})
	}
	ex = append(ex, Example{Text: "single", Label: "lonely"})
	tr, val := StratifiedSplit(ex, 0.2, 7)
	if len(tr)+len(val) != len(ex) {
		t.Fatalf("lost rows: %d+%d != %d", len(tr), len(val), len(ex))
	}
	count := map[string]int{}
	for _, e := range val {
		count[e.Label]++
	}
	if d := cmp.Diff(map[string]int{"a": 7, "b": 7, "c": 7}, count); d != "" {
		t.Errorf("val label counts (-want +got):\n%s", d)
	}
	tr2, val2 := StratifiedSplit(ex, 0.2, 7)
	if !cmp.Equal(tr, tr2) || !cmp.Equal(val, val2) {
		t.Error("split not deterministic for a seed")
	}
	_, val3 := StratifiedSplit(ex, 0.2, 8)
	if cmp.Equal(val, val3) {
		t.Error("different seeds gave the same split")
	}
}

func TestDataHash(t *testing.T) {
	a := []Example{{Text: "ab", Label: "c"}}
	b := []Example{{Text: "a", Label: "bc"}}
	if DataHash(a) == DataHash(b) {
		t.Error("hash ignores field boundaries")
	}
	if DataHash(a) != DataHash([]Example{{Text: "ab", Label: "c", Line: 9}}) {
		t.Error("hash depends on line numbers")
	}
}

func FuzzLoadCSV(f *testing.F) {
	f.Add("text,label\nhello,greet\n")
	f.Add("label,text\n\"a\"\"b\",\"c\nd\"\n")
	f.Add("\ufefftext,label\n,\n")
	f.Fuzz(func(t *testing.T, in string) {
		ex, err := LoadCSV(strings.NewReader(in), LoadOptions{})
		if err != nil {
			return
		}
		for _, e := range ex {
			if strings.TrimSpace(e.Text) == "" || strings.TrimSpace(e.Label) == "" || e.Line < 2 {
				t.Fatalf("bad example %+v", e)
			}
		}
	})
}

func FuzzLoadJSONL(f *testing.F) {
	f.Add("{\"text\":\"a\",\"label\":\"b\"}\n")
	f.Add("{\"text\":\"a\",\"intent\":1.5}\n\n{\"text\":\"c\",\"intent\":true}")
	f.Add("[1,2]\n")
	f.Fuzz(func(t *testing.T, in string) {
		ex, err := LoadJSONL(strings.NewReader(in), LoadOptions{})
		if err != nil {
			return
		}
		for _, e := range ex {
			if strings.TrimSpace(e.Text) == "" || strings.TrimSpace(e.Label) == "" || e.Line < 1 {
				t.Fatalf("bad example %+v", e)
			}
		}
	})
}
