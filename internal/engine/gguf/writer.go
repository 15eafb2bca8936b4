package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// Writer builds a GGUF file: metadata in insertion order, then tensor
// descriptors and data in the order added. The zero value writes version 3
// with the default alignment (set general.alignment to change it).
type Writer struct {
	Version uint32
	KV      []KV
	tensors []wtensor
}

type wtensor struct {
	info TensorInfo
	data []byte
	fill func(io.Writer) error
}

// Set adds key, or replaces its value if already present. v must be one of
// the types KV.Value documents.
func (w *Writer) Set(key string, v any) {
	for i := range w.KV {
		if w.KV[i].Key == key {
			w.KV[i].Value = v
			return
		}
	}
	w.KV = append(w.KV, KV{Key: key, Value: v})
}

// AddTensor adds a tensor whose encoded data is in data.
func (w *Writer) AddTensor(name string, typ TensorType, shape []uint64, data []byte) error {
	return w.add(name, typ, shape, data, nil)
}

// AddTensorFunc adds a tensor whose data fill streams at write time; it
// must write exactly the tensor's size in bytes.
func (w *Writer) AddTensorFunc(name string, typ TensorType, shape []uint64, fill func(io.Writer) error) error {
	return w.add(name, typ, shape, nil, fill)
}

func (w *Writer) add(name string, typ TensorType, shape []uint64, data []byte, fill func(io.Writer) error) error {
	if !typ.Known() {
		return fmt.Errorf("gguf: tensor %q: unknown type %d", name, uint32(typ))
	}
	if len(shape) == 0 || len(shape) > maxDims {
		return fmt.Errorf("gguf: tensor %q: %d dimensions", name, len(shape))
	}
	for _, t := range w.tensors {
		if t.info.Name == name {
			return fmt.Errorf("gguf: duplicate tensor %q", name)
		}
	}
	info := TensorInfo{Name: name, Shape: append([]uint64(nil), shape...), Type: typ}
	if shape[0]%uint64(typ.BlockSize()) != 0 {
		return fmt.Errorf("gguf: tensor %q: row of %d not a multiple of block size %d", name, shape[0], typ.BlockSize())
	}
	info.Size = info.Elements() / uint64(typ.BlockSize()) * uint64(typ.TypeSize())
	if fill == nil && uint64(len(data)) != info.Size {
		return fmt.Errorf("gguf: tensor %q: %d bytes of data, want %d", name, len(data), info.Size)
	}
	w.tensors = append(w.tensors, wtensor{info: info, data: data, fill: fill})
	return nil
}

func (w *Writer) alignment() (uint64, error) {
	for _, kv := range w.KV {
		if kv.Key == "general.alignment" {
			a, ok := kv.Value.(uint32)
			if !ok || a == 0 || a&(a-1) != 0 {
				return 0, errors.New("gguf: general.alignment must be a power-of-two uint32")
			}
			return uint64(a), nil
		}
	}
	return DefaultAlignment, nil
}

type countWriter struct {
	w   *bufio.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}

func (c *countWriter) u32(v uint32) { c.Write(binary.LittleEndian.AppendUint32(nil, v)) }
func (c *countWriter) u64(v uint64) { c.Write(binary.LittleEndian.AppendUint64(nil, v)) }
func (c *countWriter) str(s string) { c.u64(uint64(len(s))); c.Write([]byte(s)) }
func (c *countWriter) pad(a uint64) {
	if r := uint64(c.n) % a; r != 0 {
		c.Write(make([]byte, a-r))
	}
}

// WriteTo writes the file.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	align, err := w.alignment()
	if err != nil {
		return 0, err
	}
	version := w.Version
	if version == 0 {
		version = 3
	}
	c := &countWriter{w: bufio.NewWriterSize(out, 1<<20)}
	c.Write([]byte(Magic))
	c.u32(version)
	c.u64(uint64(len(w.tensors)))
	c.u64(uint64(len(w.KV)))
	for _, kv := range w.KV {
		t, ok := TypeOf(kv.Value)
		if !ok {
			return c.n, fmt.Errorf("gguf: key %q: unsupported value type %T", kv.Key, kv.Value)
		}
		c.str(kv.Key)
		c.u32(uint32(t))
		if err := c.value(kv.Value); err != nil {
			return c.n, fmt.Errorf("gguf: key %q: %w", kv.Key, err)
		}
	}
	off := uint64(0)
	for i := range w.tensors {
		t := &w.tensors[i].info
		t.Offset = off
		c.str(t.Name)
		c.u32(uint32(len(t.Shape)))
		for _, d := range t.Shape {
			c.u64(d)
		}
		c.u32(uint32(t.Type))
		c.u64(t.Offset)
		off = alignUp(off+t.Size, align)
	}
	c.pad(align)
	for i, t := range w.tensors {
		if i > 0 {
			c.pad(align)
		}
		if t.fill == nil {
			c.Write(t.data)
			continue
		}
		before := c.n
		if err := t.fill(c); err != nil {
			return c.n, fmt.Errorf("gguf: tensor %q: %w", t.info.Name, err)
		}
		if got := uint64(c.n - before); got != t.info.Size && c.err == nil {
			return c.n, fmt.Errorf("gguf: tensor %q: fill wrote %d bytes, want %d", t.info.Name, got, t.info.Size)
		}
	}
	if c.err != nil {
		return c.n, fmt.Errorf("gguf: writing: %w", c.err)
	}
	if err := c.w.Flush(); err != nil {
		return c.n, fmt.Errorf("gguf: writing: %w", err)
	}
	return c.n, nil
}

// WriteFile writes the file to path.
func (w *Writer) WriteFile(path string) error {
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	if _, err := w.WriteTo(fh); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	return nil
}

func (c *countWriter) value(v any) error {
	le := binary.LittleEndian
	switch x := v.(type) {
	case uint8:
		c.Write([]byte{x})
	case int8:
		c.Write([]byte{byte(x)})
	case bool:
		b := byte(0)
		if x {
			b = 1
		}
		c.Write([]byte{b})
	case uint16:
		c.Write(le.AppendUint16(nil, x))
	case int16:
		c.Write(le.AppendUint16(nil, uint16(x)))
	case uint32:
		c.u32(x)
	case int32:
		c.u32(uint32(x))
	case float32:
		c.u32(math.Float32bits(x))
	case uint64:
		c.u64(x)
	case int64:
		c.u64(uint64(x))
	case float64:
		c.u64(math.Float64bits(x))
	case string:
		c.str(x)
	case Array:
		return c.array(x)
	default:
		return fmt.Errorf("unsupported value type %T", v)
	}
	return nil
}

func (c *countWriter) array(a Array) error {
	c.u32(uint32(a.Elem))
	c.u64(uint64(a.Len()))
	check := func(ok bool) error {
		if !ok {
			return fmt.Errorf("array element type %s does not match values %T", a.Elem, a.Values)
		}
		return nil
	}
	switch vs := a.Values.(type) {
	case []uint8:
		if err := check(a.Elem == TypeUint8); err != nil {
			return err
		}
		c.Write(vs)
	case []string:
		if err := check(a.Elem == TypeString); err != nil {
			return err
		}
		for _, s := range vs {
			c.str(s)
		}
	case []Array:
		if err := check(a.Elem == TypeArray); err != nil {
			return err
		}
		for _, s := range vs {
			if err := c.array(s); err != nil {
				return err
			}
		}
	default:
		return c.fixedArray(a)
	}
	return nil
}

func (c *countWriter) fixedArray(a Array) error {
	var err error
	each := func(n int, f func(i int) any) {
		for i := 0; i < n && err == nil; i++ {
			v := f(i)
			if t, _ := TypeOf(v); t != a.Elem {
				err = fmt.Errorf("array element type %s does not match values %T", a.Elem, a.Values)
				return
			}
			err = c.value(v)
		}
	}
	switch vs := a.Values.(type) {
	case []int8:
		each(len(vs), func(i int) any { return vs[i] })
	case []bool:
		each(len(vs), func(i int) any { return vs[i] })
	case []uint16:
		each(len(vs), func(i int) any { return vs[i] })
	case []int16:
		each(len(vs), func(i int) any { return vs[i] })
	case []uint32:
		each(len(vs), func(i int) any { return vs[i] })
	case []int32:
		each(len(vs), func(i int) any { return vs[i] })
	case []float32:
		each(len(vs), func(i int) any { return vs[i] })
	case []uint64:
		each(len(vs), func(i int) any { return vs[i] })
	case []int64:
		each(len(vs), func(i int) any { return vs[i] })
	case []float64:
		each(len(vs), func(i int) any { return vs[i] })
	default:
		return fmt.Errorf("unsupported array values %T", a.Values)
	}
	return err
}
