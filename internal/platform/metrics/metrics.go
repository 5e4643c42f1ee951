// Package metrics exposes Prometheus metrics: Go runtime, process CPU and
// memory, database pools, and HTTP requests and latency labelled by route
// pattern. One registry per process, passed in; nothing global.
package metrics

import (
	"database/sql"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"jifen/internal/platform/web"
)

// Metrics is the process's registry and its HTTP instruments.
type Metrics struct {
	Registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	inflight *prometheus.GaugeVec
}

// New returns a registry with the runtime and process collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jifen_http_requests_total", Help: "HTTP requests by surface, route pattern, method and status.",
		}, []string{"surface", "route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "jifen_http_request_duration_seconds", Help: "HTTP request latency by surface and route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"surface", "route"}),
		inflight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "jifen_http_in_flight_requests", Help: "HTTP requests being served.",
		}, []string{"surface"}),
	}
	reg.MustRegister(m.requests, m.latency, m.inflight)
	return m
}

// RegisterDB adds the statistics of a database pool.
func (m *Metrics) RegisterDB(name string, pool *sql.DB) {
	m.Registry.MustRegister(collectors.NewDBStatsCollector(pool, name))
}

// Handler serves the registry.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// HTTP instruments a surface's handler. It must run inside web.WithRequest
// so the route pattern is known after the handler returns.
func (m *Metrics) HTTP(surface string) web.Middleware {
	inflight := m.inflight.WithLabelValues(surface)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			inflight.Inc()
			sw := &codeWriter{ResponseWriter: w, code: http.StatusOK}
			defer func() {
				inflight.Dec()
				route := web.Route(r.Context())
				m.requests.WithLabelValues(surface, route, r.Method, strconv.Itoa(sw.code)).Inc()
				m.latency.WithLabelValues(surface, route).Observe(time.Since(start).Seconds())
			}()
			next.ServeHTTP(sw, r)
		})
	}
}

type codeWriter struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (w *codeWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.code, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *codeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
