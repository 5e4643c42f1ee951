package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	_ "modernc.org/sqlite"
)

// openSQLite opens the file as jifen's platform/db does: 16 KiB pages, WAL,
// synchronous=FULL, one writer connection (BEGIN IMMEDIATE) and a pool of
// query-only readers. River gets the writer: it is the only pool that can
// write, so River's own writes (fetches, completions, leader election,
// notifications, maintenance) queue behind the application's on it.
func openSQLite(ctx context.Context, path string, occ *occupancy) (w, r *sql.DB, err error) {
	c, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath())
	if err != nil {
		return nil, nil, err
	}
	for _, p := range []string{"PRAGMA page_size = 16384", "PRAGMA journal_mode = WAL"} {
		if _, err := c.ExecContext(ctx, p); err != nil {
			_ = c.Close()
			return nil, nil, err
		}
	}
	_ = c.Close()
	base := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(FULL)&_time_format=sqlite"
	probe, err := sql.Open("sqlite", "")
	if err != nil {
		return nil, nil, err
	}
	drv := probe.Driver()
	_ = probe.Close()
	name := fmt.Sprintf("sqlite-occupancy-%p", occ)
	sql.Register(name, statDriver{d: drv, occ: occ})
	w, err = sql.Open(name, base+"&_txlock=immediate")
	if err != nil {
		return nil, nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	r, err = sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		return nil, nil, err
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	return w, r, w.PingContext(ctx)
}

func runSQLite(ctx context.Context, c config, log *slog.Logger) error {
	path := c.dsn
	if path == "" {
		dir, err := os.MkdirTemp("", "riverbench-")
		if err != nil {
			return err
		}
		defer func() { _ = os.RemoveAll(dir) }()
		path = filepath.Join(dir, "river.db")
	} else {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			_ = os.Remove(path + suffix)
		}
	}
	fmt.Printf("sqlite file: %s\n", path)
	occ := newOccupancy()
	w, r, err := openSQLite(ctx, path, occ)
	if err != nil {
		return err
	}
	defer func() { _ = r.Close(); _ = w.Close() }()
	b := sqliteBackend(w, r, occ)
	if err := migrate(ctx, b.driver); err != nil {
		return err
	}
	for _, stmt := range strings.Split(appSchema, ";") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := w.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	if c.mode == "features" {
		return runFeatures(ctx, c, log, b)
	}
	return runRound(ctx, c, log, b)
}

// migrate runs River's migrations (its tables live beside the application's).
func migrate[TTx any](ctx context.Context, d riverdriver.Driver[TTx]) error {
	m, err := rivermigrate.New(d, nil)
	if err != nil {
		return err
	}
	res, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return err
	}
	fmt.Printf("River migrations applied: %d\n", len(res.Versions))
	return nil
}

func sqliteBackend(w, r *sql.DB, occ *occupancy) *backend[*sql.Tx] {
	return &backend[*sql.Tx]{
		driver:   riversqlite.New(w),
		begin:    func(ctx context.Context) (*sql.Tx, error) { return w.BeginTx(ctx, nil) },
		commit:   func(_ context.Context, tx *sql.Tx) error { return tx.Commit() },
		rollback: func(_ context.Context, tx *sql.Tx) { _ = tx.Rollback() },
		exec: func(ctx context.Context, tx *sql.Tx, q string, args ...any) error {
			_, err := tx.ExecContext(ctx, q, args...)
			return err
		},
		queryInt: func(ctx context.Context, tx *sql.Tx, q string, args ...any) (int64, error) {
			var n int64
			err := tx.QueryRowContext(ctx, q, args...).Scan(&n)
			return n, err
		},
		answers: func(ctx context.Context, batch int) ([]string, error) {
			rows, err := r.QueryContext(ctx, `SELECT answer FROM bench_answers WHERE batch_no = $1`, batch)
			if err != nil {
				return nil, err
			}
			defer func() { _ = rows.Close() }()
			var out []string
			for rows.Next() {
				var s string
				if err := rows.Scan(&s); err != nil {
					return nil, err
				}
				out = append(out, s)
			}
			return out, rows.Err()
		},
		scalar: func(ctx context.Context, q string, args ...any) (int64, error) {
			var n int64
			err := r.QueryRowContext(ctx, q, args...).Scan(&n)
			return n, err
		},
		completeQuery: func(ctx context.Context, tx *sql.Tx, j *river.Job[QueryArgs]) error {
			_, err := river.JobCompleteTx[*riversqlite.Driver](ctx, tx, j)
			return err
		},
		completeScore: func(ctx context.Context, tx *sql.Tx, j *river.Job[ScoreArgs]) error {
			_, err := river.JobCompleteTx[*riversqlite.Driver](ctx, tx, j)
			return err
		},
		occ: occ,
		completeFeat: func(ctx context.Context, tx *sql.Tx, j *river.Job[featArgs]) error {
			_, err := river.JobCompleteTx[*riversqlite.Driver](ctx, tx, j)
			return err
		},
		writerStats: func() string {
			s := w.Stats()
			return fmt.Sprintf("%d waits for the one connection, %s waited in total", s.WaitCount, s.WaitDuration.Round(1e6))
		},
	}
}
