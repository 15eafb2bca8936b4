package responses

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// Object is a Response object as the API returns it. Output items and
// string fields that come from the model are kept as raw JSON.
type Object struct {
	ID                 string            `json:"id"`
	Object             string            `json:"object"`
	CreatedAt          int64             `json:"created_at"`
	Status             string            `json:"status"`
	Background         bool              `json:"background"`
	Error              *ObjectError      `json:"error"`
	IncompleteDetails  *Incomplete       `json:"incomplete_details"`
	Instructions       *string           `json:"instructions"`
	MaxOutputTokens    *int64            `json:"max_output_tokens"`
	Model              string            `json:"model"`
	Output             []json.RawMessage `json:"output"`
	ParallelToolCalls  bool              `json:"parallel_tool_calls"`
	PreviousResponseID *string           `json:"previous_response_id"`
	Reasoning          Reasoning         `json:"reasoning"`
	Store              bool              `json:"store"`
	Temperature        float64           `json:"temperature"`
	Text               json.RawMessage   `json:"text"`
	ToolChoice         json.RawMessage   `json:"tool_choice"`
	Tools              json.RawMessage   `json:"tools"`
	TopP               float64           `json:"top_p"`
	Truncation         string            `json:"truncation"`
	Usage              *Usage            `json:"usage"`
	User               *string           `json:"user"`
	Metadata           json.RawMessage   `json:"metadata"`
	PromptCacheKey     *string           `json:"prompt_cache_key,omitempty"`
	SafetyIdentifier   *string           `json:"safety_identifier,omitempty"`
	ServiceTier        *string           `json:"service_tier,omitempty"`
}

// ObjectError is a failed response's error.
type ObjectError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Incomplete says why a response stopped early.
type Incomplete struct {
	Reason string `json:"reason"`
}

// Usage is a Response's token usage.
type Usage struct {
	InputTokens        int64 `json:"input_tokens"`
	InputTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int64 `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	TotalTokens int64 `json:"total_tokens"`
}

// chatUsage is a chat completion's usage.
type chatUsage struct {
	PromptTokens        int64 `json:"prompt_tokens"`
	CompletionTokens    int64 `json:"completion_tokens"`
	TotalTokens         int64 `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
}

func (u *chatUsage) usage() *Usage {
	if u == nil {
		return nil
	}
	out := &Usage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
	if out.TotalTokens == 0 {
		out.TotalTokens = u.PromptTokens + u.CompletionTokens
	}
	out.InputTokensDetails.CachedTokens = u.PromptTokensDetails.CachedTokens
	out.OutputTokensDetails.ReasoningTokens = u.CompletionTokensDetails.ReasoningTokens
	return out
}

var (
	emptyArray  = json.RawMessage("[]")
	emptyObject = json.RawMessage("{}")
	defaultText = json.RawMessage(`{"format":{"type":"text"}}`)
	autoChoice  = json.RawMessage(`"auto"`)
)

// NewObject is the Response object for r before any output: status
// in_progress, the request's settings echoed with the API's defaults.
func (r *Request) NewObject(id string, createdAt int64) *Object {
	o := &Object{ID: id, Object: "response", CreatedAt: createdAt, Status: "in_progress", Instructions: r.Instructions,
		MaxOutputTokens: r.MaxOutputTokens, Model: r.Model, Output: []json.RawMessage{}, ParallelToolCalls: true,
		Store: r.Store, Temperature: 1, TopP: 1, Text: defaultText, ToolChoice: autoChoice, Tools: emptyArray,
		Truncation: "disabled", User: r.User, Metadata: emptyObject, PromptCacheKey: r.PromptCacheKey,
		SafetyIdentifier: r.SafetyIdentifier, ServiceTier: r.ServiceTier}
	if r.PreviousResponseID != "" {
		o.PreviousResponseID = &r.PreviousResponseID
	}
	if r.ParallelToolCalls != nil {
		o.ParallelToolCalls = *r.ParallelToolCalls
	}
	if r.Temperature != nil {
		o.Temperature = *r.Temperature
	}
	if r.TopP != nil {
		o.TopP = *r.TopP
	}
	if r.Reasoning != nil {
		o.Reasoning = Reasoning{Effort: r.Reasoning.Effort, Summary: r.Reasoning.Summary}
	}
	if r.Text != nil {
		t := struct {
			Format    json.RawMessage `json:"format"`
			Verbosity *string         `json:"verbosity,omitempty"`
		}{r.Text.Format, r.Text.Verbosity}
		if isNull(t.Format) {
			t.Format = json.RawMessage(`{"type":"text"}`)
		}
		o.Text, _ = marshal(t)
	}
	if r.ToolChoice != nil {
		o.ToolChoice = r.ToolChoice
	}
	if r.Tools != nil {
		o.Tools = r.Tools
	}
	if r.Metadata != nil {
		o.Metadata = r.Metadata
	}
	return o
}

// finish sets the status from the chat finish reason and the usage.
func (o *Object) finish(reason string, u *chatUsage) {
	o.Status = "completed"
	switch reason {
	case "length":
		o.Status, o.IncompleteDetails = "incomplete", &Incomplete{Reason: "max_output_tokens"}
	case "content_filter":
		o.Status, o.IncompleteDetails = "incomplete", &Incomplete{Reason: "content_filter"}
	}
	o.Usage = u.usage()
}

// Marshal renders the object.
func (o *Object) Marshal() []byte {
	b, _ := marshal(o)
	return b
}

// Output item shapes.
type (
	outMessage struct {
		Type    string `json:"type"`
		ID      string `json:"id"`
		Status  string `json:"status"`
		Role    string `json:"role"`
		Content []any  `json:"content"`
	}
	outText struct {
		Type        string            `json:"type"`
		Text        json.RawMessage   `json:"text"`
		Annotations []json.RawMessage `json:"annotations"`
		Logprobs    []json.RawMessage `json:"logprobs"`
	}
	outRefusal struct {
		Type    string          `json:"type"`
		Refusal json.RawMessage `json:"refusal"`
	}
	outCall struct {
		Type      string          `json:"type"`
		ID        string          `json:"id"`
		CallID    string          `json:"call_id"`
		Name      json.RawMessage `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
		Status    string          `json:"status"`
	}
	outReasoning struct {
		Type    string        `json:"type"`
		ID      string        `json:"id"`
		Summary []summaryText `json:"summary"`
	}
	summaryText struct {
		Type string          `json:"type"`
		Text json.RawMessage `json:"text"`
	}
)

func newText(text json.RawMessage) outText {
	return outText{Type: "output_text", Text: text, Annotations: []json.RawMessage{}, Logprobs: []json.RawMessage{}}
}

// itemID makes the id of output item n of response id: prefix_<id>_<n>.
func itemID(prefix, id string, n int) string {
	return prefix + "_" + strings.TrimPrefix(id, "resp_") + "_" + strconv.Itoa(n)
}

// chatCompletion is the part of a chat completion the translation reads;
// the model's strings stay raw JSON.
type chatCompletion struct {
	Model   string `json:"model"`
	Choices []struct {
		FinishReason string `json:"finish_reason"`
		Message      struct {
			Content          json.RawMessage `json:"content"`
			Refusal          json.RawMessage `json:"refusal"`
			ReasoningContent json.RawMessage `json:"reasoning_content"`
			Reasoning        json.RawMessage `json:"reasoning"`
			ToolCalls        []struct {
				ID       string `json:"id"`
				Function struct {
					Name      json.RawMessage `json:"name"`
					Arguments json.RawMessage `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"message"`
	} `json:"choices"`
	Usage *chatUsage `json:"usage"`
}

// ErrChat is returned for an upstream answer that is not a chat
// completion the translation can read.
var ErrChat = errors.New("responses: not a chat completion")

// nonEmpty reports whether a raw JSON value is a non-empty string.
func nonEmpty(raw json.RawMessage) bool {
	return len(raw) > 2 && raw[0] == '"'
}

// Complete translates a chat completion into the Response object for r
// (id and createdAt are the response's); it returns the object and its
// output items (for the store).
func (r *Request) Complete(chat []byte, id string, createdAt int64) (*Object, error) {
	var c chatCompletion
	if err := json.Unmarshal(chat, &c); err != nil {
		return nil, errors.Join(ErrChat, err)
	}
	if len(c.Choices) == 0 {
		return nil, errors.Join(ErrChat, errors.New("no choices"))
	}
	o := r.NewObject(id, createdAt)
	if c.Model != "" {
		o.Model = c.Model
	}
	ch := &c.Choices[0]
	m := &ch.Message
	status := "completed"
	if ch.FinishReason == "length" {
		status = "incomplete"
	}
	n := 0
	add := func(v any) {
		b, _ := marshal(v)
		o.Output = append(o.Output, b)
		n++
	}
	reasoning := m.ReasoningContent
	if !nonEmpty(reasoning) {
		reasoning = m.Reasoning
	}
	if nonEmpty(reasoning) {
		add(outReasoning{Type: "reasoning", ID: itemID("rs", id, n), Summary: []summaryText{{Type: "summary_text", Text: reasoning}}})
	}
	if nonEmpty(m.Content) || nonEmpty(m.Refusal) {
		msg := outMessage{Type: "message", ID: itemID("msg", id, n), Status: status, Role: "assistant"}
		if nonEmpty(m.Content) {
			msg.Content = append(msg.Content, newText(m.Content))
		}
		if nonEmpty(m.Refusal) {
			msg.Content = append(msg.Content, outRefusal{Type: "refusal", Refusal: m.Refusal})
		}
		add(msg)
	}
	for i, tc := range m.ToolCalls {
		args := tc.Function.Arguments
		if len(args) == 0 || args[0] != '"' {
			args = json.RawMessage(`""`)
		}
		name := tc.Function.Name
		if len(name) == 0 || name[0] != '"' {
			return nil, errors.Join(ErrChat, errors.New("a tool call without a name"))
		}
		callID := tc.ID
		if callID == "" {
			callID = itemID("call", id, i)
		}
		add(outCall{Type: "function_call", ID: itemID("fc", id, n), CallID: callID, Name: name, Arguments: args, Status: "completed"})
	}
	if len(o.Output) == 0 || (len(m.ToolCalls) == 0 && !nonEmpty(m.Content) && !nonEmpty(m.Refusal)) {
		// An empty answer is still a message, with empty text.
		add(outMessage{Type: "message", ID: itemID("msg", id, n), Status: status, Role: "assistant",
			Content: []any{newText(json.RawMessage(`""`))}})
	}
	o.finish(ch.FinishReason, c.Usage)
	return o, nil
}
