package gateway

import (
	"context"
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"switchyard/internal/call"
	"switchyard/internal/config"
	"switchyard/internal/provider"
	"switchyard/internal/router"
	"switchyard/internal/tenancy"
)

// poolTicket takes a buffer from genPool while it meters, as a concurrent
// stream would, and keeps the text it was given.
type poolTicket struct{ got string }

func (t *poolTicket) Route(context.Context, string) (func(), error) { return func() {}, nil }

func (t *poolTicket) Done(r *call.Result) {
	other := genPool.Get().(*[]byte)
	*other = append((*other)[:0], "OTH"...)
	t.got = string(r.Generated)
	genPool.Put(other)
}

type poolAdmitter struct{ t *poolTicket }

func (a poolAdmitter) Admit(context.Context, *call.Call, *call.Request) (call.Ticket, error) {
	return a.t, nil
}

// oneChunk streams one content chunk and no usage.
type oneChunk struct{ sent bool }

func (s *oneChunk) Next() ([]byte, error) {
	if s.sent {
		return nil, io.EOF
	}
	s.sent = true
	return []byte(`{"id":"c","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"hel"},"finish_reason":null}]}`), nil
}
func (s *oneChunk) Buffered() bool { return false }
func (s *oneChunk) Close() error   { return nil }

type streamer struct{}

func (streamer) Do(context.Context, *provider.Request) (*provider.Response, error) {
	return &provider.Response{Stream: &oneChunk{}}, nil
}
func (streamer) Close() error { return nil }

// The streamed text a ticket meters is still the call's own while Done
// runs: its buffer goes back to the pool only after Done.
func TestStreamTextIsTheCallsOwnWhileMetered(t *testing.T) {
	cfg, err := config.Parse("t.yaml", []byte("models:\n  - name: m\n    deployments: [{id: d, provider: s}]\n"),
		func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	var reg provider.Registry
	reg.Register("s", func(provider.Deployment) (provider.Provider, error) { return streamer{}, nil })
	rt := router.New(cfg.Router, nil)
	cat, err := rt.Build(cfg, &reg)
	if err != nil {
		t.Fatal(err)
	}
	rt.Swap(cat)
	for range 20 {
		tk := &poolTicket{}
		g := &Service{Router: rt, Admit: poolAdmitter{tk}}
		body := []byte(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
		g.Serve(context.Background(), httptest.NewRecorder(), &call.Call{Op: provider.OpChat, Body: body, Key: &tenancy.Key{}, Start: time.Now()})
		if tk.got != "hel" {
			t.Fatalf("Done saw %q, want the call's own text %q", tk.got, "hel")
		}
	}
}
