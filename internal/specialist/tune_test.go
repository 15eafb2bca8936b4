package specialist

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTuneValidation compares training configurations on validation splits
// only (carved from train, or the dataset's own validation file); it never
// reads a test file. It runs only with SWITCHYARD_TUNE=1 (a comma-separated
// SWITCHYARD_TUNE_FILTER selects datasets and variants by name).
func TestTuneValidation(t *testing.T) {
	if os.Getenv("SWITCHYARD_TUNE") == "" {
		t.Skip("set SWITCHYARD_TUNE=1 to compare configurations on validation")
	}
	dir := sharedData(t)
	filter := os.Getenv("SWITCHYARD_TUNE_FILTER")
	type set struct {
		name  string
		train string
		val   string
		opt   LoadOptions
		oos   string
	}
	b77 := LoadOptions{TextColumn: "text", LabelColumn: "category"}
	sets := []set{
		{"banking77", "banking77/train.csv", "", b77, ""},
		{"banking77-10shot", "banking77/fewshot/train_10shot.csv", "", b77, ""},
		{"clinc150", "clinc150/train.jsonl", "clinc150/val.jsonl", LoadOptions{TextColumn: "text", LabelColumn: "intent"}, "oos"},
		{"waimai", "waimai_10k/train.csv", "", LoadOptions{TextColumn: "review", LabelColumn: "label"}, ""},
	}
	variants := []struct {
		name string
		cfg  Config
	}{
		{"base", Config{}},
		{"cgrid", Config{C: []float64{0.03, 0.1, 0.3, 1, 3}}},
		{"charw", Config{CharWeights: []float32{0.5, 0.75, 1, 1.5, 2}}},
		{"char2-5", Config{Features: FeatureConfig{CharMin: 2, CharMax: 5}}},
		{"char1-6", Config{Features: FeatureConfig{CharMin: 1, CharMax: 6}}},
		{"word1-3", Config{Features: FeatureConfig{WordMin: 1, WordMax: 3}}},
		{"word1-1", Config{Features: FeatureConfig{WordMin: 1, WordMax: 1}}},
		{"rawtf", Config{Features: FeatureConfig{NoSublinearTF: true}}},
		{"noidf", Config{Features: FeatureConfig{NoIDF: true}}},
		{"cjk4", Config{Features: FeatureConfig{CJKMax: 4}}},
		{"cjk2", Config{Features: FeatureConfig{CJKMax: 2}}},
		{"balanced", Config{Balanced: true}},
		{"lr-l4", Config{LogRegMix: []float32{0.1, 0.3, 1, 3, 10}}},
		{"lr-l5", Config{LogRegMix: []float32{0.1, 0.3, 1, 3, 10}, LogRegLambda: 1e-5}},
		{"lr-e5", Config{LogRegMix: []float32{0.1, 0.3, 1, 3, 10}, LogRegEpochs: 5}},
		{"lr-e20", Config{LogRegMix: []float32{0.1, 0.3, 1, 3, 10}, LogRegEpochs: 20}},
	}
	for _, s := range sets {
		opt := s.opt
		train, err := LoadFile(filepath.Join(dir, s.train), opt)
		if err != nil {
			t.Fatal(err)
		}
		var val []Example
		if s.val != "" {
			if val, err = LoadFile(filepath.Join(dir, s.val), opt); err != nil {
				t.Fatal(err)
			}
		}
		for _, v := range variants {
			name := s.name + "/" + v.name
			if filter != "" && !tuneMatch(name, filter) {
				continue
			}
			cfg := v.cfg
			cfg.NoRefit = true
			cfg.OOSLabel = s.oos
			_, res, err := Train(context.Background(), train, val, cfg)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, c := range res.Candidates {
				fmt.Fprintf(&b, " cw=%g,C=%g,mix=%g:%.4f", c.CharWeight, c.C, c.LogRegMix, c.Accuracy)
			}
			r := res.Validation
			fmt.Printf("%-28s val acc %.4f in-scope %.4f oos-recall %.4f feats %d %.1fs |%s\n", name, r.Accuracy, r.InScopeAccuracy, r.OOSRecall, res.Features, res.Duration.Seconds(), b.String())
		}
	}
}

// tuneMatch reports whether name has every "/"-free part of one of the
// comma-separated alternatives of filter as a substring.
func tuneMatch(name, filter string) bool {
	for _, alt := range strings.Split(filter, ",") {
		ok := true
		for _, p := range strings.Split(strings.TrimSpace(alt), "+") {
			if !strings.Contains(name, p) {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}
