package app_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/app/apptest"
	"jifen/internal/platform/db"
	"jifen/internal/rules"
)

// BenchmarkQueuePage measures one page of the office's work queue
// (GET /api/v1/office/queue, 50 rows and the counts per status) through
// the real app over a round of JIFEN_BENCH_APPS applications (default
// 350,000) from the first result on, on SQLite or PostgreSQL (dbtest). The
// population is bulk-inserted with INSERT … SELECT over a recursive
// counter (seconds, not the minutes synth takes), with realistic spread:
// 16 districts, 1,600 employers, deadlines over 30 days, a tenth
// assigned. Each iteration sends, per scenario, one request that counts
// (cold) and 200 more, and reports p50, p99 and max in milliseconds:
//
//	go test ./internal/app -run '^$' -bench BenchmarkQueuePage -benchtime 1x
func BenchmarkQueuePage(b *testing.B) {
	n := 350_000
	if v, err := strconv.Atoi(os.Getenv("JIFEN_BENCH_APPS")); err == nil && v > 0 {
		n = v
	}
	a := apptest.Start(b)
	ctx := context.Background()
	rd, err := a.EnsureRound(ctx, 0, true)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	seedQueue(b, a, rd.ID, n)
	b.Logf("seeded %d applications in %v", n, time.Since(start).Round(time.Millisecond))

	a.CreateUserIn("", "bench-city", account.CityOfficer)
	a.CreateUserIn("海淀区", "bench-hd", account.DistrictOfficer)
	city, hd := a.Client(a.Office), a.Client(a.Office)
	a.LoginStaff(city, "bench-city", apptest.Password)
	a.LoginStaff(hd, "bench-hd", apptest.Password)

	// A cursor deep into the city's queue (page 100).
	// Its first request counts the whole round cold.
	after := ""
	var coldCity time.Duration
	for i := range 100 {
		var pg struct {
			Page struct{ Next string } `json:"page"`
		}
		t0 := time.Now()
		city.Get("/api/v1/office/queue?" + url.Values{"after": {after}}.Encode()).JSON(&pg)
		if i == 0 {
			coldCity = time.Since(t0)
		}
		after = pg.Page.Next
	}
	scenarios := []struct {
		name string
		c    *apptest.Client
		q    string
	}{
		{"city", city, ""},
		{"city-page100", city, "after=" + url.QueryEscape(after)},
		{"district", hd, ""},
		{"district-overdue", hd, "overdue=1"},
		{"city-unassigned", city, "assignee=none"},
	}
	const samples = 200
	b.ResetTimer()
	b.ReportMetric(ms(coldCity), "city-first-ms")
	for range b.N {
		for _, s := range scenarios {
			// The first request counts the filter's cases (cold); the
			// counts are then kept for 30 s (casework.WithCountsTTL) and the
			// next requests read the page alone.
			t0 := time.Now()
			if r := s.c.Get("/api/v1/office/queue?" + s.q); r.Status != http.StatusOK {
				b.Fatalf("%s: %d %s", s.name, r.Status, r.Body)
			}
			b.ReportMetric(ms(time.Since(t0)), s.name+"-cold-ms")
			d := make([]time.Duration, 0, samples)
			for range samples {
				t0 := time.Now()
				r := s.c.Get("/api/v1/office/queue?" + s.q)
				d = append(d, time.Since(t0))
				if r.Status != http.StatusOK {
					b.Fatalf("%s: %d %s", s.name, r.Status, r.Body)
				}
			}
			slices.Sort(d)
			b.ReportMetric(ms(d[len(d)/2]), s.name+"-p50-ms")
			b.ReportMetric(ms(d[len(d)*99/100]), s.name+"-p99-ms")
			b.ReportMetric(ms(d[len(d)-1]), s.name+"-max-ms")
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// seedQueue bulk-inserts n users, persons and applications of round in
// the queue's statuses, spread over 1,600 employers of the 16 districts.
func seedQueue(b testing.TB, a *apptest.App, roundID int64, n int) {
	b.Helper()
	ctx := context.Background()
	restore, err := a.DB.FastLoad(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer restore()
	now := db.Micros(a.Clock.Now())
	districts := rules.Districts()
	err = a.DB.WithTx(ctx, func(ctx context.Context) error {
		for i := range 1600 {
			d := districts[i%len(districts)]
			if _, err := a.DB.Exec(ctx, `INSERT INTO employers (credit_code, name, district, address, legal_rep, status, created_at, updated_at)
				VALUES ($1, $2, $3, $4, '张三', 'verified', $5, $5)`, "BENCH"+strconv.Itoa(i), "北京基准"+strconv.Itoa(i)+"科技有限公司", d,
				"北京市"+d+"某路"+strconv.Itoa(i)+"号", now); err != nil {
				return err
			}
		}
		var firstEmp int64
		if err := a.DB.QueryRow(ctx, `SELECT min(id) FROM employers WHERE credit_code LIKE 'BENCH%'`).Scan(&firstEmp); err != nil {
			return err
		}
		// The counter: a recursive CTE both engines run.
		const counter = `WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $1) `
		if _, err := a.DB.Exec(ctx, counter+`INSERT INTO users (login, display_name, zone, email, phone_enc, phone_idx, password_hash,
			password_changed_at, created_at, updated_at)
			SELECT 'bench' || CAST(i AS TEXT), '基准' || CAST(i AS TEXT), 'internet', '', '', '', 'x', $2, $2, $2 FROM c`, n, now); err != nil {
			return err
		}
		if _, err := a.DB.Exec(ctx, `INSERT INTO persons (user_id, id_enc, id_idx, name, birth_date, sex, created_at)
			SELECT id, 'x', 'bench' || CAST(id AS TEXT), '基准申请人' || CAST(id AS TEXT), '1988-01-01', 'M', $1 FROM users
			WHERE login LIKE 'bench%'`, now); err != nil {
			return err
		}
		// 70% first result, 10% 复查, 20% final (no deadline); deadlines
		// from 10 days ago to 20 days ahead, so about a third are overdue.
		day := int64(24 * time.Hour / time.Microsecond)
		if _, err := a.DB.Exec(ctx, `INSERT INTO applications (round_id, person_id, employer_id, status, declaration, created_at, updated_at,
			district, step_started_at, step_due_at, score)
			SELECT $1, p.id, e.id, CASE WHEN p.id % 10 < 7 THEN 'first_result' WHEN p.id % 10 = 7 THEN 'review_requested' ELSE 'final' END,
			'{}', CAST($2 AS BIGINT), CAST($2 AS BIGINT), e.district, CAST($2 AS BIGINT),
			CASE WHEN p.id % 10 < 8 THEN CAST($2 AS BIGINT) - 10 * CAST($3 AS BIGINT) + (p.id * 7919) % (30 * CAST($3 AS BIGINT)) ELSE 0 END,
			p.id % 12000
			FROM persons p JOIN employers e ON e.id = $4 + p.id % 1600 WHERE p.id_idx LIKE 'bench%'`, roundID, now, day, firstEmp); err != nil {
			return err
		}
		var officer int64
		if err := a.DB.QueryRow(ctx, `SELECT min(id) FROM users`).Scan(&officer); err != nil {
			return err
		}
		_, err := a.DB.Exec(ctx, `INSERT INTO case_assignments (application_id, officer_id, assigned_by, assigned_at)
			SELECT id, $1, $1, $2 FROM applications WHERE id % 10 = 3`, officer, now)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	// PostgreSQL's statistics, as its autovacuum gathers them after a
	// load (without them it plans for an empty table). jifen never runs
	// ANALYZE on SQLite, so SQLite is measured without statistics, as it
	// runs.
	if a.DB.Dialect == db.Postgres {
		if _, err := a.DB.Exec(ctx, "ANALYZE"); err != nil {
			b.Fatal(err)
		}
	}
}
