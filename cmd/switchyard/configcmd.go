package main

import (
	"context"
	"fmt"
	"io"

	"switchyard/internal/config"
	"switchyard/internal/server"
)

func cmdConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("config", "config check FILE", `
Work with config files.

  check FILE   validate FILE without starting: YAML syntax, unknown keys,
               types, ${ENV} references, model and deployment rules, and
               each deployment's provider options. Problems are listed with
               file:line and the field; the exit status is 1 if any.`, stdout)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 || fs.Arg(0) != "check" {
		fs.Usage()
		return errUsage
	}
	cfg, err := config.Load(fs.Arg(1))
	if err != nil {
		return err
	}
	// Build every provider too, so provider-specific options are checked.
	reg := server.BuiltinsIn(cfg.DataDir)
	for _, m := range cfg.Models {
		for _, d := range m.Deployments {
			p, err := reg.New(d)
			if err != nil {
				return &config.FieldError{File: cfg.File, Line: d.Line, Field: "deployment " + d.ID, Msg: err.Error()}
			}
			p.Close()
		}
	}
	n := 0
	for _, m := range cfg.Models {
		n += len(m.Deployments)
	}
	fmt.Fprintf(stdout, "%s: OK (%d models, %d deployments)\n", fs.Arg(1), len(cfg.Models), n)
	return nil
}
