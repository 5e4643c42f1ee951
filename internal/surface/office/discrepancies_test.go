package office_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/actor"
	"jifen/internal/app/apptest"
	"jifen/internal/application"
	"jifen/internal/casetest"
	"jifen/internal/employer"
	"jifen/internal/person"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/rules"
)

// checkedCase is an applicant of an employer in 海淀区 whose application
// the cross-check has scored, with an open discrepancy per check item in
// codes (as internal/check leaves them).
type checkedCase struct {
	appID    int64
	ids      map[string]int64
	declared rules.CalculatorRequest
	verified rules.CalculatorRequest
}

func newCheckedCase(t *testing.T, a *apptest.App, login string, codes ...string) *checkedCase {
	t.Helper()
	ctx := context.Background()
	rd, err := a.EnsureRound(ctx, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	emp, op, err := a.Cases.Employers.Register(ctx, employer.Registration{CreditCode: casetest.CreditCode(), Name: "北京比对科技有限公司",
		District: "海淀区", Address: "北京市海淀区中关村大街1号", LegalRep: "张三", OperatorName: "李四", OperatorLogin: login + "_op",
		Phone: "13800138000", Email: login + "_op@example.cn", Password: apptest.Password, PrivacyVersion: account.PrivacyNoticeVersion})
	if err != nil {
		t.Fatal(err)
	}
	if emp, err = a.Cases.Employers.Decide(ctx, actor.SystemActor("test"), emp.ID, true, ""); err != nil {
		t.Fatal(err)
	}
	p, u, err := a.Cases.Persons.Register(ctx, person.Registration{IDNumber: casetest.IDNumber(true), Name: "赵比对", Login: login,
		Phone: "13900139000", Email: login + "@example.cn", Password: apptest.Password, PrivacyVersion: account.PrivacyNoticeVersion})
	if err != nil {
		t.Fatal(err)
	}
	l, err := a.Cases.Persons.RequestLink(ctx, p, rd.ID, emp.RegCode)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Cases.Persons.DecideLink(ctx, casetest.OperatorActor(emp, op), l.ID, true, ""); err != nil {
		t.Fatal(err)
	}
	app, err := a.Cases.Applications.Open(ctx, actor.Actor{UserID: u.ID, Roles: []actor.Role{actor.Applicant}, PersonID: p.ID},
		application.Subject{PersonID: p.ID, EmployerID: emp.ID, BirthDate: p.BirthDate, Sex: p.Sex}, rd.ID, rd.Year)
	if err != nil {
		t.Fatal(err)
	}
	last := fmt.Sprintf("%d-12", rd.Year-1)
	c := &checkedCase{appID: app.ID, ids: map[string]int64{}}
	c.declared = rules.CalculatorRequest{ApplicationYear: rd.Year, BirthDate: "1988-05-10", Sex: "M", ResidencePermit: true,
		SocialInsurance: []rules.PeriodInput{{From: "2012-07", To: last}},
		Housing:         []rules.HousingInput{{Kind: "owned", From: "2015-01", To: last, District: "昌平区"}},
		Education:       rules.EducationInput{Level: "master", Diploma: true, Degree: true},
		Workplaces:      []rules.WorkplaceInput{{From: "2012-07", To: last, District: "昌平区"}}}
	c.verified = c.declared
	c.verified.Housing = nil
	c.verified.Education = rules.EducationInput{Level: "bachelor", Diploma: true, Degree: true}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := a.DB.Exec(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	now := db.Micros(a.Clock.Now())
	var run int64
	if err := a.DB.QueryRow(ctx, `INSERT INTO check_runs (round_id, scope, mode, rulebook, status, created_at)
		VALUES ($1, 'round', 'apply', $2, 'applied', $3) RETURNING id`, rd.ID, rd.Rulebook, now).Scan(&run); err != nil {
		t.Fatal(err)
	}
	res := scoreOf(t, rd.Rulebook, c.verified)
	dj, _ := json.Marshal(c.declared)
	vj, _ := json.Marshal(c.verified)
	exec(`INSERT INTO check_scores (run_id, application_id, total, eligible, verified, outcomes, scored_at)
		VALUES ($1, $2, $3, $4, $5, '{}', $6)`, run, app.ID, int64(res.Total), res.Eligible, string(vj), now)
	exec(`UPDATE applications SET declaration = $1, score = $2, score_eligible = $3, score_run = $4, scored_at = $5 WHERE id = $6`,
		string(dj), int64(res.Total), res.Eligible, run, now, app.ID)
	for _, code := range codes {
		outcome := "mismatch"
		if code == rules.CodeHousing {
			outcome = "not_found"
		}
		var id int64
		if err := a.DB.QueryRow(ctx, `INSERT INTO discrepancies (application_id, run_id, item, outcome, declared, verified,
			district, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, '海淀区', 'open', $7, $8) RETURNING id`,
			app.ID, run, code, outcome, c.declared.PartJSON(code), c.verified.PartJSON(code), now, now).Scan(&id); err != nil {
			t.Fatal(err)
		}
		c.ids[code] = id
	}
	return c
}

func scoreOf(t *testing.T, version string, r rules.CalculatorRequest) rules.Result {
	t.Helper()
	f, fe := r.Facts()
	if len(fe) > 0 {
		t.Fatal(fe)
	}
	b, err := rules.Book(version)
	if err != nil {
		t.Fatal(err)
	}
	return b.Score(f)
}

func (c *checkedCase) score(t *testing.T, a *apptest.App) int64 {
	t.Helper()
	var s int64
	if err := a.DB.QueryRow(context.Background(), `SELECT score FROM applications WHERE id = $1`, c.appID).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDiscrepancyOverrideNeedsASecondOfficer(t *testing.T) {
	a := apptest.Start(t)
	c := newCheckedCase(t, a, "disc_ov", rules.CodeEducation)
	id := fmt.Sprint(c.ids[rules.CodeEducation])
	before := c.score(t, a)

	offA := login(a, "disc_a", account.DistrictOfficer) // 海淀区
	r := offA.Get("/office/discrepancies")
	if r.Status != 200 {
		t.Fatalf("queue: %d", r.Status)
	}
	mustContain(t, "queue", r.Body, "比对差异", "赵比对", "北京比对科技有限公司", "教育背景", "与申报不一致", "待处理（1）",
		`href="/office/discrepancies/`+id+`"`)
	r = offA.Get("/office/discrepancies/" + id)
	mustContain(t, "detail", r.Body, "硕士", "本科", "不一致", "action=\"/office/discrepancies/"+id+"/override\"")
	// What each choice does to the score: the verified score stays, the
	// override gives the declared value's score.
	want := c.verified
	want.Education = c.declared.Education
	rd, _ := a.Rounds.Current(context.Background())
	ifOverridden := rules.Points(scoreOf(t, rd.Rulebook, want).Total).String()
	mustContain(t, "effects", r.Body, "各处理方式对积分的影响", "以比对结果为准</th><td class=\"num\">"+rules.Points(before).String(),
		"更正为申报值（审批通过后）</th><td class=\"num\">"+ifOverridden)

	// A reason that is too short is named beside its field.
	r = offA.PostForm("/office/discrepancies/"+id+"/override", url.Values{"reason": {"短"}})
	if r.Status != 400 {
		t.Fatalf("short reason: %d", r.Status)
	}
	wantFieldError(t, r.Body, "reason", "请说明更正为申报值的理由")
	if r := offA.PostForm("/office/discrepancies/"+id+"/override", url.Values{"reason": {"学位证书原件已现场核验"}}); r.Status != 303 {
		t.Fatalf("override: %d %s", r.Status, r.Body)
	}
	r = offA.Get("/office/discrepancies/" + id)
	// Officers by name and office, never by login alone.
	mustContain(t, "own override", r.Body, "更正待审批", "本人不能审批", "提出更正为申报值", "（测试disc_a（海淀区人力社保局） 提出）",
		"测试disc_a（海淀区人力社保局）</td>")
	if strings.Contains(r.Body, "/approve\"") {
		t.Error("the proposer is offered the approve form")
	}
	if r := offA.PostForm("/office/discrepancies/"+id+"/approve", nil); r.Status != 403 || !strings.Contains(r.Body, "另一名经办人员") {
		t.Fatalf("A approves own override: %d", r.Status)
	}
	if c.score(t, a) != before {
		t.Fatal("the score changed before approval")
	}

	// An officer of another district does not see it.
	a.CreateUserIn("朝阳区", "disc_cy", account.DistrictOfficer)
	other := a.Client(a.Office)
	a.LoginStaff(other, "disc_cy", apptest.Password)
	if r := other.Get("/office/discrepancies/" + id); r.Status != 404 {
		t.Fatalf("other district sees it: %d", r.Status)
	}
	if r := other.PostForm("/office/discrepancies/"+id+"/approve", nil); r.Status != 404 {
		t.Fatalf("other district approves: %d", r.Status)
	}

	offB := login(a, "disc_b", account.DistrictOfficer)
	r = offB.Get("/office/discrepancies/" + id)
	mustContain(t, "B's view", r.Body, "/approve\"", "/reject\"")
	// Approving cannot be undone: the first POST shows what it does to
	// the score and changes nothing.
	r = offB.PostForm("/office/discrepancies/"+id+"/approve", nil)
	mustContain(t, "approve unconfirmed", r.Body, "确认审批通过更正？", "将由 "+rules.Points(before).String()+" 分 变为 "+ifOverridden+" 分",
		`name="confirmed" value="yes"`, `action="/office/discrepancies/`+id+`/approve"`)
	if r.Status != 200 || c.score(t, a) != before {
		t.Fatalf("approve unconfirmed: %d, score %d", r.Status, c.score(t, a))
	}
	if r := offB.PostForm("/office/discrepancies/"+id+"/approve", url.Values{"confirmed": {"yes"}}); r.Status != 303 {
		t.Fatalf("B approves: %d %s", r.Status, r.Body)
	}
	if got, exp := c.score(t, a), int64(scoreOf(t, rd.Rulebook, want).Total); got != exp || got == before {
		t.Fatalf("score after approval %d, want %d (before %d)", got, exp, before)
	}
	r = offB.Get("/office/discrepancies/" + id)
	mustContain(t, "after approval", r.Body, "已审批通过更正", "已更正为申报值", "审批通过更正", "测试disc_b（海淀区人力社保局）</td>")
	// A second click (or a stale page) is a conflict, not a second approval.
	if r := offB.PostForm("/office/discrepancies/"+id+"/approve", nil); r.Status != 409 || !strings.Contains(r.Body, "已被处理") {
		t.Fatalf("second approve: %d", r.Status)
	}
}

func TestApplicantAnswersAMaterialRequest(t *testing.T) {
	a := apptest.Start(t)
	c := newCheckedCase(t, a, "disc_ans", rules.CodeHousing)
	id := fmt.Sprint(c.ids[rules.CodeHousing])
	off := login(a, "disc_req", account.DistrictOfficer)
	r := off.PostForm("/office/discrepancies/"+id+"/request", url.Values{"note": {"请提供房屋产权证明"}, "deadline": {"2000-01-01"}})
	if r.Status != 400 {
		t.Fatalf("past deadline: %d", r.Status)
	}
	wantFieldError(t, r.Body, "deadline", "截止日期应在")
	deadline := a.Clock.Now().In(discBeijing).AddDate(0, 0, 10).Format("2006-01-02")
	if r := off.PostForm("/office/discrepancies/"+id+"/request", url.Values{"note": {"请提供房屋产权证明"}, "deadline": {deadline}}); r.Status != 303 {
		t.Fatalf("request: %d %s", r.Status, r.Body)
	}
	if r := off.Get("/office/discrepancies?status=material_requested"); !strings.Contains(r.Body, deadline) || strings.Contains(r.Body, `badge-err">逾期`) {
		t.Error("the queue does not show the deadline")
	}

	app := a.Client(a.Internet)
	if r := app.LoginAPI("disc_ans", apptest.Password); r.Status != 200 {
		t.Fatalf("applicant login: %d", r.Status)
	}
	if r := app.Get("/dashboard"); !strings.Contains(r.Body, "1项待补充材料") || !strings.Contains(r.Body, `href="/me/corrections"`) {
		t.Errorf("dashboard notice missing: %d", r.Status)
	}
	r = app.Get("/me/corrections")
	mustContain(t, "corrections", r.Body, "合法稳定住所", "请提供房屋产权证明", deadline, "自有住房", "2015-01 至", "无", `action="/me/corrections/`+id+`"`)
	if r := app.PostForm("/me/corrections/"+id, url.Values{"note": {""}}); r.Status != 400 || !strings.Contains(r.Body, "请说明您补充的材料") {
		t.Fatalf("empty answer: %d", r.Status)
	}
	if r := app.PostForm("/me/corrections/"+id, url.Values{"note": {"已将房产证复印件交至单位"}}); r.Status != 303 {
		t.Fatalf("answer: %d %s", r.Status, r.Body)
	}
	if r := app.Get("/me/corrections"); !strings.Contains(r.Body, "已提交说明，等待审核") {
		t.Error("the answer is not shown")
	}
	r = off.Get("/office/discrepancies/" + id)
	if !strings.Contains(r.Body, "已将房产证复印件交至单位") || !strings.Contains(r.Body, "材料已提交") {
		t.Error("the officer does not see the answer")
	}
	// 部门无记录 is not 不一致.
	if !strings.Contains(r.Body, `badge-warn">部门无记录</span>`) || strings.Contains(r.Body, ">不一致<") {
		t.Errorf("a not-found item shown as a mismatch:\n%s", r.Body)
	}
	// 以比对结果为准 is final: the first POST asks, and changes nothing.
	r = off.PostForm("/office/discrepancies/"+id+"/accept", url.Values{"note": {"材料不足"}})
	mustContain(t, "accept unconfirmed", r.Body, "确认以比对结果为准？", "初核积分保持", `name="note" value="材料不足"`)
	if r := off.Get("/office/discrepancies/" + id); !strings.Contains(r.Body, "材料已提交") {
		t.Fatal("accepted without confirmation")
	}
	if r := off.PostForm("/office/discrepancies/"+id+"/accept", url.Values{"note": {"材料不足"}, "confirmed": {"yes"}}); r.Status != 303 {
		t.Fatalf("accept: %d", r.Status)
	}
	// Another applicant cannot answer it.
	newCheckedCase(t, a, "disc_else")
	other := a.Client(a.Internet)
	other.LoginAPI("disc_else", apptest.Password)
	if r := other.PostForm("/me/corrections/"+id, url.Values{"note": {"冒名提交"}}); r.Status != 404 {
		t.Fatalf("someone else answers: %d", r.Status)
	}
}

var discBeijing = clock.Beijing

// todoCount is the count of the 工作台 card labelled label.
func todoCount(t *testing.T, body, label string) string {
	t.Helper()
	_, after, ok := strings.Cut(body, "<h3>"+label+"</h3>")
	if !ok {
		t.Fatalf("no to-do %q on the 工作台:\n%s", label, body)
	}
	_, after, _ = strings.Cut(after, "<strong>")
	n, _, _ := strings.Cut(after, "</strong>")
	return n
}

// Issue 11 item 8: the 工作台 counts each role's work waiting, in the
// officer's own district, with links to the queues.
func TestHomeCountsTheWorkWaiting(t *testing.T) {
	a := apptest.Start(t)
	c := newCheckedCase(t, a, "home_case", rules.CodeEducation, rules.CodeHousing)
	hd := login(a, "home_hd", account.DistrictOfficer) // 海淀区
	a.CreateUserIn("朝阳区", "home_cy", account.DistrictOfficer)
	cy := a.Client(a.Office)
	a.LoginStaff(cy, "home_cy", apptest.Password)
	city := login(a, "home_city", account.CityOfficer)

	r := hd.Get("/office/")
	if r.Status != 200 || !strings.Contains(r.Body, "待办事项") || !strings.Contains(r.Body, `href="/office/discrepancies?status=open"`) {
		t.Fatalf("home: %d\n%s", r.Status, r.Body)
	}
	if n := todoCount(t, r.Body, "待处理的比对差异"); n != "2" {
		t.Errorf("海淀区 officer: %s discrepancies waiting, want 2", n)
	}
	if n := todoCount(t, r.Body, "补充材料已逾期"); n != "0" {
		t.Errorf("overdue: %s", n)
	}
	if n := todoCount(t, cy.Get("/office/").Body, "待处理的比对差异"); n != "0" {
		t.Errorf("朝阳区 officer sees %s of 海淀区's discrepancies", n)
	}
	body := city.Get("/office/").Body
	if n := todoCount(t, body, "待处理的比对差异"); n != "2" {
		t.Errorf("city officer: %s", n)
	}
	// An overdue material request is counted and marked.
	deadline := a.Clock.Now().In(discBeijing).AddDate(0, 0, 3).Format("2006-01-02")
	if r := hd.PostForm(fmt.Sprintf("/office/discrepancies/%d/request", c.ids[rules.CodeHousing]),
		url.Values{"note": {"请提供房屋产权证明"}, "deadline": {deadline}}); r.Status != 303 {
		t.Fatalf("request: %d", r.Status)
	}
	a.Clock.Advance(5 * 24 * time.Hour)
	hd = login(a, "home_hd2", account.DistrictOfficer)
	body = hd.Get("/office/").Body
	if todoCount(t, body, "补充材料已逾期") != "1" || todoCount(t, body, "待处理的比对差异") != "1" || !strings.Contains(body, "需尽快处理") {
		t.Errorf("after the deadline:\n%s", body)
	}
}

// Administrators' 工作台 counts the requests waiting for them.
func TestHomeCountsAdministratorsWork(t *testing.T) {
	a := apptest.Start(t)
	sys := login(a, "home_sys", account.SystemAdmin)
	sec := login(a, "home_sec", account.SecurityAdmin)
	if n := todoCount(t, sys.Get("/office/").Body, "待审批的管理员账号操作"); n != "0" {
		t.Errorf("system admin: %s", n)
	}
	body := sec.Get("/office/").Body
	if todoCount(t, body, "待审核、审批的权限申请") != "0" || strings.Contains(body, "待处理的比对差异") {
		t.Errorf("security admin:\n%s", body)
	}
}
