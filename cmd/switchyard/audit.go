package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"switchyard/internal/audit"
	"switchyard/internal/config"
	"switchyard/internal/db"
)

const auditDesc = `
Check the audit log's hash chain: every admin action and guard decision is
an entry that carries the hash of the one before, so an entry that was
edited, removed or reordered breaks the chain. verify reads the database
directly (the server need not run) and names the first bad entry; it exits
1 when the chain is broken.

The log itself is listed through the admin API: GET /api/audit.`

func cmdAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintf(stdout, "Usage: switchyard audit verify [--data-dir DIR] [--database URL]\n%s\n", auditDesc)
			return nil
		}
		fmt.Fprintln(stderr, "Usage: switchyard audit verify [--data-dir DIR] [--database URL]")
		return errUsage
	}
	env := config.ReadEnv()
	fs := newFlags("audit verify", "audit verify [--data-dir DIR] [--database URL]", auditDesc, stdout)
	dataDir := fs.String("data-dir", env.DataDir, "state directory (also SWITCHYARD_DATA_DIR; default ./switchyard-data)")
	dbURL := fs.String("database", "", "database URL (default: the data directory's SQLite file; or sqlite:PATH, postgres://…)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *dataDir == "" {
		*dataDir = config.Default().DataDir
	}
	if *dbURL == "" {
		if _, err := os.Stat(filepath.Join(*dataDir, "switchyard.db")); err != nil {
			return fmt.Errorf("no database in %s (pass --data-dir or --database)", *dataDir)
		}
	}
	d, err := db.Open(ctx, *dbURL, *dataDir)
	if err != nil {
		return err
	}
	defer d.Close()
	n, err := audit.Verify(ctx, d)
	var p *audit.Problem
	if errors.As(err, &p) {
		fmt.Fprintf(stdout, "audit log BROKEN after %d good entries: entry %d %s\n", n, p.Seq, p.Reason)
		return errors.New("the audit log's hash chain is broken")
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "audit log OK: %d entries, hash chain intact\n", n)
	return nil
}
