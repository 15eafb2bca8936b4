package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"path/filepath"
	"strings"
	"testing"

	"switchyard/internal/call"
	"switchyard/internal/provider"
	wire "switchyard/internal/wire/openai"
)

func TestParseUsageShapes(t *testing.T) {
	for _, c := range []struct {
		name, body string
		want       call.Usage
		ok         bool
	}{
		{"chat", `{"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}}`, call.Usage{PromptTokens: 12, CompletionTokens: 5}, true},
		{"jina rerank", `{"results":[],"usage":{"total_tokens":42}}`, call.Usage{PromptTokens: 42}, true},
		{"gpt-image", `{"usage":{"input_tokens":20,"output_tokens":1056,"total_tokens":1076,"input_tokens_details":{"text_tokens":20}}}`, call.Usage{PromptTokens: 20, CompletionTokens: 1056}, true},
		{"transcription", `{"text":"x","usage":{"type":"tokens","input_tokens":14,"output_tokens":45,"total_tokens":59}}`, call.Usage{PromptTokens: 14, CompletionTokens: 45}, true},
		{"whisper seconds", `{"text":"x","usage":{"type":"duration","seconds":3}}`, call.Usage{}, true},
		{"cohere", `{"results":[],"meta":{"billed_units":{"search_units":1}}}`, call.Usage{}, false},
	} {
		f, err := wire.Scan([]byte(c.body))
		if err != nil {
			t.Fatal(err)
		}
		got, ok := parseUsage([]byte(c.body), f.Usage)
		got.PromptDetails = c.want.PromptDetails
		if got != c.want || ok != c.ok {
			t.Errorf("%s: %+v %v, want %+v %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

func TestUsageTap(t *testing.T) {
	// An SSE stream split anywhere: the last event with usage counts.
	stream := "event: transcript.text.delta\ndata: {\"type\":\"transcript.text.delta\",\"delta\":\"hi\"}\n\n" +
		"data: {\"type\":\"transcript.text.done\",\"text\":\"hi\",\"usage\":{\"input_tokens\":7,\"output_tokens\":2}}\r\n\r\n"
	for cut := 0; cut <= len(stream); cut += 7 {
		tap := newUsageTap("text/event-stream; charset=utf-8")
		tap.Write([]byte(stream[:cut]))
		tap.Write([]byte(stream[cut:]))
		if u, ok := tap.result(); !ok || u.PromptTokens != 7 || u.CompletionTokens != 2 {
			t.Fatalf("cut at %d: %+v %v", cut, u, ok)
		}
	}
	tap := newUsageTap("application/json")
	tap.Write([]byte(`{"text":"x","usage":{"prompt_tokens":1,`))
	tap.Write([]byte(`"completion_tokens":2}}`))
	if u, ok := tap.result(); !ok || u.CompletionTokens != 2 {
		t.Errorf("json: %+v %v", u, ok)
	}
	tap = newUsageTap("audio/mpeg")
	tap.Write([]byte(`{"usage":{"prompt_tokens":1}}`))
	if _, ok := tap.result(); ok {
		t.Error("audio bytes read as usage")
	}
	tap = newUsageTap("application/json")
	tap.Write(bytes.Repeat([]byte(" "), maxTapped))
	tap.Write([]byte(`{"usage":{"prompt_tokens":1}}`))
	if _, ok := tap.result(); ok || tap.buf != nil {
		t.Error("a body over the tap's bound was kept")
	}
}

func TestQueryFor(t *testing.T) {
	rc := &rawCall{query: "a=%2F&model=pub&b=c+d", model: "pub", queryModel: true}
	if got := rc.queryFor("org/up stream"); got != "a=%2F&model=org%2Fup+stream&b=c+d" {
		t.Errorf("query = %q", got)
	}
	if got := rc.queryFor("pub"); got != rc.query {
		t.Errorf("same name: %q", got)
	}
}

// formBody writes parts (name, filename, value) as multipart.
func formBody(t testing.TB, parts ...[3]string) ([]byte, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		cd := fmt.Sprintf(`form-data; name=%q`, p[0])
		if p[1] != "" {
			cd += fmt.Sprintf(`; filename=%q`, p[1])
			h.Set("Content-Type", "application/octet-stream")
		}
		h.Set("Content-Disposition", cd)
		w, _ := mw.CreatePart(h)
		io.WriteString(w, p[2])
	}
	mw.Close()
	return buf.Bytes(), mw.Boundary()
}

func TestSpoolFormResendsWithModelRenamed(t *testing.T) {
	dir := t.TempDir()
	file := strings.Repeat("\x00\xffaudio--", 5000)
	body, boundary := formBody(t, [3]string{"file", "a.wav", file}, [3]string{"language", "", "en"}, [3]string{"model", "", "pub"})
	fm, err := spoolForm(bytes.NewReader(body), boundary, dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if fm.model != "pub" || !fm.has("file") || fm.has("prompt") {
		t.Errorf("model %q, parts %+v", fm.model, fm.parts)
	}
	for _, model := range []string{"pub", "a-much-longer/upstream-model-name"} {
		r, n, done := fm.open(model)
		out, err := io.ReadAll(r)
		done()
		if err != nil || int64(len(out)) != n {
			t.Fatalf("re-sent %d bytes (err %v), length said %d", len(out), err, n)
		}
		mr := multipart.NewReader(bytes.NewReader(out), boundary)
		var got []string
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			v, _ := io.ReadAll(p)
			got = append(got, p.FormName()+"="+string(v))
		}
		want := []string{"file=" + file, "language=en", "model=" + model}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("re-sent parts differ for %s", model)
		}
	}
	// An abandoned attempt ends the writer (done returns).
	r, _, done := fm.open("x")
	r.Read(make([]byte, 10))
	done()
	if err := fm.Close(); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*")); len(m) != 0 {
		t.Errorf("left after Close: %v", m)
	}
}

func TestSpoolFormErrors(t *testing.T) {
	dir := t.TempDir()
	body, b := formBody(t, [3]string{"model", "", strings.Repeat("m", maxModelLen+1)})
	if _, err := spoolForm(bytes.NewReader(body), b, dir, 1<<20); !isParam(err, "model") {
		t.Errorf("long model: %v", err)
	}
	body, b = formBody(t, [3]string{"file", "a", "x"})
	if _, err := spoolForm(bytes.NewReader(body[:len(body)-10]), b, dir, 1<<20); !isStatus(err, 400) {
		t.Errorf("truncated: %v", err)
	}
	if _, err := spoolForm(bytes.NewReader(body), "", dir, 1<<20); !isStatus(err, 400) {
		t.Errorf("no boundary: %v", err)
	}
	many := make([][3]string, maxFormParts+1)
	for i := range many {
		many[i] = [3]string{"f", "", "v"}
	}
	body, b = formBody(t, many...)
	if _, err := spoolForm(bytes.NewReader(body), b, dir, 1<<20); !isStatus(err, 400) {
		t.Errorf("too many parts: %v", err)
	}
	rec := httptestRecorder{}
	big, b := formBody(t, [3]string{"file", "a", strings.Repeat("x", 4096)})
	if _, err := spoolForm(http.MaxBytesReader(rec, io.NopCloser(bytes.NewReader(big)), 1000), b, dir, 1000); !isStatus(err, 413) {
		t.Errorf("over the limit: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*")); len(m) != 0 {
		t.Errorf("files left after failed spools: %v", m)
	}
}

type httptestRecorder struct{}

func (httptestRecorder) Header() http.Header         { return http.Header{} }
func (httptestRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (httptestRecorder) WriteHeader(int)             {}

func isStatus(err error, status int) bool {
	var e *wire.Error
	return errors.As(err, &e) && e.Status == status
}

func isParam(err error, param string) bool {
	var e *wire.Error
	return errors.As(err, &e) && e.Param != nil && *e.Param == param
}

func FuzzSpoolForm(f *testing.F) {
	body, b := formBody(f, [3]string{"file", "a.wav", "RIFF"}, [3]string{"model", "", "m"})
	f.Add(body, b)
	body, b = formBody(f, [3]string{"model", "", "m"}, [3]string{"x", "", ""})
	f.Add(body, b)
	f.Add([]byte("--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nm\r\n--b--\r\n"), "b")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, body []byte, boundary string) {
		fm, err := spoolForm(bytes.NewReader(body), boundary, dir, 1<<20)
		if err != nil {
			var we *wire.Error
			if !errors.As(err, &we) || we.Status/100 != 4 {
				t.Fatalf("error %v is not the client's", err)
			}
			return
		}
		defer fm.Close()
		r, n, done := fm.open("upstream")
		out, err := io.ReadAll(r)
		done()
		if err != nil {
			return // a boundary multipart.Writer refuses
		}
		if int64(len(out)) != n {
			t.Fatalf("re-sent %d bytes, length said %d", len(out), n)
		}
		again, err := spoolForm(bytes.NewReader(out), boundary, dir, 1<<20)
		if err != nil {
			t.Fatalf("re-sent form does not parse: %v", err)
		}
		defer again.Close()
		if len(again.parts) != len(fm.parts) || (fm.modelAt >= 0 && again.model != "upstream") {
			t.Fatalf("re-sent form: %d parts model %q, want %d parts", len(again.parts), again.model, len(fm.parts))
		}
	})
}

func FuzzValidateNewOps(f *testing.F) {
	for _, s := range []string{
		`{"model":"r","query":"q","documents":["a",{"text":"b"}],"top_n":1}`,
		`{"model":"i","prompt":"a cat","n":1}`,
		`{"model":"m","input":["a",{"type":"text","text":"b"}]}`,
		`{"model":"s","input":"hello","voice":"alloy"}`,
		`{"model":"r","documents":[{"text":3}]}`,
	} {
		for op := provider.OpRerank; op <= provider.OpSpeech; op++ {
			f.Add(uint8(op), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		o := provider.Op(op%4) + provider.OpRerank
		_, model, _, err := validate(o, body)
		if err != nil {
			var we *wire.Error
			if !errors.As(err, &we) || we.Status != 400 || we.Message == "" {
				t.Fatalf("%v: error %v is not a 400 with a message", o, err)
			}
			return
		}
		if model == "" {
			t.Fatalf("%v: valid body without a model: %s", o, body)
		}
	})
}

func TestNewOpsSupported(t *testing.T) {
	for _, op := range []provider.Op{provider.OpRerank, provider.OpImage, provider.OpModeration, provider.OpSpeech,
		provider.OpTranscription, provider.OpTranslation, provider.OpPassthrough} {
		if op.String() == "" || strings.HasPrefix(op.String(), "op") {
			t.Errorf("%d has no name", op)
		}
		if op != provider.OpPassthrough && !strings.HasPrefix(op.Path(), "/") {
			t.Errorf("%v path %q", op, op.Path())
		}
		// A provider without RawDoer serves no raw op.
		if provider.Supports(plainProvider{}, op) == op.Raw() {
			t.Errorf("%v: plain provider supports = %v", op, !op.Raw())
		}
	}
}

type plainProvider struct{}

func (plainProvider) Do(context.Context, *provider.Request) (*provider.Response, error) {
	return nil, errors.New("not called")
}
func (plainProvider) Close() error { return nil }
