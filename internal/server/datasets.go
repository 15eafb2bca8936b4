package server

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

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
func (s *Server) dataset(w http.ResponseWriter, r *http.Request, k *tenancy.Key, manage bool) (*dataset.Dataset, bool) {
	ds, err := s.datasetStore().Get(r.Context(), r.PathValue("ds"))
	if err == nil && !k.IsAdmin() {
		p, perr := s.keys.Project(ds.ProjectID)
		if perr != nil || !k.CanReadProject(p) {
			err = dataset.ErrNotFound
		} else if manage && !k.CanManageProject(p) {
			forbidden(w)
			return nil, false
		}
	}
	if err != nil {
		datasetError(w, err)
		return nil, false
	}
	return ds, true
}

// version finds the path's version of ds: an id, a number, or "latest".
func (s *Server) version(w http.ResponseWriter, r *http.Request, ds *dataset.Dataset) (*dataset.Version, bool) {
	st := s.datasetStore()
	ref := r.PathValue("v")
	var v *dataset.Version
	var err error
	if ref == "latest" {
		v, err = st.Latest(r.Context(), ds.ID)
	} else if n, aerr := strconv.Atoi(ref); aerr == nil {
		var vs []dataset.Version
		if vs, err = st.Versions(r.Context(), ds.ID); err == nil {
			err = dataset.ErrNotFound
			for i := range vs {
				if vs[i].N == n {
					v, err = &vs[i], nil
				}
			}
		}
	} else if v, err = st.Version(r.Context(), ref); err == nil && v.DatasetID != ds.ID {
		err = dataset.ErrNotFound
	}
	if err != nil {
		datasetError(w, err)
		return nil, false
	}
	return v, true
}

// datasetVersion is dataset then version: the path's dataset (which k
// may read, or with manage change) and its version.
func (s *Server) datasetVersion(w http.ResponseWriter, r *http.Request, k *tenancy.Key, manage bool) (*dataset.Dataset, *dataset.Version, bool) {
	ds, ok := s.dataset(w, r, k, manage)
	if !ok {
		return nil, nil, false
	}
	v, ok := s.version(w, r, ds)
	return ds, v, ok
}

func datasetError(w http.ResponseWriter, err error) {
	if errors.Is(err, dataset.ErrNotFound) {
		notFound(w, "dataset or version")
		return
	}
	errorJSON(w, http.StatusBadRequest, wire.TypeInvalidRequest, "invalid_value", "", err.Error())
}

func (s *Server) listDatasets(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	all, err := s.datasetStore().List(r.Context(), r.URL.Query().Get("project"))
	if err != nil {
		datasetError(w, err)
		return
	}
	var out []dataset.Dataset
	for _, d := range all {
		if p, err := s.keys.Project(d.ProjectID); k.IsAdmin() || (err == nil && k.CanReadProject(p)) {
			out = append(out, d)
		}
	}
	writeJSON(w, http.StatusOK, list(out))
}

func (s *Server) createDataset(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	var in datasetInput
	if !s.decode(w, r, &in) {
		return
	}
	if !k.IsAdmin() {
		p, err := s.keys.Project(in.ProjectID)
		if err != nil || !k.CanManageProject(p) {
			forbidden(w)
			return
		}
	}
	ds, err := s.datasetStore().Create(r.Context(), in.Name, in.ProjectID)
	if err != nil {
		datasetError(w, err)
		return
	}
	s.record(r, k, "dataset.create", ds.ID, map[string]string{"project": ds.ProjectID})
	writeJSON(w, http.StatusCreated, ds)
}

func (s *Server) getDataset(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	ds, ok := s.dataset(w, r, k, false)
	if !ok {
		return
	}
	vs, err := s.datasetStore().Versions(r.Context(), ds.ID)
	if err != nil {
		datasetError(w, err)
		return
	}
	if vs == nil {
		vs = []dataset.Version{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"dataset": ds, "versions": vs})
}

// importDataset takes the file as the request body: ?format=chat-jsonl,
// text-label-csv, text-label-jsonl or sharegpt; &skip_bad=true skips bad
// lines (reported) instead of refusing the file.
func (s *Server) importDataset(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	ds, ok := s.dataset(w, r, k, true)
	if !ok {
		return
	}
	q := r.URL.Query()
	r.Body = http.MaxBytesReader(w, r.Body, s.maxBody.Load())
	v, rep, err := s.datasetStore().Import(r.Context(), ds.ID, r.Body, q.Get("format"),
		dataset.ImportOptions{SkipBad: q.Get("skip_bad") == "true", TextColumn: q.Get("text_column"), LabelColumn: q.Get("label_column")})
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{
			"message": err.Error(), "type": wire.TypeInvalidRequest, "code": "invalid_file", "param": nil}, "report": rep})
		return
	}
	s.record(r, k, "dataset.import", ds.ID, map[string]string{"version": v.ID})
	writeJSON(w, http.StatusCreated, map[string]any{"version": v, "report": rep})
}

// datasetFromLogs adds the project's kept conversations as chat rows: the
// messages sent and the answer — or the correction from feedback, when
// one was given. The body is a log query.
func (s *Server) datasetFromLogs(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	ds, ok := s.dataset(w, r, k, true)
	if !ok {
		return
	}
	var in struct {
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
	}
	if !s.decode(w, r, &in) {
		return
	}
	q := reqlog.Query{ProjectID: ds.ProjectID, Model: in.Model, Tag: in.Tag, Text: in.Text, EndUser: in.EndUser, Feedback: in.Feedback, Limit: in.Limit}
	var err error
	if in.From != "" {
		q.From, err = parseWhen(in.From)
	}
	if err == nil && in.To != "" {
		q.To, err = parseWhen(in.To)
	}
	if err != nil {
		errorJSON(w, http.StatusBadRequest, wire.TypeInvalidRequest, "invalid_value", "from", "'from' and 'to' must be dates or RFC 3339 times.")
		return
	}
	if err := s.ledger.Flush(r.Context()); err != nil {
		errorJSON(w, http.StatusInternalServerError, wire.TypeServer, "", "", err.Error())
		return
	}
	rows, corrected, err := reqlog.DatasetRows(r.Context(), s.db, q, in.OnlyCorrected)
	if err != nil {
		datasetError(w, err)
		return
	}
	if len(rows) == 0 {
		errorJSON(w, http.StatusBadRequest, wire.TypeInvalidRequest, "no_rows", "", "The query selects no kept conversations.")
		return
	}
	v, err := s.datasetStore().AddRows(r.Context(), ds.ID, rows, "from-logs")
	if err != nil {
		datasetError(w, err)
		return
	}
	s.record(r, k, "dataset.from_logs", ds.ID, map[string]string{"version": v.ID, "rows": strconv.Itoa(len(rows))})
	writeJSON(w, http.StatusCreated, map[string]any{"version": v, "rows": len(rows), "corrected": corrected})
}

func (s *Server) curateDataset(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	ds, v, ok := s.datasetVersion(w, r, k, true)
	if !ok {
		return
	}
	var c dataset.CurateOptions
	if !s.decode(w, r, &c) {
		return
	}
	nv, rep, err := s.datasetStore().Curate(r.Context(), v.ID, c)
	if err != nil {
		datasetError(w, err)
		return
	}
	s.record(r, k, "dataset.curate", ds.ID, map[string]string{"version": nv.ID})
	writeJSON(w, http.StatusCreated, map[string]any{"version": nv, "report": rep})
}

func (s *Server) annotationQueue(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	_, v, ok := s.datasetVersion(w, r, k, false)
	if !ok {
		return
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	items, err := s.datasetStore().Queue(r.Context(), v.ID, annotatorOf(r, k), limit)
	if err != nil {
		datasetError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, list(items))
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

func (s *Server) annotate(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	_, v, ok := s.datasetVersion(w, r, k, true)
	if !ok {
		return
	}
	var in struct {
		Row       int    `json:"row"`
		Annotator string `json:"annotator"`
		dataset.Annotation
	}
	if !s.decode(w, r, &in) {
		return
	}
	who := in.Annotator
	if who == "" {
		who = annotatorOf(r, k)
	}
	if err := s.datasetStore().Annotate(r.Context(), v.ID, in.Row, who, in.Annotation); err != nil {
		datasetError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"version": v.ID, "row": in.Row, "annotator": who, "kind": in.Kind})
}

func (s *Server) agreement(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	_, v, ok := s.datasetVersion(w, r, k, false)
	if !ok {
		return
	}
	rep, err := s.datasetStore().Agreement(r.Context(), v.ID)
	if err != nil {
		datasetError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

func (s *Server) applyAnnotations(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	ds, v, ok := s.datasetVersion(w, r, k, true)
	if !ok {
		return
	}
	nv, err := s.datasetStore().ApplyAnnotations(r.Context(), v.ID)
	if err != nil {
		datasetError(w, err)
		return
	}
	s.record(r, k, "dataset.annotations_apply", ds.ID, map[string]string{"version": nv.ID})
	writeJSON(w, http.StatusCreated, nv)
}

// exportDataset streams ?format=openai-chat, dpo, prompt-chosen-rejected,
// classification-csv or eval-jsonl.
func (s *Server) exportDataset(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	ds, v, ok := s.datasetVersion(w, r, k, false)
	if !ok {
		return
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
		datasetError(w, err)
	}
}
