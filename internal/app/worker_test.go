package app_test

import (
	"context"
	"testing"
	"time"

	"jifen/internal/agencyops"
	"jifen/internal/app/apptest"
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
