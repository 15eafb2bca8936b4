package guard

import (
	"embed"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// injdata holds the hand-written examples of this repository (see
// injdata/README.md); they are split half for training, half for test.
//
//go:embed injdata/*.jsonl
var injdata embed.FS

// cseFamily maps CyberSecEval's injection variants to detector families.
var cseFamily = map[string]string{
	"ignore_previous_instructions": "direct", "system_mode": "jailbreak", "virtualization": "roleplay",
	"hypothetical_scenario": "roleplay", "persuasion": "manipulation", "output_formatting_manipulation": "manipulation",
	"token_smuggling": "obfuscation", "different_user_input_language": "direct", "overload_with_information": "direct",
	"few_shot_attack": "manipulation", "many_shot_attack": "manipulation", "repeated_token_attack": "manipulation",
	"indirect_reference": "exfil", "mixed_techniques": "mixed", "payload_splitting": "obfuscation",
}

// LoadInjectionCorpus reads the injection corpus: the public sets in
// shared (../shared/data) and the hand-written sets embedded in the
// binary, each example placed in the train, val or test split by a hash
// of a key chosen so that nothing tested shares its source with anything
// trained on:
//   - deepset: its own train (80% train, 20% val) and test splits;
//   - CyberSecEval English and Chinese (positives only): 70% of cases test,
//     by prompt id, the rest train/val;
//   - JailBench (20 jailbreak templates × 108 questions): a row is test
//     when both its template and its question fall in the test half, train
//     or val when both fall in the other half, and unused otherwise; the
//     seed questions alone are test only (plain harmful questions);
//   - the hand-written English and Chinese injections and hard benign
//     look-alikes: 50% test;
//   - benign ordinary traffic: CLINC150 and Banking77 (English) from their
//     train files for train/val, their test files for test; the Chinese
//     online-shopping and takeaway reviews, TNEWS titles and AFQMC
//     questions test only (their sources state no licence, so the shipped
//     model is not trained on them).
//
// Train positives also get one obfuscated copy each (zero-width, leet,
// base64, …); test positives of deepset and the hand-written sets get a
// copy per obfuscation in sets named "obfuscated_<kind>".
func LoadInjectionCorpus(shared string) ([]InjExample, error) {
	return LoadInjectionCorpusWith(shared, false)
}

// LoadInjectionCorpusWith is LoadInjectionCorpus; with unlicensed it also
// trains on the Chinese online-shopping and takeaway reviews and TNEWS
// titles (train files; their sources state no licence), for an operator
// who has cleared their use (`guard train --unlicensed`).
func LoadInjectionCorpusWith(shared string, unlicensed bool) ([]InjExample, error) {
	var out []InjExample
	add := func(ex InjExample) {
		if strings.TrimSpace(ex.Text) != "" {
			out = append(out, ex)
		}
	}
	// deepset
	for _, split := range []string{"train", "test"} {
		err := readLines(filepath.Join(shared, "prompt_injection_deepset", split+".jsonl"), func(b []byte) error {
			var r struct {
				Text  string `json:"text"`
				Label int    `json:"label"`
			}
			if err := json.Unmarshal(b, &r); err != nil {
				return err
			}
			sp := "test"
			if split == "train" {
				sp = splitOf("deepset:"+r.Text, 0, 20)
			}
			add(InjExample{Text: r.Text, Label: r.Label == 1, Set: "deepset", Lang: "en", Split: sp})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("deepset: %w", err)
		}
	}
	// CyberSecEval
	type cse struct {
		ID      int    `json:"prompt_id"`
		Input   string `json:"user_input"`
		Variant string `json:"injection_variant"`
		Type    string `json:"injection_type"`
		Lang    string `json:"speaking_language"`
	}
	for _, f := range []struct{ file, set, lang string }{
		{"prompt_injection.json", "cyberseceval_en", "English"},
		{"prompt_injection_multilingual_machine_translated.json", "cyberseceval_zh", "Chinese"},
	} {
		b, err := os.ReadFile(filepath.Join(shared, "cyberseceval_prompt_injection", f.file))
		if err != nil {
			return nil, fmt.Errorf("cyberseceval: %w", err)
		}
		var cs []cse
		if err := json.Unmarshal(b, &cs); err != nil {
			return nil, fmt.Errorf("cyberseceval %s: %w", f.file, err)
		}
		for _, c := range cs {
			if c.Lang != f.lang {
				continue
			}
			fam := cseFamily[c.Variant]
			if c.Type == "indirect" {
				fam = "indirect"
			}
			if fam == "" {
				fam = "other"
			}
			add(InjExample{Text: c.Input, Label: true, Set: f.set, Lang: langCode(f.lang), Family: fam,
				Split: splitOf(f.set+":"+strconv.Itoa(c.ID), 70, 25)})
		}
	}
	// JailBench
	rows, err := readCSV(filepath.Join(shared, "jailbench_zh", "JailBench.csv"))
	if err != nil {
		return nil, fmt.Errorf("jailbench: %w", err)
	}
	seeds, err := readCSV(filepath.Join(shared, "jailbench_zh", "JailBench_seed.csv"))
	if err != nil {
		return nil, fmt.Errorf("jailbench seeds: %w", err)
	}
	half := func(key string) bool { return splitOf(key, 50, 0) == "test" }
	for i, r := range rows[1:] {
		if len(r) < 2 {
			continue
		}
		tmpl, seed := i%20, i/20
		tt, st := half("jb-template:"+strconv.Itoa(tmpl)), half("jb-seed:"+strconv.Itoa(seed))
		sp := ""
		switch {
		case tt && st:
			sp = "test"
		case !tt && !st:
			sp = splitOf("jb:"+strconv.Itoa(i), 0, 20)
		default:
			continue
		}
		add(InjExample{Text: r[1], Label: true, Set: "jailbench", Lang: "zh", Family: "roleplay", Split: sp})
	}
	for i, r := range seeds[1:] {
		if len(r) >= 2 && half("jb-seed:"+strconv.Itoa(i)) {
			add(InjExample{Text: r[1], Label: true, Set: "jailbench_seed", Lang: "zh", Family: "harmful_question", Split: "test"})
		}
	}
	// hand-written sets
	for _, f := range []string{"inject_en", "inject_zh", "benign_en", "benign_zh"} {
		b, err := fs.ReadFile(injdata, "injdata/"+f+".jsonl")
		if err != nil {
			return nil, err
		}
		for n, line := range strings.Split(string(b), "\n") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			var r struct {
				Text   string `json:"text"`
				Label  int    `json:"label"`
				Family string `json:"family"`
				Lang   string `json:"lang"`
			}
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				return nil, fmt.Errorf("injdata/%s.jsonl line %d: %w", f, n+1, err)
			}
			add(InjExample{Text: r.Text, Label: r.Label == 1, Set: "own_" + r.Lang, Lang: r.Lang, Family: r.Family,
				Split: splitOf("own:"+r.Text, 50, 20)})
		}
	}
	// benign ordinary traffic
	type src struct {
		path, set, lang string
		col             int // CSV column; -1: JSON field
		field           string
		every           int
		train           bool
	}
	benign := []src{
		{"clinc150/train.jsonl", "clinc150", "en", -1, "text", 5, true},
		{"clinc150/test.jsonl", "clinc150", "en", -1, "text", 1, false},
		{"banking77/train.csv", "banking77", "en", 0, "", 7, true},
		{"banking77/test.csv", "banking77", "en", 0, "", 1, false},
		{"online_shopping_10_cats/test.csv", "shopping_zh", "zh", 2, "", 3, false},
		{"waimai_10k/test.csv", "waimai_zh", "zh", 1, "", 1, false},
		{"fewclue/tnews/test_public.json", "tnews_zh", "zh", -1, "sentence", 1, false},
		{"afqmc_zh/test.jsonl", "afqmc_zh", "zh", -1, "sentence1", 1, false},
		{"afqmc_zh/test.jsonl", "afqmc_zh", "zh", -1, "sentence2", 1, false},
	}
	if unlicensed {
		benign = append(benign,
			src{"online_shopping_10_cats/train-00.csv", "shopping_zh", "zh", 2, "", 6, true},
			src{"waimai_10k/train.csv", "waimai_zh", "zh", 1, "", 6, true},
			src{"fewclue/tnews/train_few_all.json", "tnews_zh", "zh", -1, "sentence", 1, true})
	}
	for _, s := range benign {
		var texts []string
		p := filepath.Join(shared, s.path)
		if s.col < 0 {
			err = readLines(p, func(b []byte) error {
				var m map[string]any
				if err := json.Unmarshal(b, &m); err != nil {
					return err
				}
				if t, ok := m[s.field].(string); ok {
					texts = append(texts, t)
				}
				return nil
			})
		} else {
			var rs [][]string
			rs, err = readCSV(p)
			for _, r := range rs[min(1, len(rs)):] {
				if s.col < len(r) {
					texts = append(texts, r[s.col])
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.path, err)
		}
		for i, t := range texts {
			if i%s.every != 0 {
				continue
			}
			sp := "test"
			if s.train {
				sp = splitOf(s.set+":"+t, 0, 20)
			}
			add(InjExample{Text: t, Set: s.set, Lang: s.lang, Family: "ordinary", Split: sp})
		}
	}
	// obfuscated copies
	n := len(out)
	for i := 0; i < n; i++ {
		ex := out[i]
		if !ex.Label {
			continue
		}
		switch {
		case ex.Split == "train":
			kind := Obfuscations[i%len(Obfuscations)]
			if t, ok := Obfuscate(kind, ex.Text, uint64(i)); ok {
				ex.Text, ex.Set = t, ex.Set+"+"+kind
				out = append(out, ex)
			}
		case ex.Split == "test" && (ex.Set == "deepset" || strings.HasPrefix(ex.Set, "own_")):
			for _, kind := range Obfuscations {
				if t, ok := Obfuscate(kind, ex.Text, uint64(i)); ok {
					out = append(out, InjExample{Text: t, Label: true, Set: "obfuscated_" + kind, Lang: ex.Lang, Family: ex.Family, Split: "test"})
				}
			}
		}
	}
	return out, nil
}

func langCode(l string) string {
	if l == "Chinese" {
		return "zh"
	}
	return "en"
}

func readCSV(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	return r.ReadAll()
}
