package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"switchyard/internal/reqlog"
	"switchyard/internal/tenancy"
	wire "switchyard/internal/wire/openai"
)

// Request logs (kept by projects with keep_bodies), feedback on answers,
// and deletion of a project's or an end user's kept data.

func (s *Server) logRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/feedback", s.auth(false, s.feedback))
	mux.HandleFunc("GET /api/logs", s.api(s.searchLogs))
	mux.HandleFunc("GET /api/logs/{id}", s.api(s.getLog))
	mux.HandleFunc("DELETE /api/projects/{project}/data", s.api(s.deleteProjectData))
}

// feedback serves POST /v1/feedback: any key of the request's project may
// score its answer, any time after, more than once.
func (s *Server) feedback(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	in, err := decodeAs[struct {
		RequestID  string          `json:"request_id"`
		Score      json.RawMessage `json:"score"`
		Correction string          `json:"correction"`
		Comment    string          `json:"comment"`
		Tags       []string        `json:"tags"`
	}](s, w, r)
	if err != nil {
		return err
	}
	if in.RequestID == "" {
		return invalidValue("request_id", "Missing required parameter: 'request_id'.")
	}
	if len(in.Score) == 0 {
		return invalidValue("score", "Missing required parameter: 'score'.")
	}
	score, raw, err := reqlog.ParseScore(in.Score)
	if err != nil {
		return invalidValue("score", sentence(err.Error()))
	}
	scope := k.ProjectID
	if k.IsAdmin() {
		scope = ""
	}
	callID, project, err := s.requestProject(r.Context(), in.RequestID, scope)
	if errors.Is(err, reqlog.ErrNotFound) || (err == nil && !k.IsAdmin() && project != k.ProjectID) {
		return wire.NewError(http.StatusNotFound, wire.TypeNotFound, "request_not_found", "request_id", "No request `"+in.RequestID+"` for this project.")
	}
	if err != nil {
		return err
	}
	f := &reqlog.Feedback{RequestID: callID, ProjectID: project, KeyID: k.ID, Score: score, RawScore: raw,
		Correction: in.Correction, Comment: in.Comment, Tags: in.Tags}
	if err := reqlog.AddFeedback(r.Context(), s.db, f); err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, f)
}

// requestProject finds a call in the ledger by its id or the client's
// request id (within project, if set), waiting for records still in
// flight; it returns the call's id and project.
func (s *Server) requestProject(ctx context.Context, id, project string) (string, string, error) {
	callID, p, err := reqlog.Resolve(ctx, s.db, id, project)
	if errors.Is(err, reqlog.ErrNotFound) {
		if ferr := s.ledger.Flush(ctx); ferr != nil {
			return "", "", ferr
		}
		callID, p, err = reqlog.Resolve(ctx, s.db, id, project)
	}
	return callID, p, err
}

// errMembersNameProject refuses a member's query over the whole organisation.
var errMembersNameProject = forbiddenParam("project", "Members must name one of their projects.")

// logScope narrows a log query to what k may read.
func (s *Server) logScope(k *tenancy.Key, q *reqlog.Query) error {
	switch {
	case k.IsAdmin():
		return nil
	case k.Role == tenancy.RoleUser:
		if q.ProjectID == "" {
			if !k.CanSeeUsage(k.OrgID, "") {
				return errMembersNameProject
			}
			q.OrgID = k.OrgID
			return nil
		}
		if p, err := s.keys.Project(q.ProjectID); err == nil && k.CanReadProject(p) {
			return nil
		}
	}
	return errForbidden
}

func (s *Server) searchLogs(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	v := r.URL.Query()
	q := reqlog.Query{ProjectID: v.Get("project"), KeyID: v.Get("key"), Model: v.Get("model"), EndUser: v.Get("user"),
		Tag: v.Get("tag"), Text: v.Get("q"), Feedback: v.Get("feedback"), ClientRequestID: v.Get("client_request_id")}
	for name, dst := range map[string]*time.Time{"from": &q.From, "to": &q.To} {
		if x := v.Get(name); x != "" {
			t, err := parseWhen(x)
			if err != nil {
				return invalidValue(name, "'"+name+"' must be a date or an RFC 3339 time.")
			}
			*dst = t
		}
	}
	for name, dst := range map[string]*int{"status": &q.Status, "limit": &q.Limit} {
		if x := v.Get(name); x != "" {
			n, err := strconv.Atoi(x)
			if err != nil {
				return invalidValue(name, "'"+name+"' must be an integer.")
			}
			*dst = n
		}
	}
	switch q.Feedback {
	case "", "any", "positive", "negative", "none":
	default:
		return invalidValue("feedback", "'feedback' takes any, positive, negative or none.")
	}
	if err := s.logScope(k, &q); err != nil {
		return err
	}
	if err := s.ledger.Flush(r.Context()); err != nil {
		return err
	}
	out, err := reqlog.Search(r.Context(), s.db, q)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, list(out))
}

func (s *Server) getLog(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	if err := s.ledger.Flush(r.Context()); err != nil {
		return err
	}
	e, err := reqlog.Get(r.Context(), s.db, r.PathValue("id"))
	if err == nil && !k.IsAdmin() {
		p, perr := s.keys.Project(e.ProjectID)
		if perr != nil || !k.CanReadProject(p) {
			err = reqlog.ErrNotFound
		}
	}
	if errors.Is(err, reqlog.ErrNotFound) {
		return notFound("log")
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, e)
}

// deleteProjectData serves DELETE /api/projects/{project}/data[?user=ID]:
// the project's kept logs and feedback, or one end user's, are removed, and
// the audit log records it (with counts, never content).
func (s *Server) deleteProjectData(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	p, err := s.project(r, k)
	if err != nil {
		return err
	}
	if !k.CanManageOrg(p.OrgID) {
		return errForbidden
	}
	if err := s.ledger.Flush(r.Context()); err != nil {
		return err
	}
	endUser := r.URL.Query().Get("user")
	n, err := reqlog.DeleteData(r.Context(), s.db, p.ID, endUser)
	if err != nil {
		return err
	}
	detail := map[string]string{"logs": strconv.FormatInt(n.Logs, 10), "feedback": strconv.FormatInt(n.Feedback, 10)}
	if endUser != "" {
		detail["scope"] = "end user" // the id itself may be personal data
	}
	return s.changed(w, r, k, http.StatusOK, "project.data_delete", p.ID, detail, map[string]any{"project_id": p.ID, "deleted": n})
}

// expireLogs deletes logs past each project's retention; it runs at start
// and then every interval until ctx ends.
func (s *Server) expireLogs(ctx context.Context, every time.Duration) {
	for {
		for _, p := range s.keys.Projects("") {
			if p.RetentionDays <= 0 {
				continue
			}
			before := time.Now().Add(-time.Duration(p.RetentionDays) * 24 * time.Hour)
			if n, err := reqlog.Expire(ctx, s.db, p.ID, before); err != nil {
				if ctx.Err() == nil {
					s.log.Warn("expiring request logs", "project", p.ID, "err", err)
				}
			} else if n > 0 {
				s.log.Info("expired request logs", "project", p.ID, "n", n)
				s.audit.Record(auditSystem("project.logs_expire", p.ID, map[string]string{"logs": strconv.FormatInt(n, 10)}))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
