// Package chat renders a model's chat template (the Jinja template stored
// as tokenizer.chat_template in GGUF files) into the prompt text the model
// was trained on. It carries its own interpreter for the subset of Jinja
// that published chat templates use, with Hugging Face's settings
// (trim_blocks, lstrip_blocks, loop controls, tojson as json.dumps,
// raise_exception, strftime_now), and bounds on run time and output size
// so that a hostile template cannot hang or exhaust the server.
package chat

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Message is one conversation turn.
type Message struct {
	Role       string     // system, user, assistant, tool
	Content    string     //
	ToolCalls  []ToolCall // assistant tool calls
	ToolCallID string     // for role tool: the call answered
	Name       string     // optional author or tool name
}

// ToolCall is a function call made by the assistant.
type ToolCall struct {
	ID       string
	Type     string // "function" when empty
	Function FunctionCall
}

// FunctionCall names the function and carries its arguments as a JSON
// text, as the OpenAI API does. Templates see the arguments as an object
// when they parse as one.
type FunctionCall struct {
	Name      string
	Arguments string
}

// Options are the template variables besides the messages.
type Options struct {
	AddGenerationPrompt bool
	// Tools are the tool definitions in OpenAI form ({"type": "function",
	// "function": {...}}). Go maps have no key order, so their keys are
	// rendered sorted; use ToolsJSON to keep the caller's order.
	Tools []map[string]any
	// ToolsJSON, when set, is a JSON array of tool definitions that is
	// used instead of Tools, keeping the key order of the request.
	ToolsJSON json.RawMessage
	BOSToken  string
	EOSToken  string
	// Extra variables for templates that read them (enable_thinking,
	// date_string, ...).
	Extra map[string]any
	// Now is the clock behind strftime_now; time.Now when nil.
	Now func() time.Time
	// MaxOutput bounds the rendered text in bytes (default 4 MiB) and
	// MaxSteps the number of evaluation steps (default 5,000,000).
	MaxOutput int
	MaxSteps  int
}

// Template is a parsed chat template, safe for concurrent Render calls.
type Template struct {
	nodes []node
}

// Parse parses a chat template. Errors are *SyntaxError and name the
// construct that is malformed or unsupported.
func Parse(src string) (*Template, error) {
	nodes, err := parse(src)
	if err != nil {
		return nil, err
	}
	return &Template{nodes: nodes}, nil
}

// Render parses template and renders it for messages; an empty template
// falls back to ChatML.
func Render(template string, messages []Message, opts Options) (string, error) {
	if strings.TrimSpace(template) == "" {
		return ChatML(messages, opts.AddGenerationPrompt), nil
	}
	t, err := Parse(template)
	if err != nil {
		return "", err
	}
	return t.Render(messages, opts)
}

// ChatML renders messages in the ChatML format
// (<|im_start|>role\ncontent<|im_end|>\n), the fallback for models
// without a template.
func ChatML(messages []Message, addGenerationPrompt bool) string {
	var b strings.Builder
	for _, m := range messages {
		b.WriteString("<|im_start|>")
		b.WriteString(m.Role)
		b.WriteString("\n")
		b.WriteString(m.Content)
		b.WriteString("<|im_end|>\n")
	}
	if addGenerationPrompt {
		b.WriteString("<|im_start|>assistant\n")
	}
	return b.String()
}

// Render renders the template for messages. Errors are *RenderError, or
// *TemplateError when the template itself rejects the conversation.
func (t *Template) Render(messages []Message, opts Options) (string, error) {
	vars := map[string]any{
		"messages":              messagesValue(messages),
		"add_generation_prompt": opts.AddGenerationPrompt,
		"bos_token":             opts.BOSToken,
		"eos_token":             opts.EOSToken,
	}
	switch {
	case len(opts.ToolsJSON) > 0:
		tools, err := decodeJSONOrdered(opts.ToolsJSON)
		if err != nil {
			return "", fmt.Errorf("chat: decoding tools: %w", err)
		}
		if _, ok := tools.(*List); !ok {
			return "", fmt.Errorf("chat: tools must be a JSON array")
		}
		vars["tools"] = tools
	case len(opts.Tools) > 0:
		vars["tools"] = fromGo(opts.Tools)
	default:
		vars["tools"] = nil
	}
	for k, v := range opts.Extra {
		vars[k] = fromGo(v)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	r := &renderer{
		out:      &strings.Builder{},
		scopes:   []map[string]any{vars},
		globals:  globals,
		maxSteps: opts.MaxSteps,
		maxOut:   opts.MaxOutput,
		now:      now,
	}
	if r.maxSteps <= 0 {
		r.maxSteps = 5_000_000
	}
	if r.maxOut <= 0 {
		r.maxOut = 4 << 20
	}
	err := r.execAll(t.nodes)
	if err == errBreak || err == errContinue {
		err = &RenderError{Line: r.line, Msg: "break or continue outside a loop"}
	}
	if err != nil {
		return "", err
	}
	return r.out.String(), nil
}

func messagesValue(messages []Message) *List {
	l := &List{items: make([]any, len(messages))}
	for i, m := range messages {
		d := newDict()
		d.set("role", m.Role)
		if m.Content == "" && len(m.ToolCalls) > 0 {
			d.set("content", nil)
		} else {
			d.set("content", m.Content)
		}
		if len(m.ToolCalls) > 0 {
			calls := &List{}
			for _, c := range m.ToolCalls {
				cd := newDict()
				if c.ID != "" {
					cd.set("id", c.ID)
				}
				typ := c.Type
				if typ == "" {
					typ = "function"
				}
				cd.set("type", typ)
				fn := newDict()
				fn.set("name", c.Function.Name)
				var args any = c.Function.Arguments
				if v, err := decodeJSONOrdered([]byte(c.Function.Arguments)); err == nil {
					if _, isObj := v.(*Dict); isObj {
						args = v
					}
				}
				fn.set("arguments", args)
				cd.set("function", fn)
				calls.items = append(calls.items, cd)
			}
			d.set("tool_calls", calls)
		}
		if m.ToolCallID != "" {
			d.set("tool_call_id", m.ToolCallID)
		}
		if m.Name != "" {
			d.set("name", m.Name)
		}
		l.items[i] = d
	}
	return l
}

var globals = map[string]any{
	"raise_exception": callable(func(r *renderer, args []any, kw *Dict) (any, error) {
		msg := "template raised an exception"
		if len(args) > 0 {
			msg = str(args[0])
		}
		return nil, &TemplateError{Msg: msg}
	}),
	"range": callable(func(r *renderer, args []any, kw *Dict) (any, error) {
		var lo, hi, step int64 = 0, 0, 1
		ints := make([]int64, len(args))
		for i, a := range args {
			v, ok := toInt(a)
			if !ok {
				return nil, r.errf("range arguments must be integers")
			}
			ints[i] = v
		}
		switch len(ints) {
		case 1:
			hi = ints[0]
		case 2:
			lo, hi = ints[0], ints[1]
		case 3:
			lo, hi, step = ints[0], ints[1], ints[2]
		default:
			return nil, r.errf("range takes 1 to 3 arguments")
		}
		if step == 0 {
			return nil, r.errf("range step must not be zero")
		}
		l := &List{}
		for i := lo; (step > 0 && i < hi) || (step < 0 && i > hi); i += step {
			if len(l.items) >= 1_000_000 {
				return nil, r.errf("range longer than 1000000")
			}
			l.items = append(l.items, i)
		}
		r.steps += len(l.items)
		if err := r.step(); err != nil {
			return nil, err
		}
		return l, nil
	}),
	"namespace": callable(func(r *renderer, args []any, kw *Dict) (any, error) {
		d := newDict()
		for _, a := range args {
			if o, ok := a.(*Dict); ok {
				for _, k := range o.keys {
					d.set(k, o.m[k])
				}
			}
		}
		if kw != nil {
			for _, k := range kw.keys {
				d.set(k, kw.m[k])
			}
		}
		return d, nil
	}),
	"dict": callable(func(r *renderer, args []any, kw *Dict) (any, error) {
		d := newDict()
		if kw != nil {
			for _, k := range kw.keys {
				d.set(k, kw.m[k])
			}
		}
		return d, nil
	}),
	"strftime_now": callable(func(r *renderer, args []any, kw *Dict) (any, error) {
		if len(args) == 0 {
			return nil, r.errf("strftime_now needs a format")
		}
		return strftime(r.now(), str(args[0])), nil
	}),
}

// strftime formats t with the common C strftime directives.
func strftime(t time.Time, f string) string {
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		if f[i] != '%' || i+1 >= len(f) {
			b.WriteByte(f[i])
			continue
		}
		i++
		switch f[i] {
		case 'd':
			fmt.Fprintf(&b, "%02d", t.Day())
		case 'm':
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'Y':
			fmt.Fprintf(&b, "%04d", t.Year())
		case 'y':
			fmt.Fprintf(&b, "%02d", t.Year()%100)
		case 'b':
			b.WriteString(t.Month().String()[:3])
		case 'B':
			b.WriteString(t.Month().String())
		case 'a':
			b.WriteString(t.Weekday().String()[:3])
		case 'A':
			b.WriteString(t.Weekday().String())
		case 'H':
			fmt.Fprintf(&b, "%02d", t.Hour())
		case 'M':
			fmt.Fprintf(&b, "%02d", t.Minute())
		case 'S':
			fmt.Fprintf(&b, "%02d", t.Second())
		case 'j':
			fmt.Fprintf(&b, "%03d", t.YearDay())
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(f[i])
		}
	}
	return b.String()
}
