package server_test

import (
	"encoding/json"
	"strings"
	"testing"

	"switchyard/internal/fakeai"
)

type logList struct {
	Data []struct {
		RequestID       string   `json:"request_id"`
		ClientRequestID string   `json:"client_request_id"`
		Model           string   `json:"model"`
		Tags            []string `json:"tags"`
		EndUser         string   `json:"end_user"`
		Feedback        *float64 `json:"feedback"`
	} `json:"data"`
}

func TestRequestLogsAndFeedback(t *testing.T) { onBothDatabases(t, testRequestLogsAndFeedback) }

func testRequestLogsAndFeedback(t *testing.T, database string) {
	up := upstream(t)
	e := start(t, database+oneModel("chat", up.URL, priced))
	_, projectID, k := e.tenant("logs", nil, map[string]any{"keep_bodies": true}, nil)
	_, otherProject, other := e.tenant("other", nil, nil, nil)

	st, h, b := e.post("/v1/chat/completions", k.Key,
		[]byte(`{"model":"chat","user":"end-user-7","metadata":{"ticket":"T-1"},"messages":[{"role":"user","content":"Where is my parcel?"}]}`),
		"X-Switchyard-Tags", "support, web", "X-Request-Id", "req-log-1")
	if st != 200 {
		t.Fatalf("chat: %d %s", st, b)
	}
	_ = h
	up.SetDefault(fakeai.Behavior{Pieces: []string{"It is ", "on its way."}})
	if st, _, b := e.post("/v1/chat/completions", k.Key, []byte(`{"model":"chat","stream":true,"messages":[{"role":"user","content":"And the other one?"}]}`),
		"X-Request-Id", "req-log-2"); st != 200 {
		t.Fatalf("stream: %d %s", st, b)
	}
	// The other project keeps nothing.
	e.post("/v1/chat/completions", other.Key, []byte(`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`), "X-Request-Id", "req-other")

	var l logList
	waitFor(t, func() bool {
		l = logList{}
		e.call("GET", "/api/logs?project="+projectID, adminKey, nil, &l)
		return len(l.Data) == 2
	})
	var one struct {
		RequestID string          `json:"request_id"`
		Tags      []string        `json:"tags"`
		EndUser   string          `json:"end_user"`
		Metadata  json.RawMessage `json:"metadata"`
		Request   json.RawMessage `json:"request"`
		Response  json.RawMessage `json:"response"`
	}
	if st := e.call("GET", "/api/logs/req-log-1", adminKey, nil, &one); st != 200 {
		t.Fatalf("get log: %d", st)
	}
	if one.EndUser != "end-user-7" || strings.Join(one.Tags, "|") != "support|web" || !strings.Contains(string(one.Metadata), "T-1") ||
		!strings.Contains(string(one.Request), "Where is my parcel?") || !strings.Contains(string(one.Response), "Hello from fakeai") {
		t.Errorf("log = %+v", one)
	}
	e.call("GET", "/api/logs/req-log-2", adminKey, nil, &one)
	if string(one.Response) != `"It is on its way."` {
		t.Errorf("stream reassembled as %s", one.Response)
	}
	if st := e.call("GET", "/api/logs/req-other", adminKey, nil, nil); st != 404 {
		t.Errorf("a project without keep_bodies has a log: %d", st)
	}
	for q, want := range map[string]int{"tag=support": 1, "q=PARCEL": 1, "q=on+its+way": 1, "model=chat": 2, "user=end-user-7": 1, "tag=nope": 0} {
		l = logList{}
		e.call("GET", "/api/logs?project="+projectID+"&"+q, adminKey, nil, &l)
		if len(l.Data) != want {
			t.Errorf("search %s: %d logs, want %d", q, len(l.Data), want)
		}
	}

	// Feedback: thumbs, then a rating later; the latest wins.
	for _, score := range []any{"down", 5} {
		if st := e.call("POST", "/v1/feedback", k.Key, map[string]any{"request_id": "req-log-1", "score": score, "correction": "It arrives tomorrow.", "tags": []string{"wrong"}}, nil); st != 201 {
			t.Fatalf("feedback %v: %d", score, st)
		}
	}
	l = logList{}
	e.call("GET", "/api/logs?project="+projectID+"&feedback=positive", adminKey, nil, &l)
	if len(l.Data) != 1 || l.Data[0].Feedback == nil || *l.Data[0].Feedback != 1 {
		t.Errorf("positive feedback search: %+v", l.Data)
	}
	for _, c := range []struct {
		key, id string
		score   any
		status  int
	}{
		{other.Key, "req-log-1", "up", 404}, // another project's key
		{k.Key, "req-missing", "up", 404},
		{k.Key, "req-log-2", 9, 400},
		{k.Key, "req-log-2", "meh", 400},
	} {
		if st := e.call("POST", "/v1/feedback", c.key, map[string]any{"request_id": c.id, "score": c.score}, nil); st != c.status {
			t.Errorf("feedback %s %v: %d, want %d", c.id, c.score, st, c.status)
		}
	}
	// Other projects' keys and members never see these logs.
	if st := e.call("GET", "/api/logs?project="+projectID, other.Key, nil, nil); st != 403 {
		t.Errorf("another project's key searching logs: %d", st)
	}
	if st := e.call("GET", "/api/logs/req-log-1", other.Key, nil, nil); st != 404 {
		t.Errorf("another project's key reading a log: %d", st)
	}
	_ = otherProject

	// Erasure of one end user's data, audited without the id.
	var del struct {
		Deleted struct{ Logs, Feedback int64 } `json:"deleted"`
	}
	if st := e.call("DELETE", "/api/projects/"+projectID+"/data?user=end-user-7", adminKey, nil, &del); st != 200 || del.Deleted.Logs != 1 || del.Deleted.Feedback != 2 {
		t.Fatalf("delete end user data: %d %+v", st, del)
	}
	l = logList{}
	e.call("GET", "/api/logs?project="+projectID, adminKey, nil, &l)
	if len(l.Data) != 1 || l.Data[0].ClientRequestID != "req-log-2" || l.Data[0].RequestID == "req-log-2" {
		t.Errorf("after deletion: %+v", l.Data)
	}
	var log struct {
		Data []struct {
			Action string            `json:"action"`
			Detail map[string]string `json:"detail"`
		} `json:"data"`
	}
	e.call("GET", "/api/audit?action=project.data_delete", adminKey, nil, &log)
	if len(log.Data) != 1 || log.Data[0].Detail["logs"] != "1" || strings.Contains(log.Data[0].Detail["scope"], "end-user-7") {
		t.Errorf("audit of the deletion: %+v", log.Data)
	}
}
