package specialist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The kinds of store error callers branch on (with errors.Is).
var (
	// ErrNotFound is returned when a specialist or version does not exist.
	ErrNotFound = errors.New("specialist not found")
	// ErrInvalid is returned for an invalid specialist name.
	ErrInvalid = errors.New("invalid")
	// ErrConflict is returned when the specialist's state refuses the
	// change (no earlier version to roll back to).
	ErrConflict = errors.New("conflict")
)

// kindError gives err one of the kinds above; its message is err's.
type kindError struct {
	kind, err error
}

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

// Metrics is the summary of a Report kept in manifests.
type Metrics struct {
	Rows            int     `json:"rows"`
	Accuracy        float64 `json:"accuracy"`
	MacroF1         float64 `json:"macro_f1"`
	InScopeAccuracy float64 `json:"in_scope_accuracy"`
	OOSRecall       float64 `json:"oos_recall,omitempty"`
	OOSCount        int     `json:"oos_count,omitempty"`
}

// Summary extracts the manifest metrics of a report.
func (r *Report) Summary() Metrics {
	return Metrics{Rows: r.N, Accuracy: r.Accuracy, MacroF1: r.MacroF1, InScopeAccuracy: r.InScopeAccuracy, OOSRecall: r.OOSRecall, OOSCount: r.OOSCount}
}

// Manifest describes one stored version.
type Manifest struct {
	Name       string    `json:"name"`
	Version    int       `json:"version"`
	CreatedAt  time.Time `json:"created_at"`
	DataHash   string    `json:"data_hash"`
	DataSource string    `json:"data_source,omitempty"`
	TrainRows  int       `json:"train_rows"`
	ValRows    int       `json:"val_rows"`
	Labels     []string  `json:"labels"`
	Params     Params    `json:"params"`
	// Validation: held-out metrics on the validation split (before refit).
	Validation Metrics `json:"validation"`
	// Eval: metrics on a separate evaluation file, when one was given.
	Eval          *Metrics `json:"eval,omitempty"`
	TrainSeconds  float64  `json:"train_seconds"`
	ModelFile     string   `json:"model_file"`
	ModelBytes    int64    `json:"model_bytes"`
	UsesEmbedding bool     `json:"uses_embedding,omitempty"`
	// EmbedModel is the GGUF file whose embeddings the model was trained
	// with; serving loads the same file.
	EmbedModel string `json:"embed_model,omitempty"`
}

// NewManifest fills a manifest from a training result; the store assigns
// Name, Version, CreatedAt and the file fields.
func NewManifest(m *Model, res *Result, train []Example) Manifest {
	return Manifest{
		DataHash:      DataHash(train),
		TrainRows:     res.TrainRows,
		ValRows:       res.ValRows,
		Labels:        m.Labels(),
		Params:        res.Params,
		Validation:    res.Validation.Summary(),
		TrainSeconds:  res.Duration.Seconds(),
		UsesEmbedding: m.UsesEmbeddings(),
	}
}

// Store keeps specialists under <dataDir>/specialists/<name>/v<N>/ with a
// model.bin and a manifest.json per version, and state.json per name
// recording the promoted version and the promotion history.
type Store struct {
	dir string
	mu  sync.Mutex
	now func() time.Time
}

// OpenStore opens (creating if needed) the store under dataDir.
func OpenStore(dataDir string) (*Store, error) {
	dir := filepath.Join(dataDir, "specialists")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("opening specialist store: %w", err)
	}
	return &Store{dir: dir, now: time.Now}, nil
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidName reports whether name can name a specialist.
func ValidName(name string) bool { return nameRE.MatchString(name) }

func (s *Store) nameDir(name string) (string, error) {
	if !ValidName(name) {
		return "", &kindError{ErrInvalid, fmt.Errorf("invalid specialist name %q (letters, digits, . _ -; at most 64)", name)}
	}
	return filepath.Join(s.dir, name), nil
}

type state struct {
	Promoted int   `json:"promoted"`
	History  []int `json:"history"`
}

func writeJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (s *Store) readState(name string) (state, error) {
	dir, err := s.nameDir(name)
	if err != nil {
		return state{}, err
	}
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return state{}, nil
	}
	if err != nil {
		return state{}, fmt.Errorf("reading state of %s: %w", name, err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return state{}, fmt.Errorf("reading state of %s: %w", name, err)
	}
	return st, nil
}

func (s *Store) writeState(name string, st state) error {
	dir, err := s.nameDir(name)
	if err != nil {
		return err
	}
	if err := writeJSONAtomic(filepath.Join(dir, "state.json"), st); err != nil {
		return fmt.Errorf("writing state of %s: %w", name, err)
	}
	return nil
}

// Add stores m as the next version of name and returns its manifest.
func (s *Store) Add(name string, m *Model, man Manifest) (Manifest, error) {
	dir, err := s.nameDir(name)
	if err != nil {
		return Manifest{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Manifest{}, fmt.Errorf("adding version: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	vs, err := s.versions(name)
	if err != nil {
		return Manifest{}, err
	}
	next := 1
	if len(vs) > 0 {
		next = vs[len(vs)-1] + 1
	}
	var vdir string
	for ; ; next++ {
		vdir = filepath.Join(dir, "v"+strconv.Itoa(next))
		err := os.Mkdir(vdir, 0o755)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) {
			return Manifest{}, fmt.Errorf("adding version: %w", err)
		}
	}
	man.Name, man.Version, man.CreatedAt = name, next, s.now().UTC()
	man.ModelFile = "model.bin"
	man.Labels = m.Labels()
	man.UsesEmbedding = m.UsesEmbeddings()
	if err := m.SaveFile(filepath.Join(vdir, man.ModelFile)); err != nil {
		return Manifest{}, err
	}
	fi, err := os.Stat(filepath.Join(vdir, man.ModelFile))
	if err != nil {
		return Manifest{}, fmt.Errorf("adding version: %w", err)
	}
	man.ModelBytes = fi.Size()
	if err := writeJSONAtomic(filepath.Join(vdir, "manifest.json"), man); err != nil {
		return Manifest{}, fmt.Errorf("writing manifest: %w", err)
	}
	return man, nil
}

// versions lists the version numbers of name that have a manifest, ascending.
func (s *Store) versions(name string) ([]int, error) {
	dir, err := s.nameDir(name)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing versions: %w", err)
	}
	var out []int
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "v") {
			continue
		}
		n, err := strconv.Atoi(e.Name()[1:])
		if err != nil || n < 1 {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, e.Name(), "manifest.json")); err == nil {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Versions returns the manifests of every version of name, oldest first.
func (s *Store) Versions(name string) ([]Manifest, error) {
	vs, err := s.versions(name)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	out := make([]Manifest, 0, len(vs))
	for _, v := range vs {
		m, err := s.Manifest(name, v)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// Manifest returns one version's manifest.
func (s *Store) Manifest(name string, version int) (Manifest, error) {
	dir, err := s.nameDir(name)
	if err != nil {
		return Manifest{}, err
	}
	b, err := os.ReadFile(filepath.Join(dir, "v"+strconv.Itoa(version), "manifest.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return Manifest{}, fmt.Errorf("%s v%d: %w", name, version, ErrNotFound)
	}
	if err != nil {
		return Manifest{}, fmt.Errorf("reading manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Manifest{}, fmt.Errorf("reading manifest of %s v%d: %w", name, version, err)
	}
	return m, nil
}

// Entry is one specialist in a listing.
type Entry struct {
	Name     string   `json:"name"`
	Versions int      `json:"versions"`
	Latest   Manifest `json:"latest"`
	Promoted int      `json:"promoted"` // 0 when none
}

// List returns every specialist, sorted by name.
func (s *Store) List() ([]Entry, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("listing specialists: %w", err)
	}
	var out []Entry
	for _, e := range ents {
		if !e.IsDir() || !ValidName(e.Name()) {
			continue
		}
		vs, err := s.versions(e.Name())
		if err != nil {
			return nil, err
		}
		if len(vs) == 0 {
			continue
		}
		latest, err := s.Manifest(e.Name(), vs[len(vs)-1])
		if err != nil {
			return nil, err
		}
		st, err := s.readState(e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, Entry{Name: e.Name(), Versions: len(vs), Latest: latest, Promoted: st.Promoted})
	}
	return out, nil
}

// Promoted returns the promoted version of name (0 when none).
func (s *Store) Promoted(name string) (int, error) {
	st, err := s.readState(name)
	return st.Promoted, err
}

// Load reads one version's model and manifest.
func (s *Store) Load(name string, version int) (*Model, Manifest, error) {
	man, err := s.Manifest(name, version)
	if err != nil {
		return nil, Manifest{}, err
	}
	dir, _ := s.nameDir(name)
	m, err := LoadModelFile(filepath.Join(dir, "v"+strconv.Itoa(version), man.ModelFile))
	if err != nil {
		return nil, Manifest{}, err
	}
	return m, man, nil
}

// LoadPromoted reads the promoted version of name.
func (s *Store) LoadPromoted(name string) (*Model, Manifest, error) {
	v, err := s.Promoted(name)
	if err != nil {
		return nil, Manifest{}, err
	}
	if v == 0 {
		return nil, Manifest{}, fmt.Errorf("%s has no promoted version: %w", name, ErrNotFound)
	}
	return s.Load(name, v)
}

// Promote makes version the one served for name.
func (s *Store) Promote(name string, version int) error {
	if _, err := s.Manifest(name, version); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.readState(name)
	if err != nil {
		return err
	}
	if st.Promoted == version {
		return nil
	}
	st.Promoted = version
	st.History = append(st.History, version)
	return s.writeState(name, st)
}

// Rollback re-promotes the version promoted before the current one and
// returns it.
func (s *Store) Rollback(name string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.readState(name)
	if err != nil {
		return 0, err
	}
	if len(st.History) < 2 {
		return 0, &kindError{ErrConflict, fmt.Errorf("%s: no earlier promoted version to roll back to", name)}
	}
	st.History = st.History[:len(st.History)-1]
	st.Promoted = st.History[len(st.History)-1]
	if err := s.writeState(name, st); err != nil {
		return 0, err
	}
	return st.Promoted, nil
}

// GateResult says what the promotion gate decided.
type GateResult struct {
	Promoted  bool    `json:"promoted"`
	Candidate float64 `json:"candidate_accuracy"`
	Current   float64 `json:"current_accuracy"`
	// CurrentVersion is the version promoted before the decision (0: none).
	CurrentVersion int    `json:"current_version"`
	Reason         string `json:"reason"`
}

// PromoteIfBetter promotes version when there is no promoted version yet,
// or when it beats the promoted one on accuracy over heldOut (both models
// evaluated on the same rows). With no heldOut rows it compares the
// validation accuracies recorded in the manifests.
func (s *Store) PromoteIfBetter(ctx context.Context, name string, version int, heldOut []Example) (GateResult, error) {
	cur, err := s.Promoted(name)
	if err != nil {
		return GateResult{}, err
	}
	cand, candMan, err := s.Load(name, version)
	if err != nil {
		return GateResult{}, err
	}
	res := GateResult{CurrentVersion: cur}
	if cur == 0 || cur == version {
		res.Promoted = true
		res.Reason = "no promoted version yet"
		if cur == version {
			res.Reason = "already promoted"
		}
		return res, s.Promote(name, version)
	}
	if len(heldOut) == 0 {
		curMan, err := s.Manifest(name, cur)
		if err != nil {
			return GateResult{}, err
		}
		res.Candidate, res.Current = candMan.Validation.Accuracy, curMan.Validation.Accuracy
		res.Reason = "validation accuracy from manifests"
	} else {
		curModel, _, err := s.Load(name, cur)
		if err != nil {
			return GateResult{}, err
		}
		cr, err := Evaluate(ctx, cand, heldOut)
		if err != nil {
			return GateResult{}, err
		}
		pr, err := Evaluate(ctx, curModel, heldOut)
		if err != nil {
			return GateResult{}, err
		}
		res.Candidate, res.Current = cr.Accuracy, pr.Accuracy
		res.Reason = fmt.Sprintf("accuracy on %d held-out rows", len(heldOut))
	}
	if res.Candidate > res.Current {
		res.Promoted = true
		return res, s.Promote(name, version)
	}
	return res, nil
}
