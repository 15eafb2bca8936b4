package guard

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"switchyard/internal/hashmix"
)

// The built-in injection detector: a linear model over hashed word and
// Han-character n-grams of the normalised text and of its de-obfuscated
// views (leetspeak, Pinyin, base64, spaced letters), plus the phrase
// rules that fired as features. Text is scored in windows of up to
// 2×winStride features (stride winStride) and the best window counts, so a
// short injection buried in a long document is not diluted. Weights are
// int8 with one scale; the bias is shifted so that a score of 0.5 is the
// threshold chosen on the validation split when the model was trained
// (`switchyard guard train`, see README).

//go:embed builtin_injection.bin
var builtinModelFile []byte

// winStride is the window stride in features; windows are two strides.
const winStride = 80

// winNorm divides a window's sum: √n, but at least √minWin, so a text of
// two or three words is not scored by one feature's weight alone.
func winNorm(n int) float64 { return math.Sqrt(float64(max(n, minWin))) }

const minWin = 12

// Detector is a trained built-in injection model. It is immutable.
type Detector struct {
	bits  uint
	bias  float64
	scale float64
	w     []int8
	// Trained describes the data and threshold, for `guard eval`.
	Trained string
}

const detectorMagic = "SYINJ1\n"

// Builtin returns the detector shipped in the binary.
var Builtin = sync.OnceValue(func() *Detector {
	d, err := ReadDetector(bytes.NewReader(builtinModelFile))
	if err != nil {
		panic("guard: the embedded injection model is unreadable: " + err.Error())
	}
	return d
})

// ReadDetector reads a model written by WriteTo (gzip-compressed).
func ReadDetector(r io.Reader) (*Detector, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("injection model: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(zr, 1<<26))
	if err != nil {
		return nil, fmt.Errorf("injection model: %w", err)
	}
	if !bytes.HasPrefix(b, []byte(detectorMagic)) || len(b) < len(detectorMagic)+21 {
		return nil, errors.New("injection model: not a Switchyard injection model")
	}
	b = b[len(detectorMagic):]
	d := &Detector{bits: uint(b[0])}
	d.bias = math.Float64frombits(binary.LittleEndian.Uint64(b[1:]))
	d.scale = math.Float64frombits(binary.LittleEndian.Uint64(b[9:]))
	n := int(binary.LittleEndian.Uint32(b[17:]))
	b = b[21:]
	if d.bits < 8 || d.bits > 24 || n > len(b) || len(b)-n != 1<<d.bits {
		return nil, errors.New("injection model: truncated or corrupt")
	}
	d.Trained = string(b[:n])
	b = b[n:]
	d.w = make([]int8, len(b))
	for i, c := range b {
		d.w[i] = int8(c)
	}
	return d, nil
}

// WriteTo writes the model, gzip-compressed.
func (d *Detector) WriteTo(w io.Writer) (int64, error) {
	var buf bytes.Buffer
	buf.WriteString(detectorMagic)
	buf.WriteByte(byte(d.bits))
	buf.Write(binary.LittleEndian.AppendUint64(nil, math.Float64bits(d.bias)))
	buf.Write(binary.LittleEndian.AppendUint64(nil, math.Float64bits(d.scale)))
	buf.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(d.Trained))))
	buf.WriteString(d.Trained)
	for _, x := range d.w {
		buf.WriteByte(byte(x))
	}
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	zw.Write(buf.Bytes()) // writes to a bytes.Buffer do not fail
	if err := zw.Close(); err != nil {
		return 0, err
	}
	return z.WriteTo(w)
}

// feature tags keep the kinds of n-gram apart in the hash space.
const (
	tagWord uint64 = iota + 1
	tagBigram
	tagHan
	tagHan2
	tagRule
	tagStem
)

// stemLen is the prefix of a long word taken as its stem feature.
const stemLen = 5

const fnvOffset, fnvPrime = 14695981039346656037, 1099511628211

func bucket(x uint64, bits uint) uint32 { return uint32(hashmix.Mix64(x) >> (64 - bits)) }

// ruleFeature is the feature of a fired rule or view, by name.
func ruleFeature(name string, bits uint) uint32 {
	h := uint64(fnvOffset)
	for i := 0; i < len(name); i++ {
		h = (h ^ uint64(name[i])) * fnvPrime
	}
	return bucket(h^tagRule<<56, bits)
}

// isHanLike reports Han ideographs (the CJK blocks, extensions and
// compatibility ideographs) and kana: characters taken one by one.
func isHanLike(r rune) bool {
	return r >= 0x4E00 && r <= 0x9FFF || r >= 0x3400 && r <= 0x4DBF || r >= 0x3040 && r <= 0x30FF ||
		r >= 0xF900 && r <= 0xFAFF || r >= 0x20000 && r <= 0x3134F || r == 0x3007
}

// ngrams calls emit for each feature of norm in text order: words
// (letters and digits) and word bigrams, Han characters and bigrams.
// Sentence punctuation ends a bigram chain.
func ngrams(norm []byte, bits uint, emit func(uint32)) {
	var prevWord uint64
	havePrev := false
	var prevHan rune
	haveHan := false
	n := len(norm)
	for i := 0; i < n; {
		c := norm[i]
		if c < 0x80 && !isAlnum(c) {
			i++
			haveHan = false
			switch c {
			case '.', '!', '?', '\n', ';', ':':
				havePrev = false
			}
			continue
		}
		var r rune = rune(c)
		w := 1
		if c >= 0x80 {
			r, w = utf8.DecodeRune(norm[i:])
		}
		if c >= 0x80 && isHanLike(r) {
			emit(bucket(uint64(r)^tagHan<<56, bits))
			if haveHan {
				emit(bucket((uint64(prevHan)<<24|uint64(r))^tagHan2<<56, bits))
			}
			prevHan, haveHan, havePrev = r, true, false
			i += w
			continue
		}
		if c >= 0x80 && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			i += w
			haveHan = false
			havePrev = false
			continue
		}
		// a word: ASCII letters/digits and non-Han letters
		h := uint64(fnvOffset)
		var stem uint64
		j := i
		for j < n {
			b := norm[j]
			if b < 0x80 {
				if !isAlnum(b) {
					break
				}
				h = (h ^ uint64(b)) * fnvPrime
				if j-i == stemLen-1 {
					stem = h
				}
				j++
				continue
			}
			r, w := utf8.DecodeRune(norm[j:])
			if isHanLike(r) || !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				break
			}
			for k := 0; k < w; k++ {
				h = (h ^ uint64(norm[j+k])) * fnvPrime
			}
			j += w
		}
		wlen := j - i
		i = j
		haveHan = false
		if wlen == 1 {
			continue // single letters and digits carry no signal, only noise
		}
		emit(bucket(h^tagWord<<56, bits))
		if wlen > stemLen+1 && stem != 0 {
			emit(bucket(stem^tagStem<<56, bits))
		}
		if havePrev {
			emit(bucket((prevWord*31+h)^tagBigram<<56, bits))
		}
		prevWord, havePrev = h, true
	}
}

// windows returns the [start,end) feature ranges the detector scores for
// a segment of n features: every two consecutive strides, the first
// stride alone, and the tail.
func windows(n int) [][2]int {
	var out [][2]int
	k := 0
	for ; (k+1)*winStride <= n; k++ {
		out = append(out, [2]int{max(0, (k-1)*winStride), (k + 1) * winStride})
	}
	if n%winStride != 0 || len(out) == 0 {
		out = append(out, [2]int{max(0, (k-1)*winStride), n})
	}
	return out
}

// winAcc sums a segment's int8 weights by stride and keeps the best
// normalised window sum, in the same windows as windows().
type winAcc struct {
	w               []int8
	seenF           blockSet
	prevSum, curSum int32
	prevN, curN     int
	best            float64
	seen            bool
}

func (a *winAcc) add(f uint32) {
	if a.seenF.dup(f) {
		return
	}
	a.curSum += int32(a.w[f])
	a.curN++
	if a.curN == winStride {
		a.close()
		a.prevSum, a.prevN, a.curSum, a.curN = a.curSum, a.curN, 0, 0
		a.seenF = blockSet{}
	}
}

// blockSet drops a feature already seen in the current stride (by its
// low 10 bits), so repeating a phrase does not add up its weight.
type blockSet [16]uint64

func (b *blockSet) dup(f uint32) bool {
	i, m := f>>6&15, uint64(1)<<(f&63)
	if b[i]&m != 0 {
		return true
	}
	b[i] |= m
	return false
}

// dedupStream is the feature stream winAcc keeps: duplicates within a
// stride of kept features dropped.
func dedupStream(fs []uint32) []uint32 {
	out := fs[:0]
	var b blockSet
	n := 0
	for _, f := range fs {
		if b.dup(f) {
			continue
		}
		out = append(out, f)
		if n++; n == winStride {
			n, b = 0, blockSet{}
		}
	}
	return out
}

func (a *winAcc) close() {
	n := a.prevN + a.curN
	if n == 0 {
		return
	}
	v := float64(a.prevSum+a.curSum) / winNorm(n)
	if !a.seen || v > a.best {
		a.best, a.seen = v, true
	}
}

// endSegment closes the tail window and starts a new segment.
func (a *winAcc) endSegment() {
	if a.curN > 0 {
		a.close()
	}
	a.prevSum, a.prevN, a.curSum, a.curN = 0, 0, 0, 0
	a.seenF = blockSet{}
}

// evidence is what the rules and views found in a text: rule and view
// names (sorted, deduplicated) and the family names they point to.
type evidence struct {
	names []string
}

func (e *evidence) add(name string) {
	if !slices.Contains(e.names, name) {
		e.names = append(e.names, name)
	}
}

// familyOf maps a rule or view name to its family.
func familyOf(name string) string {
	switch {
	case strings.HasPrefix(name, "override."):
		return "direct"
	case strings.HasPrefix(name, "exfil."):
		return "exfil"
	case strings.HasPrefix(name, "roleplay."):
		return "roleplay"
	case strings.HasPrefix(name, "jailbreak."):
		return "jailbreak"
	case strings.HasPrefix(name, "indirect."):
		return "indirect"
	case strings.HasPrefix(name, "manipulation."), strings.HasPrefix(name, "attention."):
		return "manipulation"
	case strings.HasPrefix(name, "hidden."):
		return "obfuscation." + name[len("hidden."):]
	case strings.HasPrefix(name, "view."):
		return "obfuscation." + name[len("view."):]
	case strings.HasPrefix(name, "pinyin."):
		return name[len("pinyin."):]
	}
	return ""
}

// analysis is one text taken apart for the detector: its segments (the
// normalised text and each view that differs) and the evidence.
type analysis struct {
	segs [][]byte
	ev   evidence
}

// analyse builds the views of raw (whose normalised form is norm, with
// the rules in fired already found on it) and runs the rules on each.
func analyse(rules *ruleScorer, raw string, norm []byte, fired *[16]bool, zw, homo, tags, bidi int) analysis {
	var a analysis
	a.segs = append(a.segs, norm)
	mark := func(f *[16]bool) {
		for i, ok := range f[:len(rules.names)] {
			if ok {
				a.ev.add(rules.names[i])
			}
		}
	}
	mark(fired)
	// view adds a view's rule evidence; its n-grams are scored too when
	// it found something the text did not show (always, for decoded text)
	view := func(name string, v []byte, always bool) {
		var f [16]bool
		rules.m.find(bytesString(v), func(h kwHit) { f[h.id] = true })
		before := len(a.ev.names)
		mark(&f)
		if len(a.ev.names) > before {
			a.ev.add("view." + name)
			always = true
		}
		if always {
			a.segs = append(a.segs, v)
		}
	}
	if v, words := unleet(norm, nil); words > 0 {
		view("leet", v, words >= 2)
	}
	if spacedLetters(norm) {
		v, _, _, _, _ := normalise(despace(bytesString(norm)), nil)
		view("spaced", v, true)
	}
	if v, ok := pinyinView(norm, nil); ok {
		bitsFound := pinyinFamilies(v)
		for i, p := range pinyinPhrases {
			if bitsFound&(1<<i) != 0 {
				a.ev.add("pinyin." + p.family)
				a.ev.add("view.pinyin")
			}
		}
	}
	// base64, nested up to maxDecodeDepth, within one byte budget
	budget := maxViewBytes
	var decode func(s string, depth int)
	decode = func(s string, depth int) {
		if depth > maxDecodeDepth {
			return
		}
		budget = base64Runs(s, budget, func(d []byte) {
			dn, z, h, t, b := normalise(string(d), nil)
			if z+h+t+b > 0 {
				a.ev.add("hidden.in_base64")
			}
			a.ev.add("view.base64")
			view("base64", dn, true)
			decode(string(d), depth+1)
		})
	}
	decode(raw, 1)
	if zw > 0 {
		a.ev.add("hidden.zero_width")
	}
	if homo > 0 {
		a.ev.add("hidden.homoglyph")
	}
	if tags > 0 {
		a.ev.add("hidden.unicode_tags")
	}
	if bidi > 0 {
		a.ev.add("hidden.bidi")
	}
	slices.Sort(a.ev.names)
	return a
}

// score returns the detector's score for an analysed text: σ(bias +
// rule weights + best window).
func (d *Detector) score(a *analysis) float64 {
	var rule int32
	for _, n := range a.ev.names {
		rule += int32(d.w[ruleFeature(n, d.bits)])
	}
	acc := winAcc{w: d.w}
	for _, s := range a.segs {
		ngrams(s, d.bits, acc.add)
		acc.endSegment()
	}
	z := d.bias + d.scale*(float64(rule)+acc.best)
	return 1 / (1 + math.Exp(-z))
}

// families are the distinct families of the evidence; "learned" when
// the model flagged a text no rule or view explains.
func families(names []string) []string {
	var out []string
	for _, n := range names {
		if f := familyOf(n); f != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		out = []string{"learned"}
	}
	slices.Sort(out)
	return out
}
