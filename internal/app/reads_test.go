package app_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"jifen/internal/account"
	"jifen/internal/app/apptest"
	"jifen/internal/audit"
	"jifen/internal/platform/db"
	"jifen/internal/rules"
)

// Every read of an applicant's file by someone else is audited — the
// employer's operator opening the application (page and API) and an
// attachment, a district officer opening a discrepancy and revealing the
// full ID number — and the audit administrator finds all of them by the
// applicant's ID number; the applicant's own reads are not recorded.
func TestReadsOfAnApplicantsFileAreAuditedAndFoundByApplicant(t *testing.T) {
	a := apptest.Start(t)
	ctx := context.Background()
	emp, app, id := flow(t, a)
	if r := putJSON(app, "/api/v1/application/declaration", goodDecl); r.Status != 200 {
		t.Fatalf("save: %d %s", r.Status, r.Body)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("indicator", "housing")
	fw, _ := mw.CreateFormFile("file", "房产证.pdf")
	_, _ = fw.Write([]byte("%PDF-1.7 real"))
	_ = mw.Close()
	r := app.Do("POST", "/api/v1/application/attachments", &buf, map[string]string{"Content-Type": mw.FormDataContentType()})
	var att struct{ ID int64 }
	r.JSON(&att)
	if r.Status != 201 || att.ID == 0 {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	if r := app.PostJSON("/api/v1/application/submit", map[string]bool{"truthful": true}); r.Status != 200 {
		t.Fatalf("submit: %d %s", r.Status, r.Body)
	}
	var personID int64
	if err := a.DB.QueryRow(ctx, `SELECT p.id FROM persons p JOIN users u ON u.id = p.user_id WHERE u.login = 'app1'`).Scan(&personID); err != nil {
		t.Fatal(err)
	}
	if err := a.Audit.FlushReads(ctx); err != nil {
		t.Fatal(err)
	}
	before, err := a.Audit.Search(ctx, audit.ApplicantFilter(personID))
	if err != nil {
		t.Fatal(err)
	}

	// The applicant's own reads.
	app.Get("/api/v1/application")
	app.Get("/me")
	app.Get("/me/application/attachments/" + strconv.FormatInt(att.ID, 10))
	// The employer's operator.
	sid := strconv.FormatInt(id, 10)
	for _, p := range []string{"/employer/applications/" + sid, "/api/v1/employer/applications/" + sid,
		"/employer/applications/" + sid + "/attachments/" + strconv.FormatInt(att.ID, 10)} {
		if r := emp.Get(p); r.Status != 200 {
			t.Fatalf("GET %s: %d", p, r.Status)
		}
	}
	// A district officer of the employer's district opens a discrepancy of
	// the application and reveals the full ID number.
	now := db.Micros(a.Clock.Now())
	var roundID, run, discID int64
	var book string
	if err := a.DB.QueryRow(ctx, `SELECT a.round_id, r.rulebook FROM applications a JOIN rounds r ON r.id = a.round_id WHERE a.id = $1`, id).
		Scan(&roundID, &book); err != nil {
		t.Fatal(err)
	}
	if err := a.DB.QueryRow(ctx, `INSERT INTO check_runs (round_id, scope, mode, rulebook, status, created_at)
		VALUES ($1, 'round', 'apply', $2, 'applied', $3) RETURNING id`, roundID, book, now).Scan(&run); err != nil {
		t.Fatal(err)
	}
	var empty rules.CalculatorRequest
	part := empty.PartJSON(rules.CodeHousing)
	if err := a.DB.QueryRow(ctx, `INSERT INTO discrepancies (application_id, run_id, item, outcome, declared, verified,
		district, status, created_at, updated_at) VALUES ($1, $2, 'housing', 'not_found', $3, $3, '海淀区', 'open', $4, $4) RETURNING id`,
		id, run, part, now).Scan(&discID); err != nil {
		t.Fatal(err)
	}
	a.CreateUser("hd-officer", account.DistrictOfficer)
	off := a.Client(a.Office)
	a.LoginStaff(off, "hd-officer", apptest.Password)
	dp := "/office/discrepancies/" + strconv.FormatInt(discID, 10)
	if r := off.Get(dp); r.Status != 200 || !strings.Contains(r.Body, "显示完整身份证号") || !strings.Contains(r.Body, "**********") {
		t.Fatalf("discrepancy page: %d", r.Status)
	}
	r = off.PostForm(dp+"/reveal-id", nil)
	m := regexp.MustCompile(`<strong>(\d{17}[\dX])</strong>`).FindStringSubmatch(r.Body)
	if r.Status != 200 || m == nil {
		t.Fatalf("reveal: %d, no full ID number on the page", r.Status)
	}
	idNumber := m[1]

	if err := a.Audit.FlushReads(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := a.Audit.Search(ctx, audit.ApplicantFilter(personID))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, e := range after[:len(after)-len(before)] {
		got[e.Action+" "+e.ActorLogin]++
		if e.ClientAddr == "" || e.RequestID == "" || e.Reason == "" {
			t.Errorf("read row without address, request or what was read: %+v", e)
		}
	}
	want := map[string]int{
		audit.ReadApplication + " op1": 2, audit.ReadAttachment + " op1": 1,
		audit.ReadDiscrepancy + " hd-officer": 2, audit.ViewIDNumber + " hd-officer": 1,
	}
	if len(got) != len(want) {
		t.Fatalf("audited reads %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Fatalf("audited reads %v, want %v", got, want)
		}
	}
	if res, err := a.Audit.Verify(ctx); err != nil || !res.OK() {
		t.Fatalf("chain after batched reads: %+v %v", res, err)
	}

	// The audit administrator searches by the applicant's ID number.
	a.CreateUser("auditor1", account.AuditAdmin)
	aud := a.Client(a.Office)
	a.LoginStaff(aud, "auditor1", apptest.Password)
	r = aud.Get("/office/audit?applicant=" + idNumber)
	if r.Status != 200 {
		t.Fatalf("audit search: %d", r.Status)
	}
	for _, s := range []string{"查阅申请档案", "查阅申请材料", "查阅比对差异", "查看完整身份证号", "op1", "hd-officer",
		"GET /employer/applications/{id}/attachments/{att}", "房产证.pdf"} {
		if !strings.Contains(r.Body, s) {
			t.Errorf("audit search by applicant does not show %q", s)
		}
	}
	if r := aud.Get("/office/audit/export.csv?applicant=" + idNumber); r.Status != 200 || !strings.Contains(r.Body, "person.read_attachment") {
		t.Fatalf("export by applicant: %d", r.Status)
	}
	ex, err := a.Audit.Search(ctx, audit.Filter{Action: "audit.export"})
	if err != nil || len(ex) != 1 || strings.Contains(ex[0].Reason, idNumber) || !strings.Contains(ex[0].Reason, idNumber[:4]) {
		t.Fatalf("the export's own row keeps the ID number unmasked: %+v %v", ex, err)
	}
	if r := aud.Get("/office/audit?applicant=110101199001011234"); r.Status != 400 || !strings.Contains(r.Body, "没有找到该身份证号的申请人") {
		t.Fatalf("unknown applicant: %d", r.Status)
	}
}
