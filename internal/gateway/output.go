package gateway

import (
	"encoding/json"
	"net/http"
	"sort"

	"switchyard/internal/call"

	wire "switchyard/internal/wire/openai"
)

// outputs applies the guard's output filters to an answer: one filter per
// choice index, over chat message/delta content and completion text.
type outputs struct {
	make  func() call.Output
	byIdx map[int64]call.Output
	order []int64
}

func (o *outputs) of(idx int64) call.Output {
	if f, ok := o.byIdx[idx]; ok {
		return f
	}
	if o.byIdx == nil {
		o.byIdx = map[int64]call.Output{}
	}
	f := o.make()
	o.byIdx[idx] = f
	o.order = append(o.order, idx)
	return f
}

// edit replaces doc[start:end] with raw (an insertion when start == end).
type edit struct {
	start, end int
	raw        []byte
}

func replaceString(sp wire.Span, text string) edit {
	return edit{sp.Start, sp.End, wire.AppendQuote(nil, text)}
}

// apply returns doc with the edits made. Edits are in document order and
// do not overlap.
func apply(doc []byte, edits []edit) []byte {
	if len(edits) == 0 {
		return doc
	}
	out := make([]byte, 0, len(doc)+64)
	last := 0
	for _, e := range edits {
		out = append(out, doc[last:e.start]...)
		out = append(out, e.raw...)
		last = e.end
	}
	return append(out, doc[last:]...)
}

// visit calls fn for each choice of doc with its index, its text span
// (delta.content, message.content or text) and whether it finishes.
func visit(doc []byte, fn func(idx int64, choice, text wire.Span, finished bool)) {
	all := wire.Span{Start: 0, End: len(doc)}
	n := int64(0)
	wire.Each(doc, wire.Member(doc, all, "choices"), func(_ []byte, c wire.Span) bool {
		idx, ok := wire.Int(doc, wire.Member(doc, c, "index"))
		if !ok {
			idx = n
		}
		n++
		text := wire.Member(doc, wire.Member(doc, c, "delta"), "content")
		if !text.Present() {
			text = wire.Member(doc, wire.Member(doc, c, "message"), "content")
		}
		if !text.Present() {
			text = wire.Member(doc, c, "text")
		}
		fr := wire.Member(doc, c, "finish_reason")
		fn(idx, c, text, fr.Present() && wire.Kind(doc, fr) != "null")
		return true
	})
}

// blockedBy is the reason f blocked its answer, if it is a call.Blocker
// that did.
func blockedBy(f call.Output) (string, bool) {
	if b, ok := f.(call.Blocker); ok {
		return b.Blocked()
	}
	return "", false
}

// blocked reports the first choice whose filter blocked the answer.
func (o *outputs) blocked() (string, bool) {
	for _, idx := range o.order {
		if reason, ok := blockedBy(o.byIdx[idx]); ok {
			return reason, true
		}
	}
	return "", false
}

// blockedMessage is the text that replaces a blocked answer: it names
// what was found, never the value.
func blockedMessage(reason string) string {
	return "The answer was withheld by the guard policy: it contains " + reason + "."
}

// blockedError is the error event that ends a blocked stream.
func blockedError(reason string) []byte {
	return wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "content_policy_violation", "", blockedMessage(reason)).Marshal()
}

var contentFilter = []byte(`"content_filter"`)

// body filters a whole (non-streamed) answer. A choice whose filter
// blocks gets the policy message as its text and finish_reason
// "content_filter", as a provider's own content filter answers.
func (o *outputs) body(doc []byte) []byte {
	var edits []edit
	visit(doc, func(idx int64, c wire.Span, text wire.Span, _ bool) {
		s, ok := wire.String(doc, text)
		if !ok {
			return
		}
		f := o.of(idx)
		out := f.Text(s)
		out += f.Flush()
		reason, blocked := blockedBy(f)
		if !blocked {
			edits = append(edits, replaceString(text, out))
			return
		}
		edits = append(edits, replaceString(text, blockedMessage(reason)))
		if fr := wire.Member(doc, c, "finish_reason"); fr.Present() {
			edits = append(edits, edit{fr.Start, fr.End, contentFilter})
		}
	})
	sort.Slice(edits, func(i, j int) bool { return edits[i].start < edits[j].start })
	return apply(doc, edits)
}

// chunk filters one stream event. A choice that finishes gets the text
// its filter still holds.
func (o *outputs) chunk(doc []byte) []byte {
	var edits []edit
	visit(doc, func(idx int64, c, text wire.Span, finished bool) {
		f := o.of(idx)
		s, ok := wire.String(doc, text)
		if !ok && text.Present() && finished && wire.Kind(doc, text) == "null" {
			s, ok = "", true // "content": null on the last chunk takes what is held
		}
		if ok {
			out := f.Text(s)
			if finished {
				out += f.Flush()
			}
			edits = append(edits, replaceString(text, out))
			return
		}
		if !finished {
			return
		}
		// A finishing chunk without text: add what is held to its delta.
		d := wire.Member(doc, c, "delta")
		if !d.Present() || doc[d.Start] != '{' {
			return // rest() sends it at the end
		}
		rest := f.Flush()
		if rest == "" {
			return
		}
		raw := wire.AppendQuote([]byte(`"content":`), rest)
		if inner := trimSpace(doc[d.Start+1 : d.End-1]); len(inner) > 0 {
			raw = append(raw, ',')
		}
		edits = append(edits, edit{d.Start + 1, d.Start + 1, raw})
	})
	return apply(doc, edits)
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}

// rest is a final chunk carrying whatever the filters still hold, or nil.
func (o *outputs) rest(model string) []byte {
	var choices []map[string]any
	for _, idx := range o.order {
		if s := o.byIdx[idx].Flush(); s != "" {
			choices = append(choices, map[string]any{"index": idx, "delta": map[string]string{"content": s}, "finish_reason": nil})
		}
	}
	if len(choices) == 0 {
		return nil
	}
	b, _ := json.Marshal(map[string]any{"object": "chat.completion.chunk", "model": model, "choices": choices})
	return b
}
