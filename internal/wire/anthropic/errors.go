package anthropic

import (
	"encoding/json"
	"errors"
	"net/http"

	wire "switchyard/internal/wire/openai"
)

// Anthropic's error types (the "type" member of an error envelope).
const (
	TypeInvalidRequest  = "invalid_request_error"
	TypeAuthentication  = "authentication_error"
	TypePermission      = "permission_error"
	TypeNotFound        = "not_found_error"
	TypeRequestTooLarge = "request_too_large"
	TypeRateLimit       = "rate_limit_error"
	TypeAPI             = "api_error"
	TypeOverloaded      = "overloaded_error"
)

// StatusOverloaded is Anthropic's status for an overloaded API.
const StatusOverloaded = 529

// Error is an API error in Anthropic's shape. Translation failures are
// 400 invalid_request_error with Message naming the field path.
type Error struct {
	Status  int
	Type    string
	Message string
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

// Body renders Anthropic's envelope {"type":"error","error":{...}}.
func (e *Error) Body() []byte {
	return appendErrorBody(nil, e)
}

func appendErrorBody(dst []byte, e *Error) []byte {
	dst = append(dst, `{"type":"error","error":{"type":`...)
	dst = wire.AppendQuote(dst, e.Type)
	dst = append(dst, `,"message":`...)
	dst = wire.AppendQuote(dst, e.Message)
	return append(dst, "}}"...)
}

// invalid is a 400 naming the field path.
func invalid(path, msg string) *Error {
	if path != "" {
		msg = path + ": " + msg
	}
	return &Error{Status: http.StatusBadRequest, Type: TypeInvalidRequest, Message: msg}
}

// TypeForStatus is Anthropic's error type for an HTTP status.
func TypeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return TypeInvalidRequest
	case http.StatusUnauthorized:
		return TypeAuthentication
	case http.StatusForbidden:
		return TypePermission
	case http.StatusNotFound:
		return TypeNotFound
	case http.StatusRequestEntityTooLarge:
		return TypeRequestTooLarge
	case http.StatusTooManyRequests:
		return TypeRateLimit
	case http.StatusServiceUnavailable, StatusOverloaded:
		return TypeOverloaded
	}
	if status >= 500 {
		return TypeAPI
	}
	return TypeInvalidRequest
}

// StatusForType is the HTTP status Anthropic uses for an error type.
func StatusForType(typ string) int {
	switch typ {
	case TypeInvalidRequest:
		return http.StatusBadRequest
	case TypeAuthentication:
		return http.StatusUnauthorized
	case TypePermission:
		return http.StatusForbidden
	case TypeNotFound:
		return http.StatusNotFound
	case TypeRequestTooLarge:
		return http.StatusRequestEntityTooLarge
	case TypeRateLimit:
		return http.StatusTooManyRequests
	case TypeOverloaded:
		return StatusOverloaded
	}
	return http.StatusInternalServerError
}

// ErrorFromOpenAI maps the gateway's OpenAI-shaped error body and status to
// Anthropic's error, keeping the message.
func ErrorFromOpenAI(status int, openaiErrBody []byte) *Error {
	var env struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	msg := ""
	if json.Unmarshal(openaiErrBody, &env) == nil {
		msg = env.Error.Message
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	if msg == "" {
		msg = "upstream error"
	}
	return &Error{Status: status, Type: TypeForStatus(status), Message: msg}
}

// ParseError reads Anthropic's error envelope (a response body or the data
// of an "error" stream event). The status is status when non-zero, else the
// one Anthropic uses for the error's type. A body that is not an envelope
// yields an api_error carrying its text.
func ParseError(status int, body []byte) *Error {
	var env struct {
		Type  string `json:"type"`
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &env) != nil || env.Error.Type == "" {
		if status == 0 {
			status = http.StatusInternalServerError
		}
		msg := string(body)
		if len(msg) > 512 {
			msg = msg[:512] + "…"
		}
		if msg == "" {
			msg = http.StatusText(status)
		}
		return &Error{Status: status, Type: TypeForStatus(status), Message: msg}
	}
	if status == 0 {
		status = StatusForType(env.Error.Type)
	}
	return &Error{Status: status, Type: env.Error.Type, Message: env.Error.Message}
}

// bodyError turns a wire.Scan failure into a 400.
func bodyError(err error) *Error {
	var se *wire.SyntaxError
	switch {
	case errors.Is(err, wire.ErrInvalidUTF8):
		return invalid("", "the request body is not valid UTF-8")
	case errors.As(err, &se):
		return invalid("", "the request body is not valid JSON: "+se.Error())
	case errors.Is(err, wire.ErrNotObject):
		return invalid("", "the request body must be a JSON object")
	}
	return invalid("", "the request body is not valid JSON")
}
