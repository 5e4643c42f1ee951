package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
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
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(fs, env)
	if err != nil {
		return err
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
