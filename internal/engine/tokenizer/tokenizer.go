// Package tokenizer turns text into token ids and back for GGUF models, the
// way llama.cpp does: SentencePiece-style BPE over scores with byte fallback
// (tokenizer model "llama") and GPT-2 byte-level BPE with merges and a named
// pre-tokenizer (tokenizer model "gpt2"). Special and control tokens, the
// BOS/EOS flags and the end-of-generation set come from the same metadata.
//
// A Tokenizer is immutable after New and safe for concurrent use.
package tokenizer

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// TokenType is the per-token type stored in tokenizer.ggml.token_type.
type TokenType int32

// Token types, numbered as in llama.cpp's llama_token_type.
const (
	TypeUndefined   TokenType = 0
	TypeNormal      TokenType = 1
	TypeUnknown     TokenType = 2
	TypeControl     TokenType = 3
	TypeUserDefined TokenType = 4
	TypeUnused      TokenType = 5
	TypeByte        TokenType = 6
)

// None marks an absent special token id.
const None = -1

// Vocab is everything a tokenizer is built from. FromGGUF fills it from a
// model file, applying llama.cpp's defaults; callers building one by hand
// set every special id they need (None for absent ones).
type Vocab struct {
	Model  string      // "llama" (SentencePiece) or "gpt2" (byte-level BPE)
	Pre    string      // pre-tokenizer name for "gpt2" ("gpt-2", "llama-bpe", "qwen2", ...); "" means "default"
	Tokens []string    // token texts, indexed by id
	Scores []float32   // SentencePiece merge scores; may be nil for "gpt2"
	Types  []TokenType // per-token types; nil means all normal
	Merges []string    // BPE merges "left right", in rank order ("gpt2" only)

	BOS, EOS, EOT, EOM, UNK, PAD, SEP int // special ids, None when absent

	AddBOS, AddEOS bool
	AddSpacePrefix bool // "llama" only: prefix raw text with a space as SentencePiece does

	// RStripSpecial makes special tokens swallow the whitespace that follows
	// them in raw text (llama.cpp sets this for Phi-3 models).
	RStripSpecial bool
}

// Tokenizer encodes and decodes text for one vocabulary.
type Tokenizer struct {
	model        string
	pre          preTokenizer
	ignoreMerges bool

	tokens  []string
	scores  []float32
	types   []TokenType
	rstrip  []bool // per token: absorb following whitespace when split out of raw text
	toID    map[string]int
	maxLen  int      // longest token text in bytes
	pieces  [][]byte // decoded bytes of each token (empty for control/unknown)
	ranks   map[mergePair]int
	byteTok [256]int // id of the token for each raw byte (byte fallback), or None

	special []int // special-token ids sorted by text length, longest first
	eog     map[int]bool

	bos, eos, eot, eom, unk, pad, sep int
	addBOS, addEOS, addSpacePrefix    bool
}

type mergePair struct{ a, b string }

// New builds a tokenizer from v.
func New(v Vocab) (*Tokenizer, error) {
	n := len(v.Tokens)
	if n == 0 {
		return nil, errors.New("tokenizer: empty vocabulary")
	}
	if v.Scores != nil && len(v.Scores) < n {
		return nil, fmt.Errorf("tokenizer: %d scores for %d tokens", len(v.Scores), n)
	}
	if v.Types != nil && len(v.Types) < n {
		return nil, fmt.Errorf("tokenizer: %d token types for %d tokens", len(v.Types), n)
	}
	t := &Tokenizer{
		model:          v.Model,
		tokens:         make([]string, n),
		scores:         make([]float32, n),
		types:          make([]TokenType, n),
		rstrip:         make([]bool, n),
		toID:           make(map[string]int, n),
		pieces:         make([][]byte, n),
		addBOS:         v.AddBOS,
		addEOS:         v.AddEOS,
		addSpacePrefix: v.AddSpacePrefix,
	}
	for i, s := range v.Tokens {
		if s == "" {
			s = fmt.Sprintf("[EMPTY_%d]", i) // as llama.cpp does, so that ids stay distinct
		}
		t.tokens[i] = s
		t.toID[s] = i // last one wins on duplicates, as in llama.cpp
		t.maxLen = max(t.maxLen, len(s))
		if v.Scores != nil {
			t.scores[i] = v.Scores[i]
		}
		t.types[i] = TypeNormal
		if v.Types != nil {
			t.types[i] = v.Types[i]
		}
	}
	ids := []struct {
		dst  *int
		v    int
		name string
	}{
		{&t.bos, v.BOS, "bos"}, {&t.eos, v.EOS, "eos"}, {&t.eot, v.EOT, "eot"}, {&t.eom, v.EOM, "eom"},
		{&t.unk, v.UNK, "unk"}, {&t.pad, v.PAD, "pad"}, {&t.sep, v.SEP, "sep"},
	}
	for _, x := range ids {
		if x.v < None || x.v >= n {
			return nil, fmt.Errorf("tokenizer: %s id %d out of range [0,%d)", x.name, x.v, n)
		}
		*x.dst = x.v
	}
	if t.addBOS && t.bos == None {
		return nil, errors.New("tokenizer: add_bos set without a bos token")
	}
	if t.addEOS && t.eos == None {
		return nil, errors.New("tokenizer: add_eos set without an eos token")
	}

	switch v.Model {
	case "llama":
		t.addSpacePrefix = v.AddSpacePrefix
	case "gpt2":
		pre, ignore, err := lookupPre(v.Pre)
		if err != nil {
			return nil, err
		}
		t.pre, t.ignoreMerges = pre, ignore
		t.ranks = make(map[mergePair]int, len(v.Merges))
		for i, m := range v.Merges {
			// llama.cpp splits at the first space after the first byte.
			p := strings.IndexByte(m[min(1, len(m)):], ' ')
			var a, b string
			if p >= 0 {
				p += min(1, len(m))
				a, b = m[:p], m[p+1:]
			}
			if _, dup := t.ranks[mergePair{a, b}]; !dup {
				t.ranks[mergePair{a, b}] = i
			}
		}
	default:
		return nil, fmt.Errorf("tokenizer: unsupported tokenizer model %q", v.Model)
	}

	t.markEOG()
	t.buildPieces()
	for b := 0; b < 256; b++ {
		t.byteTok[b] = t.findByteToken(byte(b))
	}
	for id, ty := range t.types {
		if ty == TypeControl || ty == TypeUserDefined || ty == TypeUnknown {
			t.special = append(t.special, id)
		}
	}
	sort.SliceStable(t.special, func(i, j int) bool {
		return len(t.tokens[t.special[i]]) > len(t.tokens[t.special[j]])
	})
	if v.RStripSpecial {
		for _, id := range t.special {
			t.rstrip[id] = true
		}
		for _, s := range []string{"<unk>", "<s>", "<|endoftext|>"} {
			if id, ok := t.toID[s]; ok {
				t.rstrip[id] = false
			}
		}
		if id, ok := t.toID["</s>"]; ok {
			t.rstrip[id] = true
		}
	}
	return t, nil
}

// eogTexts are the token texts llama.cpp treats as end of generation.
var eogTexts = []string{
	"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "</s>",
	"<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>", "<eos>",
	"<｜end▁of▁sentence｜>",
	// Fill-in-the-middle padding and file separators (Qwen2.5 and others)
	// also end generation in llama.cpp.
	"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]",
	"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", "<|file_sep|>",
}

// eotTexts are the texts llama.cpp takes as the EOT token when the file
// names none, in its order of preference.
var eotTexts = []string{
	"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
	"<EOT>", "_<EOT>", "<｜end▁of▁sentence｜>", "<end_of_utterance>",
}

func (t *Tokenizer) markEOG() {
	t.eog = make(map[int]bool)
	if t.eot == None {
		for _, s := range eotTexts {
			if id, ok := t.toID[s]; ok {
				t.eot = id
				break
			}
		}
	}
	if t.eom == None {
		if id, ok := t.toID["<|eom_id|>"]; ok {
			t.eom = id
		}
	}
	for _, s := range eogTexts {
		if id, ok := t.toID[s]; ok {
			t.eog[id] = true
		}
	}
	for _, id := range []int{t.eos, t.eot, t.eom} {
		if id != None {
			t.eog[id] = true
		}
	}
	// llama.cpp marks every end-of-generation token as control, so that it
	// is split out of text only on request and not printed.
	for id := range t.eog {
		if t.types[id] != TypeControl {
			t.types[id] = TypeControl
		}
	}
}

func (t *Tokenizer) buildPieces() {
	for id, s := range t.tokens {
		switch t.types[id] {
		case TypeControl, TypeUnknown, TypeUnused, TypeUndefined:
			// Not printed (llama.cpp suppresses every type it does not
			// render, and prints <unk> only when asked for specials).
			t.pieces[id] = nil
		case TypeUserDefined:
			t.pieces[id] = []byte(s)
		case TypeByte:
			if b, ok := parseByteToken(s); ok {
				t.pieces[id] = []byte{b}
			}
		default:
			if t.model == "llama" {
				t.pieces[id] = []byte(strings.ReplaceAll(s, "▁", " "))
			} else {
				t.pieces[id] = decodeByteLevel(s)
			}
		}
	}
}

// parseByteToken parses "<0xNN>".
func parseByteToken(s string) (byte, bool) {
	if len(s) != 6 || s[:3] != "<0x" || s[5] != '>' {
		return 0, false
	}
	hi, ok1 := hexVal(s[3])
	lo, ok2 := hexVal(s[4])
	return hi<<4 | lo, ok1 && ok2
}

func hexVal(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

const hexDigits = "0123456789ABCDEF"

// findByteToken returns the token a raw byte falls back to.
func (t *Tokenizer) findByteToken(b byte) int {
	if t.model == "llama" {
		if id, ok := t.toID[string([]byte{'<', '0', 'x', hexDigits[b>>4], hexDigits[b&15], '>'})]; ok {
			return id
		}
		if id, ok := t.toID[string([]byte{b})]; ok {
			return id
		}
		return t.unk
	}
	if id, ok := t.toID[byteToRune[b]]; ok {
		return id
	}
	return None
}

// VocabSize is the number of tokens.
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// BOS is the beginning-of-sequence id, or None.
func (t *Tokenizer) BOS() int { return t.bos }

// EOS is the end-of-sequence id, or None.
func (t *Tokenizer) EOS() int { return t.eos }

// EOT is the end-of-turn id (given or detected by text), or None.
func (t *Tokenizer) EOT() int { return t.eot }

// PAD is the padding id, or None.
func (t *Tokenizer) PAD() int { return t.pad }

// UNK is the unknown-token id, or None.
func (t *Tokenizer) UNK() int { return t.unk }

// AddBOS reports whether Encode with addSpecial prepends BOS.
func (t *Tokenizer) AddBOS() bool { return t.addBOS }

// AddEOS reports whether Encode with addSpecial appends EOS.
func (t *Tokenizer) AddEOS() bool { return t.addEOS }

// Model is the tokenizer model name ("llama" or "gpt2").
func (t *Tokenizer) Model() string { return t.model }

// IsEOG reports whether id ends generation: EOS, EOT, EOM and the tokens
// llama.cpp recognises by text (<|im_end|>, <|eot_id|>, <|end|>, ...).
func (t *Tokenizer) IsEOG(id int) bool { return t.eog[id] }

// EOGs returns the end-of-generation ids in ascending order.
func (t *Tokenizer) EOGs() []int {
	out := make([]int, 0, len(t.eog))
	for id := range t.eog {
		out = append(out, id)
	}
	sort.Ints(out)
	return out
}

// Type returns the type of token id (TypeUndefined when out of range).
func (t *Tokenizer) Type(id int) TokenType {
	if id < 0 || id >= len(t.types) {
		return TypeUndefined
	}
	return t.types[id]
}

// IsControl reports whether id is a control token (not printed).
func (t *Tokenizer) IsControl(id int) bool { return t.Type(id) == TypeControl }

// TokenText returns the vocabulary text of id as stored in the model
// ("▁the", "Ġthe", "<|im_end|>"), or "" when out of range.
func (t *Tokenizer) TokenText(id int) string {
	if id < 0 || id >= len(t.tokens) {
		return ""
	}
	return t.tokens[id]
}

// TokenID returns the id whose vocabulary text is exactly s.
func (t *Tokenizer) TokenID(s string) (int, bool) {
	id, ok := t.toID[s]
	return id, ok
}

// TokenPiece returns the raw bytes token id stands for, as printed while
// streaming: the ▁ of SentencePiece tokens becomes a space, byte tokens
// become their byte, byte-level BPE tokens are mapped back to bytes, and
// control tokens are empty. A piece may be part of a UTF-8 sequence. The
// returned slice must not be modified.
func (t *Tokenizer) TokenPiece(id int) []byte {
	if id < 0 || id >= len(t.pieces) {
		return nil
	}
	return t.pieces[id]
}

// Decode turns ids back into text: the concatenated pieces, with control
// tokens left out and, for SentencePiece vocabularies that add a space
// prefix, the leading space of the first token removed (llama.cpp's
// detokenize without special tokens and without space clean-up). For a
// continuation of earlier text, concatenate TokenPiece instead.
func (t *Tokenizer) Decode(ids []int) string {
	var b strings.Builder
	for i, id := range ids {
		p := t.TokenPiece(id)
		if i == 0 && t.addSpacePrefix && len(p) > 0 && p[0] == ' ' {
			p = p[1:]
		}
		b.Write(p)
	}
	return b.String()
}

// fragment is a stretch of raw text or one special token.
type fragment struct {
	text string
	id   int // None for raw text
}

// Encode turns text into ids. With addSpecial, BOS and EOS are added as
// the model asks (AddBOS/AddEOS). With parseSpecial, the texts of control
// tokens ("<|im_start|>", "<s>") in text become those tokens; user-defined
// tokens are always matched, as in llama.cpp.
func (t *Tokenizer) Encode(text string, addSpecial, parseSpecial bool) []int {
	out := make([]int, 0, len(text)/3+2)
	if addSpecial && t.addBOS {
		out = append(out, t.bos)
	}
	var frags []fragment
	if text != "" {
		frags = t.partition(text, parseSpecial)
	}
	switch t.model {
	case "llama":
		prevSpecial := true
		var buf []byte
		for _, f := range frags {
			if f.id != None {
				out = append(out, f.id)
				prevSpecial = true
				continue
			}
			buf = buf[:0]
			if t.addSpacePrefix && prevSpecial {
				buf = append(buf, "▁"...)
			}
			buf = appendEscaped(buf, f.text)
			out = t.encodeSPM(out, buf)
			prevSpecial = false
		}
	case "gpt2":
		for _, f := range frags {
			if f.id != None {
				out = append(out, f.id)
				continue
			}
			out = t.encodeBPE(out, f.text)
		}
	}
	if addSpecial && t.addEOS {
		out = append(out, t.eos)
	}
	return out
}

func appendEscaped(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			buf = append(buf, "▁"...)
		} else {
			buf = append(buf, s[i])
		}
	}
	return buf
}

// partition splits text at the special tokens it contains, longest token
// first, as llama.cpp's tokenizer_st_partition does.
func (t *Tokenizer) partition(text string, parseSpecial bool) []fragment {
	frags := []fragment{{text: text, id: None}}
	for _, id := range t.special {
		ty := t.types[id]
		if !parseSpecial && (ty == TypeControl || ty == TypeUnknown) {
			continue
		}
		tok := t.tokens[id]
		if !strings.Contains(text, tok) {
			continue
		}
		var next []fragment
		for _, f := range frags {
			if f.id != None {
				next = append(next, f)
				continue
			}
			s := f.text
			for {
				k := strings.Index(s, tok)
				if k < 0 {
					if s != "" {
						next = append(next, fragment{text: s, id: None})
					}
					break
				}
				if k > 0 {
					next = append(next, fragment{text: s[:k], id: None})
				}
				next = append(next, fragment{id: id})
				s = s[k+len(tok):]
				if t.rstrip[id] {
					s = strings.TrimLeft(s, " \t\n\v\f\r")
				}
			}
		}
		frags = next
	}
	return frags
}
