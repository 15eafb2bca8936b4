// Package specialist is the provider kind "specialist": it serves the
// promoted version of a trained classifier from the specialist store
// (internal/specialist) on /v1/classify, and on /v1/chat/completions as a
// JSON answer ({"label","score","out_of_scope"}) so any OpenAI client can
// call it. It follows promotions and rollbacks without a config reload.
package specialist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"switchyard/internal/config"
	"switchyard/internal/metering/tokenize"
	"switchyard/internal/provider"
	spec "switchyard/internal/specialist"
	wire "switchyard/internal/wire/openai"
)

// Kind is the registry name of this provider.
const Kind = "specialist"

// MaxInputs bounds the texts of one classify request.
const MaxInputs = 2048

// Options are the deployment keys of a specialist.
type Options struct {
	// Specialist names the specialist; its promoted version answers.
	Specialist string `yaml:"specialist"`
}

// Client is one specialist deployment. It is safe for concurrent use.
type Client struct {
	name    string
	dataDir string

	mu    sync.Mutex
	store *spec.Store
	cur   *served // the version in service, nil before the first load
	seen  os.FileInfo
	emb   *spec.EngineEmbedder // the embedding model of cur, if it uses one
}

// served is one loaded version.
type served struct {
	version int
	model   *spec.Model
}

var _ provider.Provider = (*Client)(nil)

// New returns the factory of specialist deployments whose store lives in
// dataDir (the server's data directory; "" means the default). A deployment whose specialist is
// missing or has no promoted version builds fine and answers 404
// model_not_found until one is trained and promoted.
func New(dataDir string) provider.Factory {
	if dataDir == "" {
		dataDir = config.Default().DataDir
	}
	return func(d provider.Deployment) (provider.Provider, error) {
		var o Options
		if err := d.Options.Decode(&o); err != nil {
			return nil, err
		}
		if o.Specialist == "" {
			return nil, errors.New("specialist (the name of a trained specialist) is required for provider specialist")
		}
		if !spec.ValidName(o.Specialist) {
			return nil, fmt.Errorf("specialist %q: names use letters, digits, . _ - (at most 64)", o.Specialist)
		}
		return &Client{name: o.Specialist, dataDir: dataDir}, nil
	}
}

// Close releases nothing: models are plain memory.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.emb != nil {
		c.emb.Close()
		c.emb = nil
	}
	return nil
}

// model returns the promoted version, reloading it when the store's state
// file changed since the last request (one stat per request).
func (c *Client) model() (*served, error) {
	fi, err := os.Stat(filepath.Join(c.dataDir, "specialists", c.name, "state.json"))
	c.mu.Lock()
	defer c.mu.Unlock()
	if errors.Is(err, fs.ErrNotExist) {
		c.cur, c.seen = nil, nil
		return nil, notFound(c.name)
	}
	if err != nil {
		return nil, fmt.Errorf("checking specialist %s: %w", c.name, err)
	}
	if c.cur != nil && c.seen != nil && os.SameFile(fi, c.seen) && fi.ModTime().Equal(c.seen.ModTime()) && fi.Size() == c.seen.Size() {
		return c.cur, nil
	}
	if c.store == nil {
		if c.store, err = spec.OpenStore(c.dataDir); err != nil {
			return nil, err
		}
	}
	v, err := c.store.Promoted(c.name)
	if err != nil {
		return nil, err
	}
	if v == 0 {
		c.cur, c.seen = nil, fi
		return nil, notFound(c.name)
	}
	if c.cur == nil || c.cur.version != v {
		m, man, err := c.store.Load(c.name, v)
		if errors.Is(err, spec.ErrNotFound) {
			return nil, notFound(c.name)
		}
		if err != nil {
			return nil, fmt.Errorf("loading specialist %s v%d: %w", c.name, v, err)
		}
		if m.UsesEmbeddings() {
			// The embedding model it was trained with answers here too.
			if c.emb == nil || c.emb.Path != man.EmbedModel {
				emb, err := spec.OpenEngineEmbedder(man.EmbedModel)
				if err != nil {
					return nil, fmt.Errorf("specialist %s v%d: %w", c.name, v, err)
				}
				if c.emb != nil {
					c.emb.Close()
				}
				c.emb = emb
			}
			m.SetEmbedder(c.emb)
		}
		c.cur = &served{version: v, model: m}
	}
	c.seen = fi
	return c.cur, nil
}

// request is the subset of the request body a specialist reads.
type request struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Input         json.RawMessage `json:"input"`
	TopK          *int            `json:"top_k"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

// ClassifyResponse is the body of a /v1/classify answer.
type ClassifyResponse struct {
	Object  string   `json:"object"`
	Model   string   `json:"model"`
	Version int      `json:"version"`
	Data    []Result `json:"data"`
	Usage   Usage    `json:"usage"`
}

// Result is the answer for one input.
type Result struct {
	Index      int               `json:"index"`
	Labels     []spec.LabelScore `json:"labels"`
	OutOfScope bool              `json:"out_of_scope"`
}

// Usage is OpenAI's usage object.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// Answer is the JSON object a chat completion's content holds.
type Answer struct {
	Label      string  `json:"label"`
	Score      float64 `json:"score"`
	OutOfScope bool    `json:"out_of_scope"`
}

// Do classifies the request's input (classify) or last user message (chat).
func (c *Client) Do(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	if req.Op != provider.OpClassify && req.Op != provider.OpChat {
		return nil, invalid("", "Specialist models answer /v1/classify and /v1/chat/completions only.")
	}
	var r request
	if err := json.Unmarshal(req.Body, &r); err != nil {
		return nil, invalid("", "Invalid request for a specialist model: "+err.Error()+".")
	}
	texts, err := c.inputs(req.Op, &r)
	if err != nil {
		return nil, err
	}
	topK := 1
	if r.TopK != nil {
		if *r.TopK < 1 {
			return nil, invalid("top_k", "Invalid 'top_k': must be at least 1.")
		}
		topK = *r.TopK
	}
	if req.Op == provider.OpClassify && req.Stream {
		return nil, invalid("stream", "Classifications cannot be streamed.")
	}
	s, err := c.model()
	if err != nil {
		return nil, err
	}
	preds, err := s.model.Predict(ctx, texts, topK)
	if err != nil {
		return nil, fmt.Errorf("classifying: %w", err)
	}
	enc, err := tokenize.Get(tokenize.O200KBase)
	if err != nil {
		return nil, err
	}
	prompt := 0
	for _, t := range texts {
		prompt += enc.Count(t)
	}
	if req.Op == provider.OpClassify {
		out := ClassifyResponse{Object: "list", Model: r.Model, Version: s.version, Data: make([]Result, len(preds)),
			Usage: Usage{PromptTokens: prompt, TotalTokens: prompt}}
		for i, p := range preds {
			out.Data[i] = Result{Index: i, Labels: p.Labels, OutOfScope: p.OutOfScope}
		}
		body, err := json.Marshal(out)
		if err != nil {
			return nil, err
		}
		return &provider.Response{Body: body}, nil
	}
	p := preds[0]
	ans, err := json.Marshal(Answer{Label: p.Labels[0].Label, Score: p.Labels[0].Score, OutOfScope: p.OutOfScope})
	if err != nil {
		return nil, err
	}
	content := string(ans)
	u := Usage{PromptTokens: prompt, CompletionTokens: enc.Count(content)}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	id := "chatcmpl-" + req.RequestID
	created := time.Now().Unix()
	fp := fingerprint(c.name, s.version)
	if !req.Stream {
		body, err := json.Marshal(map[string]any{
			"id": id, "object": "chat.completion", "created": created, "model": r.Model, "system_fingerprint": fp,
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop", "logprobs": nil,
				"message": map[string]any{"role": "assistant", "content": content, "refusal": nil}}},
			"usage": u,
		})
		if err != nil {
			return nil, err
		}
		return &provider.Response{Body: body}, nil
	}
	chunk := func(delta map[string]any, finish any) []byte {
		b, _ := json.Marshal(map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": r.Model,
			"system_fingerprint": fp, "choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": nil}}})
		return b
	}
	events := [][]byte{
		chunk(map[string]any{"role": "assistant", "content": content}, nil),
		chunk(map[string]any{}, "stop"),
	}
	if r.StreamOptions != nil && r.StreamOptions.IncludeUsage {
		b, _ := json.Marshal(map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": r.Model,
			"system_fingerprint": fp, "choices": []any{}, "usage": u})
		events = append(events, b)
	}
	return &provider.Response{Stream: &stream{events: events}}, nil
}

// fingerprint names the version that answered, in system_fingerprint.
func fingerprint(name string, version int) string {
	return "specialist:" + name + ":v" + strconv.Itoa(version)
}

// inputs returns the texts to classify.
func (c *Client) inputs(op provider.Op, r *request) ([]string, error) {
	if op == provider.OpChat {
		for i := len(r.Messages) - 1; i >= 0; i-- {
			m := r.Messages[i]
			if m.Role != "user" {
				continue
			}
			text, err := wire.TextContent(m.Content)
			if err != nil {
				return nil, invalid("messages["+strconv.Itoa(i)+"].content", "Invalid 'messages["+strconv.Itoa(i)+"].content': "+err.Error()+".")
			}
			return []string{text}, nil
		}
		return nil, invalid("messages", "A specialist classifies the last user message, and there is none.")
	}
	if len(r.Input) == 0 || string(r.Input) == "null" {
		return nil, invalid("input", "Missing required parameter: 'input'.")
	}
	var one string
	if json.Unmarshal(r.Input, &one) == nil {
		return []string{one}, nil
	}
	var texts []string
	if err := json.Unmarshal(r.Input, &texts); err != nil {
		return nil, invalid("input", "Invalid type for 'input': expected a string or an array of strings.")
	}
	if len(texts) == 0 {
		return nil, invalid("input", "Invalid 'input': empty array. Expected an array with minimum length 1.")
	}
	if len(texts) > MaxInputs {
		return nil, invalid("input", "Invalid 'input': at most "+strconv.Itoa(MaxInputs)+" texts per request.")
	}
	return texts, nil
}

// invalid is a 400 in OpenAI's error shape.
func invalid(param, msg string) error {
	p := "null"
	if param != "" {
		p = strconv.Quote(param)
	}
	return &provider.StatusError{Status: 400, Body: []byte(`{"error":{"message":` + strconv.Quote(msg) +
		`,"type":"invalid_request_error","param":` + p + `,"code":null}}`)}
}

// notFound is a 404 model_not_found: no such specialist or none promoted.
func notFound(name string) error {
	msg := "The specialist `" + name + "` does not exist or has no promoted version."
	return &provider.StatusError{Status: 404, Body: []byte(`{"error":{"message":` + strconv.Quote(msg) +
		`,"type":"not_found_error","param":"model","code":"model_not_found"}}`)}
}

// stream yields prepared chunks.
type stream struct {
	events [][]byte
}

func (s *stream) Next() ([]byte, error) {
	if len(s.events) == 0 {
		return nil, io.EOF
	}
	b := s.events[0]
	s.events = s.events[1:]
	return b, nil
}

func (s *stream) Buffered() bool { return len(s.events) > 0 }

func (s *stream) Close() error { return nil }

// Supports implements provider.Supporter: a specialist classifies, and
// answers chat with the label.
func (c *Client) Supports(op provider.Op) bool {
	return op == provider.OpClassify || op == provider.OpChat
}

var _ provider.Supporter = (*Client)(nil)
