package gguf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
)

// Magic is the first four bytes of every GGUF file.
const Magic = "GGUF"

// DefaultAlignment is the data alignment when general.alignment is absent.
const DefaultAlignment = 32

// Limits that keep a corrupt header from making the reader allocate or
// recurse without bound.
const (
	maxDims       = 4
	maxArrayDepth = 8
	maxKeyLen     = 1 << 16
)

// ErrFormat is wrapped by every error about malformed file contents.
var ErrFormat = errors.New("gguf: invalid file")

// KV is one metadata entry. Value holds a uint8, int8, uint16, int16,
// uint32, int32, float32, bool, string, uint64, int64, float64 or Array.
type KV struct {
	Key   string
	Value any
}

// Type returns the GGUF value type of the entry.
func (kv KV) Type() ValueType { t, _ := TypeOf(kv.Value); return t }

// Array is an array metadata value. Values is a slice of the Go type that
// matches Elem ([]uint8 … []float64, []string, []bool, or []Array for arrays
// of arrays).
type Array struct {
	Elem   ValueType
	Values any
}

// Len returns the number of elements.
func (a Array) Len() int {
	switch v := a.Values.(type) {
	case []uint8:
		return len(v)
	case []int8:
		return len(v)
	case []uint16:
		return len(v)
	case []int16:
		return len(v)
	case []uint32:
		return len(v)
	case []int32:
		return len(v)
	case []float32:
		return len(v)
	case []bool:
		return len(v)
	case []string:
		return len(v)
	case []uint64:
		return len(v)
	case []int64:
		return len(v)
	case []float64:
		return len(v)
	case []Array:
		return len(v)
	}
	return 0
}

// TypeOf returns the GGUF value type for a Go metadata value.
func TypeOf(v any) (ValueType, bool) {
	switch v.(type) {
	case uint8:
		return TypeUint8, true
	case int8:
		return TypeInt8, true
	case uint16:
		return TypeUint16, true
	case int16:
		return TypeInt16, true
	case uint32:
		return TypeUint32, true
	case int32:
		return TypeInt32, true
	case float32:
		return TypeFloat32, true
	case bool:
		return TypeBool, true
	case string:
		return TypeString, true
	case Array:
		return TypeArray, true
	case uint64:
		return TypeUint64, true
	case int64:
		return TypeInt64, true
	case float64:
		return TypeFloat64, true
	}
	return 0, false
}

// TensorInfo describes one tensor. Shape is in ggml order: Shape[0] is the
// number of elements in a row (the fastest-varying dimension).
type TensorInfo struct {
	Name   string
	Shape  []uint64
	Type   TensorType
	Offset uint64 // from the start of the data section
	Size   uint64 // bytes; 0 when Type is unknown to this package
}

// Elements returns the number of elements.
func (t TensorInfo) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// File is a parsed GGUF file. Metadata and tensor descriptors are copied
// out of the file; tensor data slices point into the mapping and are valid
// until Close.
type File struct {
	Version    uint32
	KV         []KV
	Tensors    []TensorInfo
	Alignment  uint64
	DataOffset uint64 // absolute file offset of the data section

	data   []byte
	kvIdx  map[string]int
	tIdx   map[string]int
	closer func() error
}

// Open memory-maps (or, where mapping is unavailable, reads) the file at
// path and parses it.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	defer fh.Close()
	data, closer, err := mapFile(fh)
	if err != nil {
		return nil, fmt.Errorf("gguf: mapping %s: %w", path, err)
	}
	f, err := Parse(data)
	if err != nil {
		closer()
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	f.closer = closer
	return f, nil
}

// Close releases the mapping. Tensor data slices must not be used after.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	c := f.closer
	f.closer = nil
	f.data = nil
	return c()
}

// Size returns the size of the file in bytes.
func (f *File) Size() int64 { return int64(len(f.data)) }

type decoder struct {
	b   []byte
	off int
}

func (d *decoder) errf(format string, args ...any) error {
	return fmt.Errorf("%w: at offset %d: %s", ErrFormat, d.off, fmt.Sprintf(format, args...))
}

func (d *decoder) need(n uint64, what string) error {
	if n > uint64(len(d.b)-d.off) {
		return d.errf("truncated %s (need %d bytes, %d left)", what, n, len(d.b)-d.off)
	}
	return nil
}

func (d *decoder) u8(what string) (uint8, error) {
	if err := d.need(1, what); err != nil {
		return 0, err
	}
	v := d.b[d.off]
	d.off++
	return v, nil
}

func (d *decoder) u16(what string) (uint16, error) {
	if err := d.need(2, what); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint16(d.b[d.off:])
	d.off += 2
	return v, nil
}

func (d *decoder) u32(what string) (uint32, error) {
	if err := d.need(4, what); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v, nil
}

func (d *decoder) u64(what string) (uint64, error) {
	if err := d.need(8, what); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint64(d.b[d.off:])
	d.off += 8
	return v, nil
}

func (d *decoder) str(what string) (string, error) {
	n, err := d.u64(what + " length")
	if err != nil {
		return "", err
	}
	if err := d.need(n, what); err != nil {
		return "", err
	}
	s := string(d.b[d.off : d.off+int(n)])
	d.off += int(n)
	return s, nil
}

// Parse parses a GGUF file held in memory. The returned File keeps data
// and hands out sub-slices of it.
func Parse(data []byte) (*File, error) {
	d := &decoder{b: data}
	if len(data) < 4 || string(data[:4]) != Magic {
		return nil, fmt.Errorf("%w: bad magic (not a GGUF file)", ErrFormat)
	}
	d.off = 4
	version, err := d.u32("version")
	if err != nil {
		return nil, err
	}
	switch {
	case version == 2 || version == 3:
	case version == 1:
		return nil, fmt.Errorf("%w: GGUF version 1 is not supported", ErrFormat)
	case version&0xFFFF == 0 && version>>16 != 0:
		return nil, fmt.Errorf("%w: big-endian GGUF files are not supported", ErrFormat)
	default:
		return nil, fmt.Errorf("%w: unsupported GGUF version %d", ErrFormat, version)
	}
	nTensors, err := d.u64("tensor count")
	if err != nil {
		return nil, err
	}
	nKV, err := d.u64("metadata count")
	if err != nil {
		return nil, err
	}
	// Every KV needs at least 8 (key len) + 4 (type) + 1 bytes; every
	// tensor info at least 8 + 4 + 4 + 8.
	rest := uint64(len(data) - d.off)
	if nKV > rest/13 {
		return nil, d.errf("metadata count %d exceeds what the file can hold", nKV)
	}
	if nTensors > rest/24 {
		return nil, d.errf("tensor count %d exceeds what the file can hold", nTensors)
	}
	f := &File{
		Version:   version,
		KV:        make([]KV, 0, nKV),
		Alignment: DefaultAlignment,
		data:      data,
		kvIdx:     make(map[string]int, nKV),
		tIdx:      make(map[string]int, nTensors),
	}
	for i := uint64(0); i < nKV; i++ {
		key, err := d.str("metadata key")
		if err != nil {
			return nil, err
		}
		if len(key) > maxKeyLen {
			return nil, d.errf("metadata key of %d bytes", len(key))
		}
		if _, dup := f.kvIdx[key]; dup {
			return nil, d.errf("duplicate metadata key %q", key)
		}
		typ, err := d.u32("value type")
		if err != nil {
			return nil, err
		}
		v, err := d.value(ValueType(typ), 0)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", key, err)
		}
		f.kvIdx[key] = len(f.KV)
		f.KV = append(f.KV, KV{Key: key, Value: v})
	}
	if i, ok := f.kvIdx["general.alignment"]; ok {
		a, ok := f.KV[i].Value.(uint32)
		if !ok || a == 0 || a&(a-1) != 0 {
			return nil, fmt.Errorf("%w: general.alignment must be a power-of-two uint32, got %v", ErrFormat, f.KV[i].Value)
		}
		f.Alignment = uint64(a)
	}
	f.Tensors = make([]TensorInfo, 0, nTensors)
	for i := uint64(0); i < nTensors; i++ {
		t, err := d.tensorInfo()
		if err != nil {
			return nil, err
		}
		if _, dup := f.tIdx[t.Name]; dup {
			return nil, d.errf("duplicate tensor %q", t.Name)
		}
		if t.Offset%f.Alignment != 0 {
			return nil, fmt.Errorf("%w: tensor %q offset %d not aligned to %d", ErrFormat, t.Name, t.Offset, f.Alignment)
		}
		f.tIdx[t.Name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, t)
	}
	start := alignUp(uint64(d.off), f.Alignment)
	f.DataOffset = start
	dataLen := uint64(0)
	if start <= uint64(len(data)) {
		dataLen = uint64(len(data)) - start
	}
	for _, t := range f.Tensors {
		if t.Size == 0 && t.Type.Known() {
			continue
		}
		if t.Offset > dataLen || t.Size > dataLen-t.Offset {
			return nil, fmt.Errorf("%w: tensor %q data [%d, +%d) runs past the end of the file (data section holds %d bytes)",
				ErrFormat, t.Name, t.Offset, t.Size, dataLen)
		}
	}
	return f, nil
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }

func (d *decoder) tensorInfo() (TensorInfo, error) {
	var t TensorInfo
	var err error
	if t.Name, err = d.str("tensor name"); err != nil {
		return t, err
	}
	nd, err := d.u32("tensor dimension count")
	if err != nil {
		return t, err
	}
	if nd > maxDims {
		return t, d.errf("tensor %q has %d dimensions (max %d)", t.Name, nd, maxDims)
	}
	t.Shape = make([]uint64, nd)
	elems := uint64(1)
	for j := range t.Shape {
		if t.Shape[j], err = d.u64("tensor dimension"); err != nil {
			return t, err
		}
		if t.Shape[j] != 0 && elems > math.MaxInt64/t.Shape[j] {
			return t, d.errf("tensor %q: element count overflows", t.Name)
		}
		elems *= t.Shape[j]
	}
	typ, err := d.u32("tensor type")
	if err != nil {
		return t, err
	}
	t.Type = TensorType(typ)
	if t.Offset, err = d.u64("tensor offset"); err != nil {
		return t, err
	}
	if t.Type.Known() {
		if nd > 0 && t.Shape[0]%uint64(t.Type.BlockSize()) != 0 {
			return t, d.errf("tensor %q: row of %d elements is not a multiple of the %s block size %d",
				t.Name, t.Shape[0], t.Type, t.Type.BlockSize())
		}
		t.Size = elems / uint64(t.Type.BlockSize()) * uint64(t.Type.TypeSize())
	}
	return t, nil
}

func (d *decoder) value(t ValueType, depth int) (any, error) {
	switch t {
	case TypeUint8:
		return d.u8("uint8")
	case TypeInt8:
		v, err := d.u8("int8")
		return int8(v), err
	case TypeUint16:
		return d.u16("uint16")
	case TypeInt16:
		v, err := d.u16("int16")
		return int16(v), err
	case TypeUint32:
		return d.u32("uint32")
	case TypeInt32:
		v, err := d.u32("int32")
		return int32(v), err
	case TypeFloat32:
		v, err := d.u32("float32")
		return math.Float32frombits(v), err
	case TypeBool:
		v, err := d.u8("bool")
		if err == nil && v > 1 {
			return nil, d.errf("bool value %d", v)
		}
		return v == 1, err
	case TypeString:
		return d.str("string")
	case TypeUint64:
		return d.u64("uint64")
	case TypeInt64:
		v, err := d.u64("int64")
		return int64(v), err
	case TypeFloat64:
		v, err := d.u64("float64")
		return math.Float64frombits(v), err
	case TypeArray:
		return d.array(depth + 1)
	}
	return nil, d.errf("unknown value type %d", uint32(t))
}

func (d *decoder) array(depth int) (Array, error) {
	if depth > maxArrayDepth {
		return Array{}, d.errf("arrays nested deeper than %d", maxArrayDepth)
	}
	et, err := d.u32("array element type")
	if err != nil {
		return Array{}, err
	}
	elem := ValueType(et)
	n, err := d.u64("array length")
	if err != nil {
		return Array{}, err
	}
	min := uint64(elem.size())
	switch elem {
	case TypeString:
		min = 8
	case TypeArray:
		min = 12
	}
	if min == 0 {
		return Array{}, d.errf("unknown array element type %d", et)
	}
	rest := uint64(len(d.b) - d.off)
	if n > rest/min {
		return Array{}, d.errf("array of %d %s elements exceeds the %d bytes left", n, elem, rest)
	}
	a := Array{Elem: elem}
	if sz := elem.size(); sz > 0 {
		raw := d.b[d.off : d.off+int(n)*sz]
		d.off += int(n) * sz
		a.Values = decodeFixed(elem, raw, int(n))
		if elem == TypeBool {
			for _, c := range raw {
				if c > 1 {
					return Array{}, d.errf("bool value %d in array", c)
				}
			}
		}
		return a, nil
	}
	switch elem {
	case TypeString:
		vs := make([]string, n)
		for i := range vs {
			if vs[i], err = d.str("string array element"); err != nil {
				return Array{}, err
			}
		}
		a.Values = vs
	case TypeArray:
		vs := make([]Array, n)
		for i := range vs {
			if vs[i], err = d.array(depth + 1); err != nil {
				return Array{}, err
			}
		}
		a.Values = vs
	}
	return a, nil
}

func decodeFixed(t ValueType, raw []byte, n int) any {
	le := binary.LittleEndian
	switch t {
	case TypeUint8:
		return append([]uint8(nil), raw...)
	case TypeInt8:
		v := make([]int8, n)
		for i := range v {
			v[i] = int8(raw[i])
		}
		return v
	case TypeBool:
		v := make([]bool, n)
		for i := range v {
			v[i] = raw[i] == 1
		}
		return v
	case TypeUint16:
		v := make([]uint16, n)
		for i := range v {
			v[i] = le.Uint16(raw[2*i:])
		}
		return v
	case TypeInt16:
		v := make([]int16, n)
		for i := range v {
			v[i] = int16(le.Uint16(raw[2*i:]))
		}
		return v
	case TypeUint32:
		v := make([]uint32, n)
		for i := range v {
			v[i] = le.Uint32(raw[4*i:])
		}
		return v
	case TypeInt32:
		v := make([]int32, n)
		for i := range v {
			v[i] = int32(le.Uint32(raw[4*i:]))
		}
		return v
	case TypeFloat32:
		v := make([]float32, n)
		for i := range v {
			v[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
		return v
	case TypeUint64:
		v := make([]uint64, n)
		for i := range v {
			v[i] = le.Uint64(raw[8*i:])
		}
		return v
	case TypeInt64:
		v := make([]int64, n)
		for i := range v {
			v[i] = int64(le.Uint64(raw[8*i:]))
		}
		return v
	case TypeFloat64:
		v := make([]float64, n)
		for i := range v {
			v[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
		}
		return v
	}
	return nil
}

// Tensor returns the descriptor of the named tensor.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	i, ok := f.tIdx[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.Tensors[i], true
}

// TensorData returns the raw bytes of the named tensor: a slice of the
// mapping, valid until Close, not to be modified.
func (f *File) TensorData(name string) ([]byte, error) {
	t, ok := f.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("gguf: no tensor %q", name)
	}
	if !t.Type.Known() {
		return nil, fmt.Errorf("gguf: tensor %q has unsupported type %s", name, t.Type)
	}
	if f.data == nil {
		return nil, errors.New("gguf: file is closed")
	}
	s := f.DataOffset + t.Offset
	return f.data[s : s+t.Size : s+t.Size], nil
}
