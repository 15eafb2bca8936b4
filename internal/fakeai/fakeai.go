// Package fakeai is a scriptable OpenAI-compatible upstream for tests and
// benchmarks: it answers chat, completion, embedding, rerank, image,
// moderation, speech and transcription requests (and echoes any request
// to /v1/files/echo), and can
// be told to fail, rate-limit, delay, stream slowly or drop the connection.
// It records what it received and whether callers cancelled.
package fakeai

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Behavior is how the upstream answers one request.
type Behavior struct {
	Status     int           // non-200: answer with an OpenAI error of this status
	RetryAfter string        // Retry-After header on errors
	Delay      time.Duration // before the response headers
	Chunks     int           // stream: content chunks (default 3)
	ChunkDelay time.Duration // stream: gap between chunks
	DropAfter  int           // stream: close the connection after this many chunks (0: never)
	Hang       bool          // never answer; wait for the caller to cancel
	Content    string        // answer text (default "Hello from fakeai")
	NoUsage    bool          // leave usage out
	Pieces     []string      // stream exactly these content chunks (non-stream: their concatenation)
	// ToolCalls answers with these tool calls (finish_reason tool_calls)
	// after the content, if any; streamed with each call's arguments split
	// in two fragments.
	ToolCalls []ToolCall
	// AutoTools acts like an agent's model: when the request offers tools
	// (tool_choice not "none") and its last message is the user's, it
	// calls the first tool with the arguments {"query": <the user's text>};
	// after a tool result it answers "Tool said: <the result>".
	AutoTools bool
	// Release, when set, holds a speech answer's last chunk until it is
	// closed (a test of relaying before the upstream has finished).
	Release <-chan struct{}
}

// ToolCall is one function call the fake model makes.
type ToolCall struct {
	ID, Name, Arguments string
}

// Server is a running fake upstream.
type Server struct {
	URL string // base URL including /v1

	srv  *http.Server
	ln   net.Listener
	mu   sync.Mutex
	next []Behavior
	def  Behavior

	Requests atomic.Int64
	Canceled atomic.Int64
	bodies   []json.RawMessage
	headers  []http.Header
	done     chan struct{}
}

// Start listens on 127.0.0.1 on a free port.
func Start() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{ln: ln, URL: "http://" + ln.Addr().String() + "/v1", done: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.chat)
	mux.HandleFunc("POST /v1/completions", s.completion)
	mux.HandleFunc("POST /v1/embeddings", s.embedding)
	s.endpoints(mux)
	mux.HandleFunc("POST /v1/responses", s.responses)
	s.srv = &http.Server{Handler: mux}
	go s.srv.Serve(ln)
	return s, nil
}

// Close stops the server.
func (s *Server) Close() {
	close(s.done)
	s.srv.Close()
}

// SetDefault sets the behavior used when no scripted one is queued.
func (s *Server) SetDefault(b Behavior) {
	s.mu.Lock()
	s.def = b
	s.mu.Unlock()
}

// Script queues behaviors for the next requests, in order.
func (s *Server) Script(bs ...Behavior) {
	s.mu.Lock()
	s.next = append(s.next, bs...)
	s.mu.Unlock()
}

// Bodies returns the request bodies received so far.
func (s *Server) Bodies() []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]json.RawMessage(nil), s.bodies...)
}

// Headers returns the request headers received so far.
func (s *Server) Headers() []http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]http.Header(nil), s.headers...)
}

// Record keeps request bodies and headers (off by default, for benchmarks).
var Record = true

type request struct {
	Tools []struct {
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	} `json:"tools"`
	ToolChoice json.RawMessage `json:"tool_choice"`
	Input      json.RawMessage `json:"input"`
	Encoding   string          `json:"encoding_format"`
	Messages   []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Model         string `json:"model"`
	Stream        bool   `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

func (s *Server) begin(w http.ResponseWriter, r *http.Request) (request, Behavior, bool) {
	s.Requests.Add(1)
	var req request
	body := make([]byte, 0, 1024)
	buf := make([]byte, 4096)
	for {
		n, err := r.Body.Read(buf)
		body = append(body, buf[:n]...)
		if err != nil {
			break
		}
	}
	json.Unmarshal(body, &req)
	b, ok := s.behave(w, r, body)
	if !ok {
		return req, b, false
	}
	if b.AutoTools && len(req.Messages) > 0 {
		last := req.Messages[len(req.Messages)-1]
		text := textOf(last.Content)
		switch {
		case last.Role == "user" && len(req.Tools) > 0 && string(req.ToolChoice) != `"none"`:
			args, _ := json.Marshal(map[string]string{"query": text})
			b.ToolCalls = []ToolCall{{ID: "call_fake" + strconv.Itoa(len(req.Messages)), Name: req.Tools[0].Function.Name, Arguments: string(args)}}
		case last.Role == "tool":
			b.Content, b.Pieces = "", []string{"Tool said: ", text}
		}
	}
	return req, b, true
}

// behave records a request's body and headers, takes the next behavior,
// and carries out its hang, delay or error status; ok is false when the
// answer is already given (or never will be).
func (s *Server) behave(w http.ResponseWriter, r *http.Request, body []byte) (Behavior, bool) {
	s.mu.Lock()
	b := s.def
	if len(s.next) > 0 {
		b = s.next[0]
		s.next = s.next[1:]
	}
	if Record {
		s.bodies = append(s.bodies, json.RawMessage(body))
		s.headers = append(s.headers, r.Header.Clone())
	}
	s.mu.Unlock()
	if b.Hang {
		select {
		case <-r.Context().Done():
			s.Canceled.Add(1)
		case <-s.done:
		}
		return b, false
	}
	if b.Delay > 0 {
		select {
		case <-time.After(b.Delay):
		case <-r.Context().Done():
			s.Canceled.Add(1)
			return b, false
		}
	}
	if b.Status != 0 && b.Status != http.StatusOK {
		if b.RetryAfter != "" {
			w.Header().Set("Retry-After", b.RetryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(b.Status)
		w.Write([]byte(`{"error":{"message":"fakeai status ` + strconv.Itoa(b.Status) + `","type":"fake_error","param":null,"code":"fake_` + strconv.Itoa(b.Status) + `"}}`))
		return b, false
	}
	return b, true
}

// textOf is a message content's text: a string, or its text parts joined.
func textOf(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Text string `json:"text"`
	}
	json.Unmarshal(raw, &parts)
	var out []string
	for _, p := range parts {
		out = append(out, p.Text)
	}
	return strings.Join(out, "")
}

func content(b Behavior) string {
	if len(b.Pieces) > 0 {
		return strings.Join(b.Pieces, "")
	}
	if b.Content != "" {
		return b.Content
	}
	return "Hello from fakeai"
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	req, b, ok := s.begin(w, r)
	if !ok {
		return
	}
	finish := "stop"
	if len(b.ToolCalls) > 0 {
		finish = "tool_calls"
	}
	if !req.Stream {
		msg := map[string]any{"role": "assistant", "content": content(b)}
		if len(b.ToolCalls) > 0 {
			var calls []any
			for _, tc := range b.ToolCalls {
				calls = append(calls, map[string]any{"id": tc.ID, "type": "function",
					"function": map[string]any{"name": tc.Name, "arguments": tc.Arguments}})
			}
			msg["tool_calls"] = calls
			if b.Content == "" && len(b.Pieces) == 0 {
				msg["content"] = nil
			}
		}
		out, _ := json.Marshal(map[string]any{
			"id": "chatcmpl-fake", "object": "chat.completion", "created": 1700000000, "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "finish_reason": finish, "message": msg}},
			"usage":   usageOf(b, 12, 5),
		})
		w.Header().Set("Content-Type", "application/json")
		w.Write(out)
		return
	}
	n := b.Chunks
	if n == 0 {
		n = 3
	}
	if len(b.Pieces) > 0 {
		n = len(b.Pieces)
	}
	if len(b.ToolCalls) > 0 && b.Content == "" && len(b.Pieces) == 0 {
		n = 0
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	fl := w.(http.Flusher)
	for i := 0; i < n; i++ {
		if b.DropAfter > 0 && i == b.DropAfter {
			fl.Flush()
			if hj, ok := w.(http.Hijacker); ok {
				c, _, err := hj.Hijack()
				if err == nil {
					c.Close()
				}
			}
			return
		}
		if i > 0 && b.ChunkDelay > 0 {
			select {
			case <-time.After(b.ChunkDelay):
			case <-r.Context().Done():
				s.Canceled.Add(1)
				return
			}
		}
		piece := content(b)
		switch {
		case len(b.Pieces) > 0:
			piece = b.Pieces[i]
		case n > 1:
			piece = "tok" + strconv.Itoa(i) + " "
		}
		chunk := `{"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1700000000,"model":` + strconv.Quote(req.Model) +
			`,"choices":[{"index":0,"delta":{` + role(i) + `"content":` + strconv.Quote(piece) + `},"finish_reason":null}]}`
		if _, err := w.Write([]byte("data: " + chunk + "\n\n")); err != nil {
			s.Canceled.Add(1)
			return
		}
		fl.Flush()
	}
	head := `{"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1700000000,"model":` + strconv.Quote(req.Model) + `,"choices":[{"index":0,"delta":`
	for i, tc := range b.ToolCalls {
		half := len(tc.Arguments) / 2
		delta := map[string]any{"tool_calls": []any{map[string]any{"index": i, "id": tc.ID, "type": "function",
			"function": map[string]any{"name": tc.Name, "arguments": tc.Arguments[:half]}}}}
		if n == 0 && i == 0 {
			delta["role"] = "assistant"
		}
		first, _ := json.Marshal(delta)
		rest, _ := json.Marshal(map[string]any{"tool_calls": []any{map[string]any{"index": i,
			"function": map[string]any{"arguments": tc.Arguments[half:]}}}})
		w.Write([]byte("data: " + head + string(first) + `,"finish_reason":null}]}` + "\n\n"))
		w.Write([]byte("data: " + head + string(rest) + `,"finish_reason":null}]}` + "\n\n"))
		fl.Flush()
	}
	final := head + `{},"finish_reason":"` + finish + `"}]}`
	w.Write([]byte("data: " + final + "\n\n"))
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage && !b.NoUsage {
		u, _ := json.Marshal(usageOf(b, 12, n))
		w.Write([]byte(`data: {"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1700000000,"model":` + strconv.Quote(req.Model) + `,"choices":[],"usage":` + string(u) + "}\n\n"))
	}
	w.Write([]byte("data: [DONE]\n\n"))
}

// role is the first chunk's role member, as OpenAI streams it.
func role(i int) string {
	if i == 0 {
		return `"role":"assistant",`
	}
	return ""
}

func usageOf(b Behavior, in, out int) any {
	if b.NoUsage {
		return nil
	}
	return map[string]int{"prompt_tokens": in, "completion_tokens": out, "total_tokens": in + out}
}

func (s *Server) completion(w http.ResponseWriter, r *http.Request) {
	req, b, ok := s.begin(w, r)
	if !ok {
		return
	}
	out, _ := json.Marshal(map[string]any{
		"id": "cmpl-fake", "object": "text_completion", "created": 1700000000, "model": req.Model,
		"choices": []any{map[string]any{"index": 0, "text": content(b), "finish_reason": "stop"}},
		"usage":   usageOf(b, 4, 5),
	})
	w.Header().Set("Content-Type", "application/json")
	w.Write(out)
}

// vectors answers one small embedding per input (a string or an array).
func vectors(input json.RawMessage, format string) []any {
	n := 1
	var many []json.RawMessage
	if json.Unmarshal(input, &many) == nil && len(many) > 0 {
		n = len(many)
		var ints []int // one prompt given as token ids
		if json.Unmarshal(input, &ints) == nil {
			n = 1
		}
	}
	out := make([]any, n)
	for i := range out {
		v := []float32{0.1, -0.2, 0.3 + float32(i)}
		var emb any = v
		if format == "base64" { // little-endian float32s, as OpenAI sends them
			raw := make([]byte, 0, 4*len(v))
			for _, f := range v {
				raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(f))
			}
			emb = base64.StdEncoding.EncodeToString(raw)
		}
		out[i] = map[string]any{"object": "embedding", "index": i, "embedding": emb}
	}
	return out
}

func (s *Server) embedding(w http.ResponseWriter, r *http.Request) {
	req, b, ok := s.begin(w, r)
	if !ok {
		return
	}
	out, _ := json.Marshal(map[string]any{
		"object": "list", "model": req.Model,
		"data":  vectors(req.Input, req.Encoding),
		"usage": map[string]int{"prompt_tokens": 3, "total_tokens": 3},
	})
	_ = b
	w.Header().Set("Content-Type", "application/json")
	w.Write(out)
}

// responses answers OpenAI's Responses API natively: a Response object
// with the content as one message, or its stream of events.
func (s *Server) responses(w http.ResponseWriter, r *http.Request) {
	req, b, ok := s.begin(w, r)
	if !ok {
		return
	}
	text := content(b)
	usage := map[string]any{"input_tokens": 11, "input_tokens_details": map[string]int{"cached_tokens": 0},
		"output_tokens": 6, "output_tokens_details": map[string]int{"reasoning_tokens": 0}, "total_tokens": 17}
	msg := map[string]any{"type": "message", "id": "msg_fake", "status": "completed", "role": "assistant",
		"content": []any{map[string]any{"type": "output_text", "text": text, "annotations": []any{}}}}
	n := s.Requests.Load()
	obj := func(status string, output []any, u any) map[string]any {
		return map[string]any{"id": "resp_fake" + strconv.FormatInt(n, 10), "object": "response", "created_at": 1700000000,
			"status": status, "model": req.Model, "output": output, "usage": u, "error": nil, "incomplete_details": nil,
			"parallel_tool_calls": true, "tool_choice": "auto", "tools": []any{}, "temperature": 1, "top_p": 1}
	}
	if !req.Stream {
		out, _ := json.Marshal(obj("completed", []any{msg}, usage))
		w.Header().Set("Content-Type", "application/json")
		w.Write(out)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	seq := 0
	ev := func(typ string, v map[string]any) {
		v["type"], v["sequence_number"] = typ, seq
		seq++
		d, _ := json.Marshal(v)
		w.Write([]byte("event: " + typ + "\ndata: " + string(d) + "\n\n"))
	}
	ev("response.created", map[string]any{"response": obj("in_progress", []any{}, nil)})
	ev("response.output_item.added", map[string]any{"output_index": 0, "item": map[string]any{"type": "message", "id": "msg_fake", "status": "in_progress", "role": "assistant", "content": []any{}}})
	ev("response.output_text.delta", map[string]any{"item_id": "msg_fake", "output_index": 0, "content_index": 0, "delta": text})
	ev("response.output_item.done", map[string]any{"output_index": 0, "item": msg})
	ev("response.completed", map[string]any{"response": obj("completed", []any{msg}, usage)})
}
