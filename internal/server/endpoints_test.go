package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"switchyard/internal/fakeai"
)

// models is one priced model per name, all on the fake upstream u.
func models(u string, extra map[string]string, names ...string) string {
	var b strings.Builder
	b.WriteString("models:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  - name: %s\n    max_retries: 2\n%s    deployments:\n      - id: %s-a\n        provider: openai\n        base_url: %s\n        model: upstream-%s\n        price: {input: 2, output: 10, currency: USD}\n",
			n, extra[n], n, u, n)
	}
	return b.String()
}

// uploadsLeft is uploads once the spool is gone, or after 5 s: the call
// removes its spooled upload when it ends, just after the client has the
// answer.
func uploadsLeft(t *testing.T, dir string) []string {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if left := uploads(t, dir); len(left) == 0 || time.Now().After(deadline) {
			return left
		}
	}
}

// usageOf waits (up to 5 s) for model's metered tokens in org to be want
// and returns the last seen: a streamed answer reaches the client before
// the call is metered, so a test that reads usage at once would race.
func (e *env) usageOf(org, model string, want [2]int64) [2]int64 {
	e.t.Helper()
	var u [2]int64
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if u = e.usageByModel(org)[model]; u == want || time.Now().After(deadline) {
			return u
		}
	}
}

// usageByModel is the org's metered tokens per model.
func (e *env) usageByModel(org string) map[string][2]int64 {
	e.t.Helper()
	var u usageRows
	if st := e.call("GET", "/api/usage?by=model&org="+org, adminKey, nil, &u); st != 200 {
		e.t.Fatalf("usage: %d", st)
	}
	out := map[string][2]int64{}
	for _, r := range u.Data {
		v := out[r.Model]
		out[r.Model] = [2]int64{v[0] + r.PromptTokens, v[1] + r.CompletionTokens}
	}
	return out
}

func TestRerankImagesModerationsMetered(t *testing.T) {
	up := upstream(t)
	e := start(t, models(up.URL, nil, "rr", "img", "mod"))
	org, _, k := e.tenant("jsonops", nil, nil, nil)

	// Rerank, Jina/vLLM shape, raw HTTP (the SDK has no rerank).
	st, h, b := e.post("/v1/rerank", k.Key, []byte(`{"model":"rr","query":"where is my parcel","documents":["parcel tracking",{"text":"refund policy"}],"top_n":1}`))
	if st != 200 || h.Get("X-Switchyard-Deployment") != "rr-a" {
		t.Fatalf("rerank: %d %s", st, b)
	}
	var rr struct {
		Model   string `json:"model"`
		Results []struct {
			Index int     `json:"index"`
			Score float64 `json:"relevance_score"`
		} `json:"results"`
	}
	if json.Unmarshal(b, &rr) != nil || rr.Model != "rr" || len(rr.Results) != 2 {
		t.Errorf("rerank answer = %s, want the public model and 2 results", b)
	}
	if last := up.Bodies()[len(up.Bodies())-1]; !bytes.Contains(last, []byte(`"model":"upstream-rr"`)) || !bytes.Contains(last, []byte(`"top_n":1`)) {
		t.Errorf("upstream got %s", last)
	}

	// Images and moderations with the SDK, on the tenant's key.
	sdk := openai.NewClient(sdkOpts(e, k.Key)...)
	img, err := sdk.Images.Generate(context.Background(), openai.ImageGenerateParams{Model: "img", Prompt: "a red bicycle"})
	if err != nil {
		t.Fatal(err)
	}
	if len(img.Data) != 1 || img.Data[0].B64JSON != "aGVsbG8=" || img.Usage.OutputTokens != 1056 {
		t.Errorf("image answer = %+v", img)
	}
	mod, err := sdk.Moderations.New(context.Background(), openai.ModerationNewParams{Model: "mod",
		Input: openai.ModerationNewParamsInputUnion{OfString: openai.String("I want to hug you")}})
	if err != nil {
		t.Fatal(err)
	}
	if mod.Model != "mod" || len(mod.Results) != 1 || mod.Results[0].Flagged {
		t.Errorf("moderation answer = %+v", mod)
	}

	u := e.usageByModel(org)
	// rerank: usage.total_tokens alone is the prompt (3 + 2 per document);
	// images: input/output tokens; moderation reports none: the meter
	// counts the input itself.
	if u["rr"] != [2]int64{7, 0} || u["img"] != [2]int64{20, 1056} || u["mod"][0] < 3 || u["mod"][1] != 0 {
		t.Errorf("metered = %v, want rr 7/0, img 20/1056, mod >0/0", u)
	}
}

// sdkOpts are an SDK client's options for e with key.
func sdkOpts(e *env, key string) []option.RequestOption {
	return []option.RequestOption{option.WithBaseURL(e.base + "/v1"), option.WithAPIKey(key), option.WithMaxRetries(0)}
}

func TestNewEndpointsRefuseBadBodies(t *testing.T) {
	up := upstream(t)
	e := start(t, models(up.URL, nil, "rr", "img", "mod", "tts", "stt"))
	for _, c := range []struct {
		path, body, param, msg string
		status                 int
	}{
		{"/v1/rerank", `{"model":"rr","documents":["a"]}`, "query", "Missing required parameter: 'query'", 400},
		{"/v1/rerank", `{"model":"rr","query":7,"documents":["a"]}`, "query", "expected a string", 400},
		{"/v1/rerank", `{"model":"rr","query":"q"}`, "documents", "Missing required parameter: 'documents'", 400},
		{"/v1/rerank", `{"model":"rr","query":"q","documents":"a"}`, "documents", "expected an array", 400},
		{"/v1/rerank", `{"model":"rr","query":"q","documents":[]}`, "documents", "empty array", 400},
		{"/v1/rerank", `{"model":"rr","query":"q","documents":["a",5]}`, "documents[1]", "expected a string or an object", 400},
		{"/v1/rerank", `{"model":"rr","query":"q","documents":[{"title":"x"}]}`, "documents[0].text", "Missing required parameter", 400},
		{"/v1/rerank", `{"model":"rr","query":"q","documents":["a"],"top_n":"2"}`, "top_n", "expected an integer", 400},
		{"/v1/rerank", `{"model":"rr","query":"q","documents":["a"],"stream":true}`, "stream", "cannot be streamed", 400},
		{"/v1/rerank", `{"query":"q","documents":["a"]}`, "model", "you must provide a model parameter", 400},
		{"/v1/rerank", `{"model":"nope","query":"q","documents":["a"]}`, "model", "does not exist", 404},
		{"/v1/images/generations", `{"model":"img"}`, "prompt", "Missing required parameter: 'prompt'", 400},
		{"/v1/images/generations", `{"model":"img","prompt":["x"]}`, "prompt", "expected a string", 400},
		{"/v1/images/generations", `{"model":"img","prompt":""}`, "prompt", "empty string", 400},
		{"/v1/images/generations", `{"model":"nope","prompt":"x"}`, "model", "does not exist", 404},
		{"/v1/moderations", `{"input":"x"}`, "model", "routes moderations by model", 400},
		{"/v1/moderations", `{"model":"mod"}`, "input", "Missing required parameter: 'input'", 400},
		{"/v1/moderations", `{"model":"mod","input":5}`, "input", "expected a string or an array", 400},
		{"/v1/moderations", `{"model":"mod","input":["ok",true]}`, "input[1]", "expected a string or an object", 400},
		{"/v1/audio/speech", `{"model":"tts","voice":"alloy"}`, "input", "Missing required parameter: 'input'", 400},
		{"/v1/audio/speech", `{"model":"tts","input":3}`, "input", "expected a string", 400},
		{"/v1/audio/speech", `{"input":"hi"}`, "model", "you must provide a model parameter", 400},
		{"/v1/audio/speech", `{"model":"nope","input":"hi"}`, "model", "does not exist", 404},
		{"/v1/audio/speech", `{"model":"tts","input":"hi"`, "", "could not parse the JSON body", 400},
	} {
		st, _, b := e.post(c.path, adminKey, []byte(c.body))
		er := decodeErr(t, b)
		p := ""
		if er.Error.Param != nil {
			p = *er.Error.Param
		}
		if st != c.status || p != c.param || !strings.Contains(er.Error.Message, c.msg) {
			t.Errorf("%s %s: %d param %q %q; want %d param %q with %q", c.path, c.body, st, p, er.Error.Message, c.status, c.param, c.msg)
		}
	}
	// Uploads: a missing file or model part, an unknown model, not multipart.
	for _, c := range []struct {
		parts        []part
		param, msg   string
		status       int
		notMultipart bool
	}{
		{parts: []part{{"model", "", "stt"}}, param: "file", msg: "Missing required parameter: 'file'", status: 400},
		{parts: []part{{"file", "a.wav", "RIFF"}}, param: "model", msg: "you must provide a model parameter", status: 400},
		{parts: []part{{"file", "a.wav", "RIFF"}, {"model", "", "nope"}}, param: "model", msg: "does not exist", status: 404},
		{parts: []part{{"model", "", "stt"}, {"model", "", "stt"}}, param: "model", msg: "more than once", status: 400},
		{notMultipart: true, msg: "must be multipart/form-data", status: 400},
	} {
		var st int
		var b []byte
		if c.notMultipart {
			st, _, b = e.post("/v1/audio/transcriptions", adminKey, []byte(`{"model":"stt"}`))
		} else {
			body, ct := multipartBody(t, c.parts)
			st, _, b = e.post("/v1/audio/transcriptions", adminKey, body, "Content-Type", ct)
		}
		er := decodeErr(t, b)
		p := ""
		if er.Error.Param != nil {
			p = *er.Error.Param
		}
		if st != c.status || p != c.param || !strings.Contains(er.Error.Message, c.msg) {
			t.Errorf("upload %+v: %d param %q %q; want %d %q with %q", c.parts, st, p, er.Error.Message, c.status, c.param, c.msg)
		}
	}
	if n := up.Requests.Load(); n != 0 {
		t.Errorf("%d requests reached the upstream; want none", n)
	}
}

type part struct{ name, filename, value string }

// multipartBody writes parts in order, as a client would.
func multipartBody(t *testing.T, parts []part) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		if p.filename != "" {
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, p.name, p.filename))
			h.Set("Content-Type", "audio/wav")
		} else {
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q`, p.name))
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, p.value)
	}
	mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}

// TestSpeechRelayedAsItArrives: the upstream holds its last chunk until
// the client has read the first, which only a relay that streams passes.
func TestSpeechRelayedAsItArrives(t *testing.T) {
	up := upstream(t)
	e := start(t, models(up.URL, nil, "tts"))
	org, _, k := e.tenant("speech", nil, nil, nil)
	release := make(chan struct{})
	released := false
	t.Cleanup(func() {
		if !released {
			close(release)
		}
	})
	up.Script(fakeai.Behavior{Release: release})
	sdk := openai.NewClient(sdkOpts(e, k.Key)...)
	resp, err := sdk.Audio.Speech.New(context.Background(), openai.AudioSpeechNewParams{Model: "tts",
		Input: "Hello there, this is a test of speech.", Voice: openai.AudioSpeechNewParamsVoiceUnion{OfString: openai.String("alloy")}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "audio/mpeg" || resp.Header.Get("X-Switchyard-Deployment") != "tts-a" {
		t.Errorf("content-type %q, deployment %q", ct, resp.Header.Get("X-Switchyard-Deployment"))
	}
	first := make([]byte, 4<<10)
	got := make(chan error, 1)
	go func() { _, err := io.ReadFull(resp.Body, first); got <- err }()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first chunk did not arrive while the upstream held the last: the answer is buffered")
	}
	close(release)
	released = true
	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append(fakeai.SpeechChunk(0), fakeai.SpeechChunk(1)...), fakeai.SpeechChunk(2)...)
	if all := append(first, rest...); !bytes.Equal(all, want) {
		t.Errorf("audio: %d bytes, want the upstream's %d", len(all), len(want))
	}
	if last := up.Bodies()[0]; !bytes.Contains(last, []byte(`"model":"upstream-tts"`)) || !bytes.Contains(last, []byte(`"voice":"alloy"`)) {
		t.Errorf("upstream got %s", last)
	}
	// The input text is the prompt; audio bytes are no tokens.
	waitFor(t, func() bool { return e.usageByModel(org)["tts"][0] > 5 })
	if u := e.usageByModel(org)["tts"]; u[1] != 0 {
		t.Errorf("speech metered %v, want prompt tokens only", u)
	}
}

// uploads lists the spooled files left in dir.
func uploads(t *testing.T, dir string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "switchyard-upload-*"))
	return m
}

func TestTranscriptionUploadSpooledAndRetried(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	up := upstream(t)
	e := start(t, models(up.URL, nil, "stt"))
	org, _, k := e.tenant("stt", nil, nil, nil)
	audio := make([]byte, 3<<20+123)
	rand.Read(audio)
	sum := sha256.Sum256(audio)

	// The first attempt fails: the retry sends the spooled upload again.
	up.Script(fakeai.Behavior{Status: 503})
	sdk := openai.NewClient(sdkOpts(e, k.Key)...)
	tr, err := sdk.Audio.Transcriptions.New(context.Background(), openai.AudioTranscriptionNewParams{
		Model: "stt", File: openai.File(bytes.NewReader(audio), "speech.mp3", "audio/mpeg")})
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%d bytes for upstream-stt", len(audio)); tr.Text != want {
		t.Errorf("text = %q, want %q", tr.Text, want)
	}
	bodies := up.Bodies()
	if len(bodies) != 2 {
		t.Fatalf("upstream saw %d uploads, want 2 (one retry)", len(bodies))
	}
	for i, b := range bodies {
		var u fakeai.Upload
		json.Unmarshal(b, &u)
		if u.SHA256 != hex.EncodeToString(sum[:]) || u.Model != "upstream-stt" || u.Filename != "speech.mp3" || u.Parts[0] != "file" {
			t.Errorf("attempt %d: upstream got %s", i, b)
		}
		if u.Length <= int64(len(audio)) {
			t.Errorf("attempt %d: content length %d: the re-sent body should declare its length", i, u.Length)
		}
	}
	if left := uploadsLeft(t, tmp); len(left) != 0 {
		t.Errorf("spooled files left after the call: %v", left)
	}
	in := int64(len(audio) / 1024)
	if u := e.usageOf(org, "stt", [2]int64{in, 5}); u != [2]int64{in, 5} {
		t.Errorf("metered %v, want the upstream's %d/5", u, in)
	}

	// Raw multipart, the file before the model (as the Node SDK sends it),
	// to /v1/audio/translations.
	body, ct := multipartBody(t, []part{{"file", "a.wav", "RIFFdata"}, {"prompt", "", "hello"}, {"model", "", "stt"}})
	st, _, b := e.post("/v1/audio/translations", k.Key, body, "Content-Type", ct)
	if st != 200 || !strings.Contains(string(b), "8 bytes for upstream-stt") {
		t.Errorf("translation: %d %s", st, b)
	}
	var u fakeai.Upload
	json.Unmarshal(up.Bodies()[2], &u)
	if strings.Join(u.Parts, ",") != "file,prompt,model" {
		t.Errorf("parts re-sent as %v, want the client's order", u.Parts)
	}
}

func TestTranscriptionOverMaxUploadBytes(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	up := upstream(t)
	e := start(t, "server: {max_upload_bytes: 1MiB}\n"+models(up.URL, nil, "stt"))
	big := bytes.Repeat([]byte("x"), 2<<20)
	body, ct := multipartBody(t, []part{{"model", "", "stt"}, {"file", "a.wav", string(big)}})
	st, _, b := e.post("/v1/audio/transcriptions", adminKey, body, "Content-Type", ct)
	if st != 413 || !strings.Contains(string(b), "1048576") {
		t.Errorf("2 MiB upload: %d %s, want 413 naming the limit", st, b)
	}
	// Without a Content-Length the limit holds as the body streams in.
	pr, pw := io.Pipe()
	go func() { pw.Write(body); pw.Close() }()
	req, _ := http.NewRequest("POST", e.base+"/v1/audio/transcriptions", pr)
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("chunked 2 MiB upload: %d, want 413", resp.StatusCode)
	}
	if up.Requests.Load() != 0 {
		t.Error("an upload over the limit reached the upstream")
	}
	if left := uploadsLeft(t, tmp); len(left) != 0 {
		t.Errorf("spooled files left: %v", left)
	}
}

func TestPassthroughUnknownPaths(t *testing.T) {
	up := upstream(t)
	// Off (the default): an unknown path is a 404, whatever it names.
	off := start(t, models(up.URL, nil, "pt"))
	st, _, b := off.post("/v1/files/echo", adminKey, []byte(`{"model":"pt"}`))
	if er := decodeErr(t, b); st != 404 || er.Error.Code == nil || *er.Error.Code != "unknown_url" {
		t.Errorf("passthrough off: %d %s, want 404 unknown_url", st, b)
	}

	e := start(t, models(up.URL, map[string]string{"pt": "    passthrough: true\n"}, "pt", "other"))
	org, _, k := e.tenant("pt", nil, nil, nil)
	// JSON: method, query and body untouched but for the model.
	st, h, b := e.post("/v1/files/echo?x=1&y=a%20b", k.Key, []byte(`{"model":"pt",  "a":[1, 2]}`), "X-Custom", "kept")
	var echo struct {
		Method, Query, Body, Authorization string
		ContentType                        string `json:"content_type"`
	}
	json.Unmarshal(b, &echo)
	if st != 201 || h.Get("Content-Type") != "application/json" || h.Get("X-Switchyard-Deployment") != "pt-a" {
		t.Fatalf("passthrough: %d %v %s", st, h, b)
	}
	if echo.Method != "POST" || echo.Query != "x=1&y=a%20b" || echo.Body != `{"model":"upstream-pt",  "a":[1, 2]}` || echo.Authorization != "" {
		t.Errorf("upstream saw %+v; want the body untouched but the model, and no client key", echo)
	}
	if hd := up.Headers()[0]; hd.Get("X-Custom") != "kept" {
		t.Errorf("client header not forwarded: %v", hd)
	}
	// Bodiless, the model in the query.
	req, _ := http.NewRequest("GET", e.base+"/v1/files/echo?z=%2F&model=pt", nil)
	req.Header.Set("Authorization", "Bearer "+k.Key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	json.Unmarshal(b, &echo)
	if resp.StatusCode != 201 || echo.Method != "GET" || echo.Query != "z=%2F&model=upstream-pt" || echo.Body != "" {
		t.Errorf("GET passthrough: %d %s", resp.StatusCode, b)
	}
	// Multipart, the model part renamed.
	body, ct := multipartBody(t, []part{{"file", "x.bin", "payload"}, {"model", "", "pt"}})
	st, _, b = e.post("/v1/files/echo", k.Key, body, "Content-Type", ct)
	json.Unmarshal(b, &echo)
	if st != 201 || !strings.Contains(echo.Body, "upstream-pt") || !strings.Contains(echo.Body, "payload") || echo.ContentType != ct {
		t.Errorf("multipart passthrough: %d %s", st, b)
	}
	// A model without passthrough, an unknown model, no model: 404.
	for _, body := range []string{`{"model":"other"}`, `{"model":"nope"}`, `{}`, `not json`} {
		st, _, b := e.post("/v1/files/echo", k.Key, []byte(body))
		if er := decodeErr(t, b); st != 404 || er.Error.Code == nil || *er.Error.Code != "unknown_url" {
			t.Errorf("%s: %d %s, want 404 unknown_url", body, st, b)
		}
	}
	// Served paths keep their answers; keys still count.
	if st, _, _ := e.post("/v1/files/echo", "", []byte(`{"model":"pt"}`)); st != 401 {
		t.Errorf("no key: %d, want 401", st)
	}
	if st, _ := e.get("/v1/chat/completions?model=pt", adminKey); st != 405 {
		t.Errorf("GET /v1/chat/completions: %d, want 405", st)
	}
	if u := e.usageOf(org, "pt", [2]int64{9, 12}); u != [2]int64{9, 12} {
		t.Errorf("metered %v, want the upstream's usage of 3 calls: 9/12", u)
	}
}

// TestSpeechCutMidAnswer: an upstream that fails after the audio began
// cuts the client's connection too (never a short file that looks whole),
// and the call is logged as failed.
func TestSpeechCutMidAnswer(t *testing.T) {
	up := upstream(t)
	var log syncBuf
	e := startLogged(t, models(up.URL, nil, "tts"), &log)
	up.Script(fakeai.Behavior{DropAfter: 1})
	req, _ := http.NewRequest("POST", e.base+"/v1/audio/speech", strings.NewReader(`{"model":"tts","input":"hi","voice":"alloy"}`))
	req.Header.Set("Authorization", "Bearer "+adminKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || err == nil {
		t.Errorf("status %d, read %d bytes, err %v; want the body cut with an error", resp.StatusCode, len(b), err)
	}
	waitFor(t, func() bool { return strings.Contains(log.String(), `"route":"speech"`) })
	if !strings.Contains(log.String(), `"status":502`) {
		t.Errorf("log line: %s", log.String())
	}
}

// TestGuardRedactsNewEndpoints: the guard's input policy covers the texts
// of rerank, image and moderation calls as it does chat's.
func TestGuardRedactsNewEndpoints(t *testing.T) {
	up := upstream(t)
	e := start(t, "guard:\n  default: red\n  policies:\n    red:\n      input:\n        pii: {EMAIL: redact}\n"+models(up.URL, nil, "rr", "img", "mod"))
	for _, c := range []struct{ path, body string }{
		{"/v1/rerank", `{"model":"rr","query":"mail jane.doe@example.com","documents":["to jane.doe@example.com",{"text":"cc jane.doe@example.com"}]}`},
		{"/v1/images/generations", `{"model":"img","prompt":"a card for jane.doe@example.com"}`},
		{"/v1/moderations", `{"model":"mod","input":["is jane.doe@example.com ok"]}`},
	} {
		st, _, b := e.post(c.path, adminKey, []byte(c.body))
		if st != 200 {
			t.Fatalf("%s: %d %s", c.path, st, b)
		}
		last := up.Bodies()[len(up.Bodies())-1]
		if bytes.Contains(last, []byte("jane.doe@example.com")) {
			t.Errorf("%s: upstream got the e-mail address: %s", c.path, last)
		}
	}
}
