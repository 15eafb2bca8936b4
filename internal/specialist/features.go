package specialist

import (
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"switchyard/internal/hashmix"
)

// FeatureConfig selects the sparse n-gram features.
type FeatureConfig struct {
	// WordMin..WordMax: word n-gram orders (default 1..2). Words are runs of
	// letters and digits; each CJK character counts as one word; sentence
	// start and end markers take part in the n-grams of order ≥ 2.
	WordMin int `json:"word_min"`
	WordMax int `json:"word_max"`
	// CharMin..CharMax: character n-gram orders inside non-CJK words padded
	// with a boundary marker on each side (default 1..5; CharMax < 0
	// disables them).
	CharMin int `json:"char_min"`
	CharMax int `json:"char_max"`
	// CJKMax: character n-grams of order 1..CJKMax over runs of CJK
	// characters (default 3; 0 disables).
	CJKMax int `json:"cjk_max"`
	// CharWeight scales the character-feature block against the word block
	// (each block is L2-normalised on its own first). Default 1.
	CharWeight float32 `json:"char_weight"`
	// NoSublinearTF uses raw term counts instead of 1+ln(tf).
	NoSublinearTF bool `json:"no_sublinear_tf,omitempty"`
	// NoIDF drops inverse-document-frequency weighting.
	NoIDF bool `json:"no_idf,omitempty"`
}

func (c FeatureConfig) withDefaults() FeatureConfig {
	if c.WordMin == 0 && c.WordMax == 0 {
		c.WordMin, c.WordMax = 1, 2
	}
	if c.WordMin < 1 {
		c.WordMin = 1
	}
	switch {
	case c.CharMin == 0 && c.CharMax == 0:
		c.CharMin, c.CharMax = 1, 5
	case c.CharMax < 0:
		c.CharMin, c.CharMax = 0, 0
	case c.CharMin < 1:
		c.CharMin = 1
	}
	if c.CJKMax == 0 {
		c.CJKMax = 3
	}
	if c.CJKMax < 0 {
		c.CJKMax = 0
	}
	if c.CharWeight == 0 {
		c.CharWeight = 1
	}
	return c
}

// Feature groups, kept in the low bits of a feature key.
const (
	groupWord = 0
	groupChar = 1
	numGroups = 2
)

// normalize lower-cases s and folds full-width ASCII forms and the
// ideographic space to their half-width equivalents.
func normalize(dst []rune, s string) []rune {
	dst = dst[:0]
	for _, r := range s {
		switch {
		case r >= 0xFF01 && r <= 0xFF5E:
			r -= 0xFEE0
		case r == 0x3000:
			r = ' '
		}
		dst = append(dst, unicode.ToLower(r))
	}
	return dst
}

func isCJK(r rune) bool {
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) ||
		unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Hangul, r)
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

// token is a span [start,end) of the normalised rune slice; cjk marks a
// single CJK character.
type token struct {
	start, end int32
	cjk        bool
}

func tokenize(dst []token, rs []rune) []token {
	dst = dst[:0]
	i := 0
	for i < len(rs) {
		r := rs[i]
		switch {
		case isCJK(r):
			dst = append(dst, token{int32(i), int32(i + 1), true})
			i++
		case isWordRune(r):
			j := i + 1
			for j < len(rs) {
				if isWordRune(rs[j]) && !isCJK(rs[j]) {
					j++
					continue
				}
				// Keep an apostrophe between letters: don't, i'm.
				if (rs[j] == '\'' || rs[j] == '’') && j+1 < len(rs) && unicode.IsLetter(rs[j+1]) && !isCJK(rs[j+1]) {
					j += 2
					continue
				}
				break
			}
			dst = append(dst, token{int32(i), int32(j), false})
			i = j
		default:
			i++
		}
	}
	return dst
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func hashRunes(h uint64, rs []rune) uint64 {
	for _, r := range rs {
		if r == '’' {
			r = '\''
		}
		h ^= uint64(r)
		h *= fnvPrime
	}
	return h
}

// key turns a 64-bit hash into a non-zero 32-bit feature key whose low bits
// carry the feature group.
func key(h uint64, group uint32) uint32 {
	k := uint32(hashmix.Mix64(h)>>32)&^(numGroups-1) | group
	if k == 0 {
		k = numGroups
	}
	return k
}

// scratch holds per-call buffers for feature extraction.
type scratch struct {
	runes  []rune
	toks   []token
	thash  []uint64
	keys   []uint32
	padded []rune
	scores []float32
	vec    sparseVec
}

// extract appends the feature keys of text (with repeats, unsorted) to
// s.keys and returns them.
func (c *FeatureConfig) extract(s *scratch, text string) []uint32 {
	s.runes = normalize(s.runes, text)
	s.toks = tokenize(s.toks, s.runes)
	keys := s.keys[:0]
	rs := s.runes
	toks := s.toks

	// Word n-grams with sentence boundary markers.
	s.thash = s.thash[:0]
	const bos, eos = 0x9ae16a3b2f90404f, 0xc3a5c85c97cb3127
	s.thash = append(s.thash, bos)
	for _, t := range toks {
		s.thash = append(s.thash, hashRunes(fnvOffset, rs[t.start:t.end]))
	}
	s.thash = append(s.thash, eos)
	th := s.thash
	for n := c.WordMin; n <= c.WordMax; n++ {
		lo, hi := 0, len(th)-n+1
		if n == 1 {
			lo, hi = 1, len(th)-1
		}
		for i := lo; i < hi; i++ {
			h := uint64(n) * 0x9e3779b97f4a7c15
			for j := range n {
				h = hashmix.Mix64(h ^ th[i+j])
			}
			keys = append(keys, key(h, groupWord))
		}
	}

	// Character n-grams: padded non-CJK words, and runs of CJK characters.
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.cjk {
			j := i
			for j < len(toks) && toks[j].cjk && toks[j].start == toks[i].start+int32(j-i) {
				j++
			}
			run := rs[t.start : t.start+int32(j-i)]
			for n := 1; n <= c.CJKMax; n++ {
				for p := 0; p+n <= len(run); p++ {
					h := hashRunes(fnvOffset^0x55, run[p:p+n])
					keys = append(keys, key(h, groupChar))
				}
			}
			i = j - 1
			continue
		}
		if c.CharMax == 0 {
			continue
		}
		s.padded = append(s.padded[:0], ' ')
		s.padded = append(s.padded, rs[t.start:t.end]...)
		s.padded = append(s.padded, ' ')
		w := s.padded
		for n := c.CharMin; n <= c.CharMax && n <= len(w); n++ {
			for p := 0; p+n <= len(w); p++ {
				if n == 1 && (p == 0 || p == len(w)-1) {
					continue // a lone boundary marker says nothing
				}
				h := hashRunes(fnvOffset^0xaa, w[p:p+n])
				keys = append(keys, key(h, groupChar))
			}
		}
	}
	s.keys = keys
	return keys
}

// sparseVec is a feature vector over compact feature indices.
type sparseVec struct {
	idx []int32
	val []float32
	grp []uint8
	buf []uint32 // radix sort buffer
}

// vocab maps feature keys to compact indices: keys[i] is the key of
// feature i, and table is an open-addressing index over keys (0 = empty,
// otherwise index+1).
type vocab struct {
	keys  []uint32
	table []int32
	shift uint32
}

func newVocab(keys []uint32) *vocab {
	size, bits := 16, uint32(4)
	for size < len(keys)+len(keys)/2 {
		size *= 2
		bits++
	}
	v := &vocab{keys: keys, table: make([]int32, size), shift: 32 - bits}
	mask := size - 1
	for idx, k := range keys {
		for i := v.slot(k); ; i = (i + 1) & mask {
			if v.table[i] == 0 {
				v.table[i] = int32(idx + 1)
				break
			}
		}
	}
	return v
}

func (v *vocab) slot(k uint32) int { return int((k * 0x9E3779B1) >> v.shift) }

func (v *vocab) get(k uint32) (int32, bool) {
	mask := len(v.table) - 1
	for i := v.slot(k); ; i = (i + 1) & mask {
		e := v.table[i]
		if e == 0 {
			return 0, false
		}
		if v.keys[e-1] == k {
			return e - 1, true
		}
	}
}

// vectorize turns sorted feature keys into a weighted, per-group
// L2-normalised vector. idf is indexed by compact index.
func (c *FeatureConfig) vectorize(out *sparseVec, keys []uint32, voc *vocab, idf []float32) {
	keys = sortKeys(keys, &out.buf)
	out.idx, out.val, out.grp = out.idx[:0], out.val[:0], out.grp[:0]
	var norm [numGroups]float64
	for i := 0; i < len(keys); {
		j := i + 1
		for j < len(keys) && keys[j] == keys[i] {
			j++
		}
		if ix, ok := voc.get(keys[i]); ok {
			tf := float64(j - i)
			if !c.NoSublinearTF && tf > 1 {
				tf = 1 + math.Log(tf)
			}
			v := float32(tf) * idf[ix]
			g := uint8(keys[i] & (numGroups - 1))
			norm[g] += float64(v) * float64(v)
			out.idx = append(out.idx, ix)
			out.val = append(out.val, v)
			out.grp = append(out.grp, g)
		}
		i = j
	}
	var scale [numGroups]float32
	for g := range numGroups {
		if norm[g] > 0 {
			scale[g] = float32(1 / math.Sqrt(norm[g]))
		}
	}
	scale[groupChar] *= c.CharWeight
	for k, g := range out.grp {
		out.val[k] *= scale[g]
	}
}

// sortKeys sorts keys, in place or into *buf, and returns the sorted
// slice. Longer inputs use a byte-wise LSD radix sort, which is several
// times faster than a comparison sort for the few hundred keys of a
// message; prediction sorts every message's keys.
func sortKeys(keys []uint32, buf *[]uint32) []uint32 {
	if len(keys) < 64 {
		slices.Sort(keys)
		return keys
	}
	if cap(*buf) < len(keys) {
		*buf = make([]uint32, len(keys))
	}
	src, dst := keys, (*buf)[:len(keys)]
	var count [256]int
	for shift := uint(0); shift < 32; shift += 8 {
		count = [256]int{}
		for _, k := range src {
			count[(k>>shift)&0xff]++
		}
		if count[(src[0]>>shift)&0xff] == len(src) {
			continue // every key has this byte: nothing to move
		}
		pos := 0
		for b, n := range count {
			count[b] = pos
			pos += n
		}
		for _, k := range src {
			b := (k >> shift) & 0xff
			dst[count[b]] = k
			count[b]++
		}
		src, dst = dst, src
	}
	return src
}

func runeLen(s string) int { return utf8.RuneCountInString(s) }

func indexFold(s, sub string) int { return strings.Index(strings.ToLower(s), strings.ToLower(sub)) }
