package provider

import (
	"context"
	"io"
	"net/http"
)

// Raw reports whether op's bodies are not OpenAI-shaped JSON answered
// with JSON (audio in or out, multipart uploads, passthrough paths): such
// calls go through RawDoer, streamed both ways, never through Do.
func (o Op) Raw() bool {
	return o == OpSpeech || o == OpTranscription || o == OpTranslation || o == OpPassthrough
}

// RawRequest is an upstream call whose body and answer are streamed
// untouched. Path is relative to the deployment's /v1 base
// ("/audio/speech"); RawQuery is the query without '?'. Header holds the
// request's own headers (Content-Type, Accept…), never credentials: the
// provider adds its own. Body is read once; ContentLength is its size, or
// -1 when unknown. Body's model already names the upstream model.
type RawRequest struct {
	Method        string
	Path          string
	RawQuery      string
	Header        http.Header
	Body          io.Reader
	ContentLength int64
	RequestID     string
}

// RawDoer is a provider that can make raw calls. DoRaw returns the
// upstream's 2xx answer with its body unread (the caller must close it);
// a non-2xx answer is a *StatusError, as from Do.
type RawDoer interface {
	DoRaw(ctx context.Context, req *RawRequest) (*http.Response, error)
}
