package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzMessagesExchange feeds the Messages exchange what the gateway could
// write — an SSE stream cut into arbitrary pieces, or a body with any
// status — and checks it never panics and always answers a JSON body or
// well-formed SSE frames.
func FuzzMessagesExchange(f *testing.F) {
	f.Add([]byte("data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n"), true, 200, 7)
	f.Add([]byte("data: {\"error\":{\"message\":\"x\",\"code\":\"upstream_timeout\"}}\n\n"), true, 200, 3)
	f.Add([]byte(`{"id":"c","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1}}`), false, 200, 5)
	f.Add([]byte(`{"error":{"message":"no","type":"invalid_request_error"}}`), false, 404, 100)
	f.Fuzz(func(t *testing.T, body []byte, sse bool, status, cut int) {
		if status < 200 || status > 599 {
			status = 200
		}
		w := httptest.NewRecorder()
		x := &messagesExchange{w: w, reqHeader: http.Header{}, id: "msg_fuzz"}
		x.Request(t.Context(), nil, []byte(`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`))
		if sse {
			x.Header().Set("Content-Type", "text/event-stream")
		}
		x.WriteHeader(status)
		if cut <= 0 {
			cut = 1
		}
		for len(body) > 0 {
			n := min(cut, len(body))
			x.Write(body[:n])
			body = body[n:]
		}
		x.Close()
		out := w.Body.Bytes()
		if sse && status == 200 {
			for _, frame := range bytes.Split(out, []byte("\n\n")) {
				if len(frame) == 0 {
					continue
				}
				lines := strings.Split(string(frame), "\n")
				if len(lines) != 2 || !strings.HasPrefix(lines[0], "event: ") || !strings.HasPrefix(lines[1], "data: ") ||
					!json.Valid([]byte(strings.TrimPrefix(lines[1], "data: "))) {
					t.Fatalf("bad frame %q", frame)
				}
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("answer is not JSON: %q", out)
		}
	})
}
