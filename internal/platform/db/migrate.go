package db

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations
var migrationFS embed.FS

// Migration is one numbered schema step for one dialect.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations of a dialect in order. Both
// dialects carry the same version numbers; a test holds them to it.
func Migrations(d Dialect) ([]Migration, error) {
	dir := path.Join("migrations", string(d))
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and '_'", name)
		}
		b, err := migrationFS.ReadFile(path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("two migrations numbered %d", out[i].Version)
		}
	}
	return out, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT   NOT NULL,
    applied_at BIGINT NOT NULL
)`

// SchemaStatus tells how the database's schema compares with the binary's.
type SchemaStatus struct {
	Current int // highest applied version, 0 for an empty database
	Latest  int // highest version this binary knows
	Pending []Migration
	Unknown []int // versions applied in the database that this binary lacks
}

// Status reads the applied versions.
func (db *DB) Status(ctx context.Context) (SchemaStatus, error) {
	ms, err := Migrations(db.Dialect)
	if err != nil {
		return SchemaStatus{}, err
	}
	st := SchemaStatus{}
	if len(ms) > 0 {
		st.Latest = ms[len(ms)-1].Version
	}
	applied := map[int]bool{}
	var exists bool
	if db.Dialect == Postgres {
		err = db.r.QueryRowContext(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists)
	} else {
		var n int
		err = db.r.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type='table' AND name='schema_migrations'`).Scan(&n)
		exists = n > 0
	}
	if err != nil {
		return st, fmt.Errorf("read schema: %w", err)
	}
	if exists {
		rows, err := db.r.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
		if err != nil {
			return st, fmt.Errorf("read schema_migrations: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				return st, err
			}
			applied[v] = true
			if v > st.Current {
				st.Current = v
			}
		}
		if err := rows.Err(); err != nil {
			return st, err
		}
	}
	known := map[int]bool{}
	for _, m := range ms {
		known[m.Version] = true
		if !applied[m.Version] {
			st.Pending = append(st.Pending, m)
		}
	}
	for v := range applied {
		if !known[v] {
			st.Unknown = append(st.Unknown, v)
		}
	}
	sort.Ints(st.Unknown)
	return st, nil
}

// CheckSchema returns an error unless the database is exactly at the
// binary's schema: the server refuses to serve on a schema that is behind
// (or ahead, written by a newer binary).
func (db *DB) CheckSchema(ctx context.Context) error {
	st, err := db.Status(ctx)
	if err != nil {
		return err
	}
	if len(st.Unknown) > 0 {
		return fmt.Errorf("database schema has versions %v unknown to this binary (newer jifen?)", st.Unknown)
	}
	if len(st.Pending) > 0 {
		return fmt.Errorf("database schema is at version %d, this binary needs %d: run 'jifen migrate'", st.Current, st.Latest)
	}
	return nil
}

// Migrate applies every pending migration, each in its own transaction, and
// returns the versions applied.
func (db *DB) Migrate(ctx context.Context) ([]int, error) {
	if _, err := db.w.ExecContext(ctx, createMigrationsTable); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	st, err := db.Status(ctx)
	if err != nil {
		return nil, err
	}
	if len(st.Unknown) > 0 {
		return nil, fmt.Errorf("database schema has versions %v unknown to this binary", st.Unknown)
	}
	var done []int
	for _, m := range st.Pending {
		err := db.WithTx(ctx, func(ctx context.Context) error {
			if db.Dialect == Postgres {
				// Two processes starting at once must not both migrate.
				if _, err := db.Exec(ctx, `LOCK TABLE schema_migrations IN EXCLUSIVE MODE`); err != nil {
					return err
				}
				var n int
				if err := db.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, m.Version).Scan(&n); err != nil {
					return err
				}
				if n > 0 {
					return nil
				}
			}
			if _, err := db.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %s: %w", m.Name, err)
			}
			_, err := db.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.Version, m.Name, time.Now().UnixMicro())
			return err
		})
		if err != nil {
			return done, err
		}
		done = append(done, m.Version)
	}
	return done, db.migrateRiver(ctx)
}
