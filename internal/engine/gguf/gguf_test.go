package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const modelsDir = "../../../../shared/models"

func sampleWriter(t testing.TB) *Writer {
	t.Helper()
	w := &Writer{}
	w.Set("general.architecture", "llama")
	w.Set("general.alignment", uint32(64))
	w.Set("u8", uint8(200))
	w.Set("i8", int8(-5))
	w.Set("u16", uint16(60000))
	w.Set("i16", int16(-30000))
	w.Set("u32", uint32(4000000000))
	w.Set("i32", int32(-2000000000))
	w.Set("f32", float32(1.5))
	w.Set("b", true)
	w.Set("s", "héllo")
	w.Set("u64", uint64(math.MaxUint64))
	w.Set("i64", int64(math.MinInt64))
	w.Set("f64", math.Pi)
	w.Set("strs", Array{Elem: TypeString, Values: []string{"a", "", "ü"}})
	w.Set("f32s", Array{Elem: TypeFloat32, Values: []float32{1, -2, 0.25}})
	w.Set("i32s", Array{Elem: TypeInt32, Values: []int32{1, -2, 3}})
	w.Set("u8s", Array{Elem: TypeUint8, Values: []uint8{1, 2}})
	w.Set("bools", Array{Elem: TypeBool, Values: []bool{true, false}})
	w.Set("nested", Array{Elem: TypeArray, Values: []Array{
		{Elem: TypeUint16, Values: []uint16{7}},
		{Elem: TypeString, Values: []string{"x", "y"}},
		{Elem: TypeArray, Values: []Array{{Elem: TypeFloat64, Values: []float64{2.5}}}},
	}})
	f32 := make([]byte, 4*6)
	for i := 0; i < 6; i++ {
		binary.LittleEndian.PutUint32(f32[4*i:], math.Float32bits(float32(i)))
	}
	if err := w.AddTensor("a", F32, []uint64{3, 2}, f32); err != nil {
		t.Fatal(err)
	}
	q8 := bytes.Repeat([]byte{9}, 34*2)
	if err := w.AddTensor("b.q8", Q8_0, []uint64{64}, q8); err != nil {
		t.Fatal(err)
	}
	if err := w.AddTensor("c", F16, []uint64{5}, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	return w
}

func TestRoundTrip(t *testing.T) {
	w := sampleWriter(t)
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if f.Version != 3 || f.Alignment != 64 || f.DataOffset%64 != 0 {
		t.Fatalf("version %d alignment %d data offset %d", f.Version, f.Alignment, f.DataOffset)
	}
	if diff := cmp.Diff(w.KV, f.KV); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
	wantTensors := []TensorInfo{
		{Name: "a", Shape: []uint64{3, 2}, Type: F32, Offset: 0, Size: 24},
		{Name: "b.q8", Shape: []uint64{64}, Type: Q8_0, Offset: 64, Size: 68},
		{Name: "c", Shape: []uint64{5}, Type: F16, Offset: 192, Size: 10},
	}
	if diff := cmp.Diff(wantTensors, f.Tensors); diff != "" {
		t.Errorf("tensors (-want +got):\n%s", diff)
	}
	for _, tw := range w.tensors {
		got, err := f.TensorData(tw.info.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, tw.data) {
			t.Errorf("tensor %s data differs", tw.info.Name)
		}
	}
	// Rewriting the parsed file gives the same bytes.
	w2 := &Writer{KV: f.KV}
	for _, ti := range f.Tensors {
		d, _ := f.TensorData(ti.Name)
		if err := w2.AddTensor(ti.Name, ti.Type, ti.Shape, d); err != nil {
			t.Fatal(err)
		}
	}
	var buf2 bytes.Buffer
	if _, err := w2.WriteTo(&buf2); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), buf2.Bytes()) {
		t.Error("rewrite is not byte-identical")
	}
}

func TestGetters(t *testing.T) {
	var buf bytes.Buffer
	if _, err := sampleWriter(t).WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		V  any
		OK bool
	}
	r := func(v any, ok bool) result { return result{v, ok} }
	tests := []struct {
		name string
		got  result
		want result
	}{
		{"string", r(f.String("s")), r("héllo", true)},
		{"string wrong type", r(f.String("u32")), r("", false)},
		{"missing", r(f.String("nope")), r("", false)},
		{"uint32", r(f.Uint32("u32")), r(uint32(4000000000), true)},
		{"uint32 from u8", r(f.Uint32("u8")), r(uint32(200), true)},
		{"uint32 negative", r(f.Uint32("i8")), r(uint32(0), false)},
		{"uint32 too big", r(f.Uint32("u64")), r(uint32(0), false)},
		{"uint64", r(f.Uint64("u64")), r(uint64(math.MaxUint64), true)},
		{"int64", r(f.Int64("i16")), r(int64(-30000), true)},
		{"float32", r(f.Float32("f32")), r(float32(1.5), true)},
		{"float32 from f64", r(f.Float32("f64")), r(float32(math.Pi), true)},
		{"bool", r(f.Bool("b")), r(true, true)},
		{"strings", r(f.Strings("strs")), r([]string{"a", "", "ü"}, true)},
		{"float32s", r(f.Float32s("f32s")), r([]float32{1, -2, 0.25}, true)},
		{"int32s", r(f.Int32s("i32s")), r([]int32{1, -2, 3}, true)},
		{"int32s from u8", r(f.Int32s("u8s")), r([]int32{1, 2}, true)},
		{"int32s of strings", r(f.Int32s("strs")), r([]int32(nil), false)},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, tt.got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
	if f.Architecture() != "llama" {
		t.Errorf("Architecture() = %q", f.Architecture())
	}
	if _, err := f.TensorData("missing"); err == nil {
		t.Error("TensorData of a missing tensor: no error")
	}
}

func TestOpenFixtures(t *testing.T) {
	tests := []struct {
		file     string
		arch     string
		tensors  int
		embd     uint32
		tokens   int
		firstTyp TensorType
	}{
		{"stories260K.gguf", "llama", 48, 64, 512, F32},
		{"llama-2-tiny-random.gguf", "llama", 12, 8, 32000, 0},
		{"vocab/ggml-vocab-gpt-2.gguf", "gpt2", 0, 0, 50257, 0},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join(modelsDir, tt.file)
			if _, err := os.Stat(path); err != nil {
				t.Skipf("fixture missing: %v", err)
			}
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Architecture() != tt.arch || len(f.Tensors) != tt.tensors {
				t.Fatalf("arch %q tensors %d", f.Architecture(), len(f.Tensors))
			}
			toks, ok := f.Strings("tokenizer.ggml.tokens")
			if !ok || len(toks) != tt.tokens {
				t.Fatalf("tokens: %d %v", len(toks), ok)
			}
			if tt.embd != 0 {
				if e, _ := f.Uint32(tt.arch + ".embedding_length"); e != tt.embd {
					t.Errorf("embedding_length = %d, want %d", e, tt.embd)
				}
			}
			for _, ti := range f.Tensors {
				d, err := f.TensorData(ti.Name)
				if err != nil {
					t.Fatal(err)
				}
				if uint64(len(d)) != ti.Size {
					t.Errorf("%s: %d bytes, want %d", ti.Name, len(d), ti.Size)
				}
			}
		})
	}
}

func TestCorrupt(t *testing.T) {
	var buf bytes.Buffer
	if _, err := sampleWriter(t).WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	// Every strict prefix that cuts into the header or tensor data fails
	// cleanly (never panics).
	for n := 0; n < len(good); n++ {
		if _, err := Parse(good[:n]); err == nil {
			t.Fatalf("prefix of %d/%d bytes parsed without error", n, len(good))
		} else if !errors.Is(err, ErrFormat) {
			t.Fatalf("prefix %d: error %v does not wrap ErrFormat", n, err)
		}
	}
	hdr := func(version uint32, nt, nkv uint64) []byte {
		b := []byte(Magic)
		b = binary.LittleEndian.AppendUint32(b, version)
		b = binary.LittleEndian.AppendUint64(b, nt)
		return binary.LittleEndian.AppendUint64(b, nkv)
	}
	kvArray := func(elem uint32, n uint64) []byte {
		b := hdr(3, 0, 1)
		b = binary.LittleEndian.AppendUint64(b, 1)
		b = append(b, 'k')
		b = binary.LittleEndian.AppendUint32(b, uint32(TypeArray))
		b = binary.LittleEndian.AppendUint32(b, elem)
		return binary.LittleEndian.AppendUint64(b, n)
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"bad magic", []byte("GGML\x03\x00\x00\x00"), "bad magic"},
		{"version 1", hdr(1, 0, 0), "version 1"},
		{"version 99", hdr(99, 0, 0), "unsupported GGUF version"},
		{"big endian", hdr(3<<24, 0, 0), "big-endian"},
		{"absurd kv count", hdr(3, 0, 1<<62), "metadata count"},
		{"absurd tensor count", hdr(3, 1<<62, 0), "tensor count"},
		{"absurd array", kvArray(uint32(TypeUint64), 1<<60), "array of"},
		{"absurd string array", kvArray(uint32(TypeString), 1<<40), "array of"},
		{"bad array elem", kvArray(77, 1), "unknown array element type"},
	}
	// A tensor pointing past the end of the file.
	w := &Writer{}
	if err := w.AddTensor("t", F32, []uint64{4}, make([]byte, 16)); err != nil {
		t.Fatal(err)
	}
	var tb bytes.Buffer
	w.WriteTo(&tb)
	past := tb.Bytes()
	// The offset field is the last 8 bytes before the header padding.
	off := bytes.Index(past, []byte{'t'}) + 1 + 4 + 8 + 4
	binary.LittleEndian.PutUint64(past[off:], 1<<20)
	tests = append(tests, struct {
		name string
		data []byte
		want string
	}{"offset past EOF", past, "past the end"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.data)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestWriterErrors(t *testing.T) {
	w := &Writer{}
	if err := w.AddTensor("x", Q8_0, []uint64{31}, nil); err == nil {
		t.Error("row not a multiple of the block size accepted")
	}
	if err := w.AddTensor("x", F32, []uint64{2}, make([]byte, 7)); err == nil {
		t.Error("wrong data length accepted")
	}
	w.Set("bad", Array{Elem: TypeInt32, Values: []float32{1}})
	if _, err := w.WriteTo(&bytes.Buffer{}); err == nil {
		t.Error("mismatched array type accepted")
	}
}

func FuzzParse(f *testing.F) {
	var buf bytes.Buffer
	if _, err := sampleWriter(f).WriteTo(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	if b, err := os.ReadFile(filepath.Join(modelsDir, "llama-2-tiny-random.gguf")); err == nil {
		f.Add(b[:4096])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		gf, err := Parse(data)
		if err != nil {
			return
		}
		for _, ti := range gf.Tensors {
			d, err := gf.TensorData(ti.Name)
			if err == nil && uint64(len(d)) != ti.Size {
				t.Fatalf("tensor %s: %d bytes, want %d", ti.Name, len(d), ti.Size)
			}
		}
	})
}
