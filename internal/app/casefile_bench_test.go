package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/app/apptest"
	"jifen/internal/check"
	"jifen/internal/config"
	"jifen/internal/platform/db"
	"jifen/internal/rules"
)

// BenchmarkCaseView opens case views of random applications of a synthetic
// population as a city officer, one request at a time, through the real
// app (SQLite, or PostgreSQL with JIFEN_TEST_POSTGRES): session, access
// check, application, person and phone (decrypted to be masked), the
// cross-check's result and statement, per-item comparison, attachments,
// timeline, notes, the three related-case counts and lists, the rendered
// page and the buffered audit row of the read. Every application has a
// checked result (verified = declared) so the comparison and statement
// are drawn. JIFEN_BENCH_PEOPLE sets the population (default 10,000; the
// employers are a tenth of it). JIFEN_BENCH_DB names an existing database
// instead (a copy: results are written into it), with JIFEN_BENCH_DATA_DIR
// the data directory holding its master key, e.g. one filled by
// `jifen synth --people 510000`. It reports p50 and p99 per request.
func BenchmarkCaseView(b *testing.B) {
	people := 10000
	if n, err := strconv.Atoi(os.Getenv("JIFEN_BENCH_PEOPLE")); err == nil && n > 0 {
		people = n
	}
	existing := os.Getenv("JIFEN_BENCH_DB")
	var opts []apptest.Option
	if existing != "" {
		opts = append(opts, func(c *config.Config) {
			c.DB = existing
			if d := os.Getenv("JIFEN_BENCH_DATA_DIR"); d != "" {
				c.DataDir = d
			}
		})
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
	}
	// A result for every application, as an applied run leaves it.
	now := db.Micros(a.Clock.Now())
	var run int64
	if err := a.DB.QueryRow(ctx, `INSERT INTO check_runs (round_id, scope, mode, rulebook, status, created_at)
		VALUES ($1, 'round', 'apply', $2, 'applied', $3) RETURNING id`, r.ID, r.Rulebook, now).Scan(&run); err != nil {
		b.Fatal(err)
	}
	var outs []check.Outcome
	for _, it := range rules.CheckItems() {
		outs = append(outs, check.Outcome{Item: it, Outcome: check.Match})
	}
	oj, _ := json.Marshal(outs)
	if _, err := a.DB.Exec(ctx, `INSERT INTO check_scores (run_id, application_id, total, eligible, verified, outcomes, scored_at)
		SELECT $1, id, estimate, eligible, declaration, $2, $3 FROM applications`, run, string(oj), now); err != nil {
		b.Fatal(err)
	}
	if _, err := a.DB.Exec(ctx, `UPDATE applications SET score = estimate, score_eligible = eligible, score_run = $1, scored_at = $2`, run, now); err != nil {
		b.Fatal(err)
	}
	var ids []int64
	rows, err := a.DB.Query(ctx, `SELECT id FROM applications ORDER BY id`)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var id int64
		_ = rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	login := fmt.Sprintf("bench-city-%d", time.Now().UnixNano())
	a.CreateUser(login, account.CityOfficer)
	c := a.Client(a.Office)
	a.LoginStaff(c, login, apptest.Password)
	var cookie string
	for _, ck := range c.HTTP.Jar.Cookies(mustURL(a.Office)) {
		cookie += ck.Name + "=" + ck.Value + "; "
	}
	hc := &http.Client{}
	rnd := rand.New(rand.NewPCG(1, 2))
	get := func(path string) time.Duration {
		req, _ := http.NewRequest("GET", a.Office+path, nil)
		req.Header.Set("Cookie", cookie)
		t0 := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d := time.Since(t0)
		if resp.StatusCode != 200 {
			b.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		return d
	}
	for range 20 { // warm the caches and the connection
		get("/office/cases/" + strconv.FormatInt(ids[rnd.IntN(len(ids))], 10))
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		path := "/office/cases/" + strconv.FormatInt(ids[rnd.IntN(len(ids))], 10)
		if i%2 == 1 {
			path = "/api/v1" + path
		}
		lat = append(lat, get(path))
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(len(ids)), "applications")
	if strings.HasPrefix(a.Cfg.DB, "postgres") {
		b.ReportMetric(1, "postgres")
	}
}
