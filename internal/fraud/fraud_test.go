package fraud_test

import (
	"strconv"
	"strings"
	"sync"
	"testing"

	"jifen/internal/account"
	"jifen/internal/actor"
	"jifen/internal/application"
	"jifen/internal/audit"
	"jifen/internal/casetest"
	"jifen/internal/employer"
	"jifen/internal/fraud"
	"jifen/internal/person"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
	"jifen/internal/platform/mail"
	"jifen/internal/rules"
)

func officer(id int64, login, district string, roles ...actor.Role) actor.Actor {
	return actor.Actor{UserID: id, Login: login, Roles: roles, District: district}
}

// fixture is an applicant of an employer in 海淀区 with an application in
// the 2027 round, the register wired into the application service, and
// officers: two of 海淀区, one of 朝阳区, one of the city.
type fixture struct {
	*casetest.Env
	svc      *fraud.Service
	emp      *employer.Employer
	opc      actor.Actor // the employer's operator
	person   *person.Person
	idNumber string
	me       actor.Actor // the applicant
	app      *application.Application
	a, b     actor.Actor
	other    actor.Actor
	city     actor.Actor
}

func setup(t *testing.T) *fixture {
	t.Helper()
	env := casetest.New(t)
	emp, op := env.VerifiedEmployer("fraud_op")
	id := casetest.IDNumber(true)
	p, u, err := env.Persons.Register(env.Ctx, person.Registration{IDNumber: id, Name: "赵虚报", Login: "fraud_app",
		Phone: "13900139000", Email: "fraud_app@example.cn", Password: casetest.Password, PrivacyVersion: account.PrivacyNoticeVersion})
	if err != nil {
		t.Fatal(err)
	}
	l, err := env.Persons.RequestLink(env.Ctx, p, env.RoundID, emp.RegCode)
	if err != nil {
		t.Fatal(err)
	}
	opc := casetest.OperatorActor(emp, op)
	if err := env.Persons.DecideLink(env.Ctx, opc, l.ID, true, ""); err != nil {
		t.Fatal(err)
	}
	me := actor.Actor{UserID: u.ID, Login: u.Login, Roles: []actor.Role{actor.Applicant}, PersonID: p.ID}
	app, err := env.Applications.Open(env.Ctx, me, application.Subject{PersonID: p.ID, EmployerID: emp.ID, BirthDate: p.BirthDate,
		Sex: p.Sex}, env.RoundID, env.Year)
	if err != nil {
		t.Fatal(err)
	}
	decl := rules.CalculatorRequest{ApplicationYear: 2027, BirthDate: p.BirthDate, Sex: p.Sex, ResidencePermit: true,
		SocialInsurance: []rules.PeriodInput{{From: "2012-07", To: "2026-12"}},
		Housing:         []rules.HousingInput{{Kind: "owned", From: "2015-01", To: "2026-12", District: "昌平区"}},
		Education:       rules.EducationInput{Level: "master", Diploma: true, Degree: true}}
	if app, err = env.Applications.SaveDraft(env.Ctx, me, app.ID, decl, app.Version); err != nil {
		t.Fatal(err)
	}
	f := &fixture{Env: env, emp: emp, opc: opc, person: p, idNumber: id, me: me, app: app,
		a: officer(9001, "officer_a", "海淀区", actor.DistrictOfficer), b: officer(9002, "officer_b", "海淀区", actor.DistrictOfficer),
		other: officer(9003, "officer_c", "朝阳区", actor.DistrictOfficer), city: officer(9004, "city", "", actor.CityOfficer)}
	f.svc = fraud.NewService(env.DB, env.Audit, env.Clock, env.Outbox, env.Persons, env.Applications)
	env.Applications.WithBans(f.svc)
	return f
}

func (f *fixture) proposePerson(t *testing.T, by actor.Actor) *fraud.Entry {
	t.Helper()
	e, err := f.svc.Propose(f.Ctx, by, fraud.Proposal{Kind: fraud.Person, IDNumber: f.idNumber, Item: rules.CodeEducation,
		What: "学位证书系伪造，学信网无此学位", DecidedOn: "2027-04-01"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func code(err error) apperr.Code { return apperr.CodeOf(err) }

func fieldOf(t *testing.T, err error, field string) string {
	t.Helper()
	ae := apperr.As(err)
	if ae == nil || ae.Code != apperr.Invalid {
		t.Fatalf("want a field error on %s, got %v", field, err)
	}
	for _, fe := range ae.Fields {
		if fe.Field == field {
			return fe.Message
		}
	}
	t.Fatalf("no error on %s in %+v", field, ae.Fields)
	return ""
}

// An entry waits for a second officer; the proposer cannot approve it;
// once approved, the person cannot submit and the employer cannot file,
// each told why; the ban covers the decision's year and the next five.
func TestFourEyesAndTheBanTakesEffect(t *testing.T) {
	f := setup(t)
	e := f.proposePerson(t, f.a)
	if e.Status != fraud.Pending || e.BanFrom != 2027 || e.BanTo != 2032 || e.District != "海淀区" || e.SubjectName != "赵虚报" {
		t.Fatalf("proposed entry %+v", e)
	}
	// Pending bars no one.
	if why, err := f.svc.PersonBan(f.Ctx, f.person.ID, 2027); err != nil || why != "" {
		t.Fatalf("pending entry bars: %q %v", why, err)
	}
	if _, err := f.svc.Approve(f.Ctx, f.a, e.ID); code(err) != apperr.Forbidden || !strings.Contains(err.Error(), "不能审批本人提出") {
		t.Fatalf("self-approval: %v", err)
	}
	if _, err := f.svc.Approve(f.Ctx, f.other, e.ID); code(err) != apperr.NotFound {
		t.Fatalf("another district's officer approved: %v", err)
	}
	got, err := f.svc.Approve(f.Ctx, f.b, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != fraud.InForce || got.DecidedBy != f.b.UserID || got.Version != e.Version+1 {
		t.Fatalf("approved %+v", got)
	}
	if _, err := f.svc.Approve(f.Ctx, f.city, e.ID); code(err) != apperr.Conflict {
		t.Fatalf("second approval: %v", err)
	}
	for y, want := range map[int]bool{2026: false, 2027: true, 2032: true, 2033: false} {
		why, err := f.svc.PersonBan(f.Ctx, f.person.ID, y)
		if err != nil || (why != "") != want {
			t.Errorf("ban in %d: %q %v", y, why, err)
		}
	}
	banned, err := f.svc.BannedPersons(f.Ctx, 2027)
	if err != nil || banned[f.person.ID] != "因提供虚假材料，2027年至2032年不得申报" || len(banned) != 1 {
		t.Fatalf("banned persons %v %v", banned, err)
	}
	_, err = f.Applications.SubmitToEmployer(f.Ctx, f.me, f.app.ID, true)
	if code(err) != apperr.Conflict || !strings.Contains(err.Error(), "您因提供虚假材料，2027年至2032年不得申报") {
		t.Fatalf("banned person submitted: %v", err)
	}
	if p, emp, err := f.Applications.Barred(f.Ctx, f.app); err != nil || p == "" || emp != "" {
		t.Fatalf("barred: %q %q %v", p, emp, err)
	}
	// The case shows the entry, the timeline the ban, the person got a mail.
	es, err := f.svc.ForApplication(f.Ctx, f.app.ID)
	if err != nil || len(es) != 1 || es[0].ID != e.ID {
		t.Fatalf("entries of the case: %+v %v", es, err)
	}
	evs, err := f.Applications.Events(f.Ctx, f.me, f.app.ID)
	if err != nil {
		t.Fatal(err)
	}
	if last := evs[len(evs)-1]; !strings.Contains(last.Reason, "已列入虚假材料库") || last.To != application.Draft {
		t.Fatalf("timeline %+v", evs)
	}
	msgs, err := f.Outbox.List(f.Ctx, mail.Filter{Category: "fraud.in_force"})
	if err != nil || len(msgs) != 1 || msgs[0].To != "fraud_app@example.cn" || !strings.Contains(msgs[0].Text, "2027年至2032年") ||
		strings.Contains(msgs[0].Text, "伪造") || strings.Contains(msgs[0].Text, f.idNumber) {
		t.Fatalf("mail %+v %v", msgs, err)
	}
	// Audited: the proposal and the approval.
	rows, err := f.Audit.Search(f.Ctx, audit.Filter{ObjectType: "fraud_entry"})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, r := range rows {
		actions = append(actions, r.Action)
	}
	if j := strings.Join(actions, ","); !strings.Contains(j, "fraud.approve") || !strings.Contains(j, "fraud.propose") {
		t.Fatalf("audit %s", j)
	}
}

// A person banned after submitting is not filed by the employer, who is
// told why; a banned employer files no one.
func TestBannedEmployerAndPersonCannotBeFiled(t *testing.T) {
	f := setup(t)
	if _, err := f.Applications.SubmitToEmployer(f.Ctx, f.me, f.app.ID, true); err != nil {
		t.Fatal(err)
	}
	e, err := f.svc.Propose(f.Ctx, f.a, fraud.Proposal{Kind: fraud.Employer, CreditCode: strings.ToLower(f.emp.CreditCode),
		What: "出具虚假的劳动合同和社保证明", DecidedOn: "2027-03-15"})
	if err != nil {
		t.Fatal(err)
	}
	if e.EmployerID != f.emp.ID || e.District != "海淀区" {
		t.Fatalf("employer entry %+v", e)
	}
	if _, err := f.svc.Approve(f.Ctx, f.city, e.ID); err != nil {
		t.Fatal(err)
	}
	_, err = f.Applications.File(f.Ctx, f.opc, f.app.ID)
	if code(err) != apperr.Conflict || !strings.Contains(err.Error(), "本单位因协助提供虚假材料，2027年至2032年不得提交") {
		t.Fatalf("banned employer filed: %v", err)
	}
	msgs, err := f.Outbox.List(f.Ctx, mail.Filter{Category: "fraud.in_force"})
	if err != nil || len(msgs) != 1 || msgs[0].To != "fraud_op@example.cn" {
		t.Fatalf("operators' mail %+v %v", msgs, err)
	}
	// The employer's ban does not rank anyone out.
	if banned, err := f.svc.BannedPersons(f.Ctx, 2027); err != nil || len(banned) != 0 {
		t.Fatalf("banned persons %v %v", banned, err)
	}

	// Another employer, and the person banned: refused with the person's reason.
	g := setup(t)
	if _, err := g.Applications.SubmitToEmployer(g.Ctx, g.me, g.app.ID, true); err != nil {
		t.Fatal(err)
	}
	pe := g.proposePerson(t, g.a)
	if _, err := g.svc.Approve(g.Ctx, g.b, pe.ID); err != nil {
		t.Fatal(err)
	}
	_, err = g.Applications.File(g.Ctx, g.opc, g.app.ID)
	if code(err) != apperr.Conflict || !strings.Contains(err.Error(), "申请人因提供虚假材料") {
		t.Fatalf("banned person filed: %v", err)
	}
}

// Bad input: unknown or malformed ID numbers and credit codes name their
// field, an empty description is refused, a second entry while one waits
// or a ban is in force is a conflict, a rejection needs a reason.
func TestBadInput(t *testing.T) {
	f := setup(t)
	ok := fraud.Proposal{Kind: fraud.Person, IDNumber: f.idNumber, What: "伪造房屋租赁合同", DecidedOn: "2027-04-01"}
	cases := []struct {
		name  string
		p     func(p fraud.Proposal) fraud.Proposal
		by    actor.Actor
		field string
		want  string
	}{
		{"unknown ID number", func(p fraud.Proposal) fraud.Proposal { p.IDNumber = casetest.IDNumber(false); return p }, f.a, "id_number", "没有该身份证号码"},
		{"malformed ID number", func(p fraud.Proposal) fraud.Proposal { p.IDNumber = "12345"; return p }, f.a, "id_number", "身份证"},
		{"another district", func(p fraud.Proposal) fraud.Proposal { return p }, f.other, "id_number", "本区没有"},
		{"unknown credit code", func(p fraud.Proposal) fraud.Proposal {
			p.Kind, p.CreditCode = fraud.Employer, casetest.CreditCode()
			return p
		}, f.city, "credit_code", "没有该统一社会信用代码"},
		{"malformed credit code", func(p fraud.Proposal) fraud.Proposal { p.Kind, p.CreditCode = fraud.Employer, "91"; return p }, f.city, "credit_code", "统一社会信用代码"},
		{"empty what", func(p fraud.Proposal) fraud.Proposal { p.What = "  "; return p }, f.a, "what", "虚假材料"},
		{"no kind", func(p fraud.Proposal) fraud.Proposal { p.Kind = ""; return p }, f.a, "kind", "登记对象"},
		{"bad item", func(p fraud.Proposal) fraud.Proposal { p.Item = "salary"; return p }, f.a, "item", "指标"},
		{"no date", func(p fraud.Proposal) fraud.Proposal { p.DecidedOn = ""; return p }, f.a, "decided_on", "认定日期"},
		{"future date", func(p fraud.Proposal) fraud.Proposal { p.DecidedOn = "2027-05-01"; return p }, f.a, "decided_on", "不能晚于今天"},
		{"ban over", func(p fraud.Proposal) fraud.Proposal { p.DecidedOn = "2020-06-01"; return p }, f.a, "decided_on", "已届满"},
	}
	for _, c := range cases {
		_, err := f.svc.Propose(f.Ctx, c.by, c.p(ok))
		if msg := fieldOf(t, err, c.field); !strings.Contains(msg, c.want) {
			t.Errorf("%s: %q", c.name, msg)
		}
	}
	if _, err := f.svc.Propose(f.Ctx, f.me, ok); code(err) != apperr.NotFound {
		t.Fatalf("an applicant proposed: %v", err)
	}
	e, err := f.svc.Propose(f.Ctx, f.a, ok)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Propose(f.Ctx, f.city, ok); code(err) != apperr.Conflict || !strings.Contains(err.Error(), "待审批") {
		t.Fatalf("second pending: %v", err)
	}
	if _, err := f.svc.Reject(f.Ctx, f.b, e.ID, " "); fieldOf(t, err, "note") == "" {
		t.Fatal("empty rejection reason")
	}
	if _, err := f.svc.Reject(f.Ctx, f.a, e.ID, "证据不足"); code(err) != apperr.Forbidden {
		t.Fatalf("proposer rejected: %v", err)
	}
	r, err := f.svc.Reject(f.Ctx, f.b, e.ID, "证据不足，退回补充")
	if err != nil || r.Status != fraud.Rejected || r.Note != "证据不足，退回补充" {
		t.Fatalf("reject: %+v %v", r, err)
	}
	if es, _ := f.svc.ForApplication(f.Ctx, f.app.ID); len(es) != 0 {
		t.Fatalf("a rejected entry shows on the case: %+v", es)
	}
	e2, err := f.svc.Propose(f.Ctx, f.a, ok)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Approve(f.Ctx, f.b, e2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Propose(f.Ctx, f.city, ok); code(err) != apperr.Conflict || !strings.Contains(err.Error(), "禁止期2027年至2032年仍在执行") {
		t.Fatalf("ban already in force: %v", err)
	}
	// Scope: the other district neither sees nor lists it; the refusal is audited.
	if _, err := f.svc.Get(f.Ctx, f.other, e2.ID); code(err) != apperr.NotFound {
		t.Fatalf("other district read: %v", err)
	}
	denied, err := f.Audit.Search(f.Ctx, audit.Filter{ObjectType: "fraud_entry", Action: "access.denied"})
	if err != nil || len(denied) != 1 || denied[0].ActorLogin != "officer_c" {
		t.Fatalf("denied read audit %+v %v", denied, err)
	}
	l, err := f.svc.List(f.Ctx, f.other, fraud.Filter{})
	if err != nil || len(l.Entries) != 0 {
		t.Fatalf("other district lists %+v %v", l, err)
	}
	l, err = f.svc.List(f.Ctx, f.a, fraud.Filter{Query: f.idNumber})
	if err != nil || len(l.Entries) != 2 || l.Counts[fraud.InForce] != 1 || l.Counts[fraud.Rejected] != 1 {
		t.Fatalf("list by ID number %+v %v", l, err)
	}
	l, err = f.svc.List(f.Ctx, f.city, fraud.Filter{Status: fraud.InForce, Kind: fraud.Person, Query: "虚报"})
	if err != nil || len(l.Entries) != 1 || l.Entries[0].ID != e2.ID {
		t.Fatalf("list by name %+v %v", l, err)
	}
	if _, err := f.svc.List(f.Ctx, f.city, fraud.Filter{Status: "bogus"}); fieldOf(t, err, "status") == "" {
		t.Fatal("bad status filter")
	}
}

// Two officers approving (or one approving, one rejecting) the same entry
// at once: exactly one decision takes effect, one audit entry, one mail.
// On PostgreSQL every decider holds its transaction after reading the
// entry until all have read it, so all write from the same version; SQLite's
// one writer runs them one after another.
func TestConcurrentDecisionsOneWins(t *testing.T) {
	f := setup(t)
	e := f.proposePerson(t, f.a)
	deciders := []actor.Actor{f.b, f.city, officer(9005, "officer_d", "海淀区", actor.DistrictOfficer),
		officer(9006, "city_b", "", actor.CityOfficer)}
	n := len(deciders)
	if f.DB.Dialect == db.Postgres {
		var mu sync.Mutex
		arrived, all := 0, make(chan struct{})
		f.svc.SetAfterLoad(func() {
			mu.Lock()
			if arrived++; arrived == n {
				close(all)
			}
			mu.Unlock()
			<-all
		})
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, d := range deciders {
		wg.Go(func() {
			if i%2 == 0 {
				_, errs[i] = f.svc.Approve(f.Ctx, d, e.ID)
			} else {
				_, errs[i] = f.svc.Reject(f.Ctx, d, e.ID, "材料真实，不予认定")
			}
		})
	}
	wg.Wait()
	f.svc.SetAfterLoad(nil)
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case code(err) != apperr.Conflict:
			t.Fatalf("a loser got %v, want conflict", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d decisions took effect: %v", wins, errs)
	}
	got, err := f.svc.Get(f.Ctx, f.city, e.ID)
	if err != nil || got.Version != e.Version+1 {
		t.Fatalf("entry after the race %+v %v", got, err)
	}
	rows, err := f.Audit.Search(f.Ctx, audit.Filter{ObjectType: "fraud_entry", ObjectID: itoa(e.ID)})
	if err != nil {
		t.Fatal(err)
	}
	decisions := 0
	for _, r := range rows {
		if r.Action == "fraud.approve" || r.Action == "fraud.reject" {
			decisions++
		}
	}
	msgs, _ := f.Outbox.List(f.Ctx, mail.Filter{Category: "fraud.in_force"})
	if decisions != 1 || (got.Status == fraud.InForce) != (len(msgs) == 1) || len(msgs) > 1 {
		t.Fatalf("%d decisions audited, %d mails, status %s", decisions, len(msgs), got.Status)
	}
}

// Two proposals for the same person at once: one entry waits, the other
// proposal is a conflict (the partial unique index holds on PostgreSQL,
// where both may pass the check before either inserts).
func TestConcurrentProposalsOneEntry(t *testing.T) {
	f := setup(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = f.svc.Propose(f.Ctx, f.a, fraud.Proposal{Kind: fraud.Person, IDNumber: f.idNumber,
				What: "伪造学历证明材料", DecidedOn: "2027-04-01"})
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if code(err) != apperr.Conflict {
			t.Fatalf("want conflict, got %v", err)
		}
	}
	l, err := f.svc.List(f.Ctx, f.city, fraud.Filter{})
	if ok != 1 || err != nil || len(l.Entries) != 1 {
		t.Fatalf("%d proposals took, %d entries, %v", ok, len(l.Entries), err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
