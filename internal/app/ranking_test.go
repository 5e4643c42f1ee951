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
	"jifen/internal/ranking"
	"jifen/internal/round"
	"jifen/internal/synth"
)

// TestFreezeAndRankInTheOffice: two city officers take a ready round
// through the what-if, the freeze, a reopening with four eyes, a draft and
// the commit, on the pages and through the JSON API.
func TestFreezeAndRankInTheOffice(t *testing.T) {
	a := apptest.Start(t)
	ctx := context.Background()
	rd, err := a.EnsureRound(ctx, 2026, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.SynthWith(ctx, rd, synth.Config{People: 300, Employers: 30, Seed: 5, ReadyToRank: true}); err != nil {
		t.Fatal(err)
	}
	// The 复查 window has closed: the round can be frozen.
	win, _ := rd.Window(round.Review)
	a.Clock.Set(win.ClosesAt.Add(time.Hour))
	a.CreateUser("city1", account.CityOfficer)
	a.CreateUser("city2", account.CityOfficer)
	a.CreateUserIn("海淀区", "district1", account.DistrictOfficer)
	c1, c2, d := a.Client(a.Office), a.Client(a.Office), a.Client(a.Office)
	a.LoginStaff(c1, "city1", apptest.Password)
	a.LoginStaff(c2, "city2", apptest.Password)
	a.LoginStaff(d, "district1", apptest.Password)
	base := "/office/rounds/" + strconv.FormatInt(rd.ID, 10) + "/ranking"
	api := "/api/v1/office/rounds/" + strconv.FormatInt(rd.ID, 10)

	if r := d.Get(base); r.Status != 403 && r.Status != 404 {
		t.Fatalf("district officer sees the ranking: %d", r.Status)
	}
	page := c1.Get(base + "?quota=10")
	if page.Status != 200 || !strings.Contains(page.Body, "排名测算") || !strings.Contains(page.Body, "未冻结") ||
		!strings.Contains(page.Body, "分数线附近的人数") || !strings.Contains(page.Body, "冻结本批次") {
		t.Fatalf("ranking page: %d %s", page.Status, page.Body)
	}
	if r := c1.Get(base + "?quota=abc"); r.Status != 200 || !strings.Contains(r.Body, "名额必须是大于 0 的整数") {
		t.Fatalf("bad quota: %d", r.Status)
	}
	var o ranking.Outcome
	r := c1.Get(api + "/ranking/what-if?quota=10")
	r.JSON(&o)
	if r.Status != 200 || o.Quota != 10 || o.Qualified < 10 || o.Frozen {
		t.Fatalf("what-if API: %d %s", r.Status, r.Body)
	}
	if r := c1.Get(api + "/ranking/what-if?quota=-3"); r.Status != 400 || !strings.Contains(r.Body, `"quota"`) {
		t.Fatalf("what-if API bad quota: %d %s", r.Status, r.Body)
	}
	if r := c1.PostJSON(api+"/ranking-commit", map[string]any{}); r.Status != 409 || !strings.Contains(r.Body, "尚未冻结") {
		t.Fatalf("commit unfrozen: %d %s", r.Status, r.Body)
	}

	// The freeze asks for confirmation first.
	r = c1.PostForm(base+"/freeze", url.Values{})
	if r.Status != 200 || !strings.Contains(r.Body, "确认冻结") {
		t.Fatalf("freeze confirmation: %d %s", r.Status, r.Body)
	}
	if r := c1.PostForm(base+"/freeze", url.Values{"confirmed": {"yes"}}); r.Status != 303 {
		t.Fatalf("freeze: %d %s", r.Status, r.Body)
	}
	if r := c2.PostJSON(api+"/freeze", map[string]any{}); r.Status != 409 || !strings.Contains(r.Body, "无需重复冻结") {
		t.Fatalf("second freeze: %d %s", r.Status, r.Body)
	}

	// A draft, then a reopening (four eyes) discards it.
	if r := c1.PostForm(base+"/draft", url.Values{"quota": {"10"}, "confirmed": {"yes"}}); r.Status != 303 {
		t.Fatalf("draft: %d %s", r.Status, r.Body)
	}
	if r := c1.PostForm(base+"/reopen", url.Values{"reason": {"短"}}); r.Status != 400 || !strings.Contains(r.Body, "解除冻结的理由") {
		t.Fatalf("short reason: %d", r.Status)
	}
	var ro struct{ ID int64 }
	r = c1.PostJSON(api+"/reopen", map[string]string{"reason": "一件复查决定需要更正，须解除冻结后重新审核"})
	r.JSON(&ro)
	if r.Status != 200 || ro.ID == 0 {
		t.Fatalf("reopen request: %d %s", r.Status, r.Body)
	}
	reopen := "/api/v1/office/reopenings/" + strconv.FormatInt(ro.ID, 10)
	if r := c1.PostJSON(reopen+"/approve", map[string]string{}); r.Status != 403 || !strings.Contains(r.Body, "不能审批本人") {
		t.Fatalf("own approval: %d %s", r.Status, r.Body)
	}
	if r := c2.Get(base); !strings.Contains(r.Body, "批准解除冻结") {
		t.Fatalf("the second officer does not see the approval: %s", r.Body)
	}
	if r := c2.PostForm("/office/reopenings/"+strconv.FormatInt(ro.ID, 10)+"/approve", url.Values{}); r.Status != 303 {
		t.Fatalf("approve: %d %s", r.Status, r.Body)
	}
	var st struct {
		Round struct{ Frozen bool }
		Draft *ranking.Summary
	}
	r = c1.Get(api + "/ranking")
	r.JSON(&st)
	if r.Status != 200 || st.Round.Frozen || st.Draft != nil {
		t.Fatalf("after the reopening: %d %s", r.Status, r.Body)
	}

	// Freeze again through the API, draft, commit.
	if r := c2.PostJSON(api+"/freeze", map[string]any{}); r.Status != 200 {
		t.Fatalf("refreeze: %d %s", r.Status, r.Body)
	}
	var draft ranking.Summary
	r = c2.PostJSON(api+"/ranking-draft", map[string]int{"quota": 10})
	r.JSON(&draft)
	if r.Status != 200 || draft.Status != "draft" || draft.Cutoff != o.Cutoff || draft.Qualified != o.Qualified {
		t.Fatalf("draft: %d %s (what-if %+v)", r.Status, r.Body, o)
	}
	r = c1.PostForm(base+"/commit", url.Values{})
	if r.Status != 200 || !strings.Contains(r.Body, "确认后排名不可更改") {
		t.Fatalf("commit confirmation: %d", r.Status)
	}
	if r := c1.PostForm(base+"/commit", url.Values{"confirmed": {"yes"}}); r.Status != 303 {
		t.Fatalf("commit: %d %s", r.Status, r.Body)
	}
	page = c1.Get(base)
	if !strings.Contains(page.Body, "排名已确认") || !strings.Contains(page.Body, draft.Digest) || strings.Contains(page.Body, "冻结本批次") {
		t.Fatalf("committed page: %s", page.Body)
	}
	if r := c2.PostJSON(api+"/ranking-commit", map[string]any{}); r.Status != 409 {
		t.Fatalf("second commit: %d %s", r.Status, r.Body)
	}
	// A reopening after the commit is a correction: asked, it waits for a
	// second officer, and until then the committed ranking stands.
	if r := c2.PostJSON(api+"/reopen", map[string]string{"reason": "排名确认之后发现一处错误，申请更正"}); r.Status != 200 ||
		!strings.Contains(r.Body, `"status":"pending"`) {
		t.Fatalf("reopen after commit: %d %s", r.Status, r.Body)
	}
	// The settlement list and its exports.
	sp := "/office/rounds/" + strconv.FormatInt(rd.ID, 10) + "/settlement"
	if r := c1.Get(sp); r.Status != 200 || !strings.Contains(r.Body, "202600001") || !strings.Contains(r.Body, "待办理") {
		t.Fatalf("settlement page: %d %s", r.Status, r.Body)
	}
	if r := d.Get(sp + ".csv"); r.Status != 403 && r.Status != 404 {
		t.Fatalf("district officer exports: %d", r.Status)
	}
	csvAns := c1.Get(sp + ".csv")
	if csvAns.Status != 200 || !strings.HasPrefix(csvAns.Body, "\uFEFF公示编号,排名,姓名,公民身份号码") ||
		strings.Count(csvAns.Body, "\n") != draft.Qualified+1 || !strings.Contains(csvAns.Header.Get("Content-Disposition"), "settlement-2026.csv") {
		t.Fatalf("CSV export: %d %q", csvAns.Status, csvAns.Body)
	}
	if x := c1.Get(sp + ".xlsx"); x.Status != 200 || !strings.HasPrefix(x.Body, "PK") {
		t.Fatalf("Excel export: %d", x.Status)
	}
	// Every step is in the audit trail.
	for _, action := range []string{"round.freeze", "round.reopen_request", "round.reopen", "ranking.prepare", "ranking.commit",
		"settlement.export"} {
		var n int
		if err := a.DB.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = $1`, action).Scan(&n); err != nil || n == 0 {
			t.Errorf("audit %s: %d %v", action, n, err)
		}
	}
}
