package gateway

import (
	"switchyard/internal/provider"
	wire "switchyard/internal/wire/openai"
)

// validate checks the body for op and returns what the gateway acts on.
// Fields the gateway does not use are left to the upstream.
func validate(op provider.Op, body []byte) (f wire.Fields, model string, stream bool, err error) {
	f, err = wire.Scan(body)
	if err != nil {
		return f, "", false, wire.BodyError(err)
	}
	if !f.Model.Present() {
		return f, "", false, missingModel(op)
	}
	model, ok := wire.String(body, f.Model)
	if !ok {
		return f, "", false, wire.Invalid("model", "Invalid type for 'model': expected a string, but got "+wire.Kind(body, f.Model)+".")
	}
	if model == "" {
		return f, "", false, missingModel(op)
	}
	if f.Stream.Present() && wire.Kind(body, f.Stream) != "null" {
		if stream, ok = wire.Bool(body, f.Stream); !ok {
			return f, "", false, wire.Invalid("stream", "Invalid type for 'stream': expected a boolean, but got "+wire.Kind(body, f.Stream)+".")
		}
	}
	if f.StreamOptions.Present() {
		if k := wire.Kind(body, f.StreamOptions); k != "object" && k != "null" {
			return f, "", false, wire.Invalid("stream_options", "Invalid type for 'stream_options': expected an object, but got "+k+".")
		}
	}
	if f.MaxTokens.Present() {
		if k := wire.Kind(body, f.MaxTokens); k != "number" && k != "null" {
			return f, "", false, wire.Invalid("max_tokens", "Invalid type for 'max_tokens': expected an integer, but got "+k+".")
		}
	}
	switch op {
	case provider.OpChat:
		if !f.Messages.Present() {
			return f, "", false, wire.Invalid("messages", "Missing required parameter: 'messages'.")
		}
		if k := wire.Kind(body, f.Messages); k != "array" {
			return f, "", false, wire.Invalid("messages", "Invalid type for 'messages': expected an array, but got "+k+".")
		}
		n := 0
		var bad error
		wire.Each(body, f.Messages, func(_ []byte, v wire.Span) bool {
			idx := itoa(n)
			n++
			if wire.Kind(body, v) != "object" {
				bad = wire.Invalid("messages["+idx+"]", "Invalid type for 'messages["+idx+"]': expected an object, but got "+wire.Kind(body, v)+".")
				return false
			}
			role := wire.Member(body, v, "role")
			if !role.Present() {
				bad = wire.Invalid("messages["+idx+"].role", "Missing required parameter: 'messages["+idx+"].role'.")
				return false
			}
			if wire.Kind(body, role) != "string" {
				bad = wire.Invalid("messages["+idx+"].role", "Invalid type for 'messages["+idx+"].role': expected a string, but got "+wire.Kind(body, role)+".")
				return false
			}
			return true
		})
		if bad != nil {
			return f, "", false, bad
		}
		if n == 0 {
			return f, "", false, wire.Invalid("messages", "Invalid 'messages': empty array. Expected an array with minimum length 1.")
		}
	case provider.OpCompletion:
		if !f.Prompt.Present() {
			return f, "", false, wire.Invalid("prompt", "Missing required parameter: 'prompt'.")
		}
		if k := wire.Kind(body, f.Prompt); k != "string" && k != "array" {
			return f, "", false, wire.Invalid("prompt", "Invalid type for 'prompt': expected a string or an array, but got "+k+".")
		}
	case provider.OpEmbedding:
		if !f.Input.Present() {
			return f, "", false, wire.Invalid("input", "Missing required parameter: 'input'.")
		}
		if k := wire.Kind(body, f.Input); k != "string" && k != "array" {
			return f, "", false, wire.Invalid("input", "Invalid type for 'input': expected a string or an array, but got "+k+".")
		}
		if stream {
			return f, "", false, wire.Invalid("stream", "Embeddings cannot be streamed.")
		}
	case provider.OpRerank, provider.OpImage, provider.OpModeration, provider.OpSpeech:
		if err := validateMore(op, body, f, stream); err != nil {
			return f, "", false, err
		}
	case provider.OpClassify:
		if !f.Input.Present() {
			return f, "", false, wire.Invalid("input", "Missing required parameter: 'input'.")
		}
		if k := wire.Kind(body, f.Input); k != "string" && k != "array" {
			return f, "", false, wire.Invalid("input", "Invalid type for 'input': expected a string or an array of strings, but got "+k+".")
		}
		var bad error
		i := 0
		wire.Each(body, f.Input, func(_ []byte, v wire.Span) bool {
			if k := wire.Kind(body, v); k != "string" {
				bad = wire.Invalid("input["+itoa(i)+"]", "Invalid type for 'input["+itoa(i)+"]': expected a string, but got "+k+".")
			}
			i++
			return bad == nil
		})
		if bad != nil {
			return f, "", false, bad
		}
		if stream {
			return f, "", false, wire.Invalid("stream", "Classifications cannot be streamed.")
		}
	}
	return f, model, stream, nil
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}
