package server

import (
	"net/http"

	"switchyard/internal/guard"
	"switchyard/internal/tenancy"
	wire "switchyard/internal/wire/openai"
)

// guardCheck serves POST /v1/guard/check: the caller's project policy (or
// the default) applied to one text, with every finding and the redacted text.
func (s *Server) guardCheck(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	var in struct {
		Input *string `json:"input"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	if in.Input == nil {
		errorJSON(w, http.StatusBadRequest, wire.TypeInvalidRequest, "invalid_value", "input", "Missing required parameter: 'input'.")
		return
	}
	pol := s.guard.PolicyFor(k)
	res, err := s.guard.Check(r.Context(), *in.Input)
	if err != nil {
		errorJSON(w, http.StatusInternalServerError, wire.TypeServer, "", "", err.Error())
		return
	}
	for i := range res.Findings {
		res.Findings[i].Action = pol.Input.PIIAction(res.Findings[i].Type)
	}
	writeJSON(w, http.StatusOK, struct {
		guard.Result
		Redacted string `json:"redacted"`
	}{res, guard.NewRedactor().Redact(*in.Input, res.Findings)})
}
