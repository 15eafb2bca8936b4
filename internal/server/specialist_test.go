package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/openai/openai-go/v3"

	"switchyard/internal/config"
	"switchyard/internal/server"
)

// intentCSV is 3 labels × 15 examples, English and Chinese (shared with the
// specialist package's tests).
var intentCSV = mustRead("../specialist/testdata/intents.csv")

func mustRead(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// specialistModels serves the specialist "intent" as model intent, and a
// specialist that is never trained as model ghost.
const specialistModels = `
models:
  - name: intent
    deployments:
      - provider: specialist
        specialist: intent
  - name: ghost
    deployments:
      - provider: specialist
        specialist: ghost
`

type trainJob struct {
	ID       string  `json:"id"`
	State    string  `json:"state"`
	Progress float64 `json:"progress"`
	Version  int     `json:"version"`
	Error    string  `json:"error"`
	Metrics  *struct {
		Accuracy float64 `json:"accuracy"`
	} `json:"metrics"`
	Promotion *struct {
		Promoted bool `json:"promoted"`
	} `json:"promotion"`
}

// trainSpecialist trains name through the admin API and waits for the job.
func (e *env) trainSpecialist(name string) trainJob {
	e.t.Helper()
	var j trainJob
	if st := e.call("POST", "/api/specialists/"+name+"/train", adminKey, map[string]any{"csv": intentCSV}, &j); st != 202 {
		e.t.Fatalf("train: status %d", st)
	}
	if j.State != "queued" && j.State != "running" {
		e.t.Fatalf("new job state %q", j.State)
	}
	for deadline := time.Now().Add(30 * time.Second); j.State == "queued" || j.State == "running"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			e.t.Fatalf("job still %s", j.State)
		}
		if st := e.call("GET", "/api/specialists/jobs/"+j.ID, adminKey, nil, &j); st != 200 {
			e.t.Fatalf("job: status %d", st)
		}
	}
	if j.State != "succeeded" {
		e.t.Fatalf("job = %+v", j)
	}
	return j
}

type classifyResponse struct {
	Model   string `json:"model"`
	Version int    `json:"version"`
	Data    []struct {
		Index  int `json:"index"`
		Labels []struct {
			Label string  `json:"label"`
			Score float64 `json:"score"`
		} `json:"labels"`
		OutOfScope bool `json:"out_of_scope"`
	} `json:"data"`
	Usage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	} `json:"usage"`
}

func (e *env) classify(body string) classifyResponse {
	e.t.Helper()
	st, _, b := e.post("/v1/classify", adminKey, []byte(body))
	if st != 200 {
		e.t.Fatalf("classify %s: %d %s", body, st, b)
	}
	var r classifyResponse
	if err := json.Unmarshal(b, &r); err != nil {
		e.t.Fatal(err)
	}
	return r
}

func TestSpecialistServeTrainPromote(t *testing.T) {
	e := start(t, specialistModels)
	ctx := context.Background()

	// Before training the model is configured but answers 404.
	st, _, b := e.post("/v1/classify", adminKey, []byte(`{"model":"intent","input":"hi"}`))
	if ae := decodeErr(t, b); st != 404 || ae.Error.Code == nil || *ae.Error.Code != "model_not_found" {
		t.Fatalf("untrained: %d %s", st, b)
	}

	j := e.trainSpecialist("intent")
	if j.Version != 1 || j.Progress != 1 || j.Metrics == nil || j.Metrics.Accuracy <= 0 || j.Promotion == nil || !j.Promotion.Promoted {
		t.Fatalf("job = %+v", j)
	}

	// Single and batch input, top_k.
	r := e.classify(`{"model":"intent","input":"我要退款"}`)
	if r.Model != "intent" || r.Version != 1 || len(r.Data) != 1 || len(r.Data[0].Labels) != 1 || r.Data[0].Labels[0].Label != "refund" ||
		r.Usage.PromptTokens == 0 || r.Usage.CompletionTokens != 0 {
		t.Errorf("single = %+v", r)
	}
	r = e.classify(`{"model":"intent","input":["where is my package","good morning","请给我退款"],"top_k":3}`)
	var got []string
	for i, d := range r.Data {
		if d.Index != i || len(d.Labels) != 3 || d.Labels[0].Score < d.Labels[1].Score {
			t.Errorf("data[%d] = %+v", i, d)
		}
		got = append(got, d.Labels[0].Label)
	}
	if diff := cmp.Diff([]string{"shipping", "greeting", "refund"}, got); diff != "" {
		t.Errorf("batch labels (-want +got):\n%s", diff)
	}

	// Chat through the official SDK: the content is the JSON answer.
	c, err := e.sdk.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    "intent",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("classify"), openai.UserMessage("查一下我的物流")},
	})
	if err != nil {
		t.Fatal(err)
	}
	var ans struct {
		Label      string  `json:"label"`
		Score      float64 `json:"score"`
		OutOfScope bool    `json:"out_of_scope"`
	}
	if err := json.Unmarshal([]byte(c.Choices[0].Message.Content), &ans); err != nil || ans.Label != "shipping" || ans.Score <= 0 {
		t.Errorf("chat content %q: %v", c.Choices[0].Message.Content, err)
	}
	if c.Model != "intent" || c.Choices[0].FinishReason != "stop" || c.Usage.PromptTokens == 0 || c.Usage.CompletionTokens == 0 {
		t.Errorf("chat = %+v", c)
	}

	// Streamed.
	s := e.sdk.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model: "intent", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello there")},
	})
	var acc openai.ChatCompletionAccumulator
	for s.Next() {
		acc.AddChunk(s.Current())
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(acc.Choices[0].Message.Content), &ans); err != nil || ans.Label != "greeting" {
		t.Errorf("streamed content %q: %v", acc.Choices[0].Message.Content, err)
	}
	if acc.Choices[0].FinishReason != "stop" {
		t.Errorf("stream finish_reason %q", acc.Choices[0].FinishReason)
	}

	// A second version; promote and roll back change which one answers.
	if j := e.trainSpecialist("intent"); j.Version != 2 {
		t.Fatalf("second job = %+v", j)
	}
	for _, step := range []struct {
		path string
		body any
		want int
	}{
		{"/api/specialists/intent/promote", map[string]int{"version": 2}, 2},
		{"/api/specialists/intent/rollback", nil, 1},
		{"/api/specialists/intent/promote", map[string]int{"version": 2}, 2},
	} {
		var v struct {
			Promoted int `json:"promoted"`
			Versions []struct {
				Version int `json:"version"`
			} `json:"versions"`
		}
		if st := e.call("POST", step.path, adminKey, step.body, &v); st != 200 || v.Promoted != step.want || len(v.Versions) != 2 {
			t.Fatalf("%s: %d %+v", step.path, st, v)
		}
		if r := e.classify(`{"model":"intent","input":"hi"}`); r.Version != step.want {
			t.Errorf("after %s: version %d answered, want %d", step.path, r.Version, step.want)
		}
	}

	// Listing and showing.
	var l struct {
		Data []struct {
			Name     string `json:"name"`
			Promoted int    `json:"promoted"`
			Versions []any  `json:"versions"`
		} `json:"data"`
	}
	if st := e.call("GET", "/api/specialists", adminKey, nil, &l); st != 200 || len(l.Data) != 1 || l.Data[0].Name != "intent" ||
		l.Data[0].Promoted != 2 || len(l.Data[0].Versions) != 2 {
		t.Errorf("list: %d %+v", st, l)
	}
	if st := e.call("GET", "/api/specialists/ghost", adminKey, nil, nil); st != 404 {
		t.Errorf("show ghost: %d", st)
	}

	// Usage is metered from the answers' usage objects.
	var u usageRows
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		u = usageRows{}
		if st := e.call("GET", "/api/usage?by=model", adminKey, nil, &u); st != 200 {
			t.Fatalf("usage: %d", st)
		}
		if total(u) >= 7 || time.Now().After(deadline) {
			break
		}
	}
	var found bool
	for _, row := range u.Data {
		if row.Model == "intent" {
			found = true
			if row.Requests < 7 || row.PromptTokens == 0 || row.CompletionTokens == 0 {
				t.Errorf("usage row = %+v", row)
			}
		}
	}
	if !found {
		t.Errorf("no usage row for intent: %+v", u)
	}
}

func TestSpecialistErrors(t *testing.T) {
	e := start(t, specialistModels)
	e.trainSpecialist("intent")
	for _, tc := range []struct {
		name, body string
		status     int
		code       string
		param      string
	}{
		{"unknown specialist", `{"model":"ghost","input":"hi"}`, 404, "model_not_found", "model"},
		{"unknown model", `{"model":"nope","input":"hi"}`, 404, "model_not_found", "model"},
		{"input number", `{"model":"intent","input":42}`, 400, "", "input"},
		{"input object", `{"model":"intent","input":{"a":1}}`, 400, "", "input"},
		{"input array of numbers", `{"model":"intent","input":["ok",7]}`, 400, "", "input[1]"},
		{"input missing", `{"model":"intent"}`, 400, "", "input"},
		{"input empty array", `{"model":"intent","input":[]}`, 400, "", "input"},
		{"stream", `{"model":"intent","input":"hi","stream":true}`, 400, "", "stream"},
		{"top_k", `{"model":"intent","input":"hi","top_k":0}`, 400, "", "top_k"},
		{"malformed", `{"model":"intent","input":`, 400, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, _, b := e.post("/v1/classify", adminKey, []byte(tc.body))
			ae := decodeErr(t, b)
			if st != tc.status {
				t.Fatalf("status %d, want %d: %s", st, tc.status, b)
			}
			if code := ae.Error.Code; tc.code != "" && (code == nil || *code != tc.code) {
				t.Errorf("code = %v, want %s: %s", code, tc.code, b)
			}
			if p := ae.Error.Param; tc.param != "" && (p == nil || *p != tc.param) {
				t.Errorf("param = %v, want %s: %s", p, tc.param, b)
			}
			if st == 400 && ae.Error.Type != "invalid_request_error" {
				t.Errorf("type = %q", ae.Error.Type)
			}
		})
	}

	// The admin API.
	for _, tc := range []struct {
		method, path string
		body         any
		key          string
		status       int
	}{
		{"POST", "/api/specialists/intent/train", map[string]any{}, adminKey, 400},
		{"POST", "/api/specialists/intent/train", map[string]any{"csv": "a,b\n", "data": "/x"}, adminKey, 400},
		{"POST", "/api/specialists/intent/train", map[string]any{"csv": "text,label\n\"unterminated\n"}, adminKey, 400},
		{"POST", "/api/specialists/intent/train", map[string]any{"data": "/nonexistent/file.csv"}, adminKey, 400},
		{"POST", "/api/specialists/intent/train", map[string]any{"csv": intentCSV, "extra": 1}, adminKey, 400},
		{"POST", "/api/specialists/bad%20name/train", map[string]any{"csv": intentCSV}, adminKey, 400},
		{"POST", "/api/specialists/intent/promote", map[string]any{"version": 9}, adminKey, 404},
		{"POST", "/api/specialists/intent/promote", map[string]any{"version": 0}, adminKey, 400},
		{"POST", "/api/specialists/intent/rollback", nil, adminKey, 409},
		{"POST", "/api/specialists/ghost/rollback", nil, adminKey, 404},
		{"GET", "/api/specialists/jobs/stj_nope", nil, adminKey, 404},
		{"GET", "/api/specialists", nil, "", 401},
	} {
		st := e.call(tc.method, tc.path, tc.key, tc.body, nil)
		if st != tc.status {
			t.Errorf("%s %s %v: status %d, want %d", tc.method, tc.path, tc.body, st, tc.status)
		}
	}
}

// A training job still running when the server shuts down is canceled and
// the shutdown waits for it.
func TestSpecialistTrainStopsOnShutdown(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Parse("test.yaml", []byte("data_dir: "+dir+"\n"+specialistModels), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(context.Background(), server.Options{Config: cfg, AdminKey: adminKey})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { srv.Serve(ln); close(done) }()
	e := &env{t: t, srv: srv, base: "http://" + ln.Addr().String()}

	var big strings.Builder
	big.WriteString("text,label\n")
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&big, "sample text %d about topic %c and %s,label%d\n", i, 'a'+i%26, strings.Repeat("y", i%40), i%7)
	}
	var j trainJob
	if st := e.call("POST", "/api/specialists/slow/train", adminKey, map[string]any{"csv": big.String()}, &j); st != 202 {
		t.Fatalf("train: %d", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	begin := time.Now()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	<-done
	if _, err := os.Stat(filepath.Join(dir, "specialists", "slow", "v1", "manifest.json")); err == nil {
		t.Errorf("the job stored a version after shutdown began (shutdown took %v)", time.Since(begin))
	}
}
