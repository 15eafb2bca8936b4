package db_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchyard/internal/db"
	"switchyard/internal/db/dbtest"
)

func init() {
	db.Register(db.Migration{Name: "9000_dbtest_things", SQL: `
CREATE TABLE db_things (
  id BIGINT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  n INTEGER NOT NULL
);
CREATE INDEX db_things_n ON db_things (n)`})
}

func TestOpenURLs(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, url string
		file      string // expected SQLite file, "" for an error
	}{
		{"empty", "", filepath.Join(dir, "switchyard.db")},
		{"sqlite", "sqlite", filepath.Join(dir, "switchyard.db")},
		{"sqlite prefix", "sqlite:" + filepath.Join(dir, "a.db"), filepath.Join(dir, "a.db")},
		{"sqlite slashes", "sqlite://" + filepath.Join(dir, "b.db"), filepath.Join(dir, "b.db")},
		{"path", filepath.Join(dir, "sub", "c.db"), filepath.Join(dir, "sub", "c.db")},
		{"unknown scheme", "mysql://root:hunter2@localhost/x", ""},
		{"empty sqlite path", "sqlite:", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := db.Open(context.Background(), tt.url, dir)
			if tt.file == "" {
				if err == nil {
					d.Close()
					t.Fatal("Open succeeded, want an error")
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if d.Dialect != db.SQLite {
				t.Errorf("Dialect = %q", d.Dialect)
			}
			var file string
			if err := d.QueryRow(`SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&file); err != nil {
				t.Fatal(err)
			}
			if file != tt.file {
				t.Errorf("file = %q, want %q", file, tt.file)
			}
		})
	}
}

func TestOpenPostgresErrorHidesPassword(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, u := range []string{
		"postgres://alice:s3cretpw@127.0.0.1:1/x?sslmode=disable&connect_timeout=2",
		"postgresql://alice@127.0.0.1:1/x?password=s3cretpw&sslmode=disable",
		"postgres://alice:s3cretpw@127.0.0.1:1/x?sslmode=bogus",
		"postgres://alice:s3cretpw@[::1/x",
	} {
		d, err := db.Open(ctx, u, t.TempDir())
		if err == nil {
			d.Close()
			t.Fatalf("Open(%q) succeeded", u)
		}
		if strings.Contains(err.Error(), "s3cretpw") {
			t.Errorf("Open(%q) error shows the password: %v", u, err)
		}
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://u:pw@h:5432/db?sslmode=disable", "postgres://u:xxxxx@h:5432/db?sslmode=disable"},
		{"postgres://u@h/db", "postgres://u@h/db"},
		{"postgres://u@h/db?password=pw", "postgres://u@h/db?password=xxxxx"},
		{"postgres://u:pw@[::1/db", "postgres://(unparsable)"},
		{"u:pw@[::1", "u:(redacted)"},
		{"::pw", "(unparsable)"},
	}
	for _, tt := range tests {
		if got := db.Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRebind(t *testing.T) {
	tests := []struct {
		dialect db.Dialect
		in      string
		want    string
	}{
		{db.SQLite, "SELECT ? , ?", "SELECT ? , ?"},
		{db.Postgres, "SELECT ? , ?", "SELECT $1 , $2"},
		{db.Postgres, "SELECT 1", "SELECT 1"},
	}
	var got []string
	var want []string
	for _, tt := range tests {
		got = append(got, (&db.DB{Dialect: tt.dialect}).Rebind(tt.in))
		want = append(want, tt.want)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Rebind (-want +got):\n%s", diff)
	}
}

func TestMigrationsAndUniqueViolation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		var n int
		if err := d.QueryRowContext(ctx, d.Rebind(`SELECT COUNT(*) FROM schema_migrations WHERE name = ?`), "9000_dbtest_things").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("migration recorded %d times", n)
		}
		ins := d.Rebind(`INSERT INTO db_things (id, name, n) VALUES (?, ?, ?)`)
		if _, err := d.ExecContext(ctx, ins, 1, "a", 1); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name   string
			err    error
			unique bool
		}{
			{"primary key", execErr(d, ins, 1, "b", 2), true},
			{"unique column", execErr(d, ins, 2, "a", 2), true},
			{"not null", execErr(d, ins, 3, nil, 2), false},
			{"syntax", execErr(d, "SELEKT 1"), false},
			{"nil", nil, false},
			{"other", errors.New("x"), false},
		}
		for _, tt := range tests {
			if tt.name != "nil" && tt.name != "other" && tt.err == nil {
				t.Errorf("%s: statement succeeded", tt.name)
				continue
			}
			if got := d.IsUniqueViolation(tt.err); got != tt.unique {
				t.Errorf("%s: IsUniqueViolation(%v) = %v, want %v", tt.name, tt.err, got, tt.unique)
			}
		}
	})
}

func execErr(d *db.DB, q string, args ...any) error {
	_, err := d.ExecContext(context.Background(), q, args...)
	return err
}

// TestMigrateConcurrent runs Migrate from several goroutines at once, as
// replicas starting together would; each must succeed and apply nothing twice.
func TestMigrateConcurrent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		if _, err := d.Exec(`DROP TABLE db_things`); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Exec(d.Rebind(`DELETE FROM schema_migrations WHERE name = ?`), "9000_dbtest_things"); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() { errs[i] = d.Migrate(context.Background()) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := d.QueryRow(`SELECT COUNT(*) FROM db_things`).Scan(&n); err != nil {
			t.Fatalf("table missing after concurrent Migrate: %v", err)
		}
	})
}

// TestOpenSQLiteOddPath opens files whose names hold the characters a file:
// URI gives meaning to; each must be its own file.
func TestOpenSQLiteOddPath(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a#1.db", "a?x=1.db", "a%231.db", "a"} {
		path := filepath.Join(dir, name)
		d, err := db.OpenSQLite(context.Background(), path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var file string
		err = d.QueryRow(`SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&file)
		d.Close()
		if err != nil {
			t.Fatal(err)
		}
		if file != path {
			t.Errorf("opened %q, want %q", file, path)
		}
	}
}
