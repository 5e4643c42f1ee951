package office

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"jifen/internal/account"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/sheet"
	"jifen/internal/platform/web"
	"jifen/internal/settings"
	"jifen/internal/surface/shell"
)

// registerPermissions adds the security administrator's permission
// management (权限开通、变更、撤销), the periodic access review, the hand-over
// export, and the history of settings with its two-person approval.
func (o *Office) registerPermissions(mux *web.Mux) {
	sh := o.sh
	mux.Handle("GET /office/security/roles", sh.RequireUser(account.PermRolesManage, o.roles))
	mux.Handle("POST /office/security/roles/request", sh.RequireUser(account.PermRolesManage, o.roleRequest))
	mux.Handle("POST /office/security/roles/{id}/{decision}", sh.RequireUser(account.PermRolesManage, o.roleDecide))
	mux.Handle("GET /office/security/access-review", sh.RequireUser(account.PermRolesManage, o.accessReview))
	mux.Handle("GET /office/security/requests.xlsx", sh.RequireUser(account.PermRolesManage, o.requestsExcel))
	mux.Handle("GET /office/security/settings/history", sh.RequireUser(account.PermSecurityManage, o.settingsHistory))
	mux.Handle("POST /office/security/settings/changes/{id}/{decision}", sh.RequireUser(account.PermSecurityManage, o.settingsDecide))
	mux.Handle("GET /office/admin/settings/history", sh.RequireUser(account.PermConfigManage, o.settingsHistory))
	mux.Handle("POST /office/admin/settings/changes/{id}/{decision}", sh.RequireUser(account.PermConfigManage, o.settingsDecide))
}

// requestRow is a permission request as the pages show it.
type requestRow struct {
	*account.RoleRequest
	KindName, StatusName, RoleName, FromRoleName string
	CanReview, CanApprove, CanRefuse             bool
}

func newRequestRow(q *account.RoleRequest, me int64) requestRow {
	row := requestRow{RoleRequest: q, KindName: account.KindName(q.Action), StatusName: account.StatusName(q.Status)}
	if q.Role != "" {
		row.RoleName = account.RoleName(q.Role)
	}
	if q.FromRole != "" {
		row.FromRoleName = account.RoleName(q.FromRole)
	}
	row.CanReview = q.AwaitsReview() && q.UserID != me
	row.CanApprove = q.MayApprove(me)
	row.CanRefuse = q.AwaitsApproval() && q.ReviewedBy != me && q.UserID != me
	return row
}

type rolesView struct {
	Requests   []requestRow
	Staff      []*account.User
	Roles      []account.RoleInfo
	Me         int64
	SingleMode bool
	From, To   string // the hand-over export's default period: this month
}

func (o *Office) roles(w http.ResponseWriter, r *http.Request) {
	o.renderRoles(w, r, http.StatusOK, nil, nil)
}

func (o *Office) renderRoles(w http.ResponseWriter, r *http.Request, status int, err error, form map[string]string) {
	me := shell.Actor(r.Context())
	reqs, rerr := o.sh.Accounts.RoleRequests(r.Context(), me, 200)
	if rerr != nil {
		web.WriteError(w, r, rerr)
		return
	}
	staff, rerr := o.sh.Accounts.ListUsers(r.Context(), account.UserFilter{Zone: account.Office, Search: r.URL.Query().Get("q"), Limit: 500})
	if rerr != nil {
		web.WriteError(w, r, rerr)
		return
	}
	n, _ := o.sh.Accounts.CountActiveWithRole(r.Context(), account.SecurityAdmin)
	today := o.sh.Clock.Now().In(clock.Beijing)
	v := rolesView{Staff: staff, Me: me.UserID, SingleMode: n <= 1,
		From: today.AddDate(0, 0, 1-today.Day()).Format("2006-01-02"), To: today.Format("2006-01-02")}
	for _, q := range reqs {
		v.Requests = append(v.Requests, newRequestRow(q, me.UserID))
	}
	for _, ri := range account.Roles {
		if ri.Zone == account.Office {
			v.Roles = append(v.Roles, ri)
		}
	}
	p := o.sh.Page(r, "权限管理")
	for k, val := range form {
		p.Form[k] = val
	}
	if err != nil {
		p.SetError(err)
	}
	p.Data = v
	o.sh.Render(w, r, status, "office_roles", p)
}

func (o *Office) roleRequest(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	form := map[string]string{}
	for _, k := range []string{"user_id", "kind", "role", "from_role", "form_no", "reason", "emergency"} {
		form[k] = strings.TrimSpace(r.PostFormValue(k))
	}
	uid, _ := strconv.ParseInt(form["user_id"], 10, 64)
	if uid == 0 {
		o.renderRoles(w, r, http.StatusBadRequest, apperr.Field("user", "请选择工作人员账号"), form)
		return
	}
	req, err := o.sh.Accounts.SubmitRoleRequest(r.Context(), shell.Actor(r.Context()), account.RoleRequestInput{
		UserID: uid, Kind: form["kind"], Role: account.Role(form["role"]), FromRole: account.Role(form["from_role"]),
		Reason: form["reason"], FormNo: form["form_no"], Emergency: form["emergency"] != ""})
	if err != nil {
		o.renderRoles(w, r, web.Status(err), err, form)
		return
	}
	flash := "requested"
	switch req.Status {
	case account.StatusAppliedSingle:
		flash = "granted"
	case account.StatusAppliedPendingReview:
		flash = "emergency_revoked"
	}
	o.sh.Flash(w, r, "/office/security/roles", flash)
}

// roleDecide is both steps: pass or refuse at review, approve or reject at
// approval. The form carries the version the page showed, so a decision on
// a request someone else has moved on since is refused.
func (o *Office) roleDecide(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	_ = r.ParseForm()
	version, _ := strconv.Atoi(r.PostFormValue("version"))
	note, me := r.PostFormValue("reason"), shell.Actor(r.Context())
	var flash string
	switch r.PathValue("decision") {
	case "pass":
		err, flash = o.sh.Accounts.ReviewRoleRequest(r.Context(), me, id, version, true, note), "reviewed"
	case "refuse":
		err, flash = o.sh.Accounts.ReviewRoleRequest(r.Context(), me, id, version, false, note), "rejected"
	case "approve":
		err, flash = o.sh.Accounts.ApproveRoleRequest(r.Context(), me, id, version, true, note), "approved"
	case "reject":
		err, flash = o.sh.Accounts.ApproveRoleRequest(r.Context(), me, id, version, false, note), "rejected"
	default:
		web.NotFound(w, r)
		return
	}
	if err != nil {
		o.renderRoles(w, r, web.Status(err), err, nil)
		return
	}
	o.sh.Flash(w, r, "/office/security/roles", flash)
}

type accessRow struct {
	account.AccessRow
	RoleNames []string
}

type accessView struct {
	Rows   []accessRow
	Unused int
}

func (o *Office) accessReview(w http.ResponseWriter, r *http.Request) {
	rows, err := o.sh.Accounts.AccessReview(r.Context(), shell.Actor(r.Context()))
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	var v accessView
	for _, row := range rows {
		ar := accessRow{AccessRow: row}
		for _, role := range row.User.Roles {
			ar.RoleNames = append(ar.RoleNames, account.RoleName(role))
		}
		if row.Unused {
			v.Unused++
		}
		v.Rows = append(v.Rows, ar)
	}
	p := o.sh.Page(r, "定期权限复核")
	p.Data = v
	o.sh.Render(w, r, http.StatusOK, "office_access_review", p)
}

// requestsHeader is the hand-over list's columns (阶段性移交).
var requestsHeader = []sheet.Column{
	{Header: "编号", Format: "int"}, {Header: "单据编号"}, {Header: "类型"}, {Header: "账号"}, {Header: "角色"},
	{Header: "原角色"}, {Header: "紧急"}, {Header: "理由"}, {Header: "申请人"}, {Header: "申请时间"}, {Header: "审核人"},
	{Header: "审核时间"}, {Header: "审核意见"}, {Header: "审批人"}, {Header: "审批时间"}, {Header: "审批意见"}, {Header: "状态"},
}

func beijingDay(s string) (time.Time, error) {
	return time.ParseInLocation("2006-01-02", s, clock.Beijing)
}

func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(clock.Beijing).Format("2006-01-02 15:04")
}

// requestsExcel exports every request filed in a period, both days
// included, for the periodic hand-over of the paper forms.
func (o *Office) requestsExcel(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var fe []apperr.FieldError
	from, err := beijingDay(q.Get("from"))
	if err != nil {
		fe = append(fe, apperr.FieldError{Field: "from", Message: "开始日期格式应为 2026-01-01"})
	}
	to, err := beijingDay(q.Get("to"))
	if err != nil {
		fe = append(fe, apperr.FieldError{Field: "to", Message: "结束日期格式应为 2026-01-31"})
	} else if to.Before(from) {
		fe = append(fe, apperr.FieldError{Field: "to", Message: "结束日期不能早于开始日期"})
	}
	if err := apperr.Fields(fe); err != nil {
		web.WriteError(w, r, err)
		return
	}
	reqs, err := o.sh.Accounts.RoleRequestsFiled(r.Context(), shell.Actor(r.Context()), from, to.AddDate(0, 0, 1))
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	rows := make([][]any, 0, len(reqs))
	for _, x := range reqs {
		requester := x.RequesterLogin
		if x.RequestedBy == 0 {
			requester = "系统（定期复核）"
		}
		emergency := ""
		if x.Emergency {
			emergency = "是"
		}
		row := newRequestRow(x, 0)
		rows = append(rows, []any{x.ID, x.FormNo, row.KindName, x.UserLogin, row.RoleName, row.FromRoleName, emergency, x.Reason,
			requester, when(x.RequestedAt), x.ReviewerLogin, when(x.ReviewedAt), x.ReviewNote, x.DeciderLogin, when(x.DecidedAt),
			x.DecisionReason, row.StatusName})
	}
	var b bytes.Buffer
	note := fmt.Sprintf("权限申请移交清单：%s 至 %s（北京时间），共 %d 条。", q.Get("from"), q.Get("to"), len(rows))
	if err := sheet.WriteTable(&b, "权限申请", requestsHeader, rows, note); err != nil {
		web.WriteError(w, r, apperr.Wrap(err))
		return
	}
	download(w, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		fmt.Sprintf("permission-requests-%s-%s.xlsx", q.Get("from"), q.Get("to")), b.Bytes())
}

type historyView struct {
	Title   string
	Back    string
	Decide  string // the decision routes' prefix
	Changes []*settings.Change
	Me      int64
}

func (o *Office) settingsHistory(w http.ResponseWriter, r *http.Request) {
	o.renderHistory(w, r, http.StatusOK, nil)
}

func (o *Office) renderHistory(w http.ResponseWriter, r *http.Request, status int, err error) {
	owner, title, action := settingsOwner(r)
	me := shell.Actor(r.Context())
	hist, herr := o.sh.Settings.History(r.Context(), me, owner, 500)
	if herr != nil {
		web.WriteError(w, r, herr)
		return
	}
	p := o.sh.Page(r, title+"修改记录")
	if err != nil {
		p.SetError(err)
	}
	p.Data = historyView{Title: title, Back: action, Decide: action + "/changes/", Changes: hist, Me: me.UserID}
	o.sh.Render(w, r, status, "office_settings_history", p)
}

func (o *Office) settingsDecide(w http.ResponseWriter, r *http.Request) {
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
	if err := o.sh.Settings.DecideChange(r.Context(), shell.Actor(r.Context()), id, d == "approve", r.PostFormValue("reason")); err != nil {
		o.renderHistory(w, r, web.Status(err), err)
		return
	}
	_, _, action := settingsOwner(r)
	o.sh.Flash(w, r, action+"/history", map[string]string{"approve": "approved", "reject": "rejected"}[d])
}
