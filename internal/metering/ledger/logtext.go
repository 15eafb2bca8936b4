package ledger

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"unicode/utf8"
)

// deflaters are reused: a flate.Writer allocates hundreds of KiB of
// state, which per record dominated the cost of keeping logs.
var deflaters = sync.Pool{New: func() any {
	zw, _ := flate.NewWriter(nil, flate.BestSpeed)
	return zw
}}

// Compress deflates a kept body and encodes it as base64 text, so it fits
// a TEXT column on every database.
func Compress(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	var buf bytes.Buffer
	zw := deflaters.Get().(*flate.Writer)
	zw.Reset(&buf)
	zw.Write(b)
	zw.Close()
	deflaters.Put(zw)
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// Decompress reverses Compress.
func Decompress(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(raw)), 64<<20))
}

// searchText is the lower-cased text of a conversation — the strings in
// the request and response JSON, or the response as is when it is plain
// streamed text — cut at 16 KiB, for LIKE-based full-text search.
func searchText(req, resp []byte) string {
	var b strings.Builder
	collect := func(doc []byte) {
		var v any
		if json.Unmarshal(doc, &v) != nil {
			b.Write(doc)
			b.WriteByte('\n')
			return
		}
		var walk func(v any, key string)
		walk = func(v any, key string) {
			switch x := v.(type) {
			case string:
				if key == "content" || key == "text" || key == "prompt" || key == "input" || key == "" {
					b.WriteString(x)
					b.WriteByte('\n')
				}
			case []any:
				for _, e := range x {
					walk(e, key)
				}
			case map[string]any:
				for k, e := range x {
					walk(e, k)
				}
			}
		}
		walk(v, "-")
	}
	collect(req)
	collect(resp)
	s := strings.ToLower(b.String())
	const max = 16 << 10
	if len(s) > max {
		s = s[:max]
		for len(s) > 0 && !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}
