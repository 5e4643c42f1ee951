// Package web holds the HTTP technology shared by every surface: middleware
// (request id, access log, panic recovery, security headers, body limits,
// cross-origin protection, rate limits), client-address resolution, and
// response helpers that map application errors to statuses in one table.
package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"
)

// Middleware wraps a handler.
type Middleware func(http.Handler) http.Handler

// Chain applies ms so that the first is outermost.
func Chain(h http.Handler, ms ...Middleware) http.Handler {
	for i := len(ms) - 1; i >= 0; i-- {
		h = ms[i](h)
	}
	return h
}

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyClientAddr
	keyErrorPages
)

// RequestID returns the id of the request in ctx.
func RequestID(ctx context.Context) string { s, _ := ctx.Value(keyRequestID).(string); return s }

// ClientAddr returns the client address resolved for the request in ctx.
func ClientAddr(ctx context.Context) string { s, _ := ctx.Value(keyClientAddr).(string); return s }

func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// WithRequest assigns a request id (echoed in X-Request-Id) and resolves the
// client address once, for every later layer.
func WithRequest(ips *ClientIPs) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := newRequestID()
			w.Header().Set("X-Request-Id", id)
			ctx := context.WithValue(r.Context(), keyRequestID, id)
			ctx = context.WithValue(ctx, keyClientAddr, ips.Resolve(r))
			ctx = WithRouteHolder(ctx)
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	size   int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.size += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// AccessLog writes one structured line per request. It logs the matched
// route pattern, never the path: a path may carry a secret (an invitation's
// token), and the log is read by people who must not hold one.
func AccessLog(log *slog.Logger, surface string) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w}
			next.ServeHTTP(sw, r)
			if sw.status == 0 {
				sw.status = http.StatusOK
			}
			log.LogAttrs(r.Context(), slog.LevelInfo, "http",
				slog.String("surface", surface),
				slog.String("request_id", RequestID(r.Context())),
				slog.String("client", ClientAddr(r.Context())),
				slog.String("method", r.Method),
				slog.String("route", Route(r.Context())),
				slog.Int("status", sw.status),
				slog.Int64("bytes", sw.size),
				slog.Duration("duration", time.Since(start)))
		})
	}
}

// Recover turns a panic into a 500 page without a stack trace for the
// client; the stack goes to the log with the request id.
func Recover(log *slog.Logger, onPanic func(w http.ResponseWriter, r *http.Request)) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if p := recover(); p != nil {
					if p == http.ErrAbortHandler {
						panic(p)
					}
					log.Error("panic", "request_id", RequestID(r.Context()), "panic", p, "stack", string(debug.Stack()))
					onPanic(w, r)
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// ContentSecurityPolicy allows nothing inline and nothing from elsewhere.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// SecurityHeaders sets the headers of every response; HSTS only with TLS.
func SecurityHeaders(tls bool) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Content-Security-Policy", ContentSecurityPolicy)
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Referrer-Policy", "same-origin")
			h.Set("Cross-Origin-Opener-Policy", "same-origin")
			h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
			if tls {
				h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
			}
			next.ServeHTTP(w, r)
		})
	}
}

// BodyLimit caps request bodies at n, or at the limit the route was given
// with Mux.AllowBody (uploads); reading past the cap fails, and handlers
// answer 413 (see IsTooLarge). routes may be nil.
func BodyLimit(n int64, routes *Mux) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := n
			if l, ok := routes.bodyLimit(r); ok {
				n = l
			}
			if r.ContentLength > n {
				w.Header().Set("Connection", "close")
				WriteError(w, r, tooLarge)
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, n)
			next.ServeHTTP(w, r)
		})
	}
}

// CrossOrigin rejects state-changing cross-origin requests (Go's
// CrossOriginProtection: Sec-Fetch-Site and Origin checks) with a Chinese
// 403 answer.
func CrossOrigin() Middleware {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, crossOrigin)
	}))
	return cop.Handler
}
