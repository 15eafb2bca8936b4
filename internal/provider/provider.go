// Package provider defines what the gateway needs from an upstream (the
// Provider contract), the error kinds the router branches on, and the
// Registry that maps a kind name ("openai", "local", …) to a factory.
package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"switchyard/internal/config"
)

// Op is the API operation of a request.
type Op int

// Operations the gateway forwards.
const (
	OpChat Op = iota
	OpCompletion
	OpEmbedding
	OpClassify
	OpRerank        // POST /rerank (Cohere/Jina shape)
	OpImage         // POST /images/generations
	OpModeration    // POST /moderations
	OpSpeech        // POST /audio/speech: JSON in, audio bytes out (raw)
	OpTranscription // POST /audio/transcriptions: multipart in (raw)
	OpTranslation   // POST /audio/translations: multipart in (raw)
	OpPassthrough   // any other /v1 path of a passthrough model (raw)
)

func (o Op) String() string {
	switch o {
	case OpChat:
		return "chat"
	case OpCompletion:
		return "completion"
	case OpEmbedding:
		return "embedding"
	case OpClassify:
		return "classify"
	case OpRerank:
		return "rerank"
	case OpImage:
		return "image"
	case OpModeration:
		return "moderation"
	case OpSpeech:
		return "speech"
	case OpTranscription:
		return "transcription"
	case OpTranslation:
		return "translation"
	case OpPassthrough:
		return "passthrough"
	}
	return "op" + strconv.Itoa(int(o))
}

// Path is the OpenAI path of the operation, relative to a /v1 base;
// OpPassthrough has none of its own ("": the client's path is used).
func (o Op) Path() string {
	switch o {
	case OpCompletion:
		return "/completions"
	case OpEmbedding:
		return "/embeddings"
	case OpClassify:
		return "/classify"
	case OpRerank:
		return "/rerank"
	case OpImage:
		return "/images/generations"
	case OpModeration:
		return "/moderations"
	case OpSpeech:
		return "/audio/speech"
	case OpTranscription:
		return "/audio/transcriptions"
	case OpTranslation:
		return "/audio/translations"
	case OpPassthrough:
		return ""
	}
	return "/chat/completions"
}

// Request is one upstream call. Body is an OpenAI-shaped JSON body whose
// "model" already names the upstream model; providers must not retain it
// after Do returns (it comes from a pool).
type Request struct {
	Op        Op
	Body      []byte
	Stream    bool
	RequestID string
}

// Response is an upstream's successful answer: either Body (non-stream) or
// Stream. Header holds upstream headers worth passing on.
type Response struct {
	Body   []byte
	Stream Stream
	Header http.Header
}

// Stream yields the data payloads of an OpenAI SSE stream, without the
// final [DONE]. Next returns io.EOF at the end. Buffered reports whether
// more data is already waiting (so the caller can delay a flush).
type Stream interface {
	Next() ([]byte, error)
	Buffered() bool
	Close() error
}

// Provider is one configured upstream deployment.
type Provider interface {
	Do(ctx context.Context, req *Request) (*Response, error)
	Close() error
}

// Supporter is a provider that serves only some operations; the router
// sends it no other. A provider without the method serves every one.
type Supporter interface {
	Supports(op Op) bool
}

// Supports reports whether p serves op. Raw operations also need a
// RawDoer.
func Supports(p Provider, op Op) bool {
	if op.Raw() {
		if _, ok := p.(RawDoer); !ok {
			return false
		}
	}
	if s, ok := p.(Supporter); ok {
		return s.Supports(op)
	}
	return true
}

// Error kinds the router branches on with errors.Is.
var (
	ErrRateLimited    = errors.New("upstream rate limited")
	ErrUnavailable    = errors.New("upstream unavailable")
	ErrTimeout        = errors.New("upstream timed out")
	ErrInvalidRequest = errors.New("upstream rejected the request")
	ErrNotFound       = errors.New("upstream has no such model")
	ErrUnsupported    = errors.New("operation not supported by this provider")
	// ErrNotSent marks an attempt refused before the upstream was called
	// (the deployment's own limits, or their backend): it says nothing of
	// the deployment's health.
	ErrNotSent = errors.New("not sent upstream")
)

// StatusError is a non-2xx answer from an upstream.
type StatusError struct {
	Status     int
	Body       []byte // the upstream's error body, passed to the client for 4xx
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	msg := UpstreamMessage(e.Body)
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("upstream status %d: %s", e.Status, msg)
}

// Is maps the status to an error kind.
func (e *StatusError) Is(target error) bool {
	switch target {
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	case ErrUnavailable:
		return e.Status >= 500 && e.Status != http.StatusGatewayTimeout
	case ErrTimeout:
		return e.Status == http.StatusGatewayTimeout || e.Status == http.StatusRequestTimeout
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrInvalidRequest:
		return e.Status >= 400 && e.Status < 500 && e.Status != http.StatusTooManyRequests && e.Status != http.StatusRequestTimeout
	}
	return false
}

// Retryable reports whether err is worth another attempt (elsewhere).
func Retryable(err error) bool {
	return errors.Is(err, ErrRateLimited) || errors.Is(err, ErrUnavailable) || errors.Is(err, ErrTimeout)
}

// RetryAfterOf returns the wait an error asks for: an upstream's
// Retry-After, or the RetryDelay of an error in the chain that has one (a
// deployment at its own limit).
func RetryAfterOf(err error) time.Duration {
	var se *StatusError
	if errors.As(err, &se) {
		return se.RetryAfter
	}
	var d interface{ RetryDelay() time.Duration }
	if errors.As(err, &d) {
		return d.RetryDelay()
	}
	return 0
}

// ParseRetryAfter reads a Retry-After (seconds or HTTP date) or OpenAI's
// retry-after-ms header.
func ParseRetryAfter(h http.Header, now time.Time) time.Duration {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Deployment is what a factory gets: the deployment's common config and
// its provider-specific options to decode strictly.
type Deployment = config.Deployment

// Factory builds a Provider from a deployment's config.
type Factory func(d Deployment) (Provider, error)

// Registry maps kind names to factories. The zero value is empty and ready.
type Registry struct {
	mu sync.RWMutex
	m  map[string]Factory
}

// Register adds a kind; it panics on a duplicate, as a programming error.
func (r *Registry) Register(kind string, f Factory) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]Factory{}
	}
	if _, dup := r.m[kind]; dup {
		panic("provider: duplicate registration of kind " + kind)
	}
	r.m[kind] = f
}

// New builds the provider for d.
func (r *Registry) New(d Deployment) (Provider, error) {
	r.mu.RLock()
	f, ok := r.m[d.Provider]
	r.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("unknown provider kind %q (known: %v)", d.Provider, r.Kinds())
	}
	return f(d)
}

// Kinds lists the registered kind names, sorted.
func (r *Registry) Kinds() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.m))
	for k := range r.m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// NativeRequest is a call in a vendor's own API (not OpenAI's), for a
// provider that speaks it: the gateway hands a client's body over byte for
// byte instead of translating it. API names the API ("anthropic.messages",
// "openai.responses"); Path is the vendor path relative to its /v1 base
// ("/messages", "/messages/count_tokens", "/responses"); Body's "model"
// already names the upstream model. Header holds the client's headers that
// the API defines (anthropic-version, anthropic-beta…), nil when none.
type NativeRequest struct {
	API       string
	Path      string
	Body      []byte
	Stream    bool
	RequestID string
	Header    http.Header
}

// Native is a provider that serves some vendor APIs natively. NativeAPI
// says which; DoNative answers like Do, with the vendor's own bodies: a
// non-stream Body as the vendor sent it, or a Stream whose Next returns
// each SSE event's data payload as sent (the API's package knows how to
// frame it again).
type Native interface {
	NativeAPI(api string) bool
	DoNative(ctx context.Context, req *NativeRequest) (*Response, error)
}

// SupportsNative reports whether p serves api natively.
func SupportsNative(p Provider, api string) bool {
	n, ok := p.(Native)
	return ok && n.NativeAPI(api)
}
