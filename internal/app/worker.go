package app

import (
	"context"
	"path/filepath"
	"time"

	"jifen/internal/agencyops"
	"jifen/internal/audit"
)

// schedule is one periodic job of the worker. Each is safe to run in
// several processes at once and to repeat after a crash.
type schedule struct {
	name  string
	every time.Duration
	run   func(ctx context.Context) error
}

func (a *App) schedules() []schedule {
	return []schedule{
		{"session_purge", time.Hour, func(ctx context.Context) error {
			n, err := a.Accounts.PurgeExpiredSessions(ctx)
			if n > 0 {
				a.Log.Info("purged expired sessions", "count", n)
			}
			return err
		}},
		{"audit_retention", 6 * time.Hour, func(ctx context.Context) error {
			arch, err := a.Audit.Purge(ctx, filepath.Join(a.Cfg.DataDir, "audit-archive"), a.Clock.Now().Add(-audit.Retention))
			if arch.Rows > 0 {
				a.Log.Info("archived and purged audit rows", "first", arch.FirstID, "last", arch.LastID, "file", arch.File, "sm3", arch.FileSM3)
			}
			return err
		}},
		{"check_calls_retention", 24 * time.Hour, func(ctx context.Context) error {
			n, err := a.AgencyOps.PurgeCalls(ctx, a.Clock.Now().Add(-agencyops.Retention))
			if n > 0 {
				a.Log.Info("purged agency calls past retention", "count", n)
			}
			return err
		}},
	}
}

// runWorker runs every schedule once at start and then at its interval
// until ctx ends.
func (a *App) runWorker(ctx context.Context) {
	if a.Mailer != nil && a.Cfg.SMTP.Host != "" {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			if err := a.Mailer.Run(ctx); err != nil {
				a.Log.Error("mail worker stopped", "err", err)
			}
		}()
	}
	scheds := a.schedules()
	next := make([]time.Time, len(scheds))
	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
	for {
		now := time.Now()
		for i, s := range scheds {
			if now.Before(next[i]) {
				continue
			}
			next[i] = now.Add(s.every)
			if err := s.run(ctx); err != nil && ctx.Err() == nil {
				a.Log.Error("scheduled job failed", "job", s.name, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
