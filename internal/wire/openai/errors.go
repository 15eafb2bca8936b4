package openai

import (
	"encoding/json"
	"errors"
	"net/http"
)

// Error types as OpenAI names them in the "type" member.
const (
	TypeInvalidRequest = "invalid_request_error"
	TypeAuthentication = "authentication_error"
	TypePermission     = "permission_error"
	TypeNotFound       = "not_found_error"
	TypeRateLimit      = "rate_limit_error"
	TypeServer         = "server_error"
	TypeUpstream       = "upstream_error"
	TypeTimeout        = "timeout_error"
	TypeQuota          = "insufficient_quota"
)

// Error is an API error in OpenAI's shape. It implements error so handlers
// can return it; the server's adapter writes it with Status.
type Error struct {
	Status  int     `json:"-"`
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
	// Header carries response headers that belong to the error (retry-after).
	Header http.Header `json:"-"`
	// Raw, when set, is written instead of the marshalled envelope (an
	// upstream's own error body passed through).
	Raw []byte `json:"-"`
}

func (e *Error) Error() string { return e.Message }

// NewError builds an Error; param and code may be empty.
func NewError(status int, typ, code, param, msg string) *Error {
	e := &Error{Status: status, Type: typ, Message: msg}
	if code != "" {
		e.Code = &code
	}
	if param != "" {
		e.Param = &param
	}
	return e
}

// Invalid is a 400 invalid_request_error naming the offending field.
func Invalid(param, msg string) *Error {
	return NewError(http.StatusBadRequest, TypeInvalidRequest, "", param, msg)
}

// Envelope is the JSON body {"error": {...}}.
type Envelope struct {
	Error *Error `json:"error"`
}

// Marshal renders the envelope; it cannot fail for this type.
func (e *Error) Marshal() []byte {
	b, _ := json.Marshal(Envelope{Error: e})
	return b
}

// BodyError is the client's error for a body that Scan refused: one
// status, type, code and message for malformed JSON on every endpoint.
func BodyError(err error) *Error {
	const code = "invalid_json"
	var se *SyntaxError
	switch {
	case errors.Is(err, ErrInvalidUTF8):
		return NewError(http.StatusBadRequest, TypeInvalidRequest, code, "", "The request body is not valid UTF-8.")
	case errors.As(err, &se):
		return NewError(http.StatusBadRequest, TypeInvalidRequest, code, "", "We could not parse the JSON body of your request: "+se.Error()+".")
	case errors.Is(err, ErrNotObject):
		return NewError(http.StatusBadRequest, TypeInvalidRequest, code, "", "The request body must be a JSON object.")
	}
	return NewError(http.StatusBadRequest, TypeInvalidRequest, code, "", "The request body is not valid JSON.")
}
