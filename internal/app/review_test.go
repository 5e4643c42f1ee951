package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"mime/multipart"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/app/apptest"
	"jifen/internal/casetest"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/round"
	"jifen/internal/rules"
)

// seedFirstResult gives an application the first result of an applied
// cross-check whose agencies hold a registered rental where the applicant
// declared an owned home, and returns that score.
func seedFirstResult(t *testing.T, a *apptest.App, id int64) int64 {
	t.Helper()
	ctx := context.Background()
	var roundID int64
	var declJSON, book string
	if err := a.DB.QueryRow(ctx, `SELECT a.round_id, a.declaration, r.rulebook FROM applications a JOIN rounds r ON r.id = a.round_id
		WHERE a.id = $1`, id).Scan(&roundID, &declJSON, &book); err != nil {
		t.Fatal(err)
	}
	var v rules.CalculatorRequest
	if err := json.Unmarshal([]byte(declJSON), &v); err != nil {
		t.Fatal(err)
	}
	v.Housing = []rules.HousingInput{{Kind: "rented", From: v.Housing[0].From, To: v.Housing[0].To, District: "昌平区", Registered: true}}
	res := scoreOf(t, book, v)
	vj, _ := json.Marshal(v)
	now := db.Micros(a.Clock.Now())
	var run int64
	if err := a.DB.QueryRow(ctx, `INSERT INTO check_runs (round_id, scope, mode, rulebook, status, created_at)
		VALUES ($1, 'round', 'apply', $2, 'applied', $3) RETURNING id`, roundID, book, now).Scan(&run); err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO check_scores (run_id, application_id, total, eligible, verified, outcomes, scored_at)
			VALUES ($1, $2, $3, $4, $5, '{}', $6)`, []any{run, id, int64(res.Total), res.Eligible, string(vj), now}},
		{`UPDATE applications SET status = 'first_result', score = $1, score_eligible = $2, score_run = $3, scored_at = $4 WHERE id = $5`,
			[]any{int64(res.Total), res.Eligible, run, now, id}},
	} {
		if _, err := a.DB.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	return int64(res.Total)
}

func scoreOf(t *testing.T, book string, r rules.CalculatorRequest) rules.Result {
	t.Helper()
	b, err := rules.Book(book)
	if err != nil {
		t.Fatal(err)
	}
	f, fe := r.Facts()
	if len(fe) > 0 {
		t.Fatal(fe)
	}
	return b.Score(f)
}

func declaredOf(t *testing.T, a *apptest.App, id int64) (rules.CalculatorRequest, string) {
	t.Helper()
	var s, book string
	if err := a.DB.QueryRow(context.Background(), `SELECT a.declaration, r.rulebook FROM applications a JOIN rounds r ON r.id = a.round_id
		WHERE a.id = $1`, id).Scan(&s, &book); err != nil {
		t.Fatal(err)
	}
	var d rules.CalculatorRequest
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		t.Fatal(err)
	}
	return d, book
}

func statusScore(t *testing.T, a *apptest.App, id int64) (string, int64) {
	t.Helper()
	var st string
	var sc int64
	if err := a.DB.QueryRow(context.Background(), `SELECT status, score FROM applications WHERE id = $1`, id).Scan(&st, &sc); err != nil {
		t.Fatal(err)
	}
	return st, sc
}

func countOf(t *testing.T, a *apptest.App, q string, args ...any) int {
	t.Helper()
	var n int
	if err := a.DB.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// secondApplicant registers another applicant of the employer whose
// registration code is regCode and opens the application with the good
// declaration; it returns the applicant's client and the application id.
func secondApplicant(t *testing.T, a *apptest.App, login, regCode string, emp *apptest.Client) (*apptest.Client, int64) {
	t.Helper()
	c := a.Client(a.Internet)
	if r := c.PostJSON("/api/v1/applicants", map[string]string{"id_number": casetest.IDNumber(false), "name": "赵复查", "login": login,
		"phone": "13900139002", "email": login + "@example.cn", "password": apptest.Password,
		"privacy_version": account.PrivacyNoticeVersion}); r.Status != 201 {
		t.Fatalf("applicant: %d %s", r.Status, r.Body)
	}
	c.LoginAPI(login, apptest.Password)
	if r := c.PostJSON("/api/v1/links", map[string]string{"reg_code": regCode}); r.Status != 201 {
		t.Fatalf("link: %d %s", r.Status, r.Body)
	}
	var links struct{ Links []struct{ ID int64 } }
	emp.Get("/api/v1/employer/links?status=pending").JSON(&links)
	if r := emp.PostJSON("/api/v1/employer/links/"+strconv.FormatInt(links.Links[0].ID, 10)+"/confirm", nil); r.Status != 200 {
		t.Fatalf("confirm: %d %s", r.Status, r.Body)
	}
	var ap struct{ ID int64 }
	c.PostJSON("/api/v1/application", nil).JSON(&ap)
	if r := putJSON(c, "/api/v1/application/declaration", goodDecl); r.Status != 200 {
		t.Fatalf("declaration: %d %s", r.Status, r.Body)
	}
	return c, ap.ID
}

type caseAnswer struct {
	Version     int    `json:"version"`
	Status      string `json:"status"`
	AppStatus   string `json:"application_status"`
	ScoreChange *struct {
		Status   string      `json:"status"`
		NewScore json.Number `json:"new_score"`
	} `json:"score_change"`
}

func recordForm(t *testing.T, attendance, outcome string, file []byte) (*bytes.Buffer, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	_ = mw.WriteField("attendance", attendance)
	_ = mw.WriteField("outcome", outcome)
	if file != nil {
		fw, err := mw.CreateFormFile("file", "现场审核记录.pdf")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = fw.Write(file)
	}
	_ = mw.Close()
	return &b, mw.FormDataContentType()
}

// TestReviewDecidedInPersonAndWithFourEyes walks two 复查 cases through the
// real application: requested by the applicants, forwarded by the
// employer, received by the district; an in-person check booked on the
// portal (a full and a past slot refused) and recorded with evidence;
// indicators decided with corrected facts re-scored by the rules engine;
// self-approval refused; one change approved by a second officer (final
// with the new score), the other rejected (final with the old one); and
// the finalize job making final, once, an application nobody asked to
// re-examine.
func TestReviewDecidedInPersonAndWithFourEyes(t *testing.T) {
	a := apptest.Start(t)
	ctx := context.Background()
	emp, app, id := flow(t, a)
	var me struct {
		RegCode string `json:"reg_code"`
	}
	emp.Get("/api/v1/employer").JSON(&me)
	if r := putJSON(app, "/api/v1/application/declaration", goodDecl); r.Status != 200 {
		t.Fatalf("declaration: %d %s", r.Status, r.Body)
	}
	app2, id2 := secondApplicant(t, a, "app2", me.RegCode, emp)
	_, id3 := secondApplicant(t, a, "app3", me.RegCode, emp)
	_, id4 := secondApplicant(t, a, "app4", me.RegCode, emp)
	old1, old2 := seedFirstResult(t, a, id), seedFirstResult(t, a, id2)
	seedFirstResult(t, a, id3)
	seedFirstResult(t, a, id4)

	rd, err := a.EnsureRound(ctx, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	win, _ := rd.Window(round.Review)
	a.Clock.Set(win.OpensAt.Add(time.Hour))
	for _, c := range []struct {
		cl    *apptest.Client
		login string
	}{{app, "app1"}, {app2, "app2"}, {emp, "op1"}} {
		c.cl.LoginAPI(c.login, apptest.Password)
	}
	for _, c := range []struct {
		cl *apptest.Client
		id int64
	}{{app, id}, {app2, id2}} {
		if r := c.cl.PostJSON("/api/v1/application/review", map[string]any{"indicators": []string{"housing"}, "reason": "住房为自有产权"}); r.Status != 200 {
			t.Fatalf("review request: %d %s", r.Status, r.Body)
		}
		if r := emp.PostJSON(fmt.Sprintf("/api/v1/employer/applications/%d/forward-review", c.id), map[string]string{"note": "已提交房产证复印件"}); r.Status != 200 {
			t.Fatalf("forward: %d %s", r.Status, r.Body)
		}
	}
	a.CreateUserIn("海淀区", "hd-one", account.DistrictOfficer)
	a.CreateUserIn("海淀区", "hd-two", account.DistrictOfficer)
	a.CreateUserIn("朝阳区", "cy-one", account.DistrictOfficer)
	one, two, cy := a.Client(a.Office), a.Client(a.Office), a.Client(a.Office)
	a.LoginStaff(one, "hd-one", apptest.Password)
	a.LoginStaff(two, "hd-two", apptest.Password)
	a.LoginStaff(cy, "cy-one", apptest.Password)
	base := func(id int64) string { return fmt.Sprintf("/api/v1/office/reviews/%d", id) }
	// The first officer holds both cases (internal/casework): only the
	// holder decides; the second officer approves.
	for _, x := range []int64{id, id2} {
		if r := one.PostJSON(fmt.Sprintf("/api/v1/office/cases/%d/claim", x), nil); r.Status != 200 {
			t.Fatalf("claim %d: %d %s", x, r.Status, r.Body)
		}
	}
	if r := two.PostJSON(base(id)+"/decisions", map[string]any{"indicator": "housing", "outcome": "rejected", "reason": "理由充分"}); r.Status != 404 {
		t.Fatalf("an officer who does not hold the case decides: %d %s", r.Status, r.Body)
	}

	// Not received yet: no decision.
	if r := one.PostJSON(base(id)+"/decisions", map[string]any{"indicator": "housing", "outcome": "rejected", "reason": "理由充分"}); r.Status != 409 {
		t.Fatalf("decide before receiving: %d %s", r.Status, r.Body)
	}
	for _, x := range []int64{id, id2} {
		if r := one.PostJSON(base(x)+"/receive", nil); r.Status != 200 {
			t.Fatalf("receive: %d %s", r.Status, r.Body)
		}
	}
	if n := countOf(t, a, `SELECT count(*) FROM application_events WHERE application_id = $1 AND reason LIKE '区人力社保局已接收复查申请%'`, id); n != 1 {
		t.Fatalf("receive on the timeline: %d", n)
	}
	if r := one.Get("/office/reviews?status=received"); !strings.Contains(r.Body, "合法稳定住所") || !strings.Contains(r.Body, "复查决定") {
		t.Fatalf("received list: %s", r.Body)
	}
	// Another district: 404, audited.
	if r := cy.Get(base(id)); r.Status != 404 {
		t.Fatalf("other district: %d", r.Status)
	}
	if r := cy.PostJSON(base(id)+"/decisions", map[string]any{"indicator": "housing", "outcome": "rejected", "reason": "理由充分"}); r.Status != 404 {
		t.Fatalf("other district decides: %d", r.Status)
	}
	if n := countOf(t, a, `SELECT count(*) FROM audit_log WHERE action = 'access.denied' AND object_type = 'review'`); n < 2 {
		t.Fatalf("denied rows: %d", n)
	}

	// In-person checks: slots (past refused), required, booked on the portal.
	today := clock.BeijingDay(a.Clock.Now())
	day := func(d int) string { return today.AddDate(0, 0, d).Format(time.DateOnly) }
	if r := one.PostJSON("/api/v1/office/inspection-slots", map[string]any{"date": day(-1), "half": "am", "capacity": 1}); r.Status != 400 ||
		!strings.Contains(r.Body, `"field":"date"`) {
		t.Fatalf("past slot: %d %s", r.Status, r.Body)
	}
	if r := one.PostForm("/office/reviews/slots", url.Values{"date": {day(0)}, "half": {"am"}, "capacity": {"0"}}); r.Status != 400 ||
		!strings.Contains(r.Body, "可预约人数应在1到200之间") {
		t.Fatalf("slot page, bad capacity: %d", r.Status)
	}
	if r := one.PostForm("/office/reviews/slots", url.Values{"date": {day(3)}, "half": {"am"}, "capacity": {"4"}}); r.Status != 303 {
		t.Fatalf("slot page: %d %s", r.Status, r.Body)
	}
	if r := one.Get("/office/reviews/slots"); r.Status != 200 || !strings.Contains(r.Body, day(3)) {
		t.Fatalf("slots page: %d", r.Status)
	}
	var s1, s2 struct{ ID int64 }
	one.PostJSON("/api/v1/office/inspection-slots", map[string]any{"date": day(2), "half": "pm", "capacity": 1}).JSON(&s1)
	one.PostJSON("/api/v1/office/inspection-slots", map[string]any{"date": day(1), "half": "am", "capacity": 3}).JSON(&s2)
	if s1.ID == 0 || s2.ID == 0 {
		t.Fatal("slots not created")
	}
	for _, x := range []int64{id, id2} {
		if r := one.PostJSON(base(x)+"/inspection", map[string]any{"indicators": []string{"housing"}, "note": "请携带房产证原件"}); r.Status != 200 {
			t.Fatalf("require inspection: %d %s", r.Status, r.Body)
		}
	}
	if r := app.Get("/me/review/progress"); r.Status != 200 || !strings.Contains(r.Body, "请携带房产证原件") || !strings.Contains(r.Body, "余 1 个") {
		t.Fatalf("progress page: %d %s", r.Status, r.Body)
	}
	if r := app.PostForm("/me/review/booking", url.Values{"slot": {strconv.FormatInt(s1.ID, 10)}}); r.Status != 303 {
		t.Fatalf("booking page: %d %s", r.Status, r.Body)
	}
	if r := app2.PostJSON("/api/v1/application/review/booking", map[string]any{"slot_id": s1.ID}); r.Status != 400 ||
		!strings.Contains(r.Body, `"field":"slot"`) || !strings.Contains(r.Body, "约满") {
		t.Fatalf("full slot: %d %s", r.Status, r.Body)
	}
	// The check is recorded with its evidence.
	body, ct := recordForm(t, "attended", "核验房产证原件，自有住房属实", []byte("%PDF-1.7 现场审核"))
	if r := one.Do("POST", base(id)+"/inspection/record", body, map[string]string{"Content-Type": ct}); r.Status != 200 {
		t.Fatalf("record: %d %s", r.Status, r.Body)
	}
	if r := two.Get(base(id) + "/inspection/evidence"); r.Status != 200 || !strings.HasPrefix(r.Body, "%PDF") {
		t.Fatalf("evidence: %d", r.Status)
	}

	// Decide with corrected facts: bad facts are refused naming the field.
	var cs caseAnswer
	one.Get(base(id)).JSON(&cs)
	if r := one.PostJSON(base(id)+"/decisions", map[string]any{"indicator": "housing", "outcome": "upheld", "reason": "现场核验属实",
		"version": cs.Version, "corrected": map[string]any{"housing": []map[string]any{{"kind": "owned", "from": "2015-13", "to": "2025-12",
			"district": "昌平区"}}}}); r.Status != 400 || !strings.Contains(r.Body, `"field":"corrected.housing[0].from"`) {
		t.Fatalf("bad corrected facts: %d %s", r.Status, r.Body)
	}
	decl, book := declaredOf(t, a, id)
	want := int64(scoreOf(t, book, decl).Total)
	r := one.PostJSON(base(id)+"/decisions", map[string]any{"indicator": "housing", "outcome": "upheld", "reason": "现场核验属实",
		"version": cs.Version, "corrected": map[string]any{"housing": decl.Housing}})
	r.JSON(&cs)
	if r.Status != 200 || cs.Status != "approval" || cs.ScoreChange == nil || cs.ScoreChange.Status != "pending" {
		t.Fatalf("decide: %d %s", r.Status, r.Body)
	}
	if st, sc := statusScore(t, a, id); st != "review_requested" || sc != old1 || want == old1 {
		t.Fatalf("before approval: %s %d (old %d, new %d)", st, sc, old1, want)
	}
	// Self-approval is refused in Chinese, on the API and the page.
	if r := one.PostJSON(base(id)+"/score-change/approve", map[string]string{}); r.Status != 403 || !strings.Contains(r.Body, "不能审批本人") {
		t.Fatalf("self-approval: %d %s", r.Status, r.Body)
	}
	if r := one.PostForm(fmt.Sprintf("/office/reviews/%d/approve", id), url.Values{"confirmed": {"yes"}}); r.Status != 403 ||
		!strings.Contains(r.Body, "不能审批本人") {
		t.Fatalf("self-approval page: %d", r.Status)
	}
	if r := two.Get("/office/reviews/approvals"); r.Status != 200 || !strings.Contains(r.Body, fmt.Sprintf(`/office/reviews/%d"`, id)) {
		t.Fatalf("approval queue: %d", r.Status)
	}
	if r := two.Get("/office/"); r.Status != 200 || !strings.Contains(r.Body, "复查积分调整待审批") {
		t.Fatalf("工作台: %d", r.Status)
	}
	// The second officer approves through the page, after the confirmation.
	if r := two.PostForm(fmt.Sprintf("/office/reviews/%d/approve", id), nil); r.Status != 200 || !strings.Contains(r.Body, "确认审批复查积分调整") {
		t.Fatalf("confirmation: %d %s", r.Status, r.Body)
	}
	if st, _ := statusScore(t, a, id); st != "review_requested" {
		t.Fatal("approved without confirmation")
	}
	if r := two.PostForm(fmt.Sprintf("/office/reviews/%d/approve", id), url.Values{"confirmed": {"yes"}}); r.Status != 303 {
		t.Fatalf("approve: %d %s", r.Status, r.Body)
	}
	if st, sc := statusScore(t, a, id); st != "final" || sc != want {
		t.Fatalf("after approval: %s %d, want final %d", st, sc, want)
	}
	var pv struct {
		Final        bool        `json:"final"`
		ChangeStatus string      `json:"score_change_status"`
		NewScore     json.Number `json:"new_score"`
	}
	app.Get("/api/v1/application/review").JSON(&pv)
	if !pv.Final || pv.ChangeStatus != "approved" || hundredths(pv.NewScore) != want {
		t.Fatalf("applicant's view: %+v", pv)
	}
	if r := app.Get("/me/review/progress"); !strings.Contains(r.Body, "已审批生效") || !strings.Contains(r.Body, "现场核验属实") {
		t.Fatalf("progress page after approval: %s", r.Body)
	}

	// The second case: the applicant did not come; a change is proposed and rejected.
	body, ct = recordForm(t, "absent", "申请人未按预约到场", nil)
	if r := one.Do("POST", base(id2)+"/inspection/record", body, map[string]string{"Content-Type": ct}); r.Status != 200 {
		t.Fatalf("record absent: %d %s", r.Status, r.Body)
	}
	// This one is decided on the page: the declared facts stand.
	page := fmt.Sprintf("/office/reviews/%d", id2)
	if r := one.Get(page); r.Status != 200 || !strings.Contains(r.Body, "合法稳定住所") || !strings.Contains(r.Body, "未到场") ||
		!strings.Contains(r.Body, "保存复查决定") {
		t.Fatalf("decide page: %d %s", r.Status, r.Body)
	}
	one.Get(base(id2)).JSON(&cs)
	form := url.Values{"indicator": {"housing"}, "outcome": {"upheld"}, "correct": {"declared"}, "version": {strconv.Itoa(cs.Version)}}
	if r := one.PostForm(page+"/decide", form); r.Status != 400 || !strings.Contains(r.Body, "请写明复查决定的理由") {
		t.Fatalf("decide page without a reason: %d", r.Status)
	}
	form.Set("reason", "单位提交的房产证复印件核对无误")
	if r := one.PostForm(page+"/decide", form); r.Status != 303 {
		t.Fatalf("decide 2: %d %s", r.Status, r.Body)
	}
	if r := two.Get(page); !strings.Contains(r.Body, "不予审批，维持原积分") || !strings.Contains(r.Body, "更正后的事实") {
		t.Fatalf("decide page for the second officer: %s", r.Body)
	}
	if r := one.PostJSON(base(id2)+"/score-change/reject", map[string]string{"note": "本人驳回"}); r.Status != 403 {
		t.Fatalf("self-rejection: %d", r.Status)
	}
	if r := two.PostJSON(base(id2)+"/score-change/reject", map[string]string{"note": "未到场核验原件，复印件不足以更正"}); r.Status != 200 {
		t.Fatalf("reject: %d %s", r.Status, r.Body)
	}
	if st, sc := statusScore(t, a, id2); st != "final" || sc != old2 {
		t.Fatalf("after rejection: %s %d, want final %d", st, sc, old2)
	}
	// Timeline and mail: each step of the review reached the applicant.
	if n := countOf(t, a, `SELECT count(*) FROM application_events WHERE application_id = $1 AND to_status = 'final'`, id2); n != 1 {
		t.Fatalf("final events: %d", n)
	}
	if n := countOf(t, a, `SELECT count(*) FROM mail_outbox WHERE category = 'application.note' AND ref = $1`, fmt.Sprintf("application:%d", id)); n < 4 {
		t.Fatalf("review mails to the first applicant: %d", n)
	}

	// A past slot is refused: the one of tomorrow morning, once it began.
	a.Clock.Set(today.AddDate(0, 0, 1).Add(10 * time.Hour))
	p4 := inspectionRequired(t, a, id4)
	if r := p4.PostJSON("/api/v1/application/review/booking", map[string]any{"slot_id": s2.ID}); r.Status != 400 ||
		!strings.Contains(r.Body, "已经开始或已过") {
		t.Fatalf("past slot: %d %s", r.Status, r.Body)
	}

	// The finalize job: once the review window has closed, the application
	// nobody asked to re-examine is final; a second run changes nothing.
	a.Clock.Set(win.ClosesAt.Add(time.Minute))
	if err := a.RunSchedule(ctx, "review_finalize"); err != nil {
		t.Fatal(err)
	}
	if st, _ := statusScore(t, a, id3); st != "final" {
		t.Fatalf("unreviewed after the window: %s", st)
	}
	before := [3]int{countOf(t, a, `SELECT count(*) FROM application_events`), countOf(t, a, `SELECT count(*) FROM mail_outbox`),
		countOf(t, a, `SELECT sum(version) FROM applications`)}
	if err := a.RunSchedule(ctx, "review_finalize"); err != nil {
		t.Fatal(err)
	}
	after := [3]int{countOf(t, a, `SELECT count(*) FROM application_events`), countOf(t, a, `SELECT count(*) FROM mail_outbox`),
		countOf(t, a, `SELECT sum(version) FROM applications`)}
	if before != after {
		t.Fatalf("second run changed something: %v → %v", before, after)
	}
}

// inspectionRequired puts application id under a received 复查 of housing
// with an in-person check required, straight in the database (the same
// steps went over HTTP above), and returns a logged-in portal client of its
// applicant.
func inspectionRequired(t *testing.T, a *apptest.App, id int64) *apptest.Client {
	t.Helper()
	ctx := context.Background()
	var login string
	if err := a.DB.QueryRow(ctx, `SELECT u.login FROM applications a JOIN persons p ON p.id = a.person_id JOIN users u ON u.id = p.user_id
		WHERE a.id = $1`, id).Scan(&login); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`UPDATE applications SET status = 'review_requested' WHERE id = $1`,
		`INSERT INTO review_requests (application_id, indicators, reason, status, created_at, forwarded_at, received_at)
			VALUES ($1, 'housing', '住房为自有产权', 'received', 0, 0, 0)`,
		`INSERT INTO inspection_bookings (application_id, indicators, note, required_by, required_at) VALUES ($1, 'housing', '请携带原件', 1, 0)`,
	} {
		if _, err := a.DB.Exec(ctx, q, id); err != nil {
			t.Fatal(err)
		}
	}
	c := a.Client(a.Internet)
	if r := c.LoginAPI(login, apptest.Password); r.Status != 200 {
		t.Fatalf("login %s: %d", login, r.Status)
	}
	return c
}

func hundredths(n json.Number) int64 {
	f, _ := n.Float64()
	return int64(math.Round(f * 100))
}
