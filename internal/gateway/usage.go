package gateway

import (
	"sync"

	wire "switchyard/internal/wire/openai"
)

var genPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// askUsage returns body changed to ask a streaming upstream for a final
// usage chunk (stream_options.include_usage), when the client did not ask
// for one itself. ok is false when the body already asks, or says not to.
func askUsage(body []byte, f wire.Fields) ([]byte, bool) {
	if !f.StreamOptions.Present() || wire.Kind(body, f.StreamOptions) == "null" {
		out := make([]byte, 0, len(body)+48)
		if f.StreamOptions.Present() {
			out = append(out, body[:f.StreamOptions.Start]...)
			out = append(out, `{"include_usage":true}`...)
			return append(out, body[f.StreamOptions.End:]...), true
		}
		i := 0
		for i < len(body) && body[i] != '{' {
			i++
		}
		out = append(out, body[:i+1]...)
		out = append(out, `"stream_options":{"include_usage":true},`...)
		return append(out, body[i+1:]...), true
	}
	if wire.Member(body, f.StreamOptions, "include_usage").Present() {
		return nil, false // the client chose; respect it either way
	}
	sp := f.StreamOptions
	out := make([]byte, 0, len(body)+24)
	out = append(out, body[:sp.Start+1]...)
	out = append(out, `"include_usage":true`...)
	inner := body[sp.Start+1 : sp.End]
	empty := true
	for _, c := range inner {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '}' {
			empty = false
			break
		}
	}
	if !empty {
		out = append(out, ',')
	}
	return append(out, body[sp.Start+1:]...), true
}

// usageOnly reports whether a stream chunk carries only usage (its
// choices are empty): the chunk askUsage added, which the client did not
// ask for.
func usageOnly(chunk []byte) bool {
	all := wire.Span{Start: 0, End: len(chunk)}
	ch := wire.Member(chunk, all, "choices")
	if !ch.Present() {
		return true
	}
	n := 0
	wire.Each(chunk, ch, func(_ []byte, _ wire.Span) bool { n++; return false })
	return n == 0
}

// appendContent appends the generated text of a stream chunk
// (choices[].delta.content for chat, choices[].text for completions).
func appendContent(dst, chunk []byte) []byte {
	all := wire.Span{Start: 0, End: len(chunk)}
	wire.Each(chunk, wire.Member(chunk, all, "choices"), func(_ []byte, c wire.Span) bool {
		sp := wire.Member(chunk, wire.Member(chunk, c, "delta"), "content")
		if !sp.Present() {
			sp = wire.Member(chunk, c, "text")
		}
		if s, ok := wire.String(chunk, sp); ok {
			dst = append(dst, s...)
		}
		return true
	})
	return dst
}
