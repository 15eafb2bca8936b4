package dataset

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Import formats.
const (
	FormatChatJSONL      = "chat-jsonl"       // {"messages":[{"role","content"}…]} per line
	FormatTextLabelCSV   = "text-label-csv"   // CSV with a header naming the text and label columns
	FormatTextLabelJSONL = "text-label-jsonl" // {"text":…,"label":…} per line
	FormatShareGPT       = "sharegpt"         // [{"conversations":[{"from","value"}…]}…] or one object per line
)

// ImportFormats lists the formats Import reads.
var ImportFormats = []string{FormatChatJSONL, FormatTextLabelCSV, FormatTextLabelJSONL, FormatShareGPT}

// DefaultMaxRowBytes bounds one line (or CSV record, or array element).
const DefaultMaxRowBytes = 4 << 20

// ImportOptions says how to read an upload.
type ImportOptions struct {
	// SkipBad skips malformed rows (they are listed in the report); without
	// it any malformed row refuses the whole import.
	SkipBad bool
	// TextColumn and LabelColumn name the text and label fields of the
	// text-label formats (default "text" and "label").
	TextColumn, LabelColumn string
	// MaxRowBytes bounds one row's size (default DefaultMaxRowBytes).
	MaxRowBytes int
	// Source names the upload in each row's origin (e.g. the file name).
	Source string
}

// LineError is one malformed row.
type LineError struct {
	Line int    `json:"line"` // 1-based line, or array element for JSON arrays
	Err  string `json:"error"`
}

// maxLineErrors bounds how many line errors a report lists (all are counted).
const maxLineErrors = 100

// ImportReport says what an import read.
type ImportReport struct {
	Format  string      `json:"format"`
	Source  string      `json:"source,omitempty"`
	Lines   int         `json:"lines"` // lines (records, elements) read
	Rows    int         `json:"rows"`  // rows imported
	Skipped int         `json:"skipped"`
	Errors  []LineError `json:"errors,omitempty"` // the first 100 malformed rows
}

func (r *ImportReport) bad(line int, err error) {
	r.Skipped++
	if len(r.Errors) < maxLineErrors {
		r.Errors = append(r.Errors, LineError{Line: line, Err: err.Error()})
	}
}

// ImportError is returned when an import is refused because of malformed
// rows; Report lists them.
type ImportError struct {
	Report *ImportReport
}

func (e *ImportError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "import refused: %d malformed rows (use skip-bad to skip them)", e.Report.Skipped)
	for i, le := range e.Report.Errors {
		if i == 5 {
			fmt.Fprintf(&b, "; …")
			break
		}
		fmt.Fprintf(&b, "; line %d: %s", le.Line, le.Err)
	}
	return b.String()
}

// Import reads an upload in the given format and makes a new version of
// the dataset: its latest rows followed by the imported ones. A malformed
// row refuses the import (an *ImportError) unless opt.SkipBad; an import
// that yields no rows is an error; nothing is stored on error. Every
// error of reading the upload is an ErrInvalid (a failing reader's too: the
// caller that owns the reader tells its errors apart).
func (s *Store) Import(ctx context.Context, datasetID string, r io.Reader, format string, opt ImportOptions) (*Version, *ImportReport, error) {
	rows, rep, err := Parse(r, format, opt)
	if err != nil {
		return nil, rep, &kindError{ErrInvalid, err}
	}
	params := map[string]any{"format": format, "source": opt.Source, "skip_bad": opt.SkipBad}
	v, err := s.appendRows(ctx, datasetID, rows, "import", params, rep)
	return v, rep, err
}

// Parse reads rows in the given format without storing them, with the same
// rules as Import.
func Parse(r io.Reader, format string, opt ImportOptions) ([]Row, *ImportReport, error) {
	if opt.MaxRowBytes <= 0 {
		opt.MaxRowBytes = DefaultMaxRowBytes
	}
	if opt.TextColumn == "" {
		opt.TextColumn = "text"
	}
	if opt.LabelColumn == "" {
		opt.LabelColumn = "label"
	}
	rep := &ImportReport{Format: format, Source: opt.Source}
	var rows []Row
	var err error
	switch format {
	case FormatChatJSONL:
		rows, err = parseLines(r, opt, rep, parseChatLine)
	case FormatTextLabelJSONL:
		rows, err = parseLines(r, opt, rep, func(b []byte) (Row, error) { return parseTextLabelLine(b, &opt) })
	case FormatTextLabelCSV:
		rows, err = parseCSV(r, opt, rep)
	case FormatShareGPT:
		rows, err = parseShareGPT(r, opt, rep)
	default:
		return nil, rep, fmt.Errorf("unknown import format %q (want one of %s)", format, strings.Join(ImportFormats, ", "))
	}
	if err != nil {
		return nil, rep, err
	}
	for i := range rows {
		rows[i].Origin.Source, rows[i].Origin.Format = opt.Source, format
	}
	rep.Rows = len(rows)
	if rep.Skipped > 0 && !opt.SkipBad {
		return nil, rep, &ImportError{Report: rep}
	}
	if len(rows) == 0 {
		return nil, rep, errors.New("import: no rows")
	}
	return rows, rep, nil
}

// validRow checks a row holds valid UTF-8 and some content.
func validRow(r *Row) error {
	for _, m := range r.Messages {
		if !utf8.ValidString(m.Role) || !utf8.ValidString(m.Content) {
			return errors.New("invalid UTF-8")
		}
	}
	for _, s := range []string{r.Text, r.Label, r.Prompt, r.Chosen, r.Rejected, r.Reference} {
		if !utf8.ValidString(s) {
			return errors.New("invalid UTF-8")
		}
	}
	if len(r.Messages) == 0 && r.Text == "" && r.Prompt == "" {
		return errors.New("empty row")
	}
	return nil
}

// parseLines reads one JSON object per line with fn. Blank lines are
// ignored; over-long lines and invalid UTF-8 are malformed rows.
func parseLines(r io.Reader, opt ImportOptions, rep *ImportReport, fn func([]byte) (Row, error)) ([]Row, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var rows []Row
	var line []byte
	for n := 1; ; n++ {
		var err error
		line, err = readLine(br, line[:0], opt.MaxRowBytes)
		if err == io.EOF && len(line) == 0 {
			break
		}
		if err != nil && err != io.EOF && !errors.Is(err, errTooLong) {
			return nil, fmt.Errorf("reading line %d: %w", n, err)
		}
		if errors.Is(err, errTooLong) {
			rep.Lines++
			rep.bad(n, err)
			continue
		}
		if len(bytes.TrimSpace(line)) == 0 {
			if err == io.EOF {
				break
			}
			continue
		}
		rep.Lines++
		if !utf8.Valid(line) {
			rep.bad(n, errors.New("invalid UTF-8"))
		} else if row, perr := fn(line); perr != nil {
			rep.bad(n, perr)
		} else {
			row.Origin.Line = n
			rows = append(rows, row)
		}
		if err == io.EOF {
			break
		}
	}
	return rows, nil
}

var errTooLong = errors.New("row too long")

// readLine appends the next line (without its newline) to buf. A line over
// max bytes is consumed and reported as errTooLong.
func readLine(br *bufio.Reader, buf []byte, max int) ([]byte, error) {
	tooLong := false
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > max+1 {
				tooLong, buf = true, buf[:0]
			} else {
				buf = append(buf, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if tooLong {
			if err == nil || err == io.EOF {
				return buf, fmt.Errorf("%w: over %d bytes", errTooLong, max)
			}
			return buf, err
		}
		buf = bytes.TrimSuffix(buf, []byte{'\n'})
		buf = bytes.TrimSuffix(buf, []byte{'\r'})
		return buf, err
	}
}

// jsonError shortens a JSON decoding error.
func jsonError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON at byte %d: %v", se.Offset, se)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("field %s: want %s, got %s", te.Field, te.Type, te.Value)
	}
	return err
}

var chatRoles = map[string]bool{"system": true, "developer": true, "user": true, "assistant": true, "tool": true}

// chatMessage is an OpenAI chat message whose content is a string or an
// array of parts.
type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

func (m *chatMessage) message() (Message, error) {
	if !chatRoles[m.Role] {
		return Message{}, fmt.Errorf("unknown role %q", m.Role)
	}
	c := bytes.TrimSpace(m.Content)
	if len(c) == 0 || string(c) == "null" {
		return Message{Role: m.Role}, nil
	}
	if c[0] == '"' {
		var s string
		if err := json.Unmarshal(c, &s); err != nil {
			return Message{}, jsonError(err)
		}
		return Message{Role: m.Role, Content: s}, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(c, &parts); err != nil {
		return Message{}, errors.New("content: want a string or an array of text parts")
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type != "text" {
			return Message{}, fmt.Errorf("content part of type %q: only text is kept", p.Type)
		}
		b.WriteString(p.Text)
	}
	return Message{Role: m.Role, Content: b.String()}, nil
}

func parseChatLine(b []byte) (Row, error) {
	var v struct {
		Messages []chatMessage `json:"messages"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return Row{}, jsonError(err)
	}
	if len(v.Messages) == 0 {
		return Row{}, errors.New(`no "messages"`)
	}
	row := Row{Messages: make([]Message, 0, len(v.Messages))}
	for i := range v.Messages {
		m, err := v.Messages[i].message()
		if err != nil {
			return Row{}, fmt.Errorf("message %d: %w", i, err)
		}
		row.Messages = append(row.Messages, m)
	}
	return row, nil
}

// scalar turns a JSON string, number or boolean into text.
func scalar(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", true
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return s, true
	}
	if raw[0] == '{' || raw[0] == '[' {
		return "", false
	}
	return string(raw), true
}

func parseTextLabelLine(b []byte, opt *ImportOptions) (Row, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return Row{}, jsonError(err)
	}
	text, ok := scalar(obj[opt.TextColumn])
	if !ok {
		return Row{}, fmt.Errorf("field %q: want a string", opt.TextColumn)
	}
	if strings.TrimSpace(text) == "" {
		return Row{}, fmt.Errorf("no %q", opt.TextColumn)
	}
	label, ok := scalar(obj[opt.LabelColumn])
	if !ok {
		return Row{}, fmt.Errorf("field %q: want a string or number", opt.LabelColumn)
	}
	return Row{Text: text, Label: label}, nil
}

func parseCSV(r io.Reader, opt ImportOptions, rep *ImportReport) ([]Row, error) {
	cr := csv.NewReader(bufio.NewReaderSize(r, 64<<10))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		if err == io.EOF {
			return nil, errors.New("import: empty CSV")
		}
		return nil, fmt.Errorf("reading CSV header: %w", err)
	}
	ti, li := -1, -1
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		switch {
		case strings.EqualFold(h, opt.TextColumn) && ti < 0:
			ti = i
		case strings.EqualFold(h, opt.LabelColumn) && li < 0:
			li = i
		}
	}
	if ti < 0 {
		return nil, fmt.Errorf("CSV header has no %q column", opt.TextColumn)
	}
	rep.Lines++
	var rows []Row
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				rep.Lines++
				rep.bad(pe.StartLine, pe.Err)
				continue
			}
			return nil, fmt.Errorf("reading CSV: %w", err)
		}
		rep.Lines++
		line, _ := cr.FieldPos(0)
		size := 0
		for _, f := range rec {
			size += len(f)
		}
		switch {
		case size > opt.MaxRowBytes:
			rep.bad(line, fmt.Errorf("%w: over %d bytes", errTooLong, opt.MaxRowBytes))
		case len(rec) != len(header):
			rep.bad(line, fmt.Errorf("%d fields, header has %d", len(rec), len(header)))
		case !utf8.ValidString(strings.Join(rec, "")):
			rep.bad(line, errors.New("invalid UTF-8"))
		case strings.TrimSpace(rec[ti]) == "":
			rep.bad(line, fmt.Errorf("empty %q", opt.TextColumn))
		default:
			row := Row{Text: rec[ti], Origin: Origin{Line: line}}
			if li >= 0 {
				row.Label = rec[li]
			}
			rows = append(rows, row)
		}
	}
	return rows, nil
}

// shareGPTRoles maps ShareGPT speakers to chat roles.
var shareGPTRoles = map[string]string{
	"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
	"chatgpt": "assistant", "bard": "assistant", "bing": "assistant", "model": "assistant",
	"system": "system", "tool": "tool", "function": "tool",
}

func parseShareGPTItem(b []byte) (Row, error) {
	var v struct {
		Conversations []struct {
			From  string `json:"from"`
			Value string `json:"value"`
		} `json:"conversations"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return Row{}, jsonError(err)
	}
	if len(v.Conversations) == 0 {
		return Row{}, errors.New(`no "conversations"`)
	}
	row := Row{Messages: make([]Message, 0, len(v.Conversations))}
	for i, c := range v.Conversations {
		role, ok := shareGPTRoles[strings.ToLower(c.From)]
		if !ok {
			return Row{}, fmt.Errorf("turn %d: unknown speaker %q", i, c.From)
		}
		row.Messages = append(row.Messages, Message{Role: role, Content: c.Value})
	}
	return row, nil
}

// parseShareGPT reads a JSON array of conversations or, when the input does
// not start with '[', one conversation per line. In an array the origin
// line is the line where the element starts. A syntax error in an array
// refuses the import whatever SkipBad says: nothing after it can be read.
func parseShareGPT(r io.Reader, opt ImportOptions, rep *ImportReport) ([]Row, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		c, err := br.Peek(1)
		if err != nil {
			if err == io.EOF {
				return nil, nil
			}
			return nil, fmt.Errorf("reading: %w", err)
		}
		if c[0] == ' ' || c[0] == '\t' || c[0] == '\r' || c[0] == '\n' {
			br.ReadByte()
			continue
		}
		if c[0] != '[' {
			return parseLines(br, opt, rep, parseShareGPTItem)
		}
		break
	}
	data, err := io.ReadAll(br)
	if err != nil {
		return nil, fmt.Errorf("reading: %w", err)
	}
	if !utf8.Valid(data) {
		return nil, errors.New("import: ShareGPT array is not valid UTF-8")
	}
	lineAt := func(off int64) int { return 1 + bytes.Count(data[:min(int(off), len(data))], []byte{'\n'}) }
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("import: %w", jsonError(err))
	}
	var rows []Row
	for dec.More() {
		start := dec.InputOffset()
		// Skip the separator and spaces to report the element's own line.
		for start < int64(len(data)) && strings.IndexByte(" \t\r\n,", data[start]) >= 0 {
			start++
		}
		line := lineAt(start)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			rep.Lines++
			rep.bad(line, jsonError(err))
			return nil, &ImportError{Report: rep}
		}
		rep.Lines++
		if len(raw) > opt.MaxRowBytes {
			rep.bad(line, fmt.Errorf("%w: over %d bytes", errTooLong, opt.MaxRowBytes))
			continue
		}
		row, err := parseShareGPTItem(raw)
		if err != nil {
			rep.bad(line, err)
			continue
		}
		row.Origin.Line = line
		rows = append(rows, row)
	}
	if _, err := dec.Token(); err != nil {
		rep.bad(lineAt(dec.InputOffset()), fmt.Errorf("unterminated array: %w", jsonError(err)))
		return nil, &ImportError{Report: rep}
	}
	return rows, nil
}
