package server

import (
	"net/http"

	"switchyard/internal/guard"
	"switchyard/internal/tenancy"
)

// guardCheck serves POST /v1/guard/check: the caller's project policy (or
// the default) applied to one text, with every finding and the redacted text.
func (s *Server) guardCheck(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	in, err := decodeAs[struct {
		Input *string `json:"input"`
	}](s, w, r)
	if err != nil {
		return err
	}
	if in.Input == nil {
		return invalidValue("input", "Missing required parameter: 'input'.")
	}
	pol := s.guard.PolicyFor(k)
	res, err := s.guard.Check(r.Context(), *in.Input)
	if err != nil {
		return err
	}
	for i := range res.Findings {
		res.Findings[i].Action = pol.Input.PIIAction(res.Findings[i].Type)
	}
	return writeJSON(w, http.StatusOK, struct {
		guard.Result
		Redacted string `json:"redacted"`
	}{res, guard.NewRedactor().Redact(*in.Input, res.Findings)})
}
