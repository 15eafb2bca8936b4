package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func storiesPath(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "models", "stories260K.gguf")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared fixtures not found: %v", err)
	}
	return p
}

// sy runs the CLI in-process and returns its exit code, stdout and stderr.
func sy(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestModelsImportListRm(t *testing.T) {
	src := storiesPath(t)
	dir := t.TempDir()
	if code, out, errs := sy(t, "models", "import", src, "--name", "tiny", "--data-dir", dir); code != 0 || !strings.Contains(out, "imported tiny (llama") {
		t.Fatalf("import: %d %q %q", code, out, errs)
	}
	t.Setenv("SWITCHYARD_DATA_DIR", dir) // the environment works as --data-dir
	if code, _, errs := sy(t, "models", "import", src); code != 0 {
		t.Fatalf("import by file name: %s", errs)
	}
	code, out, _ := sy(t, "models", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") ||
		!strings.Contains(lines[1], "stories260K") || !strings.Contains(lines[2], "tiny") || !strings.Contains(lines[2], "F32") || !strings.Contains(lines[2], "2048") {
		t.Fatalf("list:\n%s", out)
	}
	_, out, _ = sy(t, "models", "list", "--json")
	var ms []struct {
		Name         string
		Architecture string
		FileType     string `json:"file_type"`
		Context      int    `json:"context_length"`
	}
	if err := json.Unmarshal([]byte(out), &ms); err != nil || len(ms) != 2 {
		t.Fatalf("list --json: %v\n%s", err, out)
	}
	if code, _, errs := sy(t, "models", "rm", "tiny"); code != 0 {
		t.Fatalf("rm: %s", errs)
	}
	if code, _, errs := sy(t, "models", "rm", "tiny"); code != 1 || !strings.Contains(errs, "model not found") {
		t.Errorf("second rm: %d %q", code, errs)
	}
	if code, _, errs := sy(t, "models", "import", filepath.Join(dir, "nothing.gguf")); code != 1 || !strings.Contains(errs, "not a loadable GGUF") {
		t.Errorf("import of a missing file: %d %q", code, errs)
	}
	if code, _, _ := sy(t, "models", "frobnicate"); code != 2 {
		t.Errorf("unknown verb: exit %d", code)
	}
}

// TestServeLocalModelByName serves an imported model with provider local
// and only model: NAME (no path), through the whole gateway.
func TestServeLocalModelByName(t *testing.T) {
	src := storiesPath(t)
	dir := filepath.Join(t.TempDir(), "data")
	if code, _, errs := sy(t, "models", "import", src, "--name", "stories", "--data-dir", dir); code != 0 {
		t.Fatal(errs)
	}
	cfg := filepath.Join(t.TempDir(), "sy.yaml")
	os.WriteFile(cfg, []byte("models:\n  - name: tales\n    deployments:\n      - provider: local\n        model: stories\n  - name: stories\n    deployments:\n      - provider: local\n"), 0o644)
	t.Setenv("SWITCHYARD_ADMIN_KEY", "sy-local-model-test-key-1234")
	addr := freeAddr(t)
	stop := serve(t, addr, "--config", cfg, "--data-dir", dir)
	for _, model := range []string{"tales", "stories"} {
		req, _ := http.NewRequest("POST", "http://"+addr+"/v1/completions",
			strings.NewReader(`{"model":"`+model+`","prompt":"Once upon a time","max_tokens":8,"temperature":0}`))
		req.Header.Set("Authorization", "Bearer sy-local-model-test-key-1234")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var c struct {
			Choices []struct{ Text string }
			Usage   struct {
				CompletionTokens int `json:"completion_tokens"`
			}
		}
		if resp.StatusCode != 200 || json.Unmarshal(b, &c) != nil || len(c.Choices) != 1 || c.Choices[0].Text == "" || c.Usage.CompletionTokens != 8 {
			t.Errorf("%s: %d %s", model, resp.StatusCode, b)
		}
	}
	if code, out := stop(); code != 0 {
		t.Fatalf("serve exit %d:\n%s", code, out)
	}
	// A name that is not in the models directory is a config error.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("models:\n  - name: nope\n    deployments:\n      - provider: local\n"), 0o644)
	var out bytes.Buffer
	if code := run(context.Background(), []string{"serve", "--config", bad, "--data-dir", dir, "--addr", freeAddr(t)}, &out, &out); code != 1 || !strings.Contains(out.String(), `no model "nope"`) {
		t.Errorf("missing model: exit %d\n%s", code, out.String())
	}
}

func TestModelsPresets(t *testing.T) {
	code, out, errs := sy(t, "models", "presets")
	if code != 0 {
		t.Fatalf("presets: %d %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 12 || !strings.HasPrefix(lines[0], "PRESET") {
		t.Fatalf("presets:\n%s", out)
	}
	var deepseek, azure string
	for _, l := range lines {
		switch strings.Fields(l)[0] {
		case "deepseek":
			deepseek = l
		case "azure":
			azure = l
		}
	}
	if !strings.Contains(deepseek, "https://api.deepseek.com/v1") || !strings.Contains(deepseek, "deepseek-chat 0.56/0.07/1.68 USD") {
		t.Errorf("deepseek row: %q", deepseek)
	}
	if !strings.Contains(azure, "(required)") || !strings.Contains(azure, "api-key") {
		t.Errorf("azure row: %q", azure)
	}
	code, out, _ = sy(t, "models", "presets", "--json")
	var ps []struct {
		Name    string `json:"name"`
		BaseURL string `json:"base_url"`
		Auth    string `json:"auth"`
		Quirks  []string
		Prices  []struct {
			Model    string
			Output   float64
			Currency string
		}
	}
	if err := json.Unmarshal([]byte(out), &ps); code != 0 || err != nil || len(ps) != 11 {
		t.Fatalf("--json: %d %v\n%s", code, err, out)
	}
	for _, p := range ps {
		if p.Name == "qwen" && (len(p.Quirks) == 0 || p.BaseURL != "https://dashscope.aliyuncs.com/compatible-mode/v1") {
			t.Errorf("qwen: %+v", p)
		}
	}
	if code, _, _ := sy(t, "models", "presets", "extra"); code == 0 {
		t.Error("an extra argument was accepted")
	}
	if _, out, _ := sy(t, "models", "--help"); !strings.Contains(out, "presets [--json]") {
		t.Errorf("help lacks presets:\n%s", out)
	}
}
