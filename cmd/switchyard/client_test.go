package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"switchyard/internal/db"
	"switchyard/internal/fakeai"
)

const testAdminKey = "sy-cli-test-admin-key-0123456789"

// cli runs a client command against addr and returns its output.
func cli(t *testing.T, addr string, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	args = append(args, "--server", "http://"+addr, "--key", testAdminKey)
	code := run(context.Background(), args, &out, &out)
	return code, out.String()
}

func TestClientCommands(t *testing.T) {
	t.Setenv("SWITCHYARD_ADMIN_KEY", testAdminKey)
	up, err := fakeai.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	cfg := filepath.Join(t.TempDir(), "sy.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`models:
  - name: chat
    deployments:
      - provider: openai
        base_url: %s
        price: {input: 1, output: 2}
`, up.URL)), 0o600)
	addr := freeAddr(t)
	stop := serve(t, addr, "--data-dir", t.TempDir(), "--config", cfg)
	defer stop()

	var org, proj, key struct{ ID, Key string }
	code, out := cli(t, addr, "orgs", "create", "acme", "--currency", "CNY", "--json")
	if code != 0 || json.Unmarshal([]byte(out), &org) != nil || org.ID == "" {
		t.Fatalf("orgs create: %d %s", code, out)
	}
	code, out = cli(t, addr, "projects", "create", org.ID, "web", "--rpm", "100", "--json")
	if code != 0 || json.Unmarshal([]byte(out), &proj) != nil {
		t.Fatalf("projects create: %d %s", code, out)
	}
	// The table form prints the secret once, with a warning.
	code, out = cli(t, addr, "keys", "create", proj.ID, "--name", "ci", "--models", "chat", "--tpm", "5000")
	if code != 0 || !strings.Contains(out, "shown only this once") {
		t.Fatalf("keys create: %d %s", code, out)
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "key" {
			key.Key = f[1]
		}
		if len(f) == 2 && f[0] == "id" {
			key.ID = f[1]
		}
	}
	if !strings.HasPrefix(key.Key, "sy-") || key.ID == "" {
		t.Fatalf("no key in:\n%s", out)
	}
	code, out = cli(t, addr, "keys", "list", proj.ID)
	if code != 0 || !strings.Contains(out, key.ID) || strings.Contains(out, key.Key) || !strings.Contains(out, "PREFIX") {
		t.Fatalf("keys list: %d %s", code, out)
	}
	req, _ := http.NewRequest("POST", "http://"+addr+"/v1/chat/completions",
		strings.NewReader(`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer "+key.Key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("chat with the new key: %v %v", resp, err)
	}
	resp.Body.Close()
	code, out = cli(t, addr, "usage", "--by", "model,key", "--org", org.ID)
	if code != 0 || !strings.Contains(out, key.ID) || !strings.Contains(out, "chat") {
		t.Fatalf("usage: %d %s", code, out)
	}
	code, out = cli(t, addr, "keys", "revoke", key.ID)
	if code != 0 {
		t.Fatalf("keys revoke: %d %s", code, out)
	}
	code, out = cli(t, addr, "orgs", "get", "org_missing")
	if code != 1 || !strings.Contains(out, "not found") {
		t.Errorf("orgs get missing: %d %s", code, out)
	}
	code, out = cli(t, addr, "projects", "create", org.ID)
	if code != 2 || !strings.Contains(out, "want ORG NAME") {
		t.Errorf("projects create without a name: %d %s", code, out)
	}
	var help bytes.Buffer
	if c := run(context.Background(), []string{"keys", "create", "--help"}, &help, &help); c != 0 || !strings.Contains(help.String(), "-models") || strings.Contains(help.String(), testAdminKey) {
		t.Errorf("keys create --help: %d %s", c, help.String())
	}
}

// TestMain lets a test re-run this binary as `switchyard serve` in a child
// process, so it can be killed with SIGKILL.
func TestMain(m *testing.M) {
	if args := os.Getenv("SWITCHYARD_TEST_CHILD"); args != "" {
		os.Exit(run(context.Background(), strings.Split(args, " "), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func startChild(t *testing.T, args string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SWITCHYARD_TEST_CHILD="+args, "SWITCHYARD_ADMIN_KEY="+testAdminKey)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func waitReady(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("child server did not become ready")
}

// TestUsageSurvivesSIGKILL sends load, kills the server with SIGKILL while
// requests are in flight, restarts it, and finds a usage record for every
// request that returned 200.
func TestUsageSurvivesSIGKILL(t *testing.T) {
	up, err := fakeai.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sy.yaml")
	os.WriteFile(cfg, []byte("models:\n  - name: chat\n    deployments:\n      - provider: openai\n        base_url: "+up.URL+"\n"), 0o600)
	addr := freeAddr(t)
	args := "serve --addr " + addr + " --data-dir " + filepath.Join(dir, "data") + " --config " + cfg
	child := startChild(t, args)
	waitReady(t, addr)
	// A project that keeps request logs: its logs must survive too.
	var org, proj, key struct{ ID, Key string }
	for _, step := range []func() ([]string, any){
		func() ([]string, any) { return []string{"orgs", "create", "k9"}, &org },
		func() ([]string, any) { return []string{"projects", "create", org.ID, "logged"}, &proj },
		func() ([]string, any) { return []string{"keys", "create", proj.ID}, &key },
	} {
		args, out := step()
		code, text := cli(t, addr, append(args, "--json")...)
		if code != 0 || json.Unmarshal([]byte(text), out) != nil {
			t.Fatalf("%v: %d %s", args, code, text)
		}
	}
	req, _ := http.NewRequest("PATCH", "http://"+addr+"/api/projects/"+proj.ID, strings.NewReader(`{"keep_bodies":true}`))
	req.Header.Set("Authorization", "Bearer "+testAdminKey)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("keep_bodies: %v %v", resp, err)
	}
	// A dataset imported through the API must survive too.
	api := func(method, path, body string) int {
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testAdminKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := api("POST", "/api/datasets", `{"name":"kept","project_id":"`+proj.ID+`"}`); st != 201 {
		t.Fatalf("create dataset: %d", st)
	}
	if st := api("POST", "/api/datasets/kept/import?format=text-label-csv", "text,label\nwhere is my parcel,shipping\nrefund please,refund\n"); st != 201 {
		t.Fatalf("import: %d", st)
	}

	var mu sync.Mutex
	ok := map[string]bool{}
	var stop atomic.Bool
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 30 * time.Second}
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				id := fmt.Sprintf("kill-%d-%d", w, i)
				req, _ := http.NewRequest("POST", "http://"+addr+"/v1/chat/completions",
					strings.NewReader(`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`))
				req.Header.Set("Authorization", "Bearer "+key.Key)
				req.Header.Set("X-Request-Id", id)
				resp, err := client.Do(req)
				if err != nil {
					return
				}
				_, err = bufio.NewReader(resp.Body).Discard(1 << 20)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					mu.Lock()
					ok[id] = true
					mu.Unlock()
				}
			}
		}(w)
	}
	// Kill once a good number of requests have succeeded (a slow machine or
	// the race detector may need a while), with more in flight.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		n := len(ok)
		mu.Unlock()
		if n >= 150 {
			break
		}
	}
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	stop.Store(true)
	wg.Wait()
	if len(ok) < 20 {
		t.Fatalf("only %d requests succeeded before the kill", len(ok))
	}

	child = startChild(t, args)
	defer func() {
		child.Process.Signal(syscall.SIGTERM)
		child.Wait()
	}()
	waitReady(t, addr)
	code, out := cli(t, addr, "usage", "--json")
	if code != 0 {
		t.Fatalf("usage: %d %s", code, out)
	}
	var u struct{ Data []struct{ Requests int64 } }
	json.Unmarshal([]byte(out), &u)
	var n int64
	for _, r := range u.Data {
		n += r.Requests
	}
	if n < int64(len(ok)) {
		t.Fatalf("after SIGKILL and restart the ledger holds %d records; %d requests returned 200", n, len(ok))
	}
	req, _ = http.NewRequest("GET", "http://"+addr+"/api/logs?limit=1000&project="+proj.ID, nil)
	req.Header.Set("Authorization", "Bearer "+testAdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var logs struct {
		Data []struct {
			ClientRequestID string `json:"client_request_id"`
		}
	}
	json.NewDecoder(resp.Body).Decode(&logs)
	resp.Body.Close()
	kept := map[string]bool{}
	for _, l := range logs.Data {
		kept[l.ClientRequestID] = true
	}
	for id := range ok {
		if !kept[id] && len(logs.Data) < 1000 {
			t.Fatalf("request %s returned 200 but its log is gone after SIGKILL", id)
		}
	}
	req, _ = http.NewRequest("GET", "http://"+addr+"/api/datasets/kept", nil)
	req.Header.Set("Authorization", "Bearer "+testAdminKey)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var ds struct {
		Versions []struct {
			RowCount int `json:"row_count"`
		} `json:"versions"`
	}
	json.NewDecoder(resp.Body).Decode(&ds)
	resp.Body.Close()
	if len(ds.Versions) != 1 || ds.Versions[0].RowCount != 2 {
		t.Errorf("the dataset after SIGKILL and restart: %+v", ds)
	}
	t.Logf("%d requests returned 200 before SIGKILL; %d usage records and %d logs after restart", len(ok), n, len(logs.Data))
}

// TestSharedRequestIDMeteredAfterSIGKILL: calls that share a client's
// x-request-id are each recorded and charged, and still so after the
// server is killed with SIGKILL and replays its journal.
func TestSharedRequestIDMeteredAfterSIGKILL(t *testing.T) {
	up, err := fakeai.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sy.yaml")
	os.WriteFile(cfg, []byte("models:\n  - name: chat\n    deployments:\n      - provider: openai\n        base_url: "+up.URL+"\n        price: {input: 2, output: 10, currency: USD}\n"), 0o600)
	addr := freeAddr(t)
	args := "serve --addr " + addr + " --data-dir " + filepath.Join(dir, "data") + " --config " + cfg
	child := startChild(t, args)
	waitReady(t, addr)
	api := func(method, path, key, body string, out any) int {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("X-Request-Id", "freebie-1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		if out != nil {
			json.NewDecoder(resp.Body).Decode(out)
		}
		return resp.StatusCode
	}
	var org, proj, key struct{ ID, Key string }
	if api("POST", "/api/orgs", testAdminKey, `{"name":"pp","prepaid":true}`, &org) != 201 ||
		api("POST", "/api/orgs/"+org.ID+"/projects", testAdminKey, `{"name":"p"}`, &proj) != 201 ||
		api("POST", "/api/projects/"+proj.ID+"/keys", testAdminKey, `{}`, &key) != 201 ||
		api("POST", "/api/orgs/"+org.ID+"/topups", testAdminKey, `{"amount_micros":10000}`, nil) != 201 {
		t.Fatal("setting up a prepaid tenant failed")
	}
	// Each call costs 12×2+5×10 = 74 micro-USD.
	const n = 20
	for i := 0; i < n; i++ {
		if st := api("POST", "/v1/chat/completions", key.Key, `{"model":"chat","messages":[{"role":"user","content":"hi"}],"max_tokens":5}`, nil); st != 200 {
			t.Fatalf("call %d: %d", i, st)
		}
	}
	// Killed before the writer's next batch: the records are in the journal.
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	child = startChild(t, args)
	defer func() {
		child.Process.Signal(syscall.SIGTERM)
		child.Wait()
	}()
	waitReady(t, addr)
	var u struct {
		Data []struct {
			Requests   int64 `json:"requests"`
			CostMicros int64 `json:"cost_micros"`
		} `json:"data"`
	}
	var bal struct {
		Spent int64 `json:"spent_micros"`
	}
	api("GET", "/api/usage?org="+org.ID, testAdminKey, "", &u)
	api("GET", "/api/orgs/"+org.ID+"/balance", testAdminKey, "", &bal)
	if len(u.Data) != 1 || u.Data[0].Requests != n || u.Data[0].CostMicros != n*74 || bal.Spent != n*74 {
		t.Errorf("after SIGKILL and replay: usage %+v, spent %d; want %d requests and %d spent", u.Data, bal.Spent, n, n*74)
	}
}

func TestAuditVerifyCommand(t *testing.T) {
	t.Setenv("SWITCHYARD_ADMIN_KEY", testAdminKey)
	dir := t.TempDir()
	addr := freeAddr(t)
	stop := serve(t, addr, "--data-dir", dir)
	for _, name := range []string{"a", "b", "c"} {
		if code, out := cli(t, addr, "orgs", "create", name); code != 0 {
			t.Fatalf("orgs create: %d %s", code, out)
		}
	}
	if code, out := stop(); code != 0 {
		t.Fatalf("serve: %d %s", code, out)
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"audit", "verify", "--data-dir", dir}, &out, &out); code != 0 || !strings.Contains(out.String(), "3 entries") {
		t.Fatalf("verify on an intact log: %d %s", code, out.String())
	}
	d, err := db.Open(context.Background(), "", dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(`UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	d.Close()
	out.Reset()
	if code := run(context.Background(), []string{"audit", "verify", "--data-dir", dir}, &out, &out); code != 1 || !strings.Contains(out.String(), "entry 2") {
		t.Errorf("verify after an edit: %d %s", code, out.String())
	}
}

func TestDatasetFromLogsCommand(t *testing.T) {
	t.Setenv("SWITCHYARD_ADMIN_KEY", testAdminKey)
	up, err := fakeai.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sy.yaml")
	os.WriteFile(cfg, []byte("models:\n  - name: chat\n    deployments:\n      - provider: openai\n        base_url: "+up.URL+"\n"), 0o600)
	addr := freeAddr(t)
	data := filepath.Join(dir, "data")
	stop := serve(t, addr, "--data-dir", data, "--config", cfg)
	var org, proj, key struct{ ID, Key string }
	for _, step := range []func() ([]string, any){
		func() ([]string, any) { return []string{"orgs", "create", "fl"}, &org },
		func() ([]string, any) { return []string{"projects", "create", org.ID, "kept"}, &proj },
		func() ([]string, any) { return []string{"keys", "create", proj.ID}, &key },
	} {
		args, out := step()
		code, text := cli(t, addr, append(args, "--json")...)
		if code != 0 || json.Unmarshal([]byte(text), out) != nil {
			t.Fatalf("%v: %d %s", args, code, text)
		}
	}
	req, _ := http.NewRequest("PATCH", "http://"+addr+"/api/projects/"+proj.ID, strings.NewReader(`{"keep_bodies":true}`))
	req.Header.Set("Authorization", "Bearer "+testAdminKey)
	http.DefaultClient.Do(req)
	for i, q := range []string{"first question", "second question"} {
		req, _ := http.NewRequest("POST", "http://"+addr+"/v1/chat/completions",
			strings.NewReader(`{"model":"chat","messages":[{"role":"user","content":"`+q+`"}]}`))
		req.Header.Set("Authorization", "Bearer "+key.Key)
		req.Header.Set("X-Request-Id", fmt.Sprintf("dfl-%d", i))
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("chat: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	req, _ = http.NewRequest("POST", "http://"+addr+"/v1/feedback", strings.NewReader(`{"request_id":"dfl-1","score":1,"correction":"A better answer."}`))
	req.Header.Set("Authorization", "Bearer "+key.Key)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 201 {
		t.Fatalf("feedback: %v %v", resp, err)
	}
	if code, out := stop(); code != 0 {
		t.Fatalf("serve: %d %s", code, out)
	}
	var out bytes.Buffer
	for _, args := range [][]string{
		{"dataset", "create", "kept", "--project", proj.ID, "--data-dir", data},
		{"dataset", "from-logs", "kept", "--data-dir", data},
		{"dataset", "export", "kept", "--format", "openai-chat", "--data-dir", data},
	} {
		out.Reset()
		if code := run(context.Background(), args, &out, &out); code != 0 {
			t.Fatalf("%v: %d %s", args, code, out.String())
		}
	}
	if !strings.Contains(out.String(), "first question") || !strings.Contains(out.String(), "A better answer.") {
		t.Errorf("export:\n%s", out.String())
	}
}
