package app_test

import (
	"context"
	"strings"
	"testing"

	"jifen/internal/account"
	"jifen/internal/app/apptest"
	"jifen/internal/stats"
	"jifen/internal/synth"
)

// TestReportPages fetches the ready-made reports on the office listener:
// a city officer sees the index, a report's page in Chinese with its table,
// the Excel export and the JSON API; a mail operator may not run a case
// report; nobody logged in is sent to the login.
func TestReportPages(t *testing.T) {
	a := apptest.Start(t)
	ctx := context.Background()
	rd, err := a.EnsureRound(ctx, 2026, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.SynthWith(ctx, rd, synth.Config{People: 60, Employers: 6, Seed: 3, ReadyToRank: true}); err != nil {
		t.Fatal(err)
	}
	a.CreateUser("city1", account.CityOfficer)
	o := a.Client(a.Office)
	a.LoginStaff(o, "city1", apptest.Password)

	if r := o.Get("/office/reports"); r.Status != 200 || !strings.Contains(r.Body, "统计报表") ||
		!strings.Contains(r.Body, `href="/office/reports/scores"`) {
		t.Fatalf("index: %d", r.Status)
	}
	r := o.Get("/office/reports/summary?year=2026")
	if r.Status != 200 || !strings.Contains(r.Body, "年度批次概况") || !strings.Contains(r.Body, "申请人数") {
		t.Fatalf("summary page: %d %s", r.Status, r.Body)
	}
	if r := o.Get("/office/reports/scores?year=2026"); r.Status != 200 || !strings.Contains(r.Body, "积分分布与分数线测算") ||
		!strings.Contains(r.Body, "分数线测算") {
		t.Fatalf("scores page: %d", r.Status)
	}
	// A bad parameter is shown on the page beside its field.
	if r := o.Get("/office/reports/progress?from=2026-05-02&to=2026-05-01"); r.Status != 400 ||
		!strings.Contains(r.Body, "结束日期不能早于开始日期") {
		t.Fatalf("bad range: %d", r.Status)
	}
	if r := o.Get("/office/reports/nope"); r.Status != 404 {
		t.Fatalf("unknown report: %d", r.Status)
	}
	x := o.Get("/office/reports/summary.xlsx?year=2026")
	if x.Status != 200 || !strings.Contains(x.Header.Get("Content-Type"), "spreadsheetml") ||
		!strings.Contains(x.Header.Get("Content-Disposition"), "report-summary.xlsx") {
		t.Fatalf("xlsx: %d %v", x.Status, x.Header)
	}
	if c := o.Get("/office/reports/summary.csv?year=2026"); c.Status != 200 || !strings.Contains(c.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d", c.Status)
	}
	api := o.Get("/api/v1/office/reports/summary?year=2026")
	if api.Status != 200 {
		t.Fatalf("api: %d %s", api.Status, api.Body)
	}
	var res stats.Result
	api.JSON(&res)
	var n int
	if err := a.DB.QueryRow(ctx, `SELECT count(*) FROM applications WHERE round_id = $1`, rd.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) == 0 || res.Rows[0].Keys[0] != "applicants" || res.Total.Count != n || n == 0 {
		t.Fatalf("api result: %+v, %d applications", res.Total, n)
	}

	a.CreateUser("mail1", account.MailOperator)
	m := a.Client(a.Office)
	a.LoginStaff(m, "mail1", apptest.Password)
	if r := m.Get("/office/reports/summary"); r.Status != 403 {
		t.Fatalf("mail operator on a case report: %d", r.Status)
	}
	if r := a.Client(a.Office).Get("/office/reports/summary"); r.Status != 303 && r.Status != 302 && r.Status != 401 {
		t.Fatalf("anonymous: %d", r.Status)
	}
}
