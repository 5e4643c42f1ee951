package monitor

import (
	"context"
	"database/sql"
	"math"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/procfs"

	"jifen/internal/platform/db"
)

// HostProbes adds the host's and this process's figures: cpu_pct (all
// cores, since the last collection), mem_used_pct, load1, disk_free_pct and
// disk_free_gb of dataDir's file system, rss_mb, goroutines.
func (s *Service) HostProbes(dataDir string) {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		s.log.Warn("monitor: /proc unreadable; host figures are left out", "err", err)
	} else {
		var mu sync.Mutex
		var lastBusy, lastTotal float64
		s.Add("cpu_pct", func(context.Context) (float64, bool, error) {
			st, err := fs.Stat()
			if err != nil {
				return 0, false, err
			}
			c := st.CPUTotal
			busy := c.User + c.Nice + c.System + c.IRQ + c.SoftIRQ + c.Steal
			total := busy + c.Idle + c.Iowait
			mu.Lock()
			defer mu.Unlock()
			db, dt := busy-lastBusy, total-lastTotal
			first := lastTotal == 0
			lastBusy, lastTotal = busy, total
			if first || dt <= 0 {
				return 0, false, nil
			}
			return round1(100 * db / dt), true, nil
		})
		s.Add("mem_used_pct", func(context.Context) (float64, bool, error) {
			m, err := fs.Meminfo()
			if err != nil || m.MemTotal == nil || m.MemAvailable == nil || *m.MemTotal == 0 {
				return 0, false, err
			}
			return round1(100 * (1 - float64(*m.MemAvailable)/float64(*m.MemTotal))), true, nil
		})
		s.Add("load1", func(context.Context) (float64, bool, error) {
			l, err := fs.LoadAvg()
			if err != nil {
				return 0, false, err
			}
			return l.Load1, true, nil
		})
		s.Add("rss_mb", func(context.Context) (float64, bool, error) {
			p, err := fs.Self()
			if err != nil {
				return 0, false, err
			}
			st, err := p.Stat()
			if err != nil {
				return 0, false, err
			}
			return round1(float64(st.ResidentMemory()) / (1 << 20)), true, nil
		})
	}
	if dataDir != "" {
		s.Add("disk_free_pct", func(context.Context) (float64, bool, error) {
			free, total, err := diskFree(dataDir)
			if err != nil || total == 0 {
				return 0, false, err
			}
			return round1(100 * float64(free) / float64(total)), true, nil
		})
		s.Add("disk_free_gb", func(context.Context) (float64, bool, error) {
			free, _, err := diskFree(dataDir)
			if err != nil {
				return 0, false, err
			}
			return round1(float64(free) / (1 << 30)), true, nil
		})
	}
	s.Add("goroutines", func(context.Context) (float64, bool, error) { return float64(runtime.NumGoroutine()), true, nil })
}

// diskFree is the space available to this process and the size of the
// file system holding dir.
func diskFree(dir string) (free, total uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	return st.Bavail * uint64(st.Bsize), st.Blocks * uint64(st.Bsize), nil
}

// DBProbes adds db_size_mb and the pools' connections in use.
func (s *Service) DBProbes(d *db.DB) {
	s.Add("db_size_mb", func(ctx context.Context) (float64, bool, error) {
		n, err := d.Size(ctx)
		if err != nil {
			return 0, false, err
		}
		return round1(float64(n) / (1 << 20)), true, nil
	})
	s.Add("db_conns_in_use", func(context.Context) (float64, bool, error) {
		in := d.Writer().Stats().InUse
		if d.Reader() != d.Writer() {
			in += d.Reader().Stats().InUse
		}
		return float64(in), true, nil
	})
	s.Add("db_conns_wait", func(context.Context) (float64, bool, error) {
		return float64(waitCount(d.Writer(), d.Reader())), true, nil
	})
}

func waitCount(pools ...*sql.DB) int64 {
	var n int64
	seen := map[*sql.DB]bool{}
	for _, p := range pools {
		if !seen[p] {
			seen[p] = true
			n += p.Stats().WaitCount
		}
	}
	return n
}

// HTTPProbes adds, per surface and overall, the last minute's requests
// (http_rpm), the share of 5xx answers (http_5xx_pct) and the latency's
// 95th percentile (http_p95_ms, estimated as the upper bound of the
// histogram bucket it falls in), read from the process's Prometheus
// registry (the same instruments /metrics serves) as differences since the
// last collection.
func (s *Service) HTTPProbes(reg prometheus.Gatherer) {
	var mu sync.Mutex
	var prevReq map[string][2]float64 // surface → total, 5xx
	var prevHist map[string]map[float64]float64
	s.AddMany(func(context.Context) (map[string]float64, error) {
		fams, err := reg.Gather()
		if err != nil {
			return nil, err
		}
		req := map[string][2]float64{}
		hist := map[string]map[float64]float64{}
		for _, f := range fams {
			switch f.GetName() {
			case "jifen_http_requests_total":
				for _, m := range f.GetMetric() {
					var surface, code string
					for _, l := range m.GetLabel() {
						switch l.GetName() {
						case "surface":
							surface = l.GetValue()
						case "code":
							code = l.GetValue()
						}
					}
					v := m.GetCounter().GetValue()
					for _, k := range []string{surface, ""} {
						x := req[k]
						x[0] += v
						if strings.HasPrefix(code, "5") {
							x[1] += v
						}
						req[k] = x
					}
				}
			case "jifen_http_request_duration_seconds":
				for _, m := range f.GetMetric() {
					var surface string
					for _, l := range m.GetLabel() {
						if l.GetName() == "surface" {
							surface = l.GetValue()
						}
					}
					for _, k := range []string{surface, ""} {
						if hist[k] == nil {
							hist[k] = map[float64]float64{}
						}
						hist[k][math.Inf(1)] += float64(m.GetHistogram().GetSampleCount())
					}
					for _, b := range m.GetHistogram().GetBucket() {
						for _, k := range []string{surface, ""} {
							if hist[k] == nil {
								hist[k] = map[float64]float64{}
							}
							hist[k][b.GetUpperBound()] += float64(b.GetCumulativeCount())
						}
					}
				}
			}
		}
		mu.Lock()
		defer mu.Unlock()
		out := map[string]float64{}
		if prevReq != nil {
			for k, x := range req {
				p := prevReq[k]
				n, e := x[0]-p[0], x[1]-p[1]
				name := func(m string) string {
					if k == "" {
						return m
					}
					return m + "." + k
				}
				out[name("http_rpm")] = n
				if n > 0 {
					out[name("http_5xx_pct")] = round1(100 * e / n)
				} else {
					out[name("http_5xx_pct")] = 0
				}
				if p95, ok := quantile(hist[k], prevHist[k], 0.95); ok {
					out[name("http_p95_ms")] = p95
				}
			}
		}
		prevReq, prevHist = req, hist
		return out, nil
	})
}

// quantile estimates the q-quantile in milliseconds of the observations
// between two cumulative histograms: the upper bound of the first bucket
// holding it (at least the largest bound when beyond).
func quantile(now, prev map[float64]float64, q float64) (float64, bool) {
	bounds := make([]float64, 0, len(now))
	for b := range now {
		bounds = append(bounds, b)
	}
	sort.Float64s(bounds)
	if len(bounds) == 0 {
		return 0, false
	}
	total := now[bounds[len(bounds)-1]] - prev[bounds[len(bounds)-1]]
	if total <= 0 {
		return 0, false
	}
	largest := 0.0
	for _, b := range bounds {
		if math.IsInf(b, 1) {
			break
		}
		largest = b
		if now[b]-prev[b] >= q*total {
			return round1(b * 1000), true
		}
	}
	return round1(largest * 1000), true // beyond the largest bound: at least it
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
