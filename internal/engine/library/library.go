// Package library is the directory of local GGUF models (DATA_DIR/models):
// it imports files into it under short names, lists and removes them,
// resolves a name to its file for the local provider and the CLI, and
// pulls files from Hugging Face with resume and sha256 checks.
package library

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"switchyard/internal/engine/gguf"
)

// Ext is the file extension of models in the directory.
const Ext = ".gguf"

// ErrNotFound means no model of that name is in the directory.
var ErrNotFound = errors.New("model not found")

// Library is one models directory.
type Library struct {
	Dir string
}

// Open returns the library of the data directory dataDir (its models/
// subdirectory; it is created when a model is added).
func Open(dataDir string) *Library {
	return &Library{Dir: filepath.Join(dataDir, "models")}
}

// Model describes one model file, from its GGUF header.
type Model struct {
	Name     string `json:"name"`
	Path     string `json:"path"`
	Arch     string `json:"architecture"`
	Params   int64  `json:"parameters"`
	FileType string `json:"file_type"` // the most common matrix type, e.g. "Q8_0"
	Size     int64  `json:"size"`
	Context  int64  `json:"context_length"`
	SHA256   string `json:"sha256,omitempty"` // set by Pull when the server named a digest
}

// CheckName reports whether name can name a model: letters, digits, '.',
// '_' and '-', starting with a letter or digit, at most 128 bytes.
func CheckName(name string) error {
	if name == "" || len(name) > 128 {
		return fmt.Errorf("invalid model name %q: 1 to 128 characters", name)
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || i > 0 && strings.ContainsRune("._-", r)
		if !ok {
			return fmt.Errorf("invalid model name %q: use letters, digits, '.', '_' and '-'", name)
		}
	}
	return nil
}

// NameOf is the default name for a file: its base name without .gguf.
func NameOf(path string) string {
	base := filepath.Base(path)
	if strings.EqualFold(filepath.Ext(base), Ext) {
		base = base[:len(base)-len(Ext)]
	}
	return base
}

// path returns the file of name, without checking that it exists.
func (l *Library) path(name string) (string, error) {
	if err := CheckName(name); err != nil {
		return "", err
	}
	return filepath.Join(l.Dir, name+Ext), nil
}

// Path returns the file of the model name; the error wraps ErrNotFound
// when there is none.
func (l *Library) Path(name string) (string, error) {
	p, err := l.path(name)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%w: no model %q in %s (pull or import it first)", ErrNotFound, name, l.Dir)
		}
		return "", err
	}
	return p, nil
}

// Describe reads the GGUF header of the file at path and checks that it
// looks loadable: an architecture, tensors of known types, a vocabulary.
func Describe(path string) (Model, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return Model{}, err
	}
	defer f.Close()
	m := Model{Name: NameOf(path), Path: path, Arch: f.Architecture(), Size: f.Size()}
	if m.Arch == "" {
		return m, fmt.Errorf("%s: no general.architecture in the metadata", path)
	}
	if len(f.Tensors) == 0 {
		return m, fmt.Errorf("%s: no tensors", path)
	}
	if _, ok := f.Array("tokenizer.ggml.tokens"); !ok {
		return m, fmt.Errorf("%s: no tokenizer vocabulary (tokenizer.ggml.tokens)", path)
	}
	bytes := map[gguf.TensorType]uint64{}
	for _, t := range f.Tensors {
		if !t.Type.Known() {
			return m, fmt.Errorf("%s: tensor %s has unknown type %s", path, t.Name, t.Type)
		}
		m.Params += int64(t.Elements())
		if len(t.Shape) == 2 {
			bytes[t.Type] += t.Size
		}
	}
	var best gguf.TensorType
	var n uint64
	for t, b := range bytes {
		if b > n || b == n && t < best {
			best, n = t, b
		}
	}
	m.FileType = best.String()
	m.Context, _ = f.Int64(m.Arch + ".context_length")
	return m, nil
}

// List describes every model in the directory, sorted by name. A file
// that cannot be read is listed with its name, size and an empty Arch.
func (l *Library) List() ([]Model, error) {
	ents, err := os.ReadDir(l.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Model
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), Ext) {
			continue
		}
		p := filepath.Join(l.Dir, e.Name())
		m, err := Describe(p)
		if err != nil {
			m = Model{Path: p}
			if fi, err := e.Info(); err == nil {
				m.Size = fi.Size()
			}
		}
		m.Name = NameOf(p)
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Import checks that src is a loadable GGUF file and adds it as name
// (NameOf(src) when empty), hard-linking where it can and copying
// otherwise. An existing model of that name is an error.
func (l *Library) Import(src, name string) (Model, error) {
	if name == "" {
		name = NameOf(src)
	}
	dst, err := l.path(name)
	if err != nil {
		return Model{}, err
	}
	if _, err := Describe(src); err != nil {
		return Model{}, fmt.Errorf("not a loadable GGUF model: %w", err)
	}
	if _, err := os.Stat(dst); err == nil {
		return Model{}, fmt.Errorf("model %q already exists (remove it first)", name)
	}
	if err := os.MkdirAll(l.Dir, 0o755); err != nil {
		return Model{}, err
	}
	if err := os.Link(src, dst); err != nil {
		if err := copyFile(src, dst); err != nil {
			return Model{}, fmt.Errorf("copying %s: %w", src, err)
		}
	}
	m, err := Describe(dst)
	m.Name = name
	return m, err
}

// copyFile copies src to dst through a temporary file in dst's directory.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".import-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

// Remove deletes the model name.
func (l *Library) Remove(name string) error {
	p, err := l.Path(name)
	if err != nil {
		return err
	}
	return os.Remove(p)
}
