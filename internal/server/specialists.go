package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"time"

	spec "switchyard/internal/specialist"
	"switchyard/internal/tenancy"
	wire "switchyard/internal/wire/openai"
)

// The specialist admin API (admin key only): train in the background,
// follow the job, list, show, promote and roll back versions. The store is
// the one the specialist provider serves from (<data_dir>/specialists).

// maxJobs bounds the finished jobs remembered.
const maxJobs = 100

// specialistJobs holds the training jobs of one server. Jobs run one at a
// time and stop when the server shuts down.
type specialistJobs struct {
	s    *Server
	dir  string        // data directory
	slot chan struct{} // one training at a time

	mu    sync.Mutex
	jobs  map[string]*trainJob
	order []string // ids, oldest first
}

// trainJob is a training job as GET /api/specialists/jobs/{id} shows it.
type trainJob struct {
	ID         string           `json:"id"`
	Object     string           `json:"object"`
	Name       string           `json:"name"`
	State      string           `json:"state"` // queued, running, succeeded, failed, canceled
	Stage      string           `json:"stage,omitempty"`
	Progress   float64          `json:"progress"`
	Rows       int              `json:"rows"`
	CreatedAt  time.Time        `json:"created_at"`
	FinishedAt *time.Time       `json:"finished_at,omitempty"`
	Version    int              `json:"version,omitempty"`
	Metrics    *spec.Metrics    `json:"metrics,omitempty"`
	Eval       *spec.Metrics    `json:"eval,omitempty"`
	Promotion  *spec.GateResult `json:"promotion,omitempty"`
	Error      string           `json:"error,omitempty"`
}

// specialistView is one specialist with its versions.
type specialistView struct {
	Object   string          `json:"object"`
	Name     string          `json:"name"`
	Promoted int             `json:"promoted"` // 0: none
	Versions []spec.Manifest `json:"versions"`
}

func (s *Server) specialistRoutes(mux *http.ServeMux) {
	j := &specialistJobs{s: s, dir: s.Config().DataDir, slot: make(chan struct{}, 1), jobs: map[string]*trainJob{}}
	mux.HandleFunc("GET /api/specialists", s.auth(true, j.list))
	mux.HandleFunc("GET /api/specialists/jobs/{id}", s.auth(true, j.job))
	mux.HandleFunc("GET /api/specialists/{name}", s.auth(true, j.show))
	mux.HandleFunc("POST /api/specialists/{name}/train", s.auth(true, j.train))
	mux.HandleFunc("POST /api/specialists/{name}/promote", s.auth(true, j.promote))
	mux.HandleFunc("POST /api/specialists/{name}/rollback", s.auth(true, j.rollback))
}

func (j *specialistJobs) view(w http.ResponseWriter, st *spec.Store, name string, status int) error {
	vs, err := st.Versions(name)
	if err != nil {
		return err
	}
	p, err := st.Promoted(name)
	if err != nil {
		return err
	}
	return writeJSON(w, status, specialistView{Object: "specialist", Name: name, Promoted: p, Versions: vs})
}

func (j *specialistJobs) list(w http.ResponseWriter, r *http.Request, _ *tenancy.Key) error {
	st, err := spec.OpenStore(j.dir)
	if err != nil {
		return err
	}
	es, err := st.List()
	if err != nil {
		return err
	}
	out := make([]specialistView, 0, len(es))
	for _, e := range es {
		vs, err := st.Versions(e.Name)
		if err != nil {
			return err
		}
		out = append(out, specialistView{Object: "specialist", Name: e.Name, Promoted: e.Promoted, Versions: vs})
	}
	return writeJSON(w, http.StatusOK, list(out))
}

func (j *specialistJobs) show(w http.ResponseWriter, r *http.Request, _ *tenancy.Key) error {
	st, err := spec.OpenStore(j.dir)
	if err != nil {
		return err
	}
	return j.view(w, st, r.PathValue("name"), http.StatusOK)
}

func (j *specialistJobs) promote(w http.ResponseWriter, r *http.Request, _ *tenancy.Key) error {
	body, err := decodeAs[struct {
		Version int `json:"version"`
	}](j.s, w, r)
	if err != nil {
		return err
	}
	if body.Version < 1 {
		return invalidValue("version", "'version' must be a version number (1 or more).")
	}
	st, err := spec.OpenStore(j.dir)
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	if err := st.Promote(name, body.Version); err != nil {
		return err
	}
	j.promoted(r.Context(), name)
	return j.view(w, st, name, http.StatusOK)
}

// promoted tells the guard at once when the specialist it scores
// injections with changed version (otherwise its background check sees it
// within seconds).
func (j *specialistJobs) promoted(ctx context.Context, name string) {
	if g := j.s.guard; g != nil && j.s.Config().Guard.InjectionSpecialist == name {
		g.Refresh(ctx)
	}
}

func (j *specialistJobs) rollback(w http.ResponseWriter, r *http.Request, _ *tenancy.Key) error {
	st, err := spec.OpenStore(j.dir)
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	if _, err := st.Versions(name); err != nil {
		return err
	}
	if _, err := st.Rollback(name); err != nil {
		return err
	}
	j.promoted(r.Context(), name)
	return j.view(w, st, name, http.StatusOK)
}

func (j *specialistJobs) job(w http.ResponseWriter, r *http.Request, _ *tenancy.Key) error {
	j.mu.Lock()
	t, ok := j.jobs[r.PathValue("id")]
	var snap trainJob
	if ok {
		snap = *t
	}
	j.mu.Unlock()
	if !ok {
		return notFound("Job")
	}
	return writeJSON(w, http.StatusOK, snap)
}

// train validates and loads the data now (so bad data is a 400), then
// trains in the background and answers 202 with the job.
func (j *specialistJobs) train(w http.ResponseWriter, r *http.Request, _ *tenancy.Key) error {
	body, err := decodeAs[struct {
		Data        string `json:"data"`
		CSV         string `json:"csv"`
		Eval        string `json:"eval"`
		TextColumn  string `json:"text_column"`
		LabelColumn string `json:"label_column"`
	}](j.s, w, r)
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	if !spec.ValidName(name) {
		return invalidValue("name", "Invalid specialist name: use letters, digits, . _ - (at most 64).")
	}
	if (body.Data == "") == (body.CSV == "") {
		return invalidValue("data", "Give exactly one of 'data' (a file on the server) or 'csv' (the CSV text).")
	}
	opt := spec.LoadOptions{TextColumn: body.TextColumn, LabelColumn: body.LabelColumn}
	var ex []spec.Example
	source := body.Data
	if body.Data != "" {
		ex, err = spec.LoadFile(body.Data, opt)
	} else {
		source = "inline csv"
		opt.Format = "csv"
		ex, err = spec.LoadCSV(strings.NewReader(body.CSV), opt)
	}
	if err != nil {
		return wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "invalid_data", "data", "Reading the training data: "+err.Error()+".")
	}
	var eval []spec.Example
	if body.Eval != "" {
		if eval, err = spec.LoadFile(body.Eval, opt); err != nil {
			return wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "invalid_data", "eval", "Reading the evaluation data: "+err.Error()+".")
		}
	}
	t := &trainJob{ID: jobID(), Object: "specialist.train_job", Name: name, State: "queued", Rows: len(ex), CreatedAt: time.Now().UTC()}
	j.add(t)
	ctx, cancel := context.WithCancel(context.Background())
	j.s.bg.Add(1)
	go func() {
		defer j.s.bg.Done()
		defer cancel()
		go func() { // the server's shutdown cancels the job
			select {
			case <-j.s.done:
				cancel()
			case <-ctx.Done():
			}
		}()
		j.run(ctx, t, ex, eval, source)
	}()
	j.mu.Lock()
	snap := *t
	j.mu.Unlock()
	return writeJSON(w, http.StatusAccepted, snap)
}

func (j *specialistJobs) add(t *trainJob) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.jobs[t.ID] = t
	j.order = append(j.order, t.ID)
	for i := 0; len(j.order) > maxJobs && i < len(j.order); {
		old := j.jobs[j.order[i]]
		if old.FinishedAt == nil {
			i++
			continue
		}
		delete(j.jobs, old.ID)
		j.order = append(j.order[:i], j.order[i+1:]...)
	}
}

// stageSpan places a training stage within the job's progress 0..1.
var stageSpan = map[string][2]float64{"features": {0, 0.1}, "search": {0.1, 0.8}, "refit": {0.8, 0.95}}

// run trains, stores the version and promotes it when it beats the
// promoted one (on eval when given, else on validation accuracy).
func (j *specialistJobs) run(ctx context.Context, t *trainJob, ex, eval []spec.Example, source string) {
	update := func(f func()) {
		j.mu.Lock()
		defer j.mu.Unlock()
		f()
	}
	fail := func(err error) {
		update(func() {
			now := time.Now().UTC()
			t.FinishedAt, t.State, t.Error = &now, "failed", err.Error()
			if ctx.Err() != nil {
				t.State = "canceled"
			}
		})
		j.s.log.Warn("specialist training failed", "job", t.ID, "name", t.Name, "err", err)
	}
	select {
	case j.slot <- struct{}{}:
		defer func() { <-j.slot }()
	case <-ctx.Done():
		fail(ctx.Err())
		return
	}
	update(func() { t.State = "running" })
	cfg := spec.Config{Seed: 1, Progress: func(p spec.Progress) {
		sp, ok := stageSpan[p.Stage]
		if !ok || p.Total <= 0 {
			return
		}
		update(func() {
			t.Stage = p.Stage
			t.Progress = sp[0] + (sp[1]-sp[0])*float64(p.Done)/float64(p.Total)
		})
	}}
	m, res, err := spec.Train(ctx, ex, nil, cfg)
	if err != nil {
		fail(err)
		return
	}
	man := spec.NewManifest(m, res, ex)
	man.DataSource = source
	if len(eval) > 0 {
		rep, err := spec.Evaluate(ctx, m, eval)
		if err != nil {
			fail(err)
			return
		}
		sum := rep.Summary()
		man.Eval = &sum
	}
	st, err := spec.OpenStore(j.dir)
	if err != nil {
		fail(err)
		return
	}
	if man, err = st.Add(t.Name, m, man); err != nil {
		fail(err)
		return
	}
	gate, err := st.PromoteIfBetter(ctx, t.Name, man.Version, eval)
	if err != nil {
		fail(err)
		return
	}
	if gate.Promoted {
		j.promoted(ctx, t.Name)
	}
	update(func() {
		now := time.Now().UTC()
		t.State, t.Stage, t.Progress, t.FinishedAt = "succeeded", "", 1, &now
		t.Version, t.Metrics, t.Eval, t.Promotion = man.Version, &man.Validation, man.Eval, &gate
	})
	j.s.log.Info("specialist trained", "job", t.ID, "name", t.Name, "version", man.Version,
		"val_accuracy", man.Validation.Accuracy, "promoted", gate.Promoted, "seconds", man.TrainSeconds)
}

func jobID() string {
	var b [8]byte
	rand.Read(b[:])
	return "stj_" + hex.EncodeToString(b[:])
}
