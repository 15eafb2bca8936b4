package gateway

import (
	"switchyard/internal/call"
	"switchyard/internal/provider"
	wire "switchyard/internal/wire/openai"
)

// missingModel is the error for a body without a model. Moderations name
// theirs too: OpenAI defaults it, but Switchyard routes every call by its
// model, so it has to be said.
func missingModel(op provider.Op) error {
	if op == provider.OpModeration {
		return wire.Invalid("model", "you must provide a model parameter: Switchyard routes moderations by model, so name one of its moderation models")
	}
	return wire.Invalid("model", "you must provide a model parameter")
}

// validateMore checks the bodies of rerank (Cohere/Jina shape), image
// generation, moderation and speech requests, once validate has checked
// model and stream.
func validateMore(op provider.Op, body []byte, f wire.Fields, stream bool) error {
	all := wire.Span{End: len(body)}
	switch op {
	case provider.OpRerank:
		q := wire.Member(body, all, "query")
		if err := requireString(body, q, "query"); err != nil {
			return err
		}
		docs := wire.Member(body, all, "documents")
		if !docs.Present() {
			return wire.Invalid("documents", "Missing required parameter: 'documents'.")
		}
		if k := wire.Kind(body, docs); k != "array" {
			return wire.Invalid("documents", "Invalid type for 'documents': expected an array, but got "+k+".")
		}
		n := 0
		var bad error
		wire.Each(body, docs, func(_ []byte, v wire.Span) bool {
			p := "documents[" + itoa(n) + "]"
			n++
			switch wire.Kind(body, v) {
			case "string":
			case "object":
				t := wire.Member(body, v, "text")
				if !t.Present() {
					bad = wire.Invalid(p+".text", "Missing required parameter: '"+p+".text'.")
				} else if k := wire.Kind(body, t); k != "string" {
					bad = wire.Invalid(p+".text", "Invalid type for '"+p+".text': expected a string, but got "+k+".")
				}
			default:
				bad = wire.Invalid(p, "Invalid type for '"+p+"': expected a string or an object with text, but got "+wire.Kind(body, v)+".")
			}
			return bad == nil
		})
		if bad != nil {
			return bad
		}
		if n == 0 {
			return wire.Invalid("documents", "Invalid 'documents': empty array. Expected an array with minimum length 1.")
		}
		if tn := wire.Member(body, all, "top_n"); tn.Present() {
			if k := wire.Kind(body, tn); k != "number" && k != "null" {
				return wire.Invalid("top_n", "Invalid type for 'top_n': expected an integer, but got "+k+".")
			}
		}
		if stream {
			return wire.Invalid("stream", "Rerank requests cannot be streamed.")
		}
	case provider.OpImage:
		if err := requireString(body, f.Prompt, "prompt"); err != nil {
			return err
		}
	case provider.OpModeration:
		if !f.Input.Present() {
			return wire.Invalid("input", "Missing required parameter: 'input'.")
		}
		k := wire.Kind(body, f.Input)
		if k != "string" && k != "array" {
			return wire.Invalid("input", "Invalid type for 'input': expected a string or an array, but got "+k+".")
		}
		var bad error
		i := 0
		wire.Each(body, f.Input, func(_ []byte, v wire.Span) bool {
			if k := wire.Kind(body, v); k != "string" && k != "object" {
				p := "input[" + itoa(i) + "]"
				bad = wire.Invalid(p, "Invalid type for '"+p+"': expected a string or an object, but got "+k+".")
			}
			i++
			return bad == nil
		})
		if bad != nil {
			return bad
		}
		if stream {
			return wire.Invalid("stream", "Moderations cannot be streamed.")
		}
	case provider.OpSpeech:
		if err := requireString(body, f.Input, "input"); err != nil {
			return err
		}
	}
	return nil
}

// requireString checks that the member at sp is a non-empty string.
func requireString(body []byte, sp wire.Span, name string) error {
	if !sp.Present() {
		return wire.Invalid(name, "Missing required parameter: '"+name+"'.")
	}
	s, ok := wire.String(body, sp)
	if !ok {
		return wire.Invalid(name, "Invalid type for '"+name+"': expected a string, but got "+wire.Kind(body, sp)+".")
	}
	if s == "" {
		return wire.Invalid(name, "Invalid '"+name+"': empty string. Expected a string with minimum length 1.")
	}
	return nil
}

// otherUsage reads the usage shapes that are not chat's: input_tokens and
// output_tokens (gpt-image, OpenAI transcriptions' {"type":"tokens",…}),
// and total_tokens alone (Jina and vLLM rerank), counted as prompt tokens.
// Cohere's meta.billed_units.search_units is not a token count and is not
// read: such an answer counts as reporting no usage, and the meter counts
// the query and documents itself.
func otherUsage(body []byte, sp wire.Span, u *call.Usage) {
	num := func(key string) int64 {
		n, _ := wire.Int(body, wire.Member(body, sp, key))
		return n
	}
	u.PromptTokens, u.CompletionTokens = num("input_tokens"), num("output_tokens")
	if d := wire.Member(body, sp, "input_tokens_details"); d.Present() && body[d.Start] == '{' {
		n, _ := wire.Int(body, wire.Member(body, d, "cached_tokens"))
		u.PromptDetails.CachedTokens = n
	}
	if u.PromptTokens == 0 && u.CompletionTokens == 0 {
		u.PromptTokens = num("total_tokens")
	}
}
