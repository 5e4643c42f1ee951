package app_test

import (
	"context"
	"net/url"
	"strconv"
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
	"jifen/internal/platform/mail"
	"jifen/internal/rules"
)

// fraudWorld is an employer of 海淀区 with three applicants, each with an
// application in the current round: the first a draft, the other two
// submitted to the employer; and logged-in clients for the employer's
// operator, the first applicant, two officers of 海淀区, one of 朝阳区 and
// one of the city.
type fraudWorld struct {
	a        *apptest.App
	credit   string
	ids      [3]string // ID numbers
	apps     [3]int64
	op, app1 *apptest.Client
	office   map[string]*apptest.Client
	today    string
}

func newFraudWorld(t *testing.T) *fraudWorld {
	t.Helper()
	a := apptest.Start(t)
	ctx := context.Background()
	rd, err := a.EnsureRound(ctx, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	w := &fraudWorld{a: a, credit: casetest.CreditCode(), office: map[string]*apptest.Client{},
		today: clock.BeijingDay(a.Clock.Now()).Format(time.DateOnly)}
	emp, op, err := a.Cases.Employers.Register(ctx, employer.Registration{CreditCode: w.credit, Name: "北京虚报科技有限公司",
		District: "海淀区", Address: "北京市海淀区某路1号", LegalRep: "张三", OperatorName: "李四", OperatorLogin: "fraud-op",
		Phone: "13800138000", Email: "fraud-op@example.cn", Password: apptest.Password, PrivacyVersion: account.PrivacyNoticeVersion})
	if err != nil {
		t.Fatal(err)
	}
	if emp, err = a.Cases.Employers.Decide(ctx, actor.SystemActor("test"), emp.ID, true, ""); err != nil {
		t.Fatal(err)
	}
	last := strconv.Itoa(rd.Year-1) + "-12"
	for i := range w.ids {
		w.ids[i] = casetest.IDNumber(true)
		login := "fraud-app" + strconv.Itoa(i+1)
		p, u, err := a.Cases.Persons.Register(ctx, person.Registration{IDNumber: w.ids[i], Name: "钱虚报", Login: login,
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
		who := actor.Actor{UserID: u.ID, Login: u.Login, Roles: []actor.Role{actor.Applicant}, PersonID: p.ID}
		ap, err := a.Cases.Applications.Open(ctx, who, application.Subject{PersonID: p.ID, EmployerID: emp.ID,
			BirthDate: p.BirthDate, Sex: p.Sex}, rd.ID, rd.Year)
		if err != nil {
			t.Fatal(err)
		}
		decl := rules.CalculatorRequest{ApplicationYear: rd.Year, BirthDate: p.BirthDate, Sex: p.Sex, ResidencePermit: true,
			SocialInsurance: []rules.PeriodInput{{From: "2012-07", To: last}},
			Housing:         []rules.HousingInput{{Kind: "owned", From: "2015-01", To: last, District: "昌平区"}},
			Education:       rules.EducationInput{Level: "bachelor", Diploma: true, Degree: true}}
		if _, err := a.Cases.Applications.SaveDraft(ctx, who, ap.ID, decl, ap.Version); err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			if _, err := a.Cases.Applications.SubmitToEmployer(ctx, who, ap.ID, true); err != nil {
				t.Fatal(err)
			}
		}
		w.apps[i] = ap.ID
	}
	w.op, w.app1 = a.Client(a.Internet), a.Client(a.Internet)
	if r := w.op.LoginAPI("fraud-op", apptest.Password); r.Status != 200 {
		t.Fatalf("operator login: %d", r.Status)
	}
	if r := w.app1.LoginAPI("fraud-app1", apptest.Password); r.Status != 200 {
		t.Fatalf("applicant login: %d", r.Status)
	}
	for _, s := range []struct {
		name, district string
		role           account.Role
	}{{"hd1", "海淀区", account.DistrictOfficer}, {"hd2", "海淀区", account.DistrictOfficer},
		{"cy", "朝阳区", account.DistrictOfficer}, {"city", "", account.CityOfficer}} {
		a.CreateUserIn(s.district, "fraud-"+s.name, s.role)
		c := a.Client(a.Office)
		a.LoginStaff(c, "fraud-"+s.name, apptest.Password)
		w.office[s.name] = c
	}
	return w
}

// entryID reads the entry's id from the redirect after a proposal.
func entryID(t *testing.T, r *apptest.Response) string {
	t.Helper()
	loc := r.Header.Get("Location")
	if r.Status != 303 || !strings.HasPrefix(loc, "/office/fraud/") {
		t.Fatalf("proposal: %d %s %s", r.Status, loc, r.Body)
	}
	return strings.TrimPrefix(loc, "/office/fraud/")
}

// The register through the real app: bad proposals name their field; an
// entry proposed by one officer cannot be approved by them; a second
// officer approves after a confirmation; the banned person cannot submit
// and is mailed; the employer sees why it cannot file a banned person's
// application; a banned employer files no one; another district's officer
// sees nothing.
func TestFraudRegisterThroughTheApp(t *testing.T) {
	w := newFraudWorld(t)
	hd1, hd2, cy, city := w.office["hd1"], w.office["hd2"], w.office["cy"], w.office["city"]

	// Bad input, over the API and the form.
	for _, c := range []struct {
		body  map[string]string
		field string
	}{
		{map[string]string{"kind": "person", "id_number": casetest.IDNumber(false), "what": "伪造学位证书", "decided_on": w.today}, "id_number"},
		{map[string]string{"kind": "employer", "credit_code": casetest.CreditCode(), "what": "伪造劳动合同", "decided_on": w.today}, "credit_code"},
		{map[string]string{"kind": "person", "id_number": w.ids[0], "what": "", "decided_on": w.today}, "what"},
	} {
		r := hd1.PostJSON("/api/v1/office/fraud", c.body)
		var e errBody
		r.JSON(&e)
		if r.Status != 400 || len(e.Error.Fields) != 1 || e.Error.Fields[0].Field != c.field {
			t.Errorf("%v: %d %s", c.body, r.Status, r.Body)
		}
	}
	if r := hd1.PostForm("/office/fraud", url.Values{"kind": {"person"}, "id_number": {"110101"}, "what": {"伪造学位证书"},
		"decided_on": {w.today}}); r.Status != 400 || !strings.Contains(r.Body, "has-error") {
		t.Fatalf("form with a bad ID number: %d", r.Status)
	}

	// Person 1: proposed by hd1 on the page; hd1 cannot approve it.
	id := entryID(t, hd1.PostForm("/office/fraud", url.Values{"kind": {"person"}, "id_number": {w.ids[0]}, "item": {"education"},
		"what": {"学位证书系伪造，学信网无此学位"}, "decided_on": {w.today}}))
	if r := hd1.Get("/office/fraud/" + id); r.Status != 200 || !strings.Contains(r.Body, "本人不能审批") || strings.Contains(r.Body, "/approve") {
		t.Fatalf("proposer's page: %d", r.Status)
	}
	if r := hd1.PostForm("/office/fraud/"+id+"/approve", url.Values{"confirmed": {"yes"}}); r.Status != 403 ||
		!strings.Contains(r.Body, "不能审批本人提出的虚假材料库记录") {
		t.Fatalf("self-approval on the page: %d", r.Status)
	}
	if r := hd1.PostJSON("/api/v1/office/fraud/"+id+"/approve", nil); r.Status != 403 {
		t.Fatalf("self-approval over the API: %d %s", r.Status, r.Body)
	}
	if r := cy.Get("/office/fraud/" + id); r.Status != 404 {
		t.Fatalf("another district's officer: %d", r.Status)
	}
	if r := cy.PostJSON("/api/v1/office/fraud/"+id+"/approve", nil); r.Status != 404 {
		t.Fatalf("another district's officer approved: %d", r.Status)
	}
	// Pending bars no one yet... the applicant may still submit later; hd2
	// approves after the confirmation step, which changes nothing.
	if r := hd2.PostForm("/office/fraud/"+id+"/approve", nil); r.Status != 200 || !strings.Contains(r.Body, "确认审批通过该虚假材料库记录？") {
		t.Fatalf("approve unconfirmed: %d %s", r.Status, r.Body)
	}
	if r := hd2.Get("/api/v1/office/fraud/" + id); !strings.Contains(r.Body, `"status":"pending"`) {
		t.Fatalf("approved without confirmation: %s", r.Body)
	}
	if r := hd2.PostForm("/office/fraud/"+id+"/approve", url.Values{"confirmed": {"yes"}}); r.Status != 303 {
		t.Fatalf("approve: %d %s", r.Status, r.Body)
	}
	if r := hd2.Get("/office/fraud/" + id); !strings.Contains(r.Body, "已生效") || !strings.Contains(r.Body, "不得申报") {
		t.Fatalf("entry after approval: %s", r.Body)
	}
	if r := city.PostJSON("/api/v1/office/fraud/"+id+"/approve", nil); r.Status != 409 {
		t.Fatalf("second approval: %d", r.Status)
	}
	year := strconv.Itoa(clock.BeijingDay(w.a.Clock.Now()).Year())
	r := w.app1.PostJSON("/api/v1/application/submit", map[string]bool{"truthful": true})
	if r.Status != 409 || !strings.Contains(r.Body, "您因提供虚假材料，"+year+"年至") {
		t.Fatalf("banned person submitted: %d %s", r.Status, r.Body)
	}
	msgs, err := w.a.Outbox.List(context.Background(), mail.Filter{Category: "fraud.in_force"})
	if err != nil || len(msgs) != 1 || msgs[0].To != "fraud-app1@example.cn" {
		t.Fatalf("mail to the person: %+v %v", msgs, err)
	}
	if r := hd2.Get("/office/fraud?status=in_force&q=" + w.ids[0]); !strings.Contains(r.Body, "/office/fraud/"+id+`"`) {
		t.Fatalf("list by ID number: %d", r.Status)
	}
	if r := cy.Get("/api/v1/office/fraud"); r.Status != 200 || !strings.Contains(r.Body, `"total":0`) {
		t.Fatalf("another district's list: %d %s", r.Status, r.Body)
	}
	// A conflict: the same person again.
	if r := city.PostJSON("/api/v1/office/fraud", map[string]string{"kind": "person", "id_number": w.ids[0],
		"what": "再次登记同一人", "decided_on": w.today}); r.Status != 409 {
		t.Fatalf("ban already in force: %d %s", r.Status, r.Body)
	}

	// Person 2, already with the employer: banned over the API; the
	// employer's page says why, and filing is refused.
	r = hd1.PostJSON("/api/v1/office/fraud", map[string]string{"kind": "person", "id_number": w.ids[1],
		"what": "伪造房屋产权证明", "decided_on": w.today})
	var e2 struct{ ID int64 }
	r.JSON(&e2)
	if r.Status != 201 || e2.ID == 0 {
		t.Fatalf("propose over the API: %d %s", r.Status, r.Body)
	}
	if r := city.PostJSON("/api/v1/office/fraud/"+strconv.FormatInt(e2.ID, 10)+"/approve", nil); r.Status != 200 ||
		!strings.Contains(r.Body, `"status":"in_force"`) {
		t.Fatalf("approve over the API: %d %s", r.Status, r.Body)
	}
	app2 := strconv.FormatInt(w.apps[1], 10)
	if r := w.op.Get("/employer/applications/" + app2); r.Status != 200 || !strings.Contains(r.Body, "申请人因提供虚假材料") {
		t.Fatalf("employer's page of a banned person: %d", r.Status)
	}
	if r := w.op.PostJSON("/api/v1/employer/applications/"+app2+"/file", nil); r.Status != 409 ||
		!strings.Contains(r.Body, "申请人因提供虚假材料") {
		t.Fatalf("filed a banned person: %d %s", r.Status, r.Body)
	}

	// The employer: proposed by the city, approved by hd2; it files no one.
	r = city.PostJSON("/api/v1/office/fraud", map[string]string{"kind": "employer", "credit_code": strings.ToLower(w.credit),
		"what": "为申请人出具虚假劳动合同", "decided_on": w.today})
	var e3 struct{ ID int64 }
	r.JSON(&e3)
	if r.Status != 201 {
		t.Fatalf("propose the employer: %d %s", r.Status, r.Body)
	}
	if r := hd2.PostJSON("/api/v1/office/fraud/"+strconv.FormatInt(e3.ID, 10)+"/reject", map[string]string{"note": ""}); r.Status != 400 {
		t.Fatalf("rejection without a reason: %d", r.Status)
	}
	if r := hd2.PostJSON("/api/v1/office/fraud/"+strconv.FormatInt(e3.ID, 10)+"/approve", nil); r.Status != 200 {
		t.Fatalf("approve the employer: %d %s", r.Status, r.Body)
	}
	app3 := strconv.FormatInt(w.apps[2], 10)
	if r := w.op.Get("/employer/applications/" + app3); !strings.Contains(r.Body, "本单位因协助提供虚假材料") {
		t.Fatalf("employer's page of its own ban: %d", r.Status)
	}
	if r := w.op.PostForm("/employer/applications/"+app3+"/file", url.Values{"confirmed": {"yes"}}); r.Status != 409 ||
		!strings.Contains(r.Body, "本单位因协助提供虚假材料") {
		t.Fatalf("a banned employer filed: %d", r.Status)
	}
	if msgs, _ := w.a.Outbox.List(context.Background(), mail.Filter{Category: "fraud.in_force", To: "fraud-op@example.cn"}); len(msgs) != 1 {
		t.Fatalf("mail to the operator: %+v", msgs)
	}
	// The entries show on the case, and the ranking's list names person 1 and 2.
	es, err := w.a.Cases.Fraud.ForApplication(context.Background(), w.apps[2])
	if err != nil || len(es) != 1 || es[0].ID != e3.ID {
		t.Fatalf("entries of case 3: %+v %v", es, err)
	}
	banned, err := w.a.Cases.Fraud.BannedPersons(context.Background(), clock.BeijingDay(w.a.Clock.Now()).Year())
	if err != nil || len(banned) != 2 {
		t.Fatalf("banned persons %v %v", banned, err)
	}
}
