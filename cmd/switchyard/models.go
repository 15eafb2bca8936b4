package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"switchyard/internal/config"
	"switchyard/internal/engine/library"
	"switchyard/internal/provider/preset"
)

// dataDirFlag adds --data-dir, defaulting as serve does.
func dataDirFlag(fs *flag.FlagSet) *string {
	return fs.String("data-dir", config.ReadEnv().DataDir, "state directory; models live in its models/ (also SWITCHYARD_DATA_DIR; default ./switchyard-data)")
}

// openLibrary returns the models directory of dataDir ("": the default).
func openLibrary(dataDir string) *library.Library {
	if dataDir == "" {
		dataDir = config.Default().DataDir
	}
	return library.Open(dataDir)
}

// resolveModel turns a models-directory name or a .gguf path into a file.
func resolveModel(dataDir, m string) (string, error) {
	if strings.HasSuffix(strings.ToLower(m), library.Ext) || strings.ContainsRune(m, filepath.Separator) {
		if _, err := os.Stat(m); err != nil {
			return "", err
		}
		return m, nil
	}
	return openLibrary(dataDir).Path(m)
}

const modelsDesc = `
Manage the local models directory, DATA_DIR/models (pulled models land
there too). A model there can be served with provider: local and
model: NAME, and used with chat -m NAME and bench engine --model NAME.

  import FILE [--name NAME]   check that FILE is a loadable GGUF model and
                              add it (hard link, or copy) as NAME.gguf;
                              NAME defaults to the file name without .gguf
  list [--json]               name, architecture, parameters, type, size
                              and context length of every model
  rm NAME                     delete a model
  presets [--json]            the vendor presets usable as provider: NAME
                              (deepseek, qwen, azure, …): default base URL,
                              auth header, quirks and built-in prices`

func cmdModels(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	verb := ""
	if len(args) > 0 {
		verb, args = args[0], args[1:]
	}
	switch verb {
	case "import":
		fs := newFlags("models import", "models import FILE [--name NAME] [--data-dir DIR]", modelsDesc, stdout)
		name := fs.String("name", "", "model name (default: the file name without .gguf)")
		dataDir := dataDirFlag(fs)
		if err := parseInterspersed(fs, args); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			fs.Usage()
			return errUsage
		}
		m, err := openLibrary(*dataDir).Import(fs.Arg(0), *name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "imported %s (%s, %s params, %s, %s) as %s\n", m.Name, m.Arch, humanCount(m.Params), m.FileType, humanBytes(m.Size), m.Path)
		return nil
	case "list", "ls":
		fs := newFlags("models list", "models list [--json] [--data-dir DIR]", modelsDesc, stdout)
		asJSON := fs.Bool("json", false, "print JSON")
		dataDir := dataDirFlag(fs)
		if err := parse(fs, args); err != nil {
			return err
		}
		ms, err := openLibrary(*dataDir).List()
		if err != nil {
			return err
		}
		if *asJSON {
			if ms == nil {
				ms = []library.Model{}
			}
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(ms)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tARCH\tPARAMS\tTYPE\tSIZE\tCONTEXT")
		for _, m := range ms {
			arch := m.Arch
			if arch == "" {
				arch = "(unreadable)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", m.Name, arch, humanCount(m.Params), m.FileType, humanBytes(m.Size), m.Context)
		}
		return tw.Flush()
	case "presets":
		fs := newFlags("models presets", "models presets [--json]", modelsDesc, stdout)
		asJSON := fs.Bool("json", false, "print JSON")
		if err := parse(fs, args); err != nil {
			return err
		}
		if fs.NArg() != 0 {
			fs.Usage()
			return errUsage
		}
		return listPresets(stdout, *asJSON)
	case "rm", "remove":
		fs := newFlags("models rm", "models rm NAME [--data-dir DIR]", modelsDesc, stdout)
		dataDir := dataDirFlag(fs)
		if err := parseInterspersed(fs, args); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			fs.Usage()
			return errUsage
		}
		if err := openLibrary(*dataDir).Remove(fs.Arg(0)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed %s\n", fs.Arg(0))
		return nil
	}
	fs := newFlags("models", "models import|list|rm|presets …", modelsDesc, stdout)
	if err := parse(fs, append([]string{verb}, args...)); err != nil {
		return err
	}
	fs.Usage()
	return errUsage
}

// parseInterspersed parses flags that may come after the positional
// arguments ("import FILE --name x").
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := parse(fs, args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return fs.Parse(pos) // flags are done; leave the positionals as Args
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func humanCount(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fK", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

// presetJSON is one preset as `models presets --json` prints it.
type presetJSON struct {
	Name    string        `json:"name"`
	BaseURL string        `json:"base_url"` // "" when base_url (or azure's endpoint) is required
	Auth    string        `json:"auth"`
	Quirks  []string      `json:"quirks"`
	Prices  []presetPrice `json:"prices"`
}

type presetPrice struct {
	Model       string  `json:"model"`
	Input       float64 `json:"input"`
	CachedInput float64 `json:"cached_input"`
	Output      float64 `json:"output"`
	Currency    string  `json:"currency"`
	Note        string  `json:"note,omitempty"`
}

func listPresets(w io.Writer, asJSON bool) error {
	var out []presetJSON
	for _, n := range preset.Names() {
		p, _ := preset.Lookup(n)
		pj := presetJSON{Name: p.Name, BaseURL: p.BaseURL, Auth: p.Auth, Quirks: append([]string{}, p.Quirks...), Prices: []presetPrice{}}
		for _, mp := range preset.Prices(n) {
			pj.Prices = append(pj.Prices, presetPrice{mp.Model, mp.Input, mp.CachedInput, mp.Output, mp.Currency, mp.Note})
		}
		out = append(out, pj)
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PRESET\tBASE URL\tAUTH\tQUIRKS\tPRICED MODELS (per 1M tokens: input/cached/output)")
	for _, p := range out {
		base := p.BaseURL
		if base == "" {
			base = "(required)"
		}
		var priced []string
		for _, mp := range p.Prices {
			priced = append(priced, fmt.Sprintf("%s %g/%g/%g %s", mp.Model, mp.Input, mp.CachedInput, mp.Output, mp.Currency))
		}
		quirks := strings.Join(p.Quirks, "; ")
		if quirks == "" {
			quirks = "-"
		}
		models := strings.Join(priced, ", ")
		if models == "" {
			models = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Name, base, p.Auth, quirks, models)
	}
	return tw.Flush()
}
