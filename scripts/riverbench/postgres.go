package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

const benchDB = "jifen_river"

// runPostgres works in a fresh database, jifen_river, created through the
// admin DSN (dropped first if a previous run left it).
func runPostgres(ctx context.Context, c config, log *slog.Logger) error {
	admin := c.dsn
	if admin == "" {
		admin = "postgres://postgres@127.0.0.1:5432/jifen_dev?sslmode=disable"
	}
	ac, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	for _, q := range []string{"DROP DATABASE IF EXISTS " + benchDB + " WITH (FORCE)", "CREATE DATABASE " + benchDB} {
		if _, err := ac.Exec(ctx, q); err != nil {
			_ = ac.Close(ctx)
			return err
		}
	}
	_ = ac.Close(ctx)
	u, err := url.Parse(admin)
	if err != nil {
		return err
	}
	u.Path = "/" + benchDB
	pc, err := pgxpool.ParseConfig(u.String())
	if err != nil {
		return err
	}
	pc.MaxConns = 32 // jifen's PostgreSQL pool size
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return err
	}
	defer pool.Close()
	fmt.Printf("postgres database: %s (pool of %d)\n", benchDB, pc.MaxConns)
	b := pgBackend(pool)
	if err := migrate(ctx, b.driver); err != nil {
		return err
	}
	if _, err := pool.Exec(ctx, appSchema); err != nil {
		return err
	}
	if c.mode == "features" {
		return runFeatures(ctx, c, log, b)
	}
	return runRound(ctx, c, log, b)
}

func pgBackend(pool *pgxpool.Pool) *backend[pgx.Tx] {
	return &backend[pgx.Tx]{
		driver:   riverpgxv5.New(pool),
		begin:    func(ctx context.Context) (pgx.Tx, error) { return pool.Begin(ctx) },
		commit:   func(ctx context.Context, tx pgx.Tx) error { return tx.Commit(ctx) },
		rollback: func(ctx context.Context, tx pgx.Tx) { _ = tx.Rollback(context.WithoutCancel(ctx)) },
		exec: func(ctx context.Context, tx pgx.Tx, q string, args ...any) error {
			_, err := tx.Exec(ctx, q, args...)
			return err
		},
		queryInt: func(ctx context.Context, tx pgx.Tx, q string, args ...any) (int64, error) {
			var n int64
			err := tx.QueryRow(ctx, q, args...).Scan(&n)
			return n, err
		},
		answers: func(ctx context.Context, batch int) ([]string, error) {
			rows, err := pool.Query(ctx, `SELECT answer FROM bench_answers WHERE batch_no = $1`, batch)
			if err != nil {
				return nil, err
			}
			return pgx.CollectRows(rows, pgx.RowTo[string])
		},
		scalar: func(ctx context.Context, q string, args ...any) (int64, error) {
			var n int64
			err := pool.QueryRow(ctx, q, args...).Scan(&n)
			return n, err
		},
		completeQuery: func(ctx context.Context, tx pgx.Tx, j *river.Job[QueryArgs]) error {
			_, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, j)
			return err
		},
		completeScore: func(ctx context.Context, tx pgx.Tx, j *river.Job[ScoreArgs]) error {
			_, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, j)
			return err
		},
		completeFeat: func(ctx context.Context, tx pgx.Tx, j *river.Job[featArgs]) error {
			_, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, j)
			return err
		},
		writerStats: func() string {
			s := pool.Stat()
			return fmt.Sprintf("pgxpool: %d acquires, %d waited (%s in total), max %d", s.AcquireCount(), s.EmptyAcquireCount(), s.AcquireDuration().Round(1e6), s.MaxConns())
		},
	}
}
