package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/metering"
	"switchyard/internal/policy"
	"switchyard/internal/tenancy"
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

func list[T any](items []T) map[string]any {
	if items == nil {
		items = []T{}
	}
	return map[string]any{"object": "list", "data": items}
}

// changed audits a change and answers with its result: the tail every
// create, update and delete handler shares.
func (s *Server) changed(w http.ResponseWriter, r *http.Request, k *tenancy.Key, status int, action, target string, detail map[string]string, out any) error {
	s.record(r, k, action, target, detail)
	return writeJSON(w, status, out)
}

func deleted(id string) map[string]any { return map[string]any{"id": id, "deleted": true} }

// --- organisations ---

func (s *Server) listOrgs(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	var out []*tenancy.Org
	for _, o := range s.keys.Orgs() {
		if k.CanReadOrg(o.ID) {
			out = append(out, o)
		}
	}
	return writeJSON(w, http.StatusOK, list(out))
}

func (s *Server) createOrg(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	if !k.IsAdmin() {
		return errForbidden
	}
	o, err := decodeAs[tenancy.Org](s, w, r)
	if err != nil {
		return err
	}
	created, err := s.keys.CreateOrg(r.Context(), o)
	if err != nil {
		return about("organisation", err)
	}
	return s.changed(w, r, k, http.StatusCreated, "org.create", created.ID, nil, created)
}

// org finds the path's organisation if k may read it.
func (s *Server) org(r *http.Request, k *tenancy.Key) (*tenancy.Org, error) {
	o, err := s.keys.Org(r.PathValue("org"))
	if err != nil || !k.CanReadOrg(o.ID) {
		return nil, notFound("organisation")
	}
	return o, nil
}

func (s *Server) getOrg(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	o, err := s.org(r, k)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, o)
}

func (s *Server) updateOrg(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	o, err := s.org(r, k)
	if err != nil {
		return err
	}
	if !k.CanManageOrg(o.ID) {
		return errForbidden
	}
	next := *o
	if err := s.readJSON(w, r, &next); err != nil {
		return err
	}
	next.ID, next.CreatedAt = o.ID, o.CreatedAt
	if !k.IsAdmin() && (next.MarkupBPS != o.MarkupBPS || next.Prepaid != o.Prepaid) {
		param := "markup_bps"
		if next.MarkupBPS == o.MarkupBPS {
			param = "prepaid"
		}
		return forbiddenParam(param, "Only the platform admin sets markup and billing mode.")
	}
	updated, err := s.keys.UpdateOrg(r.Context(), next)
	if err != nil {
		return about("organisation", err)
	}
	return s.changed(w, r, k, http.StatusOK, "org.update", o.ID, nil, updated)
}

func (s *Server) deleteOrg(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	o, err := s.org(r, k)
	if err != nil {
		return err
	}
	if !k.IsAdmin() {
		return errForbidden
	}
	if err := s.keys.DeleteOrg(r.Context(), o.ID); err != nil {
		return about("organisation", err)
	}
	return s.changed(w, r, k, http.StatusOK, "org.delete", o.ID, nil, deleted(o.ID))
}

// --- projects ---

func (s *Server) listProjects(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	o, err := s.org(r, k)
	if err != nil {
		return err
	}
	var out []*tenancy.Project
	for _, p := range s.keys.Projects(o.ID) {
		if k.CanReadProject(p) {
			out = append(out, p)
		}
	}
	return writeJSON(w, http.StatusOK, list(out))
}

func (s *Server) createProject(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	o, err := s.org(r, k)
	if err != nil {
		return err
	}
	if !k.CanManageOrg(o.ID) {
		return errForbidden
	}
	p, err := decodeAs[tenancy.Project](s, w, r)
	if err != nil {
		return err
	}
	p.OrgID = o.ID
	if err := s.validPolicy(p.Policy); err != nil {
		return err
	}
	created, err := s.keys.CreateProject(r.Context(), p)
	if err != nil {
		return about("project", err)
	}
	return s.changed(w, r, k, http.StatusCreated, "project.create", created.ID, map[string]string{"org": o.ID}, created)
}

func (s *Server) project(r *http.Request, k *tenancy.Key) (*tenancy.Project, error) {
	p, err := s.keys.Project(r.PathValue("project"))
	if err != nil || !k.CanReadProject(p) {
		return nil, notFound("project")
	}
	return p, nil
}

func (s *Server) getProject(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	p, err := s.project(r, k)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

func (s *Server) updateProject(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	p, err := s.project(r, k)
	if err != nil {
		return err
	}
	if !k.CanManageOrg(p.OrgID) {
		return errForbidden
	}
	next := *p
	if err := s.readJSON(w, r, &next); err != nil {
		return err
	}
	next.ID, next.OrgID, next.CreatedAt = p.ID, p.OrgID, p.CreatedAt
	if err := s.validPolicy(next.Policy); err != nil {
		return err
	}
	updated, err := s.keys.UpdateProject(r.Context(), next)
	if err != nil {
		return about("project", err)
	}
	return s.changed(w, r, k, http.StatusOK, "project.update", p.ID, nil, updated)
}

func (s *Server) deleteProject(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	p, err := s.project(r, k)
	if err != nil {
		return err
	}
	if !k.CanManageOrg(p.OrgID) {
		return errForbidden
	}
	if err := s.keys.DeleteProject(r.Context(), p.ID); err != nil {
		return about("project", err)
	}
	return s.changed(w, r, k, http.StatusOK, "project.delete", p.ID, nil, deleted(p.ID))
}

// validPolicy checks a project's guard policy setting against the config.
func (s *Server) validPolicy(raw json.RawMessage) error {
	_, err := policy.Resolve(raw, s.Config().Guard.Policies, policy.Detect)
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se), errors.As(err, &te), strings.Contains(err.Error(), "json: "):
		// The decoder's words stay out of the answer.
		return invalidValue("policy", "Invalid 'policy': "+decodeError(err).Error())
	}
	return invalidValue("policy", sentence(err.Error()))
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

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	p, err := s.project(r, k)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, list(s.keys.Keys(p.OrgID, p.ID)))
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	p, err := s.project(r, k)
	if err != nil {
		return err
	}
	if !k.CanManageProject(p) {
		return errForbidden
	}
	in, err := decodeAs[keyInput](s, w, r)
	if err != nil {
		return err
	}
	nk := tenancy.Key{ProjectID: p.ID}
	in.apply(&nk)
	created, secret, err := s.keys.CreateKey(r.Context(), nk)
	if err != nil {
		return about("key", err)
	}
	return s.changed(w, r, k, http.StatusCreated, "key.create", created.ID, map[string]string{"project": p.ID}, keyCreated{Key: created, Secret: secret})
}

// apiKey finds the path's key if k may read it (manage: change it).
func (s *Server) apiKey(r *http.Request, k *tenancy.Key, manage bool) (*tenancy.Key, error) {
	target, err := s.keys.Key(r.PathValue("key"))
	if err == nil && target.ID == k.ID && !manage {
		return target, nil
	}
	if err != nil || (target.ID != k.ID && (target.IsAdmin() || !s.canReadKey(k, target))) {
		return nil, notFound("key")
	}
	if manage && !s.canManageKey(k, target) {
		return nil, errForbidden
	}
	return target, nil
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

func (s *Server) getKey(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	target, err := s.apiKey(r, k, false)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, target)
}

func (s *Server) updateKey(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	target, err := s.apiKey(r, k, true)
	if err != nil {
		return err
	}
	in, err := decodeAs[keyInput](s, w, r)
	if err != nil {
		return err
	}
	next := *target
	in.apply(&next)
	updated, err := s.keys.UpdateKey(r.Context(), next)
	if err != nil {
		return about("key", err)
	}
	return s.changed(w, r, k, http.StatusOK, "key.update", target.ID, nil, updated)
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	target, err := s.apiKey(r, k, true)
	if err != nil {
		return err
	}
	if err := s.keys.RevokeKey(r.Context(), target.ID); err != nil {
		return about("key", err)
	}
	return s.changed(w, r, k, http.StatusOK, "key.revoke", target.ID, nil, map[string]any{"id": target.ID, "revoked": true})
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
func (s *Server) rotateAdmin(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	nk, secret, err := s.keys.RotateAdmin(r.Context(), k)
	if err != nil {
		return about("key", err)
	}
	return s.changed(w, r, k, http.StatusCreated, "key.rotate_admin", nk.ID, map[string]string{"revoked": k.ID},
		adminRotated{Key: nk, Secret: secret, Revoked: k.ID})
}

// --- users ---

type userCreated struct {
	*tenancy.User
	KeyID  string `json:"key_id"`
	Secret string `json:"key"`
}

// mayMakeOwner is whether k may give or change the owner role.
func mayMakeOwner(k *tenancy.Key) bool { return k.IsAdmin() || k.User.Role == tenancy.UserOwner }

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	o, err := s.org(r, k)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, list(s.keys.Users(o.ID)))
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	o, err := s.org(r, k)
	if err != nil {
		return err
	}
	if !k.CanManageOrg(o.ID) {
		return errForbidden
	}
	u, err := decodeAs[tenancy.User](s, w, r)
	if err != nil {
		return err
	}
	if u.Role == tenancy.UserOwner && !mayMakeOwner(k) {
		return forbiddenParam("role", "Only an owner may make owners.")
	}
	u.OrgID = o.ID
	created, key, secret, err := s.keys.CreateUser(r.Context(), u)
	if err != nil {
		return about("user", err)
	}
	return s.changed(w, r, k, http.StatusCreated, "user.create", created.ID, map[string]string{"role": created.Role},
		userCreated{User: created, KeyID: key.ID, Secret: secret})
}

// user finds the path's user if k may manage it.
func (s *Server) user(r *http.Request, k *tenancy.Key) (*tenancy.User, error) {
	u, err := s.keys.User(r.PathValue("user"))
	if err != nil || !k.CanReadOrg(u.OrgID) {
		return nil, notFound("user")
	}
	if !k.CanManageOrg(u.OrgID) {
		return nil, errForbidden
	}
	if u.Role == tenancy.UserOwner && !mayMakeOwner(k) {
		return nil, forbiddenParam("", "Only an owner may change owners.")
	}
	return u, nil
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	u, err := s.user(r, k)
	if err != nil {
		return err
	}
	next := *u
	next.Projects = slices.Clone(u.Projects)
	if err := s.readJSON(w, r, &next); err != nil {
		return err
	}
	next.ID, next.OrgID, next.CreatedAt = u.ID, u.OrgID, u.CreatedAt
	if next.Role == tenancy.UserOwner && !mayMakeOwner(k) {
		return forbiddenParam("role", "Only an owner may make owners.")
	}
	updated, err := s.keys.UpdateUser(r.Context(), next)
	if err != nil {
		return about("user", err)
	}
	return s.changed(w, r, k, http.StatusOK, "user.update", u.ID, map[string]string{"role": updated.Role}, updated)
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	u, err := s.user(r, k)
	if err != nil {
		return err
	}
	if err := s.keys.DeleteUser(r.Context(), u.ID); err != nil {
		return about("user", err)
	}
	return s.changed(w, r, k, http.StatusOK, "user.delete", u.ID, nil, deleted(u.ID))
}

// --- prices and balances ---

func (s *Server) listPrices(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	if k.Role == tenancy.RoleProject {
		return errForbidden
	}
	return writeJSON(w, http.StatusOK, list(s.prices.Prices()))
}

func (s *Server) addPrice(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	if !k.IsAdmin() {
		return errForbidden
	}
	p, err := decodeAs[metering.Price](s, w, r)
	if err != nil {
		return err
	}
	created, err := s.prices.Add(r.Context(), p)
	if err != nil {
		return about("price", err)
	}
	return s.changed(w, r, k, http.StatusCreated, "price.add", created.ID, map[string]string{"model": created.Model}, created)
}

func (s *Server) topUp(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	o, err := s.org(r, k)
	if err != nil {
		return err
	}
	if !k.IsAdmin() {
		return errForbidden
	}
	in, err := decodeAs[struct {
		Amount int64  `json:"amount_micros"`
		Note   string `json:"note"`
	}](s, w, r)
	if err != nil {
		return err
	}
	e, err := s.keys.TopUp(r.Context(), o.ID, in.Amount, in.Note)
	if err != nil {
		return about("top-up", err)
	}
	return s.changed(w, r, k, http.StatusCreated, "org.topup", o.ID,
		map[string]string{"entry": e.ID, "amount_micros": strconv.FormatInt(e.Amount, 10)}, e)
}

var openAPI = buildOpenAPI()
