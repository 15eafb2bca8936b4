package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

const good = `
server:
  addr: 0.0.0.0:9000
  max_body_bytes: 1MiB
models:
  - name: chat
    fallbacks: [chat-large]
    max_retries: 2
    deployments:
      - id: vllm-a
        provider: openai
        base_url: http://127.0.0.1:8000/v1
        api_key: ${VLLM_KEY}
        model: Qwen/Qwen2.5-7B-Instruct
        weight: 1
        timeout: 60s
        price: {input: 0.5, output: 1.5, currency: USD}
  - name: chat-large
    deployments:
      - provider: openai
        base_url: ${BASE:-http://localhost:1/v1}
`

func TestParseGood(t *testing.T) {
	c, err := Parse("a.yaml", []byte(good), env(map[string]string{"VLLM_KEY": "k1"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Addr != "0.0.0.0:9000" || c.Server.MaxBodyBytes != 1<<20 || c.DataDir != "./switchyard-data" {
		t.Errorf("server = %+v, data_dir %q", c.Server, c.DataDir)
	}
	d := c.Models[0].Deployments[0]
	if d.ID != "vllm-a" || d.Model != "Qwen/Qwen2.5-7B-Instruct" || d.Price.Output != 1.5 || d.Line != 10 {
		t.Errorf("deployment = %+v", d)
	}
	var o struct {
		BaseURL string   `yaml:"base_url"`
		APIKey  string   `yaml:"api_key"`
		Timeout Duration `yaml:"timeout"`
	}
	if err := d.Options.Decode(&o); err != nil {
		t.Fatal(err)
	}
	if o.APIKey != "k1" || o.Timeout.D() != time.Minute {
		t.Errorf("options = %+v", o)
	}
	d2 := c.Models[1].Deployments[0]
	if d2.ID != "chat-large-1" || d2.Model != "chat-large" || *d2.Weight != 1 || *c.Models[1].MaxRetries != 2 {
		t.Errorf("defaults not applied: %+v", d2)
	}
}

func TestParseErrorsNameFileLineAndField(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"unknown top key", "modles: []\n", "a.yaml:1: modles: unknown field"},
		{"unknown model key", "models:\n  - name: x\n    retries: 2\n    deployments: [{provider: openai}]\n", "a.yaml:3: models[0].retries: unknown field"},
		{"wrong type", "models:\n  - name: x\n    max_retries: lots\n    deployments: [{provider: openai}]\n", "a.yaml:3: models[0].max_retries: expected an integer"},
		{"bad duration", "server:\n  shutdown_timeout: forever\n", "a.yaml:2: server.shutdown_timeout: invalid duration"},
		{"unset env", "models:\n  - name: x\n    deployments:\n      - provider: openai\n        api_key: ${NOPE}\n", "a.yaml:5: environment variable NOPE is not set"},
		{"missing deployments", "models:\n  - name: x\n", "a.yaml:2: models[0].deployments: at least one deployment"},
		{"unknown fallback", "models:\n  - name: x\n    fallbacks: [y]\n    deployments: [{provider: openai}]\n", `a.yaml:2: models[0].fallbacks: unknown model "y"`},
		{"duplicate name", "models:\n  - name: x\n    deployments: [{provider: openai}]\n  - name: x\n    deployments: [{provider: openai}]\n", "a.yaml:4: models[1].name: duplicate model name"},
		{"bad currency", "models:\n  - name: x\n    deployments:\n      - provider: openai\n        price: {input: 1, currency: EUR}\n", "price.currency: unknown currency"},
		{"yaml syntax", "models: [\n", "a.yaml: yaml:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("a.yaml", []byte(c.yaml), env(nil))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v\nwant it to contain %q", err, c.want)
			}
		})
	}
}

func TestValidateJoinsEveryProblem(t *testing.T) {
	_, err := Parse("a.yaml", []byte("server:\n  log_level: loud\nrouter:\n  strategy: random\nmodels:\n  - name: x\n"), env(nil))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"server.log_level", "router.strategy", "models[0].deployments"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s: %v", want, err)
		}
	}
}

func TestOptionsRejectUnknownKeys(t *testing.T) {
	c, err := Parse("a.yaml", []byte("models:\n  - name: x\n    deployments:\n      - provider: openai\n        base_ur: http://x\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	var o struct {
		BaseURL string `yaml:"base_url"`
	}
	err = c.Models[0].Deployments[0].Options.Decode(&o)
	if err == nil || !strings.Contains(err.Error(), "a.yaml:5: base_ur: unknown field") {
		t.Errorf("error = %v", err)
	}
}

func TestOptionsDecodeInlineStructs(t *testing.T) {
	type Shared struct {
		Timeout Duration          `yaml:"timeout"`
		Headers map[string]string `yaml:"headers"`
	}
	type opts struct {
		BaseURL string `yaml:"base_url"`
		Shared  `yaml:",inline"`
	}
	for _, tc := range []struct {
		name, yaml string
		want       opts
		wantErr    string
	}{
		{name: "own and inline keys", yaml: "base_url: http://x\n        timeout: 5s\n        headers: {A: b}\n",
			want: opts{BaseURL: "http://x", Shared: Shared{Timeout: Duration(5 * time.Second), Headers: map[string]string{"A": "b"}}}},
		{name: "unknown key still rejected", yaml: "timeout: 5s\n        timeot: 1s\n", wantErr: "a.yaml:6: timeot: unknown field"},
		{name: "inline key type checked", yaml: "timeout: soon\n", wantErr: "a.yaml:5: timeout: invalid duration"},
		{name: "the inline struct is no key itself", yaml: "shared: {}\n", wantErr: "a.yaml:5: shared: unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("a.yaml", []byte("models:\n  - name: x\n    deployments:\n      - provider: openai\n        "+tc.yaml), env(nil))
			if err != nil {
				t.Fatal(err)
			}
			var o opts
			err = c.Models[0].Deployments[0].Options.Decode(&o)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(o, tc.want) {
				t.Errorf("decoded %+v, want %+v", o, tc.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("models:\n  - name: x\n    deployments: [{provider: openai, weight: -1}]\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		Parse("f.yaml", data, env(map[string]string{"A": "1"}))
	})
}

func TestGuardPolicies(t *testing.T) {
	good := `
guard:
  default: strict
  policies:
    strict:
      input:
        pii: {CN_ID: block, PHONE: pseudonymise, "*": redact}
        injection: block
        categories: {violence: flag}
      output:
        pii: {"*": redact}
`
	c, err := Parse("g.yaml", []byte(good), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	p := c.Guard.Policies["strict"]
	if p.Input.PIIAction("CN_ID") != "block" || p.Input.PIIAction("EMAIL") != "redact" || p.Output.PIIAction("IP") != "redact" || c.Guard.HoldBack != 64 {
		t.Errorf("decoded %+v", c.Guard)
	}
	for _, bad := range []string{
		"guard:\n  policies:\n    x:\n      input:\n        pii: {PHONE: shred}\n",
		"guard:\n  default: nope\n",
		"guard:\n  policies:\n    x:\n      inputs: {}\n",
	} {
		if _, err := Parse("g.yaml", []byte(bad), func(string) (string, bool) { return "", false }); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
