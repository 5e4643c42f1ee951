package app

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"time"

	"jifen/internal/backup"
	"jifen/internal/monitor"
	"jifen/internal/platform/blob"
	"jifen/internal/platform/mail"
)

// buildMonitor builds the operations monitoring: the probes of this
// process (host, data dir, database, HTTP instruments, job queues, mail,
// agencies) and the alert evaluation job.
func (a *App) buildMonitor() {
	role := "serve"
	var parts []string
	if a.Cfg.Serves("portal") || a.Cfg.Serves("public") {
		parts = append(parts, "internet")
	}
	if a.Cfg.Serves("office") {
		parts = append(parts, "office")
	}
	if a.Cfg.Worker {
		parts = append(parts, "worker")
	}
	if len(parts) > 0 {
		role = strings.Join(parts, "+")
	}
	m := monitor.New(a.DB, a.Audit, a.Clock, a.Outbox, a.Log, role)
	m.OnCall = a.Cfg.OncallEmails
	m.OfficeURL = a.officeURL()
	if st, err := blob.NewDir(filepath.Join(a.Cfg.DataDir, "faults")); err != nil {
		a.Log.Warn("monitor: no store for fault attachments", "err", err)
	} else {
		m.SetStore(st)
	}
	m.HostProbes(a.Cfg.DataDir)
	m.DBProbes(a.DB)
	m.HTTPProbes(a.Metrics.Registry)
	m.AddMany(func(ctx context.Context) (map[string]float64, error) {
		ds, err := a.Jobs.Depth(ctx)
		if err != nil {
			return nil, err
		}
		var waiting float64
		oldest := time.Time{}
		for _, d := range ds {
			waiting += float64(d.Waiting)
			if !d.Oldest.IsZero() && (oldest.IsZero() || d.Oldest.Before(oldest)) {
				oldest = d.Oldest
			}
		}
		out := map[string]float64{"jobs_waiting": waiting, "jobs_oldest_min": 0}
		if !oldest.IsZero() {
			// River stamps jobs with the wall clock.
			out["jobs_oldest_min"] = float64(int(time.Since(oldest).Minutes()))
		}
		return out, nil
	})
	m.Add("mail_backlog", func(ctx context.Context) (float64, bool, error) {
		c, err := a.Outbox.Counts(ctx)
		if err != nil {
			return 0, false, err
		}
		return float64(c[mail.StatusQueued]), true, nil
	})
	if a.AgencyOps != nil {
		m.Add("agencies_down", func(ctx context.Context) (float64, bool, error) {
			hs, err := a.AgencyOps.Health(ctx)
			if err != nil {
				return 0, false, err
			}
			down := 0
			for _, h := range hs {
				if h.Configured && !h.Up {
					down++
				}
			}
			return float64(down), true, nil
		})
	}
	if a.LogFiles != nil {
		fs := a.LogFiles
		m.Add("log_write_failures", func(context.Context) (float64, bool, error) { return float64(fs.Failures()), true, nil })
	}
	if a.Backup != nil {
		b := a.Backup
		m.Add("backup_age_h", func(ctx context.Context) (float64, bool, error) {
			good, err := b.LastGood(ctx)
			if err != nil || (good.IsZero() && a.Cfg.Backup.Every == 0) {
				return 0, false, err // backups off and none made: nothing to watch
			}
			if good.IsZero() {
				return 24 * 365, true, nil // on, and no good backup yet
			}
			return float64(int(a.Clock.Now().Sub(good).Hours())), true, nil
		})
		m.Add("backup_drill_failed", func(ctx context.Context) (float64, bool, error) {
			r, err := b.Latest(ctx)
			if errors.Is(err, backup.ErrNoRun) {
				return 0, true, nil
			}
			if err != nil {
				return 0, false, err
			}
			if r.Failed() {
				return 1, true, nil
			}
			return 0, true, nil
		})
	}
	a.Monitor = m
}

// backupLines are a period's backups for the quarterly report.
func (a *App) backupLines(ctx context.Context, from, to time.Time) ([]monitor.BackupLine, error) {
	if a.Backup == nil {
		return nil, nil
	}
	runs, err := a.Backup.Runs(ctx, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]monitor.BackupLine, 0, len(runs))
	for _, r := range runs {
		drill := "通过"
		switch {
		case r.DrillStatus == "":
			drill = "未进行"
		case !strings.EqualFold(r.DrillStatus, backup.StatusOK):
			drill = "未通过：" + r.DrillDetail
		}
		out = append(out, monitor.BackupLine{At: r.StartedAt, OK: r.Status == backup.StatusOK, Drill: drill,
			SizeMB: float64(r.Size) / (1 << 20), Comment: r.Error})
	}
	return out, nil
}

// monitorSchedules evaluate the alert rules once a minute across every
// process (and prune samples past their 90 days).
func (a *App) monitorSchedules() []schedule {
	return []schedule{{"monitor_evaluate", time.Minute, func(ctx context.Context) error {
		if err := a.Monitor.Evaluate(ctx); err != nil {
			return err
		}
		if err := a.Monitor.Rollup(ctx); err != nil {
			return err
		}
		_, err := a.Monitor.Prune(ctx)
		return err
	}}}
}

// runMonitorCollector samples this process once a minute (its own
// figures, like the access flusher: not durable work).
func (a *App) runMonitorCollector(ctx context.Context) { a.Monitor.RunCollector(ctx) }
