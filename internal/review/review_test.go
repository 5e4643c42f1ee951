package review_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"jifen/internal/actor"
	"jifen/internal/application"
	"jifen/internal/casetest"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/blob"
	"jifen/internal/platform/db"
	"jifen/internal/review"
	"jifen/internal/rules"
)

// declared is what the applicants declare for the 2027 round.
func declared() rules.CalculatorRequest {
	return rules.CalculatorRequest{ApplicationYear: 2027, ResidencePermit: true,
		SocialInsurance: []rules.PeriodInput{{From: "2012-07", To: "2026-12"}},
		Housing:         []rules.HousingInput{{Kind: "owned", From: "2015-01", To: "2026-12", District: "昌平区"}},
		Education:       rules.EducationInput{Level: "master", Diploma: true, Degree: true},
		Workplaces:      []rules.WorkplaceInput{{From: "2012-07", To: "2026-12", District: "昌平区"}}}
}

// verified is what the agencies held: a registered rental, not an owned home.
func verified(d rules.CalculatorRequest) rules.CalculatorRequest {
	v := d
	v.Housing = []rules.HousingInput{{Kind: "rented", From: "2015-01", To: "2026-12", District: "昌平区", Registered: true}}
	return v
}

func officer(id int64, login, district string, roles ...actor.Role) actor.Actor {
	return actor.Actor{UserID: id, Login: login, Roles: roles, District: district}
}

// frozen is a Freezer whose rounds are frozen when set.
type frozen struct{ on bool }

func (f *frozen) RequireUnfrozen(context.Context, int64) error {
	if f.on {
		return apperr.New(apperr.Conflict, "本年度积分已冻结，不能再调整积分")
	}
	return nil
}

// held is an Assignments that lets only the listed officers work a case.
type held struct{ ids map[int64]bool }

func (h *held) RequireAssigned(_ context.Context, o actor.Actor, _ int64) error {
	if h.ids[o.UserID] {
		return nil
	}
	return apperr.New(apperr.NotFound, "申请不存在")
}

type fixture struct {
	*casetest.Env
	svc         *review.Service
	freeze      *frozen
	a, b, other actor.Actor
	city        actor.Actor
	n           int
	store       *blob.Dir
	storeDir    string
}

func setup(t *testing.T) *fixture {
	t.Helper()
	env := casetest.New(t)
	dir := t.TempDir()
	store, err := blob.NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{Env: env, freeze: &frozen{}, store: store, storeDir: dir,
		a: officer(9001, "officer_a", "海淀区", actor.DistrictOfficer), b: officer(9002, "officer_b", "海淀区", actor.DistrictOfficer),
		other: officer(9003, "officer_c", "朝阳区", actor.DistrictOfficer), city: officer(9004, "city", "", actor.CityOfficer)}
	f.svc = review.NewService(env.DB, env.Audit, env.Clock, env.Applications, store, nil, f.freeze)
	return f
}

// inReview makes an application of an employer in 海淀区 whose applied
// cross-check scored the verified facts, asked for a 复查 of the given
// indicators, forwarded by the employer and received by the district.
func (f *fixture) inReview(t *testing.T, indicators ...string) int64 {
	t.Helper()
	f.n++
	emp, op := f.VerifiedEmployer(fmt.Sprintf("rev_op%d", f.n))
	_, c, app := f.Linked(fmt.Sprintf("rev_app%d", f.n), emp, op)
	d := declared()
	if _, err := f.Applications.SaveDraft(f.Ctx, c, app.ID, d, app.Version); err != nil {
		t.Fatal(err)
	}
	a, err := f.Applications.Get(f.Ctx, c, app.ID)
	if err != nil {
		t.Fatal(err)
	}
	v := verified(a.Declaration)
	vj, _ := json.Marshal(v)
	res := score(t, v)
	now := db.Micros(f.Clock.Now())
	var run int64
	if err := f.DB.QueryRow(f.Ctx, `INSERT INTO check_runs (round_id, scope, mode, rulebook, status, created_at)
		VALUES ($1, 'round', 'apply', '2020', 'applied', $2) RETURNING id`, f.RoundID, now).Scan(&run); err != nil {
		t.Fatal(err)
	}
	f.exec(t, `INSERT INTO check_scores (run_id, application_id, total, eligible, verified, outcomes, scored_at)
		VALUES ($1, $2, $3, $4, $5, '{}', $6)`, run, app.ID, int64(res.Total), res.Eligible, string(vj), now)
	f.exec(t, `UPDATE applications SET status = 'first_result', score = $1, score_eligible = $2, score_run = $3, scored_at = $4
		WHERE id = $5`, int64(res.Total), res.Eligible, run, now, app.ID)
	if err := f.Applications.RequestReview(f.Ctx, c, app.ID, indicators, "住房为自有产权，已提交房产证"); err != nil {
		t.Fatal(err)
	}
	if err := f.Applications.ForwardReview(f.Ctx, casetest.OperatorActor(emp, op), app.ID, "已向区人力社保局窗口提交房产证复印件"); err != nil {
		t.Fatal(err)
	}
	// The office home's to-do counts the one forwarded request in its
	// district and in the city's, none in another district, none once
	// received.
	forwarded := func(district string) int {
		n, err := f.Applications.CountForwardedReviews(f.Ctx, district, 101)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if hd, cy, all := forwarded("海淀区"), forwarded("朝阳区"), forwarded(""); hd != 1 || cy != 0 || all != 1 {
		t.Fatalf("forwarded: 海淀区 %d, 朝阳区 %d, all %d", hd, cy, all)
	}
	if err := f.Applications.ReceiveReview(f.Ctx, "海淀区", app.ID); err != nil {
		t.Fatal(err)
	}
	if n := forwarded("海淀区"); n != 0 {
		t.Fatalf("%d forwarded after receiving", n)
	}
	return app.ID
}

func (f *fixture) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := f.DB.Exec(f.Ctx, q, args...); err != nil {
		t.Fatal(err)
	}
}

func score(t *testing.T, r rules.CalculatorRequest) rules.Result {
	t.Helper()
	facts, fe := r.Facts()
	if len(fe) > 0 {
		t.Fatal(fe)
	}
	b, err := rules.Book("2020")
	if err != nil {
		t.Fatal(err)
	}
	return b.Score(facts)
}

func (f *fixture) app(t *testing.T, id int64) (application.Status, int64) {
	t.Helper()
	var st string
	var sc int64
	if err := f.DB.QueryRow(f.Ctx, `SELECT status, score FROM applications WHERE id = $1`, id).Scan(&st, &sc); err != nil {
		t.Fatal(err)
	}
	return application.Status(st), sc
}

func (f *fixture) version(t *testing.T, id int64) int {
	t.Helper()
	v, err := f.svc.Case(f.Ctx, f.a, id)
	if err != nil {
		t.Fatal(err)
	}
	return v.Version
}

func (f *fixture) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	if err := f.DB.QueryRow(f.Ctx, q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (f *fixture) declaration(t *testing.T, id int64) rules.CalculatorRequest {
	t.Helper()
	var s string
	if err := f.DB.QueryRow(f.Ctx, `SELECT declaration FROM applications WHERE id = $1`, id).Scan(&s); err != nil {
		t.Fatal(err)
	}
	var d rules.CalculatorRequest
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func owned() *rules.CalculatorRequest {
	return &rules.CalculatorRequest{Housing: []rules.HousingInput{{Kind: "owned", From: "2015-01", To: "2026-12", District: "昌平区"}}}
}

func TestDecideCorrectedFactsThenSecondOfficerApproves(t *testing.T) {
	f := setup(t)
	id := f.inReview(t, rules.CodeHousing, rules.CodeEducation)
	_, before := f.app(t, id)
	if err := f.svc.Decide(f.Ctx, f.a, id, review.Decision{Indicator: rules.CodeHousing, Outcome: review.Upheld,
		Reason: "核验房产证原件，自有住房属实", Corrected: owned(), Version: f.version(t, id)}); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.app(t, id); st != application.ReviewRequested {
		t.Fatalf("after one of two indicators: %s", st)
	}
	if err := f.svc.Decide(f.Ctx, f.a, id, review.Decision{Indicator: rules.CodeEducation, Outcome: review.Rejected,
		Reason: "学历已按学信网记录计分", Version: f.version(t, id)}); err != nil {
		t.Fatal(err)
	}
	cv, err := f.svc.Case(f.Ctx, f.b, id)
	if err != nil {
		t.Fatal(err)
	}
	want := score(t, f.declaration(t, id))
	if cv.Change == nil || cv.Change.Status != "pending" || cv.Change.NewScore != want.Total || int64(cv.Change.OldScore) != before {
		t.Fatalf("score change: %+v (want %s from %d)", cv.Change, want.Total, before)
	}
	if st, sc := f.app(t, id); st != application.ReviewRequested || sc != before {
		t.Fatalf("before approval the score must not change: %s %d", st, sc)
	}
	// The officer whose decision corrected the facts may not approve it.
	err = f.svc.Approve(f.Ctx, f.a, id)
	if !apperr.Is(err, apperr.Forbidden) || !strings.Contains(apperr.As(err).Message, "不能审批本人") {
		t.Fatalf("self-approval: %v", err)
	}
	// An officer of another district does not see the case (audited).
	if err := f.svc.Approve(f.Ctx, f.other, id); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("other district: %v", err)
	}
	if n := f.count(t, `SELECT count(*) FROM audit_log WHERE action = 'access.denied' AND object_type = 'review'`); n != 1 {
		t.Fatalf("denied audit rows: %d", n)
	}
	// Frozen round: no change of score.
	f.freeze.on = true
	if err := f.svc.Approve(f.Ctx, f.b, id); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("frozen: %v", err)
	}
	f.freeze.on = false
	if err := f.svc.Approve(f.Ctx, f.b, id); err != nil {
		t.Fatal(err)
	}
	if st, sc := f.app(t, id); st != application.Final || sc != int64(want.Total) {
		t.Fatalf("after approval: %s %d, want final %d", st, sc, int64(want.Total))
	}
	if err := f.svc.Approve(f.Ctx, f.city, id); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("approving twice: %v", err)
	}
	// Timeline: two decisions, the proposal, the approval and the move to final.
	if n := f.count(t, `SELECT count(*) FROM application_events WHERE application_id = $1 AND reason LIKE '%复查%'`, id); n < 5 {
		t.Fatalf("timeline rows: %d", n)
	}
	if n := f.count(t, `SELECT count(*) FROM mail_outbox WHERE category = 'application.note'`); n != 4 {
		t.Fatalf("review mails: %d", n)
	}
	for _, a := range []string{"review.decide", "review.score_change", "review.approve_change", "application.final"} {
		if n := f.count(t, `SELECT count(*) FROM audit_log WHERE action = $1`, a); n == 0 {
			t.Errorf("no audit row %s", a)
		}
	}
}

func TestRejectedChangeKeepsTheScore(t *testing.T) {
	f := setup(t)
	id := f.inReview(t, rules.CodeHousing)
	_, before := f.app(t, id)
	if err := f.svc.Decide(f.Ctx, f.a, id, review.Decision{Indicator: rules.CodeHousing, Outcome: review.Upheld,
		Reason: "核验房产证原件", Corrected: owned(), Version: 0}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.RejectChange(f.Ctx, f.a, id, "本人不能驳回"); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("self-rejection: %v", err)
	}
	if err := f.svc.RejectChange(f.Ctx, f.b, id, ""); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("empty note: %v", err)
	}
	if err := f.svc.RejectChange(f.Ctx, f.b, id, "房产证复印件与原件不符"); err != nil {
		t.Fatal(err)
	}
	if st, sc := f.app(t, id); st != application.Final || sc != before {
		t.Fatalf("after rejection: %s %d, want final %d", st, sc, before)
	}
	cv, err := f.svc.ForApplicant(f.Ctx, f.applicant(t, id), id)
	if err != nil {
		t.Fatal(err)
	}
	if cv.ChangeStatus != "rejected" || cv.NewScore != nil || !cv.Final || cv.Indicators[0].Decision == nil {
		t.Fatalf("applicant view: %+v", cv)
	}
}

func (f *fixture) applicant(t *testing.T, id int64) actor.Actor {
	t.Helper()
	var pid, uid int64
	if err := f.DB.QueryRow(f.Ctx, `SELECT p.id, p.user_id FROM applications a JOIN persons p ON p.id = a.person_id WHERE a.id = $1`, id).
		Scan(&pid, &uid); err != nil {
		t.Fatal(err)
	}
	return actor.Actor{UserID: uid, Roles: []actor.Role{actor.Applicant}, PersonID: pid}
}

func TestDecisionsWithoutAChangeMakeFinalAtOnce(t *testing.T) {
	f := setup(t)
	id := f.inReview(t, rules.CodeHousing)
	_, before := f.app(t, id)
	if err := f.svc.Decide(f.Ctx, f.a, id, review.Decision{Indicator: rules.CodeHousing, Outcome: review.Rejected,
		Reason: "未提供新的证明材料"}); err != nil {
		t.Fatal(err)
	}
	if st, sc := f.app(t, id); st != application.Final || sc != before {
		t.Fatalf("%s %d", st, sc)
	}
	if n := f.count(t, `SELECT count(*) FROM score_changes`); n != 0 {
		t.Fatalf("score changes: %d", n)
	}
}

func TestDecideBadInput(t *testing.T) {
	f := setup(t)
	id := f.inReview(t, rules.CodeHousing)
	bad := &rules.CalculatorRequest{Housing: []rules.HousingInput{{Kind: "owned", From: "2015-13", To: "2027-05", District: "昌平区"}}}
	err := f.svc.Decide(f.Ctx, f.a, id, review.Decision{Indicator: rules.CodeHousing, Outcome: review.Upheld, Reason: "核验原件", Corrected: bad})
	e := apperr.As(err)
	if e.Code != apperr.Invalid || len(e.Fields) == 0 || !strings.HasPrefix(e.Fields[0].Field, "corrected.housing[0]") {
		t.Fatalf("bad facts: %v %+v", err, e.Fields)
	}
	for _, d := range []review.Decision{
		{Indicator: rules.CodeHousing, Outcome: "maybe", Reason: "理由充分"},
		{Indicator: rules.CodeHousing, Outcome: review.Upheld, Reason: ""},
		{Indicator: rules.CodeHousing, Outcome: review.Rejected, Reason: "理由充分", Corrected: owned()},
		{Indicator: rules.CodeTax, Outcome: review.Upheld, Reason: "理由充分"},
	} {
		if err := f.svc.Decide(f.Ctx, f.a, id, d); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("%+v: %v", d, err)
		}
	}
	// Assignment: an officer not holding the case gets 404, audited.
	f.svc.WithAssignments(&held{ids: map[int64]bool{f.b.UserID: true}})
	if err := f.svc.Decide(f.Ctx, f.a, id, review.Decision{Indicator: rules.CodeHousing, Outcome: review.Rejected, Reason: "理由充分"}); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("not assigned: %v", err)
	}
	// A frozen round refuses corrected facts.
	f.freeze.on = true
	if err := f.svc.Decide(f.Ctx, f.b, id, review.Decision{Indicator: rules.CodeHousing, Outcome: review.Upheld, Reason: "理由充分",
		Corrected: owned()}); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("frozen: %v", err)
	}
	if n := f.count(t, `SELECT count(*) FROM review_decisions`); n != 0 {
		t.Fatalf("decisions written: %d", n)
	}
}

// TestConcurrentDecisionsOneWins: officers deciding the same case at once
// (each from the version they saw): exactly one decision is written.
func TestConcurrentDecisionsOneWins(t *testing.T) {
	f := setup(t)
	for round := 0; round < 3; round++ {
		id := f.inReview(t, rules.CodeHousing, rules.CodeEducation)
		officers := []actor.Actor{f.a, f.b, f.city, officer(9005, "officer_d", "海淀区", actor.DistrictOfficer)}
		var wg sync.WaitGroup
		errs := make([]error, len(officers))
		start := make(chan struct{})
		for i, o := range officers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				ind := rules.CodeHousing
				if i%2 == 1 {
					ind = rules.CodeEducation
				}
				errs[i] = f.svc.Decide(f.Ctx, o, id, review.Decision{Indicator: ind, Outcome: review.Rejected, Reason: "并发决定", Version: 0})
			}()
		}
		close(start)
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !apperr.Is(err, apperr.Conflict):
				t.Fatalf("unexpected error: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d officers won: %v", won, errs)
		}
		if n := f.count(t, `SELECT count(*) FROM review_decisions WHERE application_id = $1`, id); n != 1 {
			t.Fatalf("%d decisions", n)
		}
	}
}

// TestConcurrentApprovalsOneWins: two officers approve the same score
// change at once; it takes effect once.
func TestConcurrentApprovalsOneWins(t *testing.T) {
	f := setup(t)
	id := f.inReview(t, rules.CodeHousing)
	if err := f.svc.Decide(f.Ctx, f.a, id, review.Decision{Indicator: rules.CodeHousing, Outcome: review.Upheld,
		Reason: "核验房产证原件", UseDeclared: true}); err != nil {
		t.Fatal(err)
	}
	officers := []actor.Actor{f.b, f.city, officer(9006, "officer_e", "海淀区", actor.DistrictOfficer)}
	errs := make([]error, len(officers))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, o := range officers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if i == 2 {
				errs[i] = f.svc.RejectChange(f.Ctx, o, id, "同时驳回")
				return
			}
			errs[i] = f.svc.Approve(f.Ctx, o, id)
		}()
	}
	close(start)
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !apperr.Is(err, apperr.Conflict):
			t.Fatalf("unexpected: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d decisions took effect: %v", won, errs)
	}
	if n := f.count(t, `SELECT count(*) FROM application_events WHERE application_id = $1 AND to_status = 'final'`, id); n != 1 {
		t.Fatalf("%d moves to final", n)
	}
}

func TestInPersonCheck(t *testing.T) {
	f := setup(t)
	id := f.inReview(t, rules.CodeHousing)
	ap := f.applicant(t, id)
	// Slots: past and bad input refused, naming the field.
	day := func(d int) string {
		return f.Clock.Now().In(time.FixedZone("CST", 8*3600)).AddDate(0, 0, d).Format(time.DateOnly)
	}
	for _, c := range []struct {
		in    review.SlotInput
		field string
	}{
		{review.SlotInput{Day: day(-1), Half: "am", Capacity: 2}, "date"},
		{review.SlotInput{Day: "明天", Half: "am", Capacity: 2}, "date"},
		{review.SlotInput{Day: day(2), Half: "evening", Capacity: 2}, "half"},
		{review.SlotInput{Day: day(2), Half: "am", Capacity: 0}, "capacity"},
	} {
		_, err := f.svc.CreateSlot(f.Ctx, f.a, c.in)
		if e := apperr.As(err); e.Code != apperr.Invalid || e.Fields[0].Field != c.field {
			t.Errorf("%+v: %v", c.in, err)
		}
	}
	one, err := f.svc.CreateSlot(f.Ctx, f.a, review.SlotInput{District: "朝阳区", Day: day(2), Half: "am", Capacity: 1})
	if err != nil || one.District != "海淀区" {
		t.Fatalf("slot: %+v %v", one, err)
	}
	if _, err := f.svc.CreateSlot(f.Ctx, f.b, review.SlotInput{Day: day(2), Half: "am", Capacity: 1}); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("duplicate slot: %v", err)
	}
	two, err := f.svc.CreateSlot(f.Ctx, f.a, review.SlotInput{Day: day(3), Half: "pm", Capacity: 5})
	if err != nil {
		t.Fatal(err)
	}
	// No check required yet: booking is refused.
	if err := f.svc.Book(f.Ctx, ap, id, one.ID); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("booking without a required check: %v", err)
	}
	if err := f.svc.RequireInspection(f.Ctx, f.a, id, []string{rules.CodeHousing}, "请携带房产证原件", 0); err != nil {
		t.Fatal(err)
	}
	// The indicator waits for the check.
	if err := f.svc.Decide(f.Ctx, f.a, id, review.Decision{Indicator: rules.CodeHousing, Outcome: review.Rejected, Reason: "理由充分",
		Version: f.version(t, id)}); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("decide before the check: %v", err)
	}
	// Another applicant fills the one-place slot.
	id2 := f.inReview(t, rules.CodeHousing)
	if err := f.svc.RequireInspection(f.Ctx, f.a, id2, []string{rules.CodeHousing}, "请携带房产证原件", 0); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Book(f.Ctx, f.applicant(t, id2), id2, one.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Book(f.Ctx, ap, id, one.ID); apperr.As(err).Code != apperr.Invalid || apperr.As(err).Fields[0].Field != "slot" ||
		!strings.Contains(apperr.As(err).Fields[0].Message, "约满") {
		t.Fatalf("full slot: %v", err)
	}
	// Someone else's application: 404.
	if err := f.svc.Book(f.Ctx, f.applicant(t, id2), id, two.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("other's booking: %v", err)
	}
	if err := f.svc.Book(f.Ctx, ap, id, two.ID); err != nil {
		t.Fatal(err)
	}
	// Rebooking frees the old place.
	three, err := f.svc.CreateSlot(f.Ctx, f.a, review.SlotInput{Day: day(4), Half: "am", Capacity: 5})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Book(f.Ctx, ap, id, three.ID); err != nil {
		t.Fatal(err)
	}
	if n := f.count(t, `SELECT booked FROM inspection_slots WHERE id = $1`, two.ID); n != 0 {
		t.Fatalf("old slot still counts %d", n)
	}
	// A slot that has begun cannot be booked.
	f.Clock.Advance(4*24*time.Hour + 2*time.Hour)
	if err := f.svc.Book(f.Ctx, f.applicant(t, id2), id2, three.ID); apperr.As(err).Code != apperr.Invalid ||
		apperr.As(err).Fields[0].Field != "slot" {
		t.Fatalf("past slot: %v", err)
	}
	// The officer records the outcome with evidence; then decides.
	if err := f.svc.RecordInspection(f.Ctx, f.a, id, review.Record{Attendance: "attended", Outcome: "核验房产证原件属实",
		Filename: "房产证.pdf", File: strings.NewReader("%PDF-1.7 evidence")}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.RecordInspection(f.Ctx, f.a, id, review.Record{Attendance: "attended", Outcome: "再次记录"}); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("recording twice: %v", err)
	}
	name, typ, rc, err := f.svc.Evidence(f.Ctx, f.b, id)
	if err != nil || name != "房产证.pdf" || typ != "application/pdf" {
		t.Fatalf("evidence: %q %q %v", name, typ, err)
	}
	_ = rc.Close()
	if _, _, _, err := f.svc.Evidence(f.Ctx, f.other, id); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("evidence of another district: %v", err)
	}
	if err := f.svc.Decide(f.Ctx, f.a, id, review.Decision{Indicator: rules.CodeHousing, Outcome: review.Upheld, Reason: "现场核验属实",
		Corrected: owned(), Version: f.version(t, id)}); err != nil {
		t.Fatal(err)
	}
	v, err := f.svc.ForApplicant(f.Ctx, ap, id)
	if err != nil {
		t.Fatal(err)
	}
	if v.Inspection == nil || v.Inspection.Attendance != "attended" || v.ChangeStatus != "pending" || v.NewScore != nil {
		t.Fatalf("applicant view: %+v", v)
	}
}

// TestCapacityUnderConcurrency: more applicants than places book one slot
// at once; exactly the capacity succeed.
func TestCapacityUnderConcurrency(t *testing.T) {
	f := setup(t)
	const n, capacity = 6, 2
	var ids []int64
	for range n {
		id := f.inReview(t, rules.CodeHousing)
		if err := f.svc.RequireInspection(f.Ctx, f.a, id, []string{rules.CodeHousing}, "请携带原件", 0); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	day := f.Clock.Now().AddDate(0, 0, 2).Format(time.DateOnly)
	sl, err := f.svc.CreateSlot(f.Ctx, f.a, review.SlotInput{Day: day, Half: "pm", Capacity: capacity})
	if err != nil {
		t.Fatal(err)
	}
	actors := make([]actor.Actor, n)
	for i, id := range ids {
		actors[i] = f.applicant(t, id)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = f.svc.Book(f.Ctx, actors[i], ids[i], sl.ID)
		}()
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case apperr.Is(err, apperr.Invalid):
		default:
			t.Fatalf("unexpected: %v", err)
		}
	}
	booked := f.count(t, `SELECT booked FROM inspection_slots WHERE id = $1`, sl.ID)
	rows := f.count(t, `SELECT count(*) FROM inspection_bookings WHERE slot_id = $1`, sl.ID)
	if ok != capacity || booked != capacity || rows != capacity {
		t.Fatalf("booked %d (count %d, rows %d), capacity %d", ok, booked, rows, capacity)
	}
}

func TestFinalizeUnreviewedIsIdempotent(t *testing.T) {
	f := setup(t)
	reviewed := f.inReview(t, rules.CodeHousing)
	emp, op := f.VerifiedEmployer("fin_op")
	_, _, app := f.Linked("fin_app", emp, op)
	f.exec(t, `UPDATE applications SET status = 'first_result', score = 5000 WHERE id = $1`, app.ID)
	now := f.Clock.Now()
	f.exec(t, `INSERT INTO round_windows (round_id, kind, opens_at, closes_at) VALUES ($1, 'review', $2, $3)`,
		f.RoundID, db.Micros(now.Add(-48*time.Hour)), db.Micros(now.Add(time.Hour)))
	if n, err := f.Applications.FinalizeUnreviewed(f.Ctx, now, 100); err != nil || n != 0 {
		t.Fatalf("window still open: %d %v", n, err)
	}
	later := now.Add(2 * time.Hour)
	n, err := f.Applications.FinalizeUnreviewed(f.Ctx, later, 100)
	if err != nil || n != 1 {
		t.Fatalf("first run: %d %v", n, err)
	}
	if st, sc := f.app(t, app.ID); st != application.Final || sc != 5000 {
		t.Fatalf("%s %d", st, sc)
	}
	if st, _ := f.app(t, reviewed); st != application.ReviewRequested {
		t.Fatalf("the reviewed application moved: %s", st)
	}
	snapshot := func() [3]int {
		return [3]int{f.count(t, `SELECT count(*) FROM application_events`), f.count(t, `SELECT count(*) FROM mail_outbox`),
			f.count(t, `SELECT sum(version) FROM applications`)}
	}
	before := snapshot()
	if n, err := f.Applications.FinalizeUnreviewed(f.Ctx, later.Add(time.Hour), 100); err != nil || n != 0 {
		t.Fatalf("second run: %d %v", n, err)
	}
	if after := snapshot(); after != before {
		t.Fatalf("the second run changed something: %v → %v", before, after)
	}
}

// TestSweepKeepsRecordedEvidence: the sweep of the evidence store removes
// an old file no in-person check names and keeps the recorded evidence.
func TestSweepKeepsRecordedEvidence(t *testing.T) {
	f := setup(t)
	id := f.inReview(t, rules.CodeHousing)
	if err := f.svc.RequireInspection(f.Ctx, f.a, id, []string{rules.CodeHousing}, "请携带原件", 0); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.RecordInspection(f.Ctx, f.a, id, review.Record{Attendance: "attended", Outcome: "核验原件属实",
		Filename: "记录.pdf", File: strings.NewReader("%PDF-1.7 kept")}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Put(f.Ctx, strings.NewReader("%PDF-1.7 orphan"), 1<<20); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour)
	if err := filepath.WalkDir(f.storeDir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			err = os.Chtimes(p, old, old)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	n, err := f.svc.SweepEvidence(f.Ctx)
	if err != nil || n != 1 {
		t.Fatalf("swept %d, %v; want the orphan only", n, err)
	}
	_, _, rc, err := f.svc.Evidence(f.Ctx, f.a, id)
	if err != nil {
		t.Fatalf("evidence after the sweep: %v", err)
	}
	_ = rc.Close()
}
