package office

import (
	"net/http"
	"strconv"

	"jifen/internal/account"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/web"
	"jifen/internal/surface/shell"
	"jifen/internal/surface/ui"
)

type usersView struct {
	Users     []*account.User
	Query     string
	Role      string
	Roles     []account.RoleInfo
	CanManage bool
	Page      int
	Next      bool
}

const usersPerPage = 50

func (o *Office) users(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	f := account.UserFilter{Zone: account.Office, Search: q.Get("q"), Role: account.Role(q.Get("role")),
		Limit: usersPerPage + 1, Offset: (page - 1) * usersPerPage}
	users, err := o.sh.Accounts.ListUsers(r.Context(), f)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	v := usersView{Query: f.Search, Role: string(f.Role), CanManage: shell.User(r.Context()).Can(account.PermUsersManage), Page: page}
	if len(users) > usersPerPage {
		users, v.Next = users[:usersPerPage], true
	}
	v.Users = users
	for _, ri := range account.Roles {
		if ri.Zone == account.Office {
			v.Roles = append(v.Roles, ri)
		}
	}
	p := o.sh.Page(r, "账号管理")
	p.Data = v
	o.sh.Render(w, r, http.StatusOK, "office_users", p)
}

type userCreatedView struct {
	User     *account.User
	Password string
}

func (o *Office) userNew(w http.ResponseWriter, r *http.Request) {
	p := o.sh.Page(r, "新建工作人员账号")
	o.sh.Render(w, r, http.StatusOK, "office_user_new", p)
}

func (o *Office) userCreate(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	form := map[string]string{}
	for _, k := range []string{"login", "display_name", "email", "phone", "district"} {
		form[k] = r.PostFormValue(k)
	}
	u, pw, err := o.sh.Accounts.CreateStaff(r.Context(), shell.Actor(r.Context()), form["login"], form["display_name"], form["email"], form["phone"], form["district"])
	if err != nil {
		p := o.sh.Page(r, "新建工作人员账号")
		p.SetError(err)
		p.Form = form
		o.sh.Render(w, r, web.Status(err), "office_user_new", p)
		return
	}
	p := o.sh.Page(r, "账号已创建")
	p.Data = userCreatedView{User: u, Password: pw}
	o.sh.Render(w, r, http.StatusCreated, "office_user_created", p)
}

func (o *Office) userAction(w http.ResponseWriter, r *http.Request) {
	by := shell.Actor(r.Context())
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	target, err := o.sh.Accounts.UserByID(r.Context(), id)
	if err != nil || target.Zone != account.Office {
		web.WriteError(w, r, apperr.New(apperr.NotFound, "您访问的记录不存在"))
		return
	}
	_ = r.ParseForm()
	var flash string
	switch r.PathValue("action") {
	case "disable":
		err, flash = o.sh.Accounts.SetDisabled(r.Context(), by, id, true, r.PostFormValue("reason")), "disabled"
	case "enable":
		err, flash = o.sh.Accounts.SetDisabled(r.Context(), by, id, false, r.PostFormValue("reason")), "enabled"
	case "unlock":
		err, flash = o.sh.Accounts.UnlockIn(r.Context(), account.Office, target.Login), "unlocked"
	case "reset":
		// A reset cannot be undone: ask first, when it can be done (an
		// administrator's account or one without a mailbox goes straight
		// to the refusal).
		if !ui.Confirmed(r) && !target.IsAdmin() && target.Email != "" {
			o.confirm(w, r, "确认重置密码", ui.Confirm{Heading: "确认重置 " + target.DisplayName + " 的密码？",
				Lead: "账号 " + target.Login + "（" + target.DisplayName + "）。",
				Effects: []string{"原密码立即失效，该账号的所有登录立即退出。", "新的一次性密码只发送到该账号登记的电子邮箱，本页不显示。",
					"重置记入审计日志，不能撤回。"},
				Action: "/office/admin/users/" + strconv.FormatInt(id, 10) + "/reset", Carry: ui.Carry(r.PostForm), Button: "确认重置密码",
				Cancel: "/office/admin/users"})
			return
		}
		// The new password goes to the owner's mailbox; this page never
		// shows it.
		err, flash = o.sh.Accounts.ResetPassword(r.Context(), by, id), "password_reset"
	case "request":
		if _, err := o.sh.Accounts.RequestAdminAction(r.Context(), by, id, r.PostFormValue("action"), r.PostFormValue("reason")); err != nil {
			o.renderAdminRequestForm(w, r, target, err)
			return
		}
		flash = "admin_requested"
	default:
		web.NotFound(w, r)
		return
	}
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	o.sh.Flash(w, r, "/office/admin/users", flash)
}

type adminRequestFormView struct {
	User    *account.User
	Actions []adminActionOption
}

type adminActionOption struct{ Value, Label string }

// userRequestPage is the system administrator's form to ask for a reset,
// disable or enable of an administrator's account, which another
// administrator of another role approves.
func (o *Office) userRequestPage(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	target, err := o.sh.Accounts.UserByID(r.Context(), id)
	if err != nil || target.Zone != account.Office || !target.IsAdmin() {
		web.WriteError(w, r, apperr.New(apperr.NotFound, "您访问的记录不存在"))
		return
	}
	o.renderAdminRequestForm(w, r, target, nil)
}

func (o *Office) renderAdminRequestForm(w http.ResponseWriter, r *http.Request, target *account.User, err error) {
	p := o.sh.Page(r, "申请操作管理员账号")
	v := adminRequestFormView{User: target}
	for _, a := range []string{account.AdminReset, account.AdminDisable, account.AdminEnable} {
		if (a == account.AdminDisable && target.Disabled) || (a == account.AdminEnable && !target.Disabled) {
			continue
		}
		v.Actions = append(v.Actions, adminActionOption{a, account.AdminActionName(a)})
	}
	status := http.StatusOK
	if err != nil {
		p.SetError(err)
		p.Form["action"], p.Form["reason"] = r.PostFormValue("action"), r.PostFormValue("reason")
		status = web.Status(err)
	}
	p.Data = v
	o.sh.Render(w, r, status, "office_admin_request_new", p)
}
