package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL database/sql driver, registered as "pgx"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Open opens the database named by rawURL and applies pending migrations:
//
//   - "" or "sqlite": the SQLite file dataDir/switchyard.db;
//   - "sqlite:PATH" or a plain file path: that SQLite file;
//   - "postgres://…" or "postgresql://…": PostgreSQL through pgx. Query
//     parameters pgx does not know (search_path, application_name…) are set
//     on every connection.
//
// Errors name the URL with its password masked.
func Open(ctx context.Context, rawURL, dataDir string) (*DB, error) {
	switch {
	case rawURL == "" || rawURL == "sqlite":
		return OpenSQLite(ctx, filepath.Join(dataDir, "switchyard.db"))
	case strings.HasPrefix(rawURL, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(rawURL, "sqlite:"), "//")
		if path == "" {
			return nil, errors.New("opening sqlite: empty path in database URL")
		}
		return OpenSQLite(ctx, path)
	case strings.HasPrefix(rawURL, "postgres://") || strings.HasPrefix(rawURL, "postgresql://"):
		return OpenPostgres(ctx, rawURL)
	case strings.Contains(rawURL, "://"):
		return nil, fmt.Errorf("opening database %s: unsupported scheme", Redact(rawURL))
	default:
		return OpenSQLite(ctx, rawURL)
	}
}

// OpenPostgres connects to the PostgreSQL database at rawURL, checks it
// answers and applies pending migrations.
func OpenPostgres(ctx context.Context, rawURL string) (*DB, error) {
	// sql.Open with the pgx driver only parses the URL; a parse error from pgx
	// quotes it, so only the redacted form is reported.
	sdb, err := sql.Open("pgx", rawURL)
	if err != nil {
		return nil, fmt.Errorf("opening postgres %s: invalid URL", Redact(rawURL))
	}
	sdb.SetMaxOpenConns(16)
	sdb.SetMaxIdleConns(8)
	sdb.SetConnMaxIdleTime(5 * time.Minute)
	sdb.SetConnMaxLifetime(time.Hour)
	if err := sdb.PingContext(ctx); err != nil {
		sdb.Close()
		var pce *pgconn.ParseConfigError
		if errors.As(err, &pce) {
			return nil, fmt.Errorf("opening postgres %s: invalid URL", Redact(rawURL))
		}
		return nil, fmt.Errorf("connecting to postgres %s: %w", Redact(rawURL), err)
	}
	d := &DB{DB: sdb, Dialect: Postgres}
	if err := d.Migrate(ctx); err != nil {
		sdb.Close()
		return nil, err
	}
	return d, nil
}

// Redact returns a database URL fit for logs and errors: the user
// information's password and any password query parameter are masked. A URL
// that does not parse, or has an opaque part, is reduced to its scheme.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.Index(raw, "://"); i > 0 && !strings.ContainsAny(raw[:i], "@:/") {
			return raw[:i] + "://(unparsable)"
		}
		return "(unparsable)"
	}
	if u.Opaque != "" { // scheme:opaque, where a password could hide anywhere
		return u.Scheme + ":(redacted)"
	}
	q := u.Query()
	masked := false
	for k := range q {
		if strings.EqualFold(k, "password") || strings.EqualFold(k, "sslpassword") {
			q.Set(k, "xxxxx")
			masked = true
		}
	}
	if masked {
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// IsUniqueViolation reports whether err is a unique or primary key
// constraint violation, from either driver.
func (d *DB) IsUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}
