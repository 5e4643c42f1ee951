package app_test

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/app/apptest"
	"jifen/internal/synth"
)

// TestCrossCheckOverHTTP: a city officer starts the round's check in the
// office, the worker asks the (in-process) agencies, the officer follows
// the progress, and an applicant sees the first-round result.
func TestCrossCheckOverHTTP(t *testing.T) {
	a := apptest.Start(t)
	ctx := context.Background()
	rd := a.SynthRound(200, 20, 3, 0.2)
	a.CreateUser("city1", account.CityOfficer)
	a.CreateUserIn("海淀区", "district1", account.DistrictOfficer)
	city := a.Client(a.Office)
	a.LoginStaff(city, "city1", apptest.Password)
	district := a.Client(a.Office)
	a.LoginStaff(district, "district1", apptest.Password)

	if r := district.Get("/office/check"); r.Status != 403 && r.Status != 404 {
		t.Errorf("district officer sees the cross-check console: %d", r.Status)
	}
	if r := district.PostForm("/office/check/runs", url.Values{"round": {strconv.FormatInt(rd.ID, 10)}}); r.Status != 403 && r.Status != 404 {
		t.Errorf("district officer started a run: %d", r.Status)
	}
	page := city.Get("/office/check")
	if page.Status != 200 || !strings.Contains(page.Body, "本年度尚未开始比对") || !strings.Contains(page.Body, "开始整批比对") {
		t.Fatalf("console: %d %s", page.Status, page.Body)
	}
	bad := city.PostForm("/office/check/runs", url.Values{"round": {strconv.FormatInt(rd.ID, 10)}, "application_id": {"abc"}})
	if bad.Status != 400 || !strings.Contains(bad.Body, "申请编号应为正整数") {
		t.Errorf("bad application id: %d", bad.Status)
	}
	r := city.PostForm("/office/check/runs", url.Values{"round": {strconv.FormatInt(rd.ID, 10)}})
	if r.Status != 303 || !strings.HasPrefix(r.Header.Get("Location"), "/office/check/runs/") {
		t.Fatalf("start: %d %v", r.Status, r.Header)
	}
	r = city.Get(r.Header.Get("Location"))
	if r.Status != 200 || !strings.Contains(r.Body, "比对任务 #") || !strings.Contains(r.Body, "比对中") {
		t.Fatalf("start: %d %s", r.Status, r.Body)
	}
	a.WorkJobs(60*time.Second, func() bool {
		runs, err := a.Check.Runs(ctx, rd.ID, 1)
		return err == nil && len(runs) == 1 && runs[0].Status == "applied"
	})
	runs, err := a.Check.Runs(ctx, rd.ID, 1)
	if err != nil || len(runs) != 1 || runs[0].Status != "applied" {
		t.Fatalf("runs %v %v", runs, err)
	}
	detail := city.Get("/office/check/runs/" + strconv.FormatInt(runs[0].ID, 10))
	if detail.Status != 200 || !strings.Contains(detail.Body, "已生效") || !strings.Contains(detail.Body, "市税务局") ||
		!strings.Contains(detail.Body, "海淀区") {
		t.Errorf("run page: %d", detail.Status)
	}
	// A second round run is a preview; its reason is required.
	if r := city.PostForm("/office/check/runs", url.Values{"round": {strconv.FormatInt(rd.ID, 10)}, "kind": {"rerun"}}); r.Status != 400 ||
		!strings.Contains(r.Body, "请填写重新比对的原因") {
		t.Errorf("re-run without reason: %d", r.Status)
	}

	// An applicant of the run sees the score statement.
	var login string
	if err := a.DB.QueryRow(ctx, `SELECT u.login FROM users u JOIN persons p ON p.user_id = u.id JOIN applications x ON x.person_id = p.id
		WHERE x.score_run = $1 ORDER BY x.id LIMIT 1`, runs[0].ID).Scan(&login); err != nil {
		t.Fatal(err)
	}
	ap := a.Client(a.Internet)
	if r := ap.LoginAPI(login, synth.Password); r.Status != 200 {
		t.Fatalf("applicant login %d %s", r.Status, r.Body)
	}
	me := ap.Get("/me")
	if me.Status != 200 || !strings.Contains(me.Body, "初核结果（积分告知）") || !strings.Contains(me.Body, "市公安局") {
		t.Errorf("applicant page: %d %s", me.Status, me.Body)
	}
}
