package tokenize

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/pkoukk/tiktoken-go-loader/assets"
)

// Names of the supported encodings.
const (
	O200KBase  = "o200k_base"
	CL100KBase = "cl100k_base"
)

// ErrUnknownEncoding is returned for an encoding name this package lacks.
var ErrUnknownEncoding = errors.New("unknown encoding")

// ErrUnknownToken is returned when decoding an id outside the vocabulary.
var ErrUnknownToken = errors.New("unknown token id")

// Encoding is one byte-pair encoding with its vocabulary. It is safe for
// concurrent use.
type Encoding struct {
	name    string
	split   func(s string, i int) int
	vocab   *vocab
	special map[string]int
	byID    map[int]string
	pool    sync.Pool // *heapScratch
}

type encodingSpec struct {
	file    string
	split   func(string, int) int
	special map[string]int
}

var specs = map[string]encodingSpec{
	O200KBase: {
		file:  "o200k_base.tiktoken",
		split: splitO200K,
		special: map[string]int{
			"<|endoftext|>":   199999,
			"<|endofprompt|>": 200018,
		},
	},
	CL100KBase: {
		file:  "cl100k_base.tiktoken",
		split: splitCL100K,
		special: map[string]int{
			"<|endoftext|>":   100257,
			"<|fim_prefix|>":  100258,
			"<|fim_middle|>":  100259,
			"<|fim_suffix|>":  100260,
			"<|endofprompt|>": 100276,
		},
	},
}

type lazyEncoding struct {
	once sync.Once
	enc  *Encoding
	err  error
}

// loaded is never written after init, so reading it needs no lock.
var loaded = map[string]*lazyEncoding{
	O200KBase:  {},
	CL100KBase: {},
}

// Names returns the names of the supported encodings.
func Names() []string { return []string{O200KBase, CL100KBase} }

// Get returns the named encoding, building it from the embedded vocabulary
// on first use; later calls return the same value.
func Get(name string) (*Encoding, error) {
	l, ok := loaded[name]
	if !ok {
		return nil, fmt.Errorf("encoding %q: %w", name, ErrUnknownEncoding)
	}
	l.once.Do(func() { l.enc, l.err = build(name) })
	return l.enc, l.err
}

func build(name string) (*Encoding, error) {
	spec := specs[name]
	file, err := assets.Assets.ReadFile(spec.file)
	if err != nil {
		return nil, fmt.Errorf("reading %s vocabulary: %w", name, err)
	}
	v, err := parseVocab(file)
	if err != nil {
		return nil, fmt.Errorf("parsing %s vocabulary: %w", name, err)
	}
	initClasses()
	e := &Encoding{
		name:    name,
		split:   spec.split,
		vocab:   v,
		special: spec.special,
		byID:    make(map[int]string, len(spec.special)),
	}
	for s, id := range spec.special {
		if id < v.size() {
			return nil, fmt.Errorf("%s: special token %s id %d collides with the vocabulary", name, s, id)
		}
		e.byID[id] = s
	}
	return e, nil
}

// Name returns the encoding's name, such as "o200k_base".
func (e *Encoding) Name() string { return e.name }

// VocabSize returns the number of ordinary (non-special) tokens.
func (e *Encoding) VocabSize() int { return e.vocab.size() }

// SpecialTokens returns a copy of the special tokens and their ids.
func (e *Encoding) SpecialTokens() map[string]int {
	m := make(map[string]int, len(e.special))
	for s, id := range e.special {
		m[s] = id
	}
	return m
}

// Count returns the number of tokens text encodes to; it equals
// len(e.Encode(text)) without building the slice.
func (e *Encoding) Count(text string) int {
	var buf [smallPiece + 1]part
	var sc *heapScratch
	n := 0
	for i := 0; i < len(text); {
		j := e.split(text, i)
		piece := text[i:j]
		i = j
		if len(piece) == 1 {
			n++
			continue
		}
		if _, ok := e.vocab.lookup(piece); ok {
			n++
			continue
		}
		if len(piece) <= smallPiece {
			n += len(e.vocab.mergeScan(piece, buf[:0])) - 1
			continue
		}
		if sc == nil {
			sc = e.scratch()
		}
		sc.parts = e.vocab.mergeHeap(piece, sc.parts, sc)
		n += len(sc.parts) - 1
	}
	e.release(sc)
	return n
}

// Encode returns the token ids of text. Special-token text is encoded as
// ordinary text.
func (e *Encoding) Encode(text string) []int {
	return e.AppendEncode(make([]int, 0, len(text)/4+1), text)
}

// AppendEncode appends the token ids of text to dst and returns the
// extended slice. Special-token text is encoded as ordinary text.
func (e *Encoding) AppendEncode(dst []int, text string) []int {
	var buf [smallPiece + 1]part
	var sc *heapScratch
	for i := 0; i < len(text); {
		j := e.split(text, i)
		piece := text[i:j]
		i = j
		if len(piece) == 1 {
			dst = append(dst, int(e.vocab.bytes[piece[0]]))
			continue
		}
		if r, ok := e.vocab.lookup(piece); ok {
			dst = append(dst, int(r))
			continue
		}
		var parts []part
		if len(piece) <= smallPiece {
			parts = e.vocab.mergeScan(piece, buf[:0])
		} else {
			if sc == nil {
				sc = e.scratch()
			}
			sc.parts = e.vocab.mergeHeap(piece, sc.parts, sc)
			parts = sc.parts
		}
		for k := 0; k+1 < len(parts); k++ {
			dst = append(dst, int(e.vocab.rank(piece[parts[k].start:parts[k+1].start])))
		}
	}
	e.release(sc)
	return dst
}

// EncodeSpecial is Encode, except that the encoding's special tokens (such
// as "<|endoftext|>") found in text become their special ids.
func (e *Encoding) EncodeSpecial(text string) []int {
	dst := make([]int, 0, len(text)/4+1)
	for {
		at, tok := e.nextSpecial(text)
		if at < 0 {
			return e.AppendEncode(dst, text)
		}
		dst = e.AppendEncode(dst, text[:at])
		dst = append(dst, e.special[tok])
		text = text[at+len(tok):]
	}
}

// nextSpecial finds the first special token in text.
func (e *Encoding) nextSpecial(text string) (int, string) {
	for off := 0; ; {
		i := strings.Index(text[off:], "<|")
		if i < 0 {
			return -1, ""
		}
		off += i
		for tok := range e.special {
			if strings.HasPrefix(text[off:], tok) {
				return off, tok
			}
		}
		off += 2
	}
}

// Decode returns the bytes the ids stand for, as a string.
func (e *Encoding) Decode(ids []int) (string, error) {
	b, err := e.AppendDecode(nil, ids)
	return string(b), err
}

// AppendDecode appends the bytes the ids stand for to dst. On an unknown
// id it returns dst extended up to that id, and an error.
func (e *Encoding) AppendDecode(dst []byte, ids []int) ([]byte, error) {
	for _, id := range ids {
		if id >= 0 && id < e.vocab.size() {
			dst = append(dst, e.vocab.token(uint32(id))...)
			continue
		}
		s, ok := e.byID[id]
		if !ok {
			return dst, fmt.Errorf("decoding %d: %w", id, ErrUnknownToken)
		}
		dst = append(dst, s...)
	}
	return dst, nil
}

// release returns sc to the pool unless it is nil or was grown by a huge
// piece, which should not stay pinned.
func (e *Encoding) release(sc *heapScratch) {
	if sc != nil && cap(sc.nodes) <= 1<<16 {
		e.pool.Put(sc)
	}
}

func (e *Encoding) scratch() *heapScratch {
	if sc, ok := e.pool.Get().(*heapScratch); ok {
		return sc
	}
	return new(heapScratch)
}
