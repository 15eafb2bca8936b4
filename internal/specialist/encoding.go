package specialist

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
)

// The model file: magic, a little-endian uint32 header length, a JSON
// header, then the arrays (feature keys uint32, IDF float16, row scales
// float32, int8 weights feature-major, biases float32, embedding weights
// float32), and a CRC-32 (IEEE) of everything before it.
const modelMagic = "SYSPEC1\n"

type modelHeader struct {
	Labels      []string      `json:"labels"`
	Features    FeatureConfig `json:"features"`
	NumFeatures int           `json:"num_features"`
	EmbDim      int           `json:"emb_dim,omitempty"`
	EmbWeight   float32       `json:"emb_weight,omitempty"`
	Temperature float32       `json:"temperature"`
	Threshold   float32       `json:"threshold"`
	OOSLabel    int           `json:"oos_label"`
}

// maxModelBytes bounds what ReadModel accepts.
const maxModelBytes = 1 << 30

// WriteTo writes the model in its binary form.
func (m *Model) WriteTo(w io.Writer) (int64, error) {
	h := crc32.NewIEEE()
	cw := &countWriter{w: io.MultiWriter(w, h)}
	bw := bufio.NewWriter(cw)
	hdr, err := json.Marshal(modelHeader{
		Labels: m.labels, Features: m.feat, NumFeatures: m.nfeat, EmbDim: m.embDim, EmbWeight: m.embWeight,
		Temperature: m.temperature, Threshold: m.threshold, OOSLabel: m.oosLabel,
	})
	if err != nil {
		return 0, fmt.Errorf("encoding model header: %w", err)
	}
	bw.WriteString(modelMagic)
	binary.Write(bw, binary.LittleEndian, uint32(len(hdr)))
	bw.Write(hdr)
	binary.Write(bw, binary.LittleEndian, m.voc.keys)
	idf := make([]uint16, len(m.idf))
	for i, v := range m.idf {
		idf[i] = f32to16(v)
	}
	binary.Write(bw, binary.LittleEndian, idf)
	binary.Write(bw, binary.LittleEndian, m.qscale)
	binary.Write(bw, binary.LittleEndian, m.q)
	binary.Write(bw, binary.LittleEndian, m.bias)
	binary.Write(bw, binary.LittleEndian, m.embW)
	if err := bw.Flush(); err != nil {
		return cw.n, fmt.Errorf("writing model: %w", err)
	}
	if err := binary.Write(w, binary.LittleEndian, h.Sum32()); err != nil {
		return cw.n, fmt.Errorf("writing model: %w", err)
	}
	return cw.n + 4, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// EncodedSize returns the size of the model file in bytes.
func (m *Model) EncodedSize() (int, error) {
	n, err := m.WriteTo(io.Discard)
	return int(n), err
}

// SaveFile writes the model to path atomically.
func (m *Model) SaveFile(path string) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("saving model: %w", err)
	}
	if _, err := m.WriteTo(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("saving model: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("saving model: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("saving model: %w", err)
	}
	return nil
}

// LoadModelFile reads a model written by SaveFile.
func LoadModelFile(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading model: %w", err)
	}
	m, err := DecodeModel(b)
	if err != nil {
		return nil, fmt.Errorf("loading model %s: %w", path, err)
	}
	return m, nil
}

// ReadModel reads a model from r.
func ReadModel(r io.Reader) (*Model, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxModelBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading model: %w", err)
	}
	if len(b) > maxModelBytes {
		return nil, errors.New("model file too large")
	}
	return DecodeModel(b)
}

var errCorrupt = errors.New("corrupt model file")

// DecodeModel parses a model from its binary form.
func DecodeModel(b []byte) (*Model, error) {
	if len(b) < len(modelMagic)+8 || string(b[:len(modelMagic)]) != modelMagic {
		return nil, fmt.Errorf("%w: bad magic", errCorrupt)
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch", errCorrupt)
	}
	p := body[len(modelMagic):]
	hl := int(binary.LittleEndian.Uint32(p))
	p = p[4:]
	if hl > len(p) {
		return nil, fmt.Errorf("%w: header length", errCorrupt)
	}
	var h modelHeader
	if err := json.Unmarshal(p[:hl], &h); err != nil {
		return nil, fmt.Errorf("%w: header: %v", errCorrupt, err)
	}
	p = p[hl:]
	nc, nf, ed := len(h.Labels), h.NumFeatures, h.EmbDim
	if nc < 2 || nf < 0 || ed < 0 || h.OOSLabel < -1 || h.OOSLabel >= nc {
		return nil, fmt.Errorf("%w: header values", errCorrupt)
	}
	want := uint64(nf)*(4+2+4) + uint64(nf)*uint64(nc) + uint64(nc)*4 + uint64(ed)*uint64(nc)*4
	if want != uint64(len(p)) {
		return nil, fmt.Errorf("%w: body is %d bytes, want %d", errCorrupt, len(p), want)
	}
	m := &Model{
		labels: h.Labels, feat: h.Features, nfeat: nf, embDim: ed, embWeight: h.EmbWeight,
		temperature: h.Temperature, threshold: h.Threshold, oosLabel: h.OOSLabel,
	}
	keys := make([]uint32, nf)
	for i := range keys {
		keys[i] = binary.LittleEndian.Uint32(p[4*i:])
		if i > 0 && keys[i] <= keys[i-1] {
			return nil, fmt.Errorf("%w: feature keys not sorted", errCorrupt)
		}
	}
	p = p[4*nf:]
	m.idf = make([]float32, nf)
	for i := range m.idf {
		m.idf[i] = f16to32(binary.LittleEndian.Uint16(p[2*i:]))
	}
	p = p[2*nf:]
	m.qscale = readF32(p, nf)
	p = p[4*nf:]
	m.q = make([]int8, nf*nc)
	for i := range m.q {
		m.q[i] = int8(p[i])
	}
	p = p[nf*nc:]
	m.bias = readF32(p, nc)
	p = p[4*nc:]
	m.embW = readF32(p, ed*nc)
	for _, v := range [][]float32{m.idf, m.qscale, m.bias, m.embW} {
		for _, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return nil, fmt.Errorf("%w: non-finite weight", errCorrupt)
			}
		}
	}
	m.voc = newVocab(keys)
	return m, nil
}

func readF32(p []byte, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(p[4*i:]))
	}
	return out
}

// f32to16 converts to IEEE half precision, rounding to nearest even.
func f32to16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23&0xff) - 127 + 15
	mant := b & 0x7fffff
	switch {
	case b&0x7fffffff == 0:
		return sign
	case exp >= 31:
		return sign | 0x7c00 // overflow → inf
	case exp <= 0:
		if exp < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint32(14 - exp)
		h := mant >> shift
		rem := mant & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(exp)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++
	}
	return sign | uint16(h)
}

func f16to32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch exp {
	case 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		f := float32(mant) / 1024 / 16384
		if sign != 0 {
			f = -f
		}
		return f
	case 31:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}
