package app

import (
	"context"
	"errors"
	"path/filepath"
	"time"

	"jifen/internal/agency"
	"jifen/internal/agencyops"
	"jifen/internal/audit"
	"jifen/internal/platform/db"
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
		{"agency_probe", time.Minute, func(ctx context.Context) error {
			for _, ag := range agency.Codes() {
				if err := a.Connectors.Probe(ctx, ag); err != nil && !db.IsNoRows(errors.Unwrap(err)) && ctx.Err() == nil {
					a.Log.Warn("agency probe", "agency", ag, "err", err)
				}
			}
			return nil
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
	a.wg.Add(2)
	go func() {
		defer a.wg.Done()
		a.Check.Work(ctx)
	}()
	go func() {
		defer a.wg.Done()
		a.sweepSingles(ctx)
	}()
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

// sweepSingles asks the agencies about new employers and submitted
// applications every ten seconds (the single checks of internal/check).
func (a *App) sweepSingles(ctx context.Context) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		for {
			n, err := a.Check.SweepSingles(ctx, 500)
			if err != nil && ctx.Err() == nil {
				a.Log.Error("single checks", "err", err)
			}
			if n == 0 || err != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
