package app_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/actor"
	"jifen/internal/app/apptest"
	"jifen/internal/stats"
)

type fakeStats struct{}

func (fakeStats) Run(_ context.Context, by actor.Actor, kind, spec string) (*stats.Result, error) {
	return &stats.Result{Scope: by.District, Rows: []stats.Row{{Keys: []string{"朝阳区"}, Labels: []string{"朝阳区"}, Count: 9}},
		Total: stats.Row{Count: 9}}, nil
}

// TestSavedQueryPages saves a query from the statistics form, runs it now
// on the worker and downloads the file from the download area.
func TestSavedQueryPages(t *testing.T) {
	a := apptest.Start(t)
	a.StatsReports.SetRunner(fakeStats{})
	a.CreateUser("city1", account.CityOfficer)
	o := a.Client(a.Office)
	a.LoginStaff(o, "city1", apptest.Password)

	bad := o.PostForm("/office/statistics/saved", url.Values{"name": {""}, "dims": {"district"}, "schedule": {"daily"}, "hour": {"25"}})
	if bad.Status != 400 || !strings.Contains(bad.Body, "请填写名称") || !strings.Contains(bad.Body, "0 到 23 点") {
		t.Fatalf("bad save: %d %s", bad.Status, bad.Body)
	}
	r := o.PostForm("/office/statistics/saved", url.Values{"name": {"全市日报"}, "dims": {"district"}, "schedule": {"daily"}, "hour": {"7"}})
	if r.Status != 303 {
		t.Fatalf("save: %d %s", r.Status, r.Body)
	}
	page := o.Get("/office/reports/saved")
	if page.Status != 200 || !strings.Contains(page.Body, "全市日报") || !strings.Contains(page.Body, "每天 07:00") {
		t.Fatalf("list: %d %s", page.Status, page.Body)
	}
	mine, err := a.StatsReports.Mine(context.Background(), mustUser(t, a, "city1").Actor())
	if err != nil || len(mine) != 1 {
		t.Fatalf("mine %v %v", mine, err)
	}
	if r := o.PostForm("/office/reports/saved/"+itoa(mine[0].ID)+"/run", nil); r.Status != 303 {
		t.Fatalf("run: %d %s", r.Status, r.Body)
	}
	var id int64
	a.WorkJobs(20*time.Second, func() bool {
		err := a.DB.QueryRow(context.Background(), `SELECT id FROM stats_report_files WHERE saved_id = $1`, mine[0].ID).Scan(&id)
		return err == nil
	})
	files := o.Get("/office/reports/files")
	if files.Status != 200 || !strings.Contains(files.Body, "全市日报") || !strings.Contains(files.Body, "/office/reports/files/"+itoa(id)) {
		t.Fatalf("files: %d %s", files.Status, files.Body)
	}
	dl := o.Get("/office/reports/files/" + itoa(id))
	if dl.Status != 200 || !strings.Contains(dl.Header.Get("Content-Disposition"), ".xlsx") {
		t.Fatalf("download: %d %v", dl.Status, dl.Header)
	}
	var audits int
	if err := a.DB.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE action = 'stats.report.export'`).Scan(&audits); err != nil || audits != 1 {
		t.Fatalf("export audits %d %v", audits, err)
	}
}
