package office

import (
	"net/http"
	"slices"

	"jifen/internal/account"
	"jifen/internal/platform/web"
	"jifen/internal/surface/shell"
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
			CanDecide: q.Status == "pending" && q.RequestedBy != me.UserID && q.UserID != me.UserID &&
				!slices.Contains(me.Roles, q.RequesterRole)})
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
