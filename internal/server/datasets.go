package server

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/dataset"
	"switchyard/internal/reqlog"
	"switchyard/internal/tenancy"
	wire "switchyard/internal/wire/openai"
)

// The datasets admin API: datasets belong to a project; its readers see
// them, its managers change them. Rows come from uploaded files or from
// the project's request logs (with feedback corrections), are curated,
// annotated and exported — each step a new immutable version.

func (s *Server) datasetRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/datasets", s.api(s.listDatasets))
	mux.HandleFunc("POST /api/datasets", s.api(s.createDataset))
	mux.HandleFunc("GET /api/datasets/{ds}", s.api(s.getDataset))
	mux.HandleFunc("POST /api/datasets/{ds}/import", s.api(s.importDataset))
	mux.HandleFunc("POST /api/datasets/{ds}/from-logs", s.api(s.datasetFromLogs))
	mux.HandleFunc("POST /api/datasets/{ds}/versions/{v}/curate", s.api(s.curateDataset))
	mux.HandleFunc("GET /api/datasets/{ds}/versions/{v}/queue", s.api(s.annotationQueue))
	mux.HandleFunc("POST /api/datasets/{ds}/versions/{v}/annotations", s.api(s.annotate))
	mux.HandleFunc("GET /api/datasets/{ds}/versions/{v}/agreement", s.api(s.agreement))
	mux.HandleFunc("POST /api/datasets/{ds}/versions/{v}/apply", s.api(s.applyAnnotations))
	mux.HandleFunc("GET /api/datasets/{ds}/versions/{v}/export", s.api(s.exportDataset))
}

func (s *Server) datasetStore() *dataset.Store { return dataset.Open(s.db) }

// dataset finds the path's dataset if k may read it (manage: change it).
func (s *Server) dataset(r *http.Request, k *tenancy.Key, manage bool) (*dataset.Dataset, error) {
	ds, err := s.datasetStore().Get(r.Context(), r.PathValue("ds"))
	if errors.Is(err, dataset.ErrNotFound) {
		return nil, notFound("dataset") // as for one k may not see
	}
	if err != nil {
		return nil, err
	}
	if !k.IsAdmin() {
		p, perr := s.keys.Project(ds.ProjectID)
		if perr != nil || !k.CanReadProject(p) {
			return nil, notFound("dataset")
		}
		if manage && !k.CanManageProject(p) {
			return nil, errForbidden
		}
	}
	return ds, nil
}

// version finds the path's version of ds: an id, a number, or "latest".
func (s *Server) version(r *http.Request, ds *dataset.Dataset) (*dataset.Version, error) {
	st := s.datasetStore()
	ref := r.PathValue("v")
	if ref == "latest" {
		v, err := st.Latest(r.Context(), ds.ID)
		if err == nil && v == nil {
			return nil, notFound("version")
		}
		return v, err
	}
	if n, aerr := strconv.Atoi(ref); aerr == nil {
		vs, err := st.Versions(r.Context(), ds.ID)
		if err != nil {
			return nil, err
		}
		for i := range vs {
			if vs[i].N == n {
				return &vs[i], nil
			}
		}
		return nil, notFound("version")
	}
	v, err := st.Version(r.Context(), ref)
	if errors.Is(err, dataset.ErrNotFound) || (err == nil && v.DatasetID != ds.ID) {
		return nil, notFound("version")
	}
	return v, err
}

// datasetVersion is dataset then version: the path's dataset (which k
// may read, or with manage change) and its version.
func (s *Server) datasetVersion(r *http.Request, k *tenancy.Key, manage bool) (*dataset.Dataset, *dataset.Version, error) {
	ds, err := s.dataset(r, k, manage)
	if err != nil {
		return nil, nil, err
	}
	v, err := s.version(r, ds)
	return ds, v, err
}

func (s *Server) listDatasets(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	all, err := s.datasetStore().List(r.Context(), r.URL.Query().Get("project"))
	if err != nil {
		return err
	}
	var out []dataset.Dataset
	for _, d := range all {
		if p, err := s.keys.Project(d.ProjectID); k.IsAdmin() || (err == nil && k.CanReadProject(p)) {
			out = append(out, d)
		}
	}
	return writeJSON(w, http.StatusOK, list(out))
}

func (s *Server) createDataset(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	in, err := decodeAs[datasetInput](s, w, r)
	if err != nil {
		return err
	}
	if !k.IsAdmin() {
		p, err := s.keys.Project(in.ProjectID)
		if err != nil || !k.CanManageProject(p) {
			return errForbidden
		}
	}
	if !dataset.ValidName(in.Name) {
		return invalidValue("name", "Invalid dataset name: use 1-64 letters, digits, . _ -.")
	}
	ds, err := s.datasetStore().Create(r.Context(), in.Name, in.ProjectID)
	if err != nil {
		return err
	}
	return s.changed(w, r, k, http.StatusCreated, "dataset.create", ds.ID, map[string]string{"project": ds.ProjectID}, ds)
}

func (s *Server) getDataset(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	ds, err := s.dataset(r, k, false)
	if err != nil {
		return err
	}
	vs, err := s.datasetStore().Versions(r.Context(), ds.ID)
	if err != nil {
		return err
	}
	if vs == nil {
		vs = []dataset.Version{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"dataset": ds, "versions": vs})
}

// readErr remembers a reader's first error, so a failing upload is told
// apart from a malformed one.
type readErr struct {
	r   io.Reader
	err error
}

func (e *readErr) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// importDataset takes the file as the request body: ?format=chat-jsonl,
// text-label-csv, text-label-jsonl or sharegpt; &skip_bad=true skips bad
// lines (reported) instead of refusing the file.
func (s *Server) importDataset(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	ds, err := s.dataset(r, k, true)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	body := &readErr{r: http.MaxBytesReader(w, r.Body, s.maxBody.Load())}
	v, rep, err := s.datasetStore().Import(r.Context(), ds.ID, body, q.Get("format"),
		dataset.ImportOptions{SkipBad: q.Get("skip_bad") == "true", TextColumn: q.Get("text_column"), LabelColumn: q.Get("label_column")})
	var mbe *http.MaxBytesError
	switch {
	case errors.As(body.err, &mbe):
		return body.err
	case body.err != nil:
		return wire.Invalid("", "The request body could not be read.")
	case errors.Is(err, dataset.ErrInvalid):
		return writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{
			"message": sentence(err.Error()), "type": wire.TypeInvalidRequest, "code": "invalid_file", "param": nil}, "report": rep})
	case err != nil:
		return err
	}
	return s.changed(w, r, k, http.StatusCreated, "dataset.import", ds.ID, map[string]string{"version": v.ID}, map[string]any{"version": v, "report": rep})
}

// datasetFromLogs adds the project's kept conversations as chat rows: the
// messages sent and the answer — or the correction from feedback, when
// one was given. The body is a log query.
func (s *Server) datasetFromLogs(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	ds, err := s.dataset(r, k, true)
	if err != nil {
		return err
	}
	in, err := decodeAs[struct {
		Model    string `json:"model"`
		Tag      string `json:"tag"`
		Text     string `json:"text"`
		EndUser  string `json:"end_user"`
		Feedback string `json:"feedback"` // any, positive, negative, none
		From     string `json:"from"`
		To       string `json:"to"`
		Limit    int    `json:"limit"`
		// OnlyCorrected keeps only conversations whose answer a person corrected.
		OnlyCorrected bool `json:"only_corrected"`
	}](s, w, r)
	if err != nil {
		return err
	}
	q := reqlog.Query{ProjectID: ds.ProjectID, Model: in.Model, Tag: in.Tag, Text: in.Text, EndUser: in.EndUser, Feedback: in.Feedback, Limit: in.Limit}
	for name, at := range map[string]struct {
		v   string
		dst *time.Time
	}{"from": {in.From, &q.From}, "to": {in.To, &q.To}} {
		if at.v == "" {
			continue
		}
		if *at.dst, err = parseWhen(at.v); err != nil {
			return invalidValue(name, "'"+name+"' must be a date or an RFC 3339 time.")
		}
	}
	switch q.Feedback {
	case "", "any", "positive", "negative", "none":
	default:
		return invalidValue("feedback", "'feedback' takes any, positive, negative or none.")
	}
	if err := s.ledger.Flush(r.Context()); err != nil {
		return err
	}
	rows, corrected, err := reqlog.DatasetRows(r.Context(), s.db, q, in.OnlyCorrected)
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		return wire.NewError(http.StatusBadRequest, wire.TypeInvalidRequest, "no_rows", "", "The query selects no kept conversations.")
	}
	v, err := s.datasetStore().AddRows(r.Context(), ds.ID, rows, "from-logs")
	if err != nil {
		return err
	}
	return s.changed(w, r, k, http.StatusCreated, "dataset.from_logs", ds.ID, map[string]string{"version": v.ID, "rows": strconv.Itoa(len(rows))},
		map[string]any{"version": v, "rows": len(rows), "corrected": corrected})
}

func (s *Server) curateDataset(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	ds, v, err := s.datasetVersion(r, k, true)
	if err != nil {
		return err
	}
	c, err := decodeAs[dataset.CurateOptions](s, w, r)
	if err != nil {
		return err
	}
	nv, rep, err := s.datasetStore().Curate(r.Context(), v.ID, c)
	if err != nil {
		return err
	}
	return s.changed(w, r, k, http.StatusCreated, "dataset.curate", ds.ID, map[string]string{"version": nv.ID}, map[string]any{"version": nv, "report": rep})
}

func (s *Server) annotationQueue(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	_, v, err := s.datasetVersion(r, k, false)
	if err != nil {
		return err
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	items, err := s.datasetStore().Queue(r.Context(), v.ID, annotatorOf(r, k), limit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, list(items))
}

// annotatorOf is who annotates: the ?annotator= name, else the key.
func annotatorOf(r *http.Request, k *tenancy.Key) string {
	if a := strings.TrimSpace(r.URL.Query().Get("annotator")); a != "" {
		return a
	}
	if k.User != nil {
		return k.User.Email
	}
	return k.ID
}

func (s *Server) annotate(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	_, v, err := s.datasetVersion(r, k, true)
	if err != nil {
		return err
	}
	in, err := decodeAs[struct {
		Row       int    `json:"row"`
		Annotator string `json:"annotator"`
		dataset.Annotation
	}](s, w, r)
	if err != nil {
		return err
	}
	who := in.Annotator
	if who == "" {
		who = annotatorOf(r, k)
	}
	if err := s.datasetStore().Annotate(r.Context(), v.ID, in.Row, who, in.Annotation); err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, map[string]any{"version": v.ID, "row": in.Row, "annotator": who, "kind": in.Kind})
}

func (s *Server) agreement(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	_, v, err := s.datasetVersion(r, k, false)
	if err != nil {
		return err
	}
	rep, err := s.datasetStore().Agreement(r.Context(), v.ID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, rep)
}

func (s *Server) applyAnnotations(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	ds, v, err := s.datasetVersion(r, k, true)
	if err != nil {
		return err
	}
	nv, err := s.datasetStore().ApplyAnnotations(r.Context(), v.ID)
	if err != nil {
		return err
	}
	return s.changed(w, r, k, http.StatusCreated, "dataset.annotations_apply", ds.ID, map[string]string{"version": nv.ID}, nv)
}

// exportDataset streams ?format=openai-chat, dpo, prompt-chosen-rejected,
// classification-csv or eval-jsonl.
func (s *Server) exportDataset(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	ds, v, err := s.datasetVersion(r, k, false)
	if err != nil {
		return err
	}
	format := r.URL.Query().Get("format")
	ctype, ext := "application/jsonl", "jsonl"
	if strings.HasSuffix(format, "csv") {
		ctype, ext = "text/csv; charset=utf-8", "csv"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", `attachment; filename="`+ds.Name+"-v"+strconv.Itoa(v.N)+"."+ext+`"`)
	// An unknown format fails before anything is written.
	if _, err := s.datasetStore().Export(r.Context(), v.ID, format, w, nil); err != nil {
		w.Header().Del("Content-Disposition")
		return err
	}
	return nil
}
