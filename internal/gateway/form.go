package gateway

import (
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"strconv"

	wire "switchyard/internal/wire/openai"
)

// Limits of a spooled multipart body, beyond its size.
const (
	maxFormParts = 256
	maxModelLen  = 256
)

// form is a multipart/form-data body spooled to a temporary file, part by
// part as it arrives, so that its "model" field can be found wherever it
// comes (the Node SDK sends the file first) and the body re-sent on every
// attempt without holding it in memory. The parts keep their own headers
// and bytes (read raw: no transfer decoding); the model's value is kept
// apart, so a deployment's upstream name can be put in its place.
type form struct {
	boundary string
	file     *os.File
	parts    []formPart
	model    string
	modelAt  int // index of the model part in parts; -1: none
	size     int64
}

type formPart struct {
	header  textproto.MIMEHeader
	name    string
	off, n  int64
	isModel bool
}

// spoolForm reads the multipart body r (with the given boundary) into a
// new temporary file in dir ("" for os.TempDir). The caller must Close
// the form. Errors are the client's (*wire.Error): a malformed body is a
// 400, a body over an http.MaxBytesReader's limit a 413.
func spoolForm(r io.Reader, boundary, dir string, limit int64) (*form, error) {
	if boundary == "" {
		return nil, wire.Invalid("", "The multipart body has no boundary in its Content-Type.")
	}
	f, err := os.CreateTemp(dir, "switchyard-upload-*")
	if err != nil {
		return nil, err // a 500: the server's disk, not the client's fault
	}
	fm := &form{boundary: boundary, file: f, modelAt: -1}
	if err := fm.read(multipart.NewReader(r, boundary), limit); err != nil {
		fm.Close()
		return nil, err
	}
	return fm, nil
}

func (fm *form) read(mr *multipart.Reader, limit int64) error {
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return uploadError(err, limit)
		}
		if len(fm.parts) == maxFormParts {
			return wire.Invalid("", "The multipart body has more than "+strconv.Itoa(maxFormParts)+" parts.")
		}
		fp := formPart{header: p.Header, name: p.FormName(), off: fm.size}
		if fp.name == "model" {
			if fm.modelAt >= 0 {
				return wire.Invalid("model", "The multipart body names the model more than once.")
			}
			b, err := io.ReadAll(io.LimitReader(p, maxModelLen+1))
			if err != nil {
				return uploadError(err, limit)
			}
			if len(b) > maxModelLen {
				return wire.Invalid("model", "Invalid 'model': longer than "+strconv.Itoa(maxModelLen)+" bytes.")
			}
			fm.model, fp.isModel = string(b), true
			fm.modelAt = len(fm.parts)
		} else {
			n, err := io.Copy(fm.file, p)
			if err != nil {
				return uploadError(err, limit)
			}
			fp.n = n
			fm.size += n
		}
		fm.parts = append(fm.parts, fp)
	}
}

// uploadError is the client's error for a failed read of an upload.
func uploadError(err error, limit int64) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge(limit)
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return err // writing the spool file: the server's fault
	}
	return wire.Invalid("", "The multipart body could not be read: "+err.Error()+".")
}

func tooLarge(limit int64) error {
	return wire.NewError(http.StatusRequestEntityTooLarge, wire.TypeInvalidRequest, "request_too_large", "",
		"The upload is larger than the limit of "+strconv.FormatInt(limit, 10)+" bytes.")
}

// has reports whether the form has a part named name.
func (fm *form) has(name string) bool {
	for _, p := range fm.parts {
		if p.name == name {
			return true
		}
	}
	return false
}

// writeTo writes the form again as multipart with its own boundary, the
// model part (if any) holding model.
func (fm *form) writeTo(w io.Writer, model string) error {
	mw := multipart.NewWriter(w)
	if err := mw.SetBoundary(fm.boundary); err != nil {
		return err
	}
	for _, p := range fm.parts {
		pw, err := mw.CreatePart(p.header)
		if err != nil {
			return err
		}
		if p.isModel {
			_, err = io.WriteString(pw, model)
		} else {
			_, err = io.Copy(pw, io.NewSectionReader(fm.file, p.off, p.n))
		}
		if err != nil {
			return err
		}
	}
	return mw.Close()
}

// length is the size of writeTo's output for model.
func (fm *form) length(model string) int64 {
	var c counter
	mw := multipart.NewWriter(&c)
	if mw.SetBoundary(fm.boundary) != nil {
		return -1
	}
	for _, p := range fm.parts {
		mw.CreatePart(p.header)
		if p.isModel {
			c += counter(len(model))
		} else {
			c += counter(p.n)
		}
	}
	mw.Close()
	return int64(c)
}

// contentType is the re-sent body's Content-Type.
func (fm *form) contentType() string { return "multipart/form-data; boundary=" + fm.boundary }

// open starts writing the form for model into a pipe; the caller reads
// the returned body and must call done when the attempt is over (it
// closes the pipe and waits for the writer).
func (fm *form) open(model string) (body io.ReadCloser, n int64, done func()) {
	pr, pw := io.Pipe()
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		pw.CloseWithError(fm.writeTo(pw, model))
	}()
	return pr, fm.length(model), func() {
		pr.Close()
		<-finished
	}
}

// Close removes the temporary file.
func (fm *form) Close() error {
	err := fm.file.Close()
	if rerr := os.Remove(fm.file.Name()); err == nil {
		err = rerr
	}
	return err
}

type counter int64

func (c *counter) Write(p []byte) (int, error) { *c += counter(len(p)); return len(p), nil }
