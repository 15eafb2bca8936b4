// Package call holds the types that cross between the gateway and the
// domain steps it calls: one API call as the gateway hands it over, what
// the gateway learned of its body, the admitted call's ticket, and the
// finished call's result and usage. The gateway owns the step interfaces;
// the domains (metering, guard) implement them with these types and never
// import the gateway.
package call

import (
	"context"
	"net/http"
	"time"

	"switchyard/internal/provider"
	"switchyard/internal/tenancy"
	wire "switchyard/internal/wire/openai"
)

// Call is one API request.
type Call struct {
	Op   provider.Op
	Body []byte // the client's body; valid until the gateway's Serve returns
	// ID is the id Switchyard generated for this call: unique per call,
	// the identity of its usage record.
	ID string
	// RequestID is the client's x-request-id when it sent a sane one,
	// else ID; it is echoed and logged, and need not be unique.
	RequestID string
	Key       *tenancy.Key
	Start     time.Time
	Tags      string // the x-switchyard-tags header, for request logs
	// Route names the client API when it is not Op's own (an ingress such
	// as "messages" or "responses" that the gateway serves as a chat call);
	// it labels the log line and metrics.
	Route string
	// Native, when set, is the call in the client's own vendor API, for a
	// deployment that serves that API natively (nil: always translated).
	Native *Native
}

// Native is a call as the client made it in a vendor API. The gateway
// sends Body to a deployment that speaks API natively, unless a step
// changed the call (the guard rewrote it, or an output policy must see
// the answer): then the chat translation goes instead.
type Native struct {
	API    string      // provider.NativeRequest's API, e.g. "anthropic.messages"
	Path   string      // the vendor path relative to /v1
	Body   []byte      // the client's body; valid until Serve returns
	Header http.Header // the API's own request headers worth passing on
	// Usage reads the usage in a native answer or stream event; it may
	// keep state across one stream's events (each call returns the
	// usage so far).
	Usage func(data []byte) (Usage, bool)
	// Frame appends one native stream event, framed for the client.
	Frame func(dst, data []byte) []byte
	// EventErr, when set, reports whether a native stream event is the
	// vendor's error event, as the error it stands for (a
	// *provider.StatusError): the first one is retried elsewhere like a
	// failed attempt; a later one ends the call with its status.
	EventErr func(data []byte) error
	// ChatErr, when set, says the call cannot be put in chat form (the
	// chat body is only a view for the steps): only a deployment speaking
	// API natively may serve it, and ChatErr (an API error naming the
	// field) is the answer when none can.
	ChatErr error
	// Text, when set, appends the generated text a native stream event
	// carries (for the request log and for metering a stream that ends
	// without usage).
	Text func(dst, data []byte) []byte
	// StreamError appends the client API's error event for an OpenAI
	// error (status and body) that ends a native stream.
	StreamError func(dst []byte, status int, body []byte) []byte
	// W is the client's own writer: native answers go to it untouched,
	// past the ingress's translation.
	W http.ResponseWriter
}

// Request is what the gateway learned from the body, for the steps.
type Request struct {
	Model  string
	Body   []byte
	Fields wire.Fields
	Stream bool
	// Header is the answer's header: a step may add to it (rate-limit
	// headers), before anything is written.
	Header http.Header
}

// Ticket follows an admitted call through routing to its end.
type Ticket interface {
	// Route admits an attempt on one deployment (its own limits); release
	// is called when the attempt ends. A deployment at its limit is
	// refused with an error that matches provider.ErrRateLimited and may
	// carry a RetryDelay, so the router tries another.
	Route(ctx context.Context, deployment string) (release func(), err error)
	// Done accounts for the finished call. It is called exactly once.
	Done(r *Result)
}

// Output rewrites one choice's generated text as it streams.
type Output interface {
	// Text takes the next piece of text and returns what may be released
	// now; it may hold some back.
	Text(s string) string
	// Flush returns what is still held at the end.
	Flush() string
}

// Blocker is an Output that may stop the answer altogether. The gateway
// asks after each Text and Flush; once Blocked reports true the filter
// releases nothing more, and the gateway replaces the choice with a
// policy message (finish_reason "content_filter") or ends the stream
// with an error event. Reason names what was found, never the value.
type Blocker interface {
	Blocked() (reason string, ok bool)
}

// Usage is the token count an upstream reported.
type Usage struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	PromptDetails    struct {
		CachedTokens int64 `json:"cached_tokens"`
		// CacheWriteTokens are prompt tokens written to the vendor's
		// prompt cache (Anthropic's cache_creation_input_tokens), an
		// extension of OpenAI's usage.
		CacheWriteTokens int64 `json:"cache_write_tokens"`
	} `json:"prompt_tokens_details"`
}

// Result is a finished call.
type Result struct {
	Model, Deployment string
	Status            int
	Stream            bool
	Usage             Usage
	// UsageReported is false when the upstream sent no usage (an abandoned
	// or failed stream): Generated then holds the text streamed so far.
	UsageReported bool
	Generated     []byte
	Latency       time.Duration
	// Request is the body as sent upstream (after the guard) and Response
	// the body the client got (non-streamed answers only, after the
	// output guard); both valid only during Done.
	Request, Response []byte
}
