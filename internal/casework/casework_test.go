package casework_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/actor"
	"jifen/internal/application"
	"jifen/internal/calendar"
	"jifen/internal/casetest"
	"jifen/internal/casework"
	"jifen/internal/employer"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/rules"
)

type env struct {
	*casetest.Env
	cw *casework.Service
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := casetest.New(t)
	cal := calendar.NewService(e.DB, e.Audit, e.Clock)
	cw := casework.NewService(e.DB, e.Audit, e.Clock, cal, e.Keys)
	e.Applications.WithDeadlines(cw)
	cw.WithTimeline(e.Applications)
	return &env{Env: e, cw: cw}
}

func declaration() rules.CalculatorRequest {
	return rules.CalculatorRequest{
		ResidencePermit: true,
		SocialInsurance: []rules.PeriodInput{{From: "2012-01", To: "2026-12"}},
		Education:       rules.EducationInput{Level: "master", Diploma: true, Degree: true},
	}
}

// employerIn registers and verifies an employer of a district.
func (e *env) employerIn(login, name, district string) (*employer.Employer, *account.User) {
	e.T.Helper()
	emp, op, err := e.Employers.Register(e.Ctx, employer.Registration{CreditCode: casetest.CreditCode(), Name: name,
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

// firstResult makes an application of emp that has its first result.
func (e *env) firstResult(login string, emp *employer.Employer, op *account.User) (actor.Actor, *application.Application) {
	e.T.Helper()
	_, me, a := e.Linked(login, emp, op)
	a, err := e.Applications.SaveDraft(e.Ctx, me, a.ID, declaration(), a.Version)
	if err != nil {
		e.T.Fatal(err)
	}
	if _, err = e.Applications.SubmitToEmployer(e.Ctx, me, a.ID, true); err != nil {
		e.T.Fatal(err)
	}
	if _, err = e.Applications.File(e.Ctx, casetest.OperatorActor(emp, op), a.ID); err != nil {
		e.T.Fatal(err)
	}
	if _, err := e.Applications.EnterCheck(e.Ctx, e.RoundID, a.ID); err != nil {
		e.T.Fatal(err)
	}
	if err := e.Applications.ApplyResults(e.Ctx, 1, []application.Result{{ID: a.ID, Score: 9000, Eligible: true}}); err != nil {
		e.T.Fatal(err)
	}
	return me, a
}

// staff creates an office account and returns it as an actor.
func (e *env) staff(login, district string, roles ...actor.Role) actor.Actor {
	e.T.Helper()
	u, err := e.Accounts.CreateUser(e.Ctx, account.NewUser{Login: login, DisplayName: "经办" + login, Zone: account.Office,
		Password: casetest.Password, Roles: roles, District: district})
	if err != nil {
		e.T.Fatal(err)
	}
	a := u.Actor()
	a.Name = u.DisplayName
	return a
}

// The tests do not run in parallel: casetest numbers its ID numbers and
// credit codes from one unguarded counter.
func TestClockIsSetByEveryStep(t *testing.T) {
	e := newEnv(t)
	emp, op := e.employerIn("op1", "北京海淀科技有限公司", "海淀区")
	me, a := e.firstResult("app1", emp, op)
	// The fake clock is Saturday 2027-04-10, 10:00 in Beijing: 5 working
	// days are Monday 04-12 to Friday 04-16.
	c, err := e.Applications.Clock(e.Ctx, me, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Step != application.StepFirstResult || c.Holder != "申请人" || c.DueAt.In(clock.Beijing).Format("2006-01-02 15:04") != "2027-04-16 23:59" {
		t.Fatalf("clock %+v", c)
	}
	var district string
	if err := e.DB.QueryRow(e.Ctx, `SELECT district FROM applications WHERE id = $1`, a.ID).Scan(&district); err != nil || district != "海淀区" {
		t.Fatalf("district %q %v", district, err)
	}
	// A round's own limit applies to the next step begun.
	city := e.staff("city1", "", actor.CityOfficer)
	if err := e.cw.SetLimit(e.Ctx, city, e.RoundID, application.StepReviewRequested, 1); err != nil {
		t.Fatal(err)
	}
	if err := e.cw.SetLimit(e.Ctx, city, e.RoundID, application.StepReviewRequested, 0); apperr.CodeOf(err) != apperr.Invalid {
		t.Fatalf("0 days: %v", err)
	}
	hd := e.staff("hd1", "海淀区", actor.DistrictOfficer)
	if err := e.cw.SetLimit(e.Ctx, hd, e.RoundID, application.StepReviewRequested, 3); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("district officer sets a limit: %v", err)
	}
	e.Clock.Set(time.Date(2027, 4, 12, 2, 0, 0, 0, time.UTC)) // Monday
	if err := e.Applications.RequestReview(e.Ctx, me, a.ID, []string{"education"}, "学历认证有误"); err != nil {
		t.Fatal(err)
	}
	c, _ = e.Applications.Clock(e.Ctx, me, a.ID)
	if c.Step != application.StepReviewRequested || c.Holder != "用人单位" || c.DueAt.In(clock.Beijing).Format("01-02") != "04-13" {
		t.Fatalf("after the request %+v", c)
	}
	if err := e.Applications.ForwardReview(e.Ctx, casetest.OperatorActor(emp, op), a.ID, "已提交学位证复印件"); err != nil {
		t.Fatal(err)
	}
	c, _ = e.Applications.Clock(e.Ctx, me, a.ID)
	if c.Step != application.StepReviewForwarded || c.Holder != "区人力社保局" || c.DueAt.In(clock.Beijing).Format("01-02") != "04-14" {
		t.Fatalf("after forwarding %+v", c)
	}
	if err := e.Applications.ReceiveReview(e.Ctx, "海淀区", a.ID); err != nil {
		t.Fatal(err)
	}
	c, _ = e.Applications.Clock(e.Ctx, me, a.ID)
	// 15 working days from Monday 04-12: 04-13 to 04-30 are 14 (劳动节
	// 05-01/02 falls on a weekend in 2027), Monday 05-03 the 15th.
	if c.Step != application.StepReviewReceived || c.DueAt.In(clock.Beijing).Format("01-02") != "05-03" || c.Overdue {
		t.Fatalf("after receiving %+v", c)
	}
	e.Clock.Set(time.Date(2027, 6, 1, 2, 0, 0, 0, time.UTC))
	if c, _ = e.Applications.Clock(e.Ctx, me, a.ID); !c.Overdue {
		t.Fatalf("past the deadline: %+v", c)
	}
}

func TestQueueScopeFiltersAndPages(t *testing.T) {
	e := newEnv(t)
	hdEmp, hdOp := e.employerIn("op1", "北京海淀科技有限公司", "海淀区")
	cyEmp, cyOp := e.employerIn("op2", "北京朝阳贸易有限公司", "朝阳区")
	var hdApps []*application.Application
	for i := range 5 {
		_, a := e.firstResult("hdapp"+string(rune('a'+i)), hdEmp, hdOp)
		hdApps = append(hdApps, a)
		e.Clock.Advance(time.Hour)
	}
	me, cyApp := e.firstResult("cyapp", cyEmp, cyOp)
	hd := e.staff("hd1", "海淀区", actor.DistrictOfficer)
	city := e.staff("city1", "", actor.CityOfficer)

	pg, err := e.cw.Queue(e.Ctx, hd, casework.Filter{RoundID: e.RoundID})
	if err != nil {
		t.Fatal(err)
	}
	if len(pg.Rows) != 5 || pg.Counts["first_result"] != 5 || pg.Open != 5 {
		t.Fatalf("district queue: %d rows, counts %v", len(pg.Rows), pg.Counts)
	}
	for _, r := range pg.Rows {
		if r.District != "海淀区" || r.DueAt == nil || r.Holder != "申请人" {
			t.Fatalf("row %+v", r)
		}
	}
	// The figures alone: the same counts, no rows read.
	if c, err := e.cw.Queue(e.Ctx, hd, casework.Filter{RoundID: e.RoundID, CountsOnly: true}); err != nil || len(c.Rows) != 0 ||
		c.Open != 5 || c.Counts["first_result"] != 5 || c.Next != "" {
		t.Fatalf("counts only: %+v %v", c, err)
	}
	// A district officer's district always applies, whatever is asked.
	if pg, _ := e.cw.Queue(e.Ctx, hd, casework.Filter{RoundID: e.RoundID, District: "朝阳区"}); len(pg.Rows) != 5 {
		t.Fatalf("district officer asks for 朝阳区: %d rows", len(pg.Rows))
	}
	pg, _ = e.cw.Queue(e.Ctx, city, casework.Filter{RoundID: e.RoundID})
	if len(pg.Rows) != 6 {
		t.Fatalf("city queue: %d", len(pg.Rows))
	}
	pg, _ = e.cw.Queue(e.Ctx, city, casework.Filter{RoundID: e.RoundID, District: "朝阳区"})
	if len(pg.Rows) != 1 || pg.Rows[0].ID != cyApp.ID {
		t.Fatalf("city, 朝阳区: %+v", pg.Rows)
	}

	// Keyset pages in deadline order, each page ≤ limit, nothing repeated.
	seen := map[int64]bool{}
	var last time.Time
	after := ""
	for pages := 0; ; pages++ {
		pg, err := e.cw.Queue(e.Ctx, city, casework.Filter{RoundID: e.RoundID, Limit: 2, After: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range pg.Rows {
			if seen[r.ID] || r.DueAt.Before(last) {
				t.Fatalf("page %d: %d repeated or out of order", pages, r.ID)
			}
			seen[r.ID], last = true, *r.DueAt
		}
		if pg.Next == "" {
			break
		}
		after = pg.Next
	}
	if len(seen) != 6 {
		t.Fatalf("pages covered %d cases", len(seen))
	}
	if _, err := e.cw.Queue(e.Ctx, city, casework.Filter{RoundID: e.RoundID, After: "x'; DROP"}); apperr.CodeOf(err) != apperr.Invalid {
		t.Fatalf("bad cursor: %v", err)
	}
	if _, err := e.cw.Queue(e.Ctx, city, casework.Filter{RoundID: e.RoundID, Status: "nonsense"}); apperr.CodeOf(err) != apperr.Invalid {
		t.Fatalf("bad status: %v", err)
	}

	// Search: the employer's name, the applicant's name, the ID number
	// through the blind index.
	if pg, _ := e.cw.Queue(e.Ctx, city, casework.Filter{RoundID: e.RoundID, Q: "朝阳贸易"}); len(pg.Rows) != 1 {
		t.Fatalf("by employer name: %d", len(pg.Rows))
	}
	if pg, _ := e.cw.Queue(e.Ctx, city, casework.Filter{RoundID: e.RoundID, Q: "王小"}); len(pg.Rows) != 6 {
		t.Fatalf("by applicant name: %d", len(pg.Rows))
	}
	if pg, _ := e.cw.Queue(e.Ctx, city, casework.Filter{RoundID: e.RoundID, Q: "100%_"}); len(pg.Rows) != 0 {
		t.Fatalf("LIKE wildcards match: %d", len(pg.Rows))
	}
	p, err := e.Persons.Get(e.Ctx, me.PersonID)
	if err != nil {
		t.Fatal(err)
	}
	full, err := e.Persons.FullIDNumber(e.Ctx, me, p, "test")
	if err != nil {
		t.Fatal(err)
	}
	if pg, _ := e.cw.Queue(e.Ctx, city, casework.Filter{RoundID: e.RoundID, Q: full}); len(pg.Rows) != 1 || pg.Rows[0].ID != cyApp.ID {
		t.Fatalf("by ID number: %+v", pg.Rows)
	}
	if pg, _ := e.cw.Queue(e.Ctx, hd, casework.Filter{RoundID: e.RoundID, Q: full}); len(pg.Rows) != 0 {
		t.Fatalf("district officer finds another district's applicant by ID number")
	}
	// 公示编号, through the ranking's numbers.
	cwn := casework.NewService(e.DB, e.Audit, e.Clock, calendar.NewService(e.DB, e.Audit, e.Clock), e.Keys).
		WithPublicNumbers(numbers{"202700001": hdApps[2].ID})
	if pg, _ := cwn.Queue(e.Ctx, city, casework.Filter{RoundID: e.RoundID, Q: "202700001"}); len(pg.Rows) != 1 || pg.Rows[0].ID != hdApps[2].ID {
		t.Fatalf("by 公示编号: %+v", pg.Rows)
	}
	if pg, _ := cwn.Queue(e.Ctx, city, casework.Filter{RoundID: e.RoundID, Q: "202799999"}); len(pg.Rows) != 0 {
		t.Fatalf("unknown 公示编号: %+v", pg.Rows)
	}

	// Filters: status, indicator of the 复查 request, discrepancy, employer,
	// assignee, overdue.
	if err := e.Applications.RequestReview(e.Ctx, me, cyApp.ID, []string{"education"}, "学历有误"); err != nil {
		t.Fatal(err)
	}
	pg, _ = e.cw.Queue(e.Ctx, city, casework.Filter{RoundID: e.RoundID, Status: "review_requested"})
	if len(pg.Rows) != 1 || pg.Rows[0].Holder != "用人单位" || pg.Counts["first_result"] != 5 || pg.Counts["review_requested"] != 1 {
		t.Fatalf("status filter: %+v %v", pg.Rows, pg.Counts)
	}
	if pg, err := e.cw.Queue(e.Ctx, city, casework.Filter{RoundID: e.RoundID, Indicator: "education"}); err != nil || len(pg.Rows) != 1 {
		t.Fatalf("indicator: %v", err)
	}
	if pg, _ := e.cw.Queue(e.Ctx, city, casework.Filter{RoundID: e.RoundID, Indicator: "housing"}); len(pg.Rows) != 0 {
		t.Fatalf("indicator housing: %d", len(pg.Rows))
	}
	if pg, _ := e.cw.Queue(e.Ctx, city, casework.Filter{RoundID: e.RoundID, Discrepancy: "yes"}); len(pg.Rows) != 0 {
		t.Fatalf("discrepancy yes: %d", len(pg.Rows))
	}
	if pg, _ := e.cw.Queue(e.Ctx, city, casework.Filter{RoundID: e.RoundID, Outcome: "match"}); len(pg.Rows) != 6 {
		t.Fatalf("outcome match: %d", len(pg.Rows))
	}
	if pg, _ := e.cw.Queue(e.Ctx, city, casework.Filter{RoundID: e.RoundID, EmployerID: cyEmp.ID}); len(pg.Rows) != 1 {
		t.Fatalf("employer: %d", len(pg.Rows))
	}
	if _, err := e.cw.Claim(e.Ctx, hd, hdApps[0].ID); err != nil {
		t.Fatal(err)
	}
	if pg, _ := e.cw.Queue(e.Ctx, city, casework.Filter{RoundID: e.RoundID, Assignee: hd.UserID}); len(pg.Rows) != 1 ||
		pg.Rows[0].AssigneeName != "经办hd1" {
		t.Fatalf("assignee: %+v", pg.Rows)
	}
	if pg, _ := e.cw.Queue(e.Ctx, city, casework.Filter{RoundID: e.RoundID, Assignee: -1}); len(pg.Rows) != 5 {
		t.Fatalf("unassigned: %d", len(pg.Rows))
	}
	if pg, _ := e.cw.Queue(e.Ctx, city, casework.Filter{RoundID: e.RoundID, Overdue: true}); len(pg.Rows) != 0 || pg.Overdue != 0 {
		t.Fatalf("overdue now: %d", len(pg.Rows))
	}
	e.Clock.Set(time.Date(2027, 5, 20, 2, 0, 0, 0, time.UTC))
	pg, _ = e.cw.Queue(e.Ctx, hd, casework.Filter{RoundID: e.RoundID, Overdue: true})
	if len(pg.Rows) != 5 || pg.Overdue != 5 || !pg.Rows[0].Overdue {
		t.Fatalf("overdue later: %d rows, %d counted", len(pg.Rows), pg.Overdue)
	}
	// Two statements a page: the rows and the counts.
	ctx, n := db.CountQueries(e.Ctx)
	if _, err := e.cw.Queue(ctx, city, casework.Filter{RoundID: e.RoundID, Q: "王", Discrepancy: "no", Overdue: true}); err != nil {
		t.Fatal(err)
	}
	if n.N() != 2 {
		t.Fatalf("a queue page costs %d statements: %v", n.N(), n.Statements())
	}
	// Without case rights: forbidden.
	if _, err := e.cw.Queue(e.Ctx, me, casework.Filter{RoundID: e.RoundID}); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("applicant reads the queue: %v", err)
	}
}

type numbers map[string]int64

func (n numbers) ApplicationOf(_ context.Context, _ int64, number string) (int64, bool, error) {
	id, ok := n[number]
	return id, ok, nil
}

func TestClaimReleaseAssign(t *testing.T) {
	e := newEnv(t)
	hdEmp, hdOp := e.employerIn("op1", "北京海淀科技有限公司", "海淀区")
	cyEmp, cyOp := e.employerIn("op2", "北京朝阳贸易有限公司", "朝阳区")
	me, a := e.firstResult("app1", hdEmp, hdOp)
	_, b := e.firstResult("app2", hdEmp, hdOp)
	_, other := e.firstResult("app3", cyEmp, cyOp)
	hd1 := e.staff("hd1", "海淀区", actor.DistrictOfficer)
	hd2 := e.staff("hd2", "海淀区", actor.DistrictOfficer)
	boss := e.staff("boss", "海淀区", actor.DistrictSupervisor)
	cy := e.staff("cy1", "朝阳区", actor.DistrictOfficer)
	city := e.staff("city1", "", actor.CityOfficer)

	if _, err := e.cw.Claim(e.Ctx, hd1, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cw.Claim(e.Ctx, hd1, a.ID); err != nil {
		t.Fatalf("claiming one's own case again: %v", err)
	}
	// The applicant's timeline says the case was taken up, by a role.
	evs, err := e.Applications.Events(e.Ctx, me, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if last := evs[len(evs)-1]; last.Reason != "经办人员认领办理" || last.ActorRole != string(actor.DistrictOfficer) ||
		last.To != application.FirstResult || len(evs) < 2 || evs[len(evs)-2].Reason == last.Reason {
		t.Fatalf("timeline after the claim (once): %+v", evs)
	}
	_, err = e.cw.Claim(e.Ctx, hd2, a.ID)
	if !apperr.Is(err, apperr.Conflict) || !strings.Contains(apperr.As(err).Message, "经办hd1") {
		t.Fatalf("second claim: %v", err)
	}
	// Another district's case is not found, and the refusal is audited.
	if _, err := e.cw.Claim(e.Ctx, cy, a.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("朝阳区 claims a 海淀区 case: %v", err)
	}
	if err := e.cw.RequireAssigned(e.Ctx, hd1, a.ID); err != nil {
		t.Fatal(err)
	}
	for _, who := range []actor.Actor{hd2, city, cy} {
		if err := e.cw.RequireAssigned(e.Ctx, who, a.ID); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("%s not holding the case: %v", who.Login, err)
		}
	}
	var denied int
	if err := e.DB.QueryRow(e.Ctx, `SELECT count(*) FROM audit_log WHERE action = 'case.access.denied' AND outcome = 'denied'`).
		Scan(&denied); err != nil || denied < 4 {
		t.Fatalf("denied accesses audited: %d %v", denied, err)
	}
	// Only the holder or a supervisor releases.
	if err := e.cw.Release(e.Ctx, hd2, a.ID); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("hd2 releases hd1's case: %v", err)
	}
	if err := e.cw.Release(e.Ctx, hd1, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.cw.Release(e.Ctx, hd1, a.ID); err != nil {
		t.Fatalf("releasing twice: %v", err)
	}
	// Assignment by the supervisor; officers cannot assign.
	if _, err := e.cw.Assign(e.Ctx, hd1, a.ID, hd2.UserID); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("officer assigns: %v", err)
	}
	if _, err := e.cw.Assign(e.Ctx, boss, a.ID, cy.UserID); apperr.CodeOf(err) != apperr.Invalid {
		t.Fatalf("supervisor assigns to another district's officer: %v", err)
	}
	if _, err := e.cw.Assign(e.Ctx, boss, other.ID, hd1.UserID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("supervisor assigns another district's case: %v", err)
	}
	if _, err := e.cw.Assign(e.Ctx, boss, a.ID, hd2.UserID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cw.Assign(e.Ctx, boss, a.ID, hd1.UserID); err != nil { // reassignment
		t.Fatal(err)
	}
	res, err := e.cw.BulkAssign(e.Ctx, boss, []int64{a.ID, b.ID, other.ID}, hd2.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if !res[0].OK || !res[1].OK || res[2].OK {
		t.Fatalf("bulk: %+v", res)
	}
	if _, err := e.cw.Assign(e.Ctx, city, other.ID, cy.UserID); err != nil {
		t.Fatalf("city assigns: %v", err)
	}
	load, err := e.cw.Workload(e.Ctx, boss)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, l := range load {
		got[l.Login] = l.Held
	}
	if got["hd2"] != 2 || got["hd1"] != 0 || len(load) != 3 {
		t.Fatalf("workload %+v", load)
	}
}

// Of officers claiming one case at once, exactly one wins; the others are
// told who holds it.
func TestConcurrentClaims(t *testing.T) {
	e := newEnv(t)
	emp, op := e.employerIn("op1", "北京海淀科技有限公司", "海淀区")
	_, a := e.firstResult("app1", emp, op)
	const n = 6
	officers := make([]actor.Actor, n)
	for i := range officers {
		officers[i] = e.staff("hd"+string(rune('a'+i)), "海淀区", actor.DistrictOfficer)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range officers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = e.cw.Claim(e.Ctx, officers[i], a.ID)
		}()
	}
	close(start)
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case apperr.Is(err, apperr.Conflict) && strings.Contains(apperr.As(err).Message, "认领办理"):
		default:
			t.Fatalf("claim: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d officers hold the case", won)
	}
	var rows int
	if err := e.DB.QueryRow(e.Ctx, `SELECT count(*) FROM case_assignments WHERE application_id = $1`, a.ID).Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("assignments %d %v", rows, err)
	}
}
