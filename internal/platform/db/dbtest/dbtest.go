// Package dbtest opens a fresh, migrated database for a test: SQLite in the
// test's temporary directory by default, or a fresh PostgreSQL schema when
// JIFEN_TEST_POSTGRES holds a DSN (CI sets it for its PostgreSQL run).
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"jifen/internal/platform/db"
)

// EnvPostgres names the environment variable holding the PostgreSQL DSN.
const EnvPostgres = "JIFEN_TEST_POSTGRES"

// DSN returns a DSN for a fresh, empty database: a new SQLite file, or a new
// schema in the PostgreSQL database named by JIFEN_TEST_POSTGRES. The schema
// is dropped when the test ends.
func DSN(tb testing.TB) string {
	tb.Helper()
	pg := os.Getenv(EnvPostgres)
	if pg == "" {
		return filepath.Join(tb.TempDir(), "jifen.db")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	admin, err := db.Open(context.Background(), pg)
	if err != nil {
		tb.Fatalf("connect %s: %v", EnvPostgres, err)
	}
	if _, err := admin.Exec(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		_ = admin.Close()
	})
	u, err := url.Parse(pg)
	if err != nil {
		tb.Fatalf("parse %s: %v", EnvPostgres, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Open returns a fresh migrated database, closed when the test ends.
func Open(tb testing.TB) *db.DB {
	tb.Helper()
	return OpenDSN(tb, DSN(tb))
}

// OpenDSN opens and migrates dsn, closing it when the test ends.
func OpenDSN(tb testing.TB, dsn string) *db.DB {
	tb.Helper()
	d, err := db.Open(context.Background(), dsn)
	if err != nil {
		tb.Fatalf("open db: %v", err)
	}
	tb.Cleanup(func() { _ = d.Close() })
	if _, err := d.Migrate(context.Background()); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	return d
}

// RequirePostgres returns the PostgreSQL DSN, skipping the test only when the
// variable is unset (CI always sets it).
func RequirePostgres(tb testing.TB) string {
	tb.Helper()
	pg := os.Getenv(EnvPostgres)
	if pg == "" {
		tb.Skipf("%s is not set", EnvPostgres)
	}
	return pg
}
