package responses

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// oracleSeeds reach corners the fixtures do not: escapes in keys and
// values, case-folded keys, duplicates, nulls, surrogate halves, U+2028,
// numbers encoding/json rewrites.
var oracleSeeds = []string{
	`{"model":"m\u00e9<&>","input":"a\/b\u2028\ud83d"}`,
	`{"mod\u0065l":"m","input":"x"}`,
	`{"model":"m","input":[{"ROLE":"user","Content":"x"},{"type":"message","role":"assistant","content":[{"type":"output_text","text":"\ud83d"},{"type":"refusal","refusal":"\ude00"},{"TYPE":"output_text","text":""}]}]}`,
	`{"model":"m","input":[{"type":"message","role":"assistant","content":[{"type":"refusal","refusal":"no"}]},{"type":"function_call","call_id":"c","name":"f","arguments":"{\"a\":\"\\u2028\"}"},{"type":"function_call","call_id":"d","name":"g","arguments":""}]}`,
	`{"model":"m","input":[{"type":"x","type":null,"role":"user","content":"x"},{"type":null,"role":"user","content":"y"}]}`,
	`{"model":"m","input":[{"type":"function_call_output","call_id":"c","output":[{"type":"input_text","text":"a"},null]},{"type":"function_call_output","call_id":"c","output":[{"type":"input_text","text":1}]}]}`,
	`{"model":"m","input":[{"role":"user","content":[{"type":"input_image","image_url":"data:x","detail":"auto"},{"type":"input_text","text":"t"}]},{"role":"user","content":[]}]}`,
	`{"model":"m","input":[{"role":"user","content":[null]}]}`,
	`{"model":"m","input":"x","temperature":1.0,"top_p":1e-7,"max_output_tokens":-0,"parallel_tool_calls":true}`,
	`{"model":"m","input":"x","temperature":1E2,"top_p":0.10,"max_output_tokens":5,"tools":[{"type":"function","name":"f","parameters":{ "a" : [ 1 , "b c" ] },"strict":null,"description":null}],"parallel_tool_calls":false}`,
	`{"model":"m","input":"x","tools":[{"type":"function","name":"f"}],"tools":[{"type":"function","name":"g","description":"\u003c"}],"tool_choice":"auto","tool_choice":{"type":"allowed_tools","mode":"required","tools":[{"type":"function","name":"f"},null]}}`,
	`{"model":"m","input":"x","tool_choice":{"type":"function","Name":"f","tools":[1]}}`,
	`{"model":"m","input":"x","tool_choice":"\u0061uto","text":{"format":{"type":"json_schema","name":"n","schema":{ "x" : 1 },"description":"d","strict":false},"verbosity":null}}`,
	`{"model":"m","input":"x","text":{"format":null},"reasoning":{"effort":null,"summary":"auto"},"metadata":{"a":null,"b":"c"}}`,
	`{"model":"m","input":"x","reasoning":{"Effort":"low"}}`,
	`{"model":"m","input":"x","reasoning":{"effort":"low","":1,"budget":2}}`,
	`{"model":"m","input":"x","metadata":{"a":"1","a":"2","b":"","c":"","d":"","e":"","f":"","g":"","h":"","i":"","j":"","k":"","l":"","m":"","n":"","o":"","p":""}}`,
	`{"model":"m","input":"x","include":[null],"truncation":"","top_logprobs":0,"background":null}`,
	`{"model":"m","input":"x","stream":true,"store":false,"previous_response_id":"p","user":"u","instructions":"be\tbrief\u0000","service_tier":"auto","prompt_cache_key":"k","safety_identifier":"s"}`,
	`{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f","argumentſ":"x"}]}`,
	`{"model":"m","input":[{"type":"reasoning","id":"r"}],"instructions":""}`,
	`{"model":null,"input":null}`,
}

// FuzzParseOracle checks Parse and Chat against the oracle (the
// encoding/json implementation they replaced): the same error, or the
// same Request (as the Response object echoes it) and byte for byte the
// same chat body. prior, when not empty, is one stored item before the
// input.
func FuzzParseOracle(f *testing.F) {
	for _, dir := range []string{"chat", "complete"} {
		names, _ := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
		for _, n := range names {
			b, _ := os.ReadFile(n)
			var c struct {
				Prior   []json.RawMessage `json:"prior"`
				Request json.RawMessage   `json:"request"`
			}
			json.Unmarshal(b, &c)
			f.Add([]byte(c.Request), []byte(nil))
			for _, p := range c.Prior {
				f.Add([]byte(c.Request), []byte(p))
			}
		}
	}
	for _, s := range oracleSeeds {
		f.Add([]byte(s), []byte(nil))
	}
	f.Add([]byte(`{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f","arguments":"{}"}]}`),
		[]byte(`{"type":"message","role":"assistant","content":"a"}`))
	f.Add([]byte(`{"model":"m","input":"x"}`), []byte(`null`))
	f.Add([]byte(`{"model":"m","input":"x"}`), []byte(`[1]`))
	f.Add([]byte(`{"model":"m","input":"x"}`), []byte("{\"type\":\"message\",\"role\":\"user\",\"content\":\"\xff\"}"))
	f.Fuzz(func(t *testing.T, body, prior []byte) {
		var pr []json.RawMessage
		if len(prior) > 0 {
			pr = []json.RawMessage{prior}
		}
		r, err := Parse(body)
		var chat []byte
		if err == nil {
			chat, err = r.Chat(pr)
		}
		or, oerr := oldParse(body)
		var ochat []byte
		if oerr == nil {
			ochat, oerr = or.Chat(pr)
		}
		if (err == nil) != (oerr == nil) {
			t.Fatalf("error %v, oracle %v, on %q %q", err, oerr, body, prior)
		}
		if err != nil {
			if diff := cmp.Diff(oerr, err); diff != "" {
				t.Fatalf("error differs from the oracle's on %q %q (-oracle +new):\n%s", body, prior, diff)
			}
			return
		}
		if diff := cmp.Diff(echo(or), echo(r)); diff != "" {
			t.Fatalf("request differs from the oracle's on %q (-oracle +new):\n%s", body, diff)
		}
		if !utf8.Valid(prior) {
			// The oracle copied a stored item's invalid bytes into raw
			// values; the new code reads each as U+FFFD everywhere.
			ochat = []byte(string([]rune(string(ochat))))
		}
		if string(chat) != string(ochat) {
			t.Fatalf("chat body differs from the oracle's on %q %q:\noracle: %s\nnew:    %s", body, prior, ochat, chat)
		}
	})
}

// echo is what a Request holds that a caller reads.
func echo(r any) string {
	var v struct {
		Model              string
		Stream, Store      bool
		PreviousResponseID string
		Input              []string
		Instructions       *string
		Temperature, TopP  *float64
		MaxOutputTokens    *int64
		ParallelToolCalls  *bool
		User               *string
		Metadata, Tools    string
		ToolChoice         string
		Text               *struct {
			Format    string
			Verbosity *string
		}
		Reasoning                                     *Reasoning
		PromptCacheKey, SafetyIdentifier, ServiceTier *string
	}
	var in []json.RawMessage
	switch r := r.(type) {
	case *Request:
		v.Model, v.Stream, v.Store, v.PreviousResponseID, in = r.Model, r.Stream, r.Store, r.PreviousResponseID, r.Input
		v.Instructions, v.Temperature, v.TopP, v.MaxOutputTokens, v.ParallelToolCalls = r.Instructions, r.Temperature, r.TopP, r.MaxOutputTokens, r.ParallelToolCalls
		v.User, v.Metadata, v.Tools, v.ToolChoice = r.User, string(r.Metadata), string(r.Tools), string(r.ToolChoice)
		if r.Text != nil {
			v.Text = &struct {
				Format    string
				Verbosity *string
			}{string(r.Text.Format), r.Text.Verbosity}
		}
		v.Reasoning, v.PromptCacheKey, v.SafetyIdentifier, v.ServiceTier = r.Reasoning, r.PromptCacheKey, r.SafetyIdentifier, r.ServiceTier
	case *oldRequest:
		v.Model, v.Stream, v.Store, v.PreviousResponseID, in = r.Model, r.Stream, r.Store, r.PreviousResponseID, r.Input
		v.Instructions, v.Temperature, v.TopP, v.MaxOutputTokens, v.ParallelToolCalls = r.Instructions, r.Temperature, r.TopP, r.MaxOutputTokens, r.ParallelToolCalls
		v.User, v.Metadata, v.Tools, v.ToolChoice = r.User, string(r.Metadata), string(r.Tools), string(r.ToolChoice)
		if r.Text != nil {
			v.Text = &struct {
				Format    string
				Verbosity *string
			}{string(r.Text.Format), r.Text.Verbosity}
		}
		v.Reasoning, v.PromptCacheKey, v.SafetyIdentifier, v.ServiceTier = r.Reasoning, r.PromptCacheKey, r.SafetyIdentifier, r.ServiceTier
	}
	for _, it := range in {
		v.Input = append(v.Input, string(it))
	}
	b, _ := json.MarshalIndent(v, "", " ")
	return string(b)
}
