package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"switchyard/internal/config"
)

// The admin CLI (orgs, projects, keys, users, prices, usage) is a client
// of the admin API: every verb is one HTTP request.

// clientFlags are the flags every client command takes.
type clientFlags struct {
	server, key string
	json        bool
}

func (c *clientFlags) add(fs *flag.FlagSet) {
	env := config.ReadEnv()
	server := env.Server
	if server == "" {
		server = "http://127.0.0.1:8080"
	}
	fs.StringVar(&c.server, "server", server, "Switchyard URL (also SWITCHYARD_SERVER)")
	// The key's default is read at use, never shown in --help.
	fs.StringVar(&c.key, "key", "", "admin or user key (default: SWITCHYARD_KEY, else SWITCHYARD_ADMIN_KEY)")
	fs.BoolVar(&c.json, "json", false, "print the API's JSON instead of a table")
}

// do sends one request and decodes a JSON answer into out (raw when out
// is *json.RawMessage). API errors come back as Go errors with the
// server's message.
func (c *clientFlags) do(ctx context.Context, method, path string, in any, out any) error {
	if c.key == "" {
		env := config.ReadEnv()
		c.key = env.Key
		if c.key == "" {
			c.key = env.AdminKey
		}
	}
	if c.key == "" {
		return errors.New("no key: pass --key or set SWITCHYARD_KEY")
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.server, "/")+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
			return fmt.Errorf("%s (HTTP %d)", e.Error.Message, resp.StatusCode)
		}
		return fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, b)
	}
	switch o := out.(type) {
	case nil:
		return nil
	case *[]byte:
		*o = b
		return nil
	default:
		return json.Unmarshal(b, out)
	}
}

// resource describes one noun of the CLI.
type resource struct {
	name, summary string
	verbs         []verb
}

type verb struct {
	name, args, summary string
	// flags adds the verb's own flags; build turns arguments and flags
	// into a request.
	flags func(fs *flag.FlagSet) func(args []string) (method, path string, body any, err error)
	cols  []string // table columns (JSON field names) for list answers
	// print, when set, prints the answer instead of printAnswer (not
	// with --json).
	print func(w io.Writer, raw []byte) error
}

func clientCommands() []command {
	var out []command
	for _, r := range resources() {
		out = append(out, command{r.name, r.summary, r.run})
	}
	return out
}

func (r resource) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	// A noun with one verb runs it by default: "switchyard usage --by model".
	if len(r.verbs) == 1 && (len(args) == 0 || strings.HasPrefix(args[0], "-") && args[0] != "-h" && args[0] != "--help") {
		args = append([]string{r.verbs[0].name}, args...)
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintf(stdout, "Usage: switchyard %s VERB [flags]\n\n%s.\n\nVerbs:\n", r.name, r.summary)
		for _, v := range r.verbs {
			fmt.Fprintf(stdout, "  %-28s %s\n", v.name+" "+v.args, v.summary)
		}
		fmt.Fprintf(stdout, "\nRun 'switchyard %s VERB --help' for a verb's flags.\n", r.name)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	for _, v := range r.verbs {
		if v.name != args[0] {
			continue
		}
		fs := newFlags(r.name+" "+v.name, r.name+" "+v.name+" "+v.args+" [flags]", v.summary+".", stdout)
		var cf clientFlags
		cf.add(fs)
		build := v.flags(fs)
		if err := parse(fs, interleave(fs, args[1:])); err != nil {
			return err
		}
		method, path, body, err := build(fs.Args())
		if err != nil {
			fmt.Fprintf(stderr, "switchyard %s %s: %v\n", r.name, v.name, err)
			return errUsage
		}
		var raw []byte
		if err := cf.do(ctx, method, path, body, &raw); err != nil {
			return err
		}
		if v.print != nil && !cf.json {
			return v.print(stdout, raw)
		}
		return printAnswer(stdout, raw, cf.json, v.cols)
	}
	fmt.Fprintf(stderr, "switchyard %s: unknown verb %q\n", r.name, args[0])
	return errUsage
}

// interleave moves flags after positional arguments to the front, so
// "keys create proj_1 --rpm 10" works like "keys create --rpm 10 proj_1".
func interleave(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if strings.HasPrefix(a, "-") && len(a) > 1 {
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if strings.Contains(name, "=") {
				continue
			}
			if f := fs.Lookup(name); f != nil {
				if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
					continue
				}
				if i+1 < len(args) {
					flags = append(flags, args[i+1])
					i++
				}
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(flags, pos...)
}

// printAnswer prints raw JSON, or a table of a list's rows, or an object's
// fields one per line.
func printAnswer(w io.Writer, raw []byte, asJSON bool, cols []string) error {
	if asJSON || len(raw) == 0 || raw[0] != '{' {
		_, err := w.Write(append(bytes.TrimSpace(raw), '\n'))
		return err
	}
	var obj map[string]any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&obj); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	defer tw.Flush()
	if data, ok := obj["data"].([]any); ok && obj["object"] == "list" {
		fmt.Fprintln(tw, strings.ToUpper(strings.Join(cols, "\t")))
		for _, row := range data {
			m, _ := row.(map[string]any)
			cells := make([]string, len(cols))
			for i, c := range cols {
				cells[i] = cell(m[c])
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
		return nil
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\n", k, cell(obj[k]))
	}
	if s, ok := obj["key"].(string); ok && strings.HasPrefix(s, "sy-") {
		tw.Flush()
		fmt.Fprintln(w, "\nThe key is shown only this once; store it now.")
	}
	return nil
}

// printRotated prints a rotated admin key the way serve prints the one it
// generates.
func printRotated(w io.Writer, raw []byte) error {
	var a struct {
		ID      string `json:"id"`
		Key     string `json:"key"`
		Revoked string `json:"revoked"`
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nSwitchyard created admin key %s and revoked %s. It is shown only this once; store it now:\n\n    %s\n\n", a.ID, a.Revoked, a.Key)
	return err
}

func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = cell(e)
		}
		return strings.Join(parts, ",")
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

func need(args []string, names ...string) error {
	if len(args) != len(names) {
		return fmt.Errorf("want %s", strings.ToUpper(strings.Join(names, " ")))
	}
	return nil
}

func fixed(method, pathFmt string, names ...string) func(fs *flag.FlagSet) func([]string) (string, string, any, error) {
	return func(*flag.FlagSet) func([]string) (string, string, any, error) {
		return func(args []string) (string, string, any, error) {
			if err := need(args, names...); err != nil {
				return "", "", nil, err
			}
			p := pathFmt
			for _, a := range args {
				p = strings.Replace(p, "%s", url.PathEscape(a), 1)
			}
			return method, p, nil, nil
		}
	}
}

// limitFlags are the limit and budget flags projects and keys share.
type limitFlags struct {
	rpm, tpm, conc, budget *int64
	set                    map[string]bool
}

func addLimitFlags(fs *flag.FlagSet) *limitFlags {
	return &limitFlags{
		rpm:    fs.Int64("rpm", 0, "requests per minute (0: unlimited)"),
		tpm:    fs.Int64("tpm", 0, "tokens per minute (0: unlimited)"),
		conc:   fs.Int64("concurrency", 0, "requests in flight (0: unlimited)"),
		budget: fs.Int64("budget-micros", 0, "monthly budget in micro-units of the org's currency (0: none)"),
	}
}

// body returns the flags that were set, as JSON fields.
func (l *limitFlags) body(fs *flag.FlagSet, m map[string]any) map[string]any {
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "rpm":
			m["rpm"] = *l.rpm
		case "tpm":
			m["tpm"] = *l.tpm
		case "concurrency":
			m["concurrency"] = *l.conc
		case "budget-micros":
			m["monthly_budget_micros"] = *l.budget
		}
	})
	return m
}

func resources() []resource {
	orgCols := []string{"id", "name", "currency", "prepaid", "markup_bps", "created_at"}
	projCols := []string{"id", "org_id", "name", "rpm", "tpm", "concurrency", "monthly_budget_micros"}
	keyCols := []string{"id", "name", "prefix", "role", "project_id", "models", "rpm", "tpm", "concurrency", "monthly_budget_micros", "expires_at", "revoked_at"}
	return []resource{
		{name: "orgs", summary: "manage organisations (admin API client)", verbs: []verb{
			{name: "list", summary: "list organisations", flags: fixed("GET", "/api/orgs"), cols: orgCols},
			{name: "get", args: "ORG", summary: "show an organisation", flags: fixed("GET", "/api/orgs/%s", "org")},
			{name: "create", args: "NAME", summary: "create an organisation", flags: func(fs *flag.FlagSet) func([]string) (string, string, any, error) {
				cur := fs.String("currency", "USD", "currency of its balance and budgets: USD or CNY")
				prepaid := fs.Bool("prepaid", false, "refuse calls once the prepaid balance is spent")
				markup := fs.Int64("markup-bps", 0, "markup on every charge in basis points (negative: discount)")
				return func(args []string) (string, string, any, error) {
					if err := need(args, "name"); err != nil {
						return "", "", nil, err
					}
					return "POST", "/api/orgs", map[string]any{"name": args[0], "currency": *cur, "prepaid": *prepaid, "markup_bps": *markup}, nil
				}
			}},
			{name: "delete", args: "ORG", summary: "delete an organisation and revoke its keys", flags: fixed("DELETE", "/api/orgs/%s", "org")},
			{name: "topup", args: "ORG AMOUNT_MICROS", summary: "add to an organisation's prepaid balance", flags: func(fs *flag.FlagSet) func([]string) (string, string, any, error) {
				note := fs.String("note", "", "a note on the entry")
				return func(args []string) (string, string, any, error) {
					if err := need(args, "org", "amount_micros"); err != nil {
						return "", "", nil, err
					}
					n, err := strconv.ParseInt(args[1], 10, 64)
					if err != nil {
						return "", "", nil, fmt.Errorf("AMOUNT_MICROS must be an integer")
					}
					return "POST", "/api/orgs/" + url.PathEscape(args[0]) + "/topups", map[string]any{"amount_micros": n, "note": *note}, nil
				}
			}},
			{name: "balance", args: "ORG", summary: "show top-ups, spending and balance", flags: fixed("GET", "/api/orgs/%s/balance", "org")},
			{name: "invoice", args: "ORG MONTH", summary: "show a month's invoice (MONTH as 2026-11)", flags: fixed("GET", "/api/orgs/%s/invoices/%s", "org", "month")},
		}},
		{name: "projects", summary: "manage projects (admin API client)", verbs: []verb{
			{name: "list", args: "ORG", summary: "list an organisation's projects", flags: fixed("GET", "/api/orgs/%s/projects", "org"), cols: projCols},
			{name: "create", args: "ORG NAME", summary: "create a project", flags: func(fs *flag.FlagSet) func([]string) (string, string, any, error) {
				l := addLimitFlags(fs)
				return func(args []string) (string, string, any, error) {
					if err := need(args, "org", "name"); err != nil {
						return "", "", nil, err
					}
					return "POST", "/api/orgs/" + url.PathEscape(args[0]) + "/projects", l.body(fs, map[string]any{"name": args[1]}), nil
				}
			}},
			{name: "update", args: "PROJECT", summary: "change a project's limits and budget", flags: func(fs *flag.FlagSet) func([]string) (string, string, any, error) {
				l := addLimitFlags(fs)
				name := fs.String("name", "", "new name")
				return func(args []string) (string, string, any, error) {
					if err := need(args, "project"); err != nil {
						return "", "", nil, err
					}
					m := l.body(fs, map[string]any{})
					if *name != "" {
						m["name"] = *name
					}
					return "PATCH", "/api/projects/" + url.PathEscape(args[0]), m, nil
				}
			}},
			{name: "delete", args: "PROJECT", summary: "delete a project and revoke its keys", flags: fixed("DELETE", "/api/projects/%s", "project")},
		}},
		{name: "keys", summary: "manage API keys (admin API client)", verbs: []verb{
			{name: "list", args: "PROJECT", summary: "list a project's keys", flags: fixed("GET", "/api/projects/%s/keys", "project"), cols: keyCols},
			{name: "create", args: "PROJECT", summary: "create a key (its secret is printed once)", flags: func(fs *flag.FlagSet) func([]string) (string, string, any, error) {
				l := addLimitFlags(fs)
				name := fs.String("name", "", "a name people recognise")
				models := fs.String("models", "", "comma-separated models the key may use (default: all)")
				expires := fs.Duration("expires-in", 0, "expire after this long, e.g. 720h (default: never)")
				return func(args []string) (string, string, any, error) {
					if err := need(args, "project"); err != nil {
						return "", "", nil, err
					}
					m := l.body(fs, map[string]any{"name": *name})
					if *models != "" {
						m["models"] = strings.Split(*models, ",")
					}
					if *expires > 0 {
						m["expires_at"] = time.Now().Add(*expires).UTC()
					}
					return "POST", "/api/projects/" + url.PathEscape(args[0]) + "/keys", m, nil
				}
			}},
			{name: "revoke", args: "KEY", summary: "revoke a key (every replica within a second)", flags: fixed("DELETE", "/api/keys/%s", "key")},
			{name: "get", args: "KEY", summary: "show a key", flags: fixed("GET", "/api/keys/%s", "key")},
			{name: "rotate-admin", summary: "create a new admin key (printed once) and revoke the admin key this call uses", flags: fixed("POST", "/api/keys/admin/rotate"), print: printRotated},
		}},
		{name: "users", summary: "manage users (admin API client)", verbs: []verb{
			{name: "list", args: "ORG", summary: "list an organisation's users", flags: fixed("GET", "/api/orgs/%s/users", "org"), cols: []string{"id", "email", "role", "projects", "created_at"}},
			{name: "create", args: "ORG EMAIL", summary: "create a user and their key (printed once)", flags: func(fs *flag.FlagSet) func([]string) (string, string, any, error) {
				role := fs.String("role", "member", "owner, admin, member or viewer")
				projects := fs.String("projects", "", "comma-separated projects a member manages")
				return func(args []string) (string, string, any, error) {
					if err := need(args, "org", "email"); err != nil {
						return "", "", nil, err
					}
					m := map[string]any{"email": args[1], "role": *role}
					if *projects != "" {
						m["projects"] = strings.Split(*projects, ",")
					}
					return "POST", "/api/orgs/" + url.PathEscape(args[0]) + "/users", m, nil
				}
			}},
			{name: "delete", args: "USER", summary: "delete a user and revoke their keys", flags: fixed("DELETE", "/api/users/%s", "user")},
		}},
		{name: "prices", summary: "manage the price book (admin API client)", verbs: []verb{
			{name: "list", summary: "list prices, newest first", flags: fixed("GET", "/api/prices"),
				cols: []string{"id", "model", "deployment", "currency", "input_micros", "cached_input_micros", "output_micros", "effective_from"}},
			{name: "set", args: "MODEL", summary: "add a price per 1M tokens, in micro-units", flags: func(fs *flag.FlagSet) func([]string) (string, string, any, error) {
				dep := fs.String("deployment", "", "only for this deployment id")
				cur := fs.String("currency", "USD", "USD or CNY")
				in := fs.Int64("input", 0, "input price per 1M tokens, micro-units")
				cached := fs.Int64("cached-input", 0, "cached input price per 1M tokens, micro-units (default: input)")
				out := fs.Int64("output", 0, "output price per 1M tokens, micro-units")
				from := fs.String("from", "", "effective from (RFC 3339; default now)")
				return func(args []string) (string, string, any, error) {
					if err := need(args, "model"); err != nil {
						return "", "", nil, err
					}
					m := map[string]any{"model": args[0], "deployment": *dep, "currency": *cur, "input_micros": *in, "cached_input_micros": *cached, "output_micros": *out}
					if *from != "" {
						m["effective_from"] = *from
					}
					return "POST", "/api/prices", m, nil
				}
			}},
		}},
		{name: "usage", summary: "usage reports (admin API client)", verbs: []verb{
			{name: "report", summary: "usage totals, grouped", flags: func(fs *flag.FlagSet) func([]string) (string, string, any, error) {
				q := map[string]*string{}
				for _, n := range []string{"org", "project", "key-id", "model", "from", "to", "group", "by"} {
					q[strings.TrimSuffix(n, "-id")] = fs.String(n, "", map[string]string{
						"org": "organisation id", "project": "project id", "key-id": "key id", "model": "public model name",
						"from": "start date (2026-11-01) or time", "to": "end date, exclusive", "group": "hour, day or month",
						"by": "comma-separated: model, project, key, deployment, org",
					}[n])
				}
				csv := fs.Bool("csv", false, "print CSV")
				return func(args []string) (string, string, any, error) {
					if err := need(args); err != nil {
						return "", "", nil, err
					}
					v := url.Values{}
					for n, p := range q {
						if *p != "" {
							v.Set(n, *p)
						}
					}
					if *csv {
						v.Set("format", "csv")
					}
					return "GET", "/api/usage?" + v.Encode(), nil, nil
				}
			}, cols: []string{"period", "org_id", "project_id", "key_id", "model", "deployment", "requests", "prompt_tokens", "completion_tokens", "cost_micros", "currency"}},
		}},
	}
}
