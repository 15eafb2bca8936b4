package server_test

import (
	"encoding/json"
	"net"
	"strings"
	"testing"

	"switchyard/internal/fakeai"
)

// A model whose deployments cannot serve an operation gets a 400 from
// Switchyard itself; the upstream never sees the call, and the client's
// mistake is not the deployment's "last error".
func TestUnsupportedOperationIs400AndLeavesHealthAlone(t *testing.T) {
	up := upstream(t)
	e := start(t, oneModel("chat", up.URL, ""))
	status, _, b := e.post("/v1/classify", adminKey, []byte(`{"model":"chat","input":"where is my parcel"}`))
	if status != 400 {
		t.Fatalf("classify on an OpenAI deployment: %d %s, want 400", status, b)
	}
	if er := decodeErr(t, b); er.Error.Code == nil || *er.Error.Code != "unsupported_operation" || er.Error.Param == nil || *er.Error.Param != "model" {
		t.Errorf("error %+v, want code unsupported_operation, param model", er.Error)
	}
	if n := up.Requests.Load(); n != 0 {
		t.Errorf("upstream saw %d requests, want 0", n)
	}
	// A request the upstream refuses as invalid (400) is the client's
	// mistake too: the deployment stays healthy with no last error.
	up.SetDefault(fakeai.Behavior{Status: 400})
	if status, _, b := e.post("/v1/chat/completions", adminKey, []byte(`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`)); status != 400 {
		t.Fatalf("upstream 400 became %d: %s", status, b)
	}
	_, d := e.get("/api/deployments", adminKey)
	var deps struct {
		Data []struct {
			ID        string `json:"id"`
			Healthy   bool   `json:"healthy"`
			LastError string `json:"last_error"`
		} `json:"data"`
	}
	if err := json.Unmarshal(d, &deps); err != nil || len(deps.Data) != 1 {
		t.Fatalf("deployments: %v %s", err, d)
	}
	if got := deps.Data[0]; !got.Healthy || got.LastError != "" {
		t.Errorf("after client mistakes the deployment shows %+v, want healthy with no last error", got)
	}
	// An upstream fault is still recorded.
	up.SetDefault(fakeai.Behavior{Status: 500})
	e.post("/v1/chat/completions", adminKey, []byte(`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`))
	_, d = e.get("/api/deployments", adminKey)
	if !strings.Contains(string(d), `"last_error":"upstream status 500`) {
		t.Errorf("an upstream 500 is not the last error: %s", d)
	}
}

// An upstream that cannot be reached is a 502 naming the deployment, with
// a stable code and none of the transport's detail (the upstream's address).
func TestUnreachableUpstreamHidesItsAddress(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	logs := &syncBuf{}
	e := startLogged(t, oneModel("chat", "http://"+addr+"/v1", ""), logs)
	status, h, b := e.post("/v1/chat/completions", adminKey, []byte(`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`))
	if status != 502 {
		t.Fatalf("status %d, want 502: %s", status, b)
	}
	er := decodeErr(t, b)
	if er.Error.Code == nil || *er.Error.Code != "upstream_unreachable" || !strings.Contains(er.Error.Message, "chat-a") {
		t.Errorf("error %s, want code upstream_unreachable naming deployment chat-a", b)
	}
	for _, leak := range []string{addr, "127.0.0.1", "dial", "connection refused", "Post "} {
		if strings.Contains(string(b), leak) {
			t.Errorf("the client's error carries %q: %s", leak, b)
		}
	}
	// The full cause is in the log, with the request id.
	id := h.Get("X-Request-Id")
	found := false
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `"id":"`+id+`"`) && strings.Contains(line, "connection refused") {
			found = true
		}
	}
	if !found {
		t.Errorf("no log line with request id %s and the cause:\n%s", id, logs.String())
	}
}
