package app

import (
	"context"
	"net/http"
	"time"

	"jifen/internal/platform/web"
)

// accessFlushInterval is how often the access statistics' counters are
// written: the issue asks for aggregates each minute.
const accessFlushInterval = time.Minute

// accessStats counts the internet listener's requests (访问指标统计); the
// office listener is not counted.
func (a *App) accessStats(surface string) web.Middleware {
	if surface != "internet" {
		return func(next http.Handler) http.Handler { return next }
	}
	return a.AccessStats.Middleware
}

// runAccessFlusher writes the access counters every minute until ctx ends,
// and the rest then (Shutdown waits for it before closing the database).
//
// This is a ticker of the process, not a job of platform/jobs, on purpose:
// the counters live in this process's memory, so only this process can
// write them, and a job picked up by another worker would find nothing to
// flush. The rule "one durable job mechanism for background work" is about
// work that must survive the process; these counts are not work but the
// process's own state, like the audit trail's buffered reads
// (runReadFlusher). Every process flushes its own counts with an upsert
// that adds, so two processes' counts of the same minute add up.
func (a *App) runAccessFlusher(ctx context.Context) {
	a.AccessStats.RunFlusher(ctx, accessFlushInterval, func(err error) {
		a.Log.Error("access statistics: flush", "err", err, "pending", a.AccessStats.Pending())
	})
}
