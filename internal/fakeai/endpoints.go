package fakeai

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
)

// endpoints registers the answers beyond chat, completions and embeddings.
func (s *Server) endpoints(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/rerank", s.rerank)
	mux.HandleFunc("POST /v1/images/generations", s.image)
	mux.HandleFunc("POST /v1/moderations", s.moderation)
	mux.HandleFunc("POST /v1/audio/speech", s.speech)
	mux.HandleFunc("POST /v1/audio/transcriptions", s.transcription)
	mux.HandleFunc("POST /v1/audio/translations", s.transcription)
	mux.HandleFunc("/v1/files/echo", s.echo)
}

func writeJSON(w http.ResponseWriter, v any) {
	out, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Write(out)
}

// rerank answers in the Jina/vLLM shape: results by descending score and
// usage.total_tokens alone (2 per document and 3 for the query).
func (s *Server) rerank(w http.ResponseWriter, r *http.Request) {
	s.Requests.Add(1)
	body, _ := io.ReadAll(r.Body)
	b, ok := s.behave(w, r, body)
	if !ok {
		return
	}
	var req struct {
		Model     string            `json:"model"`
		Documents []json.RawMessage `json:"documents"`
	}
	json.Unmarshal(body, &req)
	var results []any
	for i := range req.Documents {
		results = append(results, map[string]any{"index": i, "relevance_score": 1 / float64(i+1)})
	}
	out := map[string]any{"id": "rerank-fake", "model": req.Model, "results": results}
	if !b.NoUsage {
		out["usage"] = map[string]int{"total_tokens": 3 + 2*len(req.Documents)}
	}
	writeJSON(w, out)
}

// image answers with one tiny base64 image and gpt-image's usage shape.
func (s *Server) image(w http.ResponseWriter, r *http.Request) {
	s.Requests.Add(1)
	body, _ := io.ReadAll(r.Body)
	b, ok := s.behave(w, r, body)
	if !ok {
		return
	}
	out := map[string]any{"created": 1700000000, "data": []any{map[string]any{"b64_json": "aGVsbG8="}}}
	if !b.NoUsage {
		out["usage"] = map[string]any{"input_tokens": 20, "output_tokens": 1056, "total_tokens": 1076,
			"input_tokens_details": map[string]int{"text_tokens": 20, "image_tokens": 0}}
	}
	writeJSON(w, out)
}

// moderation answers "not flagged", without usage (as OpenAI does).
func (s *Server) moderation(w http.ResponseWriter, r *http.Request) {
	s.Requests.Add(1)
	body, _ := io.ReadAll(r.Body)
	if _, ok := s.behave(w, r, body); !ok {
		return
	}
	var req struct {
		Model string `json:"model"`
	}
	json.Unmarshal(body, &req)
	writeJSON(w, map[string]any{"id": "modr-fake", "model": req.Model, "results": []any{map[string]any{
		"flagged": false, "categories": map[string]bool{"hate": false, "violence": false},
		"category_scores": map[string]float64{"hate": 0.01, "violence": 0.02}}}})
}

// SpeechChunk is the i-th chunk of a speech answer: 4 KiB of one byte.
func SpeechChunk(i int) []byte {
	b := make([]byte, 4<<10)
	for j := range b {
		b[j] = byte('a' + i%26)
	}
	return b
}

// speech answers audio/mpeg in Chunks flushed writes (default 3), the last
// held until Release is closed; DropAfter cuts the connection after that
// many chunks.
func (s *Server) speech(w http.ResponseWriter, r *http.Request) {
	s.Requests.Add(1)
	body, _ := io.ReadAll(r.Body)
	b, ok := s.behave(w, r, body)
	if !ok {
		return
	}
	n := b.Chunks
	if n == 0 {
		n = 3
	}
	w.Header().Set("Content-Type", "audio/mpeg")
	w.WriteHeader(http.StatusOK)
	fl := w.(http.Flusher)
	for i := 0; i < n; i++ {
		if b.DropAfter > 0 && i == b.DropAfter {
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
				}
			}
			return
		}
		if i == n-1 && b.Release != nil {
			select {
			case <-b.Release:
			case <-r.Context().Done():
				s.Canceled.Add(1)
				return
			case <-s.done:
				return
			}
		}
		if _, err := w.Write(SpeechChunk(i)); err != nil {
			s.Canceled.Add(1)
			return
		}
		fl.Flush()
	}
}

// Upload is what the fake upstream recorded of a multipart request, kept
// as its body in Bodies.
type Upload struct {
	Parts     []string `json:"parts"` // part names in the order received
	Model     string   `json:"model"`
	Filename  string   `json:"filename"`
	FileBytes int64    `json:"file_bytes"`
	SHA256    string   `json:"sha256"`
	Length    int64    `json:"content_length"`
}

// transcription reads the multipart upload as a stream and answers with
// the text "<n> bytes for <model>" and token usage (one input token per
// KiB of audio).
func (s *Server) transcription(w http.ResponseWriter, r *http.Request) {
	s.Requests.Add(1)
	mr, err := r.MultipartReader()
	if err != nil {
		http.Error(w, `{"error":{"message":"not multipart","type":"invalid_request_error"}}`, http.StatusBadRequest)
		return
	}
	up := Upload{Length: r.ContentLength}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			http.Error(w, `{"error":{"message":"bad multipart","type":"invalid_request_error"}}`, http.StatusBadRequest)
			return
		}
		up.Parts = append(up.Parts, p.FormName())
		switch p.FormName() {
		case "model":
			v, _ := io.ReadAll(p)
			up.Model = string(v)
		case "file":
			h := sha256.New()
			up.FileBytes, _ = io.Copy(h, p)
			up.SHA256, up.Filename = hex.EncodeToString(h.Sum(nil)), p.FileName()
		default:
			io.Copy(io.Discard, p)
		}
	}
	rec, _ := json.Marshal(up)
	b, ok := s.behave(w, r, rec)
	if !ok {
		return
	}
	out := map[string]any{"text": strconv.FormatInt(up.FileBytes, 10) + " bytes for " + up.Model}
	if !b.NoUsage {
		in := up.FileBytes / 1024
		out["usage"] = map[string]any{"type": "tokens", "input_tokens": in, "output_tokens": 5, "total_tokens": in + 5}
	}
	writeJSON(w, out)
}

// echo answers any method with what it got: method, query, content type,
// body, and whether an Authorization header came, with chat-style usage.
func (s *Server) echo(w http.ResponseWriter, r *http.Request) {
	s.Requests.Add(1)
	body, _ := io.ReadAll(r.Body)
	if _, ok := s.behave(w, r, body); !ok {
		return
	}
	w.Header().Set("X-Fake-Echo", "1")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	out, _ := json.Marshal(map[string]any{"method": r.Method, "query": r.URL.RawQuery, "content_type": r.Header.Get("Content-Type"),
		"body": string(body), "authorization": r.Header.Get("Authorization"),
		"usage": map[string]int{"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}})
	w.Write(out)
}
