package preset_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"switchyard/internal/config"
	"switchyard/internal/leakcheck"
	"switchyard/internal/provider"
	"switchyard/internal/provider/preset"
)

func TestMain(m *testing.M) {
	leakcheck.Main(m, "switchyard/internal/provider", "net/http.(*persistConn)", "net/http.(*conn).serve")
}

// seen is what the fake upstream received.
type seen struct {
	method, path, query string
	header              http.Header
	body                string
}

func upstream(t *testing.T) (*httptest.Server, *seen) {
	t.Helper()
	var s seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s = seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), string(b)}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"x","object":"chat.completion","choices":[]}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &s
}

func build(t *testing.T, kind, model string, opts map[string]any) (provider.Provider, error) {
	t.Helper()
	n, err := config.NodeFromMap(opts)
	if err != nil {
		t.Fatal(err)
	}
	var r provider.Registry
	preset.Register(&r)
	p, err := r.New(provider.Deployment{Provider: kind, Model: model, Options: n})
	if p != nil {
		t.Cleanup(func() { p.Close() })
	}
	return p, err
}

func do(t *testing.T, p provider.Provider, op provider.Op, stream bool, body string) {
	t.Helper()
	resp, err := p.Do(context.Background(), &provider.Request{Op: op, Body: []byte(body), Stream: stream})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Stream != nil {
		for {
			if _, err := resp.Stream.Next(); err != nil {
				break
			}
		}
		resp.Stream.Close()
	}
}

func TestPresetsSendTheirURLAndHeaders(t *testing.T) {
	for _, name := range preset.Names() {
		if name == "azure" {
			continue // its own test
		}
		t.Run(name, func(t *testing.T) {
			srv, got := upstream(t)
			opts := map[string]any{"base_url": srv.URL + "/v9", "api_key": "k-" + name}
			if name == "openrouter" {
				opts["http_referer"] = "https://app.example"
				opts["x_title"] = "My App"
			}
			p, err := build(t, name, "m", opts)
			if err != nil {
				t.Fatal(err)
			}
			do(t, p, provider.OpChat, false, `{"model":"m","messages":[]}`)
			if got.path != "/v9/chat/completions" || got.header.Get("Authorization") != "Bearer k-"+name {
				t.Fatalf("path %q auth %q", got.path, got.header.Get("Authorization"))
			}
			if name == "openrouter" && (got.header.Get("HTTP-Referer") != "https://app.example" || got.header.Get("X-Title") != "My App") {
				t.Fatalf("openrouter headers: %v", got.header)
			}
			want := `{"model":"m","messages":[]}`
			if name == "qwen" {
				want = `{"model":"m","messages":[],"enable_thinking":false}`
			}
			if got.body != want {
				t.Fatalf("body %s, want %s", got.body, want)
			}
			do(t, p, provider.OpEmbedding, false, `{"model":"e","input":"x"}`)
			if got.path != "/v9/embeddings" || got.body != `{"model":"e","input":"x"}` {
				t.Fatalf("embeddings: %q %s", got.path, got.body)
			}
		})
	}
}

func TestDefaultBaseURLs(t *testing.T) {
	want := map[string]string{
		"deepseek":    "https://api.deepseek.com/v1",
		"qwen":        "https://dashscope.aliyuncs.com/compatible-mode/v1",
		"zhipu":       "https://open.bigmodel.cn/api/paas/v4",
		"moonshot":    "https://api.moonshot.cn/v1",
		"doubao":      "https://ark.cn-beijing.volces.com/api/v3",
		"minimax":     "https://api.minimaxi.com/v1",
		"siliconflow": "https://api.siliconflow.cn/v1",
		"openrouter":  "https://openrouter.ai/api/v1",
		"ollama":      "http://127.0.0.1:11434/v1",
		"vllm":        "",
		"azure":       "",
	}
	if got := preset.Names(); len(got) != len(want) {
		t.Fatalf("presets %v", got)
	}
	for name, base := range want {
		p, ok := preset.Lookup(name)
		if !ok || p.BaseURL != base {
			t.Errorf("%s: %+v", name, p)
		}
		if name != "vllm" && name != "azure" {
			if _, err := build(t, name, "m", map[string]any{}); err != nil {
				t.Errorf("%s without options: %v", name, err)
			}
		}
	}
}

func TestAzure(t *testing.T) {
	srv, got := upstream(t)
	p, err := build(t, "azure", "gpt-4o", map[string]any{"endpoint": srv.URL + "/", "api_key": "az"})
	if err != nil {
		t.Fatal(err)
	}
	do(t, p, provider.OpChat, false, `{"model":"gpt-4o","messages":[]}`)
	if got.path != "/openai/deployments/gpt-4o/chat/completions" || got.query != "api-version="+preset.AzureAPIVersion {
		t.Fatalf("%s?%s", got.path, got.query)
	}
	if got.header.Get("Api-Key") != "az" || got.header.Get("Authorization") != "" {
		t.Fatalf("auth headers: %v", got.header)
	}
	p, err = build(t, "azure", "gpt-4o", map[string]any{"endpoint": srv.URL, "deployment": "prod embed", "api_version": "2025-04-01-preview"})
	if err != nil {
		t.Fatal(err)
	}
	do(t, p, provider.OpEmbedding, false, `{"model":"x","input":"a"}`)
	if got.path != "/openai/deployments/prod embed/embeddings" || got.query != "api-version=2025-04-01-preview" {
		t.Fatalf("%s?%s", got.path, got.query)
	}
	// Raw calls (audio) carry the api-version too, after the client's query.
	resp, err := p.(provider.RawDoer).DoRaw(context.Background(), &provider.RawRequest{Path: "/audio/speech", RawQuery: "x=1",
		Header: http.Header{"Content-Type": {"application/json"}}, Body: strings.NewReader(`{}`), ContentLength: 2})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got.path != "/openai/deployments/prod embed/audio/speech" || got.query != "x=1&api-version=2025-04-01-preview" || got.header.Get("Api-Key") != "" && got.header.Get("Authorization") != "" {
		t.Fatalf("raw: %s?%s %v", got.path, got.query, got.header)
	}
	for _, tc := range []struct {
		opts map[string]any
		want string
	}{
		{map[string]any{}, "endpoint is required"},
		{map[string]any{"endpoint": srv.URL, "base_url": srv.URL}, "not base_url"},
	} {
		if _, err := build(t, "azure", "m", tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v", tc.opts, err)
		}
	}
	if _, err := build(t, "azure", "", map[string]any{"endpoint": srv.URL}); err == nil || !strings.Contains(err.Error(), "deployment") {
		t.Errorf("no deployment: %v", err)
	}
}

func TestQwenEnableThinking(t *testing.T) {
	srv, got := upstream(t)
	for _, tc := range []struct {
		name   string
		opt    any // nil: unset
		stream bool
		body   string
		want   string
	}{
		{"unset non-stream", nil, false, `{"model":"q"}`, `{"model":"q","enable_thinking":false}`},
		{"unset stream", nil, true, `{"model":"q","stream":true}`, `{"model":"q","stream":true}`},
		{"true stream", true, true, `{"model":"q"}`, `{"model":"q","enable_thinking":true}`},
		{"false stream", false, true, `{"model":"q"}`, `{"model":"q","enable_thinking":false}`},
		{"client wins", false, false, ` {"model":"q","enable_thinking":true} `, ` {"model":"q","enable_thinking":true} `},
		{"empty object", nil, false, `{ }`, `{ "enable_thinking":false}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := map[string]any{"base_url": srv.URL}
			if tc.opt != nil {
				opts["enable_thinking"] = tc.opt
			}
			p, err := build(t, "qwen", "q", opts)
			if err != nil {
				t.Fatal(err)
			}
			do(t, p, provider.OpChat, tc.stream, tc.body)
			if got.body != tc.want {
				t.Fatalf("got %s, want %s", got.body, tc.want)
			}
		})
	}
	p, _ := build(t, "qwen", "q", map[string]any{"base_url": srv.URL})
	_, err := p.Do(context.Background(), &provider.Request{Op: provider.OpChat, Body: []byte(`[1]`)})
	if !errors.Is(err, provider.ErrInvalidRequest) {
		t.Fatalf("non-object body: %v", err)
	}
}

func TestStrictOptions(t *testing.T) {
	for _, tc := range []struct {
		kind string
		opts map[string]any
		want string
	}{
		{"deepseek", map[string]any{"enable_thinking": true}, "enable_thinking: unknown field for provider deepseek"},
		{"qwen", map[string]any{"endpoint": "https://x"}, "endpoint: unknown field for provider qwen"},
		{"openrouter", map[string]any{"deployment": "d"}, "deployment: unknown field for provider openrouter"},
		{"moonshot", map[string]any{"bogus": 1}, "bogus: unknown field"},
		{"vllm", map[string]any{}, "base_url is required"},
		{"zhipu", map[string]any{"base_url": "ftp://x"}, "must be an http(s) URL"},
	} {
		_, err := build(t, tc.kind, "m", tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v: %v, want %q", tc.kind, tc.opts, err, tc.want)
		}
	}
}

func TestAddMember(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{`{"a":1}`, `{"a":1,"k":false}`, ""},
		{"{\n}\n", "{\n\"k\":false}\n", ""},
		{`{"k":1}`, `{"k":1}`, ""},
		{`{"a":{"k":1}}`, `{"a":{"k":1},"k":false}`, ""},
		{`"x"`, "", "JSON object"},
		{`{"a":`, "", "unexpected"},
	} {
		got, err := preset.AddMember([]byte(tc.in), "k", []byte("false"))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("%q: %q %v, want %q", tc.in, got, err, tc.want)
		}
	}
}

func FuzzAddMember(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"enable_thinking":true}`, ` { "x" : [1,{}] } `, `[]`, `{"a"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := preset.AddMember(body, "enable_thinking", []byte("false"))
		if err != nil {
			return
		}
		if _, err := preset.AddMember(out, "enable_thinking", []byte("true")); err != nil {
			t.Fatalf("output %q is not an object: %v", out, err)
		}
	})
}

func TestDefaultPrice(t *testing.T) {
	p, ok := preset.DefaultPrice("deepseek", "deepseek-chat")
	if !ok || p.Input != 0.56 || p.CachedInput != 0.07 || p.Output != 1.68 || p.Currency != "USD" {
		t.Fatalf("%+v %v", p, ok)
	}
	if _, ok := preset.DefaultPrice("openai", "deepseek-chat"); ok {
		t.Fatal("a price for another kind")
	}
	for _, mp := range preset.Prices("") {
		if _, ok := preset.Lookup(mp.Preset); !ok || (mp.Currency != "USD" && mp.Currency != "CNY") || mp.Input <= 0 || mp.Output <= 0 {
			t.Errorf("bad row %+v", mp)
		}
	}
}
