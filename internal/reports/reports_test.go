package reports_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"jifen/internal/accessstats"
	"jifen/internal/account"
	"jifen/internal/actor"
	"jifen/internal/application"
	"jifen/internal/calendar"
	"jifen/internal/casetest"
	"jifen/internal/casework"
	"jifen/internal/check"
	"jifen/internal/employer"
	"jifen/internal/mailing"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
	"jifen/internal/reports"
	"jifen/internal/rules"
	"jifen/internal/stats"
)

// The population is built through the owners' services where they exist
// (registration, declaration, submission, filing, the check's results);
// the rows only the cross-check engine and the discrepancy queue write
// after a real run (check_runs, check_scores, discrepancies,
// case_assignments) are inserted here, the test being no package the
// architecture rule binds.

type env struct {
	*casetest.Env
	cw             *casework.Service
	reg            *reports.Registry
	access         *fakeAccess
	mail           *fakeMail
	city, district actor.Actor
	apps           map[string]int64
}

func declaration() rules.CalculatorRequest {
	return rules.CalculatorRequest{
		ResidencePermit: true,
		SocialInsurance: []rules.PeriodInput{{From: "2012-01", To: "2026-12"}},
		Education:       rules.EducationInput{Level: "master", Diploma: true, Degree: true},
	}
}

func (e *env) employerIn(login, district string) (*employer.Employer, *account.User) {
	e.T.Helper()
	emp, op, err := e.Employers.Register(e.Ctx, employer.Registration{CreditCode: casetest.CreditCode(), Name: district + "测试有限公司",
		District: district, Address: "北京市" + district + "某路1号", LegalRep: "张三", OperatorName: "李四", OperatorLogin: login,
		Phone: "13800138000", Email: login + "@example.cn", Password: casetest.Password, PrivacyVersion: account.PrivacyNoticeVersion})
	if err != nil {
		e.T.Fatal(err)
	}
	if emp, err = e.Employers.Decide(e.Ctx, actor.SystemActor("test"), emp.ID, true, ""); err != nil {
		e.T.Fatal(err)
	}
	return emp, op
}

// submit opens, declares and submits an application; file files it too.
func (e *env) submit(name string, emp *employer.Employer, op *account.User, file bool) {
	e.T.Helper()
	_, me, a := e.Linked("app-"+name, emp, op)
	a, err := e.Applications.SaveDraft(e.Ctx, me, a.ID, declaration(), a.Version)
	if err != nil {
		e.T.Fatal(err)
	}
	if _, err = e.Applications.SubmitToEmployer(e.Ctx, me, a.ID, true); err != nil {
		e.T.Fatal(err)
	}
	if file {
		if _, err = e.Applications.File(e.Ctx, casetest.OperatorActor(emp, op), a.ID); err != nil {
			e.T.Fatal(err)
		}
	}
	e.apps[name] = a.ID
}

func (e *env) staff(login, district string, role actor.Role) actor.Actor {
	e.T.Helper()
	u, err := e.Accounts.CreateUser(e.Ctx, account.NewUser{Login: login, DisplayName: "经办" + login, Zone: account.Office,
		Password: casetest.Password, Roles: []actor.Role{role}, District: district})
	if err != nil {
		e.T.Fatal(err)
	}
	return u.Actor()
}

func (e *env) exec(q string, args ...any) {
	e.T.Helper()
	if _, err := e.DB.Exec(e.Ctx, q, args...); err != nil {
		e.T.Fatalf("%s: %v", q, err)
	}
}

func bj(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04 -0700", s+" +0800")
	if err != nil {
		panic(err)
	}
	return t
}

// newEnv builds the population whose figures the tests check by hand:
//
//	海淀区: h1 (submitted and filed 04-10, 90 points), h2 (submitted 04-10,
//	returned 04-11), h3 (82), h4 (82.5), h5 (70, not eligible);
//	朝阳区: c1 (submitted and filed 04-11, 90), c2 (65.1).
//
// h3, h4, h5 and c2 are submitted and filed on 04-20, when all six filed
// applications get their result. The round's quota is 4.
//
// Rows come in the rulebook's order of districts (朝阳区 before 海淀区).
func newEnv(t *testing.T) *env {
	t.Helper()
	ce := casetest.New(t)
	cal := calendar.NewService(ce.DB, ce.Audit, ce.Clock)
	cw := casework.NewService(ce.DB, ce.Audit, ce.Clock, cal, ce.Keys)
	ce.Applications.WithDeadlines(cw)
	e := &env{Env: ce, cw: cw, access: &fakeAccess{}, mail: &fakeMail{}, apps: map[string]int64{}}
	e.reg = reports.New(reports.Deps{DB: ce.DB, Clock: ce.Clock, Access: e.access, Mail: e.mail, Due: cw})
	e.city = e.staff("city1", "", actor.CityOfficer)
	e.district = e.staff("hd1", "海淀区", actor.DistrictOfficer)
	eh, oh := e.employerIn("emph", "海淀区")
	ec, oc := e.employerIn("empc", "朝阳区")

	e.Clock.Set(bj("2027-04-10 10:00"))
	e.submit("h1", eh, oh, true)
	e.submit("h2", eh, oh, false)
	e.Clock.Set(bj("2027-04-11 10:00"))
	if _, err := e.Applications.Return(e.Ctx, casetest.OperatorActor(eh, oh), e.apps["h2"], "材料不全"); err != nil {
		t.Fatal(err)
	}
	e.submit("c1", ec, oc, true)
	e.Clock.Set(bj("2027-04-20 10:00"))
	e.submit("h3", eh, oh, true)
	e.submit("h4", eh, oh, true)
	e.submit("h5", eh, oh, true)
	e.submit("c2", ec, oc, true)
	if n, err := e.Applications.EnterCheck(e.Ctx, e.RoundID, 0); err != nil || n != 6 {
		t.Fatalf("enter check: %d, %v", n, err)
	}
	now := db.Micros(e.Clock.Now())
	var run int64
	if err := e.DB.QueryRow(e.Ctx, `INSERT INTO check_runs (round_id, scope, mode, rulebook, status, created_at)
		VALUES ($1, 'round', 'apply', '2020', 'applied', $2) RETURNING id`, e.RoundID, now).Scan(&run); err != nil {
		t.Fatal(err)
	}
	scores := map[string]struct {
		score    int64
		eligible bool
		extra    []check.Outcome
	}{
		"h1": {9000, true, []check.Outcome{{Item: rules.CodeTax, Outcome: check.Mismatch}}},
		"h3": {8200, true, []check.Outcome{{Item: rules.CodeTax, Outcome: check.NotFound}}},
		"h4": {8250, true, nil},
		"h5": {7000, false, nil},
		"c1": {9000, true, []check.Outcome{{Item: rules.CodeLawRecord, Outcome: check.Unavailable}}},
		"c2": {6510, true, nil},
	}
	var results []application.Result
	for name, s := range scores {
		outs := append([]check.Outcome{{Item: rules.CodeEducation, Outcome: check.Match}}, s.extra...)
		raw, _ := json.Marshal(outs)
		e.exec(`INSERT INTO check_scores (run_id, application_id, total, eligible, verified, outcomes, scored_at)
			VALUES ($1, $2, $3, $4, '{}', $5, $6)`, run, e.apps[name], s.score, s.eligible, string(raw), now)
		results = append(results, application.Result{ID: e.apps[name], Score: s.score, Eligible: s.eligible})
	}
	if err := e.Applications.ApplyResults(e.Ctx, run, results); err != nil {
		t.Fatal(err)
	}
	e.exec(`UPDATE rounds SET quota = 4 WHERE id = $1`, e.RoundID)

	// Discrepancies: d1 open and d2 waiting for material past its deadline
	// (both h's, held by the district officer); d3 accepted by the city
	// officer in 2 days; d4 overridden by the district officer in 1 day
	// (within the 5 working days), d5 cleared by them in 10 (outside).
	disc := func(app, item, district, status string, deadline time.Time, by int64, created, decided time.Time) {
		var dl, dec int64
		if !deadline.IsZero() {
			dl = db.Micros(deadline)
		}
		if !decided.IsZero() {
			dec = db.Micros(decided)
		}
		e.exec(`INSERT INTO discrepancies (application_id, run_id, item, outcome, declared, verified, district, status, deadline,
			decided_by, decided_at, created_at, updated_at) VALUES ($1, $2, $3, 'mismatch', '{}', '{}', $4, $5, $6, $7, $8, $9, $9)`,
			e.apps[app], run, item, district, status, dl, by, dec, db.Micros(created))
	}
	created := bj("2027-04-20 10:00")
	disc("h1", rules.CodeTax, "海淀区", "open", time.Time{}, 0, created, time.Time{})
	disc("h3", rules.CodeTax, "海淀区", "material_requested", bj("2027-04-21 10:00"), 0, created, time.Time{})
	disc("c1", rules.CodeLawRecord, "朝阳区", "accepted", time.Time{}, e.city.UserID, created, bj("2027-04-22 10:00"))
	disc("h4", rules.CodeEducation, "海淀区", "overridden", time.Time{}, e.district.UserID, created, bj("2027-04-21 10:00"))
	disc("h5", rules.CodeTax, "海淀区", "cleared", time.Time{}, e.district.UserID, created, bj("2027-04-30 10:00"))
	assign := func(app string, officer int64) {
		e.exec(`INSERT INTO case_assignments (application_id, officer_id, assigned_by, assigned_at) VALUES ($1, $2, 0, $3)`,
			e.apps[app], officer, now)
	}
	assign("h1", e.district.UserID)
	assign("h3", e.district.UserID)
	assign("c1", e.city.UserID)
	e.Clock.Set(bj("2027-07-01 10:00"))
	return e
}

type fakeAccess struct{ asked []time.Time }

func (f *fakeAccess) Read(_ context.Context, who actor.Actor, from, to time.Time, by string) (*accessstats.Report, error) {
	if err := who.Require(actor.PermCheckMonitor); err != nil {
		return nil, err
	}
	f.asked = []time.Time{from, to}
	rep := &accessstats.Report{From: from, To: to, By: by}
	for i, t := 0, from; t.Before(to); i, t = i+1, t.AddDate(0, 0, 1) {
		b := accessstats.Bucket{Start: t}
		b.Views, b.Visitors, b.Searches, b.SearchesFound, b.Errors4xx, b.Errors5xx, b.Objections = int64(10*(i+1)), int64(3*(i+1)), 4, 2, 1, 1, 0
		rep.Totals.Views += b.Views
		rep.Totals.Visitors += b.Visitors
		rep.Buckets = append(rep.Buckets, b)
	}
	return rep, nil
}

type fakeMail struct{}

func (fakeMail) DailySummary(_ context.Context, from time.Time) (*mailing.Summary, error) {
	s := &mailing.Summary{Day: from.Format("2006-01-02")}
	if from.Equal(bj("2027-06-30 00:00")) {
		s.Campaigns = []mailing.DayCount{{ID: 1, Name: "年度申报提醒", Sent: 100, Failed: 3, Bounced: 5}}
	}
	return s, nil
}

// table flattens a result as "keys: count | values" lines for comparison.
func table(r *stats.Result) []string {
	var out []string
	for _, row := range append(r.Rows, r.Total) {
		line := fmt.Sprint(row.Labels, " ", row.Count, " |")
		for _, v := range row.Values {
			if v.Null {
				line += " -"
			} else {
				line += fmt.Sprintf(" %g", v.N)
			}
		}
		out = append(out, line)
	}
	return out
}

func (e *env) check(by actor.Actor, code string, p reports.Params, want []string) *stats.Result {
	e.T.Helper()
	res, err := e.reg.Run(e.Ctx, by, code, p)
	if err != nil {
		e.T.Fatalf("%s: %v", code, err)
	}
	got := table(res)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		e.T.Errorf("%s:\n got  %q\n want %q", code, got, want)
	}
	if !res.AsOf.Equal(e.Clock.Now()) {
		e.T.Errorf("%s: as of %v", code, res.AsOf)
	}
	if len(res.Measures) == 0 || len(res.Dims) == 0 {
		e.T.Errorf("%s: no dims or measures", code)
	}
	return res
}

func TestReports(t *testing.T) {
	e := newEnv(t)
	days := reports.Params{"year": "2027", "from": "2027-04-10", "to": "2027-04-11"}
	t.Run("progress", func(t *testing.T) {
		e.check(e.city, "progress", days, []string{
			"[朝阳区 2027-04-11] 1 | 1 1 0",
			"[海淀区 2027-04-10] 2 | 2 1 0",
			"[海淀区 2027-04-11] 1 | 0 0 1",
			"[] 3 | 3 2 1",
		})
		res := e.check(e.district, "progress", days, []string{
			"[海淀区 2027-04-10] 2 | 2 1 0",
			"[海淀区 2027-04-11] 1 | 0 0 1",
			"[] 2 | 2 1 1",
		})
		if res.Scope != "海淀区" {
			t.Errorf("scope %q", res.Scope)
		}
	})
	t.Run("crosscheck", func(t *testing.T) {
		e.check(e.city, "crosscheck", nil, []string{
			"[市公安局] 1 | 0 0 0 1",
			"[学信网／留学服务中心] 6 | 6 0 0 0",
			"[市税务局] 3 | 0 1 1 1",
			"[] 6 | 6 1 1 2",
		})
		e.check(e.district, "crosscheck", nil, []string{
			"[学信网／留学服务中心] 4 | 4 0 0 0",
			"[市税务局] 2 | 0 1 1 0",
			"[] 4 | 4 1 1 0",
		})
	})
	t.Run("discrepancies", func(t *testing.T) {
		e.check(e.city, "discrepancies", nil, []string{
			"[朝阳区 经办city1（city1）] 1 | 0 0 1 2 0",
			"[海淀区 经办hd1（hd1）] 4 | 1 1 2 5.5 1",
			"[] 5 | 1 1 3 4.33 1",
		})
		e.check(e.district, "discrepancies", nil, []string{
			"[海淀区 经办hd1（hd1）] 4 | 1 1 2 5.5 1",
			"[] 4 | 1 1 2 5.5 1",
		})
	})
	t.Run("scores", func(t *testing.T) {
		e.check(e.city, "scores", nil, []string{
			"[积分分布 65–70分] 1 | 1 - -",
			"[积分分布 70–75分] 1 | 1 - -",
			"[积分分布 75–80分] 0 | 0 - -",
			"[积分分布 80–85分] 2 | 2 - -",
			"[积分分布 85–90分] 0 | 0 - -",
			"[积分分布 90–95分] 2 | 2 - -",
			"[分数线测算 名额 3（-20%）] 3 | 3 82.5 3",
			"[分数线测算 名额 4] 4 | 4 82 4",
			"[分数线测算 名额 5（+20%）] 5 | 5 65.1 5",
			"[] 6 | 6 - -",
		})
		e.check(e.district, "scores", nil, []string{
			"[积分分布 70–75分] 1 | 1 - -",
			"[积分分布 75–80分] 0 | 0 - -",
			"[积分分布 80–85分] 2 | 2 - -",
			"[积分分布 85–90分] 0 | 0 - -",
			"[积分分布 90–95分] 1 | 1 - -",
			"[分数线测算 名额 3（-20%）] 2 | 2 82.5 2",
			"[分数线测算 名额 4] 3 | 3 82 3",
			"[分数线测算 名额 5（+20%）] 3 | 3 65.1 3",
			"[] 4 | 4 - -",
		})
	})
	t.Run("summary", func(t *testing.T) {
		e.check(e.city, "summary", reports.Params{"year": "2027"}, []string{
			"[申请人数] 7 | 7", "[涉及用人单位数] 2 | 2",
			"[状态：草稿] 0 | 0", "[状态：待单位审核] 0 | 0", "[状态：单位已退回] 1 | 1", "[状态：单位已提交] 0 | 0",
			"[状态：数据比对中] 0 | 0", "[状态：初核结果已出] 6 | 6", "[状态：已申请复查] 0 | 0", "[状态：审核完成] 0 | 0",
			"[状态：已公示] 0 | 0", "[已出初核结果] 6 | 6", "[比对差异：未处理] 2 | 2", "[比对差异：已处理] 3 | 3",
			"[复查案件] 0 | 0", "[虚假材料库生效记录（禁止本年度申报）] 0 | 0", "[排名已确认（1 是，0 否）] 7 | 0",
			"[达线人数] 0 | 0", "[已公示（1 是，0 否）] 7 | 0", "[] 7 | 7",
		})
		e.check(e.district, "summary", nil, []string{
			"[申请人数] 5 | 5", "[涉及用人单位数] 1 | 1",
			"[状态：草稿] 0 | 0", "[状态：待单位审核] 0 | 0", "[状态：单位已退回] 1 | 1", "[状态：单位已提交] 0 | 0",
			"[状态：数据比对中] 0 | 0", "[状态：初核结果已出] 4 | 4", "[状态：已申请复查] 0 | 0", "[状态：审核完成] 0 | 0",
			"[状态：已公示] 0 | 0", "[已出初核结果] 4 | 4", "[比对差异：未处理] 2 | 2", "[比对差异：已处理] 2 | 2",
			"[复查案件] 0 | 0", "[虚假材料库生效记录（禁止本年度申报）] 0 | 0", "[排名已确认（1 是，0 否）] 5 | 0",
			"[达线人数] 0 | 0", "[已公示（1 是，0 否）] 5 | 0", "[] 5 | 5",
		})
	})
	t.Run("workload", func(t *testing.T) {
		e.check(e.city, "workload", nil, []string{
			"[经办city1（city1）] 1 | 1 1 1 100",
			"[经办hd1（hd1）] 4 | 2 2 2 50",
			"[] 5 | 3 3 3 66.67",
		})
		e.check(e.district, "workload", nil, []string{
			"[经办hd1（hd1）] 4 | 2 2 2 50",
			"[] 4 | 2 2 2 50",
		})
	})
	t.Run("access", func(t *testing.T) {
		e.check(e.city, "access", reports.Params{"from": "2027-06-29", "to": "2027-06-30"}, []string{
			"[2027-06-29] 3 | 10 3 4 2 2 0",
			"[2027-06-30] 6 | 20 6 4 2 2 0",
			"[] 9 | 30 9 0 0 0 0",
		})
		if !e.access.asked[0].Equal(bj("2027-06-29 00:00")) || !e.access.asked[1].Equal(bj("2027-07-01 00:00")) {
			t.Errorf("asked %v", e.access.asked)
		}
		if _, err := e.reg.Run(e.Ctx, e.district, "access", nil); !apperr.Is(err, apperr.Forbidden) {
			t.Errorf("district officer on access: %v", err)
		}
	})
	t.Run("mail", func(t *testing.T) {
		op := e.staff("mail1", "", actor.MailOperator)
		e.check(op, "mail", reports.Params{"from": "2027-06-29", "to": "2027-06-30"}, []string{
			"[年度申报提醒 2027-06-30] 100 | 100 95 5 3",
			"[] 100 | 100 95 5 3",
		})
		if _, err := e.reg.Run(e.Ctx, e.city, "mail", nil); !apperr.Is(err, apperr.Forbidden) {
			t.Errorf("city officer on mail: %v", err)
		}
		if _, err := e.reg.Run(e.Ctx, op, "progress", nil); !apperr.Is(err, apperr.Forbidden) {
			t.Errorf("mail operator on progress: %v", err)
		}
	})
	t.Run("list", func(t *testing.T) {
		if n := len(e.reg.List()); n != 8 {
			t.Errorf("%d reports", n)
		}
		if n := len(e.reg.ListFor(e.district)); n != 6 {
			t.Errorf("district officer sees %d reports", n)
		}
	})
}

func TestBadParams(t *testing.T) {
	e := newEnv(t)
	applicant := actor.Actor{UserID: 999, Roles: []actor.Role{actor.Applicant}}
	cases := []struct {
		name, code string
		p          reports.Params
		field      string
	}{
		{"unknown code", "nope", nil, "code"},
		{"bad year", "summary", reports.Params{"year": "20x7"}, "year"},
		{"no such round", "summary", reports.Params{"year": "2031"}, "year"},
		{"bad date", "progress", reports.Params{"from": "2027-13-01"}, "from"},
		{"from after to", "progress", reports.Params{"from": "2027-05-02", "to": "2027-05-01"}, "to"},
		{"range too long", "progress", reports.Params{"from": "2020-01-01", "to": "2027-05-01"}, "from"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.reg.Run(e.Ctx, e.city, c.code, c.p)
			ae := apperr.As(err)
			if !apperr.Is(err, apperr.Invalid) || len(ae.Fields) != 1 || ae.Fields[0].Field != c.field {
				t.Fatalf("got %v", err)
			}
			if msg := ae.Fields[0].Message; msg == "" || msg[0] < 0x80 {
				t.Errorf("message %q is not in Chinese", msg)
			}
		})
	}
	if _, err := e.reg.Run(e.Ctx, applicant, "progress", nil); !apperr.Is(err, apperr.Forbidden) {
		t.Errorf("applicant: %v", err)
	}
}
