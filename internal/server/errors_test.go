package server_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"

	"switchyard/internal/server"
)

// send is one raw request with the admin key; it returns status, headers and body.
func (e *env) send(method, path string, body []byte) (int, http.Header, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.base+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func strOrNil(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// Malformed JSON gets one status, type, code and message on every JSON
// endpoint, whoever serves it.
func TestMalformedJSONOneShape(t *testing.T) {
	up := upstream(t)
	e := start(t, oneModel("chat", up.URL, ""))
	var org created
	if st := e.call("POST", "/api/orgs", adminKey, map[string]any{"name": "acme"}, &org); st != 201 {
		t.Fatalf("create org: %d", st)
	}
	endpoints := []struct {
		method, path string
	}{
		{"POST", "/v1/chat/completions"},
		{"POST", "/v1/completions"},
		{"POST", "/v1/embeddings"},
		{"POST", "/v1/classify"},
		{"POST", "/v1/feedback"},
		{"POST", "/v1/guard/check"},
		{"POST", "/api/orgs"},
		{"PATCH", "/api/orgs/" + org.ID},
		{"POST", "/api/orgs/" + org.ID + "/projects"},
		{"POST", "/api/prices"},
		{"POST", "/api/datasets"},
		{"POST", "/api/specialists/intent/train"},
	}
	bodies := []struct {
		name, body, message string
	}{
		{"truncated", `{"model":"ch`, "We could not parse the JSON body of your request: invalid JSON at byte 12: unterminated string."},
		{"trailing comma", `{"model":"chat",}`, "We could not parse the JSON body of your request: invalid JSON at byte 16: expected string."},
		{"not an object", `[1]`, "The request body must be a JSON object."},
		{"invalid utf8", "{\"model\":\"\xff\"}", "The request body is not valid UTF-8."},
		{"empty", ``, "We could not parse the JSON body of your request: invalid JSON at byte 0: empty body."},
	}
	for _, b := range bodies {
		t.Run(b.name, func(t *testing.T) {
			var first string
			for _, ep := range endpoints {
				st, _, raw := e.send(ep.method, ep.path, []byte(b.body))
				er := decodeErr(t, raw)
				if first == "" {
					first = er.Error.Message
				}
				if st != 400 || er.Error.Type != "invalid_request_error" || er.Error.Param != nil {
					t.Errorf("%s %s: %d type %q param %s, want 400 invalid_request_error null", ep.method, ep.path, st, er.Error.Type, strOrNil(er.Error.Param))
				}
				if er.Error.Message != first {
					t.Errorf("%s %s: message %q, want the same as the others: %q", ep.method, ep.path, er.Error.Message, first)
				}
				if code := strOrNil(er.Error.Code); code != "invalid_json" {
					t.Errorf("%s %s: code %s, want invalid_json", ep.method, ep.path, code)
				}
			}
			if first != b.message {
				t.Errorf("message %q, want %q", first, b.message)
			}
			if strings.Contains(first, "json:") {
				t.Errorf("message has the decoder's text: %q", first)
			}
		})
	}
	if n := up.Requests.Load(); n != 0 {
		t.Errorf("malformed requests reached the upstream %d times", n)
	}
}

// The admin API's decoding errors are our own words and name the field.
func TestAdminAPIFieldErrors(t *testing.T) {
	e := start(t, "")
	var org created
	if st := e.call("POST", "/api/orgs", adminKey, map[string]any{"name": "acme"}, &org); st != 201 {
		t.Fatalf("create org: %d", st)
	}
	var proj created
	if st := e.call("POST", "/api/orgs/"+org.ID+"/projects", adminKey, map[string]any{"name": "web"}, &proj); st != 201 {
		t.Fatalf("create project: %d", st)
	}
	if st, _, b := e.send("POST", "/api/datasets", []byte(`{"name":"taken","project_id":"`+proj.ID+`"}`)); st != 201 {
		t.Fatalf("create dataset: %d %s", st, b)
	}
	cases := []struct {
		name, method, path, body string
		status                   int
		code, param, message     string
	}{
		{"unknown field", "POST", "/api/orgs", `{"name":"x","bogus":1}`, 400, "unknown_parameter", "bogus", "Unknown parameter: 'bogus'."},
		{"unknown field on update", "PATCH", "/api/orgs/" + org.ID, `{"colour":"red"}`, 400, "unknown_parameter", "colour", "Unknown parameter: 'colour'."},
		{"wrong type", "POST", "/api/orgs", `{"name":5}`, 400, "invalid_type", "name", "Invalid type for 'name': expected a string, but got a number."},
		{"wrong type integer", "POST", "/api/projects/" + proj.ID + "/keys", `{"rpm":"fast"}`, 400, "invalid_type", "rpm", "Invalid type for 'rpm': expected an integer, but got a string."},
		{"wrong type array", "POST", "/api/projects/" + proj.ID + "/keys", `{"models":"chat"}`, 400, "invalid_type", "models", "Invalid type for 'models': expected an array, but got a string."},
		{"bad time", "POST", "/api/projects/" + proj.ID + "/keys", `{"expires_at":"tomorrow"}`, 400, "invalid_value", "", `Invalid time "tomorrow": use RFC 3339, like 2006-01-02T15:04:05Z.`},
		{"bad currency", "POST", "/api/orgs", `{"name":"x","currency":"EUR"}`, 400, "invalid_value", "currency", "currency must be USD or CNY."},
		{"bad price currency", "POST", "/api/prices", `{"model":"m","currency":"EUR","input_micros":1}`, 400, "invalid_value", "currency", "currency must be USD or CNY."},
		{"missing name", "POST", "/api/orgs", `{}`, 400, "invalid_value", "name", "name is required."},
		{"negative limit", "PATCH", "/api/projects/" + proj.ID, `{"tpm":-1}`, 400, "invalid_value", "tpm", "tpm must not be negative."},
		{"bad email", "POST", "/api/orgs/" + org.ID + "/users", `{"email":"nope","role":"member"}`, 400, "invalid_value", "email", `email "nope" is not an address.`},
		{"bad policy", "POST", "/api/orgs/" + org.ID + "/projects", `{"name":"p","policy":{"bogus":1}}`, 400, "invalid_value", "policy", "Invalid 'policy': Unknown parameter: 'bogus'."},
		{"bad dataset name", "POST", "/api/datasets", `{"name":"a b","project_id":"` + proj.ID + `"}`, 400, "invalid_value", "name", "Invalid dataset name: use 1-64 letters, digits, . _ -."},
		{"dataset taken", "POST", "/api/datasets", `{"name":"taken","project_id":"` + proj.ID + `"}`, 409, "conflict", "", `dataset "taken" already exists.`},
		{"unknown org", "GET", "/api/orgs/org_nope", ``, 404, "not_found", "", "organisation not found."},
		{"unknown dataset", "GET", "/api/datasets/nope", ``, 404, "not_found", "", "dataset not found."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, _, b := e.send(c.method, c.path, []byte(c.body))
			er := decodeErr(t, b)
			if st != c.status || strOrNil(er.Error.Code) != c.code || er.Error.Message != c.message {
				t.Errorf("%d %s %q, want %d %s %q", st, strOrNil(er.Error.Code), er.Error.Message, c.status, c.code, c.message)
			}
			if want := c.param; (want == "" && er.Error.Param != nil) || (want != "" && strOrNil(er.Error.Param) != want) {
				t.Errorf("param = %s, want %q", strOrNil(er.Error.Param), want)
			}
			if strings.Contains(er.Error.Message, "json:") || strings.Contains(er.Error.Message, "invalid: ") {
				t.Errorf("message has internal text: %q", er.Error.Message)
			}
		})
	}
}

// A store failing under the server is a 500 that says nothing of why,
// except in the log, with the request id in both.
func TestInternalErrorHidden(t *testing.T) {
	var logs bytes.Buffer
	e := startLogged(t, "", &logs)
	if err := server.CloseDB(e.srv); err != nil {
		t.Fatal(err)
	}
	dataDir := e.srv.Config().DataDir
	for _, path := range []string{"/api/usage", "/api/datasets", "/api/logs", "/api/audit", "/api/orgs/org_x/invoices/2026-01"} {
		t.Run(path, func(t *testing.T) {
			st, h, b := e.send("GET", path, nil)
			id := h.Get("X-Request-Id")
			if path == "/api/orgs/org_x/invoices/2026-01" {
				// An unknown org is 404 before the store is asked.
				if st != 404 {
					t.Errorf("%d %s", st, b)
				}
				return
			}
			er := decodeErr(t, b)
			if st != 500 || er.Error.Type != "server_error" || strOrNil(er.Error.Code) != "internal_error" {
				t.Errorf("%d %s %s: %s", st, er.Error.Type, strOrNil(er.Error.Code), b)
			}
			if want := "Internal error (request id " + id + ")."; id == "" || er.Error.Message != want {
				t.Errorf("message %q, want %q", er.Error.Message, want)
			}
			for _, leak := range []string{"sql", "database", "closed", dataDir} {
				if strings.Contains(strings.ToLower(string(b)), strings.ToLower(leak)) {
					t.Errorf("answer shows %q: %s", leak, b)
				}
			}
			if !strings.Contains(logs.String(), `"id":"`+id+`"`) || !strings.Contains(logs.String(), "database is closed") {
				t.Errorf("no log line with the request id and the cause:\n%s", logs.String())
			}
		})
	}
}

// A known path with the wrong method is a 405 naming the allowed methods;
// an unknown path is a 404.
func TestMethodNotAllowed(t *testing.T) {
	e := start(t, "")
	var org created
	if st := e.call("POST", "/api/orgs", adminKey, map[string]any{"name": "acme"}, &org); st != 201 {
		t.Fatalf("create org: %d", st)
	}
	cases := []struct {
		method, path string
		status       int
		allow, code  string
	}{
		{"GET", "/v1/chat/completions", 405, "POST", "method_not_allowed"},
		{"DELETE", "/v1/embeddings", 405, "POST", "method_not_allowed"},
		{"POST", "/v1/models", 405, "GET, HEAD", "method_not_allowed"},
		{"DELETE", "/v1/models/chat", 405, "GET, HEAD", "method_not_allowed"},
		{"PUT", "/api/orgs", 405, "GET, HEAD, POST", "method_not_allowed"},
		{"POST", "/api/orgs/" + org.ID, 405, "GET, HEAD, PATCH, DELETE", "method_not_allowed"},
		{"GET", "/api/specialists/intent/train", 405, "POST", "method_not_allowed"},
		{"GET", "/v1/nope", 404, "", "unknown_url"},
		{"POST", "/v1/chat/completions/extra", 404, "", "unknown_url"},
		{"GET", "/api/nope", 404, "", "unknown_url"},
	}
	for _, c := range cases {
		st, h, b := e.send(c.method, c.path, []byte(`{}`))
		er := decodeErr(t, b)
		if st != c.status || h.Get("Allow") != c.allow || strOrNil(er.Error.Code) != c.code {
			t.Errorf("%s %s: %d Allow %q code %s, want %d %q %s: %s", c.method, c.path, st, h.Get("Allow"), strOrNil(er.Error.Code), c.status, c.allow, c.code, b)
		}
	}
	// The SDK sees the same.
	_, err := e.sdk.Models.Delete(context.Background(), "chat")
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != 405 || ae.Code != "method_not_allowed" {
		t.Errorf("SDK delete model: %v", err)
	}
}
