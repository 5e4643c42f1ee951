package application_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"jifen/internal/application"
	"jifen/internal/audit"
	"jifen/internal/casetest"
	"jifen/internal/person"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/mail"
	"jifen/internal/rules"
)

func declaration() rules.CalculatorRequest {
	return rules.CalculatorRequest{
		ResidencePermit: true,
		SocialInsurance: []rules.PeriodInput{{From: "2012-01", To: "2026-12"}},
		Housing:         []rules.HousingInput{{Kind: "owned", From: "2015-01", To: "2026-12", District: "昌平区"}},
		Education:       rules.EducationInput{Level: "master", Diploma: true, Degree: true},
		Workplaces:      []rules.WorkplaceInput{{From: "2012-01", To: "2026-12", District: "海淀区"}},
	}
}

func fieldOf(t *testing.T, err error) string {
	t.Helper()
	e := apperr.As(err)
	if e.Code != apperr.Invalid || len(e.Fields) == 0 {
		t.Fatalf("want a field error, got %v", err)
	}
	return e.Fields[0].Field
}

func TestLifecycleWithTimelineAndMail(t *testing.T) {
	e := casetest.New(t)
	emp, op := e.VerifiedEmployer("op1")
	_, me, a := e.Linked("app1", emp, op)
	if a.Status != application.Draft || a.Declaration.ApplicationYear != 2027 {
		t.Fatalf("open: %+v", a)
	}
	a, err := e.Applications.SaveDraft(e.Ctx, me, a.ID, declaration(), a.Version)
	if err != nil {
		t.Fatal(err)
	}
	if a.Estimate <= 0 || !a.Eligible {
		t.Fatalf("estimate %v eligible %v", a.Estimate, a.Eligible)
	}
	if _, err := e.Applications.SubmitToEmployer(e.Ctx, me, a.ID, false); fieldOf(t, err) != "truthful" {
		t.Fatal("submitted without the truthfulness statement")
	}
	if a, err = e.Applications.SubmitToEmployer(e.Ctx, me, a.ID, true); err != nil || a.Status != application.WithEmployer {
		t.Fatalf("submit: %v %v", a, err)
	}
	// Double submission is idempotent: same application, same answer.
	again, err := e.Applications.SubmitToEmployer(e.Ctx, me, a.ID, true)
	if err != nil || again.Version != a.Version {
		t.Fatalf("second submit: %v %v", again, err)
	}
	if _, err := e.Applications.SaveDraft(e.Ctx, me, a.ID, declaration(), 0); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("edited while with the employer: %v", err)
	}
	opc := casetest.OperatorActor(emp, op)
	if _, err := e.Applications.Return(e.Ctx, opc, a.ID, ""); fieldOf(t, err) != "reason" {
		t.Fatal("returned without a reason")
	}
	a, err = e.Applications.Return(e.Ctx, opc, a.ID, "请补充房产证")
	if err != nil || a.Status != application.Returned || a.ReturnReason != "请补充房产证" {
		t.Fatalf("return: %v %v", a, err)
	}
	if _, err = e.Applications.SubmitToEmployer(e.Ctx, me, a.ID, true); err != nil {
		t.Fatal(err)
	}
	e.Windows.Close("employer_submission")
	if _, err := e.Applications.File(e.Ctx, opc, a.ID); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("filed outside the window: %v", err)
	}
	e.Windows.Open("employer_submission")
	a, err = e.Applications.File(e.Ctx, opc, a.ID)
	if err != nil || a.Status != application.Submitted {
		t.Fatalf("file: %v %v", a, err)
	}
	if b, err := e.Applications.File(e.Ctx, opc, a.ID); err != nil || b.Version != a.Version {
		t.Fatalf("second file: %v", err)
	}
	if got := timeline(t, e, me, a.ID); got != "draft,with_employer,returned,with_employer,submitted" {
		t.Fatalf("timeline %s", got)
	}
	msgs, err := e.Outbox.List(e.Ctx, mail.Filter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) < 5 { // applicant ×4 + operator ×2
		t.Fatalf("%d mails queued", len(msgs))
	}
	for _, m := range msgs {
		if !strings.Contains(m.Subject, "积分落户") || m.To == "" {
			t.Fatalf("mail %+v", m)
		}
	}
}

func TestDeclarationValidation(t *testing.T) {
	e := casetest.New(t)
	emp, op := e.VerifiedEmployer("op1")
	_, me, a := e.Linked("app1", emp, op)
	cases := map[string]func(d *rules.CalculatorRequest){
		"social_insurance[0].from": func(d *rules.CalculatorRequest) { d.SocialInsurance[0].From = "2012-13" },
		"social_insurance[1]": func(d *rules.CalculatorRequest) {
			d.SocialInsurance = append(d.SocialInsurance, rules.PeriodInput{From: "2015-01", To: "2016-01"})
		},
		"housing[0]":          func(d *rules.CalculatorRequest) { d.Housing[0].From, d.Housing[0].To = "2020-01", "2019-01" },
		"housing[0].to":       func(d *rules.CalculatorRequest) { d.Housing[0].To = "2027-03" },
		"housing[0].district": func(d *rules.CalculatorRequest) { d.Housing[0].District = "浦东新区" },
	}
	for want, mutate := range cases {
		t.Run(want, func(t *testing.T) {
			d := declaration()
			mutate(&d)
			_, err := e.Applications.SaveDraft(e.Ctx, me, a.ID, d, 0)
			got := fieldOf(t, err)
			if !strings.HasPrefix(got, want) {
				t.Fatalf("field %q, want %q (%v)", got, want, err)
			}
		})
	}
	// The application window closed: no saving.
	e.Windows.Close("application")
	if _, err := e.Applications.SaveDraft(e.Ctx, me, a.ID, declaration(), 0); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("saved outside the window: %v", err)
	}
}

func TestSomebodyElsesApplicationIsNotFoundAndAudited(t *testing.T) {
	e := casetest.New(t)
	emp, op := e.VerifiedEmployer("op1")
	other, op2 := e.VerifiedEmployer("op2")
	_, _, mine := e.Linked("app1", emp, op)
	_, thief, _ := e.Linked("app2", other, op2)
	if _, err := e.Applications.Get(e.Ctx, thief, mine.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("another applicant: %v", err)
	}
	if _, err := e.Applications.SaveDraft(e.Ctx, thief, mine.ID, declaration(), 0); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("another applicant saved: %v", err)
	}
	if _, err := e.Applications.File(e.Ctx, casetest.OperatorActor(other, op2), mine.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("another employer filed: %v", err)
	}
	denied, err := e.Audit.Search(e.Ctx, audit.Filter{Action: "access.denied"})
	if err != nil || len(denied) < 3 {
		t.Fatalf("%d denied accesses audited, %v", len(denied), err)
	}
}

func TestOneApplicationPerRound(t *testing.T) {
	e := casetest.New(t)
	emp, op := e.VerifiedEmployer("op1")
	p, me, a := e.Linked("app1", emp, op)
	b, err := e.Applications.Open(e.Ctx, me, application.Subject{PersonID: p.ID, EmployerID: emp.ID, BirthDate: p.BirthDate, Sex: p.Sex},
		e.RoundID, e.Year)
	if err != nil || b.ID != a.ID {
		t.Fatalf("second open: %v %v", b, err)
	}
	var n int
	if err := e.DB.QueryRow(e.Ctx, `SELECT count(*) FROM applications WHERE person_id = $1`, p.ID).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d applications", n)
	}
	// The schema itself refuses a second one.
	if _, err := e.DB.Exec(e.Ctx, `INSERT INTO applications (round_id, person_id, employer_id, status, declaration, created_at, updated_at)
		VALUES ($1, $2, $3, 'draft', '{}', 0, 0)`, e.RoundID, p.ID, emp.ID); err == nil {
		t.Fatal("the database accepted a second application")
	}
}

func TestAttachmentsSniffTypeAndSize(t *testing.T) {
	e := casetest.New(t)
	emp, op := e.VerifiedEmployer("op1")
	_, me, a := e.Linked("app1", emp, op)
	pdf := []byte("%PDF-1.7\n1 0 obj\n")
	at, err := e.Attachments.Add(e.Ctx, me, a.ID, "housing", "房产证.pdf", bytes.NewReader(pdf))
	if err != nil || at.ContentType != "application/pdf" {
		t.Fatalf("pdf: %v %v", at, err)
	}
	// An executable named .pdf is refused by its content.
	if _, err := e.Attachments.Add(e.Ctx, me, a.ID, "housing", "证明.pdf", strings.NewReader("MZ\x90\x00 not a pdf")); fieldOf(t, err) != "file" {
		t.Fatal("a file lying about its type was accepted")
	}
	big := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("x"), application.MaxAttachmentBytes)...)
	if _, err := e.Attachments.Add(e.Ctx, me, a.ID, "housing", "大.pdf", bytes.NewReader(big)); !apperr.Is(err, apperr.TooLarge) {
		t.Fatalf("too large: %v", err)
	}
	if _, err := e.Attachments.Add(e.Ctx, me, a.ID, "nonsense", "a.pdf", bytes.NewReader(pdf)); fieldOf(t, err) != "indicator" {
		t.Fatal("unknown indicator accepted")
	}
	list, err := e.Attachments.List(e.Ctx, me, a.ID)
	if err != nil || len(list) != 1 || list[0].Filename != "房产证.pdf" {
		t.Fatalf("list %v %v", list, err)
	}
	if err := e.Attachments.Remove(e.Ctx, me, a.ID, at.ID); err != nil {
		t.Fatal(err)
	}
	if list, _ := e.Attachments.List(e.Ctx, me, a.ID); len(list) != 0 {
		t.Fatal("removed attachment still listed")
	}
}

func TestLinksOneConfirmedEmployerPerRound(t *testing.T) {
	e := casetest.New(t)
	emp, op := e.VerifiedEmployer("op1")
	other, op2 := e.VerifiedEmployer("op2")
	p, _ := e.Applicant("app1")
	if _, err := e.Persons.RequestLink(e.Ctx, p, e.RoundID, "WRONG-CODE-0000-0000"); fieldOf(t, err) != "reg_code" {
		t.Fatal("wrong code accepted")
	}
	l1, err := e.Persons.RequestLink(e.Ctx, p, e.RoundID, strings.ToLower(strings.ReplaceAll(emp.RegCode, "-", "")))
	if err != nil {
		t.Fatalf("code typed without dashes in lower case: %v", err)
	}
	if _, err := e.Persons.RequestLink(e.Ctx, p, e.RoundID, emp.RegCode); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("duplicate pending link: %v", err)
	}
	l2, err := e.Persons.RequestLink(e.Ctx, p, e.RoundID, other.RegCode)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Persons.DecideLink(e.Ctx, casetest.OperatorActor(emp, op), l1.ID, true, ""); err != nil {
		t.Fatal(err)
	}
	if err := e.Persons.DecideLink(e.Ctx, casetest.OperatorActor(other, op2), l2.ID, true, ""); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("second confirmed employer: %v", err)
	}
	if err := e.Persons.DecideLink(e.Ctx, casetest.OperatorActor(other, op2), l1.ID, true, ""); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("another employer decided my link: %v", err)
	}
}

func TestRegistrationChecksDigits(t *testing.T) {
	e := casetest.New(t)
	id := casetest.IDNumber(true)
	bad := id[:17] + map[bool]string{true: "0", false: "1"}[id[17] != '0']
	if _, _, err := e.Persons.Register(e.Ctx, personReg(bad, "xx1")); fieldOf(t, err) != "id_number" {
		t.Fatal("wrong ID check digit accepted")
	}
	if _, _, err := e.Persons.Register(e.Ctx, personReg(id, "xx2")); err != nil {
		t.Fatal(err)
	}
	// A second registration creates nothing and says so only to the holder.
	if _, u, err := e.Persons.Register(e.Ctx, personReg(id, "xx3")); !errors.Is(err, person.ErrRegisteredAgain) || u != nil {
		t.Fatalf("second account for one ID number: %v", err)
	}
}
