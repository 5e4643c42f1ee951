package casefile_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/casefile"
	"jifen/internal/casetest"
	"jifen/internal/check"
	"jifen/internal/platform/apperr"
	"jifen/internal/rules"
)

// results is the cross-check's answer for the tests: one application whose
// housing the agencies hold as rented where a home was declared owned.
type results struct {
	appID    int64
	declared rules.CalculatorRequest
}

func (r *results) ResultOf(_ context.Context, id int64) (*check.Result, error) {
	if id != r.appID {
		return nil, nil
	}
	v := r.declared
	v.Housing = []rules.HousingInput{{Kind: "rented", From: "2015-01", To: "2026-12", District: "昌平区", Registered: true}}
	vj, _ := json.Marshal(v)
	return &check.Result{RunID: 1, Verified: string(vj), Outcomes: []check.Outcome{
		{Item: rules.CodeEligibility, Outcome: check.Match},
		{Item: rules.CodeHousing, Outcome: check.Mismatch, Declared: r.declared.PartJSON(rules.CodeHousing), Verified: v.PartJSON(rules.CodeHousing)},
	}}, nil
}

func (r *results) StatementOf(ctx context.Context, id int64) (*check.Statement, error) {
	res, _ := r.ResultOf(ctx, id)
	if res == nil {
		return nil, nil
	}
	var v rules.CalculatorRequest
	_ = json.Unmarshal([]byte(res.Verified), &v)
	scored, err := scoreOf(v)
	if err != nil {
		return nil, err
	}
	return &check.Statement{Total: int64(scored.Total), Eligible: scored.Eligible, Result: scored, Items: []check.StatementItem{
		{Item: rules.CodeEligibility, Name: rules.CheckItemName(rules.CodeEligibility), Outcome: check.Match, OutcomeName: "一致", Agencies: []string{"市公安局"}},
		{Item: rules.CodeHousing, Name: rules.CheckItemName(rules.CodeHousing), Outcome: check.Mismatch, OutcomeName: "不一致", Agencies: []string{"市住房城乡建设委"}},
	}}, nil
}

func scoreOf(r rules.CalculatorRequest) (rules.Result, error) {
	f, fe := r.Facts()
	if len(fe) > 0 {
		return rules.Result{}, errors.New(fe[0].Message)
	}
	b, err := rules.Book("2020")
	if err != nil {
		return rules.Result{}, err
	}
	return b.Score(f), nil
}

func declared() rules.CalculatorRequest {
	return rules.CalculatorRequest{ApplicationYear: 2027, ResidencePermit: true,
		SocialInsurance: []rules.PeriodInput{{From: "2012-07", To: "2026-12"}},
		Housing:         []rules.HousingInput{{Kind: "owned", From: "2015-01", To: "2026-12", District: "昌平区"}},
		Education:       rules.EducationInput{Level: "bachelor", Diploma: true, Degree: true},
		Workplaces:      []rules.WorkplaceInput{{From: "2012-07", To: "2026-12", District: "海淀区"}}}
}

type fixture struct {
	*casetest.Env
	svc             *casefile.Service
	appID, personID int64
	otherApp        int64 // same employer, same phone
	applicant       actor.Actor
	hd, cy, city    actor.Actor
	attID           int64
}

func staff(t *testing.T, env *casetest.Env, login, district string, role actor.Role) actor.Actor {
	t.Helper()
	u, err := env.Accounts.CreateUser(env.Ctx, account.NewUser{Login: login, DisplayName: "测试" + login, Zone: account.Office,
		Password: casetest.Password, Roles: []account.Role{role}, District: district})
	if err != nil {
		t.Fatal(err)
	}
	return u.Actor()
}

func setup(t *testing.T) *fixture {
	t.Helper()
	env := casetest.New(t)
	emp, op := env.VerifiedEmployer("cf_op") // 海淀区
	p, c, app := env.Linked("cf_app", emp, op)
	d := declared()
	d.BirthDate, d.Sex = p.BirthDate, p.Sex
	if _, err := env.Applications.SaveDraft(env.Ctx, c, app.ID, d, app.Version); err != nil {
		t.Fatal(err)
	}
	att, err := env.Attachments.Add(env.Ctx, c, app.ID, "housing", "租房合同.png", strings.NewReader("\x89PNG\r\n\x1a\n"+strings.Repeat("\x00", 64)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Applications.SubmitToEmployer(env.Ctx, c, app.ID, true); err != nil {
		t.Fatal(err)
	}
	_, _, other := env.Linked("cf_app2", emp, op)
	f := &fixture{Env: env, appID: app.ID, personID: p.ID, otherApp: other.ID, applicant: c, attID: att.ID,
		hd: staff(t, env, "cf_hd", "海淀区", actor.DistrictOfficer), cy: staff(t, env, "cf_cy", "朝阳区", actor.DistrictOfficer),
		city: staff(t, env, "cf_city", "", actor.CityOfficer)}
	f.svc = casefile.New(env.DB, env.Audit, env.Clock, env.Applications, env.Attachments, env.Persons, env.Accounts,
		&results{appID: app.ID, declared: d})
	return f
}

// rows returns the audit rows of an action on the application, after the
// buffered reads are written.
func (f *fixture) rows(t *testing.T, action, objectType, objectID string) []audit.Entry {
	t.Helper()
	if err := f.Audit.FlushReads(f.Ctx); err != nil {
		t.Fatal(err)
	}
	es, err := f.Audit.Search(f.Ctx, audit.Filter{Action: action, ObjectType: objectType, ObjectID: objectID})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func TestOpenShowsTheCaseMaskedAndAuditsTheRead(t *testing.T) {
	f := setup(t)
	c, err := f.svc.Open(f.Ctx, f.hd, f.appID, "recheck")
	if err != nil {
		t.Fatal(err)
	}
	if c.Revealed || !strings.Contains(c.IDNumber, "*") || c.Phone != "139****9000" {
		t.Errorf("identity not masked: %q %q", c.IDNumber, c.Phone)
	}
	if c.District != "海淀区" || c.Purpose.Name != "复查" || !c.Checked {
		t.Errorf("case = %+v", c)
	}
	var housing *casefile.Item
	for i := range c.Items {
		if c.Items[i].Code == rules.CodeHousing {
			housing = &c.Items[i]
		}
	}
	if housing == nil || housing.Outcome != check.Mismatch || len(housing.Rows) == 0 || !housing.Rows[0].Differs {
		t.Fatalf("housing item = %+v", housing)
	}
	if !strings.Contains(strings.Join(housing.Rows[0].Declared, ""), "自有") && !strings.Contains(strings.Join(housing.Rows[0].Verified, ""), "租") {
		t.Errorf("housing rows not rendered in words: %+v", housing.Rows)
	}
	if !c.Score.Checked || c.Score.Declared == c.Score.Verified {
		t.Errorf("score declared %v verified %v: the rented home should score differently", c.Score.Declared, c.Score.Verified)
	}
	if len(c.Attachments) != 1 || !c.Attachments[0].Image || len(c.Timeline) == 0 {
		t.Errorf("attachments %+v timeline %+v", c.Attachments, c.Timeline)
	}
	kinds := map[string]int{}
	for _, g := range c.Related {
		kinds[g.Kind] = g.Total
		for _, rc := range g.Cases {
			if rc.ID == f.appID || !strings.Contains(rc.Name, "*") {
				t.Errorf("related case %+v: itself or unmasked", rc)
			}
		}
	}
	if kinds[casefile.SameEmployer] != 1 || kinds[casefile.SamePhone] != 1 {
		t.Errorf("related = %+v, want the other applicant by employer and by phone", c.Related)
	}
	es := f.rows(t, audit.ReadCase, "person", strconv.FormatInt(f.personID, 10))
	if len(es) != 1 || !strings.HasPrefix(es[0].Reason, "目的：复查；") || es[0].ActorLogin != "cf_hd" {
		t.Fatalf("read rows = %+v", es)
	}
}

func TestOtherDistrictUnknownAndBadInput(t *testing.T) {
	f := setup(t)
	if _, err := f.svc.Open(f.Ctx, f.cy, f.appID, ""); !errors.Is(err, casefile.ErrNotFound) {
		t.Fatalf("other district: %v", err)
	}
	if _, err := f.svc.Open(f.Ctx, f.hd, 999999, ""); !errors.Is(err, casefile.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	if _, err := f.svc.Open(f.Ctx, f.applicant, f.appID, ""); !errors.Is(err, casefile.ErrNotFound) {
		t.Fatalf("applicant: %v", err)
	}
	denied := f.rows(t, "case.open", "application", "")
	n := 0
	for _, e := range denied {
		if e.Outcome == audit.Denied {
			n++
		}
	}
	if n != 3 {
		t.Errorf("denied rows = %d, want 3: %+v", n, denied)
	}
	if es := f.rows(t, audit.ReadCase, "person", strconv.FormatInt(f.personID, 10)); len(es) != 0 {
		t.Errorf("a refused open was recorded as a read: %+v", es)
	}
	if _, err := f.svc.Open(f.Ctx, f.hd, f.appID, "nosuch"); fieldOf(err, "purpose") == "" {
		t.Errorf("unknown purpose: %v", err)
	}
	if _, err := f.svc.Reveal(f.Ctx, f.hd, f.appID, "", "  "); fieldOf(err, "reason") == "" {
		t.Errorf("reveal without reason: %v", err)
	}
	if _, err := f.svc.Reveal(f.Ctx, f.cy, f.appID, "", "核对身份证件"); !errors.Is(err, casefile.ErrNotFound) {
		t.Errorf("reveal by other district: %v", err)
	}
	if _, err := f.svc.AddNote(f.Ctx, f.hd, f.appID, ""); fieldOf(err, "body") == "" {
		t.Errorf("empty note: %v", err)
	}
	if _, err := f.svc.AddNote(f.Ctx, f.hd, f.appID, strings.Repeat("长", casefile.MaxNote+1)); fieldOf(err, "body") == "" {
		t.Errorf("long note: %v", err)
	}
	if _, _, err := f.svc.OpenAttachment(f.Ctx, f.cy, f.appID, f.attID, ""); !errors.Is(err, casefile.ErrNotFound) {
		t.Errorf("attachment of other district: %v", err)
	}
	if es := f.rows(t, "person.view_id_number", "person", strconv.FormatInt(f.personID, 10)); len(es) != 0 {
		t.Errorf("a refused reveal was recorded: %+v", es)
	}
}

func TestRevealShowsOnceAndAuditsTheReason(t *testing.T) {
	f := setup(t)
	c, err := f.svc.Reveal(f.Ctx, f.city, f.appID, "onsite", "现场核对身份证原件")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Revealed || strings.Contains(c.IDNumber, "*") || c.Phone != "13900139000" {
		t.Errorf("revealed = %q %q", c.IDNumber, c.Phone)
	}
	again, err := f.svc.Open(f.Ctx, f.city, f.appID, "")
	if err != nil {
		t.Fatal(err)
	}
	if again.Revealed || !strings.Contains(again.IDNumber, "*") {
		t.Errorf("the next open shows %q", again.IDNumber)
	}
	es := f.rows(t, audit.ViewIDNumber, "person", strconv.FormatInt(f.personID, 10))
	if len(es) != 1 || !strings.Contains(es[0].Reason, "现场核对身份证原件") || !strings.HasPrefix(es[0].Reason, "目的：核实身份；") {
		t.Fatalf("reveal rows = %+v", es)
	}
}

func TestNotesAndConcurrentNotes(t *testing.T) {
	f := setup(t)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, who := range []actor.Actor{f.hd, f.city} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.svc.AddNote(f.Ctx, who, f.appID, "已电话联系申请人 "+who.Login)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.AddNote(f.Ctx, f.cy, f.appID, "越权备注"); !errors.Is(err, casefile.ErrNotFound) {
		t.Fatalf("note by other district: %v", err)
	}
	c, err := f.svc.Open(f.Ctx, f.hd, f.appID, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Notes) != 2 || c.Notes[0].Author == "" || c.Notes[0].Office == "" {
		t.Fatalf("notes = %+v", c.Notes)
	}
	if es := f.rows(t, "case.note", "application", strconv.FormatInt(f.appID, 10)); len(es) != 3 {
		t.Errorf("note rows = %d, want 2 successes and 1 denial", len(es))
	}
	var n int
	if err := f.DB.QueryRow(f.Ctx, `SELECT count(*) FROM case_notes WHERE application_id = $1`, f.appID).Scan(&n); err != nil || n != 2 {
		t.Errorf("case_notes = %d, %v", n, err)
	}
}

func TestAttachmentIsAuditedWithPurpose(t *testing.T) {
	f := setup(t)
	at, rc, err := f.svc.OpenAttachment(f.Ctx, f.hd, f.appID, f.attID, "first_check")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if at.ContentType != "image/png" || len(b) == 0 {
		t.Errorf("attachment %+v, %d bytes", at, len(b))
	}
	es := f.rows(t, audit.ReadAttachment, "person", strconv.FormatInt(f.personID, 10))
	if len(es) != 1 || !strings.HasPrefix(es[0].Reason, "目的：初核；") {
		t.Fatalf("attachment rows = %+v", es)
	}
	if _, _, err := f.svc.OpenAttachment(f.Ctx, f.hd, f.appID, 999999, ""); apperr.CodeOf(err) != apperr.NotFound {
		t.Errorf("unknown attachment: %v", err)
	}
}

func TestApplicantSeesOfficesNotOfficers(t *testing.T) {
	f := setup(t)
	if _, err := f.svc.Open(f.Ctx, f.hd, f.appID, "recheck"); err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(time.Minute)
	if _, err := f.svc.Reveal(f.Ctx, f.city, f.appID, "", "核对申请人身份"); err != nil {
		t.Fatal(err)
	}
	// Reads that do not count: the applicant's own, the system's, an
	// employer's operator's.
	f.Audit.RecordRead(f.Ctx, f.applicant, audit.Read{Action: audit.ReadApplication, PersonID: f.personID, What: "own"})
	f.Audit.RecordRead(f.Ctx, actor.SystemActor("test"), audit.Read{Action: audit.ReadApplication, PersonID: f.personID, What: "system"})
	f.Audit.RecordRead(f.Ctx, actor.Actor{UserID: 1, Login: "cf_op", Roles: []actor.Role{actor.EmployerOperator}},
		audit.Read{Action: audit.ReadApplication, PersonID: f.personID, What: "employer"})
	if err := f.Audit.FlushReads(f.Ctx); err != nil {
		t.Fatal(err)
	}
	vs, err := f.Audit.ViewsOf(f.Ctx, f.personID)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, v := range vs {
		got = append(got, v.Office+"/"+v.Role+"/"+v.Purpose)
		b, _ := json.Marshal(v)
		if strings.Contains(string(b), "cf_") || strings.Contains(string(b), "测试") {
			t.Errorf("a view names the officer: %s", b)
		}
	}
	// Newest first; the reveal's open and its reveal share a time, and the
	// open's buffered row is written after the reveal's.
	want := []string{"北京市人力社保局/市人力社保局经办人员/案件办理", "北京市人力社保局/市人力社保局经办人员/核实身份",
		"海淀区人力社保局/区人力社保局经办人员/复查"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("views = %v, want %v", got, want)
	}
}

func TestExtrasAreShownWhenWired(t *testing.T) {
	f := setup(t)
	f.svc.Fraud = func(_ context.Context, _ actor.Actor, id int64) (*casefile.Section, error) {
		return &casefile.Section{Key: "fraud", Title: "虚假材料库", Badge: "err", Lines: []casefile.Line{{Label: "禁止申报至", Value: "2032年"}}}, nil
	}
	f.svc.Extras = []casefile.Extra{func(context.Context, actor.Actor, int64) (*casefile.Section, error) { return nil, nil }}
	c, err := f.svc.Open(f.Ctx, f.hd, f.appID, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Fraud == nil || c.Fraud.Title != "虚假材料库" || c.Assignment != nil || len(c.Extras) != 0 {
		t.Errorf("fraud %+v assignment %+v extras %+v", c.Fraud, c.Assignment, c.Extras)
	}
}

func TestBeforeTheCheckOnlyTheDeclarationShows(t *testing.T) {
	f := setup(t)
	c, err := f.svc.Open(f.Ctx, f.hd, f.otherApp, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Checked || c.Score.Checked || len(c.Items) != len(rules.CheckItems()) {
		t.Fatalf("unchecked case = %+v", c)
	}
	for _, it := range c.Items {
		if it.OutcomeName != "尚未比对" {
			t.Errorf("item %s: %s", it.Code, it.OutcomeName)
		}
		for _, r := range it.Rows {
			if r.Verified != nil {
				t.Errorf("item %s shows a verified side before the check", it.Code)
			}
		}
	}
}

// fieldOf is the message of field in a validation error, "" if none.
func fieldOf(err error, field string) string {
	if e := apperr.As(err); e != nil {
		for _, f := range e.Fields {
			if f.Field == field {
				return f.Message
			}
		}
	}
	return ""
}
