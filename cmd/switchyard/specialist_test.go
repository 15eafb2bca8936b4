package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"switchyard/internal/engine"
	spec "switchyard/internal/specialist"
)

// specialistCSV is 3 labels × 15 examples, English and Chinese (shared with the
// specialist package's tests), here with non-default column names.
var specialistCSV = strings.Replace(mustRead("../../internal/specialist/testdata/intents.csv"), "text,label", "utterance,intent", 1)

func mustRead(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	return string(b)
}

const specialistEvalCSV = `utterance,intent
refund please,refund
退款,refund
where is my order,shipping
快递呢,shipping
hello,greeting
你好呀,greeting
`

func TestSpecialistCLI(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "train.csv")
	evalFile := filepath.Join(dir, "eval.csv")
	if err := os.WriteFile(data, []byte(specialistCSV), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(evalFile, []byte(specialistEvalCSV), 0o644); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(dir, "state")
	sy := func(args ...string) (int, string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		code := run(context.Background(), append([]string{"specialist"}, args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	train := []string{"train", "--name", "intent", "--data", data, "--text-column", "utterance", "--label-column", "intent", "--data-dir", dataDir}

	for _, tc := range []struct {
		name      string
		args      []string
		code      int
		stdout    []string // substrings
		stderrHas []string
	}{
		{"train v1", append(train, "--eval", evalFile), 0,
			[]string{"intent v1: ", "validation: accuracy", "eval:       accuracy", "promoted v1"}, []string{"training intent on 45 rows", "refit", "["}},
		{"train v2", train, 0, []string{"intent v2: "}, nil},
		{"list", []string{"list", "--data-dir", dataDir}, 0, []string{"NAME", "intent", "2"}, nil},
		{"show", []string{"show", "intent", "--data-dir", dataDir}, 0, []string{"v1", "v2", "refund"}, nil},
		{"promote", []string{"promote", "--name", "intent", "--version", "2", "--data-dir", dataDir}, 0, []string{"v2 promoted"}, nil},
		{"eval promoted", []string{"eval", "--name", "intent", "--data", evalFile, "--text-column", "utterance", "--label-column", "intent",
			"--data-dir", dataDir, "--svg", filepath.Join(dir, "cm.svg")}, 0, []string{"intent v2 on", "refund", "shipping"}, nil},
		{"rollback", []string{"rollback", "--name", "intent", "--data-dir", dataDir}, 0, []string{"rolled back to v1"}, nil},
		{"rollback again", []string{"rollback", "--name", "intent", "--data-dir", dataDir}, 1, nil, []string{"no earlier promoted version"}},
		{"no name", []string{"show", "--data-dir", dataDir}, 1, nil, []string{"--name is required"}},
		{"unknown", []string{"show", "--name", "ghost", "--data-dir", dataDir}, 1, nil, []string{"not found"}},
		{"bad verb", []string{"frobnicate", "--name", "x", "--data-dir", dataDir}, 2, nil, []string{"unknown verb"}},
		{"no verb", nil, 2, []string{"Usage: switchyard specialist"}, nil},
		{"missing data", []string{"train", "--name", "x", "--data", filepath.Join(dir, "nope.csv"), "--data-dir", dataDir}, 1, nil, []string{"nope.csv"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := sy(tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tc.stderrHas {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errOut)
				}
			}
		})
	}
	if b, err := os.ReadFile(filepath.Join(dir, "cm.svg")); err != nil || !bytes.Contains(b, []byte("<svg")) {
		t.Errorf("svg: %v", err)
	}

	// SWITCHYARD_DATA_DIR is the default --data-dir.
	t.Setenv("SWITCHYARD_DATA_DIR", dataDir)
	if code, out, errOut := sy("list"); code != 0 || !strings.Contains(out, "intent") {
		t.Errorf("list from env: %d %s %s", code, out, errOut)
	}
}

// TestSpecialistWithEmbeddings trains a specialist whose features include
// sentence embeddings from a small random-weight GGUF model through the
// engine, evaluates it from the CLI, and serves it through the gateway.
func TestSpecialistWithEmbeddings(t *testing.T) {
	dir := t.TempDir()
	emb := filepath.Join(dir, "tiny-embed.gguf")
	shape := engine.Shape{Arch: "llama", Name: "tiny-embed", Embd: 64, Layers: 2, Heads: 4, KVHeads: 4, FF: 128, Vocab: 400, Context: 256, RopeBase: 1e4, Pre: "smollm"}
	if err := engine.SynthShape(shape, "f16", emb); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "intents.csv")
	os.WriteFile(data, []byte(mustRead("../../internal/specialist/testdata/intents.csv")), 0o600)
	dataDir := filepath.Join(dir, "state")
	var out bytes.Buffer
	for _, args := range [][]string{
		{"specialist", "train", "--name", "intent", "--data", data, "--embed-model", emb, "--data-dir", dataDir},
		{"specialist", "eval", "--name", "intent", "--data", data, "--data-dir", dataDir},
	} {
		out.Reset()
		if code := run(context.Background(), args, &out, &out); code != 0 {
			t.Fatalf("%v: %d\n%s", args, code, out.String())
		}
	}
	st, _ := spec.OpenStore(dataDir)
	_, man, err := st.LoadPromoted("intent")
	if err != nil || !man.UsesEmbedding || man.EmbedModel != emb {
		t.Fatalf("manifest %+v, %v: want embeddings from %s", man, err, emb)
	}
	// Served through the gateway: the provider loads the same embedding model.
	t.Setenv("SWITCHYARD_ADMIN_KEY", testAdminKey)
	cfg := filepath.Join(dir, "sy.yaml")
	os.WriteFile(cfg, []byte("models:\n  - name: intent\n    deployments:\n      - provider: specialist\n        specialist: intent\n"), 0o600)
	addr := freeAddr(t)
	stop := serve(t, addr, "--data-dir", dataDir, "--config", cfg)
	defer stop()
	req, _ := http.NewRequest("POST", "http://"+addr+"/v1/classify", strings.NewReader(`{"model":"intent","input":["我要退款","where is my parcel"]}`))
	req.Header.Set("Authorization", "Bearer "+testAdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"labels"`) {
		t.Fatalf("classify with an embedding specialist: %d %s", resp.StatusCode, b)
	}
}
