package office

import (
	"net/http"
	"slices"
	"strconv"

	"jifen/internal/account"
	"jifen/internal/actor"
	"jifen/internal/platform/web"
	"jifen/internal/surface/shell"
	"jifen/internal/surface/ui"
)

// adminRequestsView lists the requests on administrators' accounts; Me
// decides those it may (another role than the requester's, not its own
// account).
type adminRequestsView struct {
	Requests []adminRequestRow
}

type adminRequestRow struct {
	*account.AdminRequest
	ActionName    string
	RequesterRole string
	CanDecide     bool
}

func (o *Office) adminRequests(w http.ResponseWriter, r *http.Request) {
	me := shell.Actor(r.Context())
	reqs, err := o.sh.Accounts.AdminRequests(r.Context(), me, 200)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	v := adminRequestsView{}
	for _, q := range reqs {
		v.Requests = append(v.Requests, adminRequestRow{AdminRequest: q, ActionName: account.AdminActionName(q.Action),
			RequesterRole: account.RoleName(q.RequesterRole),
			CanDecide:     canDecide(me, q)})
	}
	p := o.sh.Page(r, "管理员账号操作审批")
	p.Data = v
	o.sh.Render(w, r, http.StatusOK, "office_admin_requests", p)
}

func (o *Office) adminRequestDecide(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	_ = r.ParseForm()
	d := r.PathValue("decision")
	if d != "approve" && d != "reject" {
		web.NotFound(w, r)
		return
	}
	if d == "approve" && !ui.Confirmed(r) && o.confirmAdminRequest(w, r, id) {
		return
	}
	if err := o.sh.Accounts.DecideAdminRequest(r.Context(), shell.Actor(r.Context()), id, d == "approve", r.PostFormValue("reason")); err != nil {
		web.WriteError(w, r, err)
		return
	}
	o.sh.Flash(w, r, "/office/admin-requests", map[string]string{"approve": "approved", "reject": "rejected"}[d])
}

type staffSessionsView struct {
	Sessions []account.StaffSession
}

// staffSessions shows the security administrator every live staff session.
func (o *Office) staffSessions(w http.ResponseWriter, r *http.Request) {
	list, err := o.sh.Accounts.StaffSessions(r.Context(), shell.Actor(r.Context()))
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	p := o.sh.Page(r, "工作人员在线会话")
	p.Data = staffSessionsView{Sessions: list}
	o.sh.Render(w, r, http.StatusOK, "office_sessions", p)
}

// staffSessionEnd lets the security administrator end one staff session.
func (o *Office) staffSessionEnd(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	if err := o.sh.Accounts.EndStaffSession(r.Context(), shell.Actor(r.Context()), r.PostFormValue("session")); err != nil {
		web.WriteError(w, r, err)
		return
	}
	o.sh.Flash(w, r, "/office/security/sessions", "session_ended")
}

// canDecide reports whether me may approve or reject q now (the service
// checks again): pending, neither proposed by me nor about my account, and
// proposed by an administrator of another role (三员分立).
func canDecide(me actor.Actor, q *account.AdminRequest) bool {
	return q.Status == "pending" && q.RequestedBy != me.UserID && q.UserID != me.UserID && !slices.Contains(me.Roles, q.RequesterRole)
}

// confirmAdminRequest shows what approving a request does before it is
// done, and reports true; when the viewer cannot approve it now, it shows
// nothing and the service answers with its refusal.
func (o *Office) confirmAdminRequest(w http.ResponseWriter, r *http.Request, id int64) bool {
	me := shell.Actor(r.Context())
	reqs, err := o.sh.Accounts.AdminRequests(r.Context(), me, 200)
	if err != nil {
		return false
	}
	for _, q := range reqs {
		if q.ID != id || !canDecide(me, q) {
			continue
		}
		what := account.AdminActionName(q.Action)
		effects := []string{"立即对账号 " + q.UserLogin + "（" + q.UserName + "）执行“" + what + "”。"}
		if q.Action == "reset_password" {
			effects = append(effects, "原密码立即失效；新的一次性密码只发送到该账号本人的电子邮箱。")
		}
		effects = append(effects, "审批结论记入审计日志，不能撤回。")
		o.confirm(w, r, "确认批准", ui.Confirm{Heading: "确认批准申请 " + strconv.FormatInt(id, 10) + "？",
			Lead:    q.RequesterLogin + "（" + account.RoleName(q.RequesterRole) + "）申请：" + what + "。理由：" + q.Reason,
			Effects: effects, Action: "/office/admin-requests/" + strconv.FormatInt(id, 10) + "/approve", Carry: ui.Carry(r.PostForm),
			Button: "确认批准", Cancel: "/office/admin-requests"})
		return true
	}
	return false
}
