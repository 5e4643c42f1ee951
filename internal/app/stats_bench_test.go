package app_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"jifen/internal/actor"
	"jifen/internal/app/apptest"
	"jifen/internal/check"
	"jifen/internal/config"
	"jifen/internal/platform/db"
	"jifen/internal/rules"
	"jifen/internal/stats"
)

// BenchmarkStatsQueries times the office statistics (issue 15's speed
// target: any combination of up to three dimensions with filters ≤ 1 s at
// p99 over 350,000 applicants, on both engines). It fills a round with
// JIFEN_BENCH_PEOPLE applicants (default 10,000; employers a tenth) with a
// cross-check result each, loads the cube once (reported as load-ms), then
// answers random queries: 0–3 dimensions drawn from all of them, 1–4
// measures (a percentile among them half the time), 0–2 filters of random
// values, as a city officer. Every query first brings the cube up to date
// (MaxAge 0: the refresh that reads what changed runs every time), so the
// figure includes the database round trips of a refresh. JIFEN_BENCH_DB
// names an existing database instead of a new one.
func BenchmarkStatsQueries(b *testing.B) {
	people := 10000
	if n, err := strconv.Atoi(os.Getenv("JIFEN_BENCH_PEOPLE")); err == nil && n > 0 {
		people = n
	}
	existing := os.Getenv("JIFEN_BENCH_DB")
	var opts []apptest.Option
	if existing != "" {
		opts = append(opts, func(c *config.Config) { c.DB = existing })
	}
	a := apptest.Start(b, opts...)
	ctx := context.Background()
	r, err := a.EnsureRound(ctx, 0, true)
	if err != nil {
		b.Fatal(err)
	}
	if existing == "" {
		if _, err := a.Synth(ctx, r, people, people/10, 1, 0, nil); err != nil {
			b.Fatal(err)
		}
		now := db.Micros(a.Clock.Now())
		var run int64
		if err := a.DB.QueryRow(ctx, `INSERT INTO check_runs (round_id, scope, mode, rulebook, status, created_at)
			VALUES ($1, 'round', 'apply', $2, 'applied', $3) RETURNING id`, r.ID, r.Rulebook, now).Scan(&run); err != nil {
			b.Fatal(err)
		}
		var outs []check.Outcome
		for i, it := range rules.CheckItems() {
			o := check.Match
			if i%4 == 1 {
				o = check.Mismatch
			}
			outs = append(outs, check.Outcome{Item: it, Outcome: o})
		}
		oj, _ := json.Marshal(outs)
		if _, err := a.DB.Exec(ctx, `INSERT INTO check_scores (run_id, application_id, total, eligible, verified, outcomes, scored_at)
			SELECT $1, id, estimate, eligible, declaration, $2, $3 FROM applications WHERE status NOT IN ('draft', 'with_employer', 'returned')`,
			run, string(oj), now); err != nil {
			b.Fatal(err)
		}
		if _, err := a.DB.Exec(ctx, `UPDATE applications SET score = estimate, score_eligible = eligible, score_run = $1, scored_at = $2
			WHERE status NOT IN ('draft', 'with_employer', 'returned')`, run, now); err != nil {
			b.Fatal(err)
		}
	}
	// The population was written before the office opens: the clock moves
	// past the refresh's overlap, as it does between a night's load and the
	// morning's queries.
	a.Clock.Advance(10 * time.Minute)
	cube := a.Stats.Cube
	start := time.Now()
	if err := cube.Refresh(ctx, true); err != nil {
		b.Fatal(err)
	}
	load := time.Since(start)
	cube.MaxAge = 0
	city := actor.Actor{UserID: 1, Login: "bench", Roles: []actor.Role{actor.CityOfficer}}
	all := a.Stats.Dimensions()
	measures := []string{"count", "sum:total", "mean:total", "min:total", "max:total", "mean:education", "max:tax", "mean:employment"}
	rng := rand.New(rand.NewPCG(15, 2026))
	var lat []time.Duration
	n := 0
	b.ResetTimer()
	for b.Loop() {
		var q stats.Query
		for range rng.IntN(stats.MaxDims + 1) {
			d := all[rng.IntN(len(all))].Name
			if !slices.Contains(q.Dims, d) {
				q.Dims = append(q.Dims, d)
			}
		}
		for range 1 + rng.IntN(4) {
			q.Measures = append(q.Measures, measures[rng.IntN(len(measures))])
		}
		if rng.IntN(2) == 0 {
			q.Measures = append(q.Measures, "p"+strconv.Itoa(10+rng.IntN(89))+":total")
		}
		for range rng.IntN(3) {
			d := all[rng.IntN(len(all))]
			if len(d.Values) == 0 { // the employer dimension: no list
				continue
			}
			if q.Filters == nil {
				q.Filters = map[string][]string{}
			}
			q.Filters[d.Name] = append(q.Filters[d.Name], d.Values[rng.IntN(len(d.Values))].Code)
		}
		t := time.Now()
		res, err := a.Stats.Run(ctx, city, q)
		if err != nil {
			b.Fatalf("%+v: %v", q, err)
		}
		lat = append(lat, time.Since(t))
		n += res.Total.Count
	}
	b.StopTimer()
	slices.Sort(lat)
	at := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(load.Milliseconds()), "load-ms")
	b.ReportMetric(0, "ns/op")
	_ = n
}
