package app_test

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/app/apptest"
	"jifen/internal/audit"
	"jifen/internal/config"
)

func TestInternetListenerHasNoOffice(t *testing.T) {
	a := apptest.Start(t)
	a.CreateUser("sysadmin1", account.SystemAdmin)
	in := a.Client(a.Internet)
	for _, path := range []string{"/office", "/office/", "/office/login", "/office/admin/users", "/office/audit",
		"/office/audit/export.csv", "/office/static/app.css"} {
		for _, m := range []string{"GET", "POST", "DELETE"} {
			r := in.Do(m, path, nil, map[string]string{"Origin": a.Internet})
			if r.Status != 404 {
				t.Errorf("internet %s %s = %d, want 404", m, path, r.Status)
			}
		}
	}
	// A path that cleans to an office path is redirected to it, and that is 404.
	r := in.Get("/static/../office/login")
	if r.Status == 307 {
		r = in.Get(r.Header.Get("Location"))
	}
	if r.Status != 404 {
		t.Errorf("dot-dot path to the office: %d", r.Status)
	}
	// The same paths exist on the office listener.
	off := a.Client(a.Office)
	if r := off.Get("/office/login"); r.Status != 200 || !strings.Contains(r.Body, "登录") {
		t.Fatalf("office login page: %d", r.Status)
	}
	// A staff account cannot log in on the internet side, an applicant not in the office.
	a.CreateUser("applicant1", account.Applicant)
	if r := in.LoginAPI("sysadmin1", apptest.Password); r.Status != 401 {
		t.Fatalf("staff login on internet: %d", r.Status)
	}
	if r := off.LoginAPI("applicant1", apptest.Password); r.Status != 401 {
		t.Fatalf("applicant login in office: %d", r.Status)
	}
}

func TestHealthReadyAndMetrics(t *testing.T) {
	a := apptest.Start(t)
	for _, base := range []string{a.Internet, a.Office} {
		c := a.Client(base)
		if r := c.Get("/healthz"); r.Status != 200 || !strings.Contains(r.Body, `"ok"`) {
			t.Fatalf("%s healthz %d %s", base, r.Status, r.Body)
		}
		if r := c.Get("/readyz"); r.Status != 200 || !strings.Contains(r.Body, `"database":"ok"`) {
			t.Fatalf("%s readyz %d %s", base, r.Status, r.Body)
		}
	}
	a.Client(a.Internet).Get("/login")
	m := a.Client(a.Metrics).Get("/metrics")
	for _, want := range []string{`jifen_http_requests_total{code="200",method="GET",route="GET /login",surface="internet"}`,
		"go_goroutines", "process_cpu_seconds_total", `go_sql_open_connections{db_name="writer"}`,
		"jifen_http_request_duration_seconds_bucket"} {
		if !strings.Contains(m.Body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

type sessionAnswer struct {
	Next *string
	User struct {
		Login string
		Roles []string
	}
}

type errAnswer struct {
	Error struct {
		Code, Message string
		Fields        []struct{ Field, Message string }
	}
}

func TestJSONLoginLockoutAndSameAnswer(t *testing.T) {
	a := apptest.Start(t)
	a.CreateUser("applicant1", account.Applicant)
	c := a.Client(a.Internet)
	r := c.LoginAPI("applicant1", apptest.Password)
	var ok sessionAnswer
	r.JSON(&ok)
	if r.Status != 200 || ok.Next != nil || ok.User.Login != "applicant1" {
		t.Fatalf("login: %d %s", r.Status, r.Body)
	}
	if r := c.Get("/api/v1/session"); r.Status != 200 {
		t.Fatalf("session: %d", r.Status)
	}
	if r := c.Do("DELETE", "/api/v1/session", nil, nil); r.Status != 204 {
		t.Fatalf("logout: %d", r.Status)
	}
	if r := c.Get("/api/v1/session"); r.Status != 401 {
		t.Fatalf("after logout: %d", r.Status)
	}
	wrong := c.LoginAPI("applicant1", "Wrong#Pass9")
	unknown := c.LoginAPI("nobody", "Wrong#Pass9")
	var e1, e2 errAnswer
	wrong.JSON(&e1)
	unknown.JSON(&e2)
	if wrong.Status != 401 || unknown.Status != 401 || e1.Error.Message != e2.Error.Message || e1.Error.Message == "" {
		t.Fatalf("wrong %d %q, unknown %d %q", wrong.Status, e1.Error.Message, unknown.Status, e2.Error.Message)
	}
	for i := 0; i < 3; i++ {
		c.LoginAPI("applicant1", "Wrong#Pass9")
	}
	locked := c.LoginAPI("applicant1", "Wrong#Pass9")
	if locked.Status != 423 {
		t.Fatalf("5th failure: %d %s", locked.Status, locked.Body)
	}
	if r := c.LoginAPI("applicant1", apptest.Password); r.Status != 423 {
		t.Fatalf("right password while locked: %d", r.Status)
	}
	a.Clock.Advance(16 * time.Minute)
	if r := c.LoginAPI("applicant1", apptest.Password); r.Status != 200 {
		t.Fatalf("after lock: %d", r.Status)
	}
	// Missing fields and bad JSON name the field.
	for body, field := range map[string]string{`{"login":""}`: "login", `{"login":"a","pw":"x"}`: "pw", `{`: "body", `{"login":5}`: "login"} {
		r := c.Do("POST", "/api/v1/session", strings.NewReader(body), map[string]string{"Content-Type": "application/json"})
		var e errAnswer
		r.JSON(&e)
		if r.Status != 400 || len(e.Error.Fields) == 0 || e.Error.Fields[0].Field != field {
			t.Errorf("%s: %d %s", body, r.Status, r.Body)
		}
	}
}

func TestStaffOweStepsBeforeAnythingElse(t *testing.T) {
	a := apptest.Start(t)
	sys := a.CreateUser("sysadmin1", account.SystemAdmin)
	_ = sys
	admin := a.Client(a.Office)
	a.LoginStaff(admin, "sysadmin1", apptest.Password)
	r := admin.PostForm("/office/admin/users/new", url.Values{"login": {"clerk1"}, "display_name": {"张三"}})
	if r.Status != 201 {
		t.Fatalf("create staff: %d %s", r.Status, r.Body)
	}
	i := strings.Index(r.Body, `<code class="secret">`)
	pw := r.Body[i+len(`<code class="secret">`):]
	pw = pw[:strings.Index(pw, "<")]
	pw = strings.NewReplacer("&#43;", "+", "&#34;", `"`, "&#39;", "'", "&amp;", "&", "&lt;", "<", "&gt;", ">").Replace(pw)

	c := a.Client(a.Office)
	lr := c.LoginAPI("clerk1", pw)
	var ans sessionAnswer
	lr.JSON(&ans)
	if lr.Status != 200 || ans.Next == nil || *ans.Next != "change_password" {
		t.Fatalf("first login: %d %s", lr.Status, lr.Body)
	}
	// Nothing but the password change is possible.
	if r := c.Get("/office/"); r.Status != 303 || r.Header.Get("Location") != "/office/password" {
		t.Fatalf("office home before password change: %d %s", r.Status, r.Header.Get("Location"))
	}
	if r := c.Get("/api/v1/session/totp"); r.Status != 409 {
		t.Fatalf("totp before password change: %d", r.Status)
	}
	if r := c.PostJSON("/api/v1/session/logout-all", nil); r.Status != 403 {
		t.Fatalf("logout-all before password change: %d", r.Status)
	}
	pr := c.PostJSON("/api/v1/session/password", map[string]string{"old_password": pw, "new_password": "Hk4$wq9Lmz2r"})
	pr.JSON(&ans)
	if pr.Status != 200 || ans.Next == nil || *ans.Next != "totp" {
		t.Fatalf("change: %d %s", pr.Status, pr.Body)
	}
	if r := c.Get("/office/"); r.Status != 303 || r.Header.Get("Location") != "/office/totp" {
		t.Fatalf("office home before TOTP: %d %s", r.Status, r.Header.Get("Location"))
	}
	if r := c.Get("/office/totp"); r.Status != 200 || !strings.Contains(r.Body, "data:image/png;base64,") {
		t.Fatalf("TOTP enrolment page: %d", r.Status)
	}
}

func TestCrossOriginFormsRejected(t *testing.T) {
	a := apptest.Start(t)
	a.CreateUser("applicant1", account.Applicant)
	c := a.Client(a.Internet)
	form := strings.NewReader(url.Values{"login": {"applicant1"}, "password": {apptest.Password}}.Encode())
	r := c.Do("POST", "/login", form, map[string]string{"Content-Type": "application/x-www-form-urlencoded",
		"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
	if r.Status != 403 || !strings.Contains(r.Body, "请求来源不被允许") {
		t.Fatalf("cross-site form: %d %s", r.Status, r.Body)
	}
	r = c.PostForm("/login", url.Values{"login": {"applicant1"}, "password": {apptest.Password}})
	if r.Status != 303 {
		t.Fatalf("same-origin form: %d", r.Status)
	}
	// The session cookie is HttpOnly and SameSite.
	for _, ck := range r.Header.Values("Set-Cookie") {
		if strings.HasPrefix(ck, "jifen_session=") && (!strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "SameSite=Lax")) {
			t.Fatalf("cookie %s", ck)
		}
	}
}

func TestBadRequestsAnswerInChinese(t *testing.T) {
	a := apptest.Start(t, func(c *config.Config) { c.BodyLimit = 1024 })
	c := a.Client(a.Internet)
	big := strings.Repeat("x", 4096)
	if r := c.Do("POST", "/api/v1/session", strings.NewReader(`{"login":"`+big+`"}`), map[string]string{"Content-Type": "application/json"}); r.Status != 413 {
		t.Fatalf("oversize: %d", r.Status)
	}
	r := c.Get("/no/such/page")
	if r.Status != 404 || !strings.Contains(r.Body, "页面不存在") {
		t.Fatalf("404: %d %s", r.Status, r.Body)
	}
	if r := c.Do("PUT", "/login", nil, nil); r.Status != 405 || !strings.Contains(r.Body, "不支持该请求方法") {
		t.Fatalf("405: %d %s", r.Status, r.Body)
	}
	if r := c.Do("GET", "/api/v1/nothing", nil, nil); r.Status != 404 || !strings.Contains(r.Body, `"code":"not_found"`) {
		t.Fatalf("api 404: %d %s", r.Status, r.Body)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy"} {
		if r.Header.Get(h) == "" {
			t.Errorf("missing %s", h)
		}
	}
	if !strings.Contains(r.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Error("CSP lacks frame-ancestors")
	}
}

func TestLoginRateLimitPerClient(t *testing.T) {
	a := apptest.Start(t, func(c *config.Config) { c.LoginRate, c.LoginBurst = 0.01, 3 })
	c := a.Client(a.Internet)
	for i := 0; i < 3; i++ {
		if r := c.LoginAPI("x"+string(rune('a'+i))+"yz", "Wrong#Pass9"); r.Status != 401 {
			t.Fatalf("attempt %d: %d", i, r.Status)
		}
	}
	r := c.LoginAPI("xdyz", "Wrong#Pass9")
	if r.Status != 429 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("4th attempt: %d", r.Status)
	}
	// A client-supplied X-Forwarded-For does not buy a new bucket.
	r = c.Do("POST", "/api/v1/session", strings.NewReader(`{"login":"a","password":"b"}`), map[string]string{
		"Content-Type": "application/json", "X-Forwarded-For": "203.0.113.9"})
	if r.Status != 429 {
		t.Fatalf("spoofed header: %d", r.Status)
	}
}

func TestThreeAdminsOverHTTP(t *testing.T) {
	a := apptest.Start(t)
	a.CreateUser("sys", account.SystemAdmin)
	a.CreateUser("sec", account.SecurityAdmin)
	a.CreateUser("aud", account.AuditAdmin)
	clients := map[string]*apptest.Client{}
	for _, l := range []string{"sys", "sec", "aud"} {
		clients[l] = a.Client(a.Office)
		a.LoginStaff(clients[l], l, apptest.Password)
	}
	matrix := []struct {
		who, path string
		want      int
	}{
		{"sys", "/office/admin/users", 200}, {"sys", "/office/admin/users/new", 200}, {"sys", "/office/admin/settings", 200},
		{"sys", "/office/security/roles", 403}, {"sys", "/office/security/settings", 403}, {"sys", "/office/audit", 403},
		{"sys", "/office/audit/export.csv", 403},
		{"sec", "/office/security/roles", 200}, {"sec", "/office/security/settings", 200}, {"sec", "/office/admin/users", 200},
		{"sec", "/office/admin/users/new", 403}, {"sec", "/office/admin/settings", 403}, {"sec", "/office/audit", 403},
		{"aud", "/office/audit", 200}, {"aud", "/office/audit/export.csv", 200}, {"aud", "/office/admin/users", 403},
		{"aud", "/office/security/roles", 403}, {"aud", "/office/admin/settings", 403}, {"aud", "/office/security/settings", 403},
	}
	for _, m := range matrix {
		if r := clients[m.who].Get(m.path); r.Status != m.want {
			t.Errorf("%s GET %s = %d, want %d", m.who, m.path, r.Status, m.want)
		}
	}
	// The system admin creates an account; only the security admin can grant it a role.
	if r := clients["sys"].PostForm("/office/admin/users/new", url.Values{"login": {"clerk9"}, "display_name": {"李四"}}); r.Status != 201 {
		t.Fatalf("create: %d", r.Status)
	}
	clerk, err := a.Accounts.UserByLogin(t.Context(), "clerk9")
	if err != nil {
		t.Fatal(err)
	}
	grant := url.Values{"user_id": {itoa(clerk.ID)}, "kind": {"grant"}, "role": {"district_officer"}, "reason": {"新入职"},
		"form_no": {"QX-2026-001"}}
	if r := clients["sys"].PostForm("/office/security/roles/request", grant); r.Status != 403 {
		t.Fatalf("sys grant: %d", r.Status)
	}
	if r := clients["sec"].PostForm("/office/security/roles/request", grant); r.Status != 303 {
		t.Fatalf("sec grant: %d %s", r.Status, r.Body)
	}
	if u, _ := a.Accounts.UserByLogin(t.Context(), "clerk9"); !u.HasRole(account.DistrictOfficer) {
		t.Fatal("grant did not apply (single security admin)")
	}
	if r := clients["sec"].PostForm("/office/admin/users/new", url.Values{"login": {"x99"}, "display_name": {"x"}}); r.Status != 403 {
		t.Fatalf("sec create: %d", r.Status)
	}
	// Security parameters belong to the security admin; a bad value names the field.
	r := clients["sec"].PostForm("/office/security/settings", url.Values{"security.lockout_threshold": {"99"}, "reason": {"测评"}})
	if r.Status != 400 || !strings.Contains(r.Body, "连续登录失败锁定次数应在3到10之间") {
		t.Fatalf("bad setting: %d", r.Status)
	}
	if r := clients["sec"].PostForm("/office/security/settings", url.Values{"security.lockout_threshold": {"6"}, "reason": {"测评"}}); r.Status != 303 {
		t.Fatalf("setting: %d", r.Status)
	}
	if r := clients["sys"].PostForm("/office/security/settings", url.Values{"security.lockout_threshold": {"3"}, "reason": {"测评"}}); r.Status != 403 {
		t.Fatalf("sys setting: %d", r.Status)
	}
	// The audit admin sees all of it, and the export holds it too.
	page := clients["aud"].Get("/office/audit?action=role.")
	if !strings.Contains(page.Body, "role.request") {
		t.Fatal("audit page lacks the grant")
	}
	csv := clients["aud"].Get("/office/audit/export.csv?action=config.")
	if csv.Status != 200 || !strings.Contains(csv.Body, "security.lockout_threshold") || !strings.HasPrefix(csv.Body, "\ufeff序号") {
		t.Fatalf("export: %d %q", csv.Status, csv.Body[:min(len(csv.Body), 200)])
	}
	denied, err := a.Audit.Search(t.Context(), audit.Filter{Action: "access.denied"})
	if err != nil || len(denied) == 0 {
		t.Fatalf("denied accesses not audited: %v", err)
	}
	res, err := a.Audit.Verify(t.Context())
	if err != nil || !res.OK() {
		t.Fatalf("verify: %+v %v", res, err)
	}
}

func TestSessionIdleTimeoutOverHTTP(t *testing.T) {
	a := apptest.Start(t)
	a.CreateUser("applicant1", account.Applicant)
	c := a.Client(a.Internet)
	if r := c.PostForm("/login", url.Values{"login": {"applicant1"}, "password": {apptest.Password}}); r.Status != 303 {
		t.Fatalf("login %d", r.Status)
	}
	if r := c.Get("/account"); r.Status != 200 || !strings.Contains(r.Body, "退出所有设备") {
		t.Fatalf("account page %d", r.Status)
	}
	a.Clock.Advance(29 * time.Minute)
	if r := c.Get("/account"); r.Status != 200 {
		t.Fatalf("after 29 min: %d", r.Status)
	}
	a.Clock.Advance(31 * time.Minute)
	if r := c.Get("/account"); r.Status != 303 || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Fatalf("after 31 idle min: %d", r.Status)
	}
}

func TestPageLoginShowsErrorsBesideFields(t *testing.T) {
	a := apptest.Start(t)
	c := a.Client(a.Internet)
	r := c.PostForm("/login", url.Values{"login": {"someone"}, "password": {""}})
	if r.Status != 400 || !strings.Contains(r.Body, "请输入密码") || !strings.Contains(r.Body, `value="someone"`) ||
		!strings.Contains(r.Body, `href="#f-password"`) {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestPasswordChangeReportsEveryProblemAtOnce(t *testing.T) {
	a := apptest.Start(t)
	a.CreateUser("applicant1", account.Applicant)
	c := a.Client(a.Internet)
	c.PostForm("/login", url.Values{"login": {"applicant1"}, "password": {apptest.Password}})
	r := c.PostForm("/password", url.Values{"old_password": {""}, "new_password": {"abc"}, "new_password2": {"abd"}})
	for _, want := range []string{"请输入当前密码", "密码至少需要8个字符", "两次输入的新密码不一致"} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("missing %q (status %d)", want, r.Status)
		}
	}
	if r.Status != 400 {
		t.Fatalf("status %d", r.Status)
	}
}

func TestErrorPageBelongsToItsSurface(t *testing.T) {
	a := apptest.Start(t)
	r := a.Client(a.Office).Get("/office/nothing-here")
	if r.Status != 404 || !strings.Contains(r.Body, `class="surface-office"`) || !strings.Contains(r.Body, `href="/office/"`) {
		t.Fatalf("office 404: %d %s", r.Status, r.Body)
	}
}
