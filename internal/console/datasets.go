package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"switchyard/internal/dataset"
	"switchyard/internal/reqlog"
	"switchyard/internal/tenancy"
)

// --- datasets ---

// Datasets belong to a project: its readers see them, its managers change
// them, as in the datasets API; a dataset of a foreign project is not found.

type datasetRow struct {
	dataset.Dataset
	Project string
}

type datasetsData struct {
	Rows     []datasetRow
	Projects []*tenancy.Project // where the session may create one
}

func (c *Console) datasets() *dataset.Store { return dataset.Open(c.db) }

func (c *Console) datasetsPage(w http.ResponseWriter, r *http.Request, s *session) {
	all, err := c.datasets().List(r.Context(), "")
	if err != nil {
		c.log.Error("console datasets", "err", err)
		c.fail(w, r, s, http.StatusInternalServerError, "err.server", "")
		return
	}
	var d datasetsData
	for _, x := range all {
		p, err := c.tenants.Project(x.ProjectID)
		if s.key.IsAdmin() || (err == nil && s.key.CanReadProject(p)) {
			d.Rows = append(d.Rows, datasetRow{Dataset: x, Project: c.projectName(x.ProjectID)})
		}
	}
	for _, o := range c.tenants.Orgs() {
		if !s.key.CanReadOrg(o.ID) {
			continue
		}
		for _, p := range c.tenants.Projects(o.ID) {
			if mayChange(s.key, p) {
				d.Projects = append(d.Projects, p)
			}
		}
	}
	c.render(w, r, 0, "datasets", &view{Sess: s, Nav: "datasets", Title: T(PickLang(r), "ds.title"), Data: d})
}

func (c *Console) createDataset(w http.ResponseWriter, r *http.Request, s *session) {
	p, err := c.tenants.Project(r.PostFormValue("project"))
	if err != nil || !s.key.CanReadProject(p) {
		c.fail(w, r, s, http.StatusNotFound, "err.notfound", "")
		return
	}
	if !mayChange(s.key, p) {
		c.fail(w, r, s, http.StatusForbidden, "err.forbidden", "")
		return
	}
	ds, err := c.datasets().Create(r.Context(), strings.TrimSpace(r.PostFormValue("name")), p.ID)
	if err != nil {
		c.datasetFail(w, r, s, err)
		return
	}
	c.record(r, s, "dataset.create", ds.ID, map[string]string{"project": ds.ProjectID})
	http.Redirect(w, r, "/console/datasets/"+ds.ID, http.StatusSeeOther)
}

func (c *Console) datasetFail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	switch {
	case errors.Is(err, dataset.ErrNotFound):
		c.fail(w, r, s, http.StatusNotFound, "err.notfound", "")
	case errors.Is(err, dataset.ErrInvalid), errors.Is(err, dataset.ErrConflict):
		c.fail(w, r, s, http.StatusBadRequest, "err.invalid", err.Error())
	default: // the database or the disk: nothing of it for the page
		c.log.Error("console datasets", "id", r.Header.Get("X-Request-Id"), "err", err)
		c.fail(w, r, s, http.StatusInternalServerError, "err.server", "")
	}
}

// datasetFor finds the path's dataset if the session may read it; manage
// asks for the right to change it too (403 when readable only).
func (c *Console) datasetFor(w http.ResponseWriter, r *http.Request, s *session, manage bool) (*dataset.Dataset, bool) {
	ds, err := c.datasets().Get(r.Context(), r.PathValue("ds"))
	if err == nil && !s.key.IsAdmin() {
		p, perr := c.tenants.Project(ds.ProjectID)
		if perr != nil || !s.key.CanReadProject(p) {
			err = dataset.ErrNotFound
		} else if manage && !s.key.CanManageProject(p) {
			c.fail(w, r, s, http.StatusForbidden, "err.forbidden", "")
			return nil, false
		}
	}
	if err != nil {
		c.datasetFail(w, r, s, err)
		return nil, false
	}
	return ds, true
}

// versionFor finds version number ref of ds; "" or "latest" is the newest.
// pathVersion finds the path's dataset (readable; changeable with manage)
// and its version {v}, writing the error page when either is missing.
func (c *Console) pathVersion(w http.ResponseWriter, r *http.Request, s *session, manage bool) (*dataset.Dataset, *dataset.Version, bool) {
	ds, ok := c.datasetFor(w, r, s, manage)
	if !ok {
		return nil, nil, false
	}
	v, _, err := c.versionFor(r, ds, r.PathValue("v"))
	if err == nil && v == nil {
		err = dataset.ErrNotFound
	}
	if err != nil {
		c.datasetFail(w, r, s, err)
		return nil, nil, false
	}
	return ds, v, true
}

func (c *Console) versionFor(r *http.Request, ds *dataset.Dataset, ref string) (*dataset.Version, []dataset.Version, error) {
	vs, err := c.datasets().Versions(r.Context(), ds.ID)
	if err != nil {
		return nil, nil, err
	}
	if len(vs) == 0 {
		if ref == "" || ref == "latest" {
			return nil, vs, nil
		}
		return nil, vs, dataset.ErrNotFound
	}
	if ref == "" || ref == "latest" {
		return &vs[len(vs)-1], vs, nil
	}
	n, err := strconv.Atoi(ref)
	if err != nil {
		return nil, vs, dataset.ErrNotFound
	}
	for i := range vs {
		if vs[i].N == n {
			return &vs[i], vs, nil
		}
	}
	return nil, vs, dataset.ErrNotFound
}

type datasetData struct {
	Dataset   *dataset.Dataset
	Project   string
	Versions  []dataset.Version // newest first
	Selected  *dataset.Version
	Report    *dataset.CurationReport
	Formats   []string
	CanManage bool
	Curate    dataset.CurateOptions
	Feedbacks []string
	Flash     string
}

func (c *Console) datasetPage(w http.ResponseWriter, r *http.Request, s *session) {
	ds, ok := c.datasetFor(w, r, s, false)
	if !ok {
		return
	}
	v, vs, err := c.versionFor(r, ds, r.URL.Query().Get("v"))
	if err != nil {
		c.datasetFail(w, r, s, err)
		return
	}
	p, _ := c.tenants.Project(ds.ProjectID)
	d := datasetData{Dataset: ds, Project: c.projectName(ds.ProjectID), Selected: v, Formats: dataset.ExportFormats,
		CanManage: mayChange(s.key, p), Curate: dataset.DefaultCurateOptions(), Feedbacks: []string{"any", "positive", "negative", "none"}}
	for i := len(vs) - 1; i >= 0; i-- {
		d.Versions = append(d.Versions, vs[i])
	}
	if v != nil && v.Op == "curate" && len(v.Report) > 0 {
		var rep dataset.CurationReport
		if json.Unmarshal(v.Report, &rep) == nil {
			d.Report = &rep
		}
	}
	switch r.URL.Query().Get("done") {
	case "logs":
		d.Flash = T(PickLang(r), "ds.fromlogs.done")
	case "curated":
		d.Flash = T(PickLang(r), "ds.curate.done")
	case "applied":
		d.Flash = T(PickLang(r), "ds.apply.done")
	}
	c.render(w, r, 0, "dataset", &view{Sess: s, Nav: "datasets", Title: ds.Name, Data: d})
}

func versionHref(ds *dataset.Dataset, v *dataset.Version, done string) string {
	return "/console/datasets/" + url.PathEscape(ds.ID) + "?v=" + strconv.Itoa(v.N) + "&done=" + done
}

// datasetFromLogs adds the project's kept conversations the form's log
// filters select, as the datasets API's from-logs does.
func (c *Console) datasetFromLogs(w http.ResponseWriter, r *http.Request, s *session) {
	ds, ok := c.datasetFor(w, r, s, true)
	if !ok {
		return
	}
	r.ParseForm()
	f := logFilterOf(r.PostForm)
	f.Project, f.Status = ds.ProjectID, ""
	q, err := f.query()
	if err != nil {
		c.fail(w, r, s, http.StatusBadRequest, "err.invalid", err.Error())
		return
	}
	q.Limit = 1000
	if c.ledger != nil {
		if err := c.ledger.Flush(r.Context()); err != nil {
			c.log.Error("console dataset", "err", err)
		}
	}
	rows, _, err := reqlog.DatasetRows(r.Context(), c.db, q, r.PostFormValue("only_corrected") != "")
	if err != nil {
		c.datasetFail(w, r, s, err)
		return
	}
	if len(rows) == 0 {
		c.fail(w, r, s, http.StatusBadRequest, "ds.fromlogs.none", "")
		return
	}
	v, err := c.datasets().AddRows(r.Context(), ds.ID, rows, "from-logs")
	if err != nil {
		c.datasetFail(w, r, s, err)
		return
	}
	c.record(r, s, "dataset.from_logs", ds.ID, map[string]string{"version": v.ID, "rows": strconv.Itoa(len(rows))})
	http.Redirect(w, r, versionHref(ds, v, "logs"), http.StatusSeeOther)
}

// formFloat reads a number in [0, 1] from a form field; empty is zero.
func formFloat(r *http.Request, name string) (float64, error) {
	v := strings.TrimSpace(r.PostFormValue(name))
	if v == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 1 {
		return 0, errors.New(name)
	}
	return f, nil
}

// curateOptions reads the curation form: the common steps.
func curateOptions(r *http.Request) (dataset.CurateOptions, error) {
	o := dataset.CurateOptions{Exact: r.PostFormValue("exact") != "", LabelConflicts: r.PostFormValue("label_conflicts") != "",
		ScrubPII: r.PostFormValue("scrub_pii") != ""}
	var errs []error
	var e error
	o.NearDup, e = formFloat(r, "near_dup")
	errs = append(errs, e)
	o.MaxRepetition, e = formFloat(r, "max_repetition")
	errs = append(errs, e)
	o.MaxNonText, e = formFloat(r, "max_non_text")
	errs = append(errs, e)
	for name, dst := range map[string]*int{"min_chars": &o.MinChars, "max_chars": &o.MaxChars, "min_label_count": &o.MinLabelCount} {
		n, e := formInt(r, name)
		*dst = int(n)
		errs = append(errs, e)
	}
	if err := errors.Join(errs...); err != nil {
		return o, err
	}
	return o, o.Validate()
}

func (c *Console) curate(w http.ResponseWriter, r *http.Request, s *session) {
	ds, v, ok := c.pathVersion(w, r, s, true)
	if !ok {
		return
	}
	o, err := curateOptions(r)
	if err != nil {
		c.fail(w, r, s, http.StatusBadRequest, "err.invalid", err.Error())
		return
	}
	nv, _, err := c.datasets().Curate(r.Context(), v.ID, o)
	if err != nil {
		c.datasetFail(w, r, s, err)
		return
	}
	c.record(r, s, "dataset.curate", ds.ID, map[string]string{"version": nv.ID})
	http.Redirect(w, r, versionHref(ds, nv, "curated"), http.StatusSeeOther)
}

func (c *Console) applyAnnotations(w http.ResponseWriter, r *http.Request, s *session) {
	ds, v, ok := c.pathVersion(w, r, s, true)
	if !ok {
		return
	}
	nv, err := c.datasets().ApplyAnnotations(r.Context(), v.ID)
	if err != nil {
		c.datasetFail(w, r, s, err)
		return
	}
	c.record(r, s, "dataset.annotations_apply", ds.ID, map[string]string{"version": nv.ID})
	http.Redirect(w, r, versionHref(ds, nv, "applied"), http.StatusSeeOther)
}

func (c *Console) exportDataset(w http.ResponseWriter, r *http.Request, s *session) {
	ds, v, ok := c.pathVersion(w, r, s, false)
	if !ok {
		return
	}
	format := r.URL.Query().Get("format")
	known := false
	for _, f := range dataset.ExportFormats {
		known = known || f == format
	}
	if !known {
		c.fail(w, r, s, http.StatusBadRequest, "err.invalid", "format")
		return
	}
	ctype, ext := "application/jsonl", "jsonl"
	if strings.HasSuffix(format, "csv") {
		ctype, ext = "text/csv; charset=utf-8", "csv"
	}
	w.Header().Set("Content-Type", ctype)
	// Dataset names are letters, digits, '.', '_' and '-' only.
	w.Header().Set("Content-Disposition", `attachment; filename="`+ds.Name+"-v"+strconv.Itoa(v.N)+"-"+format+"."+ext+`"`)
	if _, err := c.datasets().Export(r.Context(), v.ID, format, w, nil); err != nil {
		c.log.Error("console export", "err", err)
	}
}

// --- annotation ---

// annotator is who the session annotates as, as in the datasets API: the
// user's email, else the key.
func annotator(k *tenancy.Key) string {
	if k.User != nil {
		return k.User.Email
	}
	return k.ID
}

type annotateData struct {
	Dataset   *dataset.Dataset
	Version   *dataset.Version
	Item      *dataset.QueueItem
	Annotator string
	Agreement *dataset.AgreementReport
	Kappa     string
	Observed  string
	CanManage bool
	Done      bool
}

func (c *Console) annotatePage(w http.ResponseWriter, r *http.Request, s *session) {
	ds, v, ok := c.pathVersion(w, r, s, false)
	if !ok {
		return
	}
	p, _ := c.tenants.Project(ds.ProjectID)
	d := annotateData{Dataset: ds, Version: v, Annotator: annotator(s.key), CanManage: mayChange(s.key, p), Done: r.URL.Query().Get("done") == "1"}
	items, err := c.datasets().Queue(r.Context(), v.ID, d.Annotator, 1)
	if err == nil && len(items) > 0 {
		d.Item = &items[0]
	}
	if err == nil {
		d.Agreement, err = c.datasets().Agreement(r.Context(), v.ID)
	}
	if err != nil {
		c.log.Error("console annotate", "err", err)
		c.fail(w, r, s, http.StatusInternalServerError, "err.server", "")
		return
	}
	d.Kappa = strconv.FormatFloat(d.Agreement.Kappa, 'f', 3, 64)
	d.Observed = FormatPercent(d.Agreement.Observed)
	c.render(w, r, 0, "annotate", &view{Sess: s, Nav: "datasets", Title: T(PickLang(r), "ann.title") + " — " + ds.Name, Data: d})
}

func (c *Console) annotate(w http.ResponseWriter, r *http.Request, s *session) {
	ds, v, ok := c.pathVersion(w, r, s, true)
	if !ok {
		return
	}
	row, err := strconv.Atoi(r.PostFormValue("row"))
	if err != nil || row < 0 {
		c.fail(w, r, s, http.StatusBadRequest, "err.invalid", "row")
		return
	}
	a := dataset.Annotation{Kind: r.PostFormValue("kind")}
	switch a.Kind {
	case dataset.KindLabel:
		a.Label = strings.TrimSpace(r.PostFormValue("label"))
	case dataset.KindCorrect:
		a.Text = r.PostFormValue("text")
	}
	if err := a.Validate(); err != nil {
		c.fail(w, r, s, http.StatusBadRequest, "err.invalid", err.Error())
		return
	}
	if err := c.datasets().Annotate(r.Context(), v.ID, row, annotator(s.key), a); err != nil {
		c.datasetFail(w, r, s, err)
		return
	}
	c.record(r, s, "dataset.annotate", ds.ID, map[string]string{"version": v.ID, "row": strconv.Itoa(row), "kind": a.Kind})
	http.Redirect(w, r, "/console/datasets/"+url.PathEscape(ds.ID)+"/versions/"+strconv.Itoa(v.N)+"/annotate?done=1", http.StatusSeeOther)
}
