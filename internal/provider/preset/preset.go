// Package preset is the vendor presets: provider kinds ("deepseek", "qwen",
// "azure", "ollama", …) that are the openai provider with a vendor's base
// URL, auth header and known quirks filled in, and a built-in table of the
// vendors' list prices used when a deployment names no price.
//
// Base URLs were checked against each vendor's documentation on 2026-12-03
// (see the comments on presets).
package preset

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"switchyard/internal/config"
	"switchyard/internal/provider"
	"switchyard/internal/provider/openai"
	"switchyard/internal/provider/upstream"
	wire "switchyard/internal/wire/openai"
)

// Preset describes one vendor preset.
type Preset struct {
	Name    string
	BaseURL string // default base URL; "" means base_url is required
	Auth    string // how the key is sent, for people: "Authorization: Bearer" or "api-key"
	Quirks  []string
	// extras are the option keys this preset accepts beyond openai's.
	extras []string
	// build turns decoded options into the client's options and quirks.
	build func(d provider.Deployment, o *Options) (openai.Options, openai.Quirks, error)
}

// Options are the keys every preset understands (openai's), plus the few
// that only some presets accept; a preset rejects an extra key it does not
// know, as the strict decoder rejects an unknown one.
type Options struct {
	BaseURL          string          `yaml:"base_url"`
	APIKey           config.Redacted `yaml:"api_key"`
	upstream.Options `yaml:",inline"`

	// qwen: sent as the body's "enable_thinking" when the body has none.
	EnableThinking *bool `yaml:"enable_thinking"`
	// openrouter: sent as the HTTP-Referer and X-Title headers (app attribution).
	HTTPReferer string `yaml:"http_referer"`
	XTitle      string `yaml:"x_title"`
	// azure: the resource endpoint (https://NAME.openai.azure.com), the
	// Azure deployment name (default: the deployment's model) and the
	// api-version query parameter.
	Endpoint   string `yaml:"endpoint"`
	Deployment string `yaml:"deployment"`
	APIVersion string `yaml:"api_version"`
}

// set reports which extra keys o has a value for.
func (o *Options) set() map[string]bool {
	return map[string]bool{
		"enable_thinking": o.EnableThinking != nil,
		"http_referer":    o.HTTPReferer != "",
		"x_title":         o.XTitle != "",
		"endpoint":        o.Endpoint != "",
		"deployment":      o.Deployment != "",
		"api_version":     o.APIVersion != "",
	}
}

func (o *Options) client(base string) openai.Options {
	if o.BaseURL != "" {
		base = o.BaseURL
	}
	return openai.Options{BaseURL: base, APIKey: o.APIKey, Options: o.Options}
}

// AzureAPIVersion is the api-version sent to Azure OpenAI when none is set:
// the GA data-plane version of the Azure OpenAI REST reference.
const AzureAPIVersion = "2024-10-21"

// plain is a preset that differs from openai only by its base URL.
func plain(base string) func(provider.Deployment, *Options) (openai.Options, openai.Quirks, error) {
	return func(_ provider.Deployment, o *Options) (openai.Options, openai.Quirks, error) {
		return o.client(base), openai.Quirks{}, nil
	}
}

// presets is every preset, by name. Base URLs, from the vendors' docs:
//   - deepseek: https://api-docs.deepseek.com (base_url https://api.deepseek.com, /v1 accepted)
//   - qwen: https://help.aliyun.com/zh/model-studio (OpenAI compatible mode, Beijing region)
//   - zhipu: https://docs.bigmodel.cn (https://open.bigmodel.cn/api/paas/v4)
//   - moonshot: https://platform.moonshot.cn/docs (https://api.moonshot.cn/v1; international: api.moonshot.ai)
//   - doubao: https://www.volcengine.com/docs/82379 (Ark, cn-beijing)
//   - minimax: https://platform.minimaxi.com/docs/api-reference/text-openai-api
//     (https://api.minimaxi.com/v1 in China; https://api.minimax.io/v1 international)
//   - siliconflow: https://docs.siliconflow.cn (https://api.siliconflow.cn/v1)
//   - openrouter: https://openrouter.ai/docs/api-reference/overview
//   - azure: https://learn.microsoft.com/azure/ai-services/openai/reference
//   - ollama: https://github.com/ollama/ollama/blob/main/docs/openai.md
var presets = map[string]*Preset{
	"deepseek": {Name: "deepseek", BaseURL: "https://api.deepseek.com/v1", Auth: "Authorization: Bearer",
		Quirks: []string{"reasoning_content (deepseek-reasoner's thinking) passes through untouched"},
		build:  plain("https://api.deepseek.com/v1")},
	"qwen": {Name: "qwen", BaseURL: "https://dashscope.aliyuncs.com/compatible-mode/v1", Auth: "Authorization: Bearer",
		Quirks: []string{
			"enable_thinking: true|false is sent in chat bodies that have none",
			`unset, a non-stream chat gets "enable_thinking":false (Qwen3 rejects thinking without streaming)`,
		},
		extras: []string{"enable_thinking"}, build: buildQwen},
	"zhipu":       {Name: "zhipu", BaseURL: "https://open.bigmodel.cn/api/paas/v4", Auth: "Authorization: Bearer", build: plain("https://open.bigmodel.cn/api/paas/v4")},
	"moonshot":    {Name: "moonshot", BaseURL: "https://api.moonshot.cn/v1", Auth: "Authorization: Bearer", build: plain("https://api.moonshot.cn/v1")},
	"doubao":      {Name: "doubao", BaseURL: "https://ark.cn-beijing.volces.com/api/v3", Auth: "Authorization: Bearer", Quirks: []string{"model is an Ark model or endpoint id (ep-…)"}, build: plain("https://ark.cn-beijing.volces.com/api/v3")},
	"minimax":     {Name: "minimax", BaseURL: "https://api.minimaxi.com/v1", Auth: "Authorization: Bearer", Quirks: []string{"outside China set base_url: https://api.minimax.io/v1"}, build: plain("https://api.minimaxi.com/v1")},
	"siliconflow": {Name: "siliconflow", BaseURL: "https://api.siliconflow.cn/v1", Auth: "Authorization: Bearer", build: plain("https://api.siliconflow.cn/v1")},
	"openrouter": {Name: "openrouter", BaseURL: "https://openrouter.ai/api/v1", Auth: "Authorization: Bearer",
		Quirks: []string{"http_referer and x_title are sent as the HTTP-Referer and X-Title headers"},
		extras: []string{"http_referer", "x_title"}, build: buildOpenRouter},
	"azure": {Name: "azure", Auth: "api-key",
		Quirks: []string{
			"endpoint (https://NAME.openai.azure.com) instead of base_url",
			"URL {endpoint}/openai/deployments/{deployment}/…?api-version=" + AzureAPIVersion + " (deployment defaults to model)",
		},
		extras: []string{"endpoint", "deployment", "api_version"}, build: buildAzure},
	"ollama": {Name: "ollama", BaseURL: "http://127.0.0.1:11434/v1", Auth: "Authorization: Bearer", Quirks: []string{"api_key optional"}, build: plain("http://127.0.0.1:11434/v1")},
	"vllm":   {Name: "vllm", Auth: "Authorization: Bearer", Quirks: []string{"base_url is required (http://HOST:8000/v1)"}, build: buildVLLM},
}

// Names lists the preset names, sorted.
func Names() []string {
	out := make([]string, 0, len(presets))
	for n := range presets {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Lookup returns the preset called name.
func Lookup(name string) (*Preset, bool) {
	p, ok := presets[name]
	return p, ok
}

// Register adds every preset kind to r.
func Register(r *provider.Registry) {
	for _, n := range Names() {
		r.Register(n, presets[n].New)
	}
}

// New is the preset's provider factory.
func (p *Preset) New(d provider.Deployment) (provider.Provider, error) {
	var o Options
	if err := d.Options.Decode(&o); err != nil {
		return nil, err
	}
	for k, on := range o.set() {
		if on && !p.accepts(k) {
			return nil, &config.FieldError{Line: d.Options.Line(), Field: k,
				Msg: fmt.Sprintf("unknown field for provider %s (it takes openai's options%s)", p.Name, p.extraList())}
		}
	}
	co, q, err := p.build(d, &o)
	if err != nil {
		return nil, fmt.Errorf("provider %s: %w", p.Name, err)
	}
	c, err := openai.NewClientWith(co, q)
	if err != nil {
		return nil, fmt.Errorf("provider %s: %w", p.Name, err)
	}
	return c, nil
}

func (p *Preset) accepts(key string) bool {
	for _, e := range p.extras {
		if e == key {
			return true
		}
	}
	return false
}

func (p *Preset) extraList() string {
	if len(p.extras) == 0 {
		return ""
	}
	return " and " + strings.Join(p.extras, ", ")
}

func buildVLLM(_ provider.Deployment, o *Options) (openai.Options, openai.Quirks, error) {
	if o.BaseURL == "" {
		return openai.Options{}, openai.Quirks{}, errors.New("base_url is required (the vLLM server's /v1, e.g. http://10.0.0.5:8000/v1)")
	}
	return o.client(""), openai.Quirks{}, nil
}

func buildOpenRouter(_ provider.Deployment, o *Options) (openai.Options, openai.Quirks, error) {
	co := o.client("https://openrouter.ai/api/v1")
	if o.HTTPReferer != "" || o.XTitle != "" {
		h := make(map[string]string, len(o.Headers)+2)
		for k, v := range o.Headers {
			h[k] = v
		}
		if o.HTTPReferer != "" {
			h["HTTP-Referer"] = o.HTTPReferer
		}
		if o.XTitle != "" {
			h["X-Title"] = o.XTitle
		}
		co.Headers = h
	}
	return co, openai.Quirks{}, nil
}

func buildAzure(d provider.Deployment, o *Options) (openai.Options, openai.Quirks, error) {
	if o.BaseURL != "" {
		return openai.Options{}, openai.Quirks{}, errors.New("azure takes endpoint (https://NAME.openai.azure.com), not base_url")
	}
	if o.Endpoint == "" {
		return openai.Options{}, openai.Quirks{}, errors.New("endpoint is required (https://NAME.openai.azure.com)")
	}
	dep := o.Deployment
	if dep == "" {
		dep = d.Model
	}
	if dep == "" {
		return openai.Options{}, openai.Quirks{}, errors.New("deployment (the Azure deployment name) is required when model is not set")
	}
	ver := o.APIVersion
	if ver == "" {
		ver = AzureAPIVersion
	}
	co := o.client(strings.TrimRight(o.Endpoint, "/") + "/openai/deployments/" + url.PathEscape(dep))
	query := "api-version=" + url.QueryEscape(ver)
	return co, openai.Quirks{
		AuthHeader: "api-key",
		URL:        func(base string, op provider.Op) string { return base + op.Path() + "?" + query },
		Query:      query,
	}, nil
}

var (
	jsonTrue  = []byte("true")
	jsonFalse = []byte("false")
)

func buildQwen(_ provider.Deployment, o *Options) (openai.Options, openai.Quirks, error) {
	set := o.EnableThinking
	return o.client("https://dashscope.aliyuncs.com/compatible-mode/v1"), openai.Quirks{
		Rewrite: func(req *provider.Request) ([]byte, error) {
			if req.Op != provider.OpChat {
				return req.Body, nil
			}
			switch {
			case set != nil && *set:
				return AddMember(req.Body, "enable_thinking", jsonTrue)
			case set != nil || !req.Stream:
				return AddMember(req.Body, "enable_thinking", jsonFalse)
			}
			return req.Body, nil
		},
	}, nil
}

// AddMember returns body, a JSON object, with "key":value added at its end
// when it has no member key; a body that has one is returned as is (the
// client's choice wins). It copies; body is not changed.
func AddMember(body []byte, key string, value []byte) ([]byte, error) {
	if _, err := wire.Scan(body); err != nil {
		return nil, err
	}
	start := len(body) - len(bytes.TrimLeft(body, " \t\r\n"))
	end := len(bytes.TrimRight(body, " \t\r\n"))
	if start >= end || body[start] != '{' || body[end-1] != '}' {
		return nil, errors.New("body is not a JSON object")
	}
	obj := wire.Span{Start: start, End: end}
	if wire.Member(body, obj, key).Present() {
		return body, nil
	}
	empty := len(bytes.TrimSpace(body[start+1:end-1])) == 0
	out := make([]byte, 0, len(body)+len(key)+len(value)+4)
	out = append(out, body[:end-1]...)
	if !empty {
		out = append(out, ',')
	}
	out = wire.AppendQuote(out, key)
	out = append(out, ':')
	out = append(out, value...)
	return append(out, body[end-1:]...), nil
}
