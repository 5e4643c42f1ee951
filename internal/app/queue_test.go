package app_test

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"jifen/internal/account"
	"jifen/internal/app/apptest"
	"jifen/internal/application"
)

// firstResultOverTheAPI takes flow's application through submission,
// filing and a cross-check result, so it stands in the work queues.
func firstResultOverTheAPI(t *testing.T, a *apptest.App, emp, app *apptest.Client, id int64) {
	t.Helper()
	if r := putJSON(app, "/api/v1/application/declaration", goodDecl); r.Status != 200 {
		t.Fatalf("save: %d %s", r.Status, r.Body)
	}
	if r := app.PostJSON("/api/v1/application/submit", map[string]bool{"truthful": true}); r.Status != 200 {
		t.Fatalf("submit: %d %s", r.Status, r.Body)
	}
	if r := emp.PostJSON("/api/v1/employer/applications/"+strconv.FormatInt(id, 10)+"/file", nil); r.Status != 200 {
		t.Fatalf("file: %d %s", r.Status, r.Body)
	}
	ctx := context.Background()
	var roundID int64
	if err := a.DB.QueryRow(ctx, `SELECT round_id FROM applications WHERE id = $1`, id).Scan(&roundID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Cases.Applications.EnterCheck(ctx, roundID, id); err != nil {
		t.Fatal(err)
	}
	if err := a.Cases.Applications.ApplyResults(ctx, 1, []application.Result{{ID: id, Score: 10000, Eligible: true}}); err != nil {
		t.Fatal(err)
	}
}

func TestQueueClaimAndClockThroughTheApp(t *testing.T) {
	a := apptest.Start(t)
	emp, app, id := flow(t, a)
	firstResultOverTheAPI(t, a, emp, app, id)
	ids := strconv.FormatInt(id, 10)

	// The applicant and the employer see the same clock.
	var mine, theirs struct {
		Holder string `json:"holder"`
		Step   string `json:"step"`
		DueAt  string `json:"due_at"`
	}
	if r := app.Get("/api/v1/application/clock"); r.Status != 200 {
		t.Fatalf("applicant's clock: %d %s", r.Status, r.Body)
	} else {
		r.JSON(&mine)
	}
	emp.Get("/api/v1/employer/applications/" + ids + "/clock").JSON(&theirs)
	if mine.Holder != "申请人" || mine.Step != "first_result" || mine.DueAt == "" || mine != theirs {
		t.Fatalf("clocks: applicant %+v, employer %+v", mine, theirs)
	}
	if r := app.Get("/me"); !strings.Contains(r.Body, "办理进度") || !strings.Contains(r.Body, "初核结果已出，可申请复查") {
		t.Fatalf("applicant's page lacks the clock: %d", r.Status)
	}
	if r := emp.Get("/employer/applications/" + ids); !strings.Contains(r.Body, "办理进度") {
		t.Fatalf("employer's page lacks the clock: %d", r.Status)
	}

	hd1 := a.CreateUserIn("海淀区", "hd-one", account.DistrictOfficer)
	a.CreateUserIn("海淀区", "hd-two", account.DistrictOfficer)
	a.CreateUserIn("朝阳区", "cy-one", account.DistrictOfficer)
	a.CreateUserIn("海淀区", "hd-boss", account.DistrictSupervisor)
	login := func(name string) *apptest.Client {
		c := a.Client(a.Office)
		a.LoginStaff(c, name, apptest.Password)
		return c
	}
	one, two, cy, boss := login("hd-one"), login("hd-two"), login("cy-one"), login("hd-boss")

	// The district's queue lists the case; another district's does not.
	var q struct {
		Page struct {
			Items []struct {
				ID       int64  `json:"id"`
				Holder   string `json:"holder"`
				Assignee int64  `json:"assignee_id"`
			} `json:"items"`
			Counts map[string]int `json:"counts"`
		} `json:"page"`
	}
	if r := one.Get("/api/v1/office/queue"); r.Status != 200 {
		t.Fatalf("queue: %d %s", r.Status, r.Body)
	} else {
		r.JSON(&q)
	}
	if len(q.Page.Items) != 1 || q.Page.Items[0].ID != id || q.Page.Counts["first_result"] != 1 {
		t.Fatalf("district queue: %+v", q.Page)
	}
	if r := cy.Get("/api/v1/office/queue"); strings.Contains(r.Body, `"id":`+ids+`,`) {
		t.Fatal("朝阳区 sees a 海淀区 case")
	}
	if r := one.Get("/api/v1/office/queue?after=bad"); r.Status != 400 || !strings.Contains(r.Body, `"after"`) {
		t.Fatalf("bad cursor: %d %s", r.Status, r.Body)
	}
	if r := one.Get("/office/queue?employer=x"); r.Status != 400 {
		t.Fatalf("bad employer: %d", r.Status)
	}
	if r := one.Get("/office/queue"); r.Status != 200 || !strings.Contains(r.Body, "data-label=\"办理截止\"") || !strings.Contains(r.Body, "认领") {
		t.Fatalf("queue page: %d", r.Status)
	}

	// Claim on the page; a second officer's claim names the holder.
	if r := one.PostForm("/office/queue/"+ids+"/claim", url.Values{"back": {"/office/queue?status=all"}}); r.Status != 303 ||
		r.Header.Get("Location") != "/office/queue?status=all" {
		t.Fatalf("claim: %d %s", r.Status, r.Header.Get("Location"))
	}
	r := two.PostJSON("/api/v1/office/cases/"+ids+"/claim", nil)
	var e errBody
	r.JSON(&e)
	if r.Status != 409 || !strings.Contains(e.Error.Message, "测试hd-one") {
		t.Fatalf("second claim: %d %s", r.Status, r.Body)
	}
	if r := cy.PostJSON("/api/v1/office/cases/"+ids+"/claim", nil); r.Status != 404 {
		t.Fatalf("another district claims: %d", r.Status)
	}
	if r := one.Get("/office/"); !strings.Contains(r.Body, "我认领的案件") || !strings.Contains(r.Body, "已逾期的案件") {
		t.Fatalf("工作台 lacks the queue's counts: %d", r.Status)
	}
	if err := a.Cases.Casework.RequireAssigned(context.Background(), hd1.Actor(), id); err != nil {
		t.Fatalf("holder is not assigned: %v", err)
	}
	// The supervisor reassigns in bulk and sees the workload.
	var two2 struct {
		Officers []struct {
			ID    int64  `json:"id"`
			Login string `json:"login"`
			Held  int    `json:"held"`
		} `json:"officers"`
	}
	boss.Get("/api/v1/office/workload").JSON(&two2)
	var twoID int64
	for _, o := range two2.Officers {
		if o.Login == "hd-two" {
			twoID = o.ID
		}
	}
	if twoID == 0 {
		t.Fatalf("workload: %+v", two2)
	}
	if r := one.PostJSON("/api/v1/office/cases/assign", map[string]any{"ids": []int64{id}, "officer_id": twoID}); r.Status != 403 {
		t.Fatalf("an officer assigns: %d", r.Status)
	}
	if r := boss.PostJSON("/api/v1/office/cases/assign", map[string]any{"ids": []int64{id}, "officer_id": twoID}); r.Status != 200 ||
		!strings.Contains(r.Body, `"ok":true`) {
		t.Fatalf("bulk assign: %d %s", r.Status, r.Body)
	}
	// The page's bulk form: back to the queue, the case with hd-one again.
	if r := boss.Get("/office/queue"); r.Status != 200 || !strings.Contains(r.Body, "批量分派") || !strings.Contains(r.Body, "测试hd-two") {
		t.Fatalf("supervisor's queue page: %d", r.Status)
	}
	if r := boss.PostForm("/office/queue/assign", url.Values{"ids": {ids}, "officer_id": {strconv.FormatInt(hd1.ID, 10)}}); r.Status != 303 {
		t.Fatalf("bulk assign on the page: %d %s", r.Status, r.Body)
	}
	if r := boss.PostForm("/office/queue/assign", url.Values{"ids": {"x"}, "officer_id": {"1"}}); r.Status != 400 {
		t.Fatalf("bad id on the page: %d", r.Status)
	}
	if r := boss.PostForm("/office/queue/"+ids+"/assign", url.Values{"officer_id": {strconv.FormatInt(twoID, 10)}}); r.Status != 303 {
		t.Fatalf("assign on the page: %d %s", r.Status, r.Body)
	}
	if r := boss.Get("/office/workload"); r.Status != 200 || !strings.Contains(r.Body, "hd-two") {
		t.Fatalf("workload page: %d", r.Status)
	}
	if r := two.PostJSON("/api/v1/office/cases/"+ids+"/release", nil); r.Status != 200 || !strings.Contains(r.Body, `"officer_id":0`) {
		t.Fatalf("release: %d %s", r.Status, r.Body)
	}
	if r := boss.PostJSON("/api/v1/office/cases/"+ids+"/assign", map[string]any{"officer_id": 999999}); r.Status != 400 ||
		!strings.Contains(r.Body, "officer_id") {
		t.Fatalf("assign to nobody: %d %s", r.Status, r.Body)
	}
}

func TestCalendarAndLimitsThroughTheApp(t *testing.T) {
	a := apptest.Start(t)
	rd, err := a.EnsureRound(context.Background(), 0, true)
	if err != nil {
		t.Fatal(err)
	}
	a.CreateUser("city-one", account.CityOfficer)
	city := a.Client(a.Office)
	a.LoginStaff(city, "city-one", apptest.Password)
	if r := city.Get("/office/calendar?year=2027"); r.Status != 200 || !strings.Contains(r.Body, "尚未包含调休安排") ||
		!strings.Contains(r.Body, "2027-02-05") {
		t.Fatalf("2027 calendar: %d", r.Status)
	}
	if r := city.Get("/office/calendar?year=2026"); strings.Contains(r.Body, "尚未包含调休安排") || !strings.Contains(r.Body, "2026-02-28") {
		t.Fatal("2026 calendar")
	}
	if r := city.Get("/office/calendar?year=abc"); r.Status != 400 {
		t.Fatalf("bad year: %d", r.Status)
	}
	r := putJSON(city, "/api/v1/office/calendar/2027-02-09", `{"kind": "holiday", "name": "春节"}`)
	if r.Status != 200 {
		t.Fatalf("set a day: %d %s", r.Status, r.Body)
	}
	if r := putJSON(city, "/api/v1/office/calendar/2027-02-10", `{"kind": "workday", "name": "春节"}`); r.Status != 400 ||
		!strings.Contains(r.Body, `"kind"`) {
		t.Fatalf("workday on a Wednesday: %d %s", r.Status, r.Body)
	}
	if r := city.PostForm("/office/calendar/2027-02-09/remove", nil); r.Status != 200 || !strings.Contains(r.Body, "确认删除") {
		t.Fatalf("remove unconfirmed: %d", r.Status)
	}
	if r := city.PostForm("/office/calendar/2027-02-09/remove", url.Values{"confirmed": {"yes"}}); r.Status != 303 {
		t.Fatalf("remove: %d", r.Status)
	}
	if r := city.Do("DELETE", "/api/v1/office/calendar/2027-02-09", nil, map[string]string{"Origin": city.Base}); r.Status != 404 {
		t.Fatalf("remove twice: %d", r.Status)
	}
	rid := strconv.FormatInt(rd.ID, 10)
	if r := putJSON(city, "/api/v1/office/rounds/"+rid+"/limits", `{"step": "review_received", "days": 20}`); r.Status != 200 ||
		!strings.Contains(r.Body, `"days":20`) {
		t.Fatalf("set a limit: %d %s", r.Status, r.Body)
	}
	if r := city.PostForm("/office/rounds/"+rid+"/limits", url.Values{"step": {"first_result"}, "days": {"abc"}}); r.Status != 400 {
		t.Fatalf("bad days: %d", r.Status)
	}
	if r := city.Get("/office/rounds/" + rid + "/limits"); r.Status != 200 || !strings.Contains(r.Body, "复查审核中") {
		t.Fatalf("limits page: %d", r.Status)
	}
	var n int
	if err := a.DB.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE action IN ('calendar.set', 'calendar.remove',
		'casework.limit.set')`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("audited changes: %d %v", n, err)
	}
}
