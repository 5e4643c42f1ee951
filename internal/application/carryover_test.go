package application_test

import (
	"encoding/json"
	"strings"
	"testing"

	"jifen/internal/actor"
	"jifen/internal/application"
	"jifen/internal/casetest"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
	"jifen/internal/rules"
)

// earlierApplication writes, as the synthetic population does, an
// application of an earlier round (year, rulebook) in status, and returns
// its id.
func earlierApplication(t *testing.T, e *casetest.Env, year int, book string, personID, employerID int64, status string, d rules.CalculatorRequest) int64 {
	t.Helper()
	now := db.Micros(e.Clock.Now())
	var roundID int64
	if err := e.DB.QueryRow(e.Ctx, `SELECT id FROM rounds WHERE year = $1`, year).Scan(&roundID); err != nil {
		if err := e.DB.QueryRow(e.Ctx, `INSERT INTO rounds (year, rulebook, quota, title, created_at, updated_at, created_by)
			VALUES ($1, $2, 6000, 'earlier', $3, $3, 0) RETURNING id`, year, book, now).Scan(&roundID); err != nil {
			t.Fatal(err)
		}
	}
	d.ApplicationYear = year
	b, _ := json.Marshal(d)
	var id int64
	if err := e.DB.QueryRow(e.Ctx, `INSERT INTO applications (round_id, person_id, employer_id, status, declaration, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id`, roundID, personID, employerID, status, string(b), now).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

func attach(t *testing.T, e *casetest.Env, appID int64, indicator, key string, deleted bool) {
	t.Helper()
	del := int64(0)
	if deleted {
		del = 1
	}
	if _, err := e.DB.Exec(e.Ctx, `INSERT INTO attachments (application_id, indicator, blob_key, filename, content_type, size_bytes,
		uploaded_by, created_at, deleted_at) VALUES ($1, $2, $3, 'a.pdf', 'application/pdf', 10, 0, 1, $4)`, appID, indicator, key, del); err != nil {
		t.Fatal(err)
	}
}

func itemsByCode(items []application.CarriedItem) map[string]application.CarriedItem {
	m := map[string]application.CarriedItem{}
	for _, it := range items {
		m[it.Item] = it
	}
	return m
}

// TestCarryOver carries two applicants into the 2027 round: one from 2019
// (the 2016 rulebook: a rulebook change, and an honour the record no longer
// accepts) and one from 2026 (same rulebook), and checks the periods, the
// attachments, the marks, the employer link, idempotence and confirmation.
func TestCarryOver(t *testing.T) {
	e := casetest.New(t)
	oldEmp, _ := e.VerifiedEmployer("op_old")
	newEmp, newOp := e.VerifiedEmployer("op_new")

	// 2019: insured to the old statistics month (至今), a home that ended,
	// a workplace to 至今, and an honour code that does not validate.
	p1, u1 := e.Applicant("carry1")
	old1 := earlierApplication(t, e, 2019, "2016", p1.ID, oldEmp.ID, "final", rules.CalculatorRequest{
		BirthDate: p1.BirthDate, Sex: p1.Sex, ResidencePermit: true,
		SocialInsurance: []rules.PeriodInput{{From: "2010-03", To: "2018-12"}},
		BackPaid:        []rules.PeriodInput{{From: "2009-01", To: "2009-02"}},
		Housing: []rules.HousingInput{{Kind: "rented", From: "2010-03", To: "2014-06", District: "海淀区", Registered: true},
			{Kind: "owned", From: "2014-07", To: "2018-12", District: "昌平区"}},
		Education:  rules.EducationInput{Level: "bachelor", Diploma: true, Degree: true},
		Workplaces: []rules.WorkplaceInput{{From: "2010-03", To: "2018-12", District: "海淀区"}},
		Honors:     []string{"no_such_honor"},
	})
	attach(t, e, old1, rules.CodeHousing, "blob-housing", false)
	attach(t, e, old1, rules.CodeEmployment, "blob-withdrawn", true)
	// An older application of the same person is not the one carried.
	earlierApplication(t, e, 2018, "2016", p1.ID, oldEmp.ID, "final", rules.CalculatorRequest{ResidencePermit: true})

	// 2026: same rulebook as 2027; a draft of someone else is not carried.
	p2, u2 := e.Applicant("carry2")
	d2 := declaration()
	d2.BirthDate, d2.Sex = p2.BirthDate, p2.Sex
	d2.SocialInsurance[0].To, d2.Housing[0].To, d2.Workplaces[0].To = "2025-12", "2025-12", "2025-12"
	earlierApplication(t, e, 2026, "2020", p2.ID, oldEmp.ID, "published", d2)
	p3, _ := e.Applicant("carry3")
	earlierApplication(t, e, 2026, "2020", p3.ID, oldEmp.ID, "draft", declaration())

	n, err := e.Applications.CarryOver(e.Ctx, e.RoundID)
	if err != nil || n != 2 {
		t.Fatalf("carry over: %d, %v", n, err)
	}
	if n, err := e.Applications.CarryOver(e.Ctx, e.RoundID); err != nil || n != 0 {
		t.Fatalf("second run: %d, %v (want nothing new)", n, err)
	}

	// The employer link is not carried: no draft until the new employer
	// confirms the applicant for 2027.
	me1 := actor.Actor{UserID: u1.ID, Login: u1.Login, Roles: []actor.Role{actor.Applicant}, PersonID: p1.ID}
	sub1 := application.Subject{PersonID: p1.ID, BirthDate: p1.BirthDate, Sex: p1.Sex}
	if _, err := e.Applications.Open(e.Ctx, me1, sub1, e.RoundID, 2027); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("open without an employer: %v", err)
	}
	l, err := e.Persons.RequestLink(e.Ctx, p1, e.RoundID, newEmp.RegCode)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Persons.DecideLink(e.Ctx, casetest.OperatorActor(newEmp, newOp), l.ID, true, ""); err != nil {
		t.Fatal(err)
	}
	sub1.EmployerID = newEmp.ID
	a, err := e.Applications.Open(e.Ctx, me1, sub1, e.RoundID, 2027)
	if err != nil {
		t.Fatal(err)
	}
	if a.EmployerID != newEmp.ID || a.Status != application.Draft || a.Declaration.ApplicationYear != 2027 {
		t.Fatalf("draft: employer %d status %s year %d", a.EmployerID, a.Status, a.Declaration.ApplicationYear)
	}
	d := a.Declaration
	if d.SocialInsurance[0].To != "2026-12" || d.Workplaces[0].To != "2026-12" || d.Housing[1].To != "2026-12" {
		t.Fatalf("至今 periods not extended: %+v %+v %+v", d.SocialInsurance, d.Workplaces, d.Housing)
	}
	if d.Housing[0].To != "2014-06" || d.BackPaid[0].To != "2009-02" || d.SocialInsurance[0].From != "2010-03" {
		t.Fatalf("ended records changed: %+v %+v", d.Housing, d.BackPaid)
	}
	if len(d.Honors) != 1 || d.Honors[0] != "no_such_honor" {
		t.Fatalf("the invalid honour was dropped: %+v", d.Honors)
	}

	// Attachments: the housing file re-linked (same key, new row), the
	// withdrawn one not.
	rows, err := e.DB.Query(e.Ctx, `SELECT application_id, indicator, blob_key FROM attachments WHERE blob_key IN ('blob-housing', 'blob-withdrawn') ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var app int64
		var ind, key string
		if err := rows.Scan(&app, &ind, &key); err != nil {
			t.Fatal(err)
		}
		if app == a.ID {
			got = append(got, ind+":"+key)
		}
	}
	_ = rows.Close()
	if strings.Join(got, ",") != "housing:blob-housing" {
		t.Fatalf("re-linked attachments: %v", got)
	}

	items, err := e.Applications.Carried(e.Ctx, me1, a)
	if err != nil {
		t.Fatal(err)
	}
	m := itemsByCode(items)
	for _, code := range []string{rules.CodeEmployment, rules.CodeHousing, rules.CodeEducation, rules.CodeWorkResidenceArea, rules.CodeHonors} {
		it, ok := m[code]
		if !ok || it.Label() != "来自2019年申请" {
			t.Fatalf("item %s not marked: %+v", code, items)
		}
	}
	if !m[rules.CodeHonors].Attention() || !strings.Contains(m[rules.CodeHonors].Note, "荣誉") {
		t.Fatalf("the invalid honour is not flagged: %+v", m[rules.CodeHonors])
	}
	if _, ok := m[rules.CodeTax]; ok {
		t.Fatalf("an indicator not declared is marked: %+v", items)
	}

	// Confirming an item removes its mark.
	items, err = e.Applications.Confirm(e.Ctx, me1, a.ID, rules.CodeHousing)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := itemsByCode(items)[rules.CodeHousing]; ok {
		t.Fatalf("confirmed item still marked: %+v", items)
	}
	if a, err = e.Applications.Get(e.Ctx, me1, a.ID); err != nil {
		t.Fatal(err)
	}
	if items, _ = e.Applications.Carried(e.Ctx, me1, a); len(items) != 4 {
		t.Fatalf("after confirm: %+v", items)
	}

	// The 2026 applicant: same rulebook, so no rule-change flags; the
	// submission is refused until every carried item is confirmed.
	me2 := actor.Actor{UserID: u2.ID, Login: u2.Login, Roles: []actor.Role{actor.Applicant}, PersonID: p2.ID}
	l2, err := e.Persons.RequestLink(e.Ctx, p2, e.RoundID, newEmp.RegCode)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Persons.DecideLink(e.Ctx, casetest.OperatorActor(newEmp, newOp), l2.ID, true, ""); err != nil {
		t.Fatal(err)
	}
	a2, err := e.Applications.Open(e.Ctx, me2, application.Subject{PersonID: p2.ID, EmployerID: newEmp.ID, BirthDate: p2.BirthDate, Sex: p2.Sex}, e.RoundID, 2027)
	if err != nil {
		t.Fatal(err)
	}
	if a2.Declaration.SocialInsurance[0].To != "2026-12" { // 2025-12 was the 2026 statistics month
		t.Fatalf("2026 periods: %+v", a2.Declaration.SocialInsurance)
	}
	items2, err := e.Applications.Carried(e.Ctx, me2, a2)
	if err != nil || len(items2) == 0 {
		t.Fatalf("carried 2026: %+v %v", items2, err)
	}
	for _, it := range items2 {
		if it.Attention() || it.Label() != "来自2026年申请" {
			t.Fatalf("2026 item: %+v", it)
		}
	}
	if _, err := e.Applications.SubmitToEmployer(e.Ctx, me2, a2.ID, true); fieldOf(t, err) != "carried" {
		t.Fatalf("submission with unconfirmed items: %v", err)
	}
	for _, it := range items2 {
		if _, err := e.Applications.Confirm(e.Ctx, me2, a2.ID, it.Item); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Applications.SubmitToEmployer(e.Ctx, me2, a2.ID, true); err != nil {
		t.Fatalf("submission after confirming: %v", err)
	}
	// Another person cannot confirm someone's items.
	if _, err := e.Applications.Confirm(e.Ctx, me2, a.ID, rules.CodeEmployment); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("confirm by another: %v", err)
	}
}

// TestCarryRulebookChange: carried from a 2016-rulebook round, the
// indicators the 2020 rulebook scores differently are flagged with both
// figures; carried within the same rulebook, nothing is.
func TestCarryRulebookChange(t *testing.T) {
	book, err := rules.ForYear(2020)
	if err != nil {
		t.Fatal(err)
	}
	old := rules.CalculatorRequest{ApplicationYear: 2019, BirthDate: "1988-05-01", Sex: "M", ResidencePermit: true,
		SocialInsurance: []rules.PeriodInput{{From: "2010-03", To: "2018-12"}}}
	d, items := application.Carry(old, 2019, 2020, book)
	if d.SocialInsurance[0].To != "2019-12" || d.ApplicationYear != 2020 {
		t.Fatalf("carried: %+v", d)
	}
	m := itemsByCode(items)
	if !strings.Contains(m[rules.CodeEmployment].Note, "积分规则已变更（2016版→2020版）") {
		t.Fatalf("rule change not flagged: %+v", items)
	}
	old.ApplicationYear = 2021
	old.SocialInsurance[0].To = "2020-12"
	if _, items := application.Carry(old, 2021, 2022, book); len(items) != 1 || items[0].Attention() {
		t.Fatalf("same rulebook: %+v", items)
	}
}
