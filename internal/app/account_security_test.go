package app_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"jifen/internal/account"
	"jifen/internal/app/apptest"
	"jifen/internal/casetest"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/mail"
)

// Issue 10 item 1: nothing tried on the internet listener counts towards a
// staff account's lockout, a staff name there answers like an unknown one,
// and registration on the internet does not see staff names.
func TestInternetCannotLockOutStaff(t *testing.T) {
	a := apptest.Start(t)
	a.CreateUser("demo-agency", account.AgencyLiaison)
	in := a.Client(a.Internet)
	for i := 1; i <= 5; i++ {
		staff := in.LoginAPI("demo-agency", "x")
		unknown := in.LoginAPI("nobody-here", "x")
		var e1, e2 errAnswer
		staff.JSON(&e1)
		unknown.JSON(&e2)
		if staff.Status != unknown.Status || e1.Error.Message != e2.Error.Message {
			t.Fatalf("attempt %d: staff name %d %q, unknown name %d %q", i, staff.Status, e1.Error.Message, unknown.Status, e2.Error.Message)
		}
	}
	// The right password on the internet is refused too, like any unknown name.
	if r := in.LoginAPI("demo-agency", apptest.Password); r.Status == 200 {
		t.Fatalf("staff login on the internet listener: %d", r.Status)
	}
	if r := a.Client(a.Office).LoginAPI("demo-agency", apptest.Password); r.Status != 200 {
		t.Fatalf("office login after five internet failures: %d %s", r.Status, r.Body)
	}
	// Five wrong passwords on the office listener still lock it there.
	off := a.Client(a.Office)
	for range 5 {
		off.LoginAPI("demo-agency", "Wrong#Pass9")
	}
	if r := off.LoginAPI("demo-agency", apptest.Password); r.Status != 423 {
		t.Fatalf("office lockout: %d", r.Status)
	}
	// Registration on the internet takes the staff name as a free one.
	r := in.PostJSON("/api/v1/applicants", map[string]string{"id_number": casetest.IDNumber(true), "name": "王小明", "login": "demo-agency",
		"phone": "13900139000", "email": "wxm@example.cn", "password": apptest.Password, "privacy_version": account.PrivacyNoticeVersion})
	if r.Status != 201 || strings.Contains(r.Body, "已被使用") {
		t.Fatalf("registration with a staff name: %d %s", r.Status, r.Body)
	}
	// A second applicant with that name is told it is taken: it is a public name now.
	r = in.PostJSON("/api/v1/applicants", map[string]string{"id_number": casetest.IDNumber(false), "name": "李小红", "login": "demo-agency",
		"phone": "13900139001", "email": "lxh@example.cn", "password": apptest.Password, "privacy_version": account.PrivacyNoticeVersion})
	if r.Status != 400 || !strings.Contains(r.Body, account.MsgLoginTaken) {
		t.Fatalf("second registration of the name: %d %s", r.Status, r.Body)
	}
}

// Issue 10 item 6: registering an ID number that has an account answers
// like a new registration and tells the holder by mail.
func TestRegistrationDoesNotRevealRegisteredIDNumbers(t *testing.T) {
	a := apptest.Start(t)
	in := a.Client(a.Internet)
	id := casetest.IDNumber(true)
	reg := func(login, email string) *apptest.Response {
		return in.PostJSON("/api/v1/applicants", map[string]string{"id_number": id, "name": "王小明", "login": login,
			"phone": "13900139000", "email": email, "password": apptest.Password, "privacy_version": account.PrivacyNoticeVersion})
	}
	first := reg("holder1", "holder@example.cn")
	second := reg("intruder1", "intruder@example.cn")
	if first.Status != 201 || second.Status != first.Status || second.Body != first.Body {
		t.Fatalf("first %d %s, second %d %s", first.Status, first.Body, second.Status, second.Body)
	}
	if strings.Contains(second.Body, "已注册") {
		t.Fatalf("answer reveals the account: %s", second.Body)
	}
	if r := in.LoginAPI("intruder1", apptest.Password); r.Status == 200 {
		t.Fatal("a second account was created for the ID number")
	}
	msgs, err := a.Outbox.List(t.Context(), mail.Filter{To: "holder@example.cn", Category: "account.register_duplicate"})
	if err != nil || len(msgs) != 1 || !strings.Contains(msgs[0].Text, "holder1") {
		t.Fatalf("holder not told: %v %+v", err, msgs)
	}
	// A taken login name is reported alike for a registered and a new ID number.
	taken := reg("holder1", "x@example.cn")
	id = casetest.IDNumber(true)
	takenNew := reg("holder1", "x@example.cn")
	var e1, e2 errAnswer
	taken.JSON(&e1)
	takenNew.JSON(&e2)
	if taken.Status != 400 || takenNew.Status != 400 || len(e1.Error.Fields) != 1 || e1.Error.Fields[0] != e2.Error.Fields[0] ||
		e1.Error.Fields[0].Field != "login" {
		t.Fatalf("taken login: registered ID %d %s, new ID %d %s", taken.Status, taken.Body, takenNew.Status, takenNew.Body)
	}
	// The form signs a new applicant in (/me); a second registration of the
	// same ID number creates nothing and ends on the confirmation page with
	// no session. It tells the registrant only what logging in with the
	// login name they chose would tell them anyway.
	id = casetest.IDNumber(false)
	form := func(login string) *apptest.Response {
		return in.PostForm("/register/applicant", url.Values{"id_number": {id}, "name": {"李小红"}, "login": {login},
			"phone": {"13900139001"}, "email": {login + "@example.cn"}, "password": {apptest.Password}, "password2": {apptest.Password},
			"privacy": {account.PrivacyNoticeVersion}})
	}
	f1, f2 := form("form1"), form("form2")
	if f1.Status != 303 || f1.Header.Get("Location") != "/me" || f2.Status != 303 ||
		f2.Header.Get("Location") != "/register/done?as=applicant" || f2.Header.Get("Set-Cookie") != "" || f1.Header.Get("Set-Cookie") == "" {
		t.Fatalf("form: %d %s, %d %s %s", f1.Status, f1.Header.Get("Location"), f2.Status, f2.Header.Get("Location"), f2.Header.Get("Set-Cookie"))
	}
	if _, err := a.Accounts.UserByLogin(t.Context(), "form2"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("a second registration of an ID number made an account: %v", err)
	}
}

var oneTimePassword = regexp.MustCompile(`一次性密码：(\S+)`)

// resetMail returns the one-time password mailed to addr, or "".
func resetMail(t *testing.T, a *apptest.App, addr string) string {
	t.Helper()
	msgs, err := a.Outbox.List(t.Context(), mail.Filter{To: addr, Category: "account.password_reset"})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) == 0 {
		return ""
	}
	m := oneTimePassword.FindStringSubmatch(msgs[0].Text)
	if m == nil {
		t.Fatalf("reset mail without a password: %s", msgs[0].Text)
	}
	return m[1]
}

// Issue 10 item 7: the system administrator cannot reset or disable another
// administrator alone, and never sees a reset password.
func TestAdminAccountsNeedASecondAdminOfAnotherRole(t *testing.T) {
	a := apptest.Start(t)
	mk := func(login string, role account.Role) *account.User {
		u, err := a.Accounts.CreateUser(t.Context(), account.NewUser{Login: login, DisplayName: "测试" + login, Zone: account.Office,
			Email: login + "@gov.example.cn", Password: apptest.Password, Roles: []account.Role{role}})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	mk("sys", account.SystemAdmin)
	mk("sys2", account.SystemAdmin)
	sec := mk("sec", account.SecurityAdmin)
	mk("aud", account.AuditAdmin)
	clerk := mk("clerk", account.DistrictOfficer)
	noMail := a.CreateUser("nomail", account.DistrictOfficer)
	c := map[string]*apptest.Client{}
	for _, l := range []string{"sys", "sys2", "sec", "aud"} {
		c[l] = a.Client(a.Office)
		a.LoginStaff(c[l], l, apptest.Password)
	}
	secURL := "/office/admin/users/" + itoa(sec.ID)
	for _, act := range []string{"reset", "disable"} {
		if r := c["sys"].PostForm(secURL+"/"+act, url.Values{"reason": {"x"}}); r.Status != 403 {
			t.Fatalf("sys %s of the security admin alone: %d", act, r.Status)
		}
	}
	if pw := resetMail(t, a, "sec@gov.example.cn"); pw != "" {
		t.Fatal("a refused reset mailed a password")
	}
	// The request waits for an administrator of another role.
	if r := c["sys"].Get(secURL + "/request"); r.Status != 200 || !strings.Contains(r.Body, "申请操作管理员账号") {
		t.Fatalf("request form: %d", r.Status)
	}
	if r := c["sys"].PostForm(secURL+"/request", url.Values{"action": {"reset_password"}}); r.Status != 400 || !strings.Contains(r.Body, "请填写申请理由") {
		t.Fatalf("request without a reason: %d", r.Status)
	}
	if r := c["sys"].PostForm(secURL+"/request", url.Values{"action": {"reset_password"}, "reason": {"本人遗忘密码"}}); r.Status != 303 {
		t.Fatalf("request: %d %s", r.Status, r.Body)
	}
	reqs, err := a.Accounts.AdminRequests(t.Context(), sec.Actor(), 10)
	if err != nil || len(reqs) != 1 || reqs[0].Status != "pending" {
		t.Fatalf("requests: %v %+v", err, reqs)
	}
	decide := "/office/admin-requests/" + itoa(reqs[0].ID) + "/approve"
	for who, why := range map[string]string{"sys": "the requester", "sys2": "the requester's role", "sec": "the account concerned"} {
		if r := c[who].PostForm(decide, nil); r.Status != 403 {
			t.Errorf("approval by %s: %d", why, r.Status)
		}
	}
	if pw := resetMail(t, a, "sec@gov.example.cn"); pw != "" {
		t.Fatal("the password was reset before approval")
	}
	page := c["aud"].Get("/office/admin-requests")
	if page.Status != 200 || !strings.Contains(page.Body, decide) {
		t.Fatalf("audit admin's list: %d", page.Status)
	}
	// Approving cannot be undone: the first POST asks and changes nothing.
	r := c["aud"].PostForm(decide, nil)
	if r.Status != 200 || !strings.Contains(r.Body, "确认批准申请") || !strings.Contains(r.Body, "只发送到该账号本人的电子邮箱") ||
		resetMail(t, a, "sec@gov.example.cn") != "" {
		t.Fatalf("approval unconfirmed: %d", r.Status)
	}
	r = c["aud"].PostForm(decide, url.Values{"confirmed": {"yes"}})
	if r.Status != 303 {
		t.Fatalf("approval by the audit admin: %d %s", r.Status, r.Body)
	}
	if r := c["aud"].PostForm(decide, nil); r.Status != 409 {
		t.Fatalf("second approval: %d", r.Status)
	}
	pw := resetMail(t, a, "sec@gov.example.cn")
	if pw == "" {
		t.Fatal("the owner got no mail")
	}
	for _, l := range []string{"sys", "aud"} {
		for _, p := range []string{"/office/admin/users", "/office/admin-requests", "/office/ops/mail"} {
			if strings.Contains(c[l].Get(p).Body, pw) {
				t.Fatalf("%s sees the password on %s", l, p)
			}
		}
	}
	if r := a.Client(a.Office).LoginAPI("sec", pw); r.Status != 200 || !strings.Contains(r.Body, "change_password") {
		t.Fatalf("owner's login with the mailed password: %d %s", r.Status, r.Body)
	}
	// A disable goes the same way; the security admin approves this one.
	c["sys"].PostForm("/office/admin/users/"+itoa(mustUser(t, a, "aud").ID)+"/request", url.Values{"action": {"disable"}, "reason": {"离职"}})
	reqs, _ = a.Accounts.AdminRequests(t.Context(), sec.Actor(), 10)
	if reqs[0].Action != account.AdminDisable || reqs[0].Status != "pending" {
		t.Fatalf("disable request: %+v", reqs[0])
	}
	if mustUser(t, a, "aud").Disabled {
		t.Fatal("disabled before approval")
	}
	sec2 := a.Client(a.Office)
	if r := sec2.LoginAPI("sec", pw); r.Status != 200 {
		t.Fatal(r.Status)
	}
	if err := a.Accounts.DecideAdminRequest(t.Context(), mustUser(t, a, "sec").Actor(), reqs[0].ID, true, ""); err != nil {
		t.Fatal(err)
	}
	if !mustUser(t, a, "aud").Disabled {
		t.Fatal("approved disable not applied")
	}
	// Other staff: reset at once, the password by mail only.
	// A reset cannot be undone: the first POST asks and mails nothing.
	r = c["sys"].PostForm("/office/admin/users/"+itoa(clerk.ID)+"/reset", nil)
	if r.Status != 200 || !strings.Contains(r.Body, "确认重置") || !strings.Contains(r.Body, `name="confirmed" value="yes"`) ||
		resetMail(t, a, "clerk@gov.example.cn") != "" {
		t.Fatalf("clerk reset unconfirmed: %d", r.Status)
	}
	r = c["sys"].PostForm("/office/admin/users/"+itoa(clerk.ID)+"/reset", url.Values{"confirmed": {"yes"}})
	if r.Status != 303 {
		t.Fatalf("clerk reset: %d %s", r.Status, r.Body)
	}
	cpw := resetMail(t, a, "clerk@gov.example.cn")
	if cpw == "" || strings.Contains(r.Body, cpw) || strings.Contains(c["sys"].Get(r.Header.Get("Location")).Body, cpw) {
		t.Fatalf("clerk's password not mailed, or shown")
	}
	// Nor in the mail log the system administrator reads: the line is
	// there, the password masked.
	if log := c["sys"].Get("/office/ops/mail"); log.Status != 200 || strings.Contains(log.Body, cpw) || !strings.Contains(log.Body, "一次性密码："+mail.SecretMask) {
		t.Fatalf("mail log: %d, password shown or line missing", log.Status)
	}
	if r := c["sys"].PostForm("/office/admin/users/"+itoa(noMail.ID)+"/reset", nil); r.Status != 409 || !strings.Contains(r.Body, "电子邮箱") {
		t.Fatalf("reset of an account without mail: %d", r.Status)
	}
}

func mustUser(t *testing.T, a *apptest.App, login string) *account.User {
	t.Helper()
	u, err := a.Accounts.UserByLogin(t.Context(), login)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Issue 10 item 9: an administrator holds one session at a time by default
// (a new login ends the older one); the security admin sees staff sessions.
func TestAdminSessionLimit(t *testing.T) {
	a := apptest.Start(t)
	for _, u := range []struct {
		login string
		role  account.Role
	}{{"sys", account.SystemAdmin}, {"clerk", account.DistrictOfficer}, {"sec", account.SecurityAdmin}} {
		// Demo staff skip the second factor, so a second login is quick to make.
		if _, err := a.Accounts.CreateUser(t.Context(), account.NewUser{Login: u.login, DisplayName: "测试" + u.login, Zone: account.Office,
			Password: apptest.Password, Roles: []account.Role{u.role}, Demo: true, District: map[bool]string{true: "海淀区"}[u.role == account.DistrictOfficer]}); err != nil {
			t.Fatal(err)
		}
	}
	login := func(l string) *apptest.Client {
		c := a.Client(a.Office)
		if r := c.LoginAPI(l, apptest.Password); r.Status != 200 {
			t.Fatalf("login %s: %d %s", l, r.Status, r.Body)
		}
		return c
	}
	old, cur := login("sys"), login("sys")
	// The older session's next page sends it to the login, which says why.
	if r := old.Get("/office/"); r.Status != 303 && r.Status != 302 {
		t.Fatalf("older admin session after a new login: %d", r.Status)
	}
	if r := old.Get("/office/login"); !strings.Contains(r.Body, "您的账号已在其他地方登录") {
		t.Fatal("the login page does not say why the session ended")
	}
	if r := old.Get("/api/v1/session"); r.Status != 401 {
		t.Fatalf("older admin session after a new login: %d", r.Status)
	}
	if r := cur.Get("/api/v1/session"); r.Status != 200 {
		t.Fatalf("newer admin session: %d", r.Status)
	}
	c1, c2 := login("clerk"), login("clerk")
	if c1.Get("/api/v1/session").Status != 200 || c2.Get("/api/v1/session").Status != 200 {
		t.Fatal("other staff are not limited by default")
	}
	sec := login("sec")
	page := sec.Get("/office/security/sessions")
	if page.Status != 200 || strings.Count(page.Body, ">clerk<") != 2 || strings.Count(page.Body, ">sys<") != 1 {
		t.Fatalf("sessions page: %d", page.Status)
	}
	// The security admin ends one of them.
	list, err := a.Accounts.StaffSessions(t.Context(), mustUser(t, a, "sec").Actor())
	if err != nil {
		t.Fatal(err)
	}
	var clerkSession string
	for _, se := range list {
		if se.Login == "clerk" {
			clerkSession = se.ID
		}
	}
	if r := sec.PostForm("/office/security/sessions/end", url.Values{"session": {clerkSession}}); r.Status != 303 {
		t.Fatalf("end session: %d %s", r.Status, r.Body)
	}
	if c1.Get("/api/v1/session").Status+c2.Get("/api/v1/session").Status != 200+401 {
		t.Fatal("ended session still live, or both ended")
	}
	if r := sec.PostForm("/office/security/sessions/end", url.Values{"session": {clerkSession}}); r.Status != 404 {
		t.Fatalf("end an ended session: %d", r.Status)
	}
	if r := cur.Get("/office/security/sessions"); r.Status != 403 {
		t.Fatalf("sys on the sessions page: %d", r.Status)
	}
	if r := cur.Get("/office/account"); r.Status != 200 || !strings.Contains(r.Body, "同时在线") {
		t.Fatalf("own sessions page: %d", r.Status)
	}
	// Raised to two by the security admin: two admin sessions live side by side.
	if r := sec.PostForm("/office/security/settings", url.Values{"security.max_sessions_admin": {"2"}, "reason": {"值班需要"}}); r.Status != 303 {
		t.Fatalf("setting: %d %s", r.Status, r.Body)
	}
	third := login("sys")
	if cur.Get("/api/v1/session").Status != 200 || third.Get("/api/v1/session").Status != 200 {
		t.Fatal("limit of two not honoured")
	}
}
