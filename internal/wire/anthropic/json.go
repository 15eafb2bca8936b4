package anthropic

import (
	"bytes"
	"encoding/json"
	"strconv"

	wire "switchyard/internal/wire/openai"
)

// object is a decoded JSON object whose values stay raw.
type object map[string]json.RawMessage

func kindOf(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "absent"
	}
	return wire.Kind(raw, wire.Span{Start: 0, End: len(raw)})
}

func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

// decodeObject decodes raw as an object; path names it in errors.
func decodeObject(raw json.RawMessage, path string) (object, *Error) {
	if kindOf(raw) != "object" {
		return nil, invalid(path, "must be an object, not "+kindOf(raw))
	}
	var o object
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, invalid(path, "malformed object")
	}
	return o, nil
}

// decodeArray decodes raw as an array.
func decodeArray(raw json.RawMessage, path string) ([]json.RawMessage, *Error) {
	if kindOf(raw) != "array" {
		return nil, invalid(path, "must be an array, not "+kindOf(raw))
	}
	var a []json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, invalid(path, "malformed array")
	}
	return a, nil
}

// only refuses members of o outside allowed, naming the first one (in
// sorted order, so errors are deterministic; the empty key is refused
// like any other).
func (o object) only(path string, what string, allowed ...string) *Error {
	var bad string
	found := false
	for k := range o {
		ok := false
		for _, a := range allowed {
			if k == a {
				ok = true
				break
			}
		}
		if !ok && (!found || k < bad) {
			bad, found = k, true
		}
	}
	if found {
		return invalid(join(path, bad), "is not supported "+what)
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// str reads a required or optional string member.
func (o object) str(path, key string, required bool) (string, *Error) {
	raw, ok := o[key]
	if !ok || (!required && isNull(raw)) {
		if required {
			return "", invalid(join(path, key), "is required")
		}
		return "", nil
	}
	var s string
	if kindOf(raw) != "string" || json.Unmarshal(raw, &s) != nil {
		return "", invalid(join(path, key), "must be a string, not "+kindOf(raw))
	}
	return s, nil
}

// boolean reads an optional boolean member.
func (o object) boolean(path, key string) (bool, *Error) {
	raw, ok := o[key]
	if !ok || isNull(raw) {
		return false, nil
	}
	switch string(raw) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, invalid(join(path, key), "must be a boolean, not "+kindOf(raw))
}

// integer reads an optional integer member; present reports whether set.
func (o object) integer(path, key string) (v int64, present bool, e *Error) {
	raw, ok := o[key]
	if !ok || isNull(raw) {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if kindOf(raw) != "number" || err != nil {
		return 0, false, invalid(join(path, key), "must be an integer")
	}
	return n, true, nil
}

// number returns an optional numeric member as its raw text.
func (o object) number(path, key string) (json.RawMessage, *Error) {
	raw, ok := o[key]
	if !ok || isNull(raw) {
		return nil, nil
	}
	if kindOf(raw) != "number" {
		return nil, invalid(join(path, key), "must be a number, not "+kindOf(raw))
	}
	return raw, nil
}

// quote renders s as a JSON string.
func quote(s string) json.RawMessage { return wire.AppendQuote(nil, s) }

// compact renders raw without insignificant whitespace.
func compact(raw json.RawMessage) (string, bool) {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return "", false
	}
	return b.String(), true
}

// marshal encodes v; values here are built from decoded JSON, so it
// cannot fail except on a programming error, reported as a 500.
func marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, &Error{Status: 500, Type: TypeAPI, Message: "encoding translated body: " + err.Error()}
	}
	return b, nil
}

// scanBody validates a whole body before decoding, for clear syntax and
// UTF-8 errors (encoding/json would replace invalid UTF-8 silently).
func scanBody(body []byte) (object, *Error) {
	if _, err := wire.Scan(body); err != nil {
		return nil, bodyError(err)
	}
	var o object
	if err := json.Unmarshal(body, &o); err != nil {
		return nil, invalid("", "the request body is not valid JSON")
	}
	return o, nil
}

// blockType decodes a content block and reads its required "type".
func blockType(raw json.RawMessage, path string) (object, string, *Error) {
	o, e := decodeObject(raw, path)
	if e != nil {
		return nil, "", e
	}
	typ, e := o.str(path, "type", true)
	return o, typ, e
}

var nullJSON = json.RawMessage("null")
