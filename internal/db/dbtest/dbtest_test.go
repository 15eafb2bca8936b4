package dbtest_test

import (
	"context"
	"strings"
	"testing"

	"switchyard/internal/db"
	"switchyard/internal/db/dbtest"
)

func init() {
	db.Register(db.Migration{Name: "9001_dbtest_items", SQL: `
CREATE TABLE dbtest_items (
  id TEXT PRIMARY KEY,
  n BIGINT NOT NULL
)`})
}

func TestEachGivesFreshDatabases(t *testing.T) {
	for range 2 { // the second round must not see the first round's row
		dbtest.Each(t, func(t *testing.T, d *db.DB) {
			ctx := context.Background()
			var n int
			if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM dbtest_items`).Scan(&n); err != nil {
				t.Fatalf("migration not applied: %v", err)
			}
			if n != 0 {
				t.Fatalf("fresh database has %d rows", n)
			}
			ins := d.Rebind(`INSERT INTO dbtest_items (id, n) VALUES (?, ?)`)
			if _, err := d.ExecContext(ctx, ins, "x", 1); err != nil {
				t.Fatal(err)
			}
			_, err := d.ExecContext(ctx, ins, "x", 2)
			if !d.IsUniqueViolation(err) {
				t.Errorf("duplicate insert: err = %v, want a unique violation", err)
			}
		})
	}
}

func TestPostgresSchemaIsolated(t *testing.T) {
	d := dbtest.Open(t, db.Postgres)
	var schema string
	if err := d.QueryRow(`SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(schema, "sy_test_") {
		t.Errorf("current_schema() = %q, want sy_test_…", schema)
	}
	var tbl string
	if err := d.QueryRow(`SELECT table_schema FROM information_schema.tables WHERE table_name = 'dbtest_items' AND table_schema = $1`, schema).Scan(&tbl); err != nil {
		t.Errorf("dbtest_items not in %s: %v", schema, err)
	}
}
