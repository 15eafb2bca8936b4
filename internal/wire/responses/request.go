package responses

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	wire "switchyard/internal/wire/openai"
)

// Request is a parsed Responses create request: what the translation and
// the exchange act on, and what the Response object echoes.
type Request struct {
	Model              string
	Stream             bool
	Store              bool // default true
	PreviousResponseID string
	// Input is this turn's items as given, each with its "type" set (a
	// string input is one user message item).
	Input []json.RawMessage
	// Instructions is the system message for this turn only (it is not
	// carried to the next turn by previous_response_id).
	Instructions *string

	Temperature       *float64
	TopP              *float64
	MaxOutputTokens   *int64
	ParallelToolCalls *bool
	User              *string
	Metadata          json.RawMessage // an object of strings, or nil
	// Tools is the tools array as given (echoed); the chat translation
	// comes from tools.
	Tools      json.RawMessage
	ToolChoice json.RawMessage // as given, or nil
	Text       *TextConfig
	Reasoning  *Reasoning

	PromptCacheKey   *string
	SafetyIdentifier *string
	ServiceTier      *string

	// The chat translations Parse made: of tools (nTools of them,
	// comma-separated), and of tool_choice and text.format (the spans
	// choice and format of pre; absent for none).
	tools  []byte
	nTools int
	pre    []byte
	choice wire.Span
	format wire.Span
	// msgs is the chat translation of Input (nMsgs messages); shadow a
	// copy of the item slices it was made from.
	msgs   []byte
	nMsgs  int
	shadow []json.RawMessage
	// own backs the pointer members, so that they cost no allocation each.
	own struct {
		strs                  [nStrs]string
		parallel, obfuscation bool
		temperature, topP     float64
		maxOutput             int64
		text                  TextConfig
		reasoning             Reasoning
	}
}

// TextConfig is the request's "text" member.
type TextConfig struct {
	Format    json.RawMessage `json:"format,omitempty"`
	Verbosity *string         `json:"verbosity,omitempty"`
}

// Reasoning is the request's "reasoning" member.
type Reasoning struct {
	Effort          *string `json:"effort"`
	Summary         *string `json:"summary"`
	GenerateSummary *string `json:"generate_summary,omitempty"`
}

// The Request members backed by Request.own.strs.
const (
	sInstructions = iota
	sUser
	sCacheKey
	sSafety
	sTier
	sEffort
	sSummary
	sGenerate
	sVerbosity
	nStrs
)

// invalid is a 400 naming the field.
func invalid(param, msg string) *wire.Error {
	return wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "invalid_value", param, msg)
}

func unsupported(param, msg string) *wire.Error {
	return wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "unsupported_parameter", param, msg)
}

func wrongType(param, want string) *wire.Error {
	return wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "invalid_type", param,
		"Invalid type for '"+param+"': expected "+want+".")
}

func missing(param string) error {
	return wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "missing_required_parameter", param,
		"Missing required parameter: '"+param+"'.")
}

// isNull reports whether a raw member is absent or JSON null.
func isNull(raw []byte) bool { return len(raw) == 0 || string(raw) == "null" }

// parser is the state of one Parse call.
type parser struct {
	b  []byte
	ix *wire.Index
	r  *Request
	w  chatWriter // the input items' translation
}

// Parse reads a Responses create body. An error is a *wire.Error (400)
// naming the field: malformed JSON, a wrong type, an unknown parameter, or
// one whose meaning the chat translation cannot keep (background mode,
// conversations, hosted tools, include values…) — never a silent drop.
//
// It validates the body once with wire.ScanIndexed and walks it through
// spans. The Request's raw members (Input items, Tools, ToolChoice,
// Metadata, Text.Format) share body's bytes: body must not change while
// the Request is in use. Parse translates tools, tool_choice and
// text.format for Chat as it reads them.
func Parse(body []byte) (*Request, error) {
	ix := indexes.Get().(*wire.Index)
	defer indexes.Put(ix)
	if _, err := wire.ScanIndexed(body, ix); err != nil {
		return nil, wire.BodyError(err)
	}
	r := &Request{Store: true}
	p := parser{b: body, ix: ix, r: r}
	it := ix.Iter(body, rootSpan(body))
	for {
		k, v, ok := it.Next()
		if !ok {
			break
		}
		if err := p.member(k, v); err != nil {
			return nil, err
		}
	}
	if r.Model == "" {
		return nil, missing("model")
	}
	if r.Input == nil {
		return nil, missing("input")
	}
	return r, nil
}

// str reads a string member into *dst (null keeps it).
func (p *parser) str(dst *string, key string, v wire.Span) error {
	switch p.b[v.Start] {
	case 'n':
		return nil
	case '"':
		*dst = string(strOf(p.b, v))
		return nil
	}
	return wrongType(key, "a string")
}

// optStr reads an optional string member into the slot i of own.strs.
func (p *parser) optStr(dst **string, i int, key string, v wire.Span) error {
	if p.b[v.Start] == 'n' {
		return nil
	}
	if p.b[v.Start] != '"' {
		return wrongType(key, "a string")
	}
	s := &p.r.own.strs[i]
	*s = string(strOf(p.b, v))
	*dst = s
	return nil
}

// boolean reads a non-null boolean member.
func (p *parser) boolean(key string, v wire.Span) (bool, error) {
	switch p.b[v.Start] {
	case 't':
		return true, nil
	case 'f':
		return false, nil
	}
	return false, wrongType(key, "a boolean")
}

// float reads a non-null number member as encoding/json reads a float64.
func (p *parser) float(key string, v wire.Span) (float64, error) {
	if c := p.b[v.Start]; c != '-' && (c < '0' || c > '9') {
		return 0, wrongType(key, "a number")
	}
	f, err := strconv.ParseFloat(string(p.b[v.Start:v.End]), 64)
	if err != nil {
		return 0, wrongType(key, "a number")
	}
	return f, nil
}

// integer reads a non-null number member as encoding/json reads an int64.
func (p *parser) integer(key string, v wire.Span) (int64, error) {
	if c := p.b[v.Start]; c != '-' && (c < '0' || c > '9') {
		return 0, wrongType(key, "an integer")
	}
	n, ok := wire.ParseInt(p.b[v.Start:v.End])
	if !ok {
		return 0, wrongType(key, "an integer")
	}
	return n, nil
}

var (
	reasoningNames = []string{"effort", "summary", "generate_summary"}
	reasoningKinds = []kind{kPtr, kPtr, kPtr}
	optionsNames   = []string{"include_obfuscation"}
	optionsKinds   = []kind{kBool}
	textNames      = []string{"format", "verbosity"}
	textKinds      = []kind{kRaw, kPtr}
	headNames      = []string{"type", "role"}
	headKinds      = []kind{kPtr, kPtr}
	toolNames      = []string{"type", "name", "description", "parameters", "strict"}
	toolKinds      = []kind{kStr, kStr, kPtr, kRaw, kBool}
	choiceNames    = []string{"type", "name", "mode", "tools"}
	choiceKinds    = []kind{kStr, kStr, kStr, kArr}
	namedNames     = []string{"type", "name"}
	namedKinds     = []kind{kStr, kStr}
	formatNames    = []string{"type", "name", "description", "schema", "strict"}
	formatKinds    = []kind{kStr, kStr, kPtr, kRaw, kBool}
)

// member reads one top-level member; rawKey is its key as written.
func (p *parser) member(rawKey []byte, v wire.Span) error {
	b, r := p.b, p.r
	null := b[v.Start] == 'n'
	switch string(rawKey) {
	case "model":
		return p.str(&r.Model, "model", v)
	case "input":
		return p.input(v)
	case "instructions":
		return p.optStr(&r.Instructions, sInstructions, "instructions", v)
	case "tools":
		return p.tools(v)
	case "tool_choice":
		return p.toolChoice(v)
	case "parallel_tool_calls":
		if !null {
			t, err := p.boolean("parallel_tool_calls", v)
			if err != nil {
				return err
			}
			r.own.parallel = t
			r.ParallelToolCalls = &r.own.parallel
		}
	case "temperature":
		if !null {
			f, err := p.float("temperature", v)
			if err != nil {
				return err
			}
			r.own.temperature = f
			r.Temperature = &r.own.temperature
		}
	case "top_p":
		if !null {
			f, err := p.float("top_p", v)
			if err != nil {
				return err
			}
			r.own.topP = f
			r.TopP = &r.own.topP
		}
	case "max_output_tokens":
		if !null {
			n, err := p.integer("max_output_tokens", v)
			if err != nil {
				return err
			}
			r.own.maxOutput = n
			r.MaxOutputTokens = &r.own.maxOutput
			if n < 1 {
				return invalid("max_output_tokens", "Invalid 'max_output_tokens': integer below minimum value 1.")
			}
		}
	case "text":
		return p.text(v)
	case "reasoning":
		if !null {
			var f [3]wire.Span
			if !fields(b, p.ix, v, reasoningNames, reasoningKinds, f[:]) {
				return wrongType("reasoning", "an object")
			}
			if err := p.onlyKeys(v, param{"reasoning", -1}, reasoningNames); err != nil {
				return err
			}
			rs := &r.own.reasoning
			*rs = Reasoning{}
			p.ptr(&rs.Effort, sEffort, f[0])
			p.ptr(&rs.Summary, sSummary, f[1])
			p.ptr(&rs.GenerateSummary, sGenerate, f[2])
			r.Reasoning = rs
		}
	case "metadata":
		if !null {
			return p.metadata(v)
		}
	case "user":
		return p.optStr(&r.User, sUser, "user", v)
	case "stream":
		if !null {
			t, err := p.boolean("stream", v)
			if err != nil {
				return err
			}
			r.Stream = t
		}
	case "stream_options":
		// include_obfuscation only pads events against side channels;
		// leaving the padding out changes nothing the client reads.
		if !null {
			var f [1]wire.Span
			if !fields(b, p.ix, v, optionsNames, optionsKinds, f[:]) {
				return wrongType("stream_options", "an object")
			}
			return p.onlyKeys(v, param{"stream_options", -1}, optionsNames)
		}
	case "store":
		if !null {
			t, err := p.boolean("store", v)
			if err != nil {
				return err
			}
			r.Store = t
		}
	case "previous_response_id":
		return p.str(&r.PreviousResponseID, "previous_response_id", v)
	case "prompt_cache_key":
		return p.optStr(&r.PromptCacheKey, sCacheKey, "prompt_cache_key", v)
	case "safety_identifier":
		return p.optStr(&r.SafetyIdentifier, sSafety, "safety_identifier", v)
	case "service_tier":
		return p.optStr(&r.ServiceTier, sTier, "service_tier", v)
	case "background":
		if !null {
			t, err := p.boolean("background", v)
			if err != nil {
				return err
			}
			if t {
				return unsupported("background", "Background responses are not supported by this gateway; send the request without 'background'.")
			}
		}
	case "truncation":
		if !null {
			if b[v.Start] != '"' {
				return wrongType("truncation", "a string")
			}
			if s := strOf(b, v); len(s) > 0 && string(s) != "disabled" {
				return unsupported("truncation", "Only truncation 'disabled' is supported by this gateway.")
			}
		}
	case "top_logprobs":
		if !null {
			n, err := p.integer("top_logprobs", v)
			if err != nil {
				return err
			}
			if n != 0 {
				return unsupported("top_logprobs", "'top_logprobs' is not supported by this gateway.")
			}
		}
	case "include":
		return p.include(v)
	case "conversation", "prompt", "max_tool_calls":
		if !null {
			key := string(rawKey)
			return unsupported(key, "'"+key+"' is not supported by this gateway.")
		}
	default:
		key := string(rawKey)
		return wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "unknown_parameter", key,
			"Unknown parameter: '"+key+"'.")
	}
	return nil
}

// ptr sets *dst to the string at sp (a string or null, as fields
// checked) in the slot i of own.strs, or nil.
func (p *parser) ptr(dst **string, i int, sp wire.Span) {
	if !set(p.b, sp) {
		*dst = nil
		return
	}
	s := &p.r.own.strs[i]
	*s = string(strOf(p.b, sp))
	*dst = s
}

// onlyKeys refuses members of the object at sp other than keys, compared
// as written (escapes not decoded); the first other one is named.
func (p *parser) onlyKeys(sp wire.Span, pm param, keys []string) error {
	it := p.ix.Iter(p.b, sp)
	for {
		k, _, ok := it.Next()
		if !ok {
			return nil
		}
		known := false
		for _, want := range keys {
			if string(k) == want {
				known = true
				break
			}
		}
		if !known {
			bad := pm.sub("." + string(k))
			return wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "unknown_parameter", bad,
				"Unknown parameter: '"+bad+"'.")
		}
	}
}

// metadata checks the metadata member: an object of at most 16 strings.
func (p *parser) metadata(v wire.Span) error {
	b := p.b
	if b[v.Start] != '{' {
		return wrongType("metadata", "an object of strings")
	}
	n := 0
	for it := p.ix.Iter(b, v); ; n++ {
		_, m, ok := it.Next()
		if !ok {
			break
		}
		if c := b[m.Start]; c != '"' && c != 'n' {
			return wrongType("metadata", "an object of strings")
		}
	}
	if n > 16 {
		// Duplicate keys count once, as in the map encoding/json fills.
		keys := make(map[string]bool, n)
		for it := p.ix.Iter(b, v); ; {
			k, _, ok := it.Next()
			if !ok {
				break
			}
			keys[string(unquote(nil, k))] = true
		}
		if len(keys) > 16 {
			return invalid("metadata", "Invalid 'metadata': at most 16 keys.")
		}
	}
	p.r.Metadata = json.RawMessage(b[v.Start:v.End])
	return nil
}

// include refuses any include value.
func (p *parser) include(v wire.Span) error {
	b := p.b
	switch b[v.Start] {
	case 'n':
		return nil
	case '[':
	default:
		return wrongType("include", "an array of strings")
	}
	var first wire.Span
	n := 0
	for it := p.ix.Iter(b, v); ; n++ {
		_, e, ok := it.Next()
		if !ok {
			break
		}
		if c := b[e.Start]; c != '"' && c != 'n' {
			return wrongType("include", "an array of strings")
		}
		if n == 0 {
			first = e
		}
	}
	if n > 0 {
		return unsupported("include[0]", "The include value '"+string(strOf(b, first))+"' is not supported by this gateway.")
	}
	return nil
}

// input normalises the input member into items, each with its type, and
// checks that each translates.
func (p *parser) input(v wire.Span) error {
	b, r := p.b, p.r
	switch b[v.Start] {
	case 'n':
		return nil
	case '"':
		const head = `{"type":"message","role":"user","content":`
		it := make([]byte, 0, 2*(len(head)+v.End-v.Start+1))
		it = append(it, head...)
		it = append(appendStr(it, b, v), '}')
		// The item and its message share one buffer: the message is the
		// item without its type.
		const skip = len(`"type":"message",`)
		msgs := append(it[len(it):], '{')
		msgs = append(msgs, it[1+skip:]...)
		items := make([]json.RawMessage, 2)
		items[0] = it
		r.Input, r.shadow = items[:1:1], items[1:]
		r.shadow[0] = it
		r.msgs, r.nMsgs = msgs, 1
		return nil
	case '[':
	default:
		return wrongType("input", "a string or an array of items")
	}
	n := 0
	for it := p.ix.Iter(b, v); ; n++ {
		if _, _, ok := it.Next(); !ok {
			break
		}
	}
	items := make([]json.RawMessage, 0, 2*n)
	r.Input, r.msgs, r.shadow = items[:0:n], nil, nil
	p.w = chatWriter{out: make([]byte, 0, v.End-v.Start+64)}
	it := p.ix.Iter(b, v)
	for i := 0; ; i++ {
		_, e, ok := it.Next()
		if !ok {
			p.w.close()
			r.msgs, r.nMsgs = p.w.out, p.w.n
			r.shadow = append(items[n:n], r.Input...)
			return nil
		}
		pm := param{"input", i}
		var head [2]wire.Span
		if b[e.Start] != '{' || !fields(b, p.ix, e, headNames, headKinds, head[:]) {
			return wrongType(pm.String(), "an object")
		}
		raw := b[e.Start:e.End]
		easy := !set(b, head[0])
		if easy {
			if !set(b, head[1]) {
				return missing(pm.sub(".type"))
			}
			// An easy input message: give it its type, so that stored
			// items read alike.
			raw = append(append(make([]byte, 0, len(raw)+18), `{"type":"message",`...), raw[1:]...)
		}
		if err := p.w.item(b, p.ix, e, pm, easy); err != nil {
			return err
		}
		r.Input = append(r.Input, raw)
	}
}

// tools reads the tools member (function tools only) and appends their
// chat translation to pre.
func (p *parser) tools(v wire.Span) error {
	b, r := p.b, p.r
	if b[v.Start] == 'n' {
		return nil
	}
	if b[v.Start] != '[' {
		return wrongType("tools", "an array of tools")
	}
	r.Tools = json.RawMessage(b[v.Start:v.End])
	if r.tools == nil {
		r.tools = make([]byte, 0, v.End-v.Start+64)
	}
	it := p.ix.Iter(b, v)
	for i := 0; ; i++ {
		_, e, ok := it.Next()
		if !ok {
			break
		}
		pm := param{"tools", i}
		var f [5]wire.Span
		if b[e.Start] != '{' || !fields(b, p.ix, e, toolNames, toolKinds, f[:]) {
			return wrongType(pm.String(), "a function tool object")
		}
		switch typ := strOf(b, f[0]); string(typ) {
		case "function":
		case "":
			return missing(pm.sub(".type"))
		default:
			return unsupported(pm.sub(".type"), "Tools of type '"+string(typ)+"' are not supported by this gateway; only 'function' tools are.")
		}
		if err := p.onlyKeys(e, pm, toolNames); err != nil {
			return err
		}
		if !set(b, f[1]) || f[1].End-f[1].Start == 2 {
			return missing(pm.sub(".name"))
		}
		params := f[3]
		if set(b, params) && b[params.Start] != '{' {
			return wrongType(pm.sub(".parameters"), "a JSON Schema object")
		}
		out := r.tools
		if r.nTools > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"type":"function","function":{"name":`...)
		out = appendStr(out, b, f[1])
		if set(b, f[2]) {
			out = append(out, `,"description":`...)
			out = appendStr(out, b, f[2])
		}
		if set(b, params) {
			out = append(out, `,"parameters":`...)
			out = appendCompact(out, b[params.Start:params.End])
		}
		if set(b, f[4]) {
			out = append(out, `,"strict":`...)
			out = append(out, b[f[4].Start:f[4].End]...)
		}
		r.tools = append(out, "}}"...)
		r.nTools++
	}
	return nil
}

// toolChoice reads tool_choice and appends chat's form of it to pre.
func (p *parser) toolChoice(v wire.Span) error {
	b, r := p.b, p.r
	if b[v.Start] == 'n' {
		return nil
	}
	r.ToolChoice = json.RawMessage(b[v.Start:v.End])
	p.grow(v)
	if b[v.Start] == '"' {
		switch s := strOf(b, v); string(s) {
		case "none", "auto", "required":
			r.choice = p.pre(b[v.Start:v.End])
			return nil
		default:
			r.choice = wire.Span{}
			return invalid("tool_choice", "Invalid value: '"+string(s)+"'. Supported values are: 'none', 'auto' and 'required'.")
		}
	}
	const want = "a string or an object"
	var f [4]wire.Span
	if !fields(b, p.ix, v, choiceNames, choiceKinds, f[:]) {
		return wrongType("tool_choice", want)
	}
	var named [2]wire.Span
	if set(b, f[3]) {
		for it := p.ix.Iter(b, f[3]); ; {
			_, e, ok := it.Next()
			if !ok {
				break
			}
			if !fields(b, p.ix, e, namedNames, namedKinds, named[:]) {
				return wrongType("tool_choice", want)
			}
		}
	}
	r.choice = wire.Span{}
	start := len(r.pre)
	switch typ := strOf(b, f[0]); string(typ) {
	case "function":
		out, err := p.namedChoice(r.pre, f[:2], param{"tool_choice", -1})
		if err != nil {
			return err
		}
		r.pre = out
	case "allowed_tools":
		mode := strOf(b, f[2])
		if string(mode) != "auto" && string(mode) != "required" {
			return invalid("tool_choice.mode", "Invalid value: '"+string(mode)+"'. Supported values are: 'auto' and 'required'.")
		}
		out := append(r.pre, `{"allowed_tools":{"mode":"`...)
		out = append(append(out, mode...), `","tools":[`...)
		if set(b, f[3]) {
			it := p.ix.Iter(b, f[3])
			for i := 0; ; i++ {
				_, e, ok := it.Next()
				if !ok {
					break
				}
				named = [2]wire.Span{}
				fields(b, p.ix, e, namedNames, namedKinds, named[:])
				if i > 0 {
					out = append(out, ',')
				}
				var err error
				if out, err = p.namedChoice(out, named[:], param{"tool_choice.tools", i}); err != nil {
					return err
				}
			}
		}
		r.pre = append(out, `]},"type":"allowed_tools"}`...)
	case "":
		return missing("tool_choice.type")
	default:
		return unsupported("tool_choice.type", "Tool choices of type '"+string(typ)+"' are not supported by this gateway.")
	}
	r.choice = wire.Span{Start: start, End: len(r.pre)}
	return nil
}

// namedChoice appends chat's form of a function tool choice (its type
// and name at f).
func (p *parser) namedChoice(out []byte, f []wire.Span, pm param) ([]byte, error) {
	b := p.b
	if t := strOf(b, f[0]); string(t) != "function" {
		return nil, unsupported(pm.sub(".type"), "Tool choices of type '"+string(t)+"' are not supported by this gateway; only 'function' is.")
	}
	if !set(b, f[1]) || f[1].End-f[1].Start == 2 {
		return nil, missing(pm.sub(".name"))
	}
	out = append(out, `{"function":{"name":`...)
	out = appendStr(out, b, f[1])
	return append(out, `},"type":"function"}`...), nil
}

// grow makes room in r.pre for the translation of the member at v.
func (p *parser) grow(v wire.Span) {
	if n := v.End - v.Start + 64; cap(p.r.pre)-len(p.r.pre) < n {
		p.r.pre = append(make([]byte, 0, len(p.r.pre)+n+512), p.r.pre...)
	}
}

// pre appends v to r.pre and returns its span there.
func (p *parser) pre(v []byte) wire.Span {
	start := len(p.r.pre)
	p.r.pre = append(p.r.pre, v...)
	return wire.Span{Start: start, End: len(p.r.pre)}
}

// text reads the text member (format and verbosity).
func (p *parser) text(v wire.Span) error {
	b, r := p.b, p.r
	if b[v.Start] == 'n' {
		return nil
	}
	var f [2]wire.Span
	if !fields(b, p.ix, v, textNames, textKinds, f[:]) {
		return wrongType("text", "an object")
	}
	if err := p.onlyKeys(v, param{"text", -1}, textNames); err != nil {
		return err
	}
	r.format = wire.Span{}
	if fm := f[0]; set(b, fm) {
		p.grow(fm)
		var g [5]wire.Span
		if !fields(b, p.ix, fm, formatNames, formatKinds, g[:]) {
			return wrongType("text.format", "an object")
		}
		start := len(r.pre)
		switch typ := strOf(b, g[0]); string(typ) {
		case "text":
		case "json_object":
			r.pre = append(r.pre, `{"type":"json_object"}`...)
		case "json_schema":
			if !set(b, g[1]) || g[1].End-g[1].Start == 2 {
				return missing("text.format.name")
			}
			if !set(b, g[3]) || b[g[3].Start] != '{' {
				return missing("text.format.schema")
			}
			out := append(r.pre, `{"json_schema":{"name":`...)
			out = appendStr(out, b, g[1])
			if set(b, g[2]) {
				out = append(out, `,"description":`...)
				out = appendStr(out, b, g[2])
			}
			out = append(out, `,"schema":`...)
			out = appendCompact(out, b[g[3].Start:g[3].End])
			if set(b, g[4]) {
				out = append(out, `,"strict":`...)
				out = append(out, b[g[4].Start:g[4].End]...)
			}
			r.pre = append(out, `},"type":"json_schema"}`...)
		case "":
			return missing("text.format.type")
		default:
			return invalid("text.format.type", "Invalid value: '"+string(typ)+"'. Supported values are: 'text', 'json_object' and 'json_schema'.")
		}
		r.format = wire.Span{Start: start, End: len(r.pre)}
	}
	t := &r.own.text
	*t = TextConfig{}
	if f[0].Present() {
		t.Format = json.RawMessage(b[f[0].Start:f[0].End])
	}
	p.ptr(&t.Verbosity, sVerbosity, f[1])
	r.Text = t
	return nil
}

// marshal is json.Marshal without HTML escaping (the text is the user's).
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'}), nil
}
