package server

import (
	"errors"
	"net/http"
	"strconv"

	"switchyard/internal/audit"
	"switchyard/internal/gateway"
	"switchyard/internal/tenancy"
)

// record adds an admin action to the audit log: the calling key, the
// action, its target and the request id — never a secret.
func (s *Server) record(r *http.Request, k *tenancy.Key, action, target string, detail map[string]string) {
	s.audit.Record(audit.Entry{Actor: k.ID, Action: action, Target: target, RequestID: r.Header.Get(gateway.HeaderRequestID), Detail: detail})
}

// auditSystem is an entry for something the server did on its own.
func auditSystem(action, target string, detail map[string]string) audit.Entry {
	return audit.Entry{Actor: "system", Action: action, Target: target, Detail: detail}
}

// auditList serves GET /api/audit (platform admin).
func (s *Server) auditList(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	q := r.URL.Query()
	f := audit.Filter{Actor: q.Get("actor"), Action: q.Get("action"), Target: q.Get("target")}
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return invalidValue("after", "'after' must be an integer.")
		}
		f.AfterSeq = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return invalidValue("limit", "'limit' must be an integer.")
		}
		f.Limit = n
	}
	if err := s.audit.Flush(r.Context()); err != nil {
		return err
	}
	es, err := audit.List(r.Context(), s.db, f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, list(es))
}

// auditVerify serves GET /api/audit/verify (platform admin).
func (s *Server) auditVerify(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	if err := s.audit.Flush(r.Context()); err != nil {
		return err
	}
	n, err := audit.Verify(r.Context(), s.db)
	var p *audit.Problem
	if errors.As(err, &p) {
		return writeJSON(w, http.StatusOK, map[string]any{"ok": false, "entries": n, "first_bad": p})
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"ok": true, "entries": n})
}
