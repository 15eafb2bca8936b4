package tensor

import (
	"errors"
	"fmt"
)

// Type is a ggml tensor element type; the numeric values are ggml's ids, as
// stored in GGUF files.
type Type uint32

// The supported types, with their ggml ids.
const (
	F32  Type = 0
	F16  Type = 1
	Q4_0 Type = 2
	Q4_1 Type = 3
	Q5_0 Type = 6
	Q5_1 Type = 7
	Q8_0 Type = 8
	Q4_K Type = 12
	Q5_K Type = 13
	Q6_K Type = 14
	BF16 Type = 30
)

// QK is the block size of Q4_0 and Q8_0; QKK is the super-block size of the
// K types.
const (
	QK  = 32
	QKK = 256
)

// Errors returned by this package; callers may branch on them with errors.Is.
var (
	ErrUnknownType = errors.New("unknown tensor type")
	ErrLength      = errors.New("bad tensor length")
)

type typeInfo struct {
	name  string
	block int // elements per block
	bytes int // bytes per block
}

var typeInfos = map[Type]typeInfo{
	F32:  {"F32", 1, 4},
	F16:  {"F16", 1, 2},
	BF16: {"BF16", 1, 2},
	Q4_0: {"Q4_0", QK, 2 + QK/2},
	Q4_1: {"Q4_1", QK, 2 + 2 + QK/2},
	Q5_0: {"Q5_0", QK, 2 + 4 + QK/2},
	Q5_1: {"Q5_1", QK, 2 + 2 + 4 + QK/2},
	Q8_0: {"Q8_0", QK, 2 + QK},
	Q4_K: {"Q4_K", QKK, 2 + 2 + 12 + QKK/2},
	Q5_K: {"Q5_K", QKK, 2 + 2 + 12 + QKK/8 + QKK/2},
	Q6_K: {"Q6_K", QKK, QKK/2 + QKK/4 + QKK/16 + 2},
}

// Types lists the supported types in ascending id order.
func Types() []Type { return []Type{F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K, BF16} }

// Valid reports whether t is a type this package supports.
func (t Type) Valid() bool { _, ok := typeInfos[t]; return ok }

// String returns ggml's name for t ("Q4_K"), or "type(N)" for an unknown id.
func (t Type) String() string {
	if ti, ok := typeInfos[t]; ok {
		return ti.name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// ParseType returns the type named s (as String prints it).
func ParseType(s string) (Type, error) {
	for t, ti := range typeInfos {
		if ti.name == s {
			return t, nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrUnknownType, s)
}

// BlockSize returns the number of elements in one block of t (1 for the
// float types), or 0 for an unknown type.
func (t Type) BlockSize() int { return typeInfos[t].block }

// BytesPerBlock returns the size in bytes of one block of t, or 0 for an
// unknown type.
func (t Type) BytesPerBlock() int { return typeInfos[t].bytes }

// RowBytes returns the number of bytes that n elements of type t occupy.
// n must be a non-negative multiple of t's block size.
func (t Type) RowBytes(n int) (int, error) {
	ti, ok := typeInfos[t]
	if !ok {
		return 0, fmt.Errorf("%w: %d", ErrUnknownType, uint32(t))
	}
	if n < 0 || n%ti.block != 0 {
		return 0, fmt.Errorf("%w: %d elements is not a multiple of the %s block size %d", ErrLength, n, ti.name, ti.block)
	}
	return n / ti.block * ti.bytes, nil
}

// rowBytes is RowBytes for callers that have already validated t and n.
func (t Type) rowBytes(n int) int {
	ti := typeInfos[t]
	return n / ti.block * ti.bytes
}
