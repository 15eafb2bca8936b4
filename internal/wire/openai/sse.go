package openai

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// MaxEventBytes bounds one SSE event so a broken upstream cannot make the
// gateway buffer without limit.
const MaxEventBytes = 8 << 20

// ErrEventTooLarge is returned when an SSE event exceeds MaxEventBytes.
var ErrEventTooLarge = errors.New("sse: event too large")

// Done is the payload OpenAI sends as the last event of a stream.
var Done = []byte("[DONE]")

// Event is one server-sent event. Data is the event's data lines joined by
// '\n'; it is valid until the next call to Next.
type Event struct {
	Name string
	Data []byte
}

// Decoder reads server-sent events (the WHATWG event-stream format) from r.
type Decoder struct {
	r    *bufio.Reader
	data []byte
	name []byte
}

// NewDecoder returns a Decoder reading from r.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{r: bufio.NewReaderSize(r, 16<<10)}
}

// Buffered reports how many bytes are already read but not yet decoded.
// The gateway uses it to flush only when no further event is waiting.
func (d *Decoder) Buffered() int { return d.r.Buffered() }

// Next returns the next event with data. Comment lines and events without
// data are skipped. At the end of input it returns io.EOF; a stream that ends
// in the middle of an event returns io.ErrUnexpectedEOF.
func (d *Decoder) Next() (Event, error) {
	d.data = d.data[:0]
	d.name = d.name[:0]
	hasData := false
	for {
		line, err := d.readLine()
		if err != nil {
			if err == io.EOF && (hasData || len(line) > 0) {
				if len(line) > 0 {
					d.field(line, &hasData)
				}
				if hasData {
					return Event{Name: string(d.name), Data: d.data}, nil
				}
				return Event{}, io.ErrUnexpectedEOF
			}
			return Event{}, err
		}
		if len(line) == 0 {
			if hasData {
				return Event{Name: string(d.name), Data: d.data}, nil
			}
			d.name = d.name[:0]
			continue
		}
		d.field(line, &hasData)
		if len(d.data) > MaxEventBytes {
			return Event{}, ErrEventTooLarge
		}
	}
}

func (d *Decoder) field(line []byte, hasData *bool) {
	if line[0] == ':' {
		return
	}
	name, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		name, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(name) {
	case "data":
		if *hasData {
			d.data = append(d.data, '\n')
		}
		d.data = append(d.data, value...)
		*hasData = true
	case "event":
		d.name = append(d.name[:0], value...)
	}
}

// readLine returns one line without its terminator (\n, \r\n or \r).
func (d *Decoder) readLine() ([]byte, error) {
	line, err := d.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		// A long line: accumulate.
		buf := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull {
			if len(buf) > MaxEventBytes {
				return nil, ErrEventTooLarge
			}
			line, err = d.r.ReadSlice('\n')
			buf = append(buf, line...)
		}
		line = buf
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	if err == io.EOF && len(line) == 0 {
		return nil, io.EOF
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if err == io.EOF {
		return line, io.EOF
	}
	return line, nil
}

// AppendEvent appends one "data:" event to dst.
func AppendEvent(dst, data []byte) []byte {
	dst = append(dst, "data: "...)
	dst = append(dst, data...)
	return append(dst, '\n', '\n')
}
