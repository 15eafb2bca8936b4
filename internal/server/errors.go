package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/dataset"
	"switchyard/internal/gateway"
	"switchyard/internal/reqlog"
	spec "switchyard/internal/specialist"
	"switchyard/internal/tenancy"
	wire "switchyard/internal/wire/openai"
)

// Handlers return errors; writeError is the one place that turns an error
// into the OpenAI-shaped answer. A *wire.Error is written as it is; the
// domain packages' error kinds map to 400 (invalid), 404 (not found) and
// 409 (conflict); anything else is a 500 whose cause goes only to the log.

// keyHandler serves one authenticated API request. It writes the answer,
// or returns an error and writes nothing.
type keyHandler func(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error

// writeError writes err as the client's error. A 5xx is logged with its
// cause and the request id, and its message carries the request id.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := apiError(err)
	if e.Status >= 500 {
		id := r.Header.Get(gateway.HeaderRequestID)
		s.log.Error("request failed", "id", id, "method", r.Method, "path", r.URL.Path, "status", e.Status, "err", err)
		c := *e
		c.Message = strings.TrimSuffix(c.Message, ".") + " (request id " + id + ")."
		e = &c
	}
	gateway.WriteError(w, e)
}

// apiError maps err to the client's error.
func apiError(err error) *wire.Error {
	var we *wire.Error
	var fe *tenancy.FieldError
	var obj *objectError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &we):
		return we
	case errors.As(err, &mbe):
		return wire.NewError(http.StatusRequestEntityTooLarge, wire.TypeInvalidRequest, "request_too_large", "",
			"The request body is larger than the limit of "+strconv.FormatInt(mbe.Limit, 10)+" bytes.")
	case errors.As(err, &fe):
		return wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "invalid_value", fe.Field, sentence(fe.Msg))
	case errors.Is(err, tenancy.ErrInvalid), errors.Is(err, dataset.ErrInvalid), errors.Is(err, spec.ErrInvalid):
		return wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "invalid_value", "", sentence(err.Error()))
	case errors.Is(err, tenancy.ErrNotFound), errors.Is(err, dataset.ErrNotFound), errors.Is(err, spec.ErrNotFound),
		errors.Is(err, reqlog.ErrNotFound):
		msg := sentence(err.Error())
		if errors.As(err, &obj) {
			msg = obj.what + " not found."
		}
		return wire.NewError(http.StatusNotFound, wire.TypeNotFound, "not_found", "", msg)
	case errors.Is(err, tenancy.ErrConflict), errors.Is(err, dataset.ErrConflict), errors.Is(err, spec.ErrConflict):
		msg := sentence(err.Error())
		if errors.As(err, &obj) && errors.Is(err, tenancy.ErrConflict) {
			msg = obj.what + " already exists."
		}
		return wire.NewError(http.StatusConflict, wire.TypeInvalidRequest, "conflict", "", msg)
	}
	// The request path's kinds (a step's refusal, …); anything without a
	// kind is a 500 there too.
	return gateway.ErrorOf(err, "")
}

// objectError names what a store error is about ("organisation"), for the
// message of a not found or a conflict.
type objectError struct {
	what string
	err  error
}

func (e *objectError) Error() string { return e.what + ": " + e.err.Error() }
func (e *objectError) Unwrap() error { return e.err }

// about wraps a store error with the name of its object; nil stays nil.
func about(what string, err error) error {
	if err == nil {
		return nil
	}
	return &objectError{what, err}
}

// sentence ends msg with a full stop.
func sentence(msg string) string {
	if strings.HasSuffix(msg, ".") {
		return msg
	}
	return msg + "."
}

// The errors handlers return most.

var errForbidden = wire.NewError(http.StatusForbidden, wire.TypePermission, "insufficient_permissions", "", "Your key may not do this.")

// notFound is a 404 for a thing the caller may not see or that is absent.
func notFound(what string) error {
	return wire.NewError(http.StatusNotFound, wire.TypeNotFound, "not_found", "", what+" not found.")
}

// forbiddenParam is a 403 naming the field the caller may not set.
func forbiddenParam(param, msg string) error {
	return wire.NewError(http.StatusForbidden, wire.TypePermission, "insufficient_permissions", param, msg)
}

// invalidValue is a 400 naming the field at fault.
func invalidValue(param, msg string) error {
	return wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "invalid_value", param, msg)
}

// decodeAs reads the body as one JSON object strictly (unknown fields
// refused) into a new T.
func decodeAs[T any](s *Server, w http.ResponseWriter, r *http.Request) (T, error) {
	var v T
	err := s.readJSON(w, r, &v)
	return v, err
}

// readJSON reads the body as one JSON object strictly into v, which may
// hold values the body overrides. Its errors are the client's, in our own
// words: malformed JSON as the gateway answers it, an unknown or mistyped
// field named in param.
func (s *Server) readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := gateway.ReadBody(w, r, s.maxBody.Load())
	if err != nil {
		return err
	}
	if _, err := wire.Scan(body); err != nil {
		return wire.BodyError(err)
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return decodeError(err)
	}
	return nil
}

// decodeError turns an encoding/json error on a valid JSON object into
// the client's error, without the decoder's own text.
func decodeError(err error) error {
	var te *json.UnmarshalTypeError
	var pe *time.ParseError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			return wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "invalid_type", "",
				"Invalid type for the request body: expected "+jsonKind(te.Type)+".")
		}
		return wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "invalid_type", field,
			"Invalid type for '"+field+"': expected "+jsonKind(te.Type)+", but got "+valueKind(te.Value)+".")
	}
	// encoding/json has no type for this one; its text is `json: unknown field "NAME"`.
	if _, name, ok := strings.Cut(err.Error(), `json: unknown field "`); ok {
		name, _, _ = strings.Cut(name, `"`)
		return wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "unknown_parameter", name,
			"Unknown parameter: '"+name+"'.")
	}
	if errors.As(err, &pe) {
		return wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "invalid_value", "",
			"Invalid time "+quoteValue(pe.Value)+": use RFC 3339, like 2006-01-02T15:04:05Z.")
	}
	return wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "invalid_value", "",
		"A value in the request body is not valid.")
}

// jsonKind names the JSON kind a Go type is decoded from.
func jsonKind(t reflect.Type) string {
	if t == reflect.TypeFor[time.Time]() {
		return "an RFC 3339 time string"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}

// valueKind names the JSON kind encoding/json reports in
// UnmarshalTypeError.Value ("string", "number 1.5", "bool"...).
func valueKind(v string) string {
	switch {
	case v == "bool":
		return "a boolean"
	case v == "array", v == "object":
		return "an " + v
	case strings.HasPrefix(v, "number"):
		return "a number"
	case v == "string":
		return "a string"
	}
	return "another kind"
}

func quoteValue(v string) string {
	if len(v) > 40 {
		v = v[:40] + "…"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// writeJSON writes v with the status, or returns the error of encoding it
// (and writes nothing).
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
	return nil
}

// methods are the methods a request's path is probed with for Allow.
var methods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// unknownRoute answers what no other route of mux matched under prefix
// ("/v1/", "/api/"): 405 with Allow when the path is served with other
// methods, else 404 unknown_url.
func unknownRoute(mux *http.ServeMux, prefix string) keyHandler {
	return func(w http.ResponseWriter, r *http.Request, _ *tenancy.Key) error {
		allow := otherMethods(mux, r, prefix)
		if len(allow) == 0 {
			return wire.NewError(http.StatusNotFound, wire.TypeNotFound, "unknown_url", "",
				"Unknown request URL: "+r.Method+" "+r.URL.Path+".")
		}
		e := wire.NewError(http.StatusMethodNotAllowed, wire.TypeInvalidRequest, "method_not_allowed", "",
			"Method "+r.Method+" is not allowed on "+r.URL.Path+"; use "+strings.Join(allow, ", ")+".")
		e.Header = http.Header{"Allow": {strings.Join(allow, ", ")}}
		return e
	}
}

// otherMethods lists the methods mux serves r's path with, other than
// through the catch-all prefix.
func otherMethods(mux *http.ServeMux, r *http.Request, prefix string) []string {
	var allow []string
	for _, m := range methods {
		probe := *r
		probe.Method = m
		if _, pattern := mux.Handler(&probe); pattern != "" && pattern != prefix && !slices.Contains(allow, m) {
			allow = append(allow, m)
		}
	}
	return allow
}
