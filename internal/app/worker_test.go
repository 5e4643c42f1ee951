package app_test

import (
	"context"
	"testing"
	"time"

	"jifen/internal/agencyops"
	"jifen/internal/app/apptest"
	"jifen/internal/config"
	"jifen/internal/platform/db"
)

// The worker's daily schedule deletes agency calls older than 12 months.
func TestCallRetentionSchedule(t *testing.T) {
	a := apptest.Start(t)
	ctx := context.Background()
	now := a.Clock.Now()
	for _, at := range []time.Time{now.Add(-agencyops.Retention - time.Second), now.Add(-agencyops.Retention + time.Second), now} {
		if _, err := a.DB.Exec(ctx, `INSERT INTO check_calls (at, agency, kind, latency_us, status) VALUES ($1, 'tax', 'probe', 1000, 'ok')`,
			db.Micros(at)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.RunSchedule(ctx, "check_calls_retention"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := a.DB.QueryRow(ctx, `SELECT count(*) FROM check_calls`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d calls left, %v; want 2", n, err)
	}
}

// A worker process runs every schedule (session purge, agency probes, audit
// and call retention, the sweep of unreferenced files, single checks, the
// finalizing of applications after the review window) as a
// periodic job of the job
// mechanism: each runs once at start, to completion.
func TestWorkerRunsSchedulesAsPeriodicJobs(t *testing.T) {
	a := apptest.Start(t, func(c *config.Config) { c.Worker = true })
	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Second)
	want := len(a.ScheduleNames())
	for {
		var n int
		if err := a.DB.QueryRow(ctx, `SELECT COUNT(DISTINCT args) FROM river_job WHERE kind = 'schedule' AND state = 'completed'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d schedules completed in 60 s", n, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	depth, err := a.Jobs.Depth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range depth {
		if d.Kind == "schedule" && d.Failures > 0 {
			t.Errorf("schedules waiting after a failure: %+v", d)
		}
	}
}
