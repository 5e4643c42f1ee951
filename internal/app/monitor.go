package app

import (
	"context"
	"strings"
	"time"

	"jifen/internal/monitor"
	"jifen/internal/platform/mail"
)

// buildMonitor builds the operations monitoring: the probes of this
// process (host, data dir, database, HTTP instruments, job queues, mail,
// agencies) and the alert evaluation job.
func (a *App) buildMonitor() {
	role := "serve"
	var parts []string
	if a.Cfg.InternetAddr != "" {
		parts = append(parts, "internet")
	}
	if a.Cfg.OfficeAddr != "" {
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
	a.Monitor = m
}

// monitorSchedules evaluate the alert rules once a minute across every
// process (and prune samples past their 90 days).
func (a *App) monitorSchedules() []schedule {
	return []schedule{{"monitor_evaluate", time.Minute, func(ctx context.Context) error {
		if err := a.Monitor.Evaluate(ctx); err != nil {
			return err
		}
		_, err := a.Monitor.Prune(ctx)
		return err
	}}}
}

// runMonitorCollector samples this process once a minute (its own
// figures, like the access flusher: not durable work).
func (a *App) runMonitorCollector(ctx context.Context) { a.Monitor.RunCollector(ctx) }
