package console

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"switchyard/internal/call"
	wire "switchyard/internal/wire/openai"
	"time"

	"switchyard/internal/audit"
	"switchyard/internal/gateway"
	"switchyard/internal/metering"
	"switchyard/internal/metering/ledger"
	"switchyard/internal/provider"
	"switchyard/internal/router"
	spec "switchyard/internal/specialist"
	"switchyard/internal/tenancy"
)

// --- organisations, projects, users, keys ---

type orgsData struct {
	Orgs       []*tenancy.Org
	Currencies []string
}

func (c *Console) orgsPage(w http.ResponseWriter, r *http.Request, s *session) {
	var out []*tenancy.Org
	for _, o := range c.tenants.Orgs() {
		if s.key.CanReadOrg(o.ID) {
			out = append(out, o)
		}
	}
	c.render(w, r, 0, "orgs", &view{Sess: s, Nav: "orgs", Title: T(PickLang(r), "orgs.title"),
		Data: orgsData{Orgs: out, Currencies: tenancy.Currencies}})
}

func (c *Console) createOrg(w http.ResponseWriter, r *http.Request, s *session) {
	if !s.key.IsAdmin() {
		c.fail(w, r, s, http.StatusForbidden, "err.forbidden", "")
		return
	}
	o, err := c.tenants.CreateOrg(r.Context(), tenancy.Org{Name: strings.TrimSpace(r.PostFormValue("name")), Currency: r.PostFormValue("currency")})
	if err != nil {
		c.storeFail(w, r, s, err)
		return
	}
	c.record(r, s, "org.create", o.ID, nil)
	http.Redirect(w, r, "/console/orgs/"+o.ID, http.StatusSeeOther)
}

type userRow struct {
	*tenancy.User
	Login     string
	CanSetPW  bool
	KeyActive bool
}

type orgData struct {
	Org       *tenancy.Org
	Projects  []*tenancy.Project
	Users     []userRow
	CanManage bool
	Flash     string
}

func (c *Console) orgPage(w http.ResponseWriter, r *http.Request, s *session) {
	o, err := c.tenants.Org(r.PathValue("org"))
	if err != nil || !s.key.CanReadOrg(o.ID) {
		c.fail(w, r, s, http.StatusNotFound, "err.notfound", "")
		return
	}
	d := orgData{Org: o, CanManage: s.key.CanManageOrg(o.ID)}
	for _, p := range c.tenants.Projects(o.ID) {
		if s.key.CanReadProject(p) {
			d.Projects = append(d.Projects, p)
		}
	}
	if d.CanManage {
		for _, u := range c.tenants.Users(o.ID) {
			row := userRow{User: u, CanSetPW: c.mayManageUser(s.key, u)}
			if k := c.userKey(u); k != nil {
				row.KeyActive = k.Active(time.Now())
				row.Login, _ = c.loginOf(r.Context(), k.ID)
			}
			d.Users = append(d.Users, row)
		}
	}
	if r.URL.Query().Get("done") == "pw" {
		d.Flash = T(PickLang(r), "org.pwset")
	}
	c.render(w, r, 0, "org", &view{Sess: s, Nav: "orgs", Title: o.Name, Data: d})
}

// mayManageUser mirrors the admin API: org owners and admins manage users,
// and only owners (or the platform admin) manage owners.
func (c *Console) mayManageUser(k *tenancy.Key, u *tenancy.User) bool {
	if !k.CanManageOrg(u.OrgID) {
		return false
	}
	return u.Role != tenancy.UserOwner || k.IsAdmin() || (k.User != nil && k.User.Role == tenancy.UserOwner)
}

// userKey is the key a user acts with.
func (c *Console) userKey(u *tenancy.User) *tenancy.Key {
	for _, k := range c.tenants.Keys(u.OrgID, "") {
		if k.Role == tenancy.RoleUser && k.UserID == u.ID {
			return k
		}
	}
	return nil
}

func (c *Console) userPassword(w http.ResponseWriter, r *http.Request, s *session) {
	u, err := c.tenants.User(r.PathValue("user"))
	if err != nil || !s.key.CanReadOrg(u.OrgID) {
		c.fail(w, r, s, http.StatusNotFound, "err.notfound", "")
		return
	}
	if !c.mayManageUser(s.key, u) {
		c.fail(w, r, s, http.StatusForbidden, "err.forbidden", "")
		return
	}
	k := c.userKey(u)
	if k == nil {
		c.fail(w, r, s, http.StatusNotFound, "err.notfound", "")
		return
	}
	login, pw := strings.TrimSpace(r.PostFormValue("login")), r.PostFormValue("password")
	if bad := passwordProblem(login, pw, pw); bad != "" {
		c.fail(w, r, s, http.StatusBadRequest, bad, "")
		return
	}
	if err := c.setPassword(r.Context(), k.ID, login, pw); errors.Is(err, errLoginTaken) {
		c.fail(w, r, s, http.StatusBadRequest, "account.taken", "")
		return
	} else if err != nil {
		c.log.Error("console password", "err", err)
		c.fail(w, r, s, http.StatusInternalServerError, "err.server", "")
		return
	}
	c.record(r, s, "console.password", k.ID, map[string]string{"user": u.ID})
	http.Redirect(w, r, "/console/orgs/"+u.OrgID+"?done=pw", http.StatusSeeOther)
}

// formInt reads a non-negative integer form field; empty is zero.
func formInt(r *http.Request, name string) (int64, error) {
	v := strings.TrimSpace(r.PostFormValue(name))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New(name)
	}
	return n, nil
}

// formMoney reads a decimal amount (e.g. 12.50) as micro-units.
func formMoney(r *http.Request, name string) (int64, error) {
	v := strings.TrimSpace(r.PostFormValue(name))
	if v == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 1e12 {
		return 0, errors.New(name)
	}
	return int64(f*1e6 + 0.5), nil
}

func (c *Console) createProject(w http.ResponseWriter, r *http.Request, s *session) {
	o, err := c.tenants.Org(r.PathValue("org"))
	if err != nil || !s.key.CanReadOrg(o.ID) {
		c.fail(w, r, s, http.StatusNotFound, "err.notfound", "")
		return
	}
	if !s.key.CanManageOrg(o.ID) {
		c.fail(w, r, s, http.StatusForbidden, "err.forbidden", "")
		return
	}
	p := tenancy.Project{OrgID: o.ID, Name: strings.TrimSpace(r.PostFormValue("name"))}
	var errs []error
	var e error
	p.RPM, e = formInt(r, "rpm")
	errs = append(errs, e)
	p.TPM, e = formInt(r, "tpm")
	errs = append(errs, e)
	p.MonthlyBudget, e = formMoney(r, "budget")
	errs = append(errs, e)
	if err := errors.Join(errs...); err != nil {
		c.fail(w, r, s, http.StatusBadRequest, "err.invalid", err.Error())
		return
	}
	created, err := c.tenants.CreateProject(r.Context(), p)
	if err != nil {
		c.storeFail(w, r, s, err)
		return
	}
	c.record(r, s, "project.create", created.ID, map[string]string{"org": o.ID})
	http.Redirect(w, r, "/console/projects/"+created.ID, http.StatusSeeOther)
}

type keyRow struct {
	*tenancy.Key
	Status string // message id
}

type projectData struct {
	Project   *tenancy.Project
	Org       *tenancy.Org
	Keys      []keyRow
	CanManage bool
	CanEdit   bool   // the project's limits and budget (org owners and admins)
	NewSecret string // shown once, right after creation
	NewName   string
	Flash     string
}

func (c *Console) projectFor(r *http.Request, s *session) (*tenancy.Project, bool) {
	p, err := c.tenants.Project(r.PathValue("project"))
	if err != nil || !s.key.CanReadProject(p) {
		return nil, false
	}
	return p, true
}

func (c *Console) renderProject(w http.ResponseWriter, r *http.Request, s *session, p *tenancy.Project, status int, secret, name, flash string) {
	o, _ := c.tenants.Org(p.OrgID)
	d := projectData{Project: p, Org: o, CanManage: s.key.CanManageProject(p), CanEdit: s.key.CanManageOrg(p.OrgID),
		NewSecret: secret, NewName: name, Flash: flash}
	now := time.Now()
	for _, k := range c.tenants.Keys(p.OrgID, p.ID) {
		st := "status.active"
		switch {
		case !k.RevokedAt.IsZero():
			st = "status.revoked"
		case !k.Active(now):
			st = "status.expired"
		}
		d.Keys = append(d.Keys, keyRow{Key: k, Status: st})
	}
	c.render(w, r, status, "project", &view{Sess: s, Nav: "orgs", Title: p.Name, Data: d})
}

func (c *Console) projectPage(w http.ResponseWriter, r *http.Request, s *session) {
	p, ok := c.projectFor(r, s)
	if !ok {
		c.fail(w, r, s, http.StatusNotFound, "err.notfound", "")
		return
	}
	flash := ""
	switch r.URL.Query().Get("done") {
	case "revoked":
		flash = T(PickLang(r), "proj.key.revoked")
	case "limits":
		flash = T(PickLang(r), "proj.limits.saved")
	}
	c.renderProject(w, r, s, p, 0, "", "", flash)
}

func (c *Console) createKey(w http.ResponseWriter, r *http.Request, s *session) {
	p, ok := c.projectFor(r, s)
	if !ok {
		c.fail(w, r, s, http.StatusNotFound, "err.notfound", "")
		return
	}
	if !s.key.CanManageProject(p) {
		c.fail(w, r, s, http.StatusForbidden, "err.forbidden", "")
		return
	}
	k := tenancy.Key{ProjectID: p.ID, Name: strings.TrimSpace(r.PostFormValue("name"))}
	for m := range strings.SplitSeq(r.PostFormValue("models"), ",") {
		if m = strings.TrimSpace(m); m != "" {
			k.Models = append(k.Models, m)
		}
	}
	var errs []error
	var e error
	k.RPM, e = formInt(r, "rpm")
	errs = append(errs, e)
	k.TPM, e = formInt(r, "tpm")
	errs = append(errs, e)
	k.MonthlyBudget, e = formMoney(r, "budget")
	errs = append(errs, e)
	if err := errors.Join(errs...); err != nil {
		c.fail(w, r, s, http.StatusBadRequest, "err.invalid", err.Error())
		return
	}
	created, secret, err := c.tenants.CreateKey(r.Context(), k)
	if err != nil {
		c.storeFail(w, r, s, err)
		return
	}
	c.record(r, s, "key.create", created.ID, map[string]string{"project": p.ID})
	// The secret is rendered into this one answer and never stored.
	c.renderProject(w, r, s, p, http.StatusCreated, secret, created.Name, "")
}

// updateLimits changes a project's rate limits and monthly budget.
func (c *Console) updateLimits(w http.ResponseWriter, r *http.Request, s *session) {
	p, ok := c.projectFor(r, s)
	if !ok {
		c.fail(w, r, s, http.StatusNotFound, "err.notfound", "")
		return
	}
	if !s.key.CanManageOrg(p.OrgID) {
		c.fail(w, r, s, http.StatusForbidden, "err.forbidden", "")
		return
	}
	next := *p
	var errs []error
	var e error
	next.RPM, e = formInt(r, "rpm")
	errs = append(errs, e)
	next.TPM, e = formInt(r, "tpm")
	errs = append(errs, e)
	next.Concurrency, e = formInt(r, "concurrency")
	errs = append(errs, e)
	next.MonthlyBudget, e = formMoney(r, "budget")
	errs = append(errs, e)
	if err := errors.Join(errs...); err != nil {
		c.fail(w, r, s, http.StatusBadRequest, "err.invalid", err.Error())
		return
	}
	if _, err := c.tenants.UpdateProject(r.Context(), next); err != nil {
		c.storeFail(w, r, s, err)
		return
	}
	c.record(r, s, "project.update", p.ID, nil)
	http.Redirect(w, r, "/console/projects/"+p.ID+"?done=limits", http.StatusSeeOther)
}

func (c *Console) revokeKey(w http.ResponseWriter, r *http.Request, s *session) {
	k, err := c.tenants.Key(r.PathValue("key"))
	if err != nil || k.Project == nil || !s.key.CanReadProject(k.Project) {
		c.fail(w, r, s, http.StatusNotFound, "err.notfound", "")
		return
	}
	if !s.key.CanManageProject(k.Project) {
		c.fail(w, r, s, http.StatusForbidden, "err.forbidden", "")
		return
	}
	if err := c.tenants.RevokeKey(r.Context(), k.ID); err != nil {
		c.storeFail(w, r, s, err)
		return
	}
	c.record(r, s, "key.revoke", k.ID, nil)
	http.Redirect(w, r, "/console/projects/"+k.ProjectID+"?done=revoked", http.StatusSeeOther)
}

// --- models and deployments ---

type modelRow struct {
	Name        string
	Deployments []deploymentRow
}

type deploymentRow struct {
	router.Snapshot
	Price string
}

type modelsData struct {
	Models []modelRow
	Prices []metering.Price
}

func (c *Console) modelsPage(w http.ResponseWriter, r *http.Request, s *session) {
	lang := PickLang(r)
	d := modelsData{Prices: c.prices.Prices()}
	if s.key.Role == tenancy.RoleProject {
		d.Prices = nil
	}
	if c.router != nil {
		snaps := map[string]router.Snapshot{}
		for _, sn := range c.router.Snapshots() {
			snaps[sn.ID] = sn
		}
		now := time.Now()
		for _, m := range c.router.Catalog().Models() {
			row := modelRow{Name: m.Name}
			for _, dep := range m.Deployments {
				dr := deploymentRow{Snapshot: snaps[dep.ID], Price: "—"}
				// The price book first, as metering charges it; then the
				// config file's list price.
				if p, ok := c.prices.PriceAt(m.Name, dep.ID, now); ok {
					cached := p.CachedInput
					if cached == 0 {
						cached = p.Input // as Price.Cost charges it
					}
					dr.Price = FormatMoney(lang, p.Input, p.Currency) + " / " + FormatMoney(lang, cached, p.Currency) + " / " + FormatMoney(lang, p.Output, p.Currency)
				} else if p := dep.Price; p != nil {
					cur := p.Currency
					if cur == "" {
						cur = "USD"
					}
					cached := p.CachedInput
					if cached == 0 {
						cached = p.Input
					}
					dr.Price = FormatMoney(lang, int64(p.Input*1e6), cur) + " / " + FormatMoney(lang, int64(cached*1e6), cur) + " / " + FormatMoney(lang, int64(p.Output*1e6), cur)
				}
				row.Deployments = append(row.Deployments, dr)
			}
			d.Models = append(d.Models, row)
		}
	}
	c.render(w, r, 0, "models", &view{Sess: s, Nav: "models", Title: T(lang, "models.title"), Data: d})
}

// --- playground ---

type pgModel struct {
	Name          string
	Input, Output int64 // micro-units per 1M tokens
	Currency      string
	HasPrice      bool
}

type pgKey struct {
	ID, Label string
}

type playgroundData struct {
	Models []pgModel
	Keys   []pgKey
}

// priceOf is the price the playground's cost counter uses for a model: the
// price book's newest model-wide entry in force, else the config file's
// price of the model's first deployment.
func (c *Console) priceOf(m *router.Model, now time.Time) (pgModel, bool) {
	var best *metering.Price
	for _, p := range c.prices.Prices() {
		if p.Model == m.Name && p.Deployment == "" && !p.EffectiveFrom.After(now) && (best == nil || p.EffectiveFrom.After(best.EffectiveFrom)) {
			best = &p
		}
	}
	if best != nil {
		return pgModel{Name: m.Name, Input: best.Input, Output: best.Output, Currency: best.Currency, HasPrice: true}, true
	}
	for _, d := range m.Deployments {
		if p := d.Price; p != nil {
			cur := p.Currency
			if cur == "" {
				cur = "USD"
			}
			return pgModel{Name: m.Name, Input: int64(p.Input * 1e6), Output: int64(p.Output * 1e6), Currency: cur, HasPrice: true}, true
		}
	}
	return pgModel{Name: m.Name}, false
}

// callKeys are the keys the session may make playground calls with: the
// admin key itself, or active project keys of projects it manages.
func (c *Console) callKeys(s *session) []*tenancy.Key {
	var out []*tenancy.Key
	if s.key.IsAdmin() {
		out = append(out, s.key)
	}
	now := time.Now()
	orgID := s.key.OrgID
	if s.key.IsAdmin() {
		orgID = ""
	}
	if s.key.Role != tenancy.RoleAdmin && s.key.Role != tenancy.RoleUser {
		return nil
	}
	for _, k := range c.tenants.Keys(orgID, "") {
		if k.Role == tenancy.RoleProject && k.Project != nil && k.Active(now) && s.key.CanManageProject(k.Project) {
			out = append(out, k)
		}
	}
	return out
}

func (c *Console) playgroundPage(w http.ResponseWriter, r *http.Request, s *session) {
	lang := PickLang(r)
	var d playgroundData
	if c.router != nil {
		for _, m := range c.router.Catalog().Models() {
			pm, _ := c.priceOf(m, time.Now())
			d.Models = append(d.Models, pm)
		}
	}
	for _, k := range c.callKeys(s) {
		label := k.Name + " (" + k.Prefix + "…)"
		if k.IsAdmin() {
			label = T(lang, "pg.adminkey")
		} else if k.Project != nil {
			label = k.Project.Name + " / " + label
		}
		d.Keys = append(d.Keys, pgKey{ID: k.ID, Label: label})
	}
	c.render(w, r, 0, "playground", &view{Sess: s, Nav: "playground", Title: T(lang, "pg.title"), Data: d})
}

// chat is the playground's same-origin proxy: the session, its CSRF token
// in X-CSRF-Token, and a key the session may call with (?key=ID) stand in
// for an API key, so no secret ever reaches the page. The body goes to the
// gateway unchanged, as POST /v1/chat/completions would send it.
func (c *Console) chat(w http.ResponseWriter, r *http.Request) {
	s, err := c.session(r)
	if err != nil {
		gateway.WriteError(w, wire.NewError(http.StatusUnauthorized, wire.TypeAuthentication, "not_signed_in", "", "Sign in to the console first."))
		return
	}
	if r.Header.Get("X-CSRF-Token") == "" || !validCSRF(r, s.csrf) {
		gateway.WriteError(w, wire.NewError(http.StatusForbidden, wire.TypePermission, "invalid_csrf_token", "", "Missing or wrong CSRF token."))
		return
	}
	want := r.URL.Query().Get("key")
	var key *tenancy.Key
	for _, k := range c.callKeys(s) {
		if k.ID == want {
			key = k
		}
	}
	if key == nil || c.gw == nil {
		gateway.WriteError(w, wire.NewError(http.StatusForbidden, wire.TypePermission, "insufficient_permissions", "key", "You may not call with this key."))
		return
	}
	body, err := gateway.ReadBody(w, r, 1<<20)
	if err != nil {
		gateway.WriteError(w, err)
		return
	}
	id := r.Header.Get(gateway.HeaderRequestID)
	c.gw.Serve(r.Context(), w, &call.Call{Op: provider.OpChat, Body: body, ID: gateway.CallID(r.Context()), RequestID: id, Key: key, Start: time.Now()})
}

// --- usage and invoices ---

type usageData struct {
	Month     string
	Scope     scope
	Rows      []ledger.Row
	Totals    []money
	Unpriced  int64 // requests no price covered
	Invoices  []*tenancy.Org
	CSVQuery  string
	CanSee    bool
	OrgID     string
	ProjectID string
}

func monthOf(v string, now time.Time) time.Time {
	if t, err := time.Parse("2006-01", v); err == nil {
		return t
	}
	now = now.UTC()
	return time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
}

func (c *Console) usageRows(r *http.Request, sc scope, month time.Time) ([]ledger.Row, error) {
	if c.ledger != nil {
		if err := c.ledger.Flush(r.Context()); err != nil {
			return nil, err
		}
	}
	return ledger.Query(r.Context(), c.db, ledger.Filter{OrgID: sc.OrgID, ProjectID: sc.ProjectID, From: month, To: month.AddDate(0, 1, 0)},
		ledger.Group{Period: "day", By: []string{"model"}})
}

func (c *Console) usagePage(w http.ResponseWriter, r *http.Request, s *session) {
	lang := PickLang(r)
	month := monthOf(r.URL.Query().Get("month"), time.Now())
	sc, ok := c.usageScope(r, s)
	d := usageData{Month: month.Format("2006-01"), Scope: sc, CanSee: ok, OrgID: sc.OrgID, ProjectID: sc.ProjectID}
	if ok {
		rows, err := c.usageRows(r, sc, month)
		if err != nil {
			c.log.Error("console usage", "err", err)
			c.fail(w, r, s, http.StatusInternalServerError, "err.server", "")
			return
		}
		d.Rows = rows
		for _, x := range rows {
			d.Totals = addMoney(d.Totals, x.CostMicros, x.Currency)
			d.Unpriced += x.UnpricedRequests
		}
		q := make([]string, 0, 3)
		q = append(q, "month="+d.Month)
		if sc.OrgID != "" && s.key.IsAdmin() {
			q = append(q, "org="+sc.OrgID)
		}
		if sc.ProjectID != "" {
			q = append(q, "project="+sc.ProjectID)
		}
		d.CSVQuery = strings.Join(q, "&")
	}
	for _, o := range c.tenants.Orgs() {
		if mayInvoice(s.key, o.ID) && (sc.OrgID == "" || sc.OrgID == o.ID) {
			d.Invoices = append(d.Invoices, o)
		}
	}
	c.render(w, r, 0, "usage", &view{Sess: s, Nav: "usage", Title: T(lang, "usage.title"), Data: d})
}

// mayInvoice mirrors the invoice API: managers and viewers of the org.
func mayInvoice(k *tenancy.Key, orgID string) bool {
	return k.CanSeeUsage(orgID, "")
}

func (c *Console) usageCSV(w http.ResponseWriter, r *http.Request, s *session) {
	month := monthOf(r.URL.Query().Get("month"), time.Now())
	sc, ok := c.usageScope(r, s)
	if !ok {
		c.fail(w, r, s, http.StatusForbidden, "err.forbidden", "")
		return
	}
	rows, err := c.usageRows(r, sc, month)
	if err != nil {
		c.log.Error("console usage", "err", err)
		c.fail(w, r, s, http.StatusInternalServerError, "err.server", "")
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="usage-`+month.Format("2006-01")+`.csv"`)
	cw := csv.NewWriter(w)
	cw.Write([]string{"day", "model", "requests", "prompt_tokens", "cached_tokens", "completion_tokens", "cost", "currency"})
	for _, x := range rows {
		cw.Write([]string{x.Period, csvSafe(x.Model), strconv.FormatInt(x.Requests, 10), strconv.FormatInt(x.PromptTokens, 10),
			strconv.FormatInt(x.CachedTokens, 10), strconv.FormatInt(x.CompletionTokens, 10), metering.FormatMicros(x.CostMicros), x.Currency})
	}
	cw.Flush()
}

// csvSafe keeps a spreadsheet from reading a cell as a formula.
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

type invoiceLine struct {
	Model                                string
	Requests, Prompt, Cached, Completion int64
	Amount                               money
}

type invoiceData struct {
	Org      *tenancy.Org
	Month    string
	Lines    []invoiceLine
	Totals   []money
	Unpriced int64 // requests no price covered
	Issued   time.Time
}

func (c *Console) invoicePage(w http.ResponseWriter, r *http.Request, s *session) {
	o, err := c.tenants.Org(r.PathValue("org"))
	if err != nil || !s.key.CanReadOrg(o.ID) {
		c.fail(w, r, s, http.StatusNotFound, "err.notfound", "")
		return
	}
	if !mayInvoice(s.key, o.ID) {
		c.fail(w, r, s, http.StatusForbidden, "err.forbidden", "")
		return
	}
	month, err := time.Parse("2006-01", r.PathValue("month"))
	if err != nil {
		c.fail(w, r, s, http.StatusBadRequest, "err.invalid", "month")
		return
	}
	rows, err := c.usageRows(r, scope{OrgID: o.ID}, month)
	if err == nil {
		rows, err = ledger.Query(r.Context(), c.db, ledger.Filter{OrgID: o.ID, From: month, To: month.AddDate(0, 1, 0)}, ledger.Group{By: []string{"model"}})
	}
	if err != nil {
		c.log.Error("console invoice", "err", err)
		c.fail(w, r, s, http.StatusInternalServerError, "err.server", "")
		return
	}
	d := invoiceData{Org: o, Month: month.Format("2006-01"), Issued: time.Now()}
	for _, x := range rows {
		d.Lines = append(d.Lines, invoiceLine{Model: x.Model, Requests: x.Requests, Prompt: x.PromptTokens, Cached: x.CachedTokens,
			Completion: x.CompletionTokens, Amount: money{x.CostMicros, x.Currency}})
		d.Totals = addMoney(d.Totals, x.CostMicros, x.Currency)
		d.Unpriced += x.UnpricedRequests
	}
	c.render(w, r, 0, "invoice", &view{Sess: s, Nav: "usage", Title: T(PickLang(r), "inv.title") + " " + d.Month + " — " + o.Name, Data: d})
}

// --- specialists ---

type specialistRow struct {
	Name     string
	Promoted int
	Versions []spec.Manifest
}

func (c *Console) specStore() (*spec.Store, error) {
	return spec.OpenStore(c.config().DataDir)
}

func (c *Console) specialistsPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !s.key.IsAdmin() {
		c.fail(w, r, s, http.StatusForbidden, "err.forbidden", "")
		return
	}
	st, err := c.specStore()
	var rows []specialistRow
	if err == nil {
		var es []spec.Entry
		if es, err = st.List(); err == nil {
			for _, e := range es {
				vs, verr := st.Versions(e.Name)
				if verr != nil {
					err = verr
					break
				}
				slices.Reverse(vs)
				rows = append(rows, specialistRow{Name: e.Name, Promoted: e.Promoted, Versions: vs})
			}
		}
	}
	if err != nil {
		c.log.Error("console specialists", "err", err)
		c.fail(w, r, s, http.StatusInternalServerError, "err.server", "")
		return
	}
	flash := ""
	if r.URL.Query().Get("done") == "promoted" {
		flash = T(PickLang(r), "spec.promoted")
	}
	c.render(w, r, 0, "specialists", &view{Sess: s, Nav: "specialists", Title: T(PickLang(r), "spec.title"), Flash: flash, Data: rows})
}

func (c *Console) promote(w http.ResponseWriter, r *http.Request, s *session) {
	if !s.key.IsAdmin() {
		c.fail(w, r, s, http.StatusForbidden, "err.forbidden", "")
		return
	}
	v, err := strconv.Atoi(r.PostFormValue("version"))
	if err != nil || v < 1 {
		c.fail(w, r, s, http.StatusBadRequest, "err.invalid", "version")
		return
	}
	st, err := c.specStore()
	if err == nil {
		err = st.Promote(r.PathValue("name"), v)
	}
	switch {
	case errors.Is(err, spec.ErrNotFound):
		c.fail(w, r, s, http.StatusNotFound, "err.notfound", "")
		return
	case errors.Is(err, spec.ErrInvalid), errors.Is(err, spec.ErrConflict):
		c.fail(w, r, s, http.StatusBadRequest, "err.invalid", err.Error())
		return
	case err != nil: // the store on disk: its paths stay in the log
		c.log.Error("console specialists", "id", r.Header.Get("X-Request-Id"), "err", err)
		c.fail(w, r, s, http.StatusInternalServerError, "err.server", "")
		return
	}
	c.record(r, s, "specialist.promote", r.PathValue("name"), map[string]string{"version": strconv.Itoa(v)})
	http.Redirect(w, r, "/console/specialists?done=promoted", http.StatusSeeOther)
}

// --- guard policies ---

type namedPolicy struct {
	Name, JSON string
}

type projectPolicy struct {
	Org, Project, Policy string
	Inherit              bool
}

type policiesData struct {
	Named    []namedPolicy
	Default  string
	Projects []projectPolicy
}

func (c *Console) policiesPage(w http.ResponseWriter, r *http.Request, s *session) {
	cfg := c.config()
	d := policiesData{Default: cfg.Guard.Default}
	for _, name := range slices.Sorted(maps.Keys(cfg.Guard.Policies)) {
		b, _ := json.MarshalIndent(cfg.Guard.Policies[name], "", "  ")
		d.Named = append(d.Named, namedPolicy{Name: name, JSON: string(b)})
	}
	for _, o := range c.tenants.Orgs() {
		if !s.key.CanReadOrg(o.ID) {
			continue
		}
		for _, p := range c.tenants.Projects(o.ID) {
			if !s.key.CanReadProject(p) {
				continue
			}
			pp := projectPolicy{Org: o.Name, Project: p.Name, Inherit: len(p.Policy) == 0 || string(p.Policy) == "null"}
			if !pp.Inherit {
				var buf bytes.Buffer
				if json.Indent(&buf, p.Policy, "", "  ") == nil {
					pp.Policy = buf.String()
				} else {
					pp.Policy = string(p.Policy)
				}
			}
			d.Projects = append(d.Projects, pp)
		}
	}
	c.render(w, r, 0, "policies", &view{Sess: s, Nav: "policies", Title: T(PickLang(r), "pol.title"), Data: d})
}

// --- audit log ---

type auditData struct {
	Entries []audit.Entry
	OK      bool
	Count   string
	Bad     string
	BadSeq  string
	Older   int64 // AfterSeq of the previous page; -1: none
}

func (c *Console) auditPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !s.key.IsAdmin() || c.audit == nil {
		c.fail(w, r, s, http.StatusForbidden, "err.forbidden", "")
		return
	}
	ctx := r.Context()
	if err := c.audit.Flush(ctx); err != nil {
		c.log.Error("console audit", "err", err)
	}
	d := auditData{Older: -1}
	n, err := audit.Verify(ctx, c.db)
	var p *audit.Problem
	switch {
	case errors.As(err, &p):
		d.Bad, d.BadSeq = p.Reason, strconv.FormatInt(p.Seq, 10)
	case err != nil:
		c.log.Error("console audit", "err", err)
		c.fail(w, r, s, http.StatusInternalServerError, "err.server", "")
		return
	default:
		d.OK = true
	}
	d.Count = FormatInt(n)
	const pageSize = 100
	before := n + 1
	if v, err := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64); err == nil && v > 0 {
		before = v
	}
	after := max(before-1-pageSize, 0)
	es, err := audit.List(ctx, c.db, audit.Filter{AfterSeq: after, Limit: pageSize})
	if err != nil {
		c.log.Error("console audit", "err", err)
		c.fail(w, r, s, http.StatusInternalServerError, "err.server", "")
		return
	}
	for i := len(es) - 1; i >= 0; i-- {
		if es[i].Seq < before {
			d.Entries = append(d.Entries, es[i])
		}
	}
	if after > 0 {
		d.Older = after + 1
	}
	c.render(w, r, 0, "audit", &view{Sess: s, Nav: "audit", Title: T(PickLang(r), "audit.title"), Data: d})
}
