package server

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"time"

	"switchyard/internal/audit"
	"switchyard/internal/dataset"
	"switchyard/internal/metering"
	"switchyard/internal/reqlog"
	"switchyard/internal/tenancy"
)

// The admin API's OpenAPI 3.1 document is built from the same types the
// handlers encode and decode, so it cannot drift from them.

type apiOp struct {
	method, path, summary string
	in, out               any // zero values of the request and response types
	list                  bool
	query                 []string
}

type topUpInput struct {
	Amount int64  `json:"amount_micros"`
	Note   string `json:"note,omitempty"`
}

var apiOps = []apiOp{
	{method: "get", path: "/api/orgs", summary: "List the organisations the key may see", out: tenancy.Org{}, list: true},
	{method: "post", path: "/api/orgs", summary: "Create an organisation (platform admin)", in: tenancy.Org{}, out: tenancy.Org{}},
	{method: "get", path: "/api/orgs/{org}", summary: "Get an organisation", out: tenancy.Org{}},
	{method: "patch", path: "/api/orgs/{org}", summary: "Change an organisation", in: tenancy.Org{}, out: tenancy.Org{}},
	{method: "delete", path: "/api/orgs/{org}", summary: "Delete an organisation, its projects and users; revoke its keys (platform admin)"},
	{method: "get", path: "/api/orgs/{org}/projects", summary: "List projects", out: tenancy.Project{}, list: true},
	{method: "post", path: "/api/orgs/{org}/projects", summary: "Create a project", in: tenancy.Project{}, out: tenancy.Project{}},
	{method: "get", path: "/api/projects/{project}", summary: "Get a project", out: tenancy.Project{}},
	{method: "patch", path: "/api/projects/{project}", summary: "Change a project's name, limits and budget", in: tenancy.Project{}, out: tenancy.Project{}},
	{method: "delete", path: "/api/projects/{project}", summary: "Delete a project and revoke its keys"},
	{method: "get", path: "/api/projects/{project}/keys", summary: "List a project's keys (never their secrets)", out: tenancy.Key{}, list: true},
	{method: "post", path: "/api/projects/{project}/keys", summary: "Create a key; the answer's `key` is the secret, shown only here", in: keyInput{}, out: keyCreated{}},
	{method: "get", path: "/api/keys/{key}", summary: "Get a key", out: tenancy.Key{}},
	{method: "patch", path: "/api/keys/{key}", summary: "Change a key's name, models, limits, budget or expiry", in: keyInput{}, out: tenancy.Key{}},
	{method: "delete", path: "/api/keys/{key}", summary: "Revoke a key (every replica within a second)"},
	{method: "post", path: "/api/keys/admin/rotate", summary: "Create a new admin key and revoke the admin key that calls; the answer's `key` is shown only here (admin key)", out: adminRotated{}},
	{method: "get", path: "/api/orgs/{org}/users", summary: "List users", out: tenancy.User{}, list: true},
	{method: "post", path: "/api/orgs/{org}/users", summary: "Create a user and their key; the answer's `key` is shown only here", in: tenancy.User{}, out: userCreated{}},
	{method: "patch", path: "/api/users/{user}", summary: "Change a user's role and projects", in: tenancy.User{}, out: tenancy.User{}},
	{method: "delete", path: "/api/users/{user}", summary: "Delete a user and revoke their keys"},
	{method: "get", path: "/api/prices", summary: "The price book, newest first", out: metering.Price{}, list: true},
	{method: "post", path: "/api/prices", summary: "Add a price from effective_from on (platform admin)", in: metering.Price{}, out: metering.Price{}},
	{method: "post", path: "/api/orgs/{org}/topups", summary: "Add to an organisation's prepaid balance (platform admin)", in: topUpInput{}, out: tenancy.BalanceEntry{}},
	{method: "get", path: "/api/orgs/{org}/balance", summary: "Top-ups, spending and balance"},
	{method: "get", path: "/api/usage", summary: "Usage grouped by period and fields; format=csv for CSV", out: UsageRow{}, list: true,
		query: []string{"org", "project", "key", "model", "from", "to", "group", "by", "format"}},
	{method: "get", path: "/api/orgs/{org}/invoices/{month}", summary: "A month's invoice (month as 2026-11); format=html for a printable page", out: Invoice{},
		query: []string{"format"}},
	{method: "get", path: "/api/deployments", summary: "Deployments' health, breaker state, in-flight count and latency (platform admin)"},
	{method: "get", path: "/api/audit", summary: "The audit log in chain order (platform admin)", out: audit.Entry{}, list: true,
		query: []string{"actor", "action", "target", "after", "limit"}},
	{method: "get", path: "/api/audit/verify", summary: "Check the audit log's hash chain; names the first bad entry (platform admin)"},
	{method: "get", path: "/api/logs", summary: "Search kept request logs", out: reqlog.Summary{}, list: true,
		query: []string{"project", "key", "model", "user", "tag", "q", "status", "feedback", "from", "to", "limit"}},
	{method: "get", path: "/api/logs/{id}", summary: "One kept request with its bodies and feedback", out: reqlog.Entry{}},
	{method: "delete", path: "/api/projects/{project}/data", summary: "Erase a project's kept logs and feedback, or one end user's (?user=)", query: []string{"user"}},
	{method: "get", path: "/api/datasets", summary: "List datasets", out: dataset.Dataset{}, list: true, query: []string{"project"}},
	{method: "post", path: "/api/datasets", summary: "Create a dataset in a project", in: datasetInput{}, out: dataset.Dataset{}},
	{method: "get", path: "/api/datasets/{ds}", summary: "A dataset and its versions"},
	{method: "post", path: "/api/datasets/{ds}/import", summary: "Import the body as a new version", query: []string{"format", "skip_bad", "text_column", "label_column"}},
	{method: "post", path: "/api/datasets/{ds}/from-logs", summary: "Add the project's kept conversations as chat rows (corrections replace answers)"},
	{method: "post", path: "/api/datasets/{ds}/versions/{v}/curate", summary: "Curate a version into a new one", in: dataset.CurateOptions{}},
	{method: "get", path: "/api/datasets/{ds}/versions/{v}/queue", summary: "An annotator's queue", out: dataset.QueueItem{}, list: true, query: []string{"annotator", "limit"}},
	{method: "post", path: "/api/datasets/{ds}/versions/{v}/annotations", summary: "Annotate a row", in: dataset.Annotation{}},
	{method: "get", path: "/api/datasets/{ds}/versions/{v}/agreement", summary: "Inter-annotator agreement (Cohen's or Fleiss' kappa)", out: dataset.AgreementReport{}},
	{method: "post", path: "/api/datasets/{ds}/versions/{v}/apply", summary: "Make a new version of the reviewed rows", out: dataset.Version{}},
	{method: "get", path: "/api/datasets/{ds}/versions/{v}/export", summary: "Export a version", query: []string{"format"}},
	{method: "get", path: "/api/specialists", summary: "Specialists with their versions (platform admin)"},
	{method: "get", path: "/api/specialists/{name}", summary: "One specialist (platform admin)"},
	{method: "post", path: "/api/specialists/{name}/train", summary: "Start a training job (202 with its id; platform admin)"},
	{method: "get", path: "/api/specialists/jobs/{id}", summary: "A training job's state, progress and metrics (platform admin)"},
	{method: "post", path: "/api/specialists/{name}/promote", summary: "Promote a version (platform admin)"},
	{method: "post", path: "/api/specialists/{name}/rollback", summary: "Promote the previous version (platform admin)"},
}

type datasetInput struct {
	Name      string `json:"name"`
	ProjectID string `json:"project_id"`
}

var pathParam = regexp.MustCompile(`\{([a-z]+)\}`)

func buildOpenAPI() []byte {
	schemas := map[string]any{
		"Error": obj(map[string]any{"error": obj(map[string]any{
			"message": typ("string"), "type": typ("string"), "param": typ("string", "null"), "code": typ("string", "null"),
		})}),
	}
	paths := map[string]map[string]any{}
	for _, op := range apiOps {
		o := map[string]any{"summary": op.summary, "security": []any{map[string]any{"bearer": []any{}}}}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(op.path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": typ("string")})
		}
		for _, q := range op.query {
			params = append(params, map[string]any{"name": q, "in": "query", "schema": typ("string")})
		}
		if params != nil {
			o["parameters"] = params
		}
		if op.in != nil {
			o["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": ref(schemas, op.in)}}}
		}
		ok := map[string]any{"description": "OK"}
		if op.out != nil {
			s := ref(schemas, op.out)
			if op.list {
				s = obj(map[string]any{"object": typ("string"), "data": map[string]any{"type": "array", "items": s}})
			}
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": s}}
		}
		status := "200"
		if op.method == "post" {
			status = "201"
		}
		errResp := map[string]any{"description": "Error in OpenAI's shape", "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
		o["responses"] = map[string]any{status: ok, "4XX": errResp}
		if paths[op.path] == nil {
			paths[op.path] = map[string]any{}
		}
		paths[op.path][op.method] = o
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "Switchyard admin API", "version": "1",
			"description": "Organisations, projects, users, keys, prices, balances, usage and invoices. Authenticate with the admin key or a user's key as 'Authorization: Bearer KEY'. Money is in integer micro-units (1 USD = 1000000)."},
		"paths":      paths,
		"components": map[string]any{"schemas": schemas, "securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}}},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(err)
	}
	return b
}

func typ(t ...string) map[string]any {
	if len(t) == 1 {
		return map[string]any{"type": t[0]}
	}
	return map[string]any{"type": t}
}

func obj(props map[string]any) map[string]any {
	return map[string]any{"type": "object", "properties": props}
}

var (
	timeType    = reflect.TypeOf(time.Time{})
	rawJSONType = reflect.TypeOf(json.RawMessage{})
)

// ref adds v's type to schemas and returns a reference to it.
func ref(schemas map[string]any, v any) map[string]any {
	t := reflect.TypeOf(v)
	name := t.Name()
	if _, ok := schemas[name]; !ok {
		schemas[name] = nil // break cycles
		schemas[name] = schemaOf(schemas, t)
	}
	return map[string]any{"$ref": "#/components/schemas/" + name}
}

func schemaOf(schemas map[string]any, t reflect.Type) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawJSONType:
		return map[string]any{} // any JSON value
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		return map[string]any{"type": "string", "contentEncoding": "base64"}
	case t.Kind() == reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(schemas, t.Elem())}
	case t.Kind() == reflect.Pointer:
		return schemaOf(schemas, t.Elem())
	case t.Kind() == reflect.String:
		return typ("string")
	case t.Kind() == reflect.Bool:
		return typ("boolean")
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return typ("integer")
	case t.Kind() == reflect.Float64:
		return typ("number")
	case t.Kind() == reflect.Slice:
		return map[string]any{"type": "array", "items": schemaOf(schemas, t.Elem())}
	case t.Kind() == reflect.Struct:
		props := map[string]any{}
		addFields(schemas, t, props)
		return obj(props)
	}
	return map[string]any{}
}

func addFields(schemas map[string]any, t reflect.Type, props map[string]any) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("json"), ",")[0]
		if f.Anonymous && tag == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			addFields(schemas, ft, props)
			continue
		}
		if tag == "-" || !f.IsExported() {
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		props[tag] = schemaOf(schemas, f.Type)
	}
}
