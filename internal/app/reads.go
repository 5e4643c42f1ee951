package app

import (
	"context"
	"net/http"
	"time"

	"jifen/internal/audit"
	"jifen/internal/platform/web"
)

// readFlushInterval is how long a read of an applicant's file waits in the
// audit buffer at most (a full batch goes at once).
const readFlushInterval = time.Second

// auditRoute lets an audited read name where it came from: the route
// pattern the mux matched ("GET /employer/applications/{id}").
func auditRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		next.ServeHTTP(w, r.WithContext(audit.WithRoute(ctx, func() string { return web.Route(ctx) })))
	})
}

// runReadFlusher writes the buffered audit rows of reads until ctx ends,
// and the rest then (Shutdown waits for it before closing the database).
func (a *App) runReadFlusher(ctx context.Context) {
	a.Audit.RunReadFlusher(ctx, readFlushInterval, func(err error) {
		a.Log.Error("audit: writing reads", "err", err, "pending", a.Audit.PendingReads())
	})
}
