package web

import (
	"net/http"
	"sync/atomic"
	"time"

	"jifen/internal/platform/apperr"
)

// busy answers a request the listener has no room for: 503, to try again.
var busy = &apperr.Error{Code: "busy", Message: "系统繁忙，请稍后再试"}

// Overload bounds the requests a listener works on at once. Past the
// machine's capacity an unbounded server takes every request and answers
// none in time: under the load test at 1.25 times its knee, every request's
// latency grew to the 30 s timeout and the process's memory to 1.4 GB
// (docs/performance.md, issue 18). With the bound, a request that finds
// every slot taken waits up to wait for one, then is answered 503 with
// Retry-After at once, and the requests admitted keep their latency. The
// health endpoints are never refused: a load balancer must see the process
// alive and busy, not dead. limit ≤ 0 disables the bound. Shed counts the
// requests refused.
type Overload struct {
	slots chan struct{}
	wait  time.Duration
	Shed  atomic.Int64
}

// NewOverload makes the bound: limit requests at once.
func NewOverload(limit int, wait time.Duration) *Overload {
	o := &Overload{wait: wait}
	if limit > 0 {
		o.slots = make(chan struct{}, limit)
	}
	return o
}

// Middleware applies the bound.
func (o *Overload) Middleware() Middleware {
	return func(next http.Handler) http.Handler {
		if o.slots == nil {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
				next.ServeHTTP(w, r)
				return
			}
			if !o.acquire(r) {
				o.Shed.Add(1)
				w.Header().Set("Retry-After", "2")
				WriteError(w, r, busy)
				return
			}
			defer func() { <-o.slots }()
			next.ServeHTTP(w, r)
		})
	}
}

func (o *Overload) acquire(r *http.Request) bool {
	select {
	case o.slots <- struct{}{}:
		return true
	default:
	}
	if o.wait <= 0 {
		return false
	}
	t := time.NewTimer(o.wait)
	defer t.Stop()
	select {
	case o.slots <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-r.Context().Done():
		return false
	}
}
