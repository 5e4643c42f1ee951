package app_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"jifen/internal/account"
	"jifen/internal/app/apptest"
	"jifen/internal/settings"
)

// TestPermissionRequestsOverHTTP walks a grant through the office pages:
// filed with its form number, the requester's own approval refused,
// reviewed by one security administrator and approved by another; then the
// hand-over list of the month read back from its Excel file.
func TestPermissionRequestsOverHTTP(t *testing.T) {
	a := apptest.Start(t)
	a.CreateUser("sys", account.SystemAdmin)
	for _, l := range []string{"sec1", "sec2", "sec3"} {
		a.CreateUser(l, account.SecurityAdmin)
	}
	clerk := a.CreateUser("clerk9", account.DistrictOfficer)
	c := map[string]*apptest.Client{}
	for _, l := range []string{"sec1", "sec2", "sec3", "sys"} {
		c[l] = a.Client(a.Office)
		a.LoginStaff(c[l], l, apptest.Password)
	}
	form := url.Values{"user_id": {itoa(clerk.ID)}, "kind": {"grant"}, "role": {"mail_operator"}, "reason": {"兼任群发"}}
	if r := c["sec1"].PostForm("/office/security/roles/request", form); r.Status != 400 || !strings.Contains(r.Body, "请填写单据编号") {
		t.Fatalf("no form number: %d", r.Status)
	}
	form.Set("form_no", "QX-2026-042")
	if r := c["sec1"].PostForm("/office/security/roles/request", form); r.Status != 303 {
		t.Fatalf("request: %d %s", r.Status, r.Body)
	}
	reqs, err := a.Accounts.RoleRequests(t.Context(), mustUser(t, a, "sec1").Actor(), 10)
	if err != nil || len(reqs) != 1 {
		t.Fatalf("requests: %d %v", len(reqs), err)
	}
	id := itoa(reqs[0].ID)
	page := c["sec2"].Get("/office/security/roles")
	if !strings.Contains(page.Body, "QX-2026-042") || !strings.Contains(page.Body, "/office/security/roles/"+id+"/pass") {
		t.Fatal("the roles page lacks the request or its review button")
	}
	if r := c["sec2"].PostForm("/office/security/roles/"+id+"/pass", url.Values{"version": {"1"}}); r.Status != 303 {
		t.Fatalf("review: %d %s", r.Status, r.Body)
	}
	// Self-approval is refused with the reason in Chinese.
	r := c["sec1"].PostForm("/office/security/roles/"+id+"/approve", url.Values{"version": {"2"}})
	if r.Status != 403 || !strings.Contains(r.Body, "双人审批：不能审批自己提出的申请") {
		t.Fatalf("self-approval: %d", r.Status)
	}
	if r := c["sec2"].PostForm("/office/security/roles/"+id+"/approve", url.Values{"version": {"2"}}); r.Status != 403 {
		t.Fatalf("reviewer approved: %d", r.Status)
	}
	if r := c["sec3"].PostForm("/office/security/roles/"+id+"/approve", url.Values{"version": {"2"}}); r.Status != 303 {
		t.Fatalf("approve: %d %s", r.Status, r.Body)
	}
	if u := mustUser(t, a, "clerk9"); !u.HasRole(account.MailOperator) {
		t.Fatal("not granted")
	}
	if r := c["sec3"].Get("/office/security/access-review"); r.Status != 200 || !strings.Contains(r.Body, "clerk9") {
		t.Fatalf("access review: %d", r.Status)
	}

	// The hand-over list of the period, read back.
	day := a.Clock.Now().Format("2006-01-02")
	if r := c["sec1"].Get("/office/security/requests.xlsx?from=" + day + "&to=2000-01-01"); r.Status != 400 {
		t.Fatalf("bad period: %d", r.Status)
	}
	x := c["sec1"].Get("/office/security/requests.xlsx?from=" + day + "&to=" + day)
	if x.Status != 200 {
		t.Fatalf("export: %d %s", x.Status, x.Body)
	}
	f, err := excelize.OpenReader(strings.NewReader(x.Body))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := f.GetRows("权限申请")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 2 || rows[0][0] != "编号" || rows[0][1] != "单据编号" {
		t.Fatalf("header: %v", rows)
	}
	got := strings.Join(rows[1], "|")
	for _, want := range []string{"QX-2026-042", "开通", "clerk9", "邮件群发操作员", "sec1", "sec2", "sec3", "已生效"} {
		if !strings.Contains(got, want) {
			t.Errorf("row %q lacks %q", got, want)
		}
	}
	next := a.Clock.Now().AddDate(0, 0, 1).Format("2006-01-02")
	x = c["sec1"].Get("/office/security/requests.xlsx?from=" + next + "&to=" + next)
	f, _ = excelize.OpenReader(strings.NewReader(x.Body))
	if rows, _ := f.GetRows("权限申请"); len(rows) != 3 || !strings.Contains(rows[2][0], "共 0 条") { // header, blank, note
		t.Fatalf("empty period: %v", rows)
	}
}

// TestSecuritySettingNeedsSecondAdministrator: with two security
// administrators a lockout change waits; the proposer cannot approve it,
// the other can; the history page shows who, old, new and why.
func TestSecuritySettingNeedsSecondAdministrator(t *testing.T) {
	a := apptest.Start(t)
	a.CreateUser("sec1", account.SecurityAdmin)
	a.CreateUser("sec2", account.SecurityAdmin)
	s1, s2 := a.Client(a.Office), a.Client(a.Office)
	a.LoginStaff(s1, "sec1", apptest.Password)
	a.LoginStaff(s2, "sec2", apptest.Password)
	if r := s1.PostForm("/office/security/settings", url.Values{"security.lockout_threshold": {"4"}}); r.Status != 400 ||
		!strings.Contains(r.Body, "请填写修改理由") {
		t.Fatalf("no reason: %d", r.Status)
	}
	if r := s1.PostForm("/office/security/settings", url.Values{"security.lockout_threshold": {"4"}, "reason": {"等保整改"}}); r.Status != 303 {
		t.Fatalf("propose: %d %s", r.Status, r.Body)
	}
	if a.Settings.Int(t.Context(), settings.LockoutThreshold) != 5 {
		t.Fatal("applied before approval")
	}
	hist := s1.Get("/office/security/settings/history")
	m := regexp.MustCompile(`/office/security/settings/changes/(\d+)/approve`).FindStringSubmatch(hist.Body)
	if hist.Status != 200 || !strings.Contains(hist.Body, "等保整改") || m != nil {
		t.Fatalf("history for the proposer: %d (approve button shown: %v)", hist.Status, m != nil)
	}
	m = regexp.MustCompile(`/office/security/settings/changes/(\d+)/approve`).FindStringSubmatch(s2.Get("/office/security/settings/history").Body)
	if m == nil {
		t.Fatal("no approve button for the second administrator")
	}
	if r := s1.PostForm("/office/security/settings/changes/"+m[1]+"/approve", nil); r.Status != 403 ||
		!strings.Contains(r.Body, "不能审批自己提出的修改") {
		t.Fatalf("self-approval: %d", r.Status)
	}
	a.Clock.Advance(time.Minute)
	if r := s2.PostForm("/office/security/settings/changes/"+m[1]+"/approve", nil); r.Status != 303 {
		t.Fatalf("approve: %d %s", r.Status, r.Body)
	}
	if a.Settings.Int(t.Context(), settings.LockoutThreshold) != 4 {
		t.Fatal("not applied on approval")
	}
}
