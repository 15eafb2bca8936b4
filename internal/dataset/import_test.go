package dataset

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParse(t *testing.T) {
	huge := `{"text":"` + strings.Repeat("x", 2000) + `","label":"a"}`
	tests := []struct {
		name    string
		format  string
		in      string
		opt     ImportOptions
		want    []Row
		errs    []LineError // expected report errors
		refused bool
	}{
		{
			name:   "chat",
			format: FormatChatJSONL,
			in: `{"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}

{"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},{"role":"assistant","content":"ab"}]}
`,
			want: []Row{
				{Messages: []Message{{"system", "be brief"}, {"user", "hi"}, {"assistant", "hello"}}, Origin: Origin{Format: FormatChatJSONL, Line: 1}},
				{Messages: []Message{{"user", "ab"}, {"assistant", "ab"}}, Origin: Origin{Format: FormatChatJSONL, Line: 3}},
			},
		},
		{
			name:   "chat malformed refused",
			format: FormatChatJSONL,
			in: `{"messages":[{"role":"user","content":"ok"}]}
{"messages":[{"role":"user","content":"broken"}
{"messages":[{"role":"wizard","content":"x"}]}
{"messages":[]}
{"messages":[{"role":"user","content":"ok2"}]}`,
			errs:    []LineError{{Line: 2}, {Line: 3}, {Line: 4}},
			refused: true,
		},
		{
			name:   "chat malformed skipped",
			format: FormatChatJSONL,
			opt:    ImportOptions{SkipBad: true, Source: "f.jsonl"},
			in: `{"messages":[{"role":"user","content":"ok"}]}
not json
{"messages":[{"role":"user","content":"ok2"}]}`,
			want: []Row{
				{Messages: []Message{{"user", "ok"}}, Origin: Origin{Source: "f.jsonl", Format: FormatChatJSONL, Line: 1}},
				{Messages: []Message{{"user", "ok2"}}, Origin: Origin{Source: "f.jsonl", Format: FormatChatJSONL, Line: 3}},
			},
			errs: []LineError{{Line: 2}},
		},
		{
			name:   "text-label jsonl, numeric label, custom columns",
			format: FormatTextLabelJSONL,
			opt:    ImportOptions{TextColumn: "sentence", LabelColumn: "intent"},
			in:     "{\"sentence\":\"where is my card\",\"intent\":3}\r\n{\"sentence\":\"退款\",\"intent\":\"refund\"}\n{\"sentence\":\"no label yet\"}\n",
			want: []Row{
				{Text: "where is my card", Label: "3", Origin: Origin{Format: FormatTextLabelJSONL, Line: 1}},
				{Text: "退款", Label: "refund", Origin: Origin{Format: FormatTextLabelJSONL, Line: 2}},
				{Text: "no label yet", Origin: Origin{Format: FormatTextLabelJSONL, Line: 3}},
			},
		},
		{
			name:   "invalid UTF-8 and huge row skipped",
			format: FormatTextLabelJSONL,
			opt:    ImportOptions{SkipBad: true, MaxRowBytes: 1000},
			in:     "{\"text\":\"ok\",\"label\":\"a\"}\n{\"text\":\"bad \xff\xfe\",\"label\":\"a\"}\n" + huge + "\n{\"text\":\"ok2\",\"label\":\"a\"}",
			want: []Row{
				{Text: "ok", Label: "a", Origin: Origin{Format: FormatTextLabelJSONL, Line: 1}},
				{Text: "ok2", Label: "a", Origin: Origin{Format: FormatTextLabelJSONL, Line: 4}},
			},
			errs: []LineError{{Line: 2}, {Line: 3}},
		},
		{
			name:   "csv",
			format: FormatTextLabelCSV,
			in:     "\ufeffid,Text,label\n1,\"hello, world\",greet\n2,\"multi\nline\",other\n3,plain,x\n",
			want: []Row{
				{Text: "hello, world", Label: "greet", Origin: Origin{Format: FormatTextLabelCSV, Line: 2}},
				{Text: "multi\nline", Label: "other", Origin: Origin{Format: FormatTextLabelCSV, Line: 3}},
				{Text: "plain", Label: "x", Origin: Origin{Format: FormatTextLabelCSV, Line: 5}},
			},
		},
		{
			name:    "csv malformed",
			format:  FormatTextLabelCSV,
			in:      "text,label\nok,a\nx,y,z\n\"bad\"quote,b\n,empty\nfine,c\n",
			errs:    []LineError{{Line: 3}, {Line: 4}, {Line: 5}},
			refused: true,
		},
		{
			name:   "sharegpt array",
			format: FormatShareGPT,
			opt:    ImportOptions{SkipBad: true},
			in: `[
  {"id":"1","conversations":[{"from":"human","value":"hi"},{"from":"gpt","value":"hello"}]},
  {"id":"2","conversations":[{"from":"alien","value":"?"}]},
  {"id":"3","conversations":[{"from":"system","value":"s"},{"from":"user","value":"q"},{"from":"assistant","value":"a"}]}
]`,
			want: []Row{
				{Messages: []Message{{"user", "hi"}, {"assistant", "hello"}}, Origin: Origin{Format: FormatShareGPT, Line: 2}},
				{Messages: []Message{{"system", "s"}, {"user", "q"}, {"assistant", "a"}}, Origin: Origin{Format: FormatShareGPT, Line: 4}},
			},
			errs: []LineError{{Line: 3}},
		},
		{
			name:    "sharegpt broken array refused even with skip",
			format:  FormatShareGPT,
			opt:     ImportOptions{SkipBad: true},
			in:      "[\n{\"conversations\":[{\"from\":\"human\",\"value\":\"hi\"}]},\n{\"conversations\": oops}\n]",
			errs:    []LineError{{Line: 3}},
			refused: true,
		},
		{
			name:   "sharegpt lines",
			format: FormatShareGPT,
			in:     `{"conversations":[{"from":"human","value":"hi"}]}` + "\n",
			want:   []Row{{Messages: []Message{{"user", "hi"}}, Origin: Origin{Format: FormatShareGPT, Line: 1}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, rep, err := Parse(strings.NewReader(tt.in), tt.format, tt.opt)
			var ie *ImportError
			if tt.refused {
				if !errors.As(err, &ie) {
					t.Fatalf("err = %v, want an ImportError", err)
				}
				if rows != nil {
					t.Errorf("refused import returned %d rows", len(rows))
				}
			} else if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !tt.refused {
				if diff := cmp.Diff(tt.want, rows, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("rows (-want +got):\n%s", diff)
				}
			}
			if diff := cmp.Diff(tt.errs, rep.Errors, cmpopts.IgnoreFields(LineError{}, "Err"), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("line errors (-want +got):\n%s\n%+v", diff, rep.Errors)
			}
			if rep.Skipped != len(tt.errs) {
				t.Errorf("skipped = %d, want %d", rep.Skipped, len(tt.errs))
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tt := range []struct{ format, in, want string }{
		{"xml", "<a/>", "unknown import format"},
		{FormatChatJSONL, "\n\n", "no rows"},
		{FormatTextLabelCSV, "foo,bar\n1,2\n", `no "text" column`},
		{FormatTextLabelCSV, "", "empty CSV"},
	} {
		_, _, err := Parse(strings.NewReader(tt.in), tt.format, ImportOptions{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%s, %q) = %v, want %q", tt.format, tt.in, err, tt.want)
		}
	}
	// The refusal message names the lines.
	_, _, err := Parse(strings.NewReader("{\"text\":\"a\"}\n{bad\n"), FormatTextLabelJSONL, ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), "line 2:") {
		t.Errorf("refusal = %v, want it to name line 2", err)
	}
}

func TestParseHugeLine(t *testing.T) {
	// A line far beyond the reader's buffer and the default bound.
	big := `{"text":"` + strings.Repeat("y", DefaultMaxRowBytes+10) + `"}`
	rows, rep, err := Parse(strings.NewReader(big+"\n{\"text\":\"small\"}\n"), FormatTextLabelJSONL, ImportOptions{SkipBad: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Text != "small" || rows[0].Origin.Line != 2 {
		t.Errorf("rows = %+v", rows)
	}
	if len(rep.Errors) != 1 || rep.Errors[0].Line != 1 || !strings.Contains(rep.Errors[0].Err, "too long") {
		t.Errorf("errors = %+v", rep.Errors)
	}
}

func fuzzParse(f *testing.F, format string, seeds ...string) {
	for _, s := range seeds {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, in string, skip bool) {
		rows, rep, err := Parse(strings.NewReader(in), format, ImportOptions{SkipBad: skip, MaxRowBytes: 4096})
		if rep == nil {
			t.Fatal("nil report")
		}
		if err != nil {
			if rows != nil {
				t.Fatalf("error %v with %d rows", err, len(rows))
			}
			return
		}
		if !skip && rep.Skipped > 0 {
			t.Fatalf("%d skipped without SkipBad and no error", rep.Skipped)
		}
		for i := range rows {
			if err := validRow(&rows[i]); err != nil {
				t.Fatalf("row %d: %v", i, err)
			}
			if _, _, err := rows[i].hash(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func FuzzParseChatJSONL(f *testing.F) {
	fuzzParse(f, FormatChatJSONL, `{"messages":[{"role":"user","content":"hi"}]}`+"\nbad\n",
		`{"messages":[{"role":"user","content":[{"type":"text","text":"a"}]}]}`)
}

func FuzzParseTextLabelJSONL(f *testing.F) {
	fuzzParse(f, FormatTextLabelJSONL, `{"text":"a","label":"b"}`+"\n{\"text\":1}\n", "{\"text\":\"\xff\"}")
}

func FuzzParseTextLabelCSV(f *testing.F) {
	fuzzParse(f, FormatTextLabelCSV, "text,label\na,b\n\"c\nd\",e\n", "text\n\"unterminated\n", "label,text\nx,\"y\"\"z\"\n")
}

func FuzzParseShareGPT(f *testing.F) {
	fuzzParse(f, FormatShareGPT, `[{"conversations":[{"from":"human","value":"hi"}]}]`,
		`{"conversations":[{"from":"gpt","value":"x"}]}`+"\n", "[{},1,\"s\"]", "[")
}
