package discrepancy_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/casetest"
	"jifen/internal/discrepancy"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
	"jifen/internal/platform/mail"
	"jifen/internal/rules"
)

// declared is what the applicant declared for the 2027 round.
func declared() rules.CalculatorRequest {
	return rules.CalculatorRequest{ApplicationYear: 2027, BirthDate: "1988-05-10", Sex: "M", ResidencePermit: true,
		SocialInsurance: []rules.PeriodInput{{From: "2012-07", To: "2026-12"}},
		Housing:         []rules.HousingInput{{Kind: "owned", From: "2015-01", To: "2026-12", District: "昌平区"}},
		Education:       rules.EducationInput{Level: "master", Diploma: true, Degree: true},
		Workplaces:      []rules.WorkplaceInput{{From: "2012-07", To: "2026-12", District: "昌平区"}},
		IncomeTax:       map[string]rules.Decimal{"2024": "50000", "2025": "60000", "2026": "70000"}}
}

// verified is what the agencies hold: a rented home and a bachelor's degree.
func verified() rules.CalculatorRequest {
	v := declared()
	v.Housing = []rules.HousingInput{{Kind: "rented", From: "2015-01", To: "2026-12", District: "昌平区", Registered: true}}
	v.Education = rules.EducationInput{Level: "bachelor", Diploma: true, Degree: true}
	return v
}

func score(t *testing.T, r rules.CalculatorRequest) rules.Result {
	t.Helper()
	f, fe := r.Facts()
	if len(fe) > 0 {
		t.Fatal(fe)
	}
	b, err := rules.Book("2020")
	if err != nil {
		t.Fatal(err)
	}
	return b.Score(f)
}

type fixture struct {
	*casetest.Env
	svc      *discrepancy.Service
	appID    int64
	personID int64
	userID   int64
	housing  int64 // discrepancy ids
	educ     int64
	a, b     actor.Actor // officers of 海淀区
	other    actor.Actor // an officer of 朝阳区
	city     actor.Actor
}

func officer(id int64, login, district string, roles ...actor.Role) actor.Actor {
	return actor.Actor{UserID: id, Login: login, Roles: roles, District: district}
}

// setup makes an application of an employer in 海淀区 whose applied
// cross-check found two discrepancies, as the engine would leave them.
func setup(t *testing.T) *fixture {
	t.Helper()
	env := casetest.New(t)
	emp, op := env.VerifiedEmployer("disc_op")
	p, c, app := env.Linked("disc_app", emp, op)
	f := &fixture{Env: env, svc: discrepancy.NewService(env.DB, env.Audit, env.Clock, env.Outbox, env.Applications), appID: app.ID, personID: p.ID,
		userID: c.UserID,
		a:      officer(9001, "officer_a", "海淀区", actor.DistrictOfficer), b: officer(9002, "officer_b", "海淀区", actor.DistrictOfficer),
		other: officer(9003, "officer_c", "朝阳区", actor.DistrictOfficer), city: officer(9004, "city", "", actor.CityOfficer)}
	d, v := declared(), verified()
	dj, _ := json.Marshal(d)
	vj, _ := json.Marshal(v)
	now := db.Micros(env.Clock.Now())
	var run int64
	if err := env.DB.QueryRow(env.Ctx, `INSERT INTO check_runs (round_id, scope, mode, rulebook, status, created_at)
		VALUES ($1, 'round', 'apply', '2020', 'applied', $2) RETURNING id`, env.RoundID, now).Scan(&run); err != nil {
		t.Fatal(err)
	}
	res := score(t, v)
	mustExec(t, env, `INSERT INTO check_scores (run_id, application_id, total, eligible, verified, outcomes, scored_at)
		VALUES ($1, $2, $3, $4, $5, '{}', $6)`, run, app.ID, int64(res.Total), res.Eligible, string(vj), now)
	mustExec(t, env, `UPDATE applications SET declaration = $1, score = $2, score_eligible = $3, score_run = $4, scored_at = $5
		WHERE id = $6`, string(dj), int64(res.Total), res.Eligible, run, now, app.ID)
	ins := func(code string) int64 {
		var id int64
		if err := env.DB.QueryRow(env.Ctx, `INSERT INTO discrepancies (application_id, run_id, item, outcome, declared, verified,
			district, status, created_at, updated_at) VALUES ($1, $2, $3, 'mismatch', $4, $5, $6, 'open', $7, $8) RETURNING id`,
			app.ID, run, code, d.PartJSON(code), v.PartJSON(code), emp.District, now, now).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	f.housing, f.educ = ins(rules.CodeHousing), ins(rules.CodeEducation)
	return f
}

func mustExec(t *testing.T, env *casetest.Env, q string, args ...any) {
	t.Helper()
	if _, err := env.DB.Exec(env.Ctx, q, args...); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) status(t *testing.T, id int64) discrepancy.Status {
	t.Helper()
	d, err := f.svc.Get(f.Ctx, f.city, id)
	if err != nil {
		t.Fatal(err)
	}
	return d.Status
}

func (f *fixture) score(t *testing.T) (int64, bool) {
	t.Helper()
	var s int64
	var e bool
	if err := f.DB.QueryRow(f.Ctx, `SELECT score, score_eligible FROM applications WHERE id = $1`, f.appID).Scan(&s, &e); err != nil {
		t.Fatal(err)
	}
	return s, e
}

func wantCode(t *testing.T, err error, code apperr.Code, what string) {
	t.Helper()
	if !apperr.Is(err, code) {
		t.Fatalf("%s: got %v, want %s", what, err, code)
	}
}

func TestDistrictScoping(t *testing.T) {
	f := setup(t)
	for _, tc := range []struct {
		who  actor.Actor
		sees int
	}{{f.a, 2}, {f.city, 2}, {f.other, 0}} {
		p, err := f.svc.List(f.Ctx, tc.who, discrepancy.Filter{District: "海淀区"})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) != tc.sees || p.Total != tc.sees {
			t.Errorf("%s sees %d (total %d), want %d", tc.who.Login, len(p.Items), p.Total, tc.sees)
		}
	}
	if _, err := f.svc.Get(f.Ctx, f.other, f.housing); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("other district Get: %v", err)
	}
	wantCode(t, f.svc.Accept(f.Ctx, f.other, f.housing, ""), apperr.NotFound, "other district Accept")
	applicant := actor.Actor{UserID: f.userID, Login: "disc_app", Roles: []actor.Role{actor.Applicant}}
	if _, err := f.svc.List(f.Ctx, applicant, discrepancy.Filter{}); !apperr.Is(err, apperr.Forbidden) {
		t.Errorf("applicant List: %v", err)
	}
	// Filters: check item, status, newest first.
	p, err := f.svc.List(f.Ctx, f.a, discrepancy.Filter{Item: rules.CodeEducation})
	if err != nil || len(p.Items) != 1 || p.Items[0].ID != f.educ || p.Items[0].PersonName != "王小明" ||
		p.Items[0].EmployerName == "" || p.Items[0].ItemName() != "教育背景" {
		t.Fatalf("check item filter: %+v %v", p, err)
	}
	p, _ = f.svc.List(f.Ctx, f.a, discrepancy.Filter{})
	if p.Items[0].ID != f.educ || p.Counts[discrepancy.Open] != 2 {
		t.Errorf("order or counts: first %d, counts %v", p.Items[0].ID, p.Counts)
	}
}

func TestDetailIsReadable(t *testing.T) {
	f := setup(t)
	d, err := f.svc.Get(f.Ctx, f.a, f.housing)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Rows) != 1 || !d.Rows[0].Differs || d.Rows[0].Field != "住房记录" ||
		!strings.Contains(d.Rows[0].Declared[0], "2015-01 至 2026-12") || !strings.Contains(d.Rows[0].Declared[0], "昌平区") ||
		!strings.Contains(d.Rows[0].Verified[0], "已备案") {
		t.Errorf("housing rows %+v", d.Rows)
	}
	e, _ := f.svc.Get(f.Ctx, f.a, f.educ)
	if e.Rows[0].Declared[0] == "master" || e.Rows[0].Declared[0] == e.Rows[0].Verified[0] {
		t.Errorf("education level not labelled: %+v", e.Rows)
	}
	if len(d.History) != 1 || !d.Scored {
		t.Errorf("history %+v scored %v", d.History, d.Scored)
	}
}

func TestAcceptAndDoubleAction(t *testing.T) {
	f := setup(t)
	if err := f.svc.Accept(f.Ctx, f.a, f.housing, "部门数据为准"); err != nil {
		t.Fatal(err)
	}
	if st := f.status(t, f.housing); st != discrepancy.Accepted {
		t.Fatalf("status %s", st)
	}
	err := f.svc.Accept(f.Ctx, f.a, f.housing, "")
	wantCode(t, err, apperr.Conflict, "second accept")
	if !strings.Contains(apperr.As(err).Message, "已被处理") {
		t.Errorf("message %q", apperr.As(err).Message)
	}
	wantCode(t, f.svc.Override(f.Ctx, f.b, f.housing, "申报材料齐全有效"), apperr.Conflict, "override after accept")
	d, _ := f.svc.Get(f.Ctx, f.a, f.housing)
	if len(d.History) != 2 || d.History[1].Action != "以比对结果为准" || d.History[1].Actor != "officer_a" || d.DecidedBy != f.a.UserID {
		t.Errorf("history %+v", d.History)
	}
}

func TestMaterialRequestAndAnswer(t *testing.T) {
	f := setup(t)
	now := f.Clock.Now()
	wantCode(t, f.svc.RequestMaterial(f.Ctx, f.a, f.housing, "请提供房产证", now), apperr.Invalid, "deadline today")
	wantCode(t, f.svc.RequestMaterial(f.Ctx, f.a, f.housing, "请提供房产证", now.AddDate(0, 0, 31)), apperr.Invalid, "deadline 31 days")
	err := f.svc.RequestMaterial(f.Ctx, f.a, f.housing, "", now.AddDate(0, 0, 5))
	if e := apperr.As(err); len(e.Fields) != 1 || e.Fields[0].Field != "note" {
		t.Errorf("empty note: %v", err)
	}
	deadline := now.AddDate(0, 0, 7)
	if err := f.svc.RequestMaterial(f.Ctx, f.a, f.housing, "请提供房产证复印件", deadline); err != nil {
		t.Fatal(err)
	}
	wantCode(t, f.svc.RequestMaterial(f.Ctx, f.a, f.housing, "请提供房产证复印件", deadline), apperr.Conflict, "second request")
	msgs, err := f.Outbox.List(f.Ctx, mail.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range msgs {
		if m.Category == "discrepancy.material" && m.To == "disc_app@example.cn" && strings.Contains(m.Text, "请提供房产证复印件") {
			found = true
		}
	}
	if !found {
		t.Errorf("no material mail among %d messages", len(msgs))
	}
	if n, _ := f.svc.OpenRequests(f.Ctx, f.personID); n != 1 {
		t.Errorf("open requests %d", n)
	}
	cs, err := f.svc.ForApplicant(f.Ctx, f.personID)
	if err != nil || len(cs) != 1 || cs[0].ID != f.housing || cs[0].Overdue {
		t.Fatalf("ForApplicant %+v %v", cs, err)
	}
	ap := actor.Actor{UserID: f.userID, Login: "disc_app", Roles: []actor.Role{actor.Applicant}, PersonID: f.personID}
	wantCode(t, f.svc.Answer(f.Ctx, actor.Actor{Roles: []actor.Role{actor.Applicant}, PersonID: f.personID + 1000}, f.housing, "材料"), apperr.NotFound, "someone else")
	wantCode(t, f.svc.Answer(f.Ctx, ap, f.housing, " "), apperr.Invalid, "empty answer")
	if err := f.svc.Answer(f.Ctx, ap, f.housing, "已将房产证复印件交至单位"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, f.svc.Answer(f.Ctx, ap, f.housing, "再次提交"), apperr.Conflict, "second answer")
	if st := f.status(t, f.housing); st != discrepancy.MaterialReceived {
		t.Fatalf("status %s", st)
	}
	// The officer then accepts (or overrides).
	if err := f.svc.Accept(f.Ctx, f.b, f.housing, ""); err != nil {
		t.Fatal(err)
	}
}

func TestAnswerAfterDeadline(t *testing.T) {
	f := setup(t)
	if err := f.svc.RequestMaterial(f.Ctx, f.a, f.educ, "请提供学位证书", f.Clock.Now().AddDate(0, 0, 1)); err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(72 * time.Hour)
	ap := actor.Actor{UserID: f.userID, Roles: []actor.Role{actor.Applicant}, PersonID: f.personID}
	err := f.svc.Answer(f.Ctx, ap, f.educ, "已提交学位证书")
	wantCode(t, err, apperr.Conflict, "answer after deadline")
	if !strings.Contains(apperr.As(err).Message, "截止时间") {
		t.Errorf("message %q", apperr.As(err).Message)
	}
	p, err := f.svc.List(f.Ctx, f.a, discrepancy.Filter{Overdue: true})
	if err != nil || len(p.Items) != 1 || !p.Items[0].Overdue(f.Clock.Now()) {
		t.Fatalf("overdue filter %+v %v", p, err)
	}
	if n, _ := f.svc.OpenRequests(f.Ctx, f.personID); n != 0 {
		t.Errorf("open requests after deadline %d", n)
	}
}

func TestOverrideFourEyesAndRescore(t *testing.T) {
	f := setup(t)
	before, _ := f.score(t)
	wantCode(t, f.svc.Override(f.Ctx, f.a, f.housing, "短"), apperr.Invalid, "short reason")
	if err := f.svc.Override(f.Ctx, f.a, f.housing, "房产证原件已核验，系自有住房"); err != nil {
		t.Fatal(err)
	}
	if s, _ := f.score(t); s != before {
		t.Fatalf("override changed the score before approval: %d → %d", before, s)
	}
	err := f.svc.Approve(f.Ctx, f.a, f.housing)
	wantCode(t, err, apperr.Forbidden, "approve own override")
	wantCode(t, f.svc.RejectOverride(f.Ctx, f.a, f.housing, "撤回"), apperr.Forbidden, "reject own override")
	wantCode(t, f.svc.Approve(f.Ctx, f.other, f.housing), apperr.NotFound, "approve from another district")
	if err := f.svc.Approve(f.Ctx, f.b, f.housing); err != nil {
		t.Fatal(err)
	}
	wantCode(t, f.svc.Approve(f.Ctx, f.city, f.housing), apperr.Conflict, "second approve")
	want := verified()
	want.Housing = declared().Housing
	exp := score(t, want)
	s, e := f.score(t)
	if s != int64(exp.Total) || e != exp.Eligible || s == before {
		t.Fatalf("score after approve %d (eligible %v), want %d (%v); before %d", s, e, int64(exp.Total), exp.Eligible, before)
	}
	d, _ := f.svc.Get(f.Ctx, f.a, f.housing)
	if d.Status != discrepancy.Overridden || d.OverrideBy != f.a.UserID || d.ApprovedBy != f.b.UserID {
		t.Errorf("after approve %+v", d.Item)
	}

	// A city officer approves the second one; both overrides now count.
	if err := f.svc.Override(f.Ctx, f.b, f.educ, "学位证书原件已核验"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Approve(f.Ctx, f.city, f.educ); err != nil {
		t.Fatal(err)
	}
	if s, _ := f.score(t); s != int64(score(t, declared()).Total) {
		t.Errorf("with both overrides the score is %d, want the declared %d", s, int64(score(t, declared()).Total))
	}
}

func TestRejectOverride(t *testing.T) {
	f := setup(t)
	if err := f.svc.Override(f.Ctx, f.a, f.educ, "学位证书原件已核验"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, f.svc.RejectOverride(f.Ctx, f.b, f.educ, ""), apperr.Invalid, "reject without note")
	if err := f.svc.RejectOverride(f.Ctx, f.b, f.educ, "证书信息与学信网不符"); err != nil {
		t.Fatal(err)
	}
	d, _ := f.svc.Get(f.Ctx, f.a, f.educ)
	if d.Status != discrepancy.Open || d.OverrideBy != 0 {
		t.Errorf("after reject %+v", d.Item)
	}
	// After the rejection the first officer may propose again and B approve.
	if err := f.svc.Override(f.Ctx, f.a, f.educ, "补充了学信网认证报告"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Approve(f.Ctx, f.b, f.educ); err != nil {
		t.Fatal(err)
	}
}

func TestRescoreWithoutRun(t *testing.T) {
	f := setup(t)
	mustExec(t, f.Env, `UPDATE applications SET score_run = 0 WHERE id = $1`, f.appID)
	wantCode(t, f.svc.Rescore(f.Ctx, f.appID), apperr.Conflict, "rescore without a run")
}

// TestConcurrentActionsActOnce sends the same decision twice at once, as a
// double click on two tabs would: exactly one takes effect.
func TestConcurrentActionsActOnce(t *testing.T) {
	f := setup(t)
	if err := f.svc.Override(f.Ctx, f.a, f.housing, "房产证原件已核验，系自有住房"); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	for _, who := range []actor.Actor{f.b, f.city} {
		go func() { errs <- f.svc.Approve(f.Ctx, who, f.housing) }()
	}
	var ok, conflicts int
	for range 2 {
		switch err := <-errs; {
		case err == nil:
			ok++
		case apperr.Is(err, apperr.Conflict):
			conflicts++
		default:
			t.Errorf("unexpected %v", err)
		}
	}
	if ok != 1 || conflicts != 1 {
		t.Fatalf("%d approvals, %d conflicts", ok, conflicts)
	}
	es, err := f.Audit.Search(f.Ctx, audit.Filter{Action: "discrepancy.approve"})
	if err != nil || len(es) != 1 {
		t.Fatalf("approve audited %d times (%v)", len(es), err)
	}
}
