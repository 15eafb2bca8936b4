package tokenize

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/maphash"
	"strconv"
)

// noRank marks a byte sequence that is not in the vocabulary.
const noRank = ^uint32(0)

// vocab maps token bytes to ranks (= ids) and back. It is an open-addressing
// hash table of 64-bit slots: the high half holds 32 bits of the key's hash
// (to reject most mismatches without touching the token bytes), the low half
// holds rank+1 (0 marks an empty slot). The token bytes live in one string,
// in rank order, delimited by off.
type vocab struct {
	seed  maphash.Seed
	slots []uint64
	mask  uint64
	data  string   // all tokens' bytes, concatenated in rank order
	off   []uint32 // token r is data[off[r]:off[r+1]]
	bytes [256]uint32
}

// parseVocab reads a .tiktoken file: one "base64(token) rank" per line,
// ranks 0, 1, 2… in order.
func parseVocab(file []byte) (*vocab, error) {
	n := bytes.Count(file, []byte{'\n'}) + 1
	data := make([]byte, 0, len(file)/2)
	off := make([]uint32, 1, n+1)
	for lineNo := 1; len(file) > 0; lineNo++ {
		line := file
		if i := bytes.IndexByte(file, '\n'); i >= 0 {
			line, file = file[:i], file[i+1:]
		} else {
			file = nil
		}
		if len(line) == 0 {
			continue
		}
		tok, rank, ok := bytes.Cut(line, []byte{' '})
		if !ok {
			return nil, fmt.Errorf("line %d: missing rank", lineNo)
		}
		r, err := strconv.ParseUint(string(rank), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("line %d: rank: %w", lineNo, err)
		}
		if r != uint64(len(off)-1) {
			return nil, fmt.Errorf("line %d: rank %d out of order, want %d", lineNo, r, len(off)-1)
		}
		before := len(data)
		data, err = base64.StdEncoding.AppendDecode(data, tok)
		if err != nil {
			return nil, fmt.Errorf("line %d: token: %w", lineNo, err)
		}
		if len(data) == before {
			return nil, fmt.Errorf("line %d: empty token", lineNo)
		}
		off = append(off, uint32(len(data)))
	}
	if len(off) == 1 {
		return nil, errors.New("empty vocabulary")
	}
	v := &vocab{seed: maphash.MakeSeed(), data: string(data), off: off}
	size := 1
	for size < 2*v.size() {
		size <<= 1
	}
	v.slots = make([]uint64, size)
	v.mask = uint64(size - 1)
	for r := range uint32(v.size()) {
		if !v.insert(r) {
			return nil, fmt.Errorf("rank %d: duplicate token %q", r, v.token(r))
		}
	}
	for b := range 256 {
		r, ok := v.lookup(string([]byte{byte(b)}))
		if !ok {
			return nil, fmt.Errorf("byte %#02x has no token", b)
		}
		v.bytes[b] = r
	}
	return v, nil
}

// size returns the number of tokens.
func (v *vocab) size() int { return len(v.off) - 1 }

// token returns the bytes of rank r, which must be < size.
func (v *vocab) token(r uint32) string { return v.data[v.off[r]:v.off[r+1]] }

func (v *vocab) insert(r uint32) bool {
	s := v.token(r)
	h := maphash.String(v.seed, s)
	tag := h >> 32 << 32
	for i := h & v.mask; ; i = (i + 1) & v.mask {
		e := v.slots[i]
		if e == 0 {
			v.slots[i] = tag | uint64(r+1)
			return true
		}
		if e&^0xffffffff == tag && v.token(uint32(e)-1) == s {
			return false
		}
	}
}

// lookup returns the rank of s.
func (v *vocab) lookup(s string) (uint32, bool) {
	h := maphash.String(v.seed, s)
	tag := h >> 32 << 32
	for i := h & v.mask; ; i = (i + 1) & v.mask {
		e := v.slots[i]
		if e == 0 {
			return noRank, false
		}
		if e&^0xffffffff == tag {
			r := uint32(e) - 1
			if v.data[v.off[r]:v.off[r+1]] == s {
				return r, true
			}
		}
	}
}

// rank returns the rank of s, or noRank.
func (v *vocab) rank(s string) uint32 {
	r, _ := v.lookup(s)
	return r
}
