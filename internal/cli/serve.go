package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"jifen/internal/app"
	"jifen/internal/config"
	"jifen/internal/platform/db"
)

func openDBOnly(ctx context.Context, cfg *config.Config) (*db.DB, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, err
	}
	return db.Open(ctx, cfg.DB)
}

func runServe(ctx context.Context, env Env, args []string) error {
	fs := flags("serve", env, config.All)
	demo := fs.Bool("demo", false, "demo mode: create one demo account per role and print their passwords")
	reset := fs.Bool("reset", false, "with --demo: delete the SQLite database first and start the demo afresh (keeps the master key)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(fs, env)
	if err != nil {
		return err
	}
	if *reset {
		if !*demo {
			return fmt.Errorf("--reset deletes the database and is only for the demo: use it with --demo")
		}
		removed, err := resetDemoDB(cfg.DB)
		if err != nil {
			return err
		}
		for _, f := range removed {
			fmt.Fprintf(env.Stderr, "removed %s\n", f)
		}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	log := newLogger(cfg, env.Stderr)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.New(ctx, cfg, log, app.Options{Demo: *demo})
	if err != nil {
		return err
	}
	var accts []app.DemoAccount
	if *demo {
		if accts, err = a.SeedDemo(ctx); err != nil {
			_ = a.Shutdown(context.Background())
			return err
		}
	}
	if err := a.Start(ctx); err != nil {
		_ = a.Shutdown(context.Background())
		return err
	}
	if *demo {
		a.PrintDemo(env.Stdout, accts)
	}
	<-ctx.Done()
	log.Info("shutting down", "grace", cfg.ShutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	return a.Shutdown(sctx)
}

// resetDemoDB deletes the demo's SQLite database file and its journal
// files, so the next start seeds a fresh demo, and returns the files it
// removed. It refuses a PostgreSQL database: --reset is for the demo's
// local file only.
func resetDemoDB(dsn string) ([]string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") || strings.Contains(dsn, "://") {
		return nil, fmt.Errorf("--reset only deletes a local SQLite database, not %s", db.Redact(dsn))
	}
	path := strings.TrimPrefix(dsn, "file:")
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	var removed []string
	for _, f := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		err := os.Remove(f)
		switch {
		case err == nil:
			removed = append(removed, f)
		case !errors.Is(err, fs.ErrNotExist):
			return removed, fmt.Errorf("reset: %w", err)
		}
	}
	return removed, nil
}
