package portal

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"jifen/internal/account"
	"jifen/internal/employer"
	"jifen/internal/person"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/web"
	"jifen/internal/rules"
	"jifen/internal/surface/ui"
)

// registerView is a registration form.
type registerView struct {
	Open           bool   // the form is shown
	Closed         string // why not: the window, in Chinese
	Districts      []string
	Industries     []employer.Class // the employer form's optional classification
	Sizes          []employer.Class
	PrivacyVersion string // the notice's version the consent names
}

// formField is one field of a registration form, in the form's order,
// with what to say when it is left empty.
type formField struct{ name, empty string }

var applicantFields = []formField{{"id_number", "请填写身份证号"}, {"name", "请填写姓名"}, {"login", "请填写登录名"},
	{"phone", "请填写手机号"}, {"email", "请填写电子邮箱"}, {"password", "请设置密码"}, {"password2", "请再次输入密码"},
	{"privacy", ""}}

var employerFields = []formField{{"credit_code", "请填写统一社会信用代码"}, {"name", "请填写单位名称"}, {"district", "请选择所在区"},
	{"address", "请填写单位地址"}, {"legal_rep", "请填写法定代表人"}, {"operator_name", "请填写经办人姓名"},
	{"operator_login", "请填写登录名"}, {"phone", "请填写手机号"}, {"email", "请填写电子邮箱"}, {"password", "请设置密码"},
	{"password2", "请再次输入密码"}, {"privacy", ""}}

func (p *Portal) registerApplicantPage(w http.ResponseWriter, r *http.Request) {
	pg := p.page(r, "申请人注册")
	pg.Data = registerView{Open: true, PrivacyVersion: account.PrivacyNoticeVersion}
	p.sh.Render(w, r, http.StatusOK, "portal_register_applicant", pg)
}

// registerApplicantSubmit registers an applicant with the checks of
// POST /api/v1/applicants, with consent to the privacy notice, and signs
// the new applicant in: they land on /me. A registration whose ID number
// already has an account creates nothing and ends on the confirmation page
// (the holder was told by mail); it differs from a new registration only
// in what logging in with the new login name would show anyway.
func (p *Portal) registerApplicantSubmit(w http.ResponseWriter, r *http.Request) {
	if !readForm(w, r, formLimit) {
		return
	}
	f := r.PostForm
	in := person.Registration{IDNumber: strings.TrimSpace(f.Get("id_number")), Name: f.Get("name"),
		Login: strings.TrimSpace(f.Get("login")), Phone: strings.TrimSpace(f.Get("phone")),
		Email: strings.TrimSpace(f.Get("email")), Password: f.Get("password"), PrivacyVersion: f.Get("privacy")}
	mismatch := in.Password != f.Get("password2")
	if mismatch {
		// An empty password is refused, so nothing is created, and every
		// other field is still checked: one answer lists every problem.
		in.Password = ""
	}
	_, _, err := p.svc.Persons.Register(r.Context(), in)
	again := errors.Is(err, person.ErrRegisteredAgain)
	if again {
		err = nil // the holder was told by mail
	}
	err = registrationError(err, mismatch, map[string]string{"display_name": "name"}, f, applicantFields)
	if err == nil {
		to := "/register/done?as=applicant"
		if !again {
			if next, err := p.sh.SignIn(w, r, in.Login, in.Password); err == nil {
				to = next
			}
		}
		web.Redirect(w, r, to)
		return
	}
	if !shownOnPage(err) {
		web.WriteError(w, r, err)
		return
	}
	pg := p.page(r, "申请人注册")
	keepForm(pg, f, "id_number", "name", "login", "phone", "email", "privacy")
	pg.SetError(err)
	pg.Data = registerView{Open: true, PrivacyVersion: account.PrivacyNoticeVersion}
	p.sh.Render(w, r, statusOf(err), "portal_register_applicant", pg)
}

// privacyPage shows the privacy notice (个人信息处理规则) registration asks
// consent to, with its version.
func (p *Portal) privacyPage(w http.ResponseWriter, r *http.Request) {
	pg := p.page(r, "个人信息处理规则")
	pg.Data = registerView{PrivacyVersion: account.PrivacyNoticeVersion}
	p.sh.Render(w, r, http.StatusOK, "privacy", pg)
}

// registrationError names the fields of a registration's error as the form
// does, says "请填写…" for a field left empty (whatever else the check said
// of it), replaces the refusal of the emptied password with the message
// about the two passwords, and lists the errors in the form's order, one
// per field.
func registrationError(err error, mismatch bool, rename map[string]string, form url.Values, order []formField) error {
	if err == nil || !apperr.Is(err, apperr.Invalid) {
		return err
	}
	ae := apperr.As(err)
	out := &apperr.Error{Code: ae.Code, Message: ae.Message, Err: ae.Err}
	has := func(field string) bool {
		return slices.ContainsFunc(ae.Fields, func(f apperr.FieldError) bool { return f.Field == field })
	}
	byField := map[string]string{}
	var extra []apperr.FieldError // fields not on the form, kept last
	put := func(fe apperr.FieldError) {
		if !slices.ContainsFunc(order, func(f formField) bool { return f.name == fe.Field }) {
			extra = append(extra, fe)
		} else if _, ok := byField[fe.Field]; !ok {
			byField[fe.Field] = fe.Message
		}
	}
	for _, fe := range ae.Fields {
		if mismatch && fe.Field == "password" {
			continue
		}
		if to, ok := rename[fe.Field]; ok {
			if has(to) {
				continue // the account's check of a name the form already faulted
			}
			fe.Field = to
		}
		put(fe)
	}
	if mismatch {
		put(apperr.FieldError{Field: "password2", Message: "两次输入的密码不一致，请重新输入"})
	}
	for _, f := range order {
		if f.empty == "" || strings.TrimSpace(form.Get(f.name)) != "" {
			continue
		}
		if _, faulted := byField[f.name]; faulted || f.name == "password2" && mismatch {
			byField[f.name] = f.empty
		}
	}
	for _, f := range order {
		if m, ok := byField[f.name]; ok {
			out.Fields = append(out.Fields, apperr.FieldError{Field: f.name, Message: m})
		}
	}
	out.Fields = append(out.Fields, extra...)
	return out
}

// keepForm keeps the named values in the form after an error; passwords
// are never sent back.
func keepForm(pg *ui.Page, f url.Values, names ...string) {
	for _, n := range names {
		pg.Form[n] = strings.TrimSpace(f.Get(n))
	}
}

// employerWindow is nil while employers may register, else the Chinese
// reason they may not (when the window opens or when it closed).
func (p *Portal) employerWindow(ctx context.Context) error {
	id, _, err := p.svc.CurrentRound(ctx)
	if err != nil {
		return apperr.New(apperr.Conflict, "目前没有开放单位注册的年度批次，请留意本站通知")
	}
	return p.svc.RequireOpen(ctx, id, "employer_registration")
}

func (p *Portal) registerEmployerPage(w http.ResponseWriter, r *http.Request) {
	pg := p.page(r, "用人单位注册")
	v := registerView{Open: true, Districts: rules.Districts(), Industries: employer.Industries, Sizes: employer.Sizes,
		PrivacyVersion: account.PrivacyNoticeVersion}
	if err := p.employerWindow(r.Context()); err != nil {
		if !shownOnPage(err) {
			web.WriteError(w, r, err)
			return
		}
		v.Open, v.Closed = false, apperr.As(err).Message
	}
	pg.Data = v
	p.sh.Render(w, r, http.StatusOK, "portal_register_employer", pg)
}

// registerEmployerSubmit registers an employer and its first operator with
// the checks of POST /api/v1/employers, only while the window is open.
func (p *Portal) registerEmployerSubmit(w http.ResponseWriter, r *http.Request) {
	if !readForm(w, r, formLimit) {
		return
	}
	f := r.PostForm
	v := registerView{Open: true, Districts: rules.Districts(), Industries: employer.Industries, Sizes: employer.Sizes,
		PrivacyVersion: account.PrivacyNoticeVersion}
	err := p.employerWindow(r.Context())
	if err == nil {
		in := employer.Registration{CreditCode: strings.TrimSpace(f.Get("credit_code")), Name: f.Get("name"),
			District: f.Get("district"), Address: f.Get("address"), LegalRep: f.Get("legal_rep"),
			Industry: f.Get("industry"), Size: f.Get("size"), OperatorName: f.Get("operator_name"), OperatorLogin: strings.TrimSpace(f.Get("operator_login")),
			Phone: strings.TrimSpace(f.Get("phone")), Email: strings.TrimSpace(f.Get("email")), Password: f.Get("password"),
			PrivacyVersion: f.Get("privacy")}
		mismatch := in.Password != f.Get("password2")
		if mismatch {
			in.Password = ""
		}
		_, _, err = p.svc.Employers.Register(r.Context(), in)
		err = registrationError(err, mismatch, map[string]string{"display_name": "operator_name", "login": "operator_login"},
			f, employerFields)
		if err == nil {
			web.Redirect(w, r, "/register/done?as=employer")
			return
		}
	} else if apperr.Is(err, apperr.Conflict) {
		v.Open, v.Closed = false, apperr.As(err).Message
	}
	if !shownOnPage(err) {
		web.WriteError(w, r, err)
		return
	}
	pg := p.page(r, "用人单位注册")
	keepForm(pg, f, "credit_code", "name", "district", "address", "legal_rep", "operator_name", "operator_login", "phone", "email",
		"privacy")
	pg.SetError(err)
	pg.Data = v
	p.sh.Render(w, r, statusOf(err), "portal_register_employer", pg)
}

// registeredView is the confirmation after a registration.
type registeredView struct{ Employer bool }

func (p *Portal) registeredPage(w http.ResponseWriter, r *http.Request) {
	v := registeredView{Employer: r.URL.Query().Get("as") == "employer"}
	title := "注册已提交"
	if v.Employer {
		title = "注册成功"
	}
	pg := p.page(r, title)
	pg.Data = v
	p.sh.Render(w, r, http.StatusOK, "portal_registered", pg)
}
