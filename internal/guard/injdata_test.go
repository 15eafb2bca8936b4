package guard

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestInjdataWellFormed checks the hand-written injection / benign sets in
// injdata/: every line is one JSON object with exactly text, label, family and
// lang; the label, family and lang agree with the file; no text is empty and
// no text (compared case- and whitespace-insensitively) appears twice across
// the four files.
func TestInjdataWellFormed(t *testing.T) {
	files := []struct {
		name     string
		label    int
		lang     string
		families []string
	}{
		{"inject_en.jsonl", 1, "en", []string{"direct", "exfil", "roleplay", "jailbreak", "indirect", "manipulation"}},
		{"inject_zh.jsonl", 1, "zh", []string{"direct", "exfil", "roleplay", "jailbreak", "indirect", "manipulation"}},
		{"benign_en.jsonl", 0, "en", []string{"mentions", "security", "document", "ordinary"}},
		{"benign_zh.jsonl", 0, "zh", []string{"mentions", "security", "document", "ordinary"}},
	}
	seen := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join("injdata", f.name))
		if err != nil {
			t.Fatal(err)
		}
		allowed := map[string]bool{}
		for _, fam := range f.families {
			allowed[fam] = true
		}
		counts := map[string]int{}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		n := 0
		for sc.Scan() {
			n++
			line := sc.Bytes()
			where := f.name + ":" + strconv.Itoa(n)
			if !utf8.Valid(line) {
				t.Errorf("%s: not valid UTF-8", where)
				continue
			}
			var raw map[string]json.RawMessage
			if err := json.Unmarshal(line, &raw); err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			if len(raw) != 4 {
				t.Errorf("%s: %d fields, want exactly text, label, family, lang", where, len(raw))
			}
			var rec struct {
				Text   *string `json:"text"`
				Label  *int    `json:"label"`
				Family *string `json:"family"`
				Lang   *string `json:"lang"`
			}
			if err := json.Unmarshal(line, &rec); err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			if rec.Text == nil || rec.Label == nil || rec.Family == nil || rec.Lang == nil {
				t.Errorf("%s: missing field", where)
				continue
			}
			if strings.TrimSpace(*rec.Text) == "" {
				t.Errorf("%s: empty text", where)
			}
			if *rec.Label != f.label {
				t.Errorf("%s: label %d, want %d", where, *rec.Label, f.label)
			}
			if *rec.Lang != f.lang {
				t.Errorf("%s: lang %q, want %q", where, *rec.Lang, f.lang)
			}
			if !allowed[*rec.Family] {
				t.Errorf("%s: family %q not allowed in this file", where, *rec.Family)
			}
			counts[*rec.Family]++
			key := strings.Join(strings.Fields(strings.ToLower(*rec.Text)), " ")
			if prev, dup := seen[key]; dup {
				t.Errorf("%s: duplicate text, first at %s", where, prev)
			} else {
				seen[key] = where
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		if n < 300 {
			t.Errorf("%s: %d lines, expected several hundred", f.name, n)
		}
		for _, fam := range f.families {
			if counts[fam] == 0 {
				t.Errorf("%s: no examples of family %q", f.name, fam)
			}
		}
	}
}
