package specialist

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Example is one labelled text. Line is the 1-based line of the source file
// it came from (0 when built in memory).
type Example struct {
	Text  string `json:"text"`
	Label string `json:"label"`
	Line  int    `json:"-"`
}

// LoadOptions says how to read a data file.
type LoadOptions struct {
	// TextColumn and LabelColumn name the fields holding the text and the
	// label. Empty means: the first of the usual names that is present
	// (text, sentence, review, query, content, input / label, intent,
	// category, class, label_desc).
	TextColumn  string
	LabelColumn string
	// Format is "csv" or "jsonl"; empty means: by file extension
	// (.csv, .tsv → csv; .jsonl, .json, .ndjson → jsonl).
	Format string
}

var (
	defaultTextColumns  = []string{"text", "sentence", "review", "query", "content", "input", "utterance"}
	defaultLabelColumns = []string{"label", "intent", "category", "class", "label_desc", "cat"}
)

// RowError reports a bad row in a data file.
type RowError struct {
	Line int
	Err  error
}

func (e *RowError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *RowError) Unwrap() error { return e.Err }

var (
	errEmptyText  = errors.New("empty text")
	errEmptyLabel = errors.New("empty label")
)

// maxRowErrors bounds how many bad rows one load reports.
const maxRowErrors = 20

// LoadFile reads labelled examples from a CSV or JSONL file.
func LoadFile(path string, opt LoadOptions) ([]Example, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening data: %w", err)
	}
	defer f.Close()
	format := opt.Format
	if format == "" {
		switch strings.ToLower(filepath.Ext(path)) {
		case ".csv", ".tsv":
			format = "csv"
		case ".jsonl", ".json", ".ndjson":
			format = "jsonl"
		default:
			return nil, fmt.Errorf("data %s: unknown format (want .csv or .jsonl, or set the format)", path)
		}
	}
	var ex []Example
	switch format {
	case "csv":
		comma := ','
		if strings.EqualFold(filepath.Ext(path), ".tsv") {
			comma = '\t'
		}
		ex, err = loadCSV(f, opt, comma)
	case "jsonl":
		ex, err = LoadJSONL(f, opt)
	default:
		return nil, fmt.Errorf("data format %q: want csv or jsonl", format)
	}
	if err != nil {
		return nil, fmt.Errorf("data %s: %w", path, err)
	}
	return ex, nil
}

// LoadCSV reads a CSV file with a header row.
func LoadCSV(r io.Reader, opt LoadOptions) ([]Example, error) {
	return loadCSV(r, opt, ',')
}

func pickColumn(want string, defaults []string, have func(string) bool, what string) (string, error) {
	if want != "" {
		if !have(want) {
			return "", fmt.Errorf("no %s column %q", what, want)
		}
		return want, nil
	}
	for _, d := range defaults {
		if have(d) {
			return d, nil
		}
	}
	return "", fmt.Errorf("no %s column (tried %s; set the column name)", what, strings.Join(defaults, ", "))
}

func loadCSV(r io.Reader, opt LoadOptions, comma rune) ([]Example, error) {
	cr := csv.NewReader(bufio.NewReader(r))
	cr.Comma = comma
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("empty file")
	}
	if err != nil {
		return nil, fmt.Errorf("reading header: %w", err)
	}
	cols := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if _, dup := cols[h]; !dup {
			cols[h] = i
		}
	}
	has := func(s string) bool { _, ok := cols[s]; return ok }
	tc, err := pickColumn(opt.TextColumn, defaultTextColumns, has, "text")
	if err != nil {
		return nil, err
	}
	lc, err := pickColumn(opt.LabelColumn, defaultLabelColumns, has, "label")
	if err != nil {
		return nil, err
	}
	ti, li := cols[tc], cols[lc]
	var out []Example
	var errs []error
	for {
		line, _ := cr.FieldPos(0)
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				errs = append(errs, &RowError{Line: pe.Line, Err: pe.Err})
				if errors.Is(pe.Err, csv.ErrQuote) || errors.Is(pe.Err, csv.ErrBareQuote) {
					// The reader cannot resynchronise reliably after a quote error.
					break
				}
				if len(errs) >= maxRowErrors {
					break
				}
				continue
			}
			return nil, fmt.Errorf("reading csv: %w", err)
		}
		line, _ = cr.FieldPos(0)
		if ti >= len(rec) || li >= len(rec) {
			errs = append(errs, &RowError{Line: line, Err: fmt.Errorf("has %d fields, want at least %d", len(rec), max(ti, li)+1)})
		} else if e, err := makeExample(rec[ti], rec[li], line); err != nil {
			errs = append(errs, err)
		} else {
			out = append(out, e)
		}
		if len(errs) >= maxRowErrors {
			break
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(out) == 0 {
		return nil, errors.New("no rows")
	}
	return out, nil
}

func makeExample(text, label string, line int) (Example, error) {
	text = strings.TrimSpace(text)
	label = strings.TrimSpace(label)
	switch {
	case text == "":
		return Example{}, &RowError{Line: line, Err: errEmptyText}
	case label == "":
		return Example{}, &RowError{Line: line, Err: errEmptyLabel}
	}
	return Example{Text: text, Label: label, Line: line}, nil
}

// LoadJSONL reads one JSON object per line. Labels may be strings, numbers
// or booleans; blank lines are skipped.
func LoadJSONL(r io.Reader, opt LoadOptions) ([]Example, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	var out []Example
	var errs []error
	line := 0
	var tc, lc string
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if line == 1 {
			b = bytes.TrimPrefix(b, []byte("\ufeff"))
		}
		if len(b) == 0 {
			continue
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(b, &obj); err != nil {
			errs = append(errs, &RowError{Line: line, Err: fmt.Errorf("invalid JSON object: %w", err)})
		} else {
			if tc == "" {
				has := func(s string) bool { _, ok := obj[s]; return ok }
				var err error
				if tc, err = pickColumn(opt.TextColumn, defaultTextColumns, has, "text"); err != nil {
					return nil, &RowError{Line: line, Err: err}
				}
				if lc, err = pickColumn(opt.LabelColumn, defaultLabelColumns, has, "label"); err != nil {
					tc = ""
					return nil, &RowError{Line: line, Err: err}
				}
			}
			text, terr := jsonScalar(obj[tc])
			label, lerr := jsonScalar(obj[lc])
			switch {
			case terr != nil:
				errs = append(errs, &RowError{Line: line, Err: fmt.Errorf("field %q: %w", tc, terr)})
			case lerr != nil:
				errs = append(errs, &RowError{Line: line, Err: fmt.Errorf("field %q: %w", lc, lerr)})
			default:
				if e, err := makeExample(text, label, line); err != nil {
					errs = append(errs, err)
				} else {
					out = append(out, e)
				}
			}
		}
		if len(errs) >= maxRowErrors {
			break
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading jsonl after line %d: %w", line, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(out) == 0 {
		return nil, errors.New("no rows")
	}
	return out, nil
}

func jsonScalar(raw json.RawMessage) (string, error) {
	if len(raw) == 0 {
		return "", errors.New("missing")
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", err
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	case nil:
		return "", errors.New("is null")
	default:
		return "", fmt.Errorf("is %T, want a string or number", v)
	}
}

// DataHash returns a hex SHA-256 of the examples' texts and labels, in order.
func DataHash(ex []Example) string {
	h := sha256.New()
	var n [8]byte
	for _, e := range ex {
		for _, s := range [2]string{e.Text, e.Label} {
			l := len(s)
			for i := range n {
				n[i] = byte(l >> (8 * i))
			}
			h.Write(n[:])
			io.WriteString(h, s)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// StratifiedSplit moves about frac of each label's examples (at least one
// when the label has two or more, none when it has one) into the second
// result, using seed for a reproducible shuffle. The input is not modified.
func StratifiedSplit(ex []Example, frac float64, seed uint64) (train, val []Example) {
	byLabel := map[string][]int{}
	var order []string
	for i, e := range ex {
		if _, ok := byLabel[e.Label]; !ok {
			order = append(order, e.Label)
		}
		byLabel[e.Label] = append(byLabel[e.Label], i)
	}
	slices.Sort(order)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	inVal := make([]bool, len(ex))
	for _, l := range order {
		idx := byLabel[l]
		if len(idx) < 2 {
			continue
		}
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		k := int(frac*float64(len(idx)) + 0.5)
		k = min(max(k, 1), len(idx)-1)
		for _, i := range idx[:k] {
			inVal[i] = true
		}
	}
	for i, e := range ex {
		if inVal[i] {
			val = append(val, e)
		} else {
			train = append(train, e)
		}
	}
	return train, val
}
