package app

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"jifen/internal/logs"
	"jifen/internal/surface/office"
	"jifen/internal/surface/shell"
)

// openLogs puts the log files (docs/operations.md, "Logs") beside the
// process's stdout logger: a.Log becomes the fan-out to both.
func (a *App) openLogs() error {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(strings.ToUpper(a.Cfg.LogLevel)))
	fs, err := logs.Open(a.Log.Handler(), logs.Options{Dir: a.Cfg.LogDir, MaxBytes: int64(a.Cfg.LogMaxMB) << 20,
		Keep: time.Duration(a.Cfg.LogKeepDays) * 24 * time.Hour, Clock: a.Clock, Level: lvl})
	if err != nil {
		return err
	}
	a.LogFiles, a.Log = fs, fs.Log
	return nil
}

// wireLogs feeds the security log from the audit trail and builds the
// digests; it runs once the audit trail and the outbox exist.
func (a *App) wireLogs() {
	a.Audit.OnRecord(logs.SecurityHook(a.LogFiles.SecurityLog))
	a.LogDigests = logs.NewDigests(a.DB, a.Clock, a.Outbox, a.logDir(), a.Cfg.OncallEmails)
}

// logDir is the directory of the log files, "" when they are off.
func (a *App) logDir() string {
	if a.LogFiles == nil || a.LogFiles.App == nil {
		return ""
	}
	return a.LogFiles.App.Dir()
}

// registerLogMetrics exposes the files' health, which the monitoring
// alerts on (jifen_log_file_healthy == 0: the disk of the data dir is
// full or read-only).
func (a *App) registerLogMetrics() {
	fs := a.LogFiles
	a.Metrics.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "jifen_log_file_healthy",
			Help: "1 when the last write of both log files succeeded, 0 when writing fails (full disk)."},
			func() float64 {
				if fs.Healthy() {
					return 1
				}
				return 0
			}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "jifen_log_write_failures_total",
			Help: "Failed writes and compressions of the log files since start."},
			func() float64 { return float64(fs.Failures()) }))
}

func (a *App) logSchedules() []schedule {
	return []schedule{
		// Also done at each rotation; this catches a process that writes
		// little.
		{"log_purge", 6 * time.Hour, func(context.Context) error {
			n, err := a.LogFiles.Purge()
			if n > 0 {
				a.Log.Info("deleted log files past retention", "count", n)
			}
			return err
		}},
		// Hourly; the digest of yesterday is made by the first run after
		// 07:00 Beijing, once.
		{"log_digest", time.Hour, func(ctx context.Context) error {
			if a.logDir() == "" {
				return nil
			}
			made, err := a.LogDigests.RunDaily(ctx)
			if made {
				a.Log.Info("log digest made", "recipients", len(a.Cfg.OncallEmails))
			}
			return err
		}},
	}
}

func (a *App) logPages(sh *shell.Shell) *office.LogPages {
	return office.NewLogPages(sh, a.logDir(), a.LogDigests, func() (bool, int64) {
		return a.LogFiles.Healthy(), a.LogFiles.Failures()
	})
}
