package openai

import (
	"testing"
)

// walk lists every span an iterator yields, depth first, with its key.
func walk(t *testing.T, body []byte, ix *Index, sp Span, out *[]string, indexed *int) {
	it := ix.Iter(body, sp)
	for {
		k, v, ok := it.Next()
		if !ok {
			break
		}
		if it.ix != nil {
			*indexed++
		}
		*out = append(*out, string(k)+"="+string(body[v.Start:v.End]))
		if c := body[v.Start]; c == '{' || c == '[' {
			walk(t, body, ix, v, out, indexed)
		}
	}
}

func TestIterMatchesEach(t *testing.T) {
	bodies := []string{
		`{}`,
		` { "a" : [ 1 , "x\"y" , { "b" : [ ] , "c" : { } } , null ] , "d":"\\", "e" : {"f":[[[]]]} } `,
		`{"messages":[{"role":"user","content":[{"type":"text","text":"a \"quoted\" [bracket] {brace}"}]}],"n":-1.5e3}`,
	}
	for _, s := range bodies {
		b := []byte(s)
		var ix Index
		if _, err := ScanIndexed(b, &ix); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		var want, got, plain []string
		var n, m int
		walk(t, b, &ix, Span{0, len(b)}, &got, &n)
		walk(t, b, nil, Span{0, len(b)}, &plain, &m)
		var each func(sp Span)
		each = func(sp Span) {
			Each(b, sp, func(k []byte, v Span) bool {
				want = append(want, string(k)+"="+string(b[v.Start:v.End]))
				if c := b[v.Start]; c == '{' || c == '[' {
					each(v)
				}
				return true
			})
		}
		each(Span{0, len(b)})
		if len(want) != len(got) || len(want) != len(plain) {
			t.Fatalf("%s:\n Each %q\n indexed %q\n plain %q", s, want, got, plain)
		}
		for i := range want {
			if want[i] != got[i] || want[i] != plain[i] {
				t.Fatalf("%s: element %d: Each %q, indexed %q, plain %q", s, i, want[i], got[i], plain[i])
			}
		}
		if n != len(got) {
			t.Errorf("%s: the index was dropped on %d of %d steps", s, len(got)-n, len(got))
		}
	}
}

// FuzzIter checks that on bodies Scan accepts, the plain and indexed
// iterators agree with Each, and that on any body they never panic.
func FuzzIter(f *testing.F) {
	f.Add([]byte(`{"a":[1,{"b":"c\\"},[]],"d":{"e":null}}`))
	f.Add([]byte(`{"a":"\"]}"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var ix Index
		if _, err := ScanIndexed(b, &ix); err != nil {
			// Not a valid body: iterating, even with the partial index,
			// must still be safe.
			var got []string
			var n int
			walk(t, b, nil, Span{0, len(b)}, &got, &n)
			walk(t, b, &ix, Span{0, len(b)}, &got, &n)
			return
		}
		var got, plain []string
		var n, m int
		walk(t, b, &ix, Span{0, len(b)}, &got, &n)
		walk(t, b, nil, Span{0, len(b)}, &plain, &m)
		var want []string
		var each func(sp Span)
		each = func(sp Span) {
			Each(b, sp, func(k []byte, v Span) bool {
				want = append(want, string(k)+"="+string(b[v.Start:v.End]))
				if c := b[v.Start]; c == '{' || c == '[' {
					each(v)
				}
				return true
			})
		}
		each(Span{0, len(b)})
		if len(want) != len(got) || len(want) != len(plain) {
			t.Fatalf("Each %q\nindexed %q\nplain %q", want, got, plain)
		}
		for i := range want {
			if want[i] != got[i] || want[i] != plain[i] {
				t.Fatalf("element %d: Each %q, indexed %q, plain %q", i, want[i], got[i], plain[i])
			}
		}
		if n != len(got) {
			t.Fatalf("the index was dropped on %d of %d steps", len(got)-n, len(got))
		}
	})
}
