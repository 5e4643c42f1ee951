package agencyops_test

import (
	"context"
	"testing"
	"time"

	"jifen/internal/agency"
)

// BenchmarkHealth measures Health over a day of 20,000 calls spread over the
// nine agencies (the office's status page runs it).
func BenchmarkHealth(b *testing.B) {
	f := seedBusyDay(b)
	for b.Loop() {
		hs, err := f.svc.Health(context.Background())
		if err != nil || len(hs) != len(agency.Codes()) {
			b.Fatal(len(hs), err)
		}
	}
}

// BenchmarkBanner measures the office home's banner on the same day.
func BenchmarkBanner(b *testing.B) {
	f := seedBusyDay(b)
	for b.Loop() {
		if _, err := f.svc.Banner(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

func seedBusyDay(b *testing.B) *fixture {
	f := newFixture(b)
	if err := f.svc.EnsureDefaults(context.Background(), "http://127.0.0.1:9300", "k"); err != nil {
		b.Fatal(err)
	}
	const n = 20000
	calls := make([]call, 0, n)
	codes := agency.Codes()
	for i := range n {
		st := "ok"
		if i%37 == 0 {
			st = "timeout"
		}
		calls = append(calls, call{agency: codes[i%len(codes)], status: st,
			at: now.Add(-time.Duration(i) * 24 * time.Hour / n), latency: time.Duration(1000+i%5000) * time.Microsecond})
	}
	f.insert(b, calls...)
	return f
}

// BenchmarkDailyReport measures the inspection report of a day of 20,000 calls.
func BenchmarkDailyReport(b *testing.B) {
	f := newFixture(b)
	if err := f.svc.EnsureDefaults(context.Background(), "http://127.0.0.1:9300", "k"); err != nil {
		b.Fatal(err)
	}
	const n = 20000
	calls := make([]call, 0, n)
	codes := agency.Codes()
	for i := range n {
		calls = append(calls, call{agency: codes[i%len(codes)], status: "ok",
			at: day.Add(time.Duration(i) * 24 * time.Hour / n), latency: time.Duration(1000+i%5000) * time.Microsecond})
	}
	f.insert(b, calls...)
	for b.Loop() {
		if _, err := f.svc.DailyReport(context.Background(), day); err != nil {
			b.Fatal(err)
		}
	}
}
