package agencyops_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"jifen/internal/agency"
	"jifen/internal/agencyops"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
)

// day is the reported day: 2026-03-01 in Beijing, 2026-02-28 16:00 UTC on.
var day = time.Date(2026, 3, 1, 0, 0, 0, 0, clock.Beijing)

// bj returns hh:mm of the reported day.
func bj(h, m int) time.Time {
	return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
}

const formula = "=cmd|' /C calc'!A0"

// jobMaker makes a round and a run, and returns a function adding query
// jobs of the run for an agency, created and (unless zero) finished at the
// given times.
func jobMaker(t *testing.T, f *fixture) func(batch int, agency string, created, finished time.Time) {
	t.Helper()
	ctx := context.Background()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := f.db.Exec(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(`INSERT INTO rounds (id, year, rulebook, quota, created_at, updated_at) VALUES (1, 2026, '2020', 6000, 0, 0)`)
	exec(`INSERT INTO check_runs (id, round_id, scope, mode, rulebook, status, created_at) VALUES (1, 1, 'round', 'apply', '2020', 'running', 0)`)
	return func(batch int, agency string, created, finished time.Time) {
		t.Helper()
		fin := int64(0)
		if !finished.IsZero() {
			fin = db.Micros(finished)
		}
		exec(`INSERT INTO check_queries (run_id, batch_no, agency, created_at, answered_at) VALUES (1, $1, $2, $3, $4)`,
			batch, agency, db.Micros(created), fin)
	}
}

func seedDay(t *testing.T, f *fixture) {
	t.Helper()
	ctx := context.Background()
	if err := f.svc.EnsureDefaults(ctx, "http://127.0.0.1:9300", "k"); err != nil {
		t.Fatal(err)
	}
	// A round's check: every agency had query jobs that day.
	job := jobMaker(t, f)
	for _, a := range agency.Codes() {
		job(1, a, day.Add(-2*time.Hour), bj(18, 0))
	}
	if _, err := f.db.Exec(ctx, `UPDATE agency_connectors SET enabled = FALSE WHERE agency = 'market_regulation'`); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Exec(ctx, `UPDATE agency_connectors SET breaker = 'open', breaker_at = $1 WHERE agency = 'real_estate'`,
		db.Micros(bj(14, 5))); err != nil {
		t.Fatal(err)
	}
	var calls []call
	// tax: 100 queries of 1..100 ms from 09:00; 4 errors, 2 timeouts, 2 rate limited.
	for i := 1; i <= 100; i++ {
		c := call{agency: "tax", status: "ok", at: bj(9, i), latency: time.Duration(i) * time.Millisecond, run: 7,
			appFrom: int64(i), appTo: int64(i + 9), digest: "abc"}
		switch {
		case i <= 4:
			c.status = "error"
		case i <= 6:
			c.status = "timeout"
		case i <= 8:
			c.status = "rate_limited"
		case i == 100:
			c.err = formula
		}
		calls = append(calls, c)
	}
	// Just outside the day on either side.
	calls = append(calls, call{agency: "tax", status: "error", at: day.Add(-time.Microsecond), latency: time.Hour},
		call{agency: "tax", status: "error", at: day.Add(24 * time.Hour), latency: time.Hour})
	// social_insurance: probes each minute from 01:00; 01:03–01:14 fail (12 probes, back at 01:15), one
	// failed probe at 01:30 (too short to report); 300 queries (error rate under 5%).
	for m := range 35 {
		st := "ok"
		if (m >= 3 && m <= 14) || m == 30 {
			st = "unavailable"
		}
		calls = append(calls, call{agency: "social_insurance", kind: "probe", status: st, at: bj(1, m), latency: time.Millisecond})
	}
	for i := range 300 {
		calls = append(calls, call{agency: "social_insurance", status: "ok", at: bj(3, 0).Add(time.Duration(i) * time.Second), latency: 5 * time.Millisecond})
	}
	// public_security: the breaker refused 3 calls; 100 queries went through.
	for i := range 100 {
		calls = append(calls, call{agency: "public_security", status: "ok", at: bj(10, i%60), latency: 10 * time.Millisecond})
	}
	for i := range 3 {
		calls = append(calls, call{agency: "public_security", status: "breaker_open", at: bj(11, i)})
	}
	// real_estate: healthy calls, but its breaker opened at 14:05 (see above).
	for i := range 100 {
		calls = append(calls, call{agency: "real_estate", status: "ok", at: bj(12, i%60), latency: 10 * time.Millisecond})
	}
	// science: slow.
	for i := range 10 {
		calls = append(calls, call{agency: "science", status: "ok", at: bj(15, i), latency: 3 * time.Second})
	}
	// honors: probes only.
	for i := range 10 {
		calls = append(calls, call{agency: "honors", kind: "probe", status: "ok", at: bj(16, i), latency: time.Millisecond})
	}
	f.insert(t, calls...)
}

func TestDailyReport(t *testing.T) {
	f := newFixture(t)
	seedDay(t, f)
	// Any time of the day selects it.
	r, err := f.svc.DailyReport(context.Background(), bj(23, 59))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Day.Equal(day) || !r.From.Equal(day) || !r.To.Equal(day.Add(24*time.Hour)) || !r.Work || len(r.Agencies) != 9 {
		t.Fatalf("report %v %v %v work %v, %d agencies", r.Day, r.From, r.To, r.Work, len(r.Agencies))
	}
	by := map[string]agencyops.AgencyReport{}
	for _, a := range r.Agencies {
		by[a.Agency] = a
	}
	tax := by["tax"]
	fails := map[string]int{}
	for _, sc := range tax.ByStatus {
		fails[sc.Status] = sc.N
	}
	if tax.Calls != 100 || tax.Queries != 100 || tax.Failures != 8 || fails["error"] != 4 || fails["timeout"] != 2 ||
		fails["rate_limited"] != 2 || fails["breaker_open"] != 0 || math.Abs(tax.ErrorRate-0.08) > 1e-9 {
		t.Fatalf("tax counts %+v", tax)
	}
	if tax.P50 != 50*time.Millisecond || tax.P95 != 95*time.Millisecond || tax.Max != 100*time.Millisecond {
		t.Fatalf("tax latencies p50 %v p95 %v max %v", tax.P50, tax.P95, tax.Max)
	}
	var slow []time.Duration
	for _, c := range tax.Slowest {
		slow = append(slow, c.Latency)
	}
	if want := []time.Duration{100 * time.Millisecond, 99 * time.Millisecond, 98 * time.Millisecond, 97 * time.Millisecond,
		96 * time.Millisecond}; !slices.Equal(slow, want) {
		t.Fatalf("slowest %v", slow)
	}
	if tax.Slowest[0].AppFrom != 100 || tax.Slowest[0].AppTo != 109 || tax.Slowest[0].Digest != "abc" {
		t.Fatalf("slowest call %+v", tax.Slowest[0])
	}

	si := by["social_insurance"]
	if len(si.Outages) != 2 || si.Outages[0].Probes != 12 || !si.Outages[0].From.Equal(bj(1, 3)) || !si.Outages[0].To.Equal(bj(1, 15)) ||
		si.Outages[1].Duration() != time.Minute {
		t.Fatalf("social_insurance outages %+v", si.Outages)
	}

	want := map[string][]string{
		"tax":                  {"错误率 8.0%，超过 5%（100 次调用中 8 次失败）"},
		"social_insurance":     {"接口中断约 12 分钟（01:03—01:15，连续 12 次探测失败）"},
		"public_security":      {"熔断器曾打开：3 次调用因熔断未发出"},
		"real_estate":          {"熔断器于 14:05 打开"},
		"science":              {"P95 延迟 3.0 秒，超过 2 秒"},
		"education":            {"当日有比对任务，但全天没有任何调用"},
		"housing_construction": {"当日有比对任务，但全天没有任何调用"},
		"honors":               {"当日有比对任务，但没有查询调用（只有探测）"},
		"market_regulation":    nil, // switched off
	}
	for a, w := range want {
		if got := by[a].Anomalies; !slices.Equal(got, w) {
			t.Errorf("%s anomalies %q, want %q", a, got, w)
		}
	}
	if r.Anomalies() != 8 {
		t.Errorf("%d anomalies", r.Anomalies())
	}

	// A quiet day: no work, no anomalies.
	q, err := f.svc.DailyReport(context.Background(), day.AddDate(0, 0, -5))
	if err != nil || q.Work || q.Anomalies() != 0 {
		t.Fatalf("quiet day: work %v, %d anomalies, %v", q.Work, q.Anomalies(), err)
	}
}

func TestDailyReportCSV(t *testing.T) {
	f := newFixture(t)
	seedDay(t, f)
	var buf bytes.Buffer
	if err := f.svc.DailyReportCSV(context.Background(), day, &buf); err != nil {
		t.Fatal(err)
	}
	body, ok := bytes.CutPrefix(buf.Bytes(), []byte("\ufeff"))
	if !ok {
		t.Fatal("no byte-order mark")
	}
	rd := csv.NewReader(bytes.NewReader(body))
	rd.FieldsPerRecord = -1
	recs, err := rd.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(recs[0], agencyops.ReportCSVHeader) {
		t.Fatalf("header %q", recs[0])
	}
	var tax []string
	for _, r := range recs[1:10] {
		if r[1] == "tax" {
			tax = r
		}
	}
	if want := []string{"2026-03-01", "tax", "市税务局", "100", "100", "0", "8", "8.00", "4", "2", "2", "0", "0", "0", "50.0", "95.0",
		"100.0", "错误率 8.0%，超过 5%（100 次调用中 8 次失败）"}; !slices.Equal(tax, want) {
		t.Fatalf("tax row %q\nwant    %q", tax, want)
	}
	// CSV rows: header, 9 agencies; csv.Reader skips the blank line; the slowest-calls header.
	if !slices.Equal(recs[10], agencyops.SlowestCSVHeader) {
		t.Fatalf("row 10 %q", recs[10])
	}
	var found bool
	for _, r := range recs[11:] {
		if r[0] == "tax" && r[4] == "100.0" {
			found = true
			if r[13] != "'"+formula || r[14] != "abc" || r[9] != "100" || r[10] != "109" || r[2] != "2026-03-01 10:40:00.000" {
				t.Fatalf("slowest tax row %q", r)
			}
		}
	}
	if !found {
		t.Fatal("the slowest tax call is missing")
	}
	if strings.Contains(string(body), "\n"+formula) || strings.Contains(string(body), ","+formula) {
		t.Fatal("a formula cell was not neutralised")
	}
}

// A day with query jobs of an agency but no calls at all is reported for
// that agency only; jobs finished before the day or created after it do not count.
func TestDailyReportWorkFromJobs(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.svc.EnsureDefaults(ctx, "http://127.0.0.1:9300", "k"); err != nil {
		t.Fatal(err)
	}
	job := jobMaker(t, f)
	job(1, "tax", day.Add(-2*time.Hour), time.Time{})             // still queued all day
	job(2, "social_insurance", day.Add(-2*time.Hour), bj(9, 0))   // finished during the day
	job(3, "science", day.Add(-2*time.Hour), day.Add(-time.Hour)) // finished the day before
	job(4, "education", day.Add(25*time.Hour), time.Time{})       // created the day after
	r, err := f.svc.DailyReport(ctx, day)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range r.Agencies {
		if len(a.Anomalies) > 0 {
			got = append(got, a.Agency+": "+strings.Join(a.Anomalies, "；"))
		}
	}
	want := []string{"social_insurance: 当日有比对任务，但全天没有任何调用", "tax: 当日有比对任务，但全天没有任何调用"}
	if !r.Work || !slices.Equal(got, want) {
		t.Fatalf("work %v, anomalies %q", r.Work, got)
	}
}
