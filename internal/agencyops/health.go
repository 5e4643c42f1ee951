package agencyops

import (
	"context"
	"fmt"
	"slices"
	"time"

	"jifen/internal/agency"
	"jifen/internal/platform/db"
)

// Call statuses the engine writes.
const (
	StatusOK          = "ok"
	StatusError       = "error"
	StatusTimeout     = "timeout"
	StatusRateLimited = "rate_limited"
	StatusUnavailable = "unavailable"
	StatusRejected    = "rejected"
	StatusBreakerOpen = "breaker_open"
)

// Statuses lists every call status, ok first.
var Statuses = []string{StatusOK, StatusError, StatusTimeout, StatusRateLimited, StatusUnavailable, StatusRejected, StatusBreakerOpen}

// FailureStatuses are the statuses that count as failures.
var FailureStatuses = Statuses[1:]

var statusNames = map[string]string{
	StatusOK: "成功", StatusError: "错误", StatusTimeout: "超时", StatusRateLimited: "被限流", StatusUnavailable: "对方停机",
	StatusRejected: "被拒绝", StatusBreakerOpen: "熔断未调用",
}

// StatusName returns the Chinese name of a call status.
func StatusName(s string) string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return s
}

// Health thresholds.
const (
	// SlowP95 is the 5-minute p95 latency above which an agency is slow.
	SlowP95 = 2 * time.Second
)

// Windows are the spans health is measured over.
var Windows = []time.Duration{5 * time.Minute, time.Hour, 24 * time.Hour}

// WindowStats are one agency's calls over one window. Percentiles are of
// the calls that reached the agency (breaker_open calls did not).
type WindowStats struct {
	Span          time.Duration
	Calls         int
	Failures      int
	ErrorRate     float64 // failures / calls, 0 when there were no calls
	P50, P95, P99 time.Duration
}

// Health is one agency's state as the office sees it.
type Health struct {
	Connector
	Configured bool
	Up         bool
	Slow       bool
	Reasons    []string // why it is down or slow, in Chinese
	Windows    []WindowStats
	// Hourly is the last 24 hours hour by hour, oldest first (the trend
	// lines of the status page); empty when fewer hours were read.
	Hourly []WindowStats
}

// TrendHours is the number of hourly points of Health.Hourly.
const TrendHours = 24

// Window returns the stats over span (5 min, 1 h or 24 h).
func (h Health) Window(span time.Duration) WindowStats {
	for _, w := range h.Windows {
		if w.Span == span {
			return w
		}
	}
	return WindowStats{Span: span}
}

// Last5m, Last1h and Last24h are the windows for templates.
func (h Health) Last5m() WindowStats  { return h.Window(5 * time.Minute) }
func (h Health) Last1h() WindowStats  { return h.Window(time.Hour) }
func (h Health) Last24h() WindowStats { return h.Window(24 * time.Hour) }

// sample is one call as health needs it.
type sample struct {
	at      int64
	latency int64
	ok      bool
	reached bool // the call went to the agency (not refused by the breaker)
}

// Health returns every agency's state: the configured connectors and every
// known agency without one. It reads the last 24 hours of calls once and
// computes the windows in Go.
func (s *Service) Health(ctx context.Context) ([]Health, error) {
	return s.health(ctx, Windows)
}

// health computes the given windows only (the longest decides how much of
// the log is read).
func (s *Service) health(ctx context.Context, spans []time.Duration) ([]Health, error) {
	now := s.clock.Now()
	conns, err := s.Connectors(ctx)
	if err != nil {
		return nil, err
	}
	samples, err := s.recentCalls(ctx, now.Add(-slices.Max(spans)))
	if err != nil {
		return nil, err
	}
	var out []Health
	seen := map[string]bool{}
	for _, c := range conns {
		seen[c.Agency] = true
		out = append(out, assess(c, true, samples[c.Agency], now, spans))
	}
	for _, a := range agency.Codes() {
		if !seen[a] {
			out = append(out, assess(Connector{Agency: a, Name: agency.Name(a), Breaker: "closed", ProbeOK: true}, false, samples[a], now, spans))
		}
	}
	return out, nil
}

func (s *Service) recentCalls(ctx context.Context, since time.Time) (map[string][]sample, error) {
	rows, err := s.db.Query(ctx, `SELECT agency, at, latency_us, status FROM check_calls WHERE at >= $1`, db.Micros(since))
	if err != nil {
		return nil, fmt.Errorf("recent calls: %w", err)
	}
	defer rows.Close()
	out := map[string][]sample{}
	var agency, status string
	for rows.Next() {
		var sm sample
		if err := rows.Scan(&agency, &sm.at, &sm.latency, &status); err != nil {
			return nil, err
		}
		sm.ok = status == StatusOK
		sm.reached = status != StatusBreakerOpen
		out[agency] = append(out[agency], sm)
	}
	return out, rows.Err()
}

// assess computes one agency's windows and its up/down and slow verdicts.
func assess(c Connector, configured bool, calls []sample, now time.Time, spans []time.Duration) Health {
	h := Health{Connector: c, Configured: configured}
	nowUS := db.Micros(now)
	lat := make([]int64, 0, len(calls))
	for _, span := range spans {
		from := nowUS - span.Microseconds()
		w := WindowStats{Span: span}
		lat = lat[:0]
		for _, sm := range calls {
			if sm.at < from || sm.at > nowUS {
				continue
			}
			w.Calls++
			if !sm.ok {
				w.Failures++
			}
			if sm.reached {
				lat = append(lat, sm.latency)
			}
		}
		if w.Calls > 0 {
			w.ErrorRate = float64(w.Failures) / float64(w.Calls)
		}
		slices.Sort(lat)
		w.P50, w.P95, w.P99 = percentile(lat, 50), percentile(lat, 95), percentile(lat, 99)
		h.Windows = append(h.Windows, w)
	}
	if slices.Max(spans) >= TrendHours*time.Hour {
		h.Hourly = hourly(calls, nowUS)
	}
	w5 := h.Window(5 * time.Minute)
	switch {
	case !configured:
		h.Reasons = append(h.Reasons, "未配置接口")
	case c.Breaker == "open":
		h.Reasons = append(h.Reasons, "熔断器已打开")
	}
	if configured && !c.ProbeOK && !c.ProbeAt.IsZero() {
		h.Reasons = append(h.Reasons, "最近一次探测失败")
	}
	if w5.Calls > 0 && w5.Failures == w5.Calls {
		h.Reasons = append(h.Reasons, "近5分钟调用全部失败")
	}
	h.Up = len(h.Reasons) == 0
	if w5.P95 > SlowP95 {
		h.Slow = true
		h.Reasons = append(h.Reasons, fmt.Sprintf("近5分钟P95延迟 %.1f 秒，超过 %.0f 秒", w5.P95.Seconds(), SlowP95.Seconds()))
	}
	return h
}

// percentile returns the nearest-rank pct-th percentile of sorted latencies
// in microseconds (the smallest value with at least pct % of the values at or
// below it), 0 for none. Integer arithmetic: 0.95·20 is not 19 in floating point.
func percentile(sorted []int64, pct int) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := (pct*n + 99) / 100 // ceil(pct·n/100)
	rank = min(max(rank, 1), n)
	return time.Duration(sorted[rank-1]) * time.Microsecond
}

// Banner returns the enabled agencies that are down or slow, for the notice
// on the office home. A connector switched off on purpose is not news. Only
// the 5-minute window decides, so only 5 minutes of the log are read: the
// home page stays cheap however busy the day was.
func (s *Service) Banner(ctx context.Context) ([]Health, error) {
	all, err := s.health(ctx, Windows[:1])
	if err != nil {
		return nil, err
	}
	var out []Health
	for _, h := range all {
		if h.Configured && h.Enabled && (!h.Up || h.Slow) {
			out = append(out, h)
		}
	}
	return out, nil
}

// hourly buckets the calls of the last TrendHours hours before now (µs),
// oldest hour first: calls, failures and the P95 of the calls that reached
// the agency.
func hourly(calls []sample, nowUS int64) []WindowStats {
	hour := time.Hour.Microseconds()
	from := nowUS - TrendHours*hour
	out := make([]WindowStats, TrendHours)
	lat := make([][]int64, TrendHours)
	for _, sm := range calls {
		if sm.at <= from || sm.at > nowUS {
			continue
		}
		i := int((sm.at - from - 1) / hour)
		out[i].Calls++
		if !sm.ok {
			out[i].Failures++
		}
		if sm.reached {
			lat[i] = append(lat[i], sm.latency)
		}
	}
	for i := range out {
		out[i].Span = time.Hour
		if out[i].Calls > 0 {
			out[i].ErrorRate = float64(out[i].Failures) / float64(out[i].Calls)
		}
		slices.Sort(lat[i])
		out[i].P50, out[i].P95, out[i].P99 = percentile(lat[i], 50), percentile(lat[i], 95), percentile(lat[i], 99)
	}
	return out
}
