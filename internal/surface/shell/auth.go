package shell

import (
	"net/http"
	"net/url"

	"jifen/internal/account"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/password"
	"jifen/internal/platform/web"
	"jifen/internal/settings"
)

// Register adds the session routes of the zone to mux: login pages and the
// JSON session API, password change, second factor, the account page and
// health checks.
func (s *Shell) Register(mux *web.Mux) {
	p := s.Prefix
	mux.Handle("GET /healthz", http.HandlerFunc(Healthz))
	mux.Handle("GET /readyz", http.HandlerFunc(s.Readyz))

	mux.Handle("GET "+p+"/login", http.HandlerFunc(s.loginPage))
	mux.Handle("POST "+p+"/login", s.Limiter.Limit(http.HandlerFunc(s.loginSubmit)))
	mux.Handle("POST "+p+"/logout", http.HandlerFunc(s.logout))
	mux.Handle("GET "+p+"/recover", http.HandlerFunc(s.recoverPage))
	mux.Handle("GET "+p+"/password", http.HandlerFunc(s.passwordPage))
	mux.Handle("POST "+p+"/password", http.HandlerFunc(s.passwordSubmit))
	mux.Handle("GET "+p+"/totp", http.HandlerFunc(s.totpPage))
	mux.Handle("POST "+p+"/totp", http.HandlerFunc(s.totpSubmit))
	mux.Handle("GET "+p+"/account", s.RequireUser("", s.accountPage))
	mux.Handle("POST "+p+"/account/logout-all", s.RequireUser("", s.logoutAll))

	mux.Handle("POST /api/v1/session", s.Limiter.Limit(http.HandlerFunc(s.apiLogin)))
	mux.Handle("GET /api/v1/session", http.HandlerFunc(s.apiSession))
	mux.Handle("DELETE /api/v1/session", http.HandlerFunc(s.apiLogout))
	mux.Handle("POST /api/v1/session/password", http.HandlerFunc(s.apiPassword))
	mux.Handle("GET /api/v1/session/totp", http.HandlerFunc(s.apiTOTPEnrol))
	mux.Handle("POST /api/v1/session/totp", http.HandlerFunc(s.apiTOTP))
	mux.Handle("POST /api/v1/session/logout-all", s.RequireUser("", s.apiLogoutAll))
}

// Healthz answers while the process is up.
func Healthz(w http.ResponseWriter, r *http.Request) {
	web.JSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// Readyz answers 200 when the database answers, 503 otherwise.
func (s *Shell) Readyz(w http.ResponseWriter, r *http.Request) {
	if err := s.DB.Ping(r.Context()); err != nil {
		s.Log.Warn("readyz: database unreachable", "err", err)
		web.JSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "database": "unreachable"})
		return
	}
	web.JSON(w, http.StatusOK, map[string]string{"status": "ok", "database": "ok"})
}

type loginView struct {
	Action string
	Intro  string
	Demo   bool
	Links  []link
}

type link struct{ Href, Label string }

// loginView is the login form; its action carries next, the page the
// person was going to, so the login (and the steps after it) end there.
func (s *Shell) loginView(next string) loginView {
	v := loginView{Action: withNext(s.Prefix+"/login", next), Demo: s.Demo}
	if s.Zone == account.Office {
		v.Intro = "本系统仅供市、区人力社保部门及相关委办局工作人员使用。登录后需输入动态口令。"
		v.Links = []link{{s.Prefix + "/recover", "忘记密码或账号被锁定"}}
	} else {
		v.Intro = "申请人和用人单位经办人请使用注册的登录名和密码登录。"
		v.Links = []link{{"/register/applicant", "申请人注册"}, {"/register/employer", "用人单位注册"},
			{"/recover", "忘记密码或账号被锁定"}, {"/calculator", "积分自测（无需登录）"}}
	}
	return v
}

// nextOf is the validated page a request asks to go to after login ("/"
// when none or when it is not a same-site path).
func nextOf(r *http.Request) string { return safeNext(r.URL.Query().Get("next")) }

// withNext adds next to path as its query, unless next is the default.
func withNext(path, next string) string {
	if next = safeNext(next); next == "/" {
		return path
	}
	return path + "?next=" + url.QueryEscape(next)
}

// landing is where a fully logged-in user goes: next when it names a page,
// else the user's own dashboard (applicants /me, employer operators
// /employer), else the zone's home.
func (s *Shell) landing(u *account.User, next string) string {
	if next = safeNext(next); next != "/" {
		return next
	}
	if s.Zone == account.Internet && u != nil {
		switch {
		case u.HasRole(account.Applicant):
			return "/me"
		case u.HasRole(account.EmployerOperator):
			return "/employer"
		}
	}
	return s.home()
}

func (s *Shell) loginPage(w http.ResponseWriter, r *http.Request) {
	if se, u := Current(r.Context()); se != nil && se.Stage == account.StageFull {
		web.Redirect(w, r, s.landing(u, nextOf(r)))
		return
	}
	p := s.Page(r, "登录")
	p.Data = s.loginView(nextOf(r))
	s.Render(w, r, http.StatusOK, "login", p)
}

type recoverView struct {
	Office      bool
	LockMinutes int
	Helpdesk    string
	Login       string
}

// recoverPage says how to get back into an account: staff ask the system
// administrator; applicants and employer operators call the help desk, or
// (operators) ask another operator of their employer.
func (s *Shell) recoverPage(w http.ResponseWriter, r *http.Request) {
	p := s.Page(r, "忘记密码或账号被锁定")
	p.Data = recoverView{Office: s.Zone == account.Office, LockMinutes: s.Settings.Int(r.Context(), settings.LockoutMinutes),
		Helpdesk: p.Helpdesk, Login: s.Prefix + "/login"}
	s.Render(w, r, http.StatusOK, "recover", p)
}

func (s *Shell) home() string {
	if s.Prefix == "" {
		return "/"
	}
	return s.Prefix + "/"
}

func (s *Shell) loginSubmit(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		web.WriteError(w, r, apperr.Field("body", "表单内容无法读取"))
		return
	}
	login, pw := r.PostFormValue("login"), r.PostFormValue("password")
	var err error
	if login == "" || pw == "" {
		var fe []apperr.FieldError
		if login == "" {
			fe = append(fe, apperr.FieldError{Field: "login", Message: "请输入登录名"})
		}
		if pw == "" {
			fe = append(fe, apperr.FieldError{Field: "password", Message: "请输入密码"})
		}
		err = apperr.Fields(fe)
	}
	var res *account.LoginResult
	if err == nil {
		res, err = s.Accounts.Login(r.Context(), s.Zone, login, pw, clientOf(r), r.UserAgent())
	}
	if err != nil {
		p := s.Page(r, "登录")
		p.SetError(err)
		p.Form["login"] = login
		p.Data = s.loginView(nextOf(r))
		s.Render(w, r, web.Status(err), "login", p)
		return
	}
	s.setCookie(w, res.Token)
	if res.Next != account.StageFull {
		web.Redirect(w, r, withNext(s.stagePath(res.Next), nextOf(r)))
		return
	}
	web.Redirect(w, r, s.landing(res.User, nextOf(r)))
}

// SignIn opens a session for a person who has just registered with login
// and pw, through the ordinary login (its checks, audit and session
// limit), and returns where they go now: the step the session still owes,
// or their dashboard.
func (s *Shell) SignIn(w http.ResponseWriter, r *http.Request, login, pw string) (string, error) {
	res, err := s.Accounts.Login(r.Context(), s.Zone, login, pw, clientOf(r), r.UserAgent())
	if err != nil {
		return "", err
	}
	s.setCookie(w, res.Token)
	if res.Next != account.StageFull {
		return s.stagePath(res.Next), nil
	}
	return s.landing(res.User, ""), nil
}

func clientOf(r *http.Request) string { return web.ClientAddr(r.Context()) }

func (s *Shell) logout(w http.ResponseWriter, r *http.Request) {
	if se, u := Current(r.Context()); se != nil {
		if err := s.Accounts.Logout(r.Context(), se, u); err != nil {
			web.WriteError(w, r, err)
			return
		}
	}
	s.clearCookie(w)
	s.Flash(w, r, s.Prefix+"/login", "logged_out")
}

// stageSession returns the session if it is logged in at all, else redirects.
func (s *Shell) stageSession(w http.ResponseWriter, r *http.Request) (*account.Session, *account.User, bool) {
	se, u := Current(r.Context())
	if se == nil {
		if web.WantsJSON(r) {
			web.WriteError(w, r, account.ErrNoSession)
		} else {
			web.Redirect(w, r, s.Prefix+"/login")
		}
		return nil, nil, false
	}
	return se, u, true
}

type passwordView struct {
	Action string
	Forced bool
}

func (s *Shell) passwordPage(w http.ResponseWriter, r *http.Request) {
	se, _, ok := s.stageSession(w, r)
	if !ok {
		return
	}
	if se.Stage == account.StageTOTP {
		web.Redirect(w, r, s.stagePath(se.Stage))
		return
	}
	p := s.Page(r, "修改密码")
	p.Data = passwordView{Action: withNext(s.Prefix+"/password", nextOf(r)), Forced: se.Stage == account.StageChangePassword}
	s.Render(w, r, http.StatusOK, "password", p)
}

func (s *Shell) passwordSubmit(w http.ResponseWriter, r *http.Request) {
	se, u, ok := s.stageSession(w, r)
	if !ok {
		return
	}
	if se.Stage == account.StageTOTP {
		web.Redirect(w, r, s.stagePath(se.Stage))
		return
	}
	_ = r.ParseForm()
	oldPw, newPw, again := r.PostFormValue("old_password"), r.PostFormValue("new_password"), r.PostFormValue("new_password2")
	var token string
	var next account.Stage
	var err error
	if newPw != again {
		// Report every problem at once: the mismatch and whatever is wrong
		// with the new password itself.
		fe := []apperr.FieldError{}
		if oldPw == "" {
			fe = append(fe, apperr.FieldError{Field: "old_password", Message: "请输入当前密码"})
		}
		if perr := password.CheckPolicy(newPw, u.Login); perr != nil {
			fe = append(fe, apperr.FieldError{Field: "new_password", Message: perr.Error()})
		}
		fe = append(fe, apperr.FieldError{Field: "new_password2", Message: "两次输入的新密码不一致"})
		err = apperr.Fields(fe)
	} else {
		token, next, err = s.Accounts.ChangePassword(r.Context(), se, u, oldPw, newPw)
	}
	if err != nil {
		p := s.Page(r, "修改密码")
		p.SetError(err)
		p.Data = passwordView{Action: withNext(s.Prefix+"/password", nextOf(r)), Forced: se.Stage == account.StageChangePassword}
		s.Render(w, r, web.Status(err), "password", p)
		return
	}
	s.setCookie(w, token)
	if next != account.StageFull {
		web.Redirect(w, r, withNext(s.stagePath(next), nextOf(r)))
		return
	}
	s.Flash(w, r, s.landing(u, nextOf(r)), "password_changed")
}

type totpView struct {
	Action string
	Enrol  *account.TOTPEnrolment
}

func (s *Shell) totpView(r *http.Request, u *account.User) (totpView, error) {
	v := totpView{Action: withNext(s.Prefix+"/totp", nextOf(r))}
	if !u.TOTPEnabled {
		enr, err := s.Accounts.BeginTOTP(r.Context(), u)
		if err != nil {
			return v, err
		}
		v.Enrol = enr
	}
	return v, nil
}

func (s *Shell) totpPage(w http.ResponseWriter, r *http.Request) {
	se, u, ok := s.stageSession(w, r)
	if !ok {
		return
	}
	if se.Stage != account.StageTOTP {
		web.Redirect(w, r, s.landing(u, nextOf(r)))
		return
	}
	v, err := s.totpView(r, u)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	p := s.Page(r, "动态口令验证")
	p.Data = v
	s.Render(w, r, http.StatusOK, "totp", p)
}

func (s *Shell) totpSubmit(w http.ResponseWriter, r *http.Request) {
	se, u, ok := s.stageSession(w, r)
	if !ok {
		return
	}
	_ = r.ParseForm()
	token, _, err := s.Accounts.VerifyTOTP(r.Context(), se, u, r.PostFormValue("code"))
	if err != nil {
		if apperr.Is(err, apperr.Locked) {
			s.clearCookie(w)
		}
		p := s.Page(r, "动态口令验证")
		p.SetError(err)
		v, verr := s.totpView(r, u)
		if verr != nil {
			web.WriteError(w, r, verr)
			return
		}
		p.Data = v
		s.Render(w, r, web.Status(err), "totp", p)
		return
	}
	s.setCookie(w, token)
	web.Redirect(w, r, s.landing(u, nextOf(r)))
}

type accountView struct {
	User          *account.User
	Phone         string
	Sessions      []account.Session
	PasswordHref  string
	LogoutAllHref string
}

func (s *Shell) accountPage(w http.ResponseWriter, r *http.Request) {
	u := User(r.Context())
	sessions, err := s.Accounts.Sessions(r.Context(), u.ID)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	phone, _ := s.Accounts.Phone(u)
	p := s.Page(r, "账号与安全")
	p.Data = accountView{User: u, Phone: maskPhone(phone), Sessions: sessions, PasswordHref: s.Prefix + "/password",
		LogoutAllHref: s.Prefix + "/account/logout-all"}
	s.Render(w, r, http.StatusOK, "sessions", p)
}

func (s *Shell) logoutAll(w http.ResponseWriter, r *http.Request) {
	if _, err := s.Accounts.LogoutEverywhere(r.Context(), User(r.Context())); err != nil {
		web.WriteError(w, r, err)
		return
	}
	s.clearCookie(w)
	s.Flash(w, r, s.Prefix+"/login", "logged_out_all")
}
