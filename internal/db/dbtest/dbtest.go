// Package dbtest gives tests a fresh, migrated database of each dialect:
// an SQLite file in the test's temporary directory, and — when the
// environment variable SWITCHYARD_TEST_POSTGRES names a server, e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable — a throwaway
// schema on that PostgreSQL database, dropped when the test ends.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"switchyard/internal/db"
)

// EnvPostgres names the environment variable holding the PostgreSQL URL.
const EnvPostgres = "SWITCHYARD_TEST_POSTGRES"

// Each runs fn as the subtests "sqlite" and "postgres", each with its own
// fresh database. The postgres subtest is skipped when EnvPostgres is unset.
func Each(t *testing.T, fn func(t *testing.T, d *db.DB)) {
	t.Helper()
	for _, dialect := range []db.Dialect{db.SQLite, db.Postgres} {
		t.Run(string(dialect), func(t *testing.T) {
			fn(t, Open(t, dialect))
		})
	}
}

// Open returns a fresh, migrated database of the given dialect, closed (and
// for PostgreSQL, its schema dropped) in tb.Cleanup. For PostgreSQL it skips
// tb when EnvPostgres is unset.
func Open(tb testing.TB, dialect db.Dialect) *db.DB {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	switch dialect {
	case db.SQLite:
		d, err := db.OpenSQLite(ctx, filepath.Join(tb.TempDir(), "test.db"))
		if err != nil {
			tb.Fatalf("opening sqlite: %v", err)
		}
		tb.Cleanup(func() { d.Close() })
		return d
	case db.Postgres:
		return openPostgres(ctx, tb)
	default:
		tb.Fatalf("dbtest: unknown dialect %q", dialect)
		return nil
	}
}

// PostgresURL creates a fresh schema on the database SWITCHYARD_TEST_POSTGRES
// names, dropped when the test ends, and returns a URL whose connections
// use it; it skips the test, saying why, when the variable is unset.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		tb.Skipf("%s is not set; set it to a PostgreSQL URL (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run this test", EnvPostgres)
	}
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("%s: invalid URL", EnvPostgres)
	}
	ctx := context.Background()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatalf("opening %s: %v", db.Redact(base), err)
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	schema := "sy_test_" + hex.EncodeToString(rnd[:])
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		admin.Close()
		tb.Fatalf("creating schema on %s: %v", db.Redact(base), err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			tb.Errorf("dropping schema %s: %v", schema, err)
		}
		admin.Close()
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func openPostgres(ctx context.Context, tb testing.TB) *db.DB {
	tb.Helper()
	d, err := db.Open(ctx, PostgresURL(tb), "")
	if err != nil {
		tb.Fatalf("opening postgres: %v", err)
	}
	// Registered after the schema's cleanup, so it runs first: connections
	// close before the schema is dropped.
	tb.Cleanup(func() { d.Close() })
	return d
}
