package gemini

// Translation between OpenAI's chat and embeddings bodies and Gemini's
// generateContent, streamGenerateContent and batchEmbedContents bodies:
// pure functions, no I/O. The formats follow Google's reference:
//
//   - https://ai.google.dev/api/generate-content (request, GenerationConfig,
//     GenerateContentResponse, Candidate.FinishReason, UsageMetadata)
//   - https://ai.google.dev/api/caching#Content (Content, Part, Blob, FileData)
//   - https://ai.google.dev/gemini-api/docs/function-calling (Tool,
//     FunctionDeclaration, ToolConfig.functionCallingConfig, functionCall /
//     functionResponse parts)
//   - https://ai.google.dev/gemini-api/docs/text-generation#streaming and
//     https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent
//     (alt=sse: each event's data is one GenerateContentResponse)
//   - https://ai.google.dev/api/embeddings#method:-models.batchembedcontents
//   - https://ai.google.dev/gemini-api/docs/thinking (parts with thought:true)

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
)

// FieldError is an OpenAI request field Gemini has no equivalent for, or a
// value it cannot take. Param names the field.
type FieldError struct {
	Param string
	Msg   string
}

func (e *FieldError) Error() string { return e.Param + ": " + e.Msg }

func fieldErr(param, format string, args ...any) error {
	return &FieldError{Param: param, Msg: fmt.Sprintf(format, args...)}
}

// chatKeys are the OpenAI chat fields the translation understands. "user"
// (an end-user id for the vendor's abuse monitoring) and "stream_options"
// (usage is always reported) are accepted and have no Gemini field; every
// other key not listed is an error naming it, never dropped.
var chatKeys = map[string]bool{
	"model": true, "messages": true, "tools": true, "tool_choice": true, "parallel_tool_calls": true,
	"temperature": true, "top_p": true, "top_k": true, "max_tokens": true, "max_completion_tokens": true,
	"stop": true, "n": true, "response_format": true, "seed": true, "presence_penalty": true,
	"frequency_penalty": true, "stream": true, "stream_options": true, "user": true,
}

type oaMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	Name       string          `json:"name"`
	ToolCalls  []oaToolCall    `json:"tool_calls"`
	ToolCallID string          `json:"tool_call_id"`
}

type oaToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type oaPart struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	ImageURL *struct {
		URL string `json:"url"`
	} `json:"image_url"`
}

type oaTool struct {
	Type     string `json:"type"`
	Function struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
	} `json:"function"`
}

// Gemini request types, in the field order Google's examples use.
type gContent struct {
	Role  string  `json:"role,omitempty"`
	Parts []gPart `json:"parts"`
}

type gPart struct {
	Text             string             `json:"text,omitempty"`
	InlineData       *gBlob             `json:"inlineData,omitempty"`
	FileData         *gFile             `json:"fileData,omitempty"`
	FunctionCall     *gFunctionCall     `json:"functionCall,omitempty"`
	FunctionResponse *gFunctionResponse `json:"functionResponse,omitempty"`
	ThoughtSignature string             `json:"thoughtSignature,omitempty"`
}

// sigMark joins a tool call's id and the thoughtSignature Gemini gave its
// functionCall part: OpenAI clients echo tool call ids verbatim, so the
// signature Gemini 3 requires back on the next turn travels in the id.
const sigMark = "__sig__"

type gBlob struct {
	MimeType string `json:"mimeType"`
	Data     string `json:"data"`
}

type gFile struct {
	MimeType string `json:"mimeType"`
	FileURI  string `json:"fileUri"`
}

type gFunctionCall struct {
	Name string          `json:"name"`
	Args json.RawMessage `json:"args"`
}

type gFunctionResponse struct {
	Name     string          `json:"name"`
	Response json.RawMessage `json:"response"`
}

type gDecl struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
}

type gTool struct {
	FunctionDeclarations []gDecl `json:"functionDeclarations"`
}

type gToolConfig struct {
	FunctionCallingConfig struct {
		Mode                 string   `json:"mode"`
		AllowedFunctionNames []string `json:"allowedFunctionNames,omitempty"`
	} `json:"functionCallingConfig"`
}

type gGenConfig struct {
	StopSequences    []string        `json:"stopSequences,omitempty"`
	ResponseMimeType string          `json:"responseMimeType,omitempty"`
	ResponseSchema   json.RawMessage `json:"responseSchema,omitempty"`
	CandidateCount   *int64          `json:"candidateCount,omitempty"`
	MaxOutputTokens  *int64          `json:"maxOutputTokens,omitempty"`
	Temperature      *float64        `json:"temperature,omitempty"`
	TopP             *float64        `json:"topP,omitempty"`
	TopK             *int64          `json:"topK,omitempty"`
	Seed             *int64          `json:"seed,omitempty"`
	PresencePenalty  *float64        `json:"presencePenalty,omitempty"`
	FrequencyPenalty *float64        `json:"frequencyPenalty,omitempty"`
}

type gRequest struct {
	Contents          []gContent   `json:"contents"`
	SystemInstruction *gContent    `json:"systemInstruction,omitempty"`
	Tools             []gTool      `json:"tools,omitempty"`
	ToolConfig        *gToolConfig `json:"toolConfig,omitempty"`
	GenerationConfig  *gGenConfig  `json:"generationConfig,omitempty"`
}

// ChatRequest translates an OpenAI chat completions body into a Gemini
// generateContent body and returns the model it names (without a
// "models/" prefix). Tool parameter schemas are passed as given: Gemini
// accepts a subset of OpenAPI 3.0 schemas (type, format, description,
// nullable, enum, properties, required, items, …) and rejects the rest
// upstream, with a 400 the client sees.
func ChatRequest(body []byte) (model string, out []byte, err error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return "", nil, fmt.Errorf("decoding chat request: %w", err)
	}
	if raw == nil {
		return "", nil, errors.New("decoding chat request: body is null")
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !chatKeys[k] {
			return "", nil, fieldErr(k, "not supported by provider gemini")
		}
	}
	if model, err = modelName(raw["model"]); err != nil {
		return "", nil, err
	}
	var msgs []oaMessage
	if err := decodeField(raw, "messages", &msgs); err != nil {
		return "", nil, err
	}
	if len(msgs) == 0 {
		return "", nil, fieldErr("messages", "at least one message is required")
	}
	var req gRequest
	if err := translateMessages(msgs, &req); err != nil {
		return "", nil, err
	}
	if err := translateTools(raw, &req); err != nil {
		return "", nil, err
	}
	gc, err := generationConfig(raw)
	if err != nil {
		return "", nil, err
	}
	if b, _ := json.Marshal(gc); string(b) != "{}" {
		req.GenerationConfig = gc
	}
	out, err = json.Marshal(&req)
	return model, out, err
}

func decodeField(raw map[string]json.RawMessage, key string, v any) error {
	r, ok := raw[key]
	if !ok || string(r) == "null" {
		return nil
	}
	if err := json.Unmarshal(r, v); err != nil {
		return fieldErr(key, "invalid value: %v", err)
	}
	return nil
}

// modelName reads "model", dropping a "models/" prefix.
func modelName(r json.RawMessage) (string, error) {
	var m string
	if err := json.Unmarshal(r, &m); err != nil || m == "" {
		return "", fieldErr("model", "a model name is required")
	}
	m = strings.TrimPrefix(m, "models/")
	if m == "" || strings.ContainsAny(m, "/?#:% \t\r\n") {
		return "", fieldErr("model", "invalid Gemini model name %q", m)
	}
	return m, nil
}

func translateMessages(msgs []oaMessage, req *gRequest) error {
	callNames := map[string]string{}
	for i, m := range msgs {
		param := "messages[" + strconv.Itoa(i) + "]"
		switch m.Role {
		case "system", "developer":
			text, err := textOnly(m.Content, param+".content")
			if err != nil {
				return err
			}
			if req.SystemInstruction == nil {
				req.SystemInstruction = &gContent{}
			}
			req.SystemInstruction.Parts = append(req.SystemInstruction.Parts, gPart{Text: text})
		case "user":
			parts, err := userParts(m.Content, param+".content")
			if err != nil {
				return err
			}
			req.Contents = append(req.Contents, gContent{Role: "user", Parts: parts})
		case "assistant":
			var parts []gPart
			if len(m.Content) > 0 && string(m.Content) != "null" {
				text, err := textOnly(m.Content, param+".content")
				if err != nil {
					return err
				}
				if text != "" {
					parts = append(parts, gPart{Text: text})
				}
			}
			for j, tc := range m.ToolCalls {
				tp := fmt.Sprintf("%s.tool_calls[%d]", param, j)
				if tc.Type != "" && tc.Type != "function" {
					return fieldErr(tp+".type", "only function tool calls are supported, not %q", tc.Type)
				}
				if tc.Function.Name == "" {
					return fieldErr(tp+".function.name", "is required")
				}
				args := json.RawMessage("{}")
				if a := strings.TrimSpace(tc.Function.Arguments); a != "" {
					if !json.Valid([]byte(a)) || a[0] != '{' {
						return fieldErr(tp+".function.arguments", "must be a JSON object")
					}
					args = json.RawMessage(a)
				}
				if tc.ID != "" {
					callNames[tc.ID] = tc.Function.Name
				}
				part := gPart{FunctionCall: &gFunctionCall{Name: tc.Function.Name, Args: args}}
				if _, sig, ok := strings.Cut(tc.ID, sigMark); ok {
					part.ThoughtSignature = sig
				}
				parts = append(parts, part)
			}
			if len(parts) == 0 {
				return fieldErr(param, "an assistant message needs content or tool_calls")
			}
			req.Contents = append(req.Contents, gContent{Role: "model", Parts: parts})
		case "tool":
			name, ok := callNames[m.ToolCallID]
			if !ok {
				return fieldErr(param+".tool_call_id", "%q names no earlier assistant tool call", m.ToolCallID)
			}
			text, err := textOnly(m.Content, param+".content")
			if err != nil {
				return err
			}
			resp := json.RawMessage(nil)
			if t := strings.TrimSpace(text); len(t) > 0 && t[0] == '{' && json.Valid([]byte(t)) {
				resp = json.RawMessage(t)
			} else {
				resp, _ = json.Marshal(map[string]string{"content": text})
			}
			part := gPart{FunctionResponse: &gFunctionResponse{Name: name, Response: resp}}
			// The answers to one turn's parallel calls go back in one content.
			if n := len(req.Contents); n > 0 && i > 0 && msgs[i-1].Role == "tool" {
				req.Contents[n-1].Parts = append(req.Contents[n-1].Parts, part)
			} else {
				req.Contents = append(req.Contents, gContent{Role: "user", Parts: []gPart{part}})
			}
		default:
			return fieldErr(param+".role", "role %q is not supported by provider gemini", m.Role)
		}
	}
	if len(req.Contents) == 0 {
		return fieldErr("messages", "at least one user message is required (system messages alone are not a conversation)")
	}
	return nil
}

// textOnly reads a content that must be text: a string or text parts.
func textOnly(c json.RawMessage, param string) (string, error) {
	if len(c) == 0 || string(c) == "null" {
		return "", nil
	}
	var s string
	if json.Unmarshal(c, &s) == nil {
		return s, nil
	}
	var parts []oaPart
	if err := json.Unmarshal(c, &parts); err != nil {
		return "", fieldErr(param, "must be a string or an array of parts")
	}
	var b strings.Builder
	for j, p := range parts {
		if p.Type != "text" {
			return "", fieldErr(fmt.Sprintf("%s[%d].type", param, j), "only text parts are allowed here, not %q", p.Type)
		}
		b.WriteString(p.Text)
	}
	return b.String(), nil
}

func userParts(c json.RawMessage, param string) ([]gPart, error) {
	var s string
	if json.Unmarshal(c, &s) == nil {
		return []gPart{{Text: s}}, nil
	}
	var parts []oaPart
	if err := json.Unmarshal(c, &parts); err != nil || len(parts) == 0 {
		return nil, fieldErr(param, "must be a string or a non-empty array of parts")
	}
	out := make([]gPart, 0, len(parts))
	for j, p := range parts {
		pp := fmt.Sprintf("%s[%d]", param, j)
		switch p.Type {
		case "text":
			out = append(out, gPart{Text: p.Text})
		case "image_url":
			if p.ImageURL == nil || p.ImageURL.URL == "" {
				return nil, fieldErr(pp+".image_url.url", "is required")
			}
			part, err := imagePart(p.ImageURL.URL, pp+".image_url.url")
			if err != nil {
				return nil, err
			}
			out = append(out, part)
		default:
			return nil, fieldErr(pp+".type", "part type %q is not supported by provider gemini", p.Type)
		}
	}
	return out, nil
}

// mimeByExt guesses the media type of a file URL, for the formats Gemini
// documents for images and documents.
var mimeByExt = map[string]string{
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
	".heic": "image/heic", ".heif": "image/heif", ".gif": "image/gif", ".pdf": "application/pdf",
}

func imagePart(u, param string) (gPart, error) {
	if rest, ok := strings.CutPrefix(u, "data:"); ok {
		meta, data, ok := strings.Cut(rest, ",")
		mime, isB64 := strings.CutSuffix(meta, ";base64")
		if !ok || !isB64 || mime == "" || !strings.Contains(mime, "/") {
			return gPart{}, fieldErr(param, "a data: URL must be data:MIME;base64,DATA")
		}
		if _, err := base64.StdEncoding.DecodeString(data); err != nil {
			return gPart{}, fieldErr(param, "invalid base64 data: %v", err)
		}
		return gPart{InlineData: &gBlob{MimeType: mime, Data: data}}, nil
	}
	if strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "gs://") {
		p := u
		if i := strings.IndexAny(p, "?#"); i >= 0 {
			p = p[:i]
		}
		mime, ok := mimeByExt[strings.ToLower(path.Ext(p))]
		if !ok {
			return gPart{}, fieldErr(param, "cannot tell the media type of %q from its extension (use a data: URL)", u)
		}
		return gPart{FileData: &gFile{MimeType: mime, FileURI: u}}, nil
	}
	return gPart{}, fieldErr(param, "must be a data: or http(s) URL")
}

func translateTools(raw map[string]json.RawMessage, req *gRequest) error {
	var tools []oaTool
	if err := decodeField(raw, "tools", &tools); err != nil {
		return err
	}
	if len(tools) > 0 {
		decls := make([]gDecl, 0, len(tools))
		for i, t := range tools {
			if t.Type != "function" {
				return fieldErr(fmt.Sprintf("tools[%d].type", i), "only function tools are supported, not %q", t.Type)
			}
			if t.Function.Name == "" {
				return fieldErr(fmt.Sprintf("tools[%d].function.name", i), "is required")
			}
			d := gDecl{Name: t.Function.Name, Description: t.Function.Description}
			if p := t.Function.Parameters; len(p) > 0 && string(p) != "null" {
				d.Parameters = p
			}
			decls = append(decls, d)
		}
		req.Tools = []gTool{{FunctionDeclarations: decls}}
	}
	var ptc *bool
	if err := decodeField(raw, "parallel_tool_calls", &ptc); err != nil {
		return err
	}
	if ptc != nil && !*ptc {
		return fieldErr("parallel_tool_calls", "false is not supported by provider gemini (it may call several functions at once)")
	}
	tc, ok := raw["tool_choice"]
	if !ok || string(tc) == "null" {
		return nil
	}
	cfg := &gToolConfig{}
	var s string
	if json.Unmarshal(tc, &s) == nil {
		switch s {
		case "auto":
			cfg.FunctionCallingConfig.Mode = "AUTO"
		case "none":
			cfg.FunctionCallingConfig.Mode = "NONE"
		case "required":
			cfg.FunctionCallingConfig.Mode = "ANY"
		default:
			return fieldErr("tool_choice", "unknown value %q", s)
		}
	} else {
		var named struct {
			Type     string `json:"type"`
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		}
		if err := json.Unmarshal(tc, &named); err != nil || named.Type != "function" || named.Function.Name == "" {
			return fieldErr("tool_choice", `must be "auto", "none", "required" or {"type":"function","function":{"name":…}}`)
		}
		cfg.FunctionCallingConfig.Mode = "ANY"
		cfg.FunctionCallingConfig.AllowedFunctionNames = []string{named.Function.Name}
	}
	req.ToolConfig = cfg
	return nil
}

func generationConfig(raw map[string]json.RawMessage) (*gGenConfig, error) {
	gc := &gGenConfig{}
	for _, f := range []struct {
		key string
		dst any
	}{
		{"temperature", &gc.Temperature}, {"top_p", &gc.TopP}, {"top_k", &gc.TopK},
		{"n", &gc.CandidateCount}, {"seed", &gc.Seed},
		{"presence_penalty", &gc.PresencePenalty}, {"frequency_penalty", &gc.FrequencyPenalty},
	} {
		if err := decodeField(raw, f.key, f.dst); err != nil {
			return nil, err
		}
	}
	var maxTok, maxCompl *int64
	if err := decodeField(raw, "max_tokens", &maxTok); err != nil {
		return nil, err
	}
	if err := decodeField(raw, "max_completion_tokens", &maxCompl); err != nil {
		return nil, err
	}
	gc.MaxOutputTokens = maxTok
	if maxCompl != nil {
		gc.MaxOutputTokens = maxCompl
	}
	if st, ok := raw["stop"]; ok && string(st) != "null" {
		var one string
		if json.Unmarshal(st, &one) == nil {
			gc.StopSequences = []string{one}
		} else if err := json.Unmarshal(st, &gc.StopSequences); err != nil {
			return nil, fieldErr("stop", "must be a string or an array of strings")
		}
	}
	var rf *struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Schema json.RawMessage `json:"schema"`
		} `json:"json_schema"`
	}
	if err := decodeField(raw, "response_format", &rf); err != nil {
		return nil, err
	}
	if rf != nil {
		switch rf.Type {
		case "text":
		case "json_object":
			gc.ResponseMimeType = "application/json"
		case "json_schema":
			gc.ResponseMimeType = "application/json"
			if rf.JSONSchema == nil || len(rf.JSONSchema.Schema) == 0 {
				return nil, fieldErr("response_format.json_schema.schema", "is required")
			}
			gc.ResponseSchema = rf.JSONSchema.Schema
		default:
			return nil, fieldErr("response_format.type", "unknown type %q", rf.Type)
		}
	}
	return gc, nil
}

// Gemini response types.
type gResponse struct {
	Candidates     []gCandidate `json:"candidates"`
	PromptFeedback *struct {
		BlockReason string `json:"blockReason"`
	} `json:"promptFeedback"`
	UsageMetadata *gUsage `json:"usageMetadata"`
	ModelVersion  string  `json:"modelVersion"`
	ResponseID    string  `json:"responseId"`
}

type gCandidate struct {
	Content *struct {
		Parts []gRespPart `json:"parts"`
	} `json:"content"`
	FinishReason string `json:"finishReason"`
	Index        *int   `json:"index"`
}

type gRespPart struct {
	Text             *string `json:"text"`
	Thought          bool    `json:"thought"`
	ThoughtSignature string  `json:"thoughtSignature"`
	FunctionCall     *struct {
		Name string          `json:"name"`
		Args json.RawMessage `json:"args"`
	} `json:"functionCall"`
}

type gUsage struct {
	PromptTokenCount        int64 `json:"promptTokenCount"`
	CandidatesTokenCount    int64 `json:"candidatesTokenCount"`
	ThoughtsTokenCount      int64 `json:"thoughtsTokenCount"`
	CachedContentTokenCount int64 `json:"cachedContentTokenCount"`
	ToolUsePromptTokenCount int64 `json:"toolUsePromptTokenCount"`
	TotalTokenCount         int64 `json:"totalTokenCount"`
}

// OpenAI response types.
type oaFunction struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

type oaOutCall struct {
	Index    *int       `json:"index,omitempty"`
	ID       string     `json:"id,omitempty"`
	Type     string     `json:"type,omitempty"`
	Function oaFunction `json:"function"`
}

type oaOutMessage struct {
	Role             string      `json:"role"`
	Content          *string     `json:"content"`
	ReasoningContent string      `json:"reasoning_content,omitempty"`
	ToolCalls        []oaOutCall `json:"tool_calls,omitempty"`
}

type oaChoice struct {
	Index        int          `json:"index"`
	Message      oaOutMessage `json:"message"`
	FinishReason string       `json:"finish_reason"`
}

type oaUsage struct {
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

type oaCompletion struct {
	ID      string     `json:"id"`
	Object  string     `json:"object"`
	Created int64      `json:"created"`
	Model   string     `json:"model"`
	Choices []oaChoice `json:"choices"`
	Usage   *oaUsage   `json:"usage,omitempty"`
}

// Meta is what a translated response says that Gemini's body does not:
// the completion id (used when Gemini sends no responseId), the creation
// time and the model asked for (used when it sends no modelVersion).
type Meta struct {
	ID      string
	Created int64
	Model   string
}

func (m Meta) pick(r *gResponse) (id, model string) {
	id, model = m.ID, m.Model
	if r.ResponseID != "" {
		id = "chatcmpl-" + r.ResponseID
	}
	if r.ModelVersion != "" {
		model = r.ModelVersion
	}
	return id, model
}

// finishReason maps Gemini's Candidate.FinishReason to OpenAI's. Reasons
// with no OpenAI counterpart (OTHER, LANGUAGE, MALFORMED_FUNCTION_CALL, …)
// become "stop".
func finishReason(r string, calls bool) string {
	if calls {
		return "tool_calls"
	}
	switch r {
	case "MAX_TOKENS":
		return "length"
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY":
		return "content_filter"
	}
	return "stop"
}

// usage converts usageMetadata. Thinking tokens are billed as output, so
// they count in completion_tokens (and in reasoning_tokens); tool-use
// prompt tokens count as prompt.
func usage(u *gUsage) *oaUsage {
	o := &oaUsage{
		PromptTokens:     u.PromptTokenCount + u.ToolUsePromptTokenCount,
		CompletionTokens: u.CandidatesTokenCount + u.ThoughtsTokenCount,
	}
	o.TotalTokens = u.TotalTokenCount
	if sum := o.PromptTokens + o.CompletionTokens; o.TotalTokens < sum {
		o.TotalTokens = sum
	}
	o.PromptTokensDetails.CachedTokens = u.CachedContentTokenCount
	o.CompletionTokensDetails.ReasoningTokens = u.ThoughtsTokenCount
	return o
}

// candidateParts splits a candidate's parts into text, thoughts and calls.
func candidateParts(c *gCandidate, next func() string) (text, thought string, calls []oaOutCall, err error) {
	if c.Content == nil {
		return "", "", nil, nil
	}
	var tb, rb strings.Builder
	for _, p := range c.Content.Parts {
		switch {
		case p.FunctionCall != nil:
			args := "{}"
			if a := bytes.TrimSpace(p.FunctionCall.Args); len(a) > 0 && string(a) != "null" {
				args = string(a)
			}
			id := next()
			if p.ThoughtSignature != "" {
				id += sigMark + p.ThoughtSignature
			}
			calls = append(calls, oaOutCall{ID: id, Type: "function", Function: oaFunction{Name: p.FunctionCall.Name, Arguments: args}})
		case p.Text != nil && p.Thought:
			rb.WriteString(*p.Text)
		case p.Text != nil:
			tb.WriteString(*p.Text)
		}
	}
	return tb.String(), rb.String(), calls, nil
}

func decodeResponse(body []byte) (*gResponse, error) {
	var r gResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decoding Gemini response: %w", err)
	}
	return &r, nil
}

func candidateIndex(c *gCandidate, i int) int {
	if c.Index != nil && *c.Index >= 0 {
		return *c.Index
	}
	return i
}

// ChatResponse translates a generateContent response into an OpenAI chat
// completion.
func ChatResponse(body []byte, m Meta) ([]byte, error) {
	r, err := decodeResponse(body)
	if err != nil {
		return nil, err
	}
	id, model := m.pick(r)
	out := oaCompletion{ID: id, Object: "chat.completion", Created: m.Created, Model: model, Choices: []oaChoice{}}
	n := 0
	next := func() string { s := "call_" + strconv.Itoa(n); n++; return s }
	for i := range r.Candidates {
		c := &r.Candidates[i]
		text, thought, calls, _ := candidateParts(c, next)
		msg := oaOutMessage{Role: "assistant", ReasoningContent: thought, ToolCalls: calls}
		if text != "" || len(calls) == 0 {
			msg.Content = &text
		}
		out.Choices = append(out.Choices, oaChoice{Index: candidateIndex(c, i), Message: msg, FinishReason: finishReason(c.FinishReason, len(calls) > 0)})
	}
	if len(r.Candidates) == 0 {
		if r.PromptFeedback == nil || r.PromptFeedback.BlockReason == "" {
			return nil, errors.New("Gemini response has no candidates and no block reason")
		}
		out.Choices = append(out.Choices, oaChoice{Message: oaOutMessage{Role: "assistant"}, FinishReason: "content_filter"})
	}
	if r.UsageMetadata != nil {
		out.Usage = usage(r.UsageMetadata)
	}
	return json.Marshal(&out)
}

// Streamer translates the events of one streamGenerateContent?alt=sse
// response into OpenAI chat.completion.chunk payloads. It keeps what spans
// events: which choices have started, tool call numbering, the last usage.
type Streamer struct {
	meta    Meta
	started map[int]bool
	ncalls  map[int]int // tool calls so far, per choice (the delta index)
	calls   int         // tool calls so far, all choices (the call_<n> id)
	usage   *gUsage
	id      string
	model   string
}

// NewStreamer starts translating one stream.
func NewStreamer(m Meta) *Streamer {
	return &Streamer{meta: m, started: map[int]bool{}, ncalls: map[int]int{}, id: m.ID, model: m.Model}
}

type oaDelta struct {
	Role             string      `json:"role,omitempty"`
	Content          *string     `json:"content,omitempty"`
	ReasoningContent string      `json:"reasoning_content,omitempty"`
	ToolCalls        []oaOutCall `json:"tool_calls,omitempty"`
}

type oaChunkChoice struct {
	Index        int     `json:"index"`
	Delta        oaDelta `json:"delta"`
	FinishReason *string `json:"finish_reason"`
}

type oaChunk struct {
	ID      string          `json:"id"`
	Object  string          `json:"object"`
	Created int64           `json:"created"`
	Model   string          `json:"model"`
	Choices []oaChunkChoice `json:"choices"`
	Usage   *oaUsage        `json:"usage,omitempty"`
}

// Event translates one SSE data payload. It returns nil (and no error) for
// an event that carries nothing for the client (only usage, say).
func (s *Streamer) Event(data []byte) ([]byte, error) {
	r, err := decodeResponse(data)
	if err != nil {
		return nil, err
	}
	if r.UsageMetadata != nil {
		s.usage = r.UsageMetadata
	}
	if s.id == s.meta.ID && r.ResponseID != "" {
		s.id = "chatcmpl-" + r.ResponseID
	}
	if r.ModelVersion != "" {
		s.model = r.ModelVersion
	}
	chunk := oaChunk{ID: s.id, Object: "chat.completion.chunk", Created: s.meta.Created, Model: s.model, Choices: []oaChunkChoice{}}
	next := func() string { id := "call_" + strconv.Itoa(s.calls); s.calls++; return id }
	for i := range r.Candidates {
		c := &r.Candidates[i]
		idx := candidateIndex(c, i)
		text, thought, calls, _ := candidateParts(c, next)
		ch := oaChunkChoice{Index: idx, Delta: oaDelta{ReasoningContent: thought}}
		if !s.started[idx] {
			s.started[idx] = true
			ch.Delta.Role = "assistant"
		}
		if text != "" {
			ch.Delta.Content = &text
		}
		for j := range calls {
			k := s.ncalls[idx]
			s.ncalls[idx] = k + 1
			calls[j].Index = &k
		}
		ch.Delta.ToolCalls = calls
		if c.FinishReason != "" {
			fr := finishReason(c.FinishReason, s.ncalls[idx] > 0)
			ch.FinishReason = &fr
		}
		if ch.Delta.Role == "" && ch.Delta.Content == nil && thought == "" && len(calls) == 0 && ch.FinishReason == nil {
			continue
		}
		chunk.Choices = append(chunk.Choices, ch)
	}
	if len(r.Candidates) == 0 && r.PromptFeedback != nil && r.PromptFeedback.BlockReason != "" {
		fr := "content_filter"
		ch := oaChunkChoice{FinishReason: &fr}
		if !s.started[0] {
			s.started[0] = true
			ch.Delta.Role = "assistant"
		}
		chunk.Choices = append(chunk.Choices, ch)
	}
	if len(chunk.Choices) == 0 {
		return nil, nil
	}
	return json.Marshal(&chunk)
}

// Usage is the final chunk carrying the last usageMetadata seen, as OpenAI
// sends it with stream_options.include_usage (no choices); nil when the
// stream reported none.
func (s *Streamer) Usage() []byte {
	if s.usage == nil {
		return nil
	}
	b, _ := json.Marshal(&oaChunk{ID: s.id, Object: "chat.completion.chunk", Created: s.meta.Created, Model: s.model, Choices: []oaChunkChoice{}, Usage: usage(s.usage)})
	return b
}

// embedKeys are the OpenAI embeddings fields understood; "user" is accepted
// and has no Gemini field.
var embedKeys = map[string]bool{"model": true, "input": true, "dimensions": true, "encoding_format": true, "user": true}

type gEmbedRequest struct {
	Model                string   `json:"model"`
	Content              gContent `json:"content"`
	OutputDimensionality *int64   `json:"outputDimensionality,omitempty"`
}

// EmbedRequest translates an OpenAI embeddings body into a
// batchEmbedContents body (one request per input) and returns the model.
func EmbedRequest(body []byte) (model string, out []byte, err error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return "", nil, fmt.Errorf("decoding embeddings request: %w", err)
	}
	if raw == nil {
		return "", nil, errors.New("decoding embeddings request: body is null")
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !embedKeys[k] {
			return "", nil, fieldErr(k, "not supported by provider gemini")
		}
	}
	if model, err = modelName(raw["model"]); err != nil {
		return "", nil, err
	}
	var format string
	if err := decodeField(raw, "encoding_format", &format); err != nil {
		return "", nil, err
	}
	if format != "" && format != "float" {
		return "", nil, fieldErr("encoding_format", "only float is supported by provider gemini")
	}
	var dims *int64
	if err := decodeField(raw, "dimensions", &dims); err != nil {
		return "", nil, err
	}
	if dims != nil && *dims <= 0 {
		return "", nil, fieldErr("dimensions", "must be positive")
	}
	var inputs []string
	in := raw["input"]
	var one string
	if json.Unmarshal(in, &one) == nil {
		inputs = []string{one}
	} else if err := json.Unmarshal(in, &inputs); err != nil || len(inputs) == 0 {
		return "", nil, fieldErr("input", "must be a string or a non-empty array of strings (token arrays are not supported by provider gemini)")
	}
	reqs := make([]gEmbedRequest, len(inputs))
	for i, s := range inputs {
		reqs[i] = gEmbedRequest{Model: "models/" + model, Content: gContent{Parts: []gPart{{Text: s}}}, OutputDimensionality: dims}
	}
	out, err = json.Marshal(struct {
		Requests []gEmbedRequest `json:"requests"`
	}{reqs})
	return model, out, err
}

// EmbedResponse translates a batchEmbedContents response. Gemini reports
// no token usage for embeddings, so usage is 0 (the gateway's own count,
// where it keeps one, is what meters the call).
func EmbedResponse(body []byte, model string) ([]byte, error) {
	var r struct {
		Embeddings []struct {
			Values json.RawMessage `json:"values"`
		} `json:"embeddings"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decoding Gemini embeddings: %w", err)
	}
	type item struct {
		Object    string          `json:"object"`
		Index     int             `json:"index"`
		Embedding json.RawMessage `json:"embedding"`
	}
	data := make([]item, len(r.Embeddings))
	for i, e := range r.Embeddings {
		v := bytes.TrimSpace(e.Values)
		if len(v) == 0 || v[0] != '[' {
			return nil, fmt.Errorf("decoding Gemini embeddings: embedding %d has no values", i)
		}
		data[i] = item{"embedding", i, v}
	}
	return json.Marshal(struct {
		Object string `json:"object"`
		Data   []item `json:"data"`
		Model  string `json:"model"`
		Usage  struct {
			PromptTokens int64 `json:"prompt_tokens"`
			TotalTokens  int64 `json:"total_tokens"`
		} `json:"usage"`
	}{Object: "list", Data: data, Model: model})
}
