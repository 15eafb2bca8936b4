// Package responses serves OpenAI's Responses API through the gateway: an
// ingress that turns POST /v1/responses into a chat call (or hands it to
// an upstream that serves the API itself), and the store of responses
// that previous_response_id and GET/DELETE /v1/responses/{id} read, kept
// per project.
package responses

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"switchyard/internal/db"
	"switchyard/internal/tenancy"
)

func init() {
	db.Register(db.Migration{Name: "0500_responses_stored", SQL: `
CREATE TABLE responses (
  project_id TEXT NOT NULL,
  id TEXT NOT NULL,
  model TEXT NOT NULL,
  previous_id TEXT NOT NULL,
  input TEXT NOT NULL,
  items TEXT NOT NULL,
  response TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (project_id, id)
);
CREATE INDEX responses_created ON responses (created_at)`})
}

// ErrNotFound is returned for an id the project has no response under.
var ErrNotFound = errors.New("response not found")

// Record is one stored response.
type Record struct {
	ID         string
	Project    string // Scope of the key that made it
	Model      string
	PreviousID string
	// Input is the turn's input items as given; Items the whole
	// conversation through this response (the previous response's Items,
	// then Input, then the output items): what a next turn continues.
	Input    []json.RawMessage
	Items    []json.RawMessage
	Response json.RawMessage // the Response object
	Created  time.Time
}

// Scope is the owner of the responses a key makes and may read: its
// project, or the key itself when it belongs to none (an admin key).
func Scope(k *tenancy.Key) string {
	if k.ProjectID != "" {
		return k.ProjectID
	}
	return "key:" + k.ID
}

// Store keeps responses in the database. A response is staged in memory
// before the client has its last byte and written after (Put), so that a
// client's next turn finds it at once without the answer waiting on the
// write; a replica other than the one that served it sees it only once
// the write is done.
type Store struct {
	db *db.DB

	mu     sync.Mutex
	staged map[stagedKey]*Record
}

type stagedKey struct{ project, id string }

// NewStore returns the store on d (migrated by db.Open).
func NewStore(d *db.DB) *Store {
	return &Store{db: d, staged: map[stagedKey]*Record{}}
}

// Stage makes r visible to Get until Put writes it.
func (s *Store) Stage(r *Record) {
	s.mu.Lock()
	s.staged[stagedKey{r.Project, r.ID}] = r
	s.mu.Unlock()
}

// Put writes r (replacing a response of the same id in its project) and
// ends its staging.
func (s *Store) Put(ctx context.Context, r *Record) error {
	defer func() {
		s.mu.Lock()
		if s.staged[stagedKey{r.Project, r.ID}] == r {
			delete(s.staged, stagedKey{r.Project, r.ID})
		}
		s.mu.Unlock()
	}()
	input, err := json.Marshal(nonNil(r.Input))
	if err != nil {
		return fmt.Errorf("encoding input items: %w", err)
	}
	items, err := json.Marshal(nonNil(r.Items))
	if err != nil {
		return fmt.Errorf("encoding items: %w", err)
	}
	_, err = s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO responses (project_id, id, model, previous_id, input, items, response, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (project_id, id) DO UPDATE SET model = excluded.model, previous_id = excluded.previous_id, input = excluded.input,
  items = excluded.items, response = excluded.response, created_at = excluded.created_at`),
		r.Project, r.ID, r.Model, r.PreviousID, string(input), string(items), string(r.Response), r.Created.UnixMilli())
	if err != nil {
		return fmt.Errorf("storing response %s: %w", r.ID, err)
	}
	return nil
}

func nonNil(v []json.RawMessage) []json.RawMessage {
	if v == nil {
		return []json.RawMessage{}
	}
	return v
}

// Get returns the project's response id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, project, id string) (*Record, error) {
	s.mu.Lock()
	r := s.staged[stagedKey{project, id}]
	s.mu.Unlock()
	if r != nil {
		return r, nil
	}
	r = &Record{ID: id, Project: project}
	var input, items, resp string
	var created int64
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT model, previous_id, input, items, response, created_at FROM responses
WHERE project_id = ? AND id = ?`), project, id).Scan(&r.Model, &r.PreviousID, &input, &items, &resp, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("reading response %s: %w", id, err)
	}
	if err := json.Unmarshal([]byte(input), &r.Input); err != nil {
		return nil, fmt.Errorf("decoding response %s: %w", id, err)
	}
	if err := json.Unmarshal([]byte(items), &r.Items); err != nil {
		return nil, fmt.Errorf("decoding response %s: %w", id, err)
	}
	r.Response = json.RawMessage(resp)
	r.Created = time.UnixMilli(created)
	return r, nil
}

// Delete removes the project's response id, or returns ErrNotFound.
func (s *Store) Delete(ctx context.Context, project, id string) error {
	s.mu.Lock()
	_, staged := s.staged[stagedKey{project, id}]
	delete(s.staged, stagedKey{project, id})
	s.mu.Unlock()
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM responses WHERE project_id = ? AND id = ?`), project, id)
	if err != nil {
		return fmt.Errorf("deleting response %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 && !staged {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return nil
}
