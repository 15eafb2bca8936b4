package responses

import (
	"encoding/json"

	"switchyard/internal/call"
	wire "switchyard/internal/wire/openai"
	rwire "switchyard/internal/wire/responses"
)

// The callbacks of call.Native for an upstream that serves the Responses
// API itself: its answer goes to the client as sent (the model renamed),
// and is read for the meter and the store.

// nativeObject is the part of an upstream Response object the store reads.
type nativeObject struct {
	ID        string            `json:"id"`
	CreatedAt float64           `json:"created_at"`
	Output    []json.RawMessage `json:"output"`
	Usage     *struct {
		InputTokens        int64 `json:"input_tokens"`
		OutputTokens       int64 `json:"output_tokens"`
		InputTokensDetails struct {
			CachedTokens int64 `json:"cached_tokens"`
		} `json:"input_tokens_details"`
	} `json:"usage"`
}

func (o *nativeObject) usage() (call.Usage, bool) {
	var u call.Usage
	if o.Usage == nil {
		return u, false
	}
	u.PromptTokens, u.CompletionTokens = o.Usage.InputTokens, o.Usage.OutputTokens
	u.PromptDetails.CachedTokens = o.Usage.InputTokensDetails.CachedTokens
	return u, true
}

// nativeUsage reads the usage of a native answer (the Response object) or
// of a stream's final event; a whole answer is staged for the store here,
// before the gateway writes it.
func (x *exchange) nativeUsage(data []byte) (call.Usage, bool) {
	if !x.req.Stream {
		var o nativeObject
		if json.Unmarshal(data, &o) != nil {
			return call.Usage{}, false
		}
		if o.ID != "" {
			x.stageItems(o.ID, int64(o.CreatedAt), o.Output, append([]byte(nil), data...))
		}
		return o.usage()
	}
	typ, resp := eventParts(data)
	if !final(typ) && typ != "response.failed" {
		return call.Usage{}, false
	}
	var o nativeObject
	if json.Unmarshal(data[resp.Start:resp.End], &o) != nil {
		return call.Usage{}, false
	}
	return o.usage()
}

func final(typ string) bool { return typ == "response.completed" || typ == "response.incomplete" }

// eventParts finds a stream event's type and its response member.
func eventParts(data []byte) (typ string, resp wire.Span) {
	if _, err := wire.Scan(data); err != nil {
		return "", wire.Span{}
	}
	wire.Each(data, wire.Span{End: len(data)}, func(k []byte, v wire.Span) bool {
		switch string(k) {
		case "type":
			typ, _ = wire.String(data, v)
		case "response":
			if data[v.Start] == '{' {
				resp = v
			}
		}
		return true
	})
	return typ, resp
}

// frame appends one native stream event as SSE, with the public model
// name in its response, and stages the finished response for the store.
func (x *exchange) frame(dst, data []byte) []byte {
	typ, resp := eventParts(data)
	if n, ok := wire.Int(data, wire.Member(data, wire.Span{End: len(data)}, "sequence_number")); ok {
		x.nativeSeq = n
	}
	if resp.Present() {
		if m := wire.Member(data, resp, "model"); m.Present() {
			if name, _ := wire.String(data, m); name != x.req.Model {
				data = wire.AppendReplaced(make([]byte, 0, len(data)+len(x.req.Model)), data, m, x.req.Model)
				typ, resp = eventParts(data)
			}
		}
		if final(typ) {
			var o nativeObject
			if json.Unmarshal(data[resp.Start:resp.End], &o) == nil && o.ID != "" {
				x.stageItems(o.ID, int64(o.CreatedAt), o.Output, append([]byte(nil), data[resp.Start:resp.End]...))
			}
		}
	}
	if typ != "" {
		dst = append(dst, "event: "...)
		dst = append(dst, typ...)
		dst = append(dst, '\n')
	}
	return wire.AppendEvent(dst, data)
}

// streamError appends the error event that ends a native stream.
func (x *exchange) streamError(dst []byte, _ int, body []byte) []byte {
	return rwire.AppendError(dst, x.nativeSeq+1, body)
}
