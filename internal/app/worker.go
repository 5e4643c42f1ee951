package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/riverqueue/river"

	"jifen/internal/agency"

	"jifen/internal/agencyops"
	"jifen/internal/audit"
	"jifen/internal/platform/db"
	"jifen/internal/platform/jobs"
)

// schedule is one periodic job of the worker. Each is safe to repeat after
// a crash; the job mechanism runs it once per interval however many worker
// processes there are.
type schedule struct {
	name  string
	every time.Duration
	run   func(ctx context.Context) error
}

// scheduleArgs is the job of one schedule's run.
type scheduleArgs struct {
	Name string `json:"name"`
}

func (scheduleArgs) Kind() string { return "schedule" }

// scheduleQueue is the queue of the periodic jobs.
const scheduleQueue = "schedule"

// scheduleWorker runs a schedule's job.
type scheduleWorker struct {
	river.WorkerDefaults[scheduleArgs]
	a *App
}

func (w *scheduleWorker) Work(ctx context.Context, job *river.Job[scheduleArgs]) error {
	err := w.a.RunSchedule(ctx, job.Args.Name)
	if err != nil && ctx.Err() == nil {
		w.a.Log.Error("scheduled job failed", "job", job.Args.Name, "attempt", job.Attempt, "err", err)
	}
	return err
}

// registerSchedules makes every schedule a periodic job: River's leader
// inserts it every interval (and once at start), unique per schedule and
// interval so a backlog never piles up; a failed run is retried a few times
// with backoff before the next interval brings a new one.
func (a *App) registerSchedules() {
	jobs.Register(a.Jobs, &scheduleWorker{a: a})
	a.Jobs.Queue(scheduleQueue, 2)
	for _, s := range a.schedules() {
		a.Jobs.Every(s.every, scheduleArgs{Name: s.name}, &river.InsertOpts{Queue: scheduleQueue, MaxAttempts: 3,
			UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: s.every}})
	}
}

// ScheduleNames lists the worker's schedules.
func (a *App) ScheduleNames() []string {
	var out []string
	for _, s := range a.schedules() {
		out = append(out, s.name)
	}
	return out
}

// RunSchedule runs one of the worker's schedules once.
func (a *App) RunSchedule(ctx context.Context, name string) error {
	for _, s := range a.schedules() {
		if s.name == name {
			return s.run(ctx)
		}
	}
	return fmt.Errorf("no schedule %q", name)
}

func (a *App) schedules() []schedule {
	return append(append(append(append(a.mailSchedules(), a.logSchedules()...), a.monitorSchedules()...), a.dataExportSchedules()...), []schedule{
		{"session_purge", time.Hour, func(ctx context.Context) error {
			n, err := a.Accounts.PurgeExpiredSessions(ctx)
			if n > 0 {
				a.Log.Info("purged expired sessions", "count", n)
			}
			return err
		}},
		// The periodic access review: a disable request for every office
		// account unused for 90 days, which two security administrators
		// then review and approve. Repeating it opens no duplicates.
		{"access_review", 24 * time.Hour, func(ctx context.Context) error {
			n, err := a.Accounts.FlagUnusedAccounts(ctx)
			if n > 0 {
				a.Log.Info("access review: disable requests opened for unused accounts", "count", n)
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
		// Files of uploads that never got their row (application.OrphanAge).
		{"blob_sweep", 6 * time.Hour, func(ctx context.Context) error {
			n, err := a.Cases.Attachments.SweepBlobs(ctx)
			if n > 0 {
				a.Log.Info("removed unreferenced attachment files", "count", n)
			}
			if err != nil {
				return err
			}
			n, err = a.Cases.Review.SweepEvidence(ctx)
			if n > 0 {
				a.Log.Info("removed unreferenced in-person check evidence files", "count", n)
			}
			return err
		}},
		// Applications whose 复查 window closed without a request become
		// final (the first result stands); a second run finds none.
		{"review_finalize", 10 * time.Minute, func(ctx context.Context) error {
			for {
				n, err := a.Cases.Applications.FinalizeUnreviewed(ctx, a.Clock.Now(), 1000)
				if n > 0 {
					a.Log.Info("applications final after the review window", "count", n)
				}
				if err != nil || n == 0 {
					return err
				}
			}
		}},
		// Once a published list's notice period has begun, the round's
		// final applications become published, with their mail.
		{"publicity_start", 10 * time.Minute, func(ctx context.Context) error {
			for {
				n, err := a.Cases.Applications.PublishStarted(ctx, a.Clock.Now(), 1000)
				if n > 0 {
					a.Log.Info("applications published", "count", n)
				}
				if err != nil || n == 0 {
					return err
				}
			}
		}},
		// The single checks of internal/check: new employers and submitted
		// applications asked of their agency, until none is left.
		{"single_checks", 10 * time.Second, func(ctx context.Context) error {
			for {
				n, err := a.Check.SweepSingles(ctx, 500)
				if err != nil || n == 0 {
					return err
				}
			}
		}},
	}...)
}

// runWorker runs the job mechanism — the cross-check's batches, mail
// delivery and the schedules — until ctx ends.
func (a *App) runWorker(ctx context.Context) {
	a.Check.Work(ctx)
}
