package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/app/apptest"
	mon "jifen/internal/monitor"
)

// BenchmarkMonitorCollect is one minute's collection of this process's
// figures (every probe, the HTTP registry, the queues, one write): its
// time per op over 60 s is the share of a core collecting costs.
func BenchmarkMonitorCollect(b *testing.B) {
	a := apptest.Start(b)
	ctx := context.Background()
	for b.Loop() {
		a.Clock.Advance(time.Minute)
		if err := a.Monitor.Collect(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(time.Minute.Nanoseconds())*100, "%core")
}

// BenchmarkMonitorPage times the monitoring page over 7 days of samples of
// every metric from two sources (about 600,000 rows), at both spans.
func BenchmarkMonitorPage(b *testing.B) {
	a := apptest.Start(b)
	ctx := context.Background()
	start := a.Clock.Now()
	names := make([]string, 0, len(mon.MetricNames))
	for k := range mon.MetricNames {
		names = append(names, k)
	}
	for i := range 7 * 24 * 60 {
		at := start.Add(time.Duration(i) * time.Minute)
		vals := map[string]float64{}
		for j, n := range names {
			vals[n] = float64((i + j) % 50)
		}
		for _, src := range []string{"web1/internet+office", "work1/worker"} {
			if err := a.Monitor.Store(ctx, at, src, vals); err != nil {
				b.Fatal(err)
			}
		}
		if i%60 == 59 { // the evaluation job's hourly means, as it keeps them
			a.Clock.Set(at)
			if err := a.Monitor.Rollup(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	a.Clock.Set(start.Add(7 * 24 * time.Hour))
	a.CreateUser("bench-sys", account.SystemAdmin)
	c := a.Client(a.Office)
	a.LoginStaff(c, "bench-sys", apptest.Password)
	for _, span := range []string{"24h", "7d"} {
		b.Run(span, func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				t := time.Now()
				if r := c.Get("/office/ops/monitor?span=" + span); r.Status != 200 {
					b.Fatal(fmt.Sprint(r.Status))
				}
				lat = append(lat, time.Since(t))
			}
			b.ReportMetric(float64(p99(lat).Microseconds())/1000, "p99-ms")
		})
	}
}

func p99(l []time.Duration) time.Duration {
	s := append([]time.Duration(nil), l...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[min(len(s)-1, len(s)*99/100)]
}
