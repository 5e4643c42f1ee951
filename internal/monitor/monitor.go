// Package monitor is the system's own operations monitoring (运行监控,
// docs/operations.md): every process samples its host, itself, the
// database, its HTTP traffic and the queues once a minute into
// monitor_samples (kept 90 days); alert rules are evaluated by a durable job
// once a minute across all processes, raise an office banner, mail the
// on-call list and open a fault record (故障处理报告); a quarterly
// maintenance report (季度维护工作报告) is built from the period's figures.
package monitor

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"jifen/internal/audit"
	"jifen/internal/platform/blob"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/platform/mail"
)

// Probe reads one metric now. ok is false when the metric has no value
// here (no requests this minute: no latency).
type Probe func(ctx context.Context) (v float64, ok bool, err error)

// Retention is how long samples are kept.
const Retention = 90 * 24 * time.Hour

// Service collects, stores and evaluates.
type Service struct {
	db     *db.DB
	audit  *audit.Log
	clock  clock.Clock
	outbox *mail.Outbox
	log    *slog.Logger
	// OnCall are the addresses alerts are mailed to (JIFEN_ONCALL_EMAILS).
	OnCall []string
	// OfficeURL is the office's address for links in mail.
	OfficeURL string
	// Source names this process's samples: host and role.
	Source string

	mu     sync.Mutex
	probes []namedProbe
	many   []func(context.Context) (map[string]float64, error)

	store blob.Store // fault attachments (SetStore)

	bannerMu   sync.Mutex
	banner     []string
	bannerRead time.Time
}

type namedProbe struct {
	name string
	p    Probe
}

// New returns the monitor.
func New(d *db.DB, a *audit.Log, c clock.Clock, outbox *mail.Outbox, log *slog.Logger, role string) *Service {
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	return &Service{db: d, audit: a, clock: c, outbox: outbox, log: log, Source: host + "/" + role}
}

// Add registers a probe under a metric name (docs/operations.md lists
// them).
func (s *Service) Add(name string, p Probe) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.probes = append(s.probes, namedProbe{name, p})
}

// AddMany registers a probe that reads several metrics at once (the HTTP
// counters): f returns name → value.
func (s *Service) AddMany(f func(ctx context.Context) (map[string]float64, error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.many = append(s.many, f)
}

// minuteOf is the start of t's minute in micros.
func minuteOf(t time.Time) int64 { return db.Micros(t.Truncate(time.Minute)) }

// Collect reads every probe and stores the minute's values; a probe that
// fails is logged and left out (the others are stored).
func (s *Service) Collect(ctx context.Context) error {
	s.mu.Lock()
	probes := append([]namedProbe(nil), s.probes...)
	many := append([]func(context.Context) (map[string]float64, error){}, s.many...)
	s.mu.Unlock()
	vals := map[string]float64{}
	for _, p := range probes {
		if p.p == nil {
			continue
		}
		v, ok, err := p.p(ctx)
		if err != nil {
			s.log.Warn("monitor: probe failed", "metric", p.name, "err", err)
			continue
		}
		if ok {
			vals[p.name] = v
		}
	}
	for _, f := range many {
		m, err := f(ctx)
		if err != nil {
			s.log.Warn("monitor: probe failed", "err", err)
			continue
		}
		for k, v := range m {
			vals[k] = v
		}
	}
	return s.Store(ctx, s.clock.Now(), s.Source, vals)
}

// Store writes one minute's values of a source (a second write of the same
// minute replaces it).
func (s *Service) Store(ctx context.Context, at time.Time, source string, vals map[string]float64) error {
	if len(vals) == 0 {
		return nil
	}
	names := make([]string, 0, len(vals))
	for k := range vals {
		names = append(names, k)
	}
	sort.Strings(names)
	minute := minuteOf(at)
	var b strings.Builder
	b.WriteByte('[')
	for i, k := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"metric":%q,"value":%v}`, k, finite(vals[k]))
	}
	b.WriteByte(']')
	_, err := s.db.Exec(ctx, `INSERT INTO monitor_samples (minute, source, metric, value)
		SELECT $1, $2, r.metric, r.value FROM `+s.db.JSONRows("$3", "metric TEXT", "value DOUBLE PRECISION")+` r WHERE TRUE
		ON CONFLICT (metric, minute, source) DO UPDATE SET value = excluded.value`, minute, source, b.String())
	return err
}

func finite(v float64) float64 {
	if v != v || v > 1e300 || v < -1e300 {
		return 0
	}
	return v
}

// RunCollector collects once a minute until ctx ends (the process's own
// figures: like the access flusher it is not durable work; a minute lost in
// a restart is a gap in a chart).
func (s *Service) RunCollector(ctx context.Context) {
	// Align on the minute so every process's samples share minutes.
	for {
		now := time.Now()
		next := now.Truncate(time.Minute).Add(time.Minute + 2*time.Second)
		select {
		case <-ctx.Done():
			return
		case <-time.After(next.Sub(now)):
		}
		if err := s.Collect(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("monitor: storing the minute's figures failed", "err", err)
		}
	}
}

// Prune deletes samples older than Retention.
func (s *Service) Prune(ctx context.Context) (int64, error) {
	cut := db.Micros(s.clock.Now().Add(-Retention))
	res, err := s.db.Exec(ctx, `DELETE FROM monitor_samples WHERE minute < $1`, cut)
	if err != nil {
		return 0, err
	}
	if _, err := s.db.Exec(ctx, `DELETE FROM monitor_hours WHERE hour < $1`, cut); err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
