package openai

// Each calls fn with the span of every element of the array at sp, or of
// every member value (with its raw key) of the object at sp. The body must
// already have passed Scan. It stops early when fn returns false.
func Each(body []byte, sp Span, fn func(key []byte, v Span) bool) {
	if !sp.Present() {
		return
	}
	s := scanner{b: body[:sp.End], i: sp.Start}
	open := body[sp.Start]
	if open != '[' && open != '{' {
		return
	}
	s.i++
	for {
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] == ']' || s.b[s.i] == '}' {
			return
		}
		var key []byte
		if open == '{' {
			ks := s.i
			if s.str() != nil {
				return
			}
			key = body[ks+1 : s.i-1]
			s.ws()
			s.i++ // ':'
			s.ws()
		}
		vs := s.i
		if _, err := s.value(1); err != nil {
			return
		}
		if !fn(key, Span{vs, s.i}) {
			return
		}
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == ',' {
			s.i++
		}
	}
}

// Member returns the span of the member key of the object at sp.
func Member(body []byte, sp Span, key string) Span {
	var out Span
	Each(body, sp, func(k []byte, v Span) bool {
		if string(k) == key {
			out = v
		}
		return true
	})
	return out
}
