// Package local is the provider kind "local": small GGUF models run
// in-process by the pure-Go engine. It speaks the same OpenAI wire format
// as remote upstreams, so the gateway treats both alike.
package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"switchyard/internal/engine"
	"switchyard/internal/engine/chat"
	"switchyard/internal/engine/library"
	"switchyard/internal/provider"
	wire "switchyard/internal/wire/openai"
)

// Kind is the registry name of this provider.
const Kind = "local"

// Options are the deployment keys of a local model.
type Options struct {
	Path     string `yaml:"path"`     // the GGUF file; "": the deployment's model in DATA_DIR/models
	Context  int    `yaml:"context"`  // context window per sequence (0: the model's, capped at 4096)
	Threads  int    `yaml:"threads"`  // compute threads (0: all cores)
	Parallel int    `yaml:"parallel"` // concurrent sequences (0: 1)
}

// models shares one loaded engine per file and settings across deployments
// and config reloads: weights are memory-mapped once.
var (
	mu     sync.Mutex
	loaded = map[string]*shared{}
)

type shared struct {
	m    *engine.Model
	refs int
}

// Client is one local deployment.
type Client struct {
	key  string
	m    *engine.Model
	once sync.Once
}

var _ provider.Provider = (*Client)(nil)

// New is the provider factory for the default data directory
// (./switchyard-data): Factory("").
func New(d provider.Deployment) (provider.Provider, error) { return Factory("")(d) }

// Factory returns the provider factory for the data directory dataDir
// ("": ./switchyard-data). A deployment without path names a pulled or
// imported model with its model key (which defaults to the public name):
// DATA_DIR/models/MODEL.gguf.
func Factory(dataDir string) provider.Factory {
	if dataDir == "" {
		dataDir = "./switchyard-data"
	}
	lib := library.Open(dataDir)
	return func(d provider.Deployment) (provider.Provider, error) { return newClient(d, lib) }
}

func newClient(d provider.Deployment, lib *library.Library) (provider.Provider, error) {
	var o Options
	if err := d.Options.Decode(&o); err != nil {
		return nil, err
	}
	if o.Path == "" {
		if d.Model == "" {
			return nil, errors.New("path (a .gguf file) or model (a pulled or imported model) is required for provider local")
		}
		p, err := lib.Path(d.Model)
		if err != nil {
			return nil, fmt.Errorf("no path, and model: %w", err)
		}
		o.Path = p
	}
	key := fmt.Sprintf("%s|%d|%d|%d", o.Path, o.Context, o.Threads, o.Parallel)
	mu.Lock()
	defer mu.Unlock()
	s, ok := loaded[key]
	if !ok {
		m, err := engine.Load(o.Path, engine.Options{Context: o.Context, Threads: o.Threads, Parallel: o.Parallel})
		if err != nil {
			return nil, fmt.Errorf("loading %s: %w", o.Path, err)
		}
		s = &shared{m: m}
		loaded[key] = s
	}
	s.refs++
	return &Client{key: key, m: s.m}, nil
}

// Close releases this deployment's reference to the model.
func (c *Client) Close() error {
	c.once.Do(func() {
		mu.Lock()
		defer mu.Unlock()
		if s := loaded[c.key]; s != nil {
			s.refs--
			if s.refs == 0 {
				delete(loaded, c.key)
				s.m.Close()
			}
		}
	})
	return nil
}

// request is the subset of the OpenAI request the engine acts on.
type request struct {
	Model    string `json:"model"`
	Messages []struct {
		Role       string          `json:"role"`
		Content    json.RawMessage `json:"content"`
		Name       string          `json:"name"`
		ToolCallID string          `json:"tool_call_id"`
	} `json:"messages"`
	Prompt              json.RawMessage `json:"prompt"`
	Input               json.RawMessage `json:"input"`
	Tools               json.RawMessage `json:"tools"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Temperature         *float32        `json:"temperature"`
	TopP                *float32        `json:"top_p"`
	TopK                *int            `json:"top_k"`
	MinP                *float32        `json:"min_p"`
	RepeatPenalty       *float32        `json:"repeat_penalty"`
	PresencePenalty     float32         `json:"presence_penalty"`
	FrequencyPenalty    float32         `json:"frequency_penalty"`
	Seed                *uint64         `json:"seed"`
	Stop                json.RawMessage `json:"stop"`
	Logprobs            bool            `json:"logprobs"`
	TopLogprobs         int             `json:"top_logprobs"`
	Stream              bool            `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

func invalid(msg string) error {
	return &provider.StatusError{Status: 400, Body: []byte(`{"error":{"message":` + strconv.Quote(msg) + `,"type":"invalid_request_error","param":null,"code":null}}`)}
}

func stops(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}, nil
	}
	var ss []string
	if err := json.Unmarshal(raw, &ss); err != nil {
		return nil, errors.New("stop must be a string or an array of strings")
	}
	return ss, nil
}

// Do runs the request on the engine.
func (c *Client) Do(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	var r request
	if err := json.Unmarshal(req.Body, &r); err != nil {
		return nil, invalid("invalid request: " + err.Error())
	}
	if req.Op == provider.OpEmbedding {
		return c.embed(ctx, &r)
	}
	g := engine.Request{
		MaxTokens: 256, Temperature: 1, TopP: 1, RepeatPenalty: 1,
		PresencePenalty: r.PresencePenalty, FrequencyPenalty: r.FrequencyPenalty, Seed: r.Seed,
		Logprobs: r.Logprobs, TopLogprobs: r.TopLogprobs,
	}
	if r.MaxTokens != nil {
		g.MaxTokens = *r.MaxTokens
	}
	if r.MaxCompletionTokens != nil {
		g.MaxTokens = *r.MaxCompletionTokens
	}
	if r.Temperature != nil {
		g.Temperature = *r.Temperature
	}
	if r.TopP != nil {
		g.TopP = *r.TopP
	}
	if r.TopK != nil {
		g.TopK = *r.TopK
	}
	if r.MinP != nil {
		g.MinP = *r.MinP
	}
	if r.RepeatPenalty != nil {
		g.RepeatPenalty = *r.RepeatPenalty
	}
	var err error
	if g.Stop, err = stops(r.Stop); err != nil {
		return nil, invalid(err.Error())
	}
	object := "text_completion"
	if req.Op == provider.OpChat {
		object = "chat.completion"
		msgs := make([]chat.Message, 0, len(r.Messages))
		for i, m := range r.Messages {
			text, err := wire.TextContent(m.Content)
			if err != nil {
				return nil, invalid(fmt.Sprintf("messages[%d].content: %v", i, err))
			}
			msgs = append(msgs, chat.Message{Role: m.Role, Content: text, Name: m.Name, ToolCallID: m.ToolCallID})
		}
		if g.Prompt, err = c.m.ChatPrompt(msgs, r.Tools); err != nil {
			return nil, invalid(err.Error())
		}
	} else {
		var p string
		if err := json.Unmarshal(r.Prompt, &p); err != nil {
			return nil, invalid("prompt must be a string for local models")
		}
		g.Prompt = p
	}
	id := fmt.Sprintf("%s-%s", map[bool]string{true: "chatcmpl", false: "cmpl"}[req.Op == provider.OpChat], req.RequestID)
	created := time.Now().Unix()
	if !req.Stream {
		var text []byte
		var lps []engine.TokenLogprob
		res, err := c.m.Generate(ctx, g, func(ev engine.Event) error {
			text = append(text, ev.Text...)
			lps = append(lps, ev.Logprobs...)
			return nil
		})
		if err != nil {
			return nil, mapErr(err)
		}
		body, _ := json.Marshal(answer(req.Op, id, object, created, r.Model, string(text), res, lps, r.Logprobs))
		return &provider.Response{Body: body}, nil
	}
	s := &stream{ch: make(chan []byte, 16), done: make(chan struct{})}
	ctx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	chunkObject := object
	if req.Op == provider.OpChat {
		chunkObject = "chat.completion.chunk"
	}
	includeUsage := r.StreamOptions != nil && r.StreamOptions.IncludeUsage
	go func() {
		defer close(s.ch)
		first := true
		res, err := c.m.Generate(ctx, g, func(ev engine.Event) error {
			b, _ := json.Marshal(chunk(req.Op, id, chunkObject, created, r.Model, ev.Text, first, nil, ev.Logprobs, r.Logprobs))
			first = false
			return s.send(ctx, b)
		})
		if err != nil {
			s.err = mapErr(err)
			return
		}
		fr := res.FinishReason
		b, _ := json.Marshal(chunk(req.Op, id, chunkObject, created, r.Model, "", first, &fr, nil, false))
		if s.send(ctx, b) != nil {
			return
		}
		if includeUsage {
			b, _ = json.Marshal(map[string]any{"id": id, "object": chunkObject, "created": created, "model": r.Model,
				"choices": []any{}, "usage": usageOf(res)})
			s.send(ctx, b)
		}
	}()
	return &provider.Response{Stream: s}, nil
}

// mapErr gives the engine's refusals of a request the kind
// ErrInvalidRequest (a 400, not a fault of the deployment).
func mapErr(err error) error {
	if errors.Is(err, engine.ErrContextOverflow) || errors.Is(err, engine.ErrInvalidRequest) {
		return invalid(err.Error())
	}
	return err
}

func usageOf(res engine.Result) map[string]int {
	return map[string]int{"prompt_tokens": res.PromptTokens, "completion_tokens": res.CompletionTokens,
		"total_tokens": res.PromptTokens + res.CompletionTokens}
}

func logprobsJSON(lps []engine.TokenLogprob) any {
	content := make([]map[string]any, 0, len(lps))
	for _, lp := range lps {
		top := make([]map[string]any, 0, len(lp.Top))
		for _, t := range lp.Top {
			top = append(top, map[string]any{"token": t.Text, "logprob": t.Logprob, "bytes": []byte(t.Text)})
		}
		content = append(content, map[string]any{"token": lp.Text, "logprob": lp.Logprob, "bytes": []byte(lp.Text), "top_logprobs": top})
	}
	return map[string]any{"content": content}
}

func answer(op provider.Op, id, object string, created int64, model, text string, res engine.Result, lps []engine.TokenLogprob, wantLP bool) any {
	choice := map[string]any{"index": 0, "finish_reason": res.FinishReason, "logprobs": nil}
	if wantLP {
		choice["logprobs"] = logprobsJSON(lps)
	}
	if op == provider.OpChat {
		choice["message"] = map[string]any{"role": "assistant", "content": text}
	} else {
		choice["text"] = text
	}
	return map[string]any{"id": id, "object": object, "created": created, "model": model,
		"choices": []any{choice}, "usage": usageOf(res)}
}

func chunk(op provider.Op, id, object string, created int64, model, text string, first bool, finish *string, lps []engine.TokenLogprob, wantLP bool) any {
	choice := map[string]any{"index": 0, "finish_reason": finish, "logprobs": nil}
	if wantLP {
		choice["logprobs"] = logprobsJSON(lps)
	}
	if op == provider.OpChat {
		delta := map[string]any{}
		if first {
			delta["role"] = "assistant"
		}
		if text != "" || finish == nil {
			delta["content"] = text
		}
		choice["delta"] = delta
	} else {
		choice["text"] = text
	}
	return map[string]any{"id": id, "object": object, "created": created, "model": model, "choices": []any{choice}}
}

func (c *Client) embed(ctx context.Context, r *request) (*provider.Response, error) {
	var texts []string
	var one string
	if json.Unmarshal(r.Input, &one) == nil {
		texts = []string{one}
	} else if err := json.Unmarshal(r.Input, &texts); err != nil {
		return nil, invalid("input must be a string or an array of strings for local models")
	}
	vecs, n, err := c.m.Embed(ctx, texts)
	if err != nil {
		return nil, mapErr(err)
	}
	data := make([]any, len(vecs))
	for i, v := range vecs {
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": v}
	}
	body, _ := json.Marshal(map[string]any{"object": "list", "model": r.Model, "data": data,
		"usage": map[string]int{"prompt_tokens": n, "total_tokens": n}})
	return &provider.Response{Body: body}, nil
}

// stream hands engine events to the gateway.
type stream struct {
	ch     chan []byte
	done   chan struct{}
	cancel context.CancelFunc
	err    error
	once   sync.Once
}

func (s *stream) send(ctx context.Context, b []byte) error {
	select {
	case s.ch <- b:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *stream) Next() ([]byte, error) {
	b, ok := <-s.ch
	if !ok {
		if s.err != nil {
			return nil, s.err
		}
		return nil, io.EOF
	}
	return b, nil
}

func (s *stream) Buffered() bool { return len(s.ch) > 0 }

func (s *stream) Close() error {
	s.once.Do(func() {
		s.cancel()
		for range s.ch { // let the generator goroutine finish
		}
	})
	return nil
}

// Supports implements provider.Supporter: the engine generates and embeds;
// it does not classify, rerank, draw, moderate or do audio.
func (c *Client) Supports(op provider.Op) bool {
	return op == provider.OpChat || op == provider.OpCompletion || op == provider.OpEmbedding
}

var _ provider.Supporter = (*Client)(nil)
