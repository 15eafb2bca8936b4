// Command switchyard is the Switchyard model platform: an OpenAI-compatible
// gateway with routing, metering and local models, in one binary.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return append([]command{
		{"serve", "run the platform (API, admin API, console, metrics)", cmdServe},
		{"version", "print the version", cmdVersion},
		{"config", "work with config files (config check FILE)", cmdConfig},
		{"bench", "measure performance (bench gateway|engine)", cmdBench},
		{"pull", "download a GGUF model from Hugging Face (pull hf://OWNER/REPO/FILE.gguf)", cmdPull},
		{"models", "manage local models, list vendor presets (models import|list|rm|presets)", cmdModels},
		{"chat", "chat with a local model in the terminal (chat -m MODEL)", cmdChat},
		{"gguf", "inspect GGUF files, synthesise test models (gguf inspect|synth)", cmdGGUF},
		{"specialist", "train, evaluate and version specialists (specialist train|eval|list|show|promote|rollback)", cmdSpecialist},
		{"audit", "check the audit log's hash chain (audit verify)", cmdAudit},
		{"guard", "scan text for PII, injection and unsafe content (guard check|eval)", cmdGuard},
		{"dataset", "import, curate, annotate and export datasets (dataset create|import|from-logs|curate|annotate|export|list|show|diff)", cmdDataset},
	}, clientCommands()...)
}

// errUsage means the arguments were wrong and usage has been printed.
var errUsage = errors.New("usage")

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, args[1:], stdout, stderr)
			switch {
			case err == nil:
				return 0
			case errors.Is(err, flag.ErrHelp):
				return 0
			case errors.Is(err, errUsage):
				return 2
			default:
				fmt.Fprintln(stderr, "switchyard:", err)
				return 1
			}
		}
	}
	fmt.Fprintf(stderr, "switchyard: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Switchyard — a self-hosted large-model platform in one binary.")
	fmt.Fprintln(w, "\nUsage: switchyard COMMAND [flags]\n\nCommands:")
	cs := commands()
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'switchyard COMMAND --help' for a command's flags.")
}

// newFlags makes a FlagSet whose --help prints a one-line description first.
func newFlags(name, synopsis, desc string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: switchyard %s\n\n%s\n", synopsis, strings.TrimSpace(desc))
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(out, "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parse parses flags, mapping parse errors to errUsage.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}

func cmdVersion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", "version", "Print the switchyard version and the Go toolchain it was built with.", stdout)
	if err := parse(fs, args); err != nil {
		return err
	}
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v = "dev-" + s.Value[:12]
			}
		}
		fmt.Fprintf(stdout, "switchyard %s (%s)\n", v, bi.GoVersion)
		return nil
	}
	fmt.Fprintf(stdout, "switchyard %s\n", v)
	return nil
}
