package app_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/app/apptest"
	"jifen/internal/casetest"
	"jifen/internal/platform/mail"
)

type errBody struct {
	Error struct {
		Code    string
		Message string
		Fields  []struct{ Field, Message string }
	}
}

// flow registers an employer and an applicant over the JSON API, verifies
// the employer in the office and links them.
func flow(t *testing.T, a *apptest.App) (emp, app *apptest.Client, appID int64) {
	t.Helper()
	ctx := context.Background()
	if _, err := a.EnsureRound(ctx, 0, true); err != nil {
		t.Fatal(err)
	}
	emp = a.Client(a.Internet)
	r := emp.PostJSON("/api/v1/employers", map[string]string{"credit_code": casetest.CreditCode(), "name": "北京测试科技有限公司",
		"district": "海淀区", "address": "北京市海淀区中关村大街1号", "legal_rep": "张三", "operator_name": "李四",
		"operator_login": "op1", "phone": "13800138000", "email": "op1@example.cn", "password": apptest.Password, "privacy_version": account.PrivacyNoticeVersion})
	if r.Status != 201 || !strings.Contains(r.Body, `"status":"pending"`) {
		t.Fatalf("employer registration: %d %s", r.Status, r.Body)
	}
	var e struct{ ID int64 }
	r.JSON(&e)
	// Verified by hand in the office by a district officer.
	a.CreateUser("district1", account.DistrictOfficer)
	off := a.Client(a.Office)
	a.LoginStaff(off, "district1", apptest.Password)
	if r := off.Get("/office/employers"); r.Status != 200 || !strings.Contains(r.Body, "北京测试科技有限公司") {
		t.Fatalf("office queue: %d", r.Status)
	}
	// 核验通过 cannot be undone: the first POST shows what it does and changes nothing.
	if r := off.PostForm("/office/employers/"+strconv.FormatInt(e.ID, 10)+"/verify", nil); r.Status != 200 ||
		!strings.Contains(r.Body, "确认核验通过该单位？") || !strings.Contains(r.Body, "系统生成单位注册码") {
		t.Fatalf("verify unconfirmed: %d %s", r.Status, r.Body)
	}
	if r := off.Get("/office/employers"); !strings.Contains(r.Body, "待核验</span>") {
		t.Fatal("verified without confirmation")
	}
	if r := off.PostForm("/office/employers/"+strconv.FormatInt(e.ID, 10)+"/verify", url.Values{"confirmed": {"yes"}}); r.Status != 303 {
		t.Fatalf("verify: %d %s", r.Status, r.Body)
	}
	emp.LoginAPI("op1", apptest.Password)
	var me struct {
		RegCode string `json:"reg_code"`
	}
	emp.Get("/api/v1/employer").JSON(&me)
	if len(me.RegCode) != 19 {
		t.Fatalf("registration code %q", me.RegCode)
	}
	app = a.Client(a.Internet)
	r = app.PostJSON("/api/v1/applicants", map[string]string{"id_number": casetest.IDNumber(true), "name": "王小明", "login": "app1",
		"phone": "13900139000", "email": "app1@example.cn", "password": apptest.Password, "privacy_version": account.PrivacyNoticeVersion})
	if r.Status != 201 || !strings.Contains(r.Body, "**********") {
		t.Fatalf("applicant registration: %d %s", r.Status, r.Body)
	}
	app.LoginAPI("app1", apptest.Password)
	if r := app.PostJSON("/api/v1/links", map[string]string{"reg_code": me.RegCode}); r.Status != 201 {
		t.Fatalf("link: %d %s", r.Status, r.Body)
	}
	var links struct{ Links []struct{ ID int64 } }
	emp.Get("/api/v1/employer/links?status=pending").JSON(&links)
	if len(links.Links) != 1 {
		t.Fatalf("pending links %+v", links)
	}
	if r := emp.PostJSON("/api/v1/employer/links/"+strconv.FormatInt(links.Links[0].ID, 10)+"/confirm", nil); r.Status != 200 {
		t.Fatalf("confirm: %d %s", r.Status, r.Body)
	}
	r = app.PostJSON("/api/v1/application", nil)
	var ap struct{ ID int64 }
	r.JSON(&ap)
	if r.Status != 200 || ap.ID == 0 {
		t.Fatalf("open: %d %s", r.Status, r.Body)
	}
	return emp, app, ap.ID
}

func putJSON(c *apptest.Client, path, body string) *apptest.Response {
	return c.Do("PUT", path, strings.NewReader(body), map[string]string{"Content-Type": "application/json"})
}

const goodDecl = `{"version": 0, "declaration": {"residence_permit": true,
	"social_insurance": [{"from": "2010-01", "to": "2025-12"}],
	"housing": [{"kind": "owned", "from": "2015-01", "to": "2025-12", "district": "昌平区"}],
	"education": {"level": "bachelor", "diploma": true, "degree": true},
	"workplaces": [{"from": "2010-01", "to": "2025-12", "district": "海淀区"}]}}`

func TestApplicationFlowOverTheAPI(t *testing.T) {
	a := apptest.Start(t)
	emp, app, id := flow(t, a)
	// A bad declaration names its field; a good one gets an estimate.
	bad := strings.Replace(goodDecl, `"to": "2025-12", "district": "昌平区"`, `"to": "2026-03", "district": "昌平区"`, 1)
	r := putJSON(app, "/api/v1/application/declaration", bad)
	var e errBody
	r.JSON(&e)
	if r.Status != 400 || len(e.Error.Fields) == 0 || e.Error.Fields[0].Field != "housing[0].to" {
		t.Fatalf("after the statistics date: %d %s", r.Status, r.Body)
	}
	r = putJSON(app, "/api/v1/application/declaration", goodDecl)
	if r.Status != 200 || strings.Contains(r.Body, `"estimate":0,`) {
		t.Fatalf("save: %d %s", r.Status, r.Body)
	}
	// Attachments: a real PDF is kept, an executable named .pdf is not.
	for _, c := range []struct {
		name, body string
		want       int
	}{{"房产证.pdf", "%PDF-1.7 real", 201}, {"fake.pdf", "MZ\x90\x00 exe", 400}} {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		_ = mw.WriteField("indicator", "housing")
		fw, _ := mw.CreateFormFile("file", c.name)
		_, _ = fw.Write([]byte(c.body))
		_ = mw.Close()
		r := app.Do("POST", "/api/v1/application/attachments", &buf, map[string]string{"Content-Type": mw.FormDataContentType()})
		if r.Status != c.want {
			t.Fatalf("upload %s: %d %s", c.name, r.Status, r.Body)
		}
	}
	if r := app.PostJSON("/api/v1/application/submit", map[string]bool{"truthful": false}); r.Status != 400 {
		t.Fatalf("submit without the statement: %d", r.Status)
	}
	for i := 0; i < 2; i++ { // twice: the same answer
		if r := app.PostJSON("/api/v1/application/submit", map[string]bool{"truthful": true}); r.Status != 200 ||
			!strings.Contains(r.Body, `"status":"with_employer"`) {
			t.Fatalf("submit %d: %d %s", i, r.Status, r.Body)
		}
	}
	var list struct {
		Applications []struct{ ID int64 }
		Counts       map[string]int
	}
	emp.Get("/api/v1/employer/applications?status=with_employer").JSON(&list)
	if len(list.Applications) != 1 || list.Counts["with_employer"] != 1 {
		t.Fatalf("employer list %+v", list)
	}
	path := "/api/v1/employer/applications/" + strconv.FormatInt(id, 10)
	if r := emp.PostJSON(path+"/return", map[string]string{"reason": "请补充材料"}); r.Status != 200 {
		t.Fatalf("return: %d %s", r.Status, r.Body)
	}
	app.PostJSON("/api/v1/application/submit", map[string]bool{"truthful": true})
	r = emp.PostJSON("/api/v1/employer/applications/file", map[string][]int64{"ids": {id, 999999}})
	if r.Status != 200 || !strings.Contains(r.Body, `{"id":`+strconv.FormatInt(id, 10)+`,"ok":true}`) ||
		!strings.Contains(r.Body, `"id":999999,"ok":false`) {
		t.Fatalf("bulk file: %d %s", r.Status, r.Body)
	}
	// Locked now.
	if r := putJSON(app, "/api/v1/application/declaration", goodDecl); r.Status != 409 {
		t.Fatalf("edit after filing: %d", r.Status)
	}
	var ev struct{ Events []struct{ To string } }
	app.Get("/api/v1/application/events").JSON(&ev)
	var seen []string
	for _, x := range ev.Events {
		seen = append(seen, x.To)
	}
	if strings.Join(seen, ",") != "draft,with_employer,returned,with_employer,submitted" {
		t.Fatalf("timeline %v", seen)
	}
	// Every change queued mail; with no SMTP server it stays in the outbox
	// and the office mail log shows it.
	msgs, err := a.Outbox.List(context.Background(), mail.Filter{Limit: 50})
	if err != nil || len(msgs) < 5 {
		t.Fatalf("%d mails, %v", len(msgs), err)
	}
	// Each message got its delivery job in the transaction that queued it;
	// with no server the jobs wait in the unworked mail queue.
	depth, err := a.Jobs.Depth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	waiting := int64(-1)
	for _, k := range depth {
		if k.Kind == "mail_send" {
			waiting = k.Waiting
		}
	}
	if waiting != int64(len(msgs)) {
		t.Errorf("%d delivery jobs waiting for %d queued mails (depth %+v)", waiting, len(msgs), depth)
	}
	a.CreateUser("sys1", account.SystemAdmin)
	sys := a.Client(a.Office)
	a.LoginStaff(sys, "sys1", apptest.Password)
	if r := sys.Get("/office/ops/mail"); r.Status != 200 || !strings.Contains(r.Body, "app1@example.cn") {
		t.Fatalf("mail log: %d", r.Status)
	}
}

func TestSomebodyElsesCaseIs404(t *testing.T) {
	a := apptest.Start(t)
	_, _, id := flow(t, a)
	other := a.Client(a.Internet)
	other.PostJSON("/api/v1/applicants", map[string]string{"id_number": casetest.IDNumber(false), "name": "李小红", "login": "app2",
		"phone": "13900139001", "email": "app2@example.cn", "password": apptest.Password, "privacy_version": account.PrivacyNoticeVersion})
	other.LoginAPI("app2", apptest.Password)
	if r := other.Get("/api/v1/application"); r.Status != 404 {
		t.Fatalf("no application yet: %d", r.Status)
	}
	if r := other.Get("/api/v1/employer/applications/" + strconv.FormatInt(id, 10)); r.Status != 403 {
		t.Fatalf("applicant on the employer API: %d", r.Status)
	}
	// Another employer.
	op2 := a.Client(a.Internet)
	op2.PostJSON("/api/v1/employers", map[string]string{"credit_code": casetest.CreditCode(), "name": "北京其他有限公司",
		"district": "朝阳区", "address": "北京市朝阳区建国路1号", "legal_rep": "赵六", "operator_name": "钱七",
		"operator_login": "op2", "phone": "13800138001", "email": "op2@example.cn", "password": apptest.Password, "privacy_version": account.PrivacyNoticeVersion})
	op2.LoginAPI("op2", apptest.Password)
	for _, path := range []string{"/api/v1/employer/applications/" + strconv.FormatInt(id, 10)} {
		if r := op2.Get(path); r.Status != 404 {
			t.Fatalf("another employer: %d %s", r.Status, r.Body)
		}
	}
	if r := op2.PostJSON("/api/v1/employer/applications/"+strconv.FormatInt(id, 10)+"/file", nil); r.Status != 404 {
		t.Fatalf("another employer filing: %d", r.Status)
	}
}

func TestWindowsAreCheckedOnTheServer(t *testing.T) {
	a := apptest.Start(t)
	_, app, _ := flow(t, a)
	// 200 days later the filling-in window is closed.
	a.Clock.Advance(200 * 24 * time.Hour)
	app.LoginAPI("app1", apptest.Password)
	r := putJSON(app, "/api/v1/application/declaration", goodDecl)
	var e errBody
	r.JSON(&e)
	if r.Status != 409 || !strings.Contains(e.Error.Message, "结束") {
		t.Fatalf("outside the window: %d %s", r.Status, r.Body)
	}
	reg := a.Client(a.Internet)
	r = reg.PostJSON("/api/v1/employers", map[string]string{"credit_code": casetest.CreditCode(), "name": "晚到的单位",
		"district": "海淀区", "address": "北京市海淀区某路1号", "legal_rep": "张三", "operator_name": "李四",
		"operator_login": "late1", "phone": "13800138002", "email": "late@example.cn", "password": apptest.Password, "privacy_version": account.PrivacyNoticeVersion})
	if r.Status != 409 {
		t.Fatalf("employer registration after the window: %d %s", r.Status, r.Body)
	}
}

func TestRegistrationRejectsBadCheckDigits(t *testing.T) {
	a := apptest.Start(t)
	if _, err := a.EnsureRound(context.Background(), 0, true); err != nil {
		t.Fatal(err)
	}
	c := a.Client(a.Internet)
	cc := casetest.CreditCode()
	badCC := cc[:17] + map[bool]string{true: "1", false: "2"}[cc[17] != '1']
	r := c.PostJSON("/api/v1/employers", map[string]string{"credit_code": badCC, "name": "北京测试有限公司", "district": "海淀区",
		"address": "北京市海淀区某路1号", "legal_rep": "张三", "operator_name": "李四", "operator_login": "opx",
		"phone": "13800138000", "email": "x@example.cn", "password": apptest.Password, "privacy_version": account.PrivacyNoticeVersion})
	var e errBody
	r.JSON(&e)
	if r.Status != 400 || e.Error.Fields[0].Field != "credit_code" {
		t.Fatalf("bad credit code: %d %s", r.Status, r.Body)
	}
	id := casetest.IDNumber(true)
	badID := id[:17] + map[bool]string{true: "1", false: "2"}[id[17] != '1']
	r = c.PostJSON("/api/v1/applicants", map[string]string{"id_number": badID, "name": "王五", "login": "appx",
		"phone": "13900139000", "email": "y@example.cn", "password": apptest.Password, "privacy_version": account.PrivacyNoticeVersion})
	r.JSON(&e)
	if r.Status != 400 || e.Error.Fields[0].Field != "id_number" || !strings.Contains(e.Error.Fields[0].Message, "校验码") {
		t.Fatalf("bad ID: %d %s", r.Status, r.Body)
	}
	_ = url.Values{}
}

// inviteTokenRe finds an invitation's token in its mail.
var inviteTokenRe = regexp.MustCompile(`/employer/invite/([A-Za-z0-9_-]+)`)

// mailedInviteToken is the token of the last invitation mailed to email.
func mailedInviteToken(t *testing.T, a *apptest.App, email string) string {
	t.Helper()
	msgs, err := a.Outbox.List(context.Background(), mail.Filter{To: email})
	if err != nil || len(msgs) == 0 {
		t.Fatalf("no invitation mailed to %s: %v", email, err)
	}
	m := inviteTokenRe.FindStringSubmatch(msgs[0].Text)
	if m == nil || len(m[1]) < 20 {
		t.Fatalf("no token in the invitation mail:\n%s", msgs[0].Text)
	}
	return m[1]
}

func TestOperatorInvitesAColleague(t *testing.T) {
	a := apptest.Start(t)
	emp, _, _ := flow(t, a)
	if r := emp.PostJSON("/api/v1/employer/invites", map[string]string{"email": "not-an-address"}); r.Status != 400 {
		t.Fatalf("bad e-mail: %d", r.Status)
	}
	r := emp.PostJSON("/api/v1/employer/invites", map[string]string{"email": "colleague@example.cn"})
	if r.Status != 201 || !strings.Contains(r.Body, "colleague@example.cn") {
		t.Fatalf("invite: %d %s", r.Status, r.Body)
	}
	token := mailedInviteToken(t, a, "colleague@example.cn")
	// The token reaches the invited mailbox only, not the one who invited.
	if strings.Contains(r.Body, token) {
		t.Fatalf("the inviting operator got the token: %s", r.Body)
	}
	anon := a.Client(a.Internet)
	if r := anon.Get("/api/v1/invites/" + token); r.Status != 200 || !strings.Contains(r.Body, "北京测试科技有限公司") {
		t.Fatalf("invite info: %d %s", r.Status, r.Body)
	}
	body := map[string]string{"login": "op-colleague", "name": "周八", "phone": "13600136000", "password": apptest.Password}
	if r := anon.PostJSON("/api/v1/invites/"+token, body); r.Status != 201 {
		t.Fatalf("accept: %d %s", r.Status, r.Body)
	}
	body["login"] = "op-again"
	if r := anon.PostJSON("/api/v1/invites/"+token, body); r.Status != 404 {
		t.Fatalf("second use of an invitation: %d", r.Status)
	}
	colleague := a.Client(a.Internet)
	colleague.LoginAPI("op-colleague", apptest.Password)
	if r := colleague.Get("/api/v1/employer"); r.Status != 200 || !strings.Contains(r.Body, "北京测试科技有限公司") {
		t.Fatalf("colleague's employer: %d %s", r.Status, r.Body)
	}
	if r := colleague.Get("/api/v1/employer/operators"); !strings.Contains(r.Body, "op1") || !strings.Contains(r.Body, "op-colleague") {
		t.Fatalf("operators: %s", r.Body)
	}
	if u, err := a.Accounts.UserByLogin(context.Background(), "op-colleague"); err != nil || u.Email != "colleague@example.cn" {
		t.Fatalf("the colleague's account is not on the invited address: %+v %v", u, err)
	}
	emp.PostJSON("/api/v1/employer/invites", map[string]string{"email": "late@example.cn"})
	token = mailedInviteToken(t, a, "late@example.cn")
	a.Clock.Advance(8 * 24 * time.Hour) // invitations last 7 days
	body["login"] = "op-late"
	if r := anon.PostJSON("/api/v1/invites/"+token, body); r.Status != 404 {
		t.Fatalf("expired invitation: %d", r.Status)
	}
}

// Issue 10, item 2: the system administrator reads the mail log without
// the invitation's token, and an invitation is accepted only for the
// address it was sent to.
func TestInvitationTokenStaysWithTheInvitedAddress(t *testing.T) {
	a := apptest.Start(t)
	emp, _, _ := flow(t, a)
	if r := emp.PostJSON("/api/v1/employer/invites", map[string]string{"email": "colleague@example.cn"}); r.Status != 201 {
		t.Fatalf("invite: %d %s", r.Status, r.Body)
	}
	token := mailedInviteToken(t, a, "colleague@example.cn")
	a.CreateUser("sys1", account.SystemAdmin)
	sys := a.Client(a.Office)
	a.LoginStaff(sys, "sys1", apptest.Password)
	r := sys.Get("/office/ops/mail")
	if r.Status != 200 || !strings.Contains(r.Body, "colleague@example.cn") || !strings.Contains(r.Body, "/employer/invite/"+mail.SecretMask) {
		t.Fatalf("mail log: %d\n%s", r.Status, r.Body)
	}
	if strings.Contains(r.Body, token) || strings.Contains(r.Body, token[:12]) {
		t.Fatal("the mail log shows the live invitation token")
	}
	// Another address cannot take the invitation, by the API or the page.
	anon := a.Client(a.Internet)
	body := map[string]string{"login": "intruder", "name": "王九", "phone": "13600136001", "email": "intruder@example.cn",
		"password": apptest.Password}
	var e errBody
	r = anon.PostJSON("/api/v1/invites/"+token, body)
	r.JSON(&e)
	if r.Status != 400 || len(e.Error.Fields) != 1 || e.Error.Fields[0].Field != "email" {
		t.Fatalf("another address accepted the invitation: %d %s", r.Status, r.Body)
	}
	form := url.Values{"name": {"王九"}, "login": {"intruder"}, "phone": {"13600136001"}, "email": {"Intruder@example.cn"},
		"password": {apptest.Password}, "password2": {apptest.Password}}
	if r := anon.PostForm("/employer/invite/"+token, form); r.Status != 400 || !strings.Contains(r.Body, "只能由收到邀请的邮箱") {
		t.Fatalf("another address by the page: %d", r.Status)
	}
	if _, err := a.Accounts.UserByLogin(context.Background(), "intruder"); err == nil {
		t.Fatal("an account was made for another address")
	}
	// The invited address still can.
	body["email"] = "Colleague@Example.cn"
	if r := anon.PostJSON("/api/v1/invites/"+token, body); r.Status != 201 {
		t.Fatalf("the invited address: %d %s", r.Status, r.Body)
	}
}

func TestReviewRequestReachesTheDistrictOffice(t *testing.T) {
	a := apptest.Start(t)
	emp, app, id := flow(t, a)
	ctx := context.Background()
	// The cross-check (issue 5) has produced a first result; the review
	// window is open 161–175 days after the demo round starts.
	if _, err := a.DB.Exec(ctx, `UPDATE applications SET status = 'first_result' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if r := app.PostJSON("/api/v1/application/review", map[string]any{"indicators": []string{"housing"}, "reason": "房产证已补办"}); r.Status != 409 {
		t.Fatalf("review outside its window: %d %s", r.Status, r.Body)
	}
	a.Clock.Advance(135 * 24 * time.Hour)
	app.LoginAPI("app1", apptest.Password)
	emp.LoginAPI("op1", apptest.Password)
	if r := app.PostJSON("/api/v1/application/review", map[string]any{"indicators": []string{"nonsense"}, "reason": "x"}); r.Status != 400 {
		t.Fatalf("unknown indicator: %d", r.Status)
	}
	if r := app.PostJSON("/api/v1/application/review", map[string]any{"indicators": []string{"housing"}, "reason": "房产证已补办"}); r.Status != 200 {
		t.Fatalf("review: %d %s", r.Status, r.Body)
	}
	if r := emp.PostJSON("/api/v1/employer/applications/"+strconv.FormatInt(id, 10)+"/forward-review",
		map[string]string{"note": "已于窗口提交房产证复印件"}); r.Status != 200 {
		t.Fatalf("forward: %d %s", r.Status, r.Body)
	}
	a.CreateUserIn("朝阳区", "district-cy", account.DistrictOfficer)
	other := a.Client(a.Office)
	a.LoginStaff(other, "district-cy", apptest.Password)
	if r := other.Get("/office/reviews"); strings.Contains(r.Body, "房产证已补办") {
		t.Fatal("another district sees the request")
	}
	if r := other.PostForm("/office/reviews/"+strconv.FormatInt(id, 10)+"/receive", nil); r.Status != 404 {
		t.Fatalf("another district received it: %d", r.Status)
	}
	a.CreateUserIn("海淀区", "district-hd", account.DistrictOfficer)
	off := a.Client(a.Office)
	a.LoginStaff(off, "district-hd", apptest.Password)
	if r := off.Get("/office/reviews"); r.Status != 200 || !strings.Contains(r.Body, "房产证已补办") || !strings.Contains(r.Body, "已于窗口提交") {
		t.Fatalf("district queue: %d", r.Status)
	}
	if r := off.PostForm("/office/reviews/"+strconv.FormatInt(id, 10)+"/receive", nil); r.Status != 303 {
		t.Fatalf("receive: %d %s", r.Status, r.Body)
	}
	if r := off.Get("/office/reviews?status=received"); !strings.Contains(r.Body, "房产证已补办") {
		t.Fatal("not listed as received")
	}
}

func TestPortalHomeShowsTheRoundAndWhatIsOpen(t *testing.T) {
	a := apptest.Start(t)
	c := a.Client(a.Internet)
	if r := c.Get("/"); !strings.Contains(r.Body, "当前没有进行中的积分落户年度批次") {
		t.Fatal("no round: the home page should say so")
	}
	r, err := a.EnsureRound(context.Background(), 0, true)
	if err != nil {
		t.Fatal(err)
	}
	body := c.Get("/").Body
	for _, want := range []string{r.Title, "单位注册", "个人填报", "下一阶段"} {
		if !strings.Contains(body, want) {
			t.Errorf("home page lacks %q", want)
		}
	}
}

func TestInvitationThroughThePages(t *testing.T) {
	a := apptest.Start(t)
	emp, _, _ := flow(t, a)
	r := emp.PostForm("/employer/operators/invite", url.Values{"email": {"colleague@example.cn"}})
	if r.Status != 201 || !strings.Contains(r.Body, "已向 colleague@example.cn 发送邀请邮件") {
		t.Fatalf("invite page: %d", r.Status)
	}
	token := mailedInviteToken(t, a, "colleague@example.cn")
	if strings.Contains(r.Body, token) {
		t.Fatal("the inviting operator's page shows the token")
	}
	link := "/employer/invite/" + token
	anon := a.Client(a.Internet)
	if g := anon.Get(link); g.Status != 200 || !strings.Contains(g.Body, "北京测试科技有限公司") ||
		!strings.Contains(g.Body, "colleague@example.cn") {
		t.Fatalf("invitation page: %d", g.Status)
	}
	form := url.Values{"name": {"周八"}, "login": {"op-colleague"}, "phone": {"13600136000"},
		"password": {apptest.Password}, "password2": {"different"}}
	if r := anon.PostForm(link, form); r.Status != 400 || !strings.Contains(r.Body, "两次输入的密码不一致") {
		t.Fatalf("mismatch: %d", r.Status)
	}
	form.Set("password2", apptest.Password)
	if r := anon.PostForm(link, form); r.Status != 200 || !strings.Contains(r.Body, "op-colleague") {
		t.Fatalf("accept: %d %s", r.Status, r.Body)
	}
	if r := emp.Get("/employer/operators"); !strings.Contains(r.Body, "op-colleague") || !strings.Contains(r.Body, "colleague@example.cn") {
		t.Fatal("the colleague is not listed with the invited address")
	}
}
