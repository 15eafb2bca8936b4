package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Journal format: a segment file is a run of frames, each
//
//	u32 little-endian payload length | u32 little-endian CRC-32C of payload | payload
//
// and a payload is a version byte (1) followed by the record's fields in
// declaration order: strings as uvarint length + bytes, integers as
// varints, Time as varint Unix seconds and uvarint nanoseconds, Stream as
// one byte. Version 2 adds, after Stream, a byte saying whether a Log
// follows: then EndUser, the tag count and tags, Metadata, Request and
// Response, each as uvarint length + bytes. Version 3 adds, at the end,
// ClientRequestID (a string) and Unpriced (one byte); in older records the
// client's id is the ID.

const (
	frameHeader   = 8
	maxPayload    = 4 << 20 // a record is a few hundred bytes, with a kept log at most ~2 MiB; anything larger is damage
	recordVersion = 3
	segPrefix     = "journal-"
	segSuffix     = ".seg"
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errTorn marks a frame cut short or damaged: the end of what can be read.
var errTorn = errors.New("torn journal record")

// appendFrame appends r's frame to b.
func appendFrame(b []byte, r *Record) []byte {
	start := len(b)
	b = append(b, make([]byte, frameHeader)...)
	b = append(b, recordVersion)
	b = appendString(b, r.ID)
	b = binary.AppendVarint(b, r.Time.Unix())
	b = binary.AppendUvarint(b, uint64(r.Time.Nanosecond()))
	for _, s := range [...]string{r.OrgID, r.ProjectID, r.KeyID, r.Model, r.Deployment} {
		b = appendString(b, s)
	}
	for _, n := range [...]int64{r.PromptTokens, r.CachedTokens, r.CompletionTokens, r.CostMicros} {
		b = binary.AppendVarint(b, n)
	}
	b = appendString(b, r.Currency)
	b = binary.AppendVarint(b, r.LatencyMs)
	b = binary.AppendVarint(b, int64(r.Status))
	if r.Stream {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	if l := r.Log; l != nil {
		b = append(b, 1)
		b = appendString(b, l.EndUser)
		b = binary.AppendUvarint(b, uint64(len(l.Tags)))
		for _, t := range l.Tags {
			b = appendString(b, t)
		}
		for _, p := range [...][]byte{l.Metadata, l.Request, l.Response} {
			b = binary.AppendUvarint(b, uint64(len(p)))
			b = append(b, p...)
		}
	} else {
		b = append(b, 0)
	}
	b = appendString(b, r.ClientRequestID)
	if r.Unpriced {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	payload := b[start+frameHeader:]
	binary.LittleEndian.PutUint32(b[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(b[start+4:], crc32.Checksum(payload, crcTable))
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decodeFrames decodes the frames at the start of b, appending records to
// recs. It stops at the first frame that is cut short or fails its checksum
// or decoding, returning the records before it and the number of bytes they
// span; err is errTorn (wrapped) when such a frame was found.
func decodeFrames(b []byte, recs []Record) ([]Record, int, error) {
	off := 0
	for off < len(b) {
		if len(b)-off < frameHeader {
			return recs, off, fmt.Errorf("%w: %d-byte header at offset %d", errTorn, len(b)-off, off)
		}
		n := int(binary.LittleEndian.Uint32(b[off:]))
		sum := binary.LittleEndian.Uint32(b[off+4:])
		if n > maxPayload || n > len(b)-off-frameHeader {
			return recs, off, fmt.Errorf("%w: %d-byte payload at offset %d", errTorn, n, off)
		}
		payload := b[off+frameHeader : off+frameHeader+n]
		if crc32.Checksum(payload, crcTable) != sum {
			return recs, off, fmt.Errorf("%w: checksum mismatch at offset %d", errTorn, off)
		}
		r, err := decodeRecord(payload)
		if err != nil {
			return recs, off, fmt.Errorf("%w: offset %d: %w", errTorn, off, err)
		}
		recs = append(recs, r)
		off += frameHeader + n
	}
	return recs, off, nil
}

// decodeRecord decodes one payload.
func decodeRecord(p []byte) (Record, error) {
	d := decoder{b: p}
	var r Record
	v := d.byte()
	if v < 1 || v > recordVersion {
		return r, fmt.Errorf("record version %d", v)
	}
	r.ID = d.string()
	sec := d.varint()
	nsec, n := binary.Uvarint(d.b)
	if n <= 0 || nsec >= 1e9 {
		d.fail()
	} else {
		d.b = d.b[n:]
	}
	r.Time = time.Unix(sec, int64(nsec)).UTC()
	r.OrgID = d.string()
	r.ProjectID = d.string()
	r.KeyID = d.string()
	r.Model = d.string()
	r.Deployment = d.string()
	r.PromptTokens = d.varint()
	r.CachedTokens = d.varint()
	r.CompletionTokens = d.varint()
	r.CostMicros = d.varint()
	r.Currency = d.string()
	r.LatencyMs = d.varint()
	r.Status = int(d.varint())
	switch d.byte() {
	case 0:
	case 1:
		r.Stream = true
	default:
		d.fail()
	}
	if v >= 2 {
		switch d.byte() {
		case 0:
		case 1:
			l := &Log{EndUser: d.string()}
			n, k := binary.Uvarint(d.b)
			if k <= 0 || n > uint64(len(d.b)) {
				d.fail()
				break
			}
			d.b = d.b[k:]
			for i := uint64(0); i < n && d.err == nil; i++ {
				l.Tags = append(l.Tags, d.string())
			}
			l.Metadata, l.Request, l.Response = d.bytes(), d.bytes(), d.bytes()
			r.Log = l
		default:
			d.fail()
		}
	}
	r.ClientRequestID = r.ID
	if v >= 3 {
		r.ClientRequestID = d.string()
		switch d.byte() {
		case 0:
		case 1:
			r.Unpriced = true
		default:
			d.fail()
		}
	}
	if d.err == nil && len(d.b) != 0 {
		return r, errors.New("trailing bytes in record")
	}
	return r, d.err
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errors.New("malformed record")
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	l, n := binary.Uvarint(d.b)
	if n <= 0 || l > uint64(len(d.b)-n) {
		d.fail()
		return ""
	}
	s := string(d.b[n : n+int(l)])
	d.b = d.b[n+int(l):]
	return s
}

func (d *decoder) bytes() []byte {
	s := d.string()
	if s == "" {
		return nil
	}
	return []byte(s)
}

// segName is the file name of segment seq.
func segName(seq uint64) string {
	return fmt.Sprintf("%s%016d%s", segPrefix, seq, segSuffix)
}

// listSegments returns the sequence numbers of the segments in dir, ascending.
func listSegments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var seqs []uint64
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasPrefix(name, segPrefix) || !strings.HasSuffix(name, segSuffix) {
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, segPrefix), segSuffix), 10, 64)
		if err != nil {
			continue
		}
		seqs = append(seqs, seq)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	return seqs, nil
}

// createSegment creates segment seq for appending.
func createSegment(dir string, seq uint64) (*os.File, error) {
	return os.OpenFile(filepath.Join(dir, segName(seq)), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
}
