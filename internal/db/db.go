// Package db opens Switchyard's database — an embedded SQLite file by
// default, PostgreSQL when replicas share state — and applies migrations.
// Domain packages own their tables: each registers its migrations here with
// a unique, ordered name and runs its own SQL, kept portable across both
// dialects (TEXT, BIGINT, INTEGER; ids made in Go, no AUTOINCREMENT), with
// ? placeholders passed through Rebind.
package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // pure-Go SQLite driver, registered as "sqlite"
)

// DB is an open database with its dialect.
type DB struct {
	*sql.DB
	Dialect Dialect
}

// Dialect names the SQL flavour.
type Dialect string

// Supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Migration is one schema step owned by a domain package.
type Migration struct {
	Name string // unique and ordered, e.g. "0001_tenancy_keys"
	SQL  string // statements separated by ";\n"
}

var (
	migMu      sync.Mutex
	migrations []Migration
)

// Register adds migrations; domain packages call it from init.
func Register(ms ...Migration) {
	migMu.Lock()
	defer migMu.Unlock()
	migrations = append(migrations, ms...)
}

// OpenSQLite opens (creating) the SQLite file at path with WAL journaling
// and applies pending migrations.
func OpenSQLite(ctx context.Context, path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	// The path goes into a file: URI, where SQLite would end it at ? or #
	// and decode %XX; escape those three.
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	dsn := "file:" + esc + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_txlock=immediate"
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening sqlite: %w", err)
	}
	sdb.SetMaxOpenConns(4)
	d := &DB{DB: sdb, Dialect: SQLite}
	if err := d.Migrate(ctx); err != nil {
		sdb.Close()
		return nil, err
	}
	return d, nil
}

// migrationLockKey is the pg_advisory_lock key that serialises Migrate
// across replicas sharing one PostgreSQL database ("swyd" in ASCII).
const migrationLockKey = 0x73777964

// Migrate applies every registered migration not yet applied, in name order,
// each in its own transaction. On PostgreSQL it holds a session advisory lock
// for the whole run so that replicas starting together take turns.
func (d *DB) Migrate(ctx context.Context) error {
	conn, err := d.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	defer conn.Close()
	if d.Dialect == Postgres {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrationLockKey); err != nil {
			return fmt.Errorf("taking migration lock: %w", err)
		}
		defer func() {
			// A fresh context: the caller's may be done, and the lock must
			// not outlive this run on a pooled connection.
			uctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := conn.ExecContext(uctx, `SELECT pg_advisory_unlock($1)`, migrationLockKey); err != nil {
				conn.Raw(func(any) error { return driver.ErrBadConn }) // drop the session, and its lock
			}
		}()
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	migMu.Lock()
	ms := append([]Migration(nil), migrations...)
	migMu.Unlock()
	sort.Slice(ms, func(i, j int) bool { return ms[i].Name < ms[j].Name })
	for _, m := range ms {
		if err := d.apply(ctx, conn, m); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
	}
	return nil
}

// apply runs m unless it is already recorded. The check is inside the
// transaction so that on SQLite (whose transactions take the write lock at
// BEGIN) two processes cannot both apply it.
func (d *DB) apply(ctx context.Context, conn *sql.Conn, m Migration) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, d.Rebind(`SELECT COUNT(*) FROM schema_migrations WHERE name = ?`), m.Name).Scan(&n); err != nil {
		return fmt.Errorf("checking: %w", err)
	}
	if n > 0 {
		return nil
	}
	for _, stmt := range strings.Split(m.SQL, ";\n") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, d.Rebind(`INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`), m.Name, time.Now().UTC().Format(time.RFC3339)); err != nil {
		return err
	}
	return tx.Commit()
}

// Rebind turns ? placeholders into the dialect's form ($1, $2… for PostgreSQL).
func (d *DB) Rebind(q string) string {
	if d.Dialect != Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}
