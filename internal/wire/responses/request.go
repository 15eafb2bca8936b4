package responses

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	wire "switchyard/internal/wire/openai"
)

// Request is a parsed Responses create request: what the translation and
// the exchange act on, and what the Response object echoes.
type Request struct {
	Model              string
	Stream             bool
	Store              bool // default true
	PreviousResponseID string
	// Input is this turn's items as given, each with its "type" set (a
	// string input is one user message item).
	Input []json.RawMessage
	// Instructions is the system message for this turn only (it is not
	// carried to the next turn by previous_response_id).
	Instructions *string

	Temperature       *float64
	TopP              *float64
	MaxOutputTokens   *int64
	ParallelToolCalls *bool
	User              *string
	Metadata          json.RawMessage // an object of strings, or nil
	// Tools is the tools array as given (echoed); the chat translation
	// comes from tools.
	Tools      json.RawMessage
	ToolChoice json.RawMessage // as given, or nil
	Text       *TextConfig
	Reasoning  *Reasoning

	PromptCacheKey   *string
	SafetyIdentifier *string
	ServiceTier      *string

	tools      []chatTool
	toolChoice json.RawMessage // translated
}

// TextConfig is the request's "text" member.
type TextConfig struct {
	Format    json.RawMessage `json:"format,omitempty"`
	Verbosity *string         `json:"verbosity,omitempty"`
}

// Reasoning is the request's "reasoning" member.
type Reasoning struct {
	Effort          *string `json:"effort"`
	Summary         *string `json:"summary"`
	GenerateSummary *string `json:"generate_summary,omitempty"`
}

// invalid is a 400 naming the field.
func invalid(param, msg string) *wire.Error {
	return wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "invalid_value", param, msg)
}

func unsupported(param, msg string) *wire.Error {
	return wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "unsupported_parameter", param, msg)
}

func wrongType(param, want string) *wire.Error {
	return wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "invalid_type", param,
		"Invalid type for '"+param+"': expected "+want+".")
}

// isNull reports whether a raw member is absent or JSON null.
func isNull(raw []byte) bool { return len(raw) == 0 || string(raw) == "null" }

// decode unmarshals a member, answering a type error that names param.
func decode(raw []byte, v any, param, want string) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return wrongType(param, want)
	}
	return nil
}

// Parse reads a Responses create body. An error is a *wire.Error (400)
// naming the field: malformed JSON, a wrong type, an unknown parameter, or
// one whose meaning the chat translation cannot keep (background mode,
// conversations, hosted tools, include values…) — never a silent drop.
func Parse(body []byte) (*Request, error) {
	if _, err := wire.Scan(body); err != nil {
		return nil, wire.BodyError(err)
	}
	r := &Request{Store: true}
	var ferr error
	wire.Each(body, wire.Span{End: len(body)}, func(key []byte, v wire.Span) bool {
		ferr = r.member(string(key), body[v.Start:v.End])
		return ferr == nil
	})
	if ferr != nil {
		return nil, ferr
	}
	if r.Model == "" {
		return nil, wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "missing_required_parameter", "model",
			"Missing required parameter: 'model'.")
	}
	if r.Input == nil {
		return nil, wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "missing_required_parameter", "input",
			"Missing required parameter: 'input'.")
	}
	return r, nil
}

// member reads one top-level member.
func (r *Request) member(key string, raw []byte) error {
	switch key {
	case "model":
		if err := decode(raw, &r.Model, key, "a string"); err != nil {
			return err
		}
	case "input":
		return r.input(raw)
	case "instructions":
		if !isNull(raw) {
			return decode(raw, &r.Instructions, key, "a string")
		}
	case "tools":
		return r.parseTools(raw)
	case "tool_choice":
		return r.parseToolChoice(raw)
	case "parallel_tool_calls":
		if !isNull(raw) {
			return decode(raw, &r.ParallelToolCalls, key, "a boolean")
		}
	case "temperature":
		if !isNull(raw) {
			return decode(raw, &r.Temperature, key, "a number")
		}
	case "top_p":
		if !isNull(raw) {
			return decode(raw, &r.TopP, key, "a number")
		}
	case "max_output_tokens":
		if !isNull(raw) {
			if err := decode(raw, &r.MaxOutputTokens, key, "an integer"); err != nil {
				return err
			}
			if *r.MaxOutputTokens < 1 {
				return invalid(key, "Invalid 'max_output_tokens': integer below minimum value 1.")
			}
		}
	case "text":
		return r.parseText(raw)
	case "reasoning":
		if !isNull(raw) {
			var v Reasoning
			if err := decode(raw, &v, key, "an object"); err != nil {
				return err
			}
			if err := onlyKeys(raw, key, "effort", "summary", "generate_summary"); err != nil {
				return err
			}
			r.Reasoning = &v
		}
	case "metadata":
		if !isNull(raw) {
			var m map[string]string
			if err := decode(raw, &m, key, "an object of strings"); err != nil {
				return err
			}
			if len(m) > 16 {
				return invalid(key, "Invalid 'metadata': at most 16 keys.")
			}
			r.Metadata = json.RawMessage(raw)
		}
	case "user":
		if !isNull(raw) {
			return decode(raw, &r.User, key, "a string")
		}
	case "stream":
		if !isNull(raw) {
			return decode(raw, &r.Stream, key, "a boolean")
		}
	case "stream_options":
		// include_obfuscation only pads events against side channels;
		// leaving the padding out changes nothing the client reads.
		if !isNull(raw) {
			var v struct {
				IncludeObfuscation *bool `json:"include_obfuscation"`
			}
			if err := decode(raw, &v, key, "an object"); err != nil {
				return err
			}
			return onlyKeys(raw, key, "include_obfuscation")
		}
	case "store":
		if !isNull(raw) {
			return decode(raw, &r.Store, key, "a boolean")
		}
	case "previous_response_id":
		if !isNull(raw) {
			return decode(raw, &r.PreviousResponseID, key, "a string")
		}
	case "prompt_cache_key":
		if !isNull(raw) {
			return decode(raw, &r.PromptCacheKey, key, "a string")
		}
	case "safety_identifier":
		if !isNull(raw) {
			return decode(raw, &r.SafetyIdentifier, key, "a string")
		}
	case "service_tier":
		if !isNull(raw) {
			return decode(raw, &r.ServiceTier, key, "a string")
		}
	case "background":
		var b bool
		if !isNull(raw) {
			if err := decode(raw, &b, key, "a boolean"); err != nil {
				return err
			}
		}
		if b {
			return unsupported(key, "Background responses are not supported by this gateway; send the request without 'background'.")
		}
	case "truncation":
		var s string
		if !isNull(raw) {
			if err := decode(raw, &s, key, "a string"); err != nil {
				return err
			}
		}
		if s != "" && s != "disabled" {
			return unsupported(key, "Only truncation 'disabled' is supported by this gateway.")
		}
	case "top_logprobs":
		var n int64
		if !isNull(raw) {
			if err := decode(raw, &n, key, "an integer"); err != nil {
				return err
			}
		}
		if n != 0 {
			return unsupported(key, "'top_logprobs' is not supported by this gateway.")
		}
	case "include":
		var v []string
		if !isNull(raw) {
			if err := decode(raw, &v, key, "an array of strings"); err != nil {
				return err
			}
		}
		if len(v) > 0 {
			return unsupported("include[0]", "The include value '"+v[0]+"' is not supported by this gateway.")
		}
	case "conversation", "prompt", "max_tool_calls":
		if !isNull(raw) {
			return unsupported(key, "'"+key+"' is not supported by this gateway.")
		}
	default:
		return wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "unknown_parameter", key,
			"Unknown parameter: '"+key+"'.")
	}
	return nil
}

// onlyKeys refuses members of the object raw other than keys.
func onlyKeys(raw []byte, param string, keys ...string) error {
	var bad string
	wire.Each(raw, wire.Span{End: len(raw)}, func(k []byte, _ wire.Span) bool {
		for _, want := range keys {
			if string(k) == want {
				return true
			}
		}
		bad = string(k)
		return false
	})
	if bad != "" {
		return wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "unknown_parameter", param+"."+bad,
			"Unknown parameter: '"+param+"."+bad+"'.")
	}
	return nil
}

// input normalises the input member into items, each with its type.
func (r *Request) input(raw []byte) error {
	if isNull(raw) {
		return nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return wrongType("input", "a string or an array of items")
		}
		item, _ := marshal(struct {
			Type    string `json:"type"`
			Role    string `json:"role"`
			Content string `json:"content"`
		}{"message", "user", s})
		r.Input = []json.RawMessage{item}
		return nil
	case '[':
	default:
		return wrongType("input", "a string or an array of items")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return wrongType("input", "a string or an array of items")
	}
	r.Input = make([]json.RawMessage, 0, len(items))
	for i, it := range items {
		param := "input[" + strconv.Itoa(i) + "]"
		var head struct {
			Type *string `json:"type"`
			Role *string `json:"role"`
		}
		if len(it) == 0 || it[0] != '{' || json.Unmarshal(it, &head) != nil {
			return wrongType(param, "an object")
		}
		if head.Type == nil {
			if head.Role == nil {
				return wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "missing_required_parameter", param+".type",
					"Missing required parameter: '"+param+".type'.")
			}
			// An easy input message: give it its type, so that stored
			// items read alike.
			it = append([]byte(`{"type":"message",`), bytes.TrimSpace(it)[1:]...)
		}
		if _, err := itemMessages(nil, it, param); err != nil {
			return err
		}
		r.Input = append(r.Input, it)
	}
	return nil
}

// marshal is json.Marshal without HTML escaping (the text is the user's).
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'}), nil
}
