package app_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/app/apptest"
	"jifen/internal/casetest"
	"jifen/internal/platform/totp"
)

var formAction = regexp.MustCompile(`<form method="post" action="([^"]+)"`)

// loginAction is the action of the form of a login step's page (not the
// header's logout form).
func loginAction(t *testing.T, page *apptest.Response) string {
	t.Helper()
	for _, m := range formAction.FindAllStringSubmatch(page.Body, -1) {
		if !strings.Contains(m[1], "logout") {
			return strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	t.Fatalf("login page: %d %s", page.Status, page.Body)
	return ""
}

// Issue 11 item 2: a deep link survives the login on both listeners (and
// the staff's password and TOTP steps); without one, applicants and
// employer operators land on their own dashboard.
func TestLoginKeepsWhereYouWereGoing(t *testing.T) {
	a := apptest.Start(t)
	a.CreateUser("ap1", account.Applicant)
	a.CreateUser("op1", account.EmployerOperator)
	a.CreateUser("city1", account.CityOfficer)

	// Applicant, a deep link with a query.
	c := a.Client(a.Internet)
	deep := "/me/corrections?x=1&y=2"
	r := c.Get(deep)
	if r.Status != 303 || r.Header.Get("Location") != "/login?next="+url.QueryEscape(deep) {
		t.Fatalf("deep link without a session: %d %s", r.Status, r.Header.Get("Location"))
	}
	action := loginAction(t, c.Get(r.Header.Get("Location")))
	if action != "/login?next="+url.QueryEscape(deep) {
		t.Fatalf("login form action %q", action)
	}
	// A wrong password keeps next in the form it shows again.
	if bad := c.PostForm(action, url.Values{"login": {"ap1"}, "password": {"wrong"}}); loginAction(t, &apptest.Response{Status: 200,
		Body: bad.Body}) != action {
		t.Errorf("next lost after a wrong password")
	}
	if r := c.PostForm(action, url.Values{"login": {"ap1"}, "password": {apptest.Password}}); r.Status != 303 ||
		r.Header.Get("Location") != deep {
		t.Fatalf("login with next: %d %s", r.Status, r.Header.Get("Location"))
	}

	// Without next: each to their own dashboard.
	for login, want := range map[string]string{"ap1": "/me", "op1": "/employer"} {
		c := a.Client(a.Internet)
		if r := c.PostForm("/login", url.Values{"login": {login}, "password": {apptest.Password}}); r.Status != 303 ||
			r.Header.Get("Location") != want {
			t.Errorf("%s lands on %s (%d), want %s", login, r.Header.Get("Location"), r.Status, want)
		}
		// Already logged in, the login page sends them there too.
		if r := c.Get("/login"); r.Status != 303 || r.Header.Get("Location") != want {
			t.Errorf("%s at /login: %d %s", login, r.Status, r.Header.Get("Location"))
		}
	}

	// Staff: next survives the password change and the TOTP enrolment.
	o := a.Client(a.Office)
	deep = "/office/check?round=1&x=2"
	r = o.Get(deep)
	if r.Status != 303 || r.Header.Get("Location") != "/office/login?next="+url.QueryEscape(deep) {
		t.Fatalf("office deep link: %d %s", r.Status, r.Header.Get("Location"))
	}
	action = loginAction(t, o.Get(r.Header.Get("Location")))
	r = o.PostForm(action, url.Values{"login": {"city1"}, "password": {apptest.Password}})
	newPw := apptest.Password + "x"
	if strings.HasPrefix(r.Header.Get("Location"), "/office/password") {
		if r.Header.Get("Location") != "/office/password?next="+url.QueryEscape(deep) {
			t.Fatalf("to the password step: %s", r.Header.Get("Location"))
		}
		step := loginAction(t, o.Get(r.Header.Get("Location")))
		r = o.PostForm(step, url.Values{"old_password": {apptest.Password}, "new_password": {newPw}, "new_password2": {newPw}})
	}
	if r.Status != 303 || r.Header.Get("Location") != "/office/totp?next="+url.QueryEscape(deep) {
		t.Fatalf("to the TOTP step: %d %s", r.Status, r.Header.Get("Location"))
	}
	step := loginAction(t, o.Get(r.Header.Get("Location")))
	var enr struct{ Secret string }
	o.Get("/api/v1/session/totp").JSON(&enr)
	a.Clock.Advance(30 * time.Second)
	code, _ := totp.Code(enr.Secret, a.Clock.Now())
	if r := o.PostForm(step, url.Values{"code": {code}}); r.Status != 303 || r.Header.Get("Location") != deep {
		t.Fatalf("after TOTP: %d %s", r.Status, r.Header.Get("Location"))
	}
}

// Issue 11 item 2: next is only ever a path of this site.
func TestLoginRefusesForeignNext(t *testing.T) {
	a := apptest.Start(t)
	a.CreateUser("ap1", account.Applicant)
	for _, next := range []string{"//evil.example/x", "/\\evil.example", "https://evil.example/", "javascript:alert(1)", "/%0d%0aX:1"} {
		c := a.Client(a.Internet)
		page := c.Get("/login?next=" + url.QueryEscape(next))
		action := loginAction(t, page)
		if strings.Contains(action, "evil") || strings.Contains(action, "javascript") {
			t.Errorf("form carries %q: %s", next, action)
		}
		r := c.PostForm("/login?next="+url.QueryEscape(next), url.Values{"login": {"ap1"}, "password": {apptest.Password}})
		if r.Status != 303 || r.Header.Get("Location") != "/me" {
			t.Errorf("next %q: %d %s", next, r.Status, r.Header.Get("Location"))
		}
	}
}

// Issue 11 item 2: the login pages link to registration and to recovery,
// and the recovery pages say who helps.
func TestLoginLinksToRegistrationAndRecovery(t *testing.T) {
	a := apptest.Start(t)
	in, off := a.Client(a.Internet), a.Client(a.Office)
	page := in.Get("/login")
	for _, href := range []string{`href="/register/applicant"`, `href="/register/employer"`, `href="/recover"`} {
		if !strings.Contains(page.Body, href) {
			t.Errorf("portal login lacks %s", href)
		}
	}
	if r := in.Get("/recover"); r.Status != 200 || !strings.Contains(r.Body, "申请人忘记密码") || !strings.Contains(r.Body, "咨询电话") ||
		!strings.Contains(r.Body, "经办人") {
		t.Errorf("portal recovery: %d %s", r.Status, r.Body)
	}
	if page := off.Get("/office/login"); !strings.Contains(page.Body, `href="/office/recover"`) || strings.Contains(page.Body, "/register/") {
		t.Errorf("office login links: %s", page.Body)
	}
	if r := off.Get("/office/recover"); r.Status != 200 || !strings.Contains(r.Body, "系统管理员") {
		t.Errorf("office recovery: %d %s", r.Status, r.Body)
	}
	if r := in.Get("/office/recover"); r.Status != 404 {
		t.Errorf("office recovery on the internet listener: %d", r.Status)
	}
}

// Issue 11 item 9: registration asks consent to the privacy notice and
// records its version; empty fields say they are empty, errors follow the
// form's order; a new applicant is signed in and lands on /me.
func TestRegistrationAsksConsentAndSignsIn(t *testing.T) {
	a := apptest.Start(t)
	c := a.Client(a.Internet)
	page := c.Get("/register/applicant")
	if page.Status != 200 || !strings.Contains(page.Body, `href="/privacy"`) ||
		!strings.Contains(page.Body, `name="privacy" value="`+account.PrivacyNoticeVersion+`"`) {
		t.Fatalf("form: %d %s", page.Status, page.Body)
	}
	if r := c.Get("/privacy"); r.Status != 200 || !strings.Contains(r.Body, "个人信息处理规则") ||
		!strings.Contains(r.Body, account.PrivacyNoticeVersion) {
		t.Errorf("notice: %d %s", r.Status, r.Body)
	}

	// Everything empty: each field says it is empty, in the form's order.
	r := c.PostForm("/register/applicant", url.Values{})
	want := []string{"请填写身份证号", "请填写姓名", "请填写登录名", "请填写手机号", "请填写电子邮箱", "请设置密码", "请阅读并同意《个人信息处理规则》"}
	summary := r.Body
	if i := strings.Index(summary, "<form"); i > 0 {
		summary = summary[:i] // the error summary stands above the form
	}
	last := -1
	for _, w := range want {
		i := strings.Index(summary, w)
		if i < 0 || i < last {
			t.Errorf("summary lacks %q or has it out of order (%d after %d)", w, i, last)
		}
		last = i
	}
	if r.Status != 400 || strings.Contains(r.Body, "应为2到30个字") || strings.Contains(r.Body, "应为3到64个字符") {
		t.Errorf("empty form: %d %s", r.Status, r.Body)
	}

	// All valid but no consent: refused on that field, nothing created.
	id := casetest.IDNumber(true)
	form := url.Values{"id_number": {id}, "name": {"王小明"}, "login": {"wxm"}, "phone": {"13900139000"},
		"email": {"wxm@example.cn"}, "password": {apptest.Password}, "password2": {apptest.Password}}
	r = c.PostForm("/register/applicant", form)
	if r.Status != 400 || !strings.Contains(r.Body, `id="e-privacy"`) {
		t.Fatalf("without consent: %d %s", r.Status, r.Body)
	}
	if _, err := a.Accounts.UserByLogin(context.Background(), "wxm"); err == nil {
		t.Fatal("an account was made without consent")
	}
	// A stale version is refused too.
	form.Set("privacy", "2000-01")
	if r := c.PostForm("/register/applicant", form); r.Status != 400 || !strings.Contains(r.Body, "已更新") {
		t.Errorf("stale consent: %d", r.Status)
	}

	// With consent: signed in, on /me, the version stored with the time.
	form.Set("privacy", account.PrivacyNoticeVersion)
	r = c.PostForm("/register/applicant", form)
	if r.Status != 303 || r.Header.Get("Location") != "/me" {
		t.Fatalf("register: %d %s %s", r.Status, r.Header.Get("Location"), r.Body)
	}
	if me := c.Get("/me"); me.Status != 200 || !strings.Contains(me.Body, "王小明") {
		t.Fatalf("not signed in after registering: %d %s", me.Status, me.Header.Get("Location"))
	}
	var version string
	var at int64
	if err := a.DB.QueryRow(context.Background(), `SELECT privacy_version, privacy_accepted_at FROM users WHERE login = 'wxm'`).
		Scan(&version, &at); err != nil || version != account.PrivacyNoticeVersion || at == 0 {
		t.Errorf("consent stored: %q %d %v", version, at, err)
	}
	// So does the employer's registration, for its operator.
	if _, err := a.EnsureRound(context.Background(), 0, true); err != nil {
		t.Fatal(err)
	}
	emp := url.Values{"credit_code": {casetest.CreditCode()}, "name": {"北京同意测试有限公司"}, "district": {"海淀区"},
		"address": {"北京市海淀区中关村大街1号"}, "legal_rep": {"张三"}, "operator_name": {"李四"}, "operator_login": {"op9"},
		"phone": {"13800138000"}, "email": {"op9@example.cn"}, "password": {apptest.Password}, "password2": {apptest.Password}}
	if r := a.Client(a.Internet).PostForm("/register/employer", emp); r.Status != 400 || !strings.Contains(r.Body, `id="e-privacy"`) {
		t.Errorf("employer without consent: %d", r.Status)
	}
	emp.Set("privacy", account.PrivacyNoticeVersion)
	if r := a.Client(a.Internet).PostForm("/register/employer", emp); r.Status != 303 {
		t.Fatalf("employer with consent: %d %s", r.Status, r.Body)
	}
	if err := a.DB.QueryRow(context.Background(), `SELECT privacy_version FROM users WHERE login = 'op9'`).Scan(&version); err != nil ||
		version != account.PrivacyNoticeVersion {
		t.Errorf("operator's consent: %q %v", version, err)
	}
	// The API asks the same consent.
	api := a.Client(a.Internet)
	if r := api.PostJSON("/api/v1/applicants", map[string]string{"id_number": casetest.IDNumber(false), "name": "李小红", "login": "lxh",
		"phone": "13900139001", "email": "lxh@example.cn", "password": apptest.Password}); r.Status != 400 || !strings.Contains(r.Body, `"privacy"`) {
		t.Errorf("API without consent: %d %s", r.Status, r.Body)
	}
}
