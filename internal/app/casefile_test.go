package app_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"jifen/internal/account"
	"jifen/internal/actor"
	"jifen/internal/app/apptest"
	"jifen/internal/application"
	"jifen/internal/audit"
	"jifen/internal/casetest"
	"jifen/internal/employer"
	"jifen/internal/fraud"
	"jifen/internal/person"
	"jifen/internal/rules"
)

// caseWorld is an application of an employer in 海淀区, submitted to the
// employer with one image, and officers of 海淀区 and 朝阳区 and the city.
type caseWorld struct {
	a               *apptest.App
	appID, personID int64
	attID           int64
	idNumber        string
	hd, cy, city    *apptest.Client
	applicant       *apptest.Client
}

func newCaseWorld(t *testing.T) *caseWorld {
	t.Helper()
	a := apptest.Start(t)
	ctx := context.Background()
	rd, err := a.EnsureRound(ctx, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	emp, op, err := a.Cases.Employers.Register(ctx, employer.Registration{CreditCode: casetest.CreditCode(), Name: "北京案件科技有限公司",
		District: "海淀区", Address: "北京市海淀区某路1号", LegalRep: "张三", OperatorName: "李四", OperatorLogin: "case-op",
		Phone: "13800138000", Email: "case-op@example.cn", Password: apptest.Password, PrivacyVersion: account.PrivacyNoticeVersion})
	if err != nil {
		t.Fatal(err)
	}
	if emp, err = a.Cases.Employers.Decide(ctx, actor.SystemActor("test"), emp.ID, true, ""); err != nil {
		t.Fatal(err)
	}
	id := casetest.IDNumber(true)
	p, u, err := a.Cases.Persons.Register(ctx, person.Registration{IDNumber: id, Name: "赵案件", Login: "case-app",
		Phone: "13900139000", Email: "case-app@example.cn", Password: apptest.Password, PrivacyVersion: account.PrivacyNoticeVersion})
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
	ap, err := a.Cases.Applications.Open(ctx, who, application.Subject{PersonID: p.ID, EmployerID: emp.ID, BirthDate: p.BirthDate, Sex: p.Sex}, rd.ID, rd.Year)
	if err != nil {
		t.Fatal(err)
	}
	last := strconv.Itoa(rd.Year-1) + "-12"
	d := rules.CalculatorRequest{ApplicationYear: rd.Year, ResidencePermit: true, BirthDate: p.BirthDate, Sex: p.Sex,
		SocialInsurance: []rules.PeriodInput{{From: "2012-07", To: last}},
		Housing:         []rules.HousingInput{{Kind: "owned", From: "2015-01", To: last, District: "昌平区"}},
		Education:       rules.EducationInput{Level: "bachelor", Diploma: true, Degree: true},
		Workplaces:      []rules.WorkplaceInput{{From: "2012-07", To: last, District: "海淀区"}}}
	if _, err := a.Cases.Applications.SaveDraft(ctx, who, ap.ID, d, ap.Version); err != nil {
		t.Fatal(err)
	}
	att, err := a.Cases.Attachments.Add(ctx, who, ap.ID, "housing", "房产证.png", strings.NewReader("\x89PNG\r\n\x1a\n"+strings.Repeat("\x00", 64)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Cases.Applications.SubmitToEmployer(ctx, who, ap.ID, true); err != nil {
		t.Fatal(err)
	}
	w := &caseWorld{a: a, appID: ap.ID, personID: p.ID, attID: att.ID, idNumber: id}
	for _, s := range []struct {
		c        **apptest.Client
		login    string
		district string
		role     account.Role
	}{{&w.hd, "case-hd", "海淀区", account.DistrictOfficer}, {&w.cy, "case-cy", "朝阳区", account.DistrictOfficer},
		{&w.city, "case-city", "", account.CityOfficer}} {
		a.CreateUserIn(s.district, s.login, s.role)
		*s.c = a.Client(a.Office)
		a.LoginStaff(*s.c, s.login, apptest.Password)
	}
	w.applicant = a.Client(a.Internet)
	if r := w.applicant.LoginAPI("case-app", apptest.Password); r.Status != 200 {
		t.Fatalf("applicant login: %d", r.Status)
	}
	return w
}

func (w *caseWorld) path(rest string) string {
	return "/office/cases/" + strconv.FormatInt(w.appID, 10) + rest
}

// audited returns the audit rows of action on object, once buffered reads
// are written.
func (w *caseWorld) audited(t *testing.T, action, objType, objID string) []audit.Entry {
	t.Helper()
	ctx := context.Background()
	if err := w.a.Audit.FlushReads(ctx); err != nil {
		t.Fatal(err)
	}
	es, err := w.a.Audit.Search(ctx, audit.Filter{Action: action, ObjectType: objType, ObjectID: objID})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func TestCaseViewPagesAndAPI(t *testing.T) {
	w := newCaseWorld(t)
	masked := w.idNumber[:4] + strings.Repeat("*", 10) + w.idNumber[14:]
	r := w.hd.Get(w.path("?purpose=recheck"))
	if r.Status != 200 || !strings.Contains(r.Body, masked) || strings.Contains(r.Body, w.idNumber) || !strings.Contains(r.Body, "139****9000") ||
		!strings.Contains(r.Body, "复查") || !strings.Contains(r.Body, "合法稳定住所") || !strings.Contains(r.Body, "房产证.png") {
		t.Fatalf("case page: %d %s", r.Status, r.Body)
	}
	// Another district's officer: 404, audited as denied.
	if r := w.cy.Get(w.path("")); r.Status != 404 {
		t.Fatalf("other district: %d", r.Status)
	}
	if r := w.cy.Get("/api/v1/office/cases/" + strconv.FormatInt(w.appID, 10)); r.Status != 404 {
		t.Fatalf("other district, API: %d", r.Status)
	}
	denied := 0
	for _, e := range w.audited(t, "case.open", "application", strconv.FormatInt(w.appID, 10)) {
		if e.Outcome == audit.Denied && e.ActorLogin == "case-cy" {
			denied++
		}
	}
	if denied != 2 {
		t.Errorf("denied rows of case-cy: %d, want 2", denied)
	}
	if r := w.hd.Get("/office/cases/99999999"); r.Status != 404 {
		t.Errorf("unknown case: %d", r.Status)
	}
	// Reveal: a reason is required; with one, the full numbers in that answer only.
	if r := w.hd.PostForm(w.path("/reveal"), nil); r.Status != 400 || !strings.Contains(r.Body, "请填写查看完整身份信息的理由") || strings.Contains(r.Body, w.idNumber) {
		t.Fatalf("reveal without reason: %d", r.Status)
	}
	r = w.hd.PostForm(w.path("/reveal"), map[string][]string{"reason": {"核对身份证原件"}, "purpose": {"onsite"}})
	if r.Status != 200 || !strings.Contains(r.Body, w.idNumber) || !strings.Contains(r.Body, "13900139000") || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("reveal: %d %s", r.Status, r.Header.Get("Cache-Control"))
	}
	if r := w.hd.Get(w.path("")); strings.Contains(r.Body, w.idNumber) {
		t.Error("the next open shows the full number")
	}
	if es := w.audited(t, audit.ViewIDNumber, "person", strconv.FormatInt(w.personID, 10)); len(es) != 1 || !strings.Contains(es[0].Reason, "核对身份证原件") {
		t.Errorf("reveal rows: %+v", es)
	}
	var bad errBody
	rj := w.hd.PostJSON("/api/v1/office/cases/"+strconv.FormatInt(w.appID, 10)+"/reveal", map[string]string{})
	rj.JSON(&bad)
	if rj.Status != 400 || len(bad.Error.Fields) != 1 || bad.Error.Fields[0].Field != "reason" {
		t.Errorf("API reveal without reason: %d %s", rj.Status, rj.Body)
	}
	// The material inline, with its checked type, audited with the purpose.
	r = w.hd.Get(w.path("/attachments/" + strconv.FormatInt(w.attID, 10) + "?purpose=first_check"))
	if r.Status != 200 || r.Header.Get("Content-Type") != "image/png" || !strings.HasPrefix(r.Header.Get("Content-Disposition"), "inline") ||
		!strings.Contains(r.Header.Get("Content-Security-Policy"), "sandbox") || r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("attachment: %d %v", r.Status, r.Header)
	}
	if r := w.cy.Get(w.path("/attachments/" + strconv.FormatInt(w.attID, 10))); r.Status != 404 {
		t.Errorf("attachment of another district: %d", r.Status)
	}
	found := false
	for _, e := range w.audited(t, audit.ReadAttachment, "person", strconv.FormatInt(w.personID, 10)) {
		found = found || strings.HasPrefix(e.Reason, "目的：初核；")
	}
	if !found {
		t.Error("attachment view not audited with its purpose")
	}
	// Notes: required, audited, shown to officers.
	if r := w.hd.PostForm(w.path("/notes"), nil); r.Status != 400 || !strings.Contains(r.Body, "请填写备注内容") {
		t.Errorf("empty note: %d", r.Status)
	}
	if r := w.hd.PostForm(w.path("/notes"), map[string][]string{"body": {"已电话联系申请人核实住房情况"}}); r.Status != 303 {
		t.Fatalf("note: %d", r.Status)
	}
	rj = w.city.PostJSON("/api/v1/office/cases/"+strconv.FormatInt(w.appID, 10)+"/notes", map[string]string{"body": "市局抽查"})
	if rj.Status != 201 {
		t.Fatalf("API note: %d %s", rj.Status, rj.Body)
	}
	var c struct {
		IDNumber string `json:"id_number"`
		Revealed bool
		Notes    []struct{ Body, Office string }
		Items    []struct{ Code string }
	}
	rj = w.city.Get("/api/v1/office/cases/" + strconv.FormatInt(w.appID, 10))
	rj.JSON(&c)
	if rj.Status != 200 || c.IDNumber != masked || c.Revealed || len(c.Notes) != 2 || c.Notes[1].Office != "北京市人力社保局" || len(c.Items) != 11 {
		t.Fatalf("API case: %d %s", rj.Status, rj.Body)
	}
	if r := w.hd.Get(w.path("?purpose=nosuch")); r.Status != 400 {
		t.Errorf("unknown purpose: %d", r.Status)
	}

	// The applicant sees the offices, roles, times and purposes.
	if err := w.a.Audit.FlushReads(context.Background()); err != nil {
		t.Fatal(err)
	}
	var views struct {
		Views []struct{ Office, Role, Purpose string }
	}
	rj = w.applicant.Get("/api/v1/application/views")
	rj.JSON(&views)
	if rj.Status != 200 || len(views.Views) == 0 || strings.Contains(rj.Body, "case-hd") || strings.Contains(rj.Body, "测试") {
		t.Fatalf("views: %d %s", rj.Status, rj.Body)
	}
	seen := map[string]bool{}
	for _, v := range views.Views {
		seen[v.Office+"/"+v.Purpose] = true
	}
	for _, want := range []string{"海淀区人力社保局/复查", "海淀区人力社保局/核实身份", "海淀区人力社保局/初核", "北京市人力社保局/案件办理"} {
		if !seen[want] {
			t.Errorf("views lack %s: %v", want, seen)
		}
	}
	if r := w.applicant.Get("/me/views"); r.Status != 200 || !strings.Contains(r.Body, "海淀区人力社保局") || strings.Contains(r.Body, "case-hd") {
		t.Errorf("views page: %d", r.Status)
	}
	if r := w.applicant.Get("/me"); !strings.Contains(r.Body, `href="/me/views"`) {
		t.Error("/me does not link to the views")
	}
}

// TestCaseViewShowsTheFraudRegister: an entry proposed about the applicant
// shows on the case (the Fraud hook wired in app/casefile.go), marked as
// waiting for approval.
func TestCaseViewShowsTheFraudRegister(t *testing.T) {
	w := newCaseWorld(t)
	if r := w.hd.Get(w.path("")); strings.Contains(r.Body, `id="fraud"`) {
		t.Fatal("a fraud section without an entry")
	}
	u, err := w.a.Accounts.UserByLogin(context.Background(), "case-hd")
	if err != nil {
		t.Fatal(err)
	}
	day := w.a.Clock.Now().AddDate(0, 0, -1).Format("2006-01-02")
	if _, err := w.a.Cases.Fraud.Propose(context.Background(), u.Actor(), fraud.Proposal{Kind: fraud.Person,
		IDNumber: w.idNumber, What: "伪造房产证明材料", DecidedOn: day}); err != nil {
		t.Fatal(err)
	}
	r := w.hd.Get(w.path(""))
	if r.Status != 200 || !strings.Contains(r.Body, `id="fraud"`) || !strings.Contains(r.Body, "伪造房产证明材料") || !strings.Contains(r.Body, "待审批") {
		t.Fatalf("case page with a fraud entry: %d", r.Status)
	}
}
