package office_test

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/app/apptest"
	"jifen/internal/audit"
	"jifen/internal/platform/clock"
	"jifen/internal/round"
	"jifen/internal/surface/portal"
)

// roundForm is the form of a round as a browser posts it, Beijing times in
// datetime-local format.
func roundForm(year int, quota string) url.Values {
	f := url.Values{"year": {strconv.Itoa(year)}, "rulebook": {"2020"}, "quota": {quota}, "title": {""}}
	for _, w := range round.DefaultWindows(year) {
		f.Set(round.OpensField(w.Kind), w.OpensAt.In(clock.Beijing).Format("2006-01-02T15:04"))
		f.Set(round.ClosesField(w.Kind), w.ClosesAt.In(clock.Beijing).Format("2006-01-02T15:04"))
	}
	return f
}

// cityOfficer starts the app and logs a city officer into the office.
func cityOfficer(t *testing.T) (*apptest.App, *apptest.Client) {
	t.Helper()
	a := apptest.Start(t)
	return a, login(a, "city1", account.CityOfficer)
}

// login makes a staff account and logs it in: after the test moves the
// clock by weeks, earlier sessions have expired.
func login(a *apptest.App, name string, role account.Role) *apptest.Client {
	a.T.Helper()
	a.CreateUser(name, role)
	c := a.Client(a.Office)
	a.LoginStaff(c, name, apptest.Password)
	return c
}

// fieldError returns the error shown beside the field with the given id
// (as fieldID makes it), without the prefix for screen readers.
func fieldError(body, id string) string {
	_, after, ok := strings.Cut(body, `class="field-error" id="e-`+id+`">`)
	if !ok {
		return ""
	}
	msg, _, _ := strings.Cut(after, "</p>")
	return strings.TrimPrefix(msg, `<span class="visually-hidden">错误：</span>`)
}

// wantFieldError checks the error beside a field and that the field follows it.
func wantFieldError(t *testing.T, body, id, msg string) {
	t.Helper()
	got := fieldError(body, id)
	if !strings.HasPrefix(got, msg) {
		t.Errorf("error beside %s = %q, want %q", id, got, msg)
	}
	_, after, _ := strings.Cut(body, `id="e-`+id+`">`)
	if i := strings.Index(after, `id="f-`+id+`"`); i < 0 || i > 400 {
		t.Errorf("field %s does not follow its error", id)
	}
}

func mustContain(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

func TestCityOfficerCreatesAndEditsARound(t *testing.T) {
	a, c := cityOfficer(t)
	ctx := context.Background()
	if r := c.Get("/office/"); r.Status != 200 || !strings.Contains(r.Body, `href="/office/rounds"`) {
		t.Fatalf("office home lacks the rounds link: %d", r.Status)
	}
	r := c.Get("/office/rounds")
	if r.Status != 200 {
		t.Fatalf("list: %d", r.Status)
	}
	mustContain(t, "empty list", r.Body, "还没有年度批次")

	// The prefill: the clock stands in March 2026, before the 2026 round.
	r = c.Get("/office/rounds/new")
	if r.Status != 200 {
		t.Fatalf("new: %d", r.Status)
	}
	mustContain(t, "new form", r.Body, `name="year" type="number" value="2026"`, `value="6000"`, `<option value="2020" selected>`,
		`name="windows.employer_registration.opens_at" type="datetime-local" value="2026-04-01T09:00"`)

	r = c.PostForm("/office/rounds/new", roundForm(2026, "6000"))
	if r.Status != 303 || r.Header.Get("Location") != "/office/rounds" {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	rd, err := a.Rounds.ByYear(ctx, 2026)
	if err != nil {
		t.Fatal(err)
	}
	if w, _ := rd.Window(round.EmployerRegistration); !w.OpensAt.Equal(time.Date(2026, 4, 1, 1, 0, 0, 0, time.UTC)) {
		t.Fatalf("stored opening %v, want 01:00 UTC", w.OpensAt)
	}
	r = c.Get("/office/rounds")
	mustContain(t, "list", r.Body, "已创建", "2026年度积分落户", "2020版", "6000", "单位注册", "2026-04-01 09:00 开始")

	// Windows open on the clock alone: no restart, no job.
	a.Clock.Set(time.Date(2026, 4, 10, 2, 0, 0, 0, time.UTC))
	c = login(a, "city2", account.CityOfficer)
	r = c.Get("/office/rounds")
	mustContain(t, "list in April", r.Body, `<span class="badge badge-ok">单位注册</span>、<span class="badge badge-ok">个人填报</span>`)

	// Edit: a larger quota and a longer declaration window.
	path := "/office/rounds/" + strconv.FormatInt(rd.ID, 10) + "/edit"
	r = c.Get(path)
	mustContain(t, "edit form", r.Body, "修改2026年度批次", `value="6000"`, "开放中")
	f := roundForm(2026, "6500")
	f.Set("windows.application.closes_at", "2026-05-22T17:00")
	if r = c.PostForm(path, f); r.Status != 303 {
		t.Fatalf("update: %d %s", r.Status, r.Body)
	}
	rd, _ = a.Rounds.Get(ctx, rd.ID)
	if w, _ := rd.Window(round.Application); rd.Quota != 6500 || !w.ClosesAt.Equal(time.Date(2026, 5, 22, 9, 0, 0, 0, time.UTC)) {
		t.Fatalf("after update: quota %d, application closes %v", rd.Quota, w.ClosesAt)
	}
	entries, err := a.Audit.Search(ctx, audit.Filter{Action: "round.update", Limit: 10})
	if err != nil || len(entries) != 1 || entries[0].ActorLogin != "city2" ||
		!strings.Contains(entries[0].Reason, "quota 6000→6500") {
		t.Fatalf("audit: %+v %v", entries, err)
	}

	// The portal home's helper sees the round as it is now.
	v, err := portal.CurrentRoundView(ctx, a.Rounds, a.Clock.Now())
	if err != nil || v.Year != 2026 || len(v.Open) != 3 || v.Open[1].Name != "个人填报" || v.Next == nil || v.Next.Kind != round.Crosscheck {
		t.Fatalf("round view %+v %v", v, err)
	}
	if w := v.Open[1]; !w.ClosesAt.Equal(time.Date(2026, 5, 22, 9, 0, 0, 0, time.UTC)) {
		t.Fatalf("view closes %v", w.ClosesAt)
	}
	want := "2026年度积分落户：单位注册开放中，截止 2026-04-30 17:00；个人填报开放中，截止 2026-05-22 17:00；" +
		"单位确认提交开放中，截止 2026-05-22 17:00；下一阶段：数据比对，2026-05-25 09:00 开始。"
	if got := v.Summary(); got != want || v.Open[1].What == "" {
		t.Fatalf("summary %q, want %q", got, want)
	}

	// After publication opens the round can be seen, not changed.
	a.Clock.Set(time.Date(2026, 8, 14, 1, 0, 0, 0, time.UTC))
	c = login(a, "city3", account.CityOfficer)
	r = c.Get(path)
	mustContain(t, "locked form", r.Body, "只能查看", "<fieldset disabled>")
	f.Set("quota", "7000")
	if r = c.PostForm(path, f); r.Status != 409 || !strings.Contains(r.Body, "进入发布阶段，不能再修改") {
		t.Fatalf("update after publication: %d", r.Status)
	}
	if rd, _ = a.Rounds.Get(ctx, rd.ID); rd.Quota != 6500 {
		t.Fatalf("locked round changed to %d", rd.Quota)
	}
	a.Clock.Set(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	if v, err = portal.CurrentRoundView(ctx, a.Rounds, a.Clock.Now()); err != nil || !v.Over || v.Next != nil ||
		v.Summary() != "2026年度积分落户：各阶段均已结束。" {
		t.Fatalf("round view after the round %+v %v", v, err)
	}
}

func TestRoundFormShowsErrorsBesideTheFields(t *testing.T) {
	a, c := cityOfficer(t)
	f := roundForm(2026, "abc")
	f.Set("windows.application.opens_at", "2026-13-40T09:00")
	f.Set("windows.crosscheck.closes_at", "2026-05-01T09:00") // before it opens
	r := c.PostForm("/office/rounds/new", f)
	if r.Status != 400 {
		t.Fatalf("bad form: %d", r.Status)
	}
	// The summary links to each field; each message sits beside its field,
	// the typed value kept.
	mustContain(t, "bad form", r.Body, `href="#f-quota"`, `href="#f-windows-application-opens_at"`,
		`href="#f-windows-crosscheck-closes_at"`, `value="abc"`,
		`name="windows.application.opens_at" type="datetime-local" value="2026-13-40T09:00"`,
		`name="windows.crosscheck.closes_at" type="datetime-local" value="2026-05-01T09:00"`)
	wantFieldError(t, r.Body, "quota", "请填写落户指标，为整数，如 6000")
	wantFieldError(t, r.Body, "windows-application-opens_at", "个人填报的开始时间格式不正确")
	wantFieldError(t, r.Body, "windows-crosscheck-closes_at", "数据比对的结束时间应晚于开始时间（2026-05-25 09:00）")
	if strings.Index(r.Body, `href="#f-quota"`) > strings.Index(r.Body, `href="#f-windows-application-opens_at"`) {
		t.Error("summary not in the order of the form")
	}
	if rs, _ := a.Rounds.List(context.Background()); len(rs) != 0 {
		t.Fatalf("a bad form created %d rounds", len(rs))
	}
	// A rulebook that is not the year's needs the confirmation box.
	f = roundForm(2026, "6000")
	f.Set("rulebook", "2016")
	r = c.PostForm("/office/rounds/new", f)
	wantFieldError(t, r.Body, "rulebook", "2026年度适用2020版积分规则")
	mustContain(t, "rulebook form", r.Body, `<option value="2016" selected>`)
	f.Set("other_rulebook", "on")
	if r = c.PostForm("/office/rounds/new", f); r.Status != 303 {
		t.Fatalf("confirmed other rulebook: %d", r.Status)
	}
	// The same year twice.
	if r = c.PostForm("/office/rounds/new", roundForm(2026, "6000")); r.Status != 400 {
		t.Fatalf("duplicate year: %d", r.Status)
	}
	wantFieldError(t, r.Body, "year", "2026年度的批次已存在")
	if r = c.Get("/office/rounds/999/edit"); r.Status != 404 {
		t.Fatalf("unknown round: %d", r.Status)
	}
}

func TestDistrictOfficerCannotManageRounds(t *testing.T) {
	a := apptest.Start(t)
	a.CreateUser("district1", account.DistrictOfficer)
	c := a.Client(a.Office)
	a.LoginStaff(c, "district1", apptest.Password)
	if r := c.Get("/office/"); strings.Contains(r.Body, `href="/office/rounds"`) {
		t.Error("a district officer sees the rounds link")
	}
	for _, r := range []*apptest.Response{
		c.Get("/office/rounds"), c.Get("/office/rounds/new"), c.PostForm("/office/rounds/new", roundForm(2026, "6000")),
		c.Get("/office/rounds/1/edit"), c.PostForm("/office/rounds/1/edit", roundForm(2026, "6000")),
	} {
		if r.Status != 403 {
			t.Errorf("district officer: %d", r.Status)
		}
	}
	if rs, _ := a.Rounds.List(context.Background()); len(rs) != 0 {
		t.Fatal("a district officer created a round")
	}
	if _, err := portal.CurrentRoundView(context.Background(), a.Rounds, a.Clock.Now()); !errors.Is(err, round.ErrNoRound) {
		t.Fatalf("round view without rounds: %v", err)
	}
}
