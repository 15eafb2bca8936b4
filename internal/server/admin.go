package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"switchyard/internal/gateway"
	"switchyard/internal/policy"
	"switchyard/internal/tenancy"
	wire "switchyard/internal/wire/openai"
)

// The admin API: organisations, projects, users, keys, prices, balances.
// Every handler checks what the calling key may do (tenancy's Can*
// methods); an object the caller may not see answers 404, as if absent.

func (s *Server) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPI)
	})
	mux.HandleFunc("GET /api/orgs", s.api(s.listOrgs))
	mux.HandleFunc("POST /api/orgs", s.api(s.createOrg))
	mux.HandleFunc("GET /api/orgs/{org}", s.api(s.getOrg))
	mux.HandleFunc("PATCH /api/orgs/{org}", s.api(s.updateOrg))
	mux.HandleFunc("DELETE /api/orgs/{org}", s.api(s.deleteOrg))
	mux.HandleFunc("GET /api/orgs/{org}/projects", s.api(s.listProjects))
	mux.HandleFunc("POST /api/orgs/{org}/projects", s.api(s.createProject))
	mux.HandleFunc("GET /api/projects/{project}", s.api(s.getProject))
	mux.HandleFunc("PATCH /api/projects/{project}", s.api(s.updateProject))
	mux.HandleFunc("DELETE /api/projects/{project}", s.api(s.deleteProject))
	mux.HandleFunc("GET /api/projects/{project}/keys", s.api(s.listKeys))
	mux.HandleFunc("POST /api/projects/{project}/keys", s.api(s.createKey))
	mux.HandleFunc("GET /api/keys/{key}", s.api(s.getKey))
	mux.HandleFunc("PATCH /api/keys/{key}", s.api(s.updateKey))
	mux.HandleFunc("DELETE /api/keys/{key}", s.api(s.revokeKey))
	mux.HandleFunc("POST /api/keys/admin/rotate", s.auth(true, s.rotateAdmin))
	mux.HandleFunc("GET /api/orgs/{org}/users", s.api(s.listUsers))
	mux.HandleFunc("POST /api/orgs/{org}/users", s.api(s.createUser))
	mux.HandleFunc("PATCH /api/users/{user}", s.api(s.updateUser))
	mux.HandleFunc("DELETE /api/users/{user}", s.api(s.deleteUser))
	mux.HandleFunc("GET /api/prices", s.api(s.listPrices))
	mux.HandleFunc("POST /api/prices", s.api(s.addPrice))
	mux.HandleFunc("POST /api/orgs/{org}/topups", s.api(s.topUp))
	mux.HandleFunc("GET /api/orgs/{org}/balance", s.api(s.balance))
	mux.HandleFunc("GET /api/usage", s.api(s.usage))
	mux.HandleFunc("GET /api/orgs/{org}/invoices/{month}", s.api(s.invoice))
	s.logRoutes(mux)
	s.datasetRoutes(mux)
	mux.HandleFunc("GET /api/audit", s.auth(true, s.auditList))
	mux.HandleFunc("GET /api/audit/verify", s.auth(true, s.auditVerify))
}

// api authenticates any key for an admin API handler.
func (s *Server) api(h keyHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		k, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		h(w, r, k)
	}
}

func notFound(w http.ResponseWriter, what string) {
	errorJSON(w, http.StatusNotFound, wire.TypeNotFound, "not_found", "", what+" not found.")
}

func forbidden(w http.ResponseWriter) {
	errorJSON(w, http.StatusForbidden, wire.TypePermission, "insufficient_permissions", "", "Your key may not do this.")
}

// storeError maps a tenancy error to the API's.
func storeError(w http.ResponseWriter, what string, err error) {
	switch {
	case errors.Is(err, tenancy.ErrNotFound):
		notFound(w, what)
	case errors.Is(err, tenancy.ErrConflict):
		errorJSON(w, http.StatusConflict, wire.TypeInvalidRequest, "conflict", "", what+" already exists.")
	case errors.Is(err, tenancy.ErrInvalid):
		errorJSON(w, http.StatusBadRequest, wire.TypeInvalidRequest, "invalid_value", "", err.Error())
	default:
		errorJSON(w, http.StatusInternalServerError, wire.TypeServer, "", "", err.Error())
	}
}

// decode reads a JSON object strictly into v (unknown fields refused).
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := s.readBody(w, r, nil)
	if err != nil {
		writeErr(w, err)
		return false
	}
	if _, err := wire.Scan(body); err != nil {
		errorJSON(w, http.StatusBadRequest, wire.TypeInvalidRequest, "invalid_json", "", "The body is not a valid JSON object: "+err.Error()+".")
		return false
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		msg := err.Error()
		param := ""
		if errors.As(err, &te) {
			param = te.Field
			msg = "Invalid type for '" + te.Field + "': expected " + te.Type.String() + ", but got " + te.Value + "."
		}
		errorJSON(w, http.StatusBadRequest, wire.TypeInvalidRequest, "invalid_value", param, msg)
		return false
	}
	if _, err := d.Token(); err != io.EOF {
		errorJSON(w, http.StatusBadRequest, wire.TypeInvalidRequest, "invalid_json", "", "The body must hold one JSON object.")
		return false
	}
	return true
}

func writeErr(w http.ResponseWriter, err error) {
	var e *wire.Error
	if errors.As(err, &e) {
		gateway.WriteError(w, e)
		return
	}
	errorJSON(w, http.StatusBadRequest, wire.TypeInvalidRequest, "", "", err.Error())
}

func list[T any](items []T) map[string]any {
	if items == nil {
		items = []T{}
	}
	return map[string]any{"object": "list", "data": items}
}

// --- organisations ---

func (s *Server) listOrgs(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	var out []*tenancy.Org
	for _, o := range s.keys.Orgs() {
		if k.CanReadOrg(o.ID) {
			out = append(out, o)
		}
	}
	writeJSON(w, http.StatusOK, list(out))
}

func (s *Server) createOrg(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	if !k.IsAdmin() {
		forbidden(w)
		return
	}
	var o tenancy.Org
	if !s.decode(w, r, &o) {
		return
	}
	created, err := s.keys.CreateOrg(r.Context(), o)
	if err != nil {
		storeError(w, "organisation", err)
		return
	}
	s.record(r, k, "org.create", created.ID, nil)
	writeJSON(w, http.StatusCreated, created)
}

// org finds the path's organisation if k may read it.
func (s *Server) org(w http.ResponseWriter, r *http.Request, k *tenancy.Key) (*tenancy.Org, bool) {
	o, err := s.keys.Org(r.PathValue("org"))
	if err != nil || !k.CanReadOrg(o.ID) {
		notFound(w, "organisation")
		return nil, false
	}
	return o, true
}

func (s *Server) getOrg(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	if o, ok := s.org(w, r, k); ok {
		writeJSON(w, http.StatusOK, o)
	}
}

func (s *Server) updateOrg(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	o, ok := s.org(w, r, k)
	if !ok {
		return
	}
	if !k.CanManageOrg(o.ID) {
		forbidden(w)
		return
	}
	next := *o
	if !s.decode(w, r, &next) {
		return
	}
	next.ID, next.CreatedAt = o.ID, o.CreatedAt
	if !k.IsAdmin() && (next.MarkupBPS != o.MarkupBPS || next.Prepaid != o.Prepaid) {
		errorJSON(w, http.StatusForbidden, wire.TypePermission, "insufficient_permissions", "markup_bps", "Only the platform admin sets markup and billing mode.")
		return
	}
	updated, err := s.keys.UpdateOrg(r.Context(), next)
	if err != nil {
		storeError(w, "organisation", err)
		return
	}
	s.record(r, k, "org.update", o.ID, nil)
	writeJSON(w, http.StatusOK, updated)
}

func (s *Server) deleteOrg(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	o, ok := s.org(w, r, k)
	if !ok {
		return
	}
	if !k.IsAdmin() {
		forbidden(w)
		return
	}
	if err := s.keys.DeleteOrg(r.Context(), o.ID); err != nil {
		storeError(w, "organisation", err)
		return
	}
	s.record(r, k, "org.delete", o.ID, nil)
	writeJSON(w, http.StatusOK, map[string]any{"id": o.ID, "deleted": true})
}

// --- projects ---

func (s *Server) listProjects(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	o, ok := s.org(w, r, k)
	if !ok {
		return
	}
	var out []*tenancy.Project
	for _, p := range s.keys.Projects(o.ID) {
		if k.CanReadProject(p) {
			out = append(out, p)
		}
	}
	writeJSON(w, http.StatusOK, list(out))
}

func (s *Server) createProject(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	o, ok := s.org(w, r, k)
	if !ok {
		return
	}
	if !k.CanManageOrg(o.ID) {
		forbidden(w)
		return
	}
	var p tenancy.Project
	if !s.decode(w, r, &p) {
		return
	}
	p.OrgID = o.ID
	if !s.validPolicy(w, p.Policy) {
		return
	}
	created, err := s.keys.CreateProject(r.Context(), p)
	if err != nil {
		storeError(w, "project", err)
		return
	}
	s.record(r, k, "project.create", created.ID, map[string]string{"org": o.ID})
	writeJSON(w, http.StatusCreated, created)
}

func (s *Server) project(w http.ResponseWriter, r *http.Request, k *tenancy.Key) (*tenancy.Project, bool) {
	p, err := s.keys.Project(r.PathValue("project"))
	if err != nil || !k.CanReadProject(p) {
		notFound(w, "project")
		return nil, false
	}
	return p, true
}

func (s *Server) getProject(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	if p, ok := s.project(w, r, k); ok {
		writeJSON(w, http.StatusOK, p)
	}
}

func (s *Server) updateProject(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	p, ok := s.project(w, r, k)
	if !ok {
		return
	}
	if !k.CanManageOrg(p.OrgID) {
		forbidden(w)
		return
	}
	next := *p
	if !s.decode(w, r, &next) {
		return
	}
	next.ID, next.OrgID, next.CreatedAt = p.ID, p.OrgID, p.CreatedAt
	if !s.validPolicy(w, next.Policy) {
		return
	}
	updated, err := s.keys.UpdateProject(r.Context(), next)
	if err != nil {
		storeError(w, "project", err)
		return
	}
	s.record(r, k, "project.update", p.ID, nil)
	writeJSON(w, http.StatusOK, updated)
}

func (s *Server) deleteProject(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	p, ok := s.project(w, r, k)
	if !ok {
		return
	}
	if !k.CanManageOrg(p.OrgID) {
		forbidden(w)
		return
	}
	if err := s.keys.DeleteProject(r.Context(), p.ID); err != nil {
		storeError(w, "project", err)
		return
	}
	s.record(r, k, "project.delete", p.ID, nil)
	writeJSON(w, http.StatusOK, map[string]any{"id": p.ID, "deleted": true})
}

// validPolicy checks a project's guard policy setting against the config.
func (s *Server) validPolicy(w http.ResponseWriter, raw json.RawMessage) bool {
	if _, err := policy.Resolve(raw, s.Config().Guard.Policies, policy.Detect); err != nil {
		errorJSON(w, http.StatusBadRequest, wire.TypeInvalidRequest, "invalid_value", "policy", err.Error())
		return false
	}
	return true
}

// --- keys ---

// keyCreated is the only answer that ever carries a key's secret.
type keyCreated struct {
	*tenancy.Key
	Secret string `json:"key"`
}

// keyInput is what a client may set on a key.
type keyInput struct {
	Name          *string    `json:"name"`
	Models        *[]string  `json:"models"`
	RPM           *int64     `json:"rpm"`
	TPM           *int64     `json:"tpm"`
	Concurrency   *int64     `json:"concurrency"`
	MonthlyBudget *int64     `json:"monthly_budget_micros"`
	ExpiresAt     *time.Time `json:"expires_at"`
}

func (in *keyInput) apply(k *tenancy.Key) {
	if in.Name != nil {
		k.Name = *in.Name
	}
	if in.Models != nil {
		k.Models = *in.Models
	}
	if in.RPM != nil {
		k.RPM = *in.RPM
	}
	if in.TPM != nil {
		k.TPM = *in.TPM
	}
	if in.Concurrency != nil {
		k.Concurrency = *in.Concurrency
	}
	if in.MonthlyBudget != nil {
		k.MonthlyBudget = *in.MonthlyBudget
	}
	if in.ExpiresAt != nil {
		k.ExpiresAt = *in.ExpiresAt
	}
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	p, ok := s.project(w, r, k)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, list(s.keys.Keys(p.OrgID, p.ID)))
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	p, ok := s.project(w, r, k)
	if !ok {
		return
	}
	if !k.CanManageProject(p) {
		forbidden(w)
		return
	}
	var in keyInput
	if !s.decode(w, r, &in) {
		return
	}
	nk := tenancy.Key{ProjectID: p.ID}
	in.apply(&nk)
	created, secret, err := s.keys.CreateKey(r.Context(), nk)
	if err != nil {
		storeError(w, "key", err)
		return
	}
	s.record(r, k, "key.create", created.ID, map[string]string{"project": p.ID})
	writeJSON(w, http.StatusCreated, keyCreated{Key: created, Secret: secret})
}

// apiKey finds the path's key if k may read it.
func (s *Server) apiKey(w http.ResponseWriter, r *http.Request, k *tenancy.Key) (*tenancy.Key, bool) {
	target, err := s.keys.Key(r.PathValue("key"))
	if err == nil && target.ID == k.ID {
		return target, true
	}
	if err != nil || target.IsAdmin() || !s.canReadKey(k, target) {
		notFound(w, "key")
		return nil, false
	}
	return target, true
}

func (s *Server) canReadKey(k, target *tenancy.Key) bool {
	if target.Project != nil {
		return k.CanReadProject(target.Project)
	}
	return k.CanManageOrg(target.OrgID) // user keys: org owners and admins
}

func (s *Server) canManageKey(k, target *tenancy.Key) bool {
	if target.Project != nil {
		return k.CanManageProject(target.Project)
	}
	return k.CanManageOrg(target.OrgID)
}

func (s *Server) getKey(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	if target, ok := s.apiKey(w, r, k); ok {
		writeJSON(w, http.StatusOK, target)
	}
}

func (s *Server) updateKey(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	target, ok := s.apiKey(w, r, k)
	if !ok {
		return
	}
	if !s.canManageKey(k, target) {
		forbidden(w)
		return
	}
	var in keyInput
	if !s.decode(w, r, &in) {
		return
	}
	next := *target
	in.apply(&next)
	updated, err := s.keys.UpdateKey(r.Context(), next)
	if err != nil {
		storeError(w, "key", err)
		return
	}
	s.record(r, k, "key.update", target.ID, nil)
	writeJSON(w, http.StatusOK, updated)
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	target, ok := s.apiKey(w, r, k)
	if !ok {
		return
	}
	if !s.canManageKey(k, target) {
		forbidden(w)
		return
	}
	if err := s.keys.RevokeKey(r.Context(), target.ID); err != nil {
		storeError(w, "key", err)
		return
	}
	s.record(r, k, "key.revoke", target.ID, nil)
	writeJSON(w, http.StatusOK, map[string]any{"id": target.ID, "revoked": true})
}

// adminRotated is the answer of POST /api/keys/admin/rotate.
type adminRotated struct {
	*tenancy.Key
	Secret  string `json:"key"`
	Revoked string `json:"revoked"` // the id of the key that called
}

// rotateAdmin serves POST /api/keys/admin/rotate (an admin key): it
// creates a new admin key and revokes the admin key that called it; other
// admin keys (the generated one, the SWITCHYARD_ADMIN_KEY one) are
// untouched. The new secret is in the answer only.
func (s *Server) rotateAdmin(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	nk, secret, err := s.keys.RotateAdmin(r.Context(), k)
	if err != nil {
		storeError(w, "key", err)
		return
	}
	s.record(r, k, "key.rotate_admin", nk.ID, map[string]string{"revoked": k.ID})
	writeJSON(w, http.StatusCreated, adminRotated{Key: nk, Secret: secret, Revoked: k.ID})
}

// --- users ---

type userCreated struct {
	*tenancy.User
	KeyID  string `json:"key_id"`
	Secret string `json:"key"`
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	if o, ok := s.org(w, r, k); ok {
		writeJSON(w, http.StatusOK, list(s.keys.Users(o.ID)))
	}
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	o, ok := s.org(w, r, k)
	if !ok {
		return
	}
	if !k.CanManageOrg(o.ID) {
		forbidden(w)
		return
	}
	var u tenancy.User
	if !s.decode(w, r, &u) {
		return
	}
	if u.Role == tenancy.UserOwner && !k.IsAdmin() && k.User.Role != tenancy.UserOwner {
		errorJSON(w, http.StatusForbidden, wire.TypePermission, "insufficient_permissions", "role", "Only an owner may make owners.")
		return
	}
	u.OrgID = o.ID
	created, key, secret, err := s.keys.CreateUser(r.Context(), u)
	if err != nil {
		storeError(w, "user", err)
		return
	}
	s.record(r, k, "user.create", created.ID, map[string]string{"role": created.Role})
	writeJSON(w, http.StatusCreated, userCreated{User: created, KeyID: key.ID, Secret: secret})
}

func (s *Server) user(w http.ResponseWriter, r *http.Request, k *tenancy.Key) (*tenancy.User, bool) {
	u, err := s.keys.User(r.PathValue("user"))
	if err != nil || !k.CanReadOrg(u.OrgID) {
		notFound(w, "user")
		return nil, false
	}
	if !k.CanManageOrg(u.OrgID) {
		forbidden(w)
		return nil, false
	}
	if u.Role == tenancy.UserOwner && !k.IsAdmin() && k.User.Role != tenancy.UserOwner {
		errorJSON(w, http.StatusForbidden, wire.TypePermission, "insufficient_permissions", "", "Only an owner may change owners.")
		return nil, false
	}
	return u, true
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	u, ok := s.user(w, r, k)
	if !ok {
		return
	}
	next := *u
	next.Projects = slices.Clone(u.Projects)
	if !s.decode(w, r, &next) {
		return
	}
	next.ID, next.OrgID, next.CreatedAt = u.ID, u.OrgID, u.CreatedAt
	if next.Role == tenancy.UserOwner && !k.IsAdmin() && k.User.Role != tenancy.UserOwner {
		errorJSON(w, http.StatusForbidden, wire.TypePermission, "insufficient_permissions", "role", "Only an owner may make owners.")
		return
	}
	updated, err := s.keys.UpdateUser(r.Context(), next)
	if err != nil {
		storeError(w, "user", err)
		return
	}
	s.record(r, k, "user.update", u.ID, map[string]string{"role": updated.Role})
	writeJSON(w, http.StatusOK, updated)
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	u, ok := s.user(w, r, k)
	if !ok {
		return
	}
	if err := s.keys.DeleteUser(r.Context(), u.ID); err != nil {
		storeError(w, "user", err)
		return
	}
	s.record(r, k, "user.delete", u.ID, nil)
	writeJSON(w, http.StatusOK, map[string]any{"id": u.ID, "deleted": true})
}

// --- prices and balances ---

func (s *Server) listPrices(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	if k.Role == tenancy.RoleProject {
		forbidden(w)
		return
	}
	writeJSON(w, http.StatusOK, list(s.keys.Prices()))
}

func (s *Server) addPrice(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	if !k.IsAdmin() {
		forbidden(w)
		return
	}
	var p tenancy.Price
	if !s.decode(w, r, &p) {
		return
	}
	created, err := s.keys.AddPrice(r.Context(), p)
	if err != nil {
		storeError(w, "price", err)
		return
	}
	s.record(r, k, "price.add", created.ID, map[string]string{"model": created.Model})
	writeJSON(w, http.StatusCreated, created)
}

func (s *Server) topUp(w http.ResponseWriter, r *http.Request, k *tenancy.Key) {
	o, ok := s.org(w, r, k)
	if !ok {
		return
	}
	if !k.IsAdmin() {
		forbidden(w)
		return
	}
	var in struct {
		Amount int64  `json:"amount_micros"`
		Note   string `json:"note"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	e, err := s.keys.TopUp(r.Context(), o.ID, in.Amount, in.Note)
	if err != nil {
		storeError(w, "top-up", err)
		return
	}
	s.record(r, k, "org.topup", o.ID, map[string]string{"entry": e.ID, "amount_micros": strconv.FormatInt(e.Amount, 10)})
	writeJSON(w, http.StatusCreated, e)
}

var openAPI = buildOpenAPI()
