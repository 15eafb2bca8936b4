package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"switchyard/internal/fakeai"
)

// TestFlywheelEndToEnd: traffic through the gateway → kept logs →
// feedback with a correction → a dataset from the logs → curation →
// annotation by two people → an OpenAI fine-tuning JSONL export.
func TestFlywheelEndToEnd(t *testing.T) {
	up := upstream(t)
	e := start(t, oneModel("chat", up.URL, ""))
	_, projectID, k := e.tenant("fw", nil, map[string]any{"keep_bodies": true}, nil)
	up.SetDefault(fakeai.Behavior{Content: "Your parcel ships in 3 days."})
	questions := []string{
		"Where is my parcel?",
		"Where is my parcel?",  // an exact duplicate
		"Where is my parcel ?", // normalises to the same text
		"How do I get a refund for a broken kettle?",
		"Can I change my delivery address to 5 Main Street? Call me on 13812345678.",
	}
	for i, q := range questions {
		body, _ := json.Marshal(map[string]any{"model": "chat", "messages": []map[string]string{{"role": "user", "content": q}}})
		if st, _, b := e.post("/v1/chat/completions", k.Key, body, "X-Request-Id", fmt.Sprintf("fw-%d", i)); st != 200 {
			t.Fatalf("chat %d: %d %s", i, st, b)
		}
	}
	if st := e.call("POST", "/v1/feedback", k.Key, map[string]any{"request_id": "fw-3", "score": "down",
		"correction": "Open Orders, pick the kettle and choose Refund; the money is back in 5 days."}, nil); st != 201 {
		t.Fatalf("feedback: %d", st)
	}

	var ds struct{ ID string }
	if st := e.call("POST", "/api/datasets", adminKey, map[string]any{"name": "support", "project_id": projectID}, &ds); st != 201 {
		t.Fatalf("create dataset: %d", st)
	}
	var fromLogs struct {
		Rows, Corrected int
		Version         struct{ ID string }
	}
	if st := e.call("POST", "/api/datasets/support/from-logs", adminKey, map[string]any{}, &fromLogs); st != 201 || fromLogs.Rows != 5 || fromLogs.Corrected != 1 {
		t.Fatalf("from logs: %d %+v", st, fromLogs)
	}
	var cur struct {
		Version struct {
			ID       string `json:"id"`
			RowCount int    `json:"row_count"`
		} `json:"version"`
		Report json.RawMessage `json:"report"`
	}
	if st := e.call("POST", "/api/datasets/support/versions/latest/curate", adminKey, map[string]any{"exact": true, "near_dup": 0.8, "scrub_pii": true}, &cur); st != 201 {
		t.Fatalf("curate: %d", st)
	}
	if cur.Version.RowCount != 3 {
		t.Errorf("after curation %d rows, want 3 (two duplicates removed); report %s", cur.Version.RowCount, cur.Report)
	}
	// Two annotators judge every row; they disagree on one.
	var queue struct {
		Data []struct{ Row int } `json:"data"`
	}
	e.call("GET", "/api/datasets/support/versions/latest/queue?annotator=ann", adminKey, nil, &queue)
	if len(queue.Data) != 3 {
		t.Fatalf("queue = %+v", queue)
	}
	for _, who := range []string{"ann", "bob"} {
		for _, it := range queue.Data {
			kind := "accept"
			if who == "bob" && it.Row == 2 {
				kind = "reject"
			}
			if st := e.call("POST", "/api/datasets/support/versions/latest/annotations", adminKey, map[string]any{"row": it.Row, "annotator": who, "kind": kind}, nil); st != 201 {
				t.Fatalf("annotate: %d", st)
			}
		}
	}
	var agr struct {
		Method string  `json:"method"`
		Items  int     `json:"items"`
		Kappa  float64 `json:"kappa"`
	}
	e.call("GET", "/api/datasets/support/versions/latest/agreement", adminKey, nil, &agr)
	if agr.Method != "cohen" || agr.Items != 3 {
		t.Errorf("agreement = %+v", agr)
	}
	if st := e.call("POST", "/api/datasets/support/versions/latest/apply", adminKey, nil, nil); st != 201 {
		t.Fatalf("apply: %d", st)
	}
	req, _ := http.NewRequest("GET", e.base+"/api/datasets/support/versions/latest/export?format=openai-chat", nil)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("export: %v %v", resp, err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	lines := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var ex struct {
			Messages []struct{ Role, Content string } `json:"messages"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ex); err != nil || len(ex.Messages) < 2 || ex.Messages[len(ex.Messages)-1].Role != "assistant" {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		lines++
	}
	if lines == 0 || !strings.Contains(string(out), "choose Refund") || strings.Contains(string(out), "13812345678") {
		t.Errorf("export (%d lines):\n%s", lines, out)
	}
	// Another project's key sees none of it.
	_, _, other := e.tenant("other", nil, nil, nil)
	if st := e.call("GET", "/api/datasets/support", other.Key, nil, nil); st != 404 {
		t.Errorf("another project's key reading the dataset: %d", st)
	}
}
