package app_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"jifen/internal/actor"
	"jifen/internal/app/apptest"
)

// BenchmarkCarryOver is the load run of issue 17's carry-over target: a
// synthetic 2026 round of JIFEN_BENCH_CARRY_PEOPLE applicants (default
// 10,000; the target is 100,000 in ≤ 60 s) carried into 2027 by the durable
// job, timed from the insert of the job to its completion. One iteration is
// the whole run: go test ./internal/app -run '^$' -bench BenchmarkCarryOver
// -benchtime 1x
func BenchmarkCarryOver(b *testing.B) {
	n := 10000
	if s := os.Getenv("JIFEN_BENCH_CARRY_PEOPLE"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	for range b.N {
		a := apptest.Start(b)
		ctx := context.Background()
		r26, err := a.EnsureRound(ctx, 2026, false)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := a.Synth(ctx, r26, n, max(n/10, 1), 7, 0.1, nil); err != nil {
			b.Fatal(err)
		}
		r27, err := a.EnsureRound(ctx, 2027, true)
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		start := time.Now()
		if _, err := a.Cases.Applications.StartCarryOver(ctx, actor.SystemActor("bench"), r27.ID); err != nil {
			b.Fatal(err)
		}
		a.WorkJobs(30*time.Minute, func() bool {
			var done int
			_ = a.DB.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'application_carry_over' AND state = 'completed'`).Scan(&done)
			return done == 1
		})
		el := time.Since(start)
		b.StopTimer()
		var carried int
		if err := a.DB.QueryRow(ctx, `SELECT count(*) FROM application_carryovers WHERE round_id = $1`, r27.ID).Scan(&carried); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(el.Seconds(), "s/carry-over")
		b.ReportMetric(float64(carried), "carried")
		b.Logf("%d applicants in 2026, %d carried into 2027 in %s", n, carried, el.Round(time.Millisecond))
	}
}
