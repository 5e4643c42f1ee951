package portal

import (
	"net/http"

	"jifen/internal/account"
	"jifen/internal/employer"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/web"
)

// registerOperatorPages adds the operators page (邀请经办人) and the
// invitation's acceptance page.
func (p *Portal) registerOperatorPages(mux *web.Mux) {
	mux.Handle("GET /employer/operators", p.sh.RequireUser("", p.operatorsPage))
	mux.Handle("POST /employer/operators/invite", p.sh.RequireUser("", p.operatorsInvite))
	mux.HandleFunc("GET /employer/invite/{token}", p.invitePage)
	mux.Handle("POST /employer/invite/{token}", p.sh.Limiter.Limit(http.HandlerFunc(p.inviteAccept)))
}

type operatorsView struct {
	Employer  *employer.Employer
	Operators []employer.Operator
	Invited   string // e-mail just invited; the link goes to that address only
}

func (p *Portal) operatorsPage(w http.ResponseWriter, r *http.Request) {
	p.renderOperators(w, r, http.StatusOK, nil, operatorsView{})
}

func (p *Portal) renderOperators(w http.ResponseWriter, r *http.Request, status int, err error, v operatorsView) {
	c, ok := p.operatorOf(w, r)
	if !ok {
		return
	}
	ops, oerr := p.svc.Employers.Operators(r.Context(), c.employer.ID)
	if oerr != nil {
		web.WriteError(w, r, oerr)
		return
	}
	v.Employer, v.Operators = c.employer, ops
	pg := p.page(r, "单位经办人")
	if err != nil {
		pg.SetError(err)
		pg.Form["email"] = r.PostFormValue("email")
	}
	pg.Data = v
	p.sh.Render(w, r, status, "portal_operators", pg)
}

func (p *Portal) operatorsInvite(w http.ResponseWriter, r *http.Request) {
	c, ok := p.operatorOf(w, r)
	if !ok {
		return
	}
	_ = r.ParseForm()
	inv, _, err := p.svc.Employers.CreateInvite(r.Context(), c.caller, r.PostFormValue("email"))
	if err != nil {
		p.renderOperators(w, r, web.Status(err), err, operatorsView{})
		return
	}
	p.renderOperators(w, r, http.StatusCreated, nil, operatorsView{Invited: inv.Email})
}

type inviteView struct {
	Employer *employer.Employer
	Email    string
	Action   string
	Done     bool
	Login    string
}

func (p *Portal) invitePage(w http.ResponseWriter, r *http.Request) {
	inv, e, err := p.svc.Employers.InviteByToken(r.Context(), r.PathValue("token"))
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	pg := p.page(r, "成为单位经办人")
	pg.Form["email"] = inv.Email
	pg.Data = inviteView{Employer: e, Email: inv.Email, Action: r.URL.Path}
	p.sh.Render(w, r, http.StatusOK, "portal_invite", pg)
}

func (p *Portal) inviteAccept(w http.ResponseWriter, r *http.Request) {
	inv, e, err := p.svc.Employers.InviteByToken(r.Context(), r.PathValue("token"))
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	_ = r.ParseForm()
	form := map[string]string{}
	for _, k := range []string{"login", "name", "phone"} {
		form[k] = r.PostFormValue(k)
	}
	pg := p.page(r, "成为单位经办人")
	v := inviteView{Employer: e, Email: inv.Email, Action: r.URL.Path}
	if r.PostFormValue("password") != r.PostFormValue("password2") {
		err = apperr.Field("password2", "两次输入的密码不一致")
	} else {
		var u *account.User
		u, err = p.svc.Employers.AcceptInvite(r.Context(), r.PathValue("token"), account.NewUser{Login: form["login"],
			DisplayName: form["name"], Phone: form["phone"], Email: r.PostFormValue("email"), Password: r.PostFormValue("password")})
		if err == nil {
			v.Done, v.Login = true, u.Login
		}
	}
	if err != nil {
		pg.SetError(err)
		pg.Form = form
		if ae := apperr.As(err); len(ae.Fields) == 1 && ae.Fields[0].Field == "display_name" {
			pg.Fields["name"] = ae.Fields[0].Message
		}
	}
	pg.Data = v
	status := http.StatusOK
	if err != nil {
		status = web.Status(err)
	}
	p.sh.Render(w, r, status, "portal_invite", pg)
}
