package shell

import (
	"net/http"

	"jifen/internal/account"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/ident"
	"jifen/internal/platform/web"
)

type loginRequest struct {
	Login    string `json:"login"`
	Password string `json:"password"`
}

// sessionAnswer is the JSON answer of the session endpoints. Next names the
// step the session still owes: "change_password", "totp" or null.
type sessionAnswer struct {
	Next *string     `json:"next"`
	User userSummary `json:"user"`
}

type userSummary struct {
	ID          int64    `json:"id"`
	Login       string   `json:"login"`
	DisplayName string   `json:"display_name"`
	Roles       []string `json:"roles"`
	Demo        bool     `json:"demo"`
}

func answer(se *account.Session, u *account.User) sessionAnswer {
	a := sessionAnswer{User: userSummary{ID: u.ID, Login: u.Login, DisplayName: u.DisplayName, Demo: u.Demo, Roles: []string{}}}
	for _, r := range u.Roles {
		a.User.Roles = append(a.User.Roles, string(r))
	}
	if se.Stage != account.StageFull {
		n := string(se.Stage)
		a.Next = &n
	}
	return a
}

func (s *Shell) apiLogin(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		web.WriteError(w, r, err)
		return
	}
	var fe []apperr.FieldError
	if req.Login == "" {
		fe = append(fe, apperr.FieldError{Field: "login", Message: "请输入登录名"})
	}
	if req.Password == "" {
		fe = append(fe, apperr.FieldError{Field: "password", Message: "请输入密码"})
	}
	if err := apperr.Fields(fe); err != nil {
		web.WriteError(w, r, err)
		return
	}
	res, err := s.Accounts.Login(r.Context(), s.Zone, req.Login, req.Password, clientOf(r), r.UserAgent())
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	s.setCookie(w, res.Token)
	web.JSON(w, http.StatusOK, answer(res.Session, res.User))
}

func (s *Shell) apiSession(w http.ResponseWriter, r *http.Request) {
	se, u, ok := s.stageSession(w, r)
	if !ok {
		return
	}
	web.JSON(w, http.StatusOK, answer(se, u))
}

func (s *Shell) apiLogout(w http.ResponseWriter, r *http.Request) {
	se, u, ok := s.stageSession(w, r)
	if !ok {
		return
	}
	if err := s.Accounts.Logout(r.Context(), se, u); err != nil {
		web.WriteError(w, r, err)
		return
	}
	s.clearCookie(w)
	w.WriteHeader(http.StatusNoContent)
}

type passwordRequest struct {
	OldPassword string `json:"old_password"`
	NewPassword string `json:"new_password"`
}

func (s *Shell) apiPassword(w http.ResponseWriter, r *http.Request) {
	se, u, ok := s.stageSession(w, r)
	if !ok {
		return
	}
	if se.Stage == account.StageTOTP {
		web.WriteError(w, r, apperr.New(apperr.Forbidden, stageMessage(se.Stage)))
		return
	}
	var req passwordRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		web.WriteError(w, r, err)
		return
	}
	token, _, err := s.Accounts.ChangePassword(r.Context(), se, u, req.OldPassword, req.NewPassword)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	s.setCookie(w, token)
	web.JSON(w, http.StatusOK, answer(se, u))
}

type totpEnrolAnswer struct {
	Enrolled bool   `json:"enrolled"`
	Secret   string `json:"secret,omitempty"`
	URI      string `json:"otpauth_uri,omitempty"`
}

func (s *Shell) apiTOTPEnrol(w http.ResponseWriter, r *http.Request) {
	se, u, ok := s.stageSession(w, r)
	if !ok {
		return
	}
	if se.Stage != account.StageTOTP {
		web.WriteError(w, r, apperr.New(apperr.Conflict, "当前无需输入动态口令"))
		return
	}
	if u.TOTPEnabled {
		web.JSON(w, http.StatusOK, totpEnrolAnswer{Enrolled: true})
		return
	}
	enr, err := s.Accounts.BeginTOTP(r.Context(), u)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, totpEnrolAnswer{Secret: enr.Secret, URI: enr.URI})
}

type totpRequest struct {
	Code string `json:"code"`
}

func (s *Shell) apiTOTP(w http.ResponseWriter, r *http.Request) {
	se, u, ok := s.stageSession(w, r)
	if !ok {
		return
	}
	var req totpRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		web.WriteError(w, r, err)
		return
	}
	token, _, err := s.Accounts.VerifyTOTP(r.Context(), se, u, req.Code)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	s.setCookie(w, token)
	web.JSON(w, http.StatusOK, answer(se, u))
}

func (s *Shell) apiLogoutAll(w http.ResponseWriter, r *http.Request) {
	n, err := s.Accounts.LogoutEverywhere(r.Context(), User(r.Context()))
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	s.clearCookie(w)
	web.JSON(w, http.StatusOK, map[string]int64{"sessions_ended": n})
}

func maskPhone(p string) string {
	if p == "" {
		return ""
	}
	return ident.MaskPhone(p)
}
