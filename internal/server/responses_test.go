package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"

	"switchyard/internal/fakeai"
)

// TestResponsesAPI drives /v1/responses with the official SDK against a
// chat-only upstream: the calls are translated, metered and stored per
// project.
func TestResponsesAPI(t *testing.T) { onBothDatabases(t, testResponsesAPI) }

func testResponsesAPI(t *testing.T, database string) {
	up := upstream(t)
	e := start(t, database+oneModel("chat", up.URL, priced))
	orgID, _, k := e.tenant("resp", nil, nil, nil)
	_, _, other := e.tenant("other", nil, nil, nil)
	c, oc := e.client(k.Key), e.client(other.Key)
	ctx := context.Background()

	// Non-stream text.
	up.Script(fakeai.Behavior{Content: "Hello <there>"})
	r, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "chat", Instructions: openai.String("Be brief."),
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.ID, "resp_") || r.Status != "completed" || r.OutputText() != "Hello <there>" || r.Model != "chat" ||
		r.Usage.InputTokens != 12 || r.Usage.OutputTokens != 5 || r.Usage.TotalTokens != 17 || r.Instructions.OfString != "Be brief." {
		t.Fatalf("response = %+v", r)
	}
	var sent struct {
		Model    string `json:"model"`
		Messages []struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"messages"`
	}
	bodies := up.Bodies()
	json.Unmarshal(bodies[len(bodies)-1], &sent)
	if sent.Model != "upstream-chat" || len(sent.Messages) != 2 || sent.Messages[0].Role != "system" || sent.Messages[1].Content != "hi" {
		t.Errorf("chat body sent upstream: %s", bodies[len(bodies)-1])
	}

	// GET by id; another project's key sees nothing.
	got, err := c.Responses.Get(ctx, r.ID, responses.ResponseGetParams{})
	if err != nil || got.ID != r.ID || got.OutputText() != "Hello <there>" {
		t.Fatalf("get = %+v, %v", got, err)
	}
	_, err = oc.Responses.Get(ctx, r.ID, responses.ResponseGetParams{})
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != 404 {
		t.Fatalf("another project's get: %v, want 404", err)
	}
	if st, b := e.get("/v1/responses/resp_nope", k.Key); st != 404 || decodeErr(t, b).Error.Message == "" {
		t.Errorf("unknown id: %d %s", st, b)
	}
	// ...nor may it continue the conversation.
	_, err = oc.Responses.New(ctx, responses.ResponseNewParams{Model: "chat", PreviousResponseID: openai.String(r.ID),
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("more")}})
	if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Param != "previous_response_id" {
		t.Fatalf("another project's previous_response_id: %v", err)
	}

	// Stream.
	s := c.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "chat",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("stream please")}})
	var types []string
	var text strings.Builder
	var final responses.Response
	for s.Next() {
		ev := s.Current()
		types = append(types, ev.Type)
		switch ev.Type {
		case "response.output_text.delta":
			text.WriteString(ev.Delta)
		case "response.completed":
			final = ev.Response
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	want := "response.created response.in_progress response.output_item.added response.content_part.added " +
		"response.output_text.delta response.output_text.delta response.output_text.delta response.output_text.done " +
		"response.content_part.done response.output_item.done response.completed"
	if strings.Join(types, " ") != want {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(types, " "), want)
	}
	if text.String() != "tok0 tok1 tok2 " || final.OutputText() != "tok0 tok1 tok2 " || final.Usage.OutputTokens != 3 {
		t.Errorf("streamed %q, final %+v", text.String(), final)
	}
	if got, err := c.Responses.Get(ctx, final.ID, responses.ResponseGetParams{}); err != nil || got.OutputText() != "tok0 tok1 tok2 " {
		t.Errorf("streamed response stored: %+v, %v", got, err)
	}

	// A function tool round trip with previous_response_id.
	weather := responses.ToolUnionParam{OfFunction: &responses.FunctionToolParam{Name: "weather",
		Parameters: map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}}}}
	up.Script(fakeai.Behavior{ToolCalls: []fakeai.ToolCall{{ID: "call_w1", Name: "weather", Arguments: `{"city":"Paris"}`}}})
	r1, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "chat", Tools: []responses.ToolUnionParam{weather},
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Weather in Paris?")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(r1.Output) != 1 || r1.Output[0].Type != "function_call" || r1.Output[0].CallID != "call_w1" ||
		r1.Output[0].Name != "weather" || r1.Output[0].Arguments.OfString != `{"city":"Paris"}` {
		t.Fatalf("tool call output = %+v", r1.Output)
	}
	up.Script(fakeai.Behavior{Content: "18C and sunny"})
	r2, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "chat", Tools: []responses.ToolUnionParam{weather},
		PreviousResponseID: openai.String(r1.ID),
		Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{{
			OfFunctionCallOutput: &responses.ResponseInputItemFunctionCallOutputParam{CallID: openai.String("call_w1"),
				Output: responses.ResponseInputItemFunctionCallOutputOutputUnionParam{OfString: openai.String("18C")}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if r2.OutputText() != "18C and sunny" || r2.PreviousResponseID != r1.ID {
		t.Errorf("second turn = %+v", r2)
	}
	var turn struct {
		Messages []struct {
			Role       string `json:"role"`
			Content    any    `json:"content"`
			ToolCallID string `json:"tool_call_id"`
			ToolCalls  []struct {
				ID string `json:"id"`
			} `json:"tool_calls"`
		} `json:"messages"`
		Tools []struct {
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		} `json:"tools"`
	}
	bodies = up.Bodies()
	json.Unmarshal(bodies[len(bodies)-1], &turn)
	m := turn.Messages
	if len(m) != 3 || m[0].Content != "Weather in Paris?" || m[1].Role != "assistant" || len(m[1].ToolCalls) != 1 ||
		m[1].ToolCalls[0].ID != "call_w1" || m[2].Role != "tool" || m[2].ToolCallID != "call_w1" || m[2].Content != "18C" ||
		len(turn.Tools) != 1 || turn.Tools[0].Function.Name != "weather" {
		t.Errorf("second turn's chat body: %s", bodies[len(bodies)-1])
	}
	// Its input items are the turn's own.
	st, b := e.get("/v1/responses/"+r2.ID+"/input_items", k.Key)
	if st != 200 || !strings.Contains(string(b), `"call_id":"call_w1"`) || strings.Contains(string(b), "Weather in Paris") {
		t.Errorf("input items: %d %s", st, b)
	}

	// Bad input: 400s naming the field, nothing sent upstream.
	n := len(up.Bodies())
	for _, tc := range []struct{ body, param string }{
		{`{"model":"chat","input":"x","tools":[{"type":"function","name":"f"},{"type":"web_search"}]}`, "tools[1].type"},
		{`{"model":"chat","input":"x","background":true}`, "background"},
		{`{"model":"chat","input":[{"role":"user","content":[{"type":"input_image","file_id":"file_1"}]}]}`, "input[0].content[0].file_id"},
		{`{"model":"chat","input":"x","frobnicate":1}`, "frobnicate"},
		{`{"model":"chat"}`, "input"},
	} {
		st, _, b := e.post("/v1/responses", k.Key, []byte(tc.body))
		if er := decodeErr(t, b); st != 400 || er.Error.Param == nil || *er.Error.Param != tc.param {
			t.Errorf("%s: %d %s, want 400 naming %s", tc.body, st, b, tc.param)
		}
	}
	if len(up.Bodies()) != n {
		t.Error("a refused request reached the upstream")
	}
	// Unknown model.
	_, err = c.Responses.New(ctx, responses.ResponseNewParams{Model: "nope", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("x")}})
	if !errors.As(err, &ae) || ae.StatusCode != 404 || ae.Code != "model_not_found" {
		t.Errorf("unknown model: %v", err)
	}
	// An upstream error keeps OpenAI's shape.
	up.Script(fakeai.Behavior{Status: 400})
	_, err = c.Responses.New(ctx, responses.ResponseNewParams{Model: "chat", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("x")}})
	if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Code != "fake_400" {
		t.Errorf("upstream 400: %v", err)
	}

	// Delete; then it is gone.
	if err := c.Responses.Delete(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Responses.Get(ctx, r.ID, responses.ResponseGetParams{}); !errors.As(err, &ae) || ae.StatusCode != 404 {
		t.Errorf("deleted response: %v", err)
	}

	// Metered: the four answered calls (text, stream, two tool turns) and
	// the upstream's refusal, at 2 per input and 10 per output token.
	var u usageRows
	waitFor(t, func() bool {
		u = usageRows{}
		e.call("GET", "/api/usage?org="+orgID, adminKey, nil, &u)
		return total(u) >= 4
	})
	var in, out int64
	for _, row := range u.Data {
		in, out = in+row.PromptTokens, out+row.CompletionTokens
	}
	if in != 4*12 || out != 5+3+5+5 {
		t.Errorf("usage = %+v, want %d input and %d output tokens", u.Data, 4*12, 5+3+5+5)
	}
}

// TestResponsesNative: a deployment with responses: true gets the
// client's body as given (previous_response_id expanded locally), and its
// own answer is stored and metered.
func TestResponsesNative(t *testing.T) {
	up := upstream(t)
	e := start(t, oneModel("chat", up.URL, "        responses: true\n"+priced))
	orgID, _, k := e.tenant("native", nil, nil, nil)
	c := e.client(k.Key)
	ctx := context.Background()
	up.Script(fakeai.Behavior{Content: "native hello"})
	r, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "chat", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.ID, "resp_fake") || r.OutputText() != "native hello" || r.Model != "chat" {
		t.Fatalf("native response = %+v", r)
	}
	bodies := up.Bodies()
	if got := string(bodies[0]); got != `{"input":"hi","model":"upstream-chat"}` { // the SDK's bytes, the model renamed
		t.Errorf("native body sent: %s", got)
	}
	// Stream, continuing the first: the upstream gets the conversation.
	s := c.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "chat", PreviousResponseID: openai.String(r.ID),
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("again")}})
	var final responses.Response
	for s.Next() {
		if ev := s.Current(); ev.Type == "response.completed" {
			final = ev.Response
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if final.Model != "chat" || final.OutputText() != "Hello from fakeai" {
		t.Errorf("native stream final = %+v", final)
	}
	var sent struct {
		Input    []map[string]any `json:"input"`
		Previous *string          `json:"previous_response_id"`
	}
	bodies = up.Bodies()
	json.Unmarshal(bodies[1], &sent)
	if sent.Previous != nil || len(sent.Input) != 3 || sent.Input[0]["content"] != "hi" || sent.Input[1]["id"] != "msg_fake" || sent.Input[2]["content"] != "again" {
		t.Errorf("native continuation sent: %s", bodies[1])
	}
	if got, err := c.Responses.Get(ctx, final.ID, responses.ResponseGetParams{}); err != nil || got.OutputText() != "Hello from fakeai" {
		t.Errorf("stored native stream: %+v, %v", got, err)
	}
	var u usageRows
	waitFor(t, func() bool {
		u = usageRows{}
		e.call("GET", "/api/usage?org="+orgID, adminKey, nil, &u)
		return total(u) >= 2
	})
	var in, out int64
	for _, row := range u.Data {
		in, out = in+row.PromptTokens, out+row.CompletionTokens
	}
	if in != 22 || out != 12 {
		t.Errorf("native usage = %+v, want 22 in, 12 out", u.Data)
	}
}
