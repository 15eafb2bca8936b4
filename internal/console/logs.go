package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/reqlog"
	"switchyard/internal/tenancy"
)

// --- request logs and feedback ---

// logFilter is the log list's form, as the query string carries it.
type logFilter struct {
	Project, Model, Tag, User, Text, Feedback string
	Status                                    string
	From, To                                  string // 2006-01-02 or 2006-01-02T15:04
}

func logFilterOf(v url.Values) logFilter {
	return logFilter{Project: v.Get("project"), Model: strings.TrimSpace(v.Get("model")), Tag: strings.TrimSpace(v.Get("tag")),
		User: strings.TrimSpace(v.Get("user")), Text: strings.TrimSpace(v.Get("q")), Feedback: v.Get("feedback"),
		Status: strings.TrimSpace(v.Get("status")), From: v.Get("from"), To: v.Get("to")}
}

// parseWhen reads a date or a datetime-local value (UTC).
func parseWhen(v string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02", "2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("time")
}

// query turns the form into a log query; the error names the bad field.
func (f logFilter) query() (reqlog.Query, error) {
	q := reqlog.Query{ProjectID: f.Project, Model: f.Model, Tag: f.Tag, EndUser: f.User, Text: f.Text, Feedback: f.Feedback, Limit: 200}
	switch f.Feedback {
	case "", "any", "positive", "negative", "none":
	default:
		return q, errors.New("feedback")
	}
	if f.Status != "" {
		n, err := strconv.Atoi(f.Status)
		if err != nil || n < 0 {
			return q, errors.New("status")
		}
		q.Status = n
	}
	for _, x := range []struct {
		v   string
		dst *time.Time
		n   string
	}{{f.From, &q.From, "from"}, {f.To, &q.To, "to"}} {
		if x.v == "" {
			continue
		}
		t, err := parseWhen(x.v)
		if err != nil {
			return q, errors.New(x.n)
		}
		*x.dst = t
	}
	return q, nil
}

// logScope narrows a log query to what the session may read, mirroring
// the logs API: the admin reads every log, org owners, admins and viewers
// their organisation's, members one of their projects (the first one when
// none is named). ok is false when the session may read no logs; a named
// project the session may not read is ok=false too.
func (c *Console) logScope(s *session, q *reqlog.Query) (projects []*tenancy.Project, ok bool) {
	k := s.key
	for _, o := range c.tenants.Orgs() {
		if !k.CanReadOrg(o.ID) {
			continue
		}
		for _, p := range c.tenants.Projects(o.ID) {
			if k.CanReadProject(p) {
				projects = append(projects, p)
			}
		}
	}
	if q.ProjectID != "" {
		p, err := c.tenants.Project(q.ProjectID)
		return projects, err == nil && (k.IsAdmin() || k.CanReadProject(p))
	}
	switch {
	case k.IsAdmin():
		return projects, true
	case k.Role == tenancy.RoleUser && k.User != nil:
		if k.CanSeeUsage(k.OrgID, "") {
			q.OrgID = k.OrgID
			return projects, true
		}
		if len(projects) > 0 {
			q.ProjectID = projects[0].ID
			return projects, true
		}
	}
	return projects, false
}

type logRow struct {
	reqlog.Summary
	Project string
}

type logsData struct {
	Filter    logFilter
	Projects  []*tenancy.Project
	Rows      []logRow
	CanSee    bool
	Feedbacks []string
}

func (c *Console) logsPage(w http.ResponseWriter, r *http.Request, s *session) {
	lang := PickLang(r)
	f := logFilterOf(r.URL.Query())
	q, err := f.query()
	if err != nil {
		c.fail(w, r, s, http.StatusBadRequest, "err.invalid", err.Error())
		return
	}
	projects, ok := c.logScope(s, &q)
	if f.Project != "" && !ok {
		c.fail(w, r, s, http.StatusNotFound, "err.notfound", "")
		return
	}
	if f.Project == "" && q.ProjectID != "" {
		f.Project = q.ProjectID
	}
	d := logsData{Filter: f, Projects: projects, CanSee: ok, Feedbacks: []string{"any", "positive", "negative", "none"}}
	if ok {
		if c.ledger != nil {
			if err := c.ledger.Flush(r.Context()); err != nil {
				c.log.Error("console logs", "err", err)
			}
		}
		out, err := reqlog.Search(r.Context(), c.db, q)
		if err != nil {
			c.log.Error("console logs", "err", err)
			c.fail(w, r, s, http.StatusInternalServerError, "err.server", "")
			return
		}
		for _, x := range out {
			d.Rows = append(d.Rows, logRow{Summary: x, Project: c.projectName(x.ProjectID)})
		}
	}
	c.render(w, r, 0, "logs", &view{Sess: s, Nav: "logs", Title: T(lang, "logs.title"), Data: d})
}

type logData struct {
	Entry       *reqlog.Entry
	Project     string
	Request     string
	Response    string
	Streamed    bool
	Metadata    string
	CanFeedback bool
	Flash       string
}

// pretty indents JSON; what is not JSON is shown as it is.
func pretty(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var buf bytes.Buffer
	if json.Indent(&buf, raw, "", "  ") == nil {
		return buf.String()
	}
	return string(raw)
}

// logFor finds the path's log if the session may read its project; a log
// of a foreign project is not found.
func (c *Console) logFor(r *http.Request, s *session) (*reqlog.Entry, *tenancy.Project, error) {
	if c.ledger != nil {
		if err := c.ledger.Flush(r.Context()); err != nil {
			return nil, nil, err
		}
	}
	e, err := reqlog.Get(r.Context(), c.db, r.PathValue("id"))
	if err != nil {
		return nil, nil, err
	}
	p, err := c.tenants.Project(e.ProjectID)
	if err != nil && !s.key.IsAdmin() {
		return nil, nil, reqlog.ErrNotFound
	}
	if err == nil && !s.key.IsAdmin() && !s.key.CanReadProject(p) {
		return nil, nil, reqlog.ErrNotFound
	}
	return e, p, nil
}

func (c *Console) logFail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	if errors.Is(err, reqlog.ErrNotFound) {
		c.fail(w, r, s, http.StatusNotFound, "err.notfound", "")
		return
	}
	c.log.Error("console log", "err", err)
	c.fail(w, r, s, http.StatusInternalServerError, "err.server", "")
}

// mayChange says whether the session may change a project's data (give
// feedback, change its datasets): its managers, and the platform admin.
func mayChange(k *tenancy.Key, p *tenancy.Project) bool {
	return k.IsAdmin() || (p != nil && k.CanManageProject(p))
}

func (c *Console) logPage(w http.ResponseWriter, r *http.Request, s *session) {
	e, p, err := c.logFor(r, s)
	if err != nil {
		c.logFail(w, r, s, err)
		return
	}
	d := logData{Entry: e, Project: c.projectName(e.ProjectID), Request: pretty(e.Request), Metadata: pretty(e.Metadata),
		CanFeedback: mayChange(s.key, p)}
	// A stream's answer is kept as the text the client saw, a JSON string.
	var text string
	if len(e.Response) > 0 && e.Response[0] == '"' && json.Unmarshal(e.Response, &text) == nil {
		d.Response, d.Streamed = text, true
	} else {
		d.Response = pretty(e.Response)
	}
	if r.URL.Query().Get("done") == "feedback" {
		d.Flash = T(PickLang(r), "logs.fb.saved")
	}
	c.render(w, r, 0, "log", &view{Sess: s, Nav: "logs", Title: T(PickLang(r), "logs.entry") + " " + e.ClientRequestID, Data: d})
}

// scoreJSON turns the form's score ("up", "down", "0.5", "4") into what
// reqlog.ParseScore reads.
func scoreJSON(v string) json.RawMessage {
	v = strings.TrimSpace(v)
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		return json.RawMessage(v)
	}
	b, _ := json.Marshal(v)
	return b
}

func (c *Console) addFeedback(w http.ResponseWriter, r *http.Request, s *session) {
	e, p, err := c.logFor(r, s)
	if err != nil {
		c.logFail(w, r, s, err)
		return
	}
	if !mayChange(s.key, p) {
		c.fail(w, r, s, http.StatusForbidden, "err.forbidden", "")
		return
	}
	score, raw, err := reqlog.ParseScore(scoreJSON(r.PostFormValue("score")))
	if err != nil {
		c.fail(w, r, s, http.StatusBadRequest, "err.invalid", "score")
		return
	}
	f := &reqlog.Feedback{RequestID: e.RequestID, ProjectID: e.ProjectID, KeyID: s.key.ID, Score: score, RawScore: raw,
		Correction: strings.TrimSpace(r.PostFormValue("correction")), Comment: strings.TrimSpace(r.PostFormValue("comment"))}
	if err := reqlog.AddFeedback(r.Context(), c.db, f); err != nil {
		c.log.Error("console feedback", "err", err)
		c.fail(w, r, s, http.StatusInternalServerError, "err.server", "")
		return
	}
	c.record(r, s, "feedback.add", e.RequestID, map[string]string{"project": e.ProjectID, "feedback": f.ID})
	http.Redirect(w, r, "/console/logs/"+url.PathEscape(e.RequestID)+"?done=feedback", http.StatusSeeOther)
}

// IntN formats an int count.
func (v *view) IntN(n int) string { return FormatInt(int64(n)) }

// Score shows a feedback score (-1..1, or a *float64 that may be nil) with
// a sign: +1.00, -0.50; "—" when there is none.
func (v *view) Score(x any) string {
	var f float64
	switch s := x.(type) {
	case float64:
		f = s
	case *float64:
		if s == nil {
			return "—"
		}
		f = *s
	default:
		return "—"
	}
	if f > 0 {
		return "+" + strconv.FormatFloat(f, 'f', 2, 64)
	}
	return strconv.FormatFloat(f, 'f', 2, 64)
}
