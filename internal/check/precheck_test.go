package check

import (
	"strings"
	"sync"
	"testing"
	"time"

	"jifen/internal/actor"
	"jifen/internal/agency"
	"jifen/internal/agencysim"
	"jifen/internal/application"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/crypto"
	"jifen/internal/rules"
	"jifen/internal/synth"
)

// precheckCase is a draft application of the synthetic population whose
// agencies hold, besides what was declared, a different education, no
// honours (one was declared), and whose tax office is down.
type precheckCase struct {
	app      *application.Application
	who      actor.Actor
	truthEdu rules.EducationInput
}

func newPrecheckCase(e *env) *precheckCase {
	e.t.Helper()
	var appID, personID, userID int64
	var enc, name, credit string
	if err := e.db.QueryRow(e.ctx, `SELECT a.id, p.id, p.user_id, p.id_enc, p.name, x.credit_code FROM applications a
		JOIN persons p ON p.id = a.person_id JOIN employers x ON x.id = a.employer_id
		WHERE a.status = 'draft' ORDER BY a.id LIMIT 1`).Scan(&appID, &personID, &userID, &enc, &name, &credit); err != nil {
		e.t.Fatalf("no draft in the synthetic round: %v", err)
	}
	who := actor.Actor{UserID: userID, Login: "applicant", PersonID: personID, Roles: []actor.Role{actor.Applicant}}
	apps := e.eng.own.Applications
	a, err := apps.Get(e.ctx, who, appID)
	if err != nil {
		e.t.Fatal(err)
	}
	labels := rules.Latest().Labels()
	decl := a.Declaration
	decl.Honors = []string{labels.Honors[0].Value}
	truth := decl
	truth.Honors = nil
	truth.Education.Level = labels.EducationLevels[0].Value
	if truth.Education.Level == decl.Education.Level {
		truth.Education.Level = labels.EducationLevels[1].Value
	}
	if a, err = apps.SaveDraft(e.ctx, who, appID, decl, a.Version); err != nil {
		e.t.Fatal(err)
	}
	num, err := e.keys.DecryptString(enc, "id_number")
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.db.Exec(e.ctx, `DELETE FROM agency_records WHERE subject = $1`, crypto.SM3Hex([]byte(num))); err != nil {
		e.t.Fatal(err)
	}
	if err := synth.WriteRecords(e.ctx, e.db, num, name, truth, credit, time.Now()); err != nil {
		e.t.Fatal(err)
	}
	return &precheckCase{app: a, who: who, truthEdu: truth.Education}
}

func (c *precheckCase) reload(e *env) *application.Application {
	e.t.Helper()
	a, err := e.eng.own.Applications.Get(e.ctx, c.who, c.app.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	c.app = a
	return a
}

// finish runs the worker until the pre-check has left the queue.
func finish(e *env, p *Precheck) *Precheck {
	e.t.Helper()
	e.workUntil(e.eng, 20*time.Second, func() bool {
		return e.count(`SELECT COUNT(*) FROM prechecks WHERE id = $1 AND status <> 'queued'`, p.ID) == 1
	})
	out, err := e.eng.precheck(e.ctx, p.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func TestPrecheckShowsWhatTheAgenciesHold(t *testing.T) {
	e := newEnv(t, 40)
	c := newPrecheckCase(e)
	calls := func() int { return e.count(`SELECT COUNT(*) FROM check_calls WHERE kind = 'precheck'`) }

	// Without consent nothing is asked.
	if _, err := e.eng.RequestPrecheck(e.ctx, c.who, c.app); !apperr.Is(err, apperr.Invalid) || !strings.Contains(err.Error(), "同意") {
		t.Fatalf("pre-check without consent: %v", err)
	}
	if n := e.count(`SELECT COUNT(*) FROM prechecks`); n != 0 {
		t.Fatalf("%d pre-checks stored without consent", n)
	}
	// Someone else cannot ask about this application, consent or not.
	other := c.who
	other.PersonID++
	if _, err := e.eng.RequestPrecheck(e.ctx, other, c.app); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("another person's pre-check: %v", err)
	}

	if err := e.eng.GrantConsent(e.ctx, c.who); err != nil {
		t.Fatal(err)
	}
	if n := e.count(`SELECT COUNT(*) FROM audit_log WHERE action = 'precheck.consent' AND reason LIKE '%用途%'`); n != 1 {
		t.Fatalf("consent audited %d times with its purpose", n)
	}
	e.setFaults(agency.Tax, agencysim.Faults{Down: true})
	p, err := e.eng.RequestPrecheck(e.ctx, c.who, c.app)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != PrecheckQueued {
		t.Fatalf("new pre-check %s", p.Status)
	}
	p = finish(e, p)
	if p.Status != PrecheckDone {
		t.Fatalf("pre-check ended %s", p.Status)
	}
	want := map[string]string{rules.CodeEducation: Mismatch, rules.CodeHonors: NotFound, rules.CodeTax: Unavailable,
		rules.CodeLawRecord: Unavailable, rules.CodeHousing: Match, rules.CodeAge: Match}
	for item, outcome := range want {
		if o, _ := p.Outcome(item); o.Outcome != outcome {
			t.Errorf("%s: %q, want %q (%+v)", item, o.Outcome, outcome, o)
		}
	}
	edu, _ := p.Outcome(rules.CodeEducation)
	if !strings.Contains(edu.Declared, c.app.Declaration.Education.Level) || !strings.Contains(edu.Verified, c.truthEdu.Level) {
		t.Errorf("education shows declared %s and held %s", edu.Declared, edu.Verified)
	}
	if st := p.Agencies[agency.Tax]; st.Answered || st.RetryAt == 0 || st.Detail == "" {
		t.Errorf("the tax office's state: %+v", st)
	}
	if st := p.Agencies[agency.Education]; !st.Answered {
		t.Errorf("education did not answer: %+v", st)
	}
	if p.Counts.Mismatch < 1 || p.Counts.NotFound != 1 || p.Counts.Unavailable < 2 ||
		p.Counts.Match+p.Counts.Mismatch+p.Counts.NotFound+p.Counts.Unavailable != len(rules.CheckItems()) {
		t.Errorf("counts %+v", p.Counts)
	}
	// Every agency was asked once, through the call log, as a pre-check.
	if n := calls(); n < len(precheckAgencies()) {
		t.Errorf("%d pre-check calls logged for %d agencies", n, len(precheckAgencies()))
	}
	if n := e.count(`SELECT COUNT(*) FROM check_calls WHERE kind = 'precheck' AND app_from = $1 AND app_to = $1`, c.app.ID); n != calls() {
		t.Errorf("pre-check calls not filed under the application: %d of %d", n, calls())
	}

	// The employer sees the counts, and the timeline says it was done —
	// with no value in it.
	sum, err := e.eng.PrecheckSummaryOf(e.ctx, c.app)
	if err != nil || sum == nil || sum.Counts != p.Counts {
		t.Fatalf("employer's summary %+v %v", sum, err)
	}
	events, err := e.eng.own.Applications.EventsOf(e.ctx, c.who, c.app)
	if err != nil {
		t.Fatal(err)
	}
	last := events[len(events)-1].Reason
	if !strings.Contains(last, "预核验") || !strings.Contains(last, "不一致") || strings.Contains(last, c.truthEdu.Level) {
		t.Errorf("timeline line %q", last)
	}

	// If the applicant accepts the agencies' values, the estimate is the
	// score of the facts as held: education and honours as the agencies
	// say, tax as declared (the tax office did not answer).
	acc := p.Accepted(c.reload(e).Declaration)
	if acc.Education != c.truthEdu || len(acc.Honors) != 0 || len(acc.IncomeTax) != len(c.app.Declaration.IncomeTax) {
		t.Errorf("accepted declaration %+v", acc)
	}
	now, err := application.Estimate(c.app.Declaration)
	if err != nil {
		t.Fatal(err)
	}
	then, err := application.Estimate(acc)
	if err != nil {
		t.Fatal(err)
	}
	if hn, _ := then.Indicator(rules.CodeHonors); hn.Points != 0 {
		t.Errorf("honours still scored %v after accepting none", hn.Points)
	}
	if hn, _ := now.Indicator(rules.CodeHonors); hn.Points == 0 {
		t.Errorf("the declared honour scored nothing")
	}

	// The birth date cannot be taken (it comes from the identity card), a
	// matching item needs nothing, an unknown item is named.
	for _, item := range []string{rules.CodeAge, rules.CodeHousing, "nonsense"} {
		if _, err := e.eng.TakeAgencyValue(e.ctx, c.who, c.app, p.ID, item, c.app.Version); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("take %s: %v", item, err)
		}
	}
	// Take the agency's education into the draft.
	a, err := e.eng.TakeAgencyValue(e.ctx, c.who, c.app, p.ID, rules.CodeEducation, c.app.Version)
	if err != nil {
		t.Fatal(err)
	}
	if a.Declaration.Education != c.truthEdu || !p.Agrees(a.Declaration, rules.CodeEducation) || p.Agrees(a.Declaration, rules.CodeHonors) {
		t.Fatalf("after taking: %+v", a.Declaration.Education)
	}
	if _, err := e.eng.TakeAgencyValue(e.ctx, c.who, a, p.ID, rules.CodeEducation, a.Version-1); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("a stale page took a value: %v", err)
	}
	if n := e.count(`SELECT COUNT(*) FROM application_events WHERE application_id = $1 AND reason LIKE '%采用了部门登记记录%'`, a.ID); n != 1 {
		t.Errorf("%d timeline lines for taking a value", n)
	}

	// The round's own cross-check asks again and finds no discrepancy in
	// education, while the honour still differs.
	e.setFaults(agency.Tax, agencysim.Faults{})
	if _, err := e.db.Exec(e.ctx, `UPDATE applications SET status = 'submitted' WHERE id = $1`, a.ID); err != nil {
		t.Fatal(err)
	}
	r, err := e.eng.StartRun(e.ctx, officer, RunInput{RoundID: e.roundID})
	if err != nil {
		t.Fatal(err)
	}
	if r = e.work(e.eng, r.ID, 60*time.Second, "applied"); r.Status != "applied" {
		t.Fatalf("round run %s", r.Status)
	}
	if n := e.count(`SELECT COUNT(*) FROM discrepancies WHERE application_id = $1 AND item = 'education'`, a.ID); n != 0 {
		t.Errorf("the run found %d education discrepancies after the agency's value was taken", n)
	}
	if n := e.count(`SELECT COUNT(*) FROM discrepancies WHERE application_id = $1 AND item = 'honors'`, a.ID); n != 1 {
		t.Errorf("the run found %d honours discrepancies (one was kept)", n)
	}
}

func TestPrecheckLimitAndConsentWithdrawn(t *testing.T) {
	e := newEnv(t, 40)
	c := newPrecheckCase(e)
	e.eng.PrecheckPerDay = 2
	if err := e.eng.GrantConsent(e.ctx, c.who); err != nil {
		t.Fatal(err)
	}
	// Eight requests at once: one pre-check, asked once.
	var wg sync.WaitGroup
	ids := make([]int64, 8)
	errs := make([]error, 8)
	for i := range ids {
		wg.Go(func() {
			p, err := e.eng.RequestPrecheck(e.ctx, c.who, c.app)
			errs[i] = err
			if err == nil {
				ids[i] = p.ID
			}
		})
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("concurrent requests: %v %v", ids, errs)
		}
	}
	finish(e, &Precheck{ID: ids[0]})
	// The second of the day, then the limit.
	p2, err := e.eng.RequestPrecheck(e.ctx, c.who, c.app)
	if err != nil {
		t.Fatal(err)
	}
	finish(e, p2)
	_, err = e.eng.RequestPrecheck(e.ctx, c.who, c.app)
	if !apperr.Is(err, apperr.TooManyRequests) || !strings.Contains(apperr.As(err).Message, "每人每天最多2次") {
		t.Fatalf("third pre-check of the day: %v", err)
	}
	if st, err := e.eng.StateOf(e.ctx, c.who, c.app); err != nil || st.Used != 2 || st.Limit != 2 || !st.Consent.Active() || st.Latest == nil ||
		st.Latest.ID != p2.ID {
		t.Errorf("today's state %+v (%v)", st, err)
	}
	if n := e.count(`SELECT COUNT(*) FROM prechecks`); n != 2 {
		t.Errorf("%d pre-checks stored", n)
	}

	// With room under the limit, a request, then the consent is withdrawn
	// before the worker runs: the request is cancelled and no agency is
	// asked.
	e.eng.PrecheckPerDay = 5
	p3, err := e.eng.RequestPrecheck(e.ctx, c.who, c.app)
	if err != nil {
		t.Fatal(err)
	}
	before := e.count(`SELECT COUNT(*) FROM check_calls WHERE kind = 'precheck'`)
	if err := e.eng.WithdrawConsent(e.ctx, c.who); err != nil {
		t.Fatal(err)
	}
	if p := finish(e, p3); p.Status != PrecheckCancelled {
		t.Errorf("pre-check after withdrawal: %s", p.Status)
	}
	if after := e.count(`SELECT COUNT(*) FROM check_calls WHERE kind = 'precheck'`); after != before {
		t.Errorf("%d agency calls after the consent was withdrawn", after-before)
	}
	if _, err := e.eng.RequestPrecheck(e.ctx, c.who, c.app); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("pre-check after withdrawal: %v", err)
	}
	if n := e.count(`SELECT COUNT(*) FROM audit_log WHERE action = 'precheck.withdraw'`); n != 1 {
		t.Errorf("withdrawal audited %d times", n)
	}
	// A submitted application needs none.
	if _, err := e.db.Exec(e.ctx, `UPDATE applications SET status = 'with_employer' WHERE id = $1`, c.app.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.GrantConsent(e.ctx, c.who); err != nil {
		t.Fatal(err)
	}
	if _, err := e.eng.RequestPrecheck(e.ctx, c.who, c.reload(e)); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("pre-check of a submitted application: %v", err)
	}
}
