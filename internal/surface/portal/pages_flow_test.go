package portal_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"jifen/internal/account"
	"jifen/internal/actor"
	"jifen/internal/app/apptest"
	"jifen/internal/application"
	"jifen/internal/casetest"
	"jifen/internal/employer"
	"jifen/internal/person"
)

// expect fails the test unless r has status want and contains every text.
func expect(t *testing.T, what string, r *apptest.Response, want int, texts ...string) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("%s: status %d, want %d\n%s", what, r.Status, want, r.Body)
	}
	for _, s := range texts {
		if !strings.Contains(r.Body, s) {
			t.Fatalf("%s: no %q in\n%s", what, s, r.Body)
		}
	}
}

// expectRedirect fails the test unless r is a 303 to a path starting with to.
func expectRedirect(t *testing.T, what string, r *apptest.Response, to string) {
	t.Helper()
	if r.Status != 303 || !strings.HasPrefix(r.Header.Get("Location"), to) {
		t.Fatalf("%s: %d to %q, want 303 to %s\n%s", what, r.Status, r.Header.Get("Location"), to, r.Body)
	}
}

func loginPage(t *testing.T, c *apptest.Client, login string) {
	t.Helper()
	expectRedirect(t, "login "+login, c.PostForm("/login", url.Values{"login": {login}, "password": {apptest.Password}}), "/")
}

var versionRe = regexp.MustCompile(`name="version" value="(\d+)"`)

// version is the declaration's version a section page carries.
func version(t *testing.T, c *apptest.Client, section string) string {
	t.Helper()
	m := versionRe.FindStringSubmatch(c.Get("/me/application/" + section).Body)
	if m == nil {
		t.Fatalf("no version on the %s page", section)
	}
	return m[1]
}

// upload posts a file as the upload form of a section page does.
func upload(c *apptest.Client, section, indicator, name, content string) *apptest.Response {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("section", section)
	_ = mw.WriteField("indicator", indicator)
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = fw.Write([]byte(content))
	_ = mw.Close()
	return c.Do("POST", "/me/application/attachments", &buf, map[string]string{"Content-Type": mw.FormDataContentType(),
		"Origin": c.Base, "Sec-Fetch-Site": "same-origin"})
}

// registerApplicant registers an applicant through the page, logs in and
// asks to link to the employer with code.
func registerApplicant(t *testing.T, a *apptest.App, login, name, code string) (*apptest.Client, *person.Person) {
	t.Helper()
	c := a.Client(a.Internet)
	id := casetest.IDNumber(true)
	expectRedirect(t, "register "+login, c.PostForm("/register/applicant", url.Values{"id_number": {id}, "name": {name},
		"login": {login}, "phone": {"13900139000"}, "email": {login + "@example.cn"}, "password": {apptest.Password},
		"password2": {apptest.Password}, "privacy": {account.PrivacyNoticeVersion}}), "/me")
	expectRedirect(t, "link "+login, c.PostForm("/me/link", url.Values{"reg_code": {strings.ToLower(code)}}), "/me")
	p, err := a.Cases.Persons.ByIDNumber(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c, p
}

// confirmLink confirms the pending link of a person on the links page.
func confirmLink(t *testing.T, a *apptest.App, emp *apptest.Client, empID, roundID, personID int64) {
	t.Helper()
	ls, err := a.Cases.Persons.LinksOfEmployer(context.Background(), empID, roundID, person.LinkPending)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		if l.PersonID == personID {
			expectRedirect(t, "confirm", emp.PostForm("/employer/links/"+strconv.FormatInt(l.ID, 10)+"/confirm", nil), "/employer/links")
			return
		}
	}
	t.Fatalf("no pending link of person %d", personID)
}

var insurance = url.Values{"social_insurance[0].from": {"2010-01"}, "social_insurance[0].to": {"2025-12"}}

// fileAndSubmit fills in the insurance section and submits to the employer.
func fillAndSubmit(t *testing.T, c *apptest.Client) {
	t.Helper()
	expectRedirect(t, "open", c.PostForm("/me/application", nil), "/me/application/eligibility")
	form := url.Values{"version": {version(t, c, "insurance")}}
	for k, v := range insurance {
		form[k] = v
	}
	expectRedirect(t, "save insurance", c.PostForm("/me/application/insurance", form), "/me/application/housing")
	expectRedirect(t, "submit", c.PostForm("/me/application/submit", url.Values{"truthful": {"true"}, "confirmed": {"yes"}}), "/me")
}

// registerEmployer registers an employer through the page, verifies it as
// an office user would, logs its operator in and returns the 单位注册码.
func registerEmployer(t *testing.T, a *apptest.App) (*apptest.Client, *employer.Employer) {
	t.Helper()
	ctx := context.Background()
	c := a.Client(a.Internet)
	expect(t, "registration page", c.Get("/register/employer"), 200, "统一社会信用代码", `<option>海淀区</option>`)
	form := url.Values{"credit_code": {casetest.CreditCode()}, "name": {"北京页面测试有限公司"}, "district": {"海淀区"},
		"address": {"北京市海淀区中关村大街1号"}, "legal_rep": {"张三"}, "operator_name": {"李四"}, "operator_login": {"op1"},
		"phone": {"13800138000"}, "email": {"op1@example.cn"}, "password": {apptest.Password}, "password2": {apptest.Password + "x"},
		"privacy": {account.PrivacyNoticeVersion}}
	r := c.PostForm("/register/employer", form)
	expect(t, "passwords differ", r, 400, `id="e-password2"`, `value="北京页面测试有限公司"`, `<option selected>海淀区</option>`)
	if strings.Contains(r.Body, apptest.Password) {
		t.Fatal("the password came back in the page")
	}
	form.Set("password2", apptest.Password)
	expectRedirect(t, "register employer", c.PostForm("/register/employer", form), "/register/done?as=employer")
	expect(t, "confirmation", c.Get("/register/done?as=employer"), 200, "等待区人力社保局核验")
	list, err := a.Cases.Employers.List(ctx, employer.Filter{Query: form.Get("credit_code")})
	if err != nil || len(list) != 1 {
		t.Fatalf("registered employer: %v %v", list, err)
	}
	loginPage(t, c, "op1")
	expect(t, "pending employer", c.Get("/employer"), 200, "待核验", "核验通过后，这里将显示单位注册码")
	e, err := a.Cases.Employers.Decide(ctx, actor.SystemActor("test"), list[0].ID, true, "")
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "verified employer", c.Get("/employer"), 200, e.RegCode, "重新生成单位注册码")
	// Regenerating the code takes a confirmation step.
	expect(t, "confirm step", c.Get("/employer/reg-code"), 200, "确认重新生成", e.RegCode)
	expectRedirect(t, "regenerate", c.PostForm("/employer/reg-code", nil), "/employer")
	if e, err = a.Cases.Employers.Get(ctx, e.ID); err != nil {
		t.Fatal(err)
	}
	expect(t, "new code", c.Get("/employer"), 200, e.RegCode, "原注册码已失效")
	return c, e
}

func TestRoundThroughThePages(t *testing.T) {
	a := apptest.Start(t)
	ctx := context.Background()
	rd, err := a.EnsureRound(ctx, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	emp, e := registerEmployer(t, a)

	app, p1 := registerApplicant(t, a, "app1", "王小明", e.RegCode)
	expect(t, "link pending", app.Get("/me"), 200, "已提交关联申请", "待单位确认", "北京页面测试有限公司")
	expect(t, "links page", emp.Get("/employer/links"), 200, "王小明", "待确认（1）")
	confirmLink(t, a, emp, e.ID, rd.ID, p1.ID)
	expect(t, "linked", app.Get("/me"), 200, "已关联单位", "开始填报")
	expectRedirect(t, "open", app.PostForm("/me/application", nil), "/me/application/eligibility")
	expect(t, "dashboard", app.Get("/dashboard"), 200, "草稿", `href="/me"`)

	// A month that is no month: the message beside the field, the value kept.
	v := version(t, app, "insurance")
	r := app.PostForm("/me/application/insurance", url.Values{"version": {v},
		"social_insurance[0].from": {"2010-13"}, "social_insurance[0].to": {"2025-12"}})
	expect(t, "bad month", r, 400, `href="#f-social_insurance-0-from"`, `id="e-social_insurance-0-from"`, `value="2010-13"`,
		`value="2025-12"`)
	form := url.Values{"version": {v}}
	for k, vals := range insurance {
		form[k] = vals
	}
	// Saving a section goes on to the next one.
	expectRedirect(t, "save insurance", app.PostForm("/me/application/insurance", form), "/me/application/housing")
	r = app.Get("/me")
	expect(t, "saved", r, 200, "已保存，积分估算已更新", "实际缴纳：2010-01 至 2025-12")
	if strings.Contains(r.Body, "<strong>0.00 分</strong>") || strings.Contains(r.Body, "暂时无法估算") {
		t.Fatal("no estimate after saving insurance")
	}

	// 增加一行 shows a fourth housing row and saves nothing.
	v = version(t, app, "housing")
	housing := url.Values{"version": {v}, "housing[0].kind": {"owned"}, "housing[0].from": {"2015-01"},
		"housing[0].to": {"2025-12"}, "housing[0].district": {"昌平区"}}
	// As a browser sends the page: the three rows shown, two of them blank.
	withAdd := url.Values{"add": {"housing"}, "housing[1].from": {""}, "housing[2].from": {""}}
	for k, vals := range housing {
		withAdd[k] = vals
	}
	expect(t, "add a row", app.PostForm("/me/application/housing", withAdd), 200, "住所记录第4条", `value="2015-01"`)
	expectRedirect(t, "save housing", app.PostForm("/me/application/housing", housing), "/me/application/education")
	// The same page again, from a tab that still has the old version.
	expect(t, "stale tab", app.PostForm("/me/application/housing", housing), 409, "请刷新后再保存")

	expectRedirect(t, "upload", upload(app, "housing", "housing", "房产证.pdf", "%PDF-1.7 real"), "/me/application/housing")
	expect(t, "fake pdf", upload(app, "housing", "housing", "fake.pdf", "MZ\x90\x00 exe"), 400, `id="e-file"`, "只能上传 PDF")
	r = app.Get("/me/application/housing")
	m := regexp.MustCompile(`/me/application/attachments/(\d+)"`).FindStringSubmatch(r.Body)
	if m == nil || !strings.Contains(r.Body, "房产证.pdf") {
		t.Fatalf("attachment list:\n%s", r.Body)
	}
	att := m[1]
	r = app.Get("/me/application/attachments/" + att)
	if r.Status != 200 || r.Body != "%PDF-1.7 real" || r.Header.Get("Content-Type") != "application/pdf" ||
		!strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment;") {
		t.Fatalf("download: %d %v %q", r.Status, r.Header, r.Body)
	}

	// Every section has its page; the tax page asks the three tax years.
	for slug, text := range map[string]string{"eligibility": "是否持有北京市居住证", "education": "最高学历",
		"workplaces": "工作地记录第1条", "innovation": "创新创业项目第1条", "tax": `name="income_tax.2025"`,
		"honors": "近5年行政拘留次数"} {
		expect(t, "section "+slug, app.Get("/me/application/"+slug), 200, text, "第", "共8项")
	}
	expect(t, "unknown section", app.Get("/me/application/nothing"), 404)
	expectRedirect(t, "save tax", app.PostForm("/me/application/tax", url.Values{"version": {version(t, app, "tax")},
		"income_tax.2025": {"120000"}}), "/me/application/honors")
	expect(t, "tax saved", app.Get("/me/application/tax"), 200, `value="120000"`)

	expect(t, "summary", app.Get("/me/application/submit"), 200, "本人承诺所填信息真实、准确、完整", "自有住房，昌平区", "合法稳定就业")
	expect(t, "no statement", app.PostForm("/me/application/submit", url.Values{"confirmed": {"yes"}}), 400, `id="e-truthful"`)
	// A POST that did not come from the summary page shows it (what will
	// happen, the button) and changes nothing.
	expect(t, "submit unconfirmed", app.PostForm("/me/application/submit", url.Values{"truthful": {"true"}}), 200,
		"提交后", "审核期间您不能修改", `name="confirmed" value="yes"`, "确认承诺并提交单位")
	expect(t, "still a draft", app.Get("/me"), 200, `badge-warn">草稿<`)
	expectRedirect(t, "submit", app.PostForm("/me/application/submit", url.Values{"truthful": {"true"}, "confirmed": {"yes"}}), "/me")
	expect(t, "with employer", app.Get("/me"), 200, "已提交单位", "待单位审核")

	// A second applicant of the same employer, for the bulk submission.
	app2, p2 := registerApplicant(t, a, "app2", "李小红", e.RegCode)
	confirmLink(t, a, emp, e.ID, rd.ID, p2.ID)
	fillAndSubmit(t, app2)
	// Nobody else's files: 404, whatever the number.
	expect(t, "other's file", app2.Get("/me/application/attachments/"+att), 404)
	expect(t, "applicant on the employer pages", app.Get("/employer/applications"), 403)

	a1, err := a.Cases.Applications.ForPerson(ctx, p1.ID, rd.ID)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := a.Cases.Applications.ForPerson(ctx, p2.ID, rd.ID)
	if err != nil {
		t.Fatal(err)
	}
	id1, id2 := strconv.FormatInt(a1.ID, 10), strconv.FormatInt(a2.ID, 10)
	expect(t, "list", emp.Get("/employer/applications?status=with_employer"), 200, "王小明", "李小红",
		`name="id" value="`+id1+`"`, "待单位审核（2）")
	expect(t, "filter by name", emp.Get("/employer/applications?q=小红"), 200, "李小红")
	expect(t, "detail", emp.Get("/employer/applications/"+id1), 200, "房产证.pdf", "自有住房，昌平区", "确认提交")
	r = emp.Get("/employer/applications/" + id1 + "/attachments/" + att)
	if r.Status != 200 || r.Body != "%PDF-1.7 real" {
		t.Fatalf("employer download: %d", r.Status)
	}

	expect(t, "return without reason", emp.PostForm("/employer/applications/"+id1+"/return", nil), 400, `id="e-reason"`)
	expectRedirect(t, "return", emp.PostForm("/employer/applications/"+id1+"/return", url.Values{"reason": {"请补充房产证"}}),
		"/employer/applications")
	expect(t, "returned", app.Get("/me"), 200, "单位已退回", "请补充房产证")
	expectRedirect(t, "resubmit", app.PostForm("/me/application/submit", url.Values{"truthful": {"true"}, "confirmed": {"yes"}}), "/me")
	// 确认提交 asks first: the first POST shows what will happen, and
	// nothing is filed.
	expect(t, "file unconfirmed", emp.PostForm("/employer/applications/"+id1+"/file", nil), 200,
		"确认提交王小明的申请？", "不能再退回申请人修改", `action="/employer/applications/`+id1+`/file"`, `name="confirmed" value="yes"`)
	if a1, _ = a.Cases.Applications.ForPerson(ctx, p1.ID, rd.ID); a1.Status != application.WithEmployer {
		t.Fatalf("filed without confirmation: %s", a1.Status)
	}
	expectRedirect(t, "file", emp.PostForm("/employer/applications/"+id1+"/file", url.Values{"confirmed": {"yes"}}), "/employer/applications")
	expect(t, "bulk of none", emp.PostForm("/employer/applications/file", nil), 400, "请勾选要确认提交的申请")
	expect(t, "bulk unconfirmed", emp.PostForm("/employer/applications/file", url.Values{"id": {id1, id2}, "status": {"with_employer"}}),
		200, "确认提交 2 份申请？", "王小明、李小红", `name="id" value="`+id2+`"`, `name="status" value="with_employer"`)
	if a2, _ = a.Cases.Applications.ForPerson(ctx, p2.ID, rd.ID); a2.Status != application.WithEmployer {
		t.Fatalf("bulk filed without confirmation: %s", a2.Status)
	}
	expect(t, "bulk file", emp.PostForm("/employer/applications/file", url.Values{"id": {id1, id2}, "status": {"with_employer"}, "confirmed": {"yes"}}),
		200, "成功 2 份", "李小红：已确认提交")
	if a2, _ = a.Cases.Applications.ForPerson(ctx, p2.ID, rd.ID); a2.Status != application.Submitted {
		t.Fatalf("second application %s", a2.Status)
	}

	expect(t, "timeline", app.Get("/me"), 200, "办理记录", "创建申请", "单位已退回", "请补充房产证", "单位已提交",
		"申请人确认承诺并提交单位")
	expect(t, "locked", app.PostForm("/me/application/housing", housing), 409, "申请已提交，不能再修改")
	expect(t, "read-only section", app.Get("/me/application/housing"), 200, "本项内容不能再修改")
	expect(t, "no review yet", app.Get("/me/review"), 200, "初核结果公布后")
	reviewThroughThePages(t, a, app, emp, "app1", id1)
}

func TestRegistrationPagesCheckEverything(t *testing.T) {
	a := apptest.Start(t)
	c := a.Client(a.Internet)
	// No round: employers cannot register.
	expect(t, "no round", c.Get("/register/employer"), 200, "目前没有开放单位注册的年度批次")
	if _, err := a.EnsureRound(context.Background(), 0, true); err != nil {
		t.Fatal(err)
	}
	// An applicant's form with several problems answers them all at once.
	r := c.PostForm("/register/applicant", url.Values{"id_number": {"110101199003071234"}, "name": {"王"},
		"login": {"a"}, "phone": {"123"}, "email": {"x"}, "password": {"short"}, "password2": {"other"}})
	expect(t, "applicant errors", r, 400, `id="e-id_number"`, `id="e-name"`, `id="e-login"`, `id="e-phone"`, `id="e-password2"`,
		`value="110101199003071234"`)
	// After the registration window, the page says when it closed.
	a.Clock.Advance(100 * 24 * 3600e9)
	expect(t, "closed", c.Get("/register/employer"), 200, "单位注册已于")
	r = c.PostForm("/register/employer", url.Values{"credit_code": {casetest.CreditCode()}})
	expect(t, "closed post", r, 409, "单位注册已于")
}
