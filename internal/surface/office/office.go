// Package office is the government-network surface (业务经办系统): officers'
// work and the operations pages of the three administrators. It is served
// only on the office listener, under /office/.
package office

import (
	"net/http"
	"strconv"
	"strings"

	"jifen/internal/agencyops"
	"jifen/internal/application"
	"jifen/internal/check"
	"jifen/internal/discrepancy"
	"jifen/internal/employer"
	"jifen/internal/person"
	"jifen/internal/platform/mail"

	"jifen/internal/account"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/web"
	"jifen/internal/surface/shell"
	"jifen/internal/surface/ui"
)

// Office holds the office surface's handlers.
type Office struct {
	sh     *shell.Shell
	emp    *employer.Service
	apps   *application.Service
	outbox *mail.Outbox
	smtp   string // the SMTP server mail goes to, "" when none is configured
	check  *check.Engine
	disc   *discrepancy.Service
	// persons reveals an applicant's full ID number (set by WithPersons).
	persons *person.Service

	agencies *agencyops.Service // set by WithAgencies
	queues   []QueueSource      // set by WithQueues
}

// New returns the office on the office shell.
func New(sh *shell.Shell, emp *employer.Service, apps *application.Service, outbox *mail.Outbox, smtp string) *Office {
	o := &Office{sh: sh, emp: emp, apps: apps, outbox: outbox, smtp: smtp}
	sh.Nav = o.nav
	return o
}

// Register adds the office routes.
func (o *Office) Register(mux *web.Mux) {
	sh := o.sh
	sh.Register(mux)
	mux.Handle("GET /static/", ui.Static())
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { web.Redirect(w, r, "/office/") })
	mux.Handle("GET /office/{$}", sh.RequireUser("", o.home))

	mux.Handle("GET /office/admin/users", sh.RequireUser(account.PermUsersView, o.users))
	mux.Handle("GET /office/admin/users/new", sh.RequireUser(account.PermUsersManage, o.userNew))
	mux.Handle("POST /office/admin/users/new", sh.RequireUser(account.PermUsersManage, o.userCreate))
	mux.Handle("POST /office/admin/users/{id}/{action}", sh.RequireUser(account.PermUsersManage, o.userAction))
	mux.Handle("GET /office/admin/users/{id}/request", sh.RequireUser(account.PermUsersManage, o.userRequestPage))
	// Any of the three administrators; the domain checks the role.
	mux.Handle("GET /office/admin-requests", sh.RequireUser(account.PermOfficeHome, o.adminRequests))
	mux.Handle("POST /office/admin-requests/{id}/{decision}", sh.RequireUser(account.PermOfficeHome, o.adminRequestDecide))
	mux.Handle("GET /office/admin/settings", sh.RequireUser(account.PermConfigManage, o.settingsPage))
	mux.Handle("POST /office/admin/settings", sh.RequireUser(account.PermConfigManage, o.settingsSave))

	mux.Handle("GET /office/security/settings", sh.RequireUser(account.PermSecurityManage, o.settingsPage))
	mux.Handle("POST /office/security/settings", sh.RequireUser(account.PermSecurityManage, o.settingsSave))
	mux.Handle("GET /office/security/roles", sh.RequireUser(account.PermRolesManage, o.roles))
	mux.Handle("POST /office/security/roles/grant", sh.RequireUser(account.PermRolesManage, o.roleGrant))
	mux.Handle("POST /office/security/roles/revoke", sh.RequireUser(account.PermRolesManage, o.roleRevoke))
	mux.Handle("POST /office/security/roles/{id}/{decision}", sh.RequireUser(account.PermRolesManage, o.roleDecide))
	mux.Handle("GET /office/security/sessions", sh.RequireUser(account.PermSecurityManage, o.staffSessions))
	mux.Handle("POST /office/security/sessions/end", sh.RequireUser(account.PermSecurityManage, o.staffSessionEnd))

	mux.Handle("GET /office/audit", sh.RequireUser(account.PermAuditRead, o.auditPage))
	mux.Handle("GET /office/audit/export.csv", sh.RequireUser(account.PermAuditExport, o.auditExport))
	o.registerRounds(mux)
	o.registerEmployers(mux)
	o.registerMail(mux)
	o.registerReviews(mux)
	o.registerCheck(mux)
	o.registerDiscrepancies(mux)
	o.registerAgencies(mux)
}

func (o *Office) nav(u *account.User, path string) []ui.Nav {
	items := []ui.Nav{{Href: "/office/", Label: "工作台"}}
	add := func(p account.Permission, href, label string) {
		if u.Can(p) {
			items = append(items, ui.Nav{Href: href, Label: label})
		}
	}
	add(account.PermRoundsManage, "/office/rounds", "年度批次")
	add(account.PermCasesDistrict, "/office/employers", "单位核验")
	add(account.PermCasesDistrict, "/office/reviews", "复查申请")
	if o.check != nil {
		add(account.PermCheckMonitor, "/office/check", "业务比对")
	}
	add(account.PermCasesDistrict, "/office/discrepancies", "比对差异")
	add(account.PermUsersView, "/office/admin/users", "账号管理")
	add(account.PermConfigManage, "/office/admin/settings", "系统配置")
	add(account.PermConfigManage, "/office/ops/mail", "邮件日志")
	add(account.PermCheckMonitor, "/office/agencies", "委办局接口")
	add(account.PermCheckMonitor, "/office/calls", "比对接口日志")
	add(account.PermCheckMonitor, "/office/inspection", "日巡检报告")
	add(account.PermRolesManage, "/office/security/roles", "角色授权")
	add(account.PermSecurityManage, "/office/security/settings", "安全参数")
	add(account.PermSecurityManage, "/office/security/sessions", "在线会话")
	if u.IsAdmin() {
		items = append(items, ui.Nav{Href: "/office/admin-requests", Label: "管理员账号审批"})
	}
	add(account.PermAuditRead, "/office/audit", "审计日志")
	items = append(items, ui.Nav{Href: "/office/account", Label: "账号与安全"})
	for i := range items {
		items[i].Current = items[i].Href == path || (items[i].Href != "/office/" && strings.HasPrefix(path, items[i].Href))
	}
	return items
}

type homeView struct {
	User  *account.User
	Roles []string
	Tiles []ui.Nav
	// AgencyAlerts names the agencies that are down or slow (for check.monitor).
	AgencyAlerts []string
}

func (o *Office) home(w http.ResponseWriter, r *http.Request) {
	u := shell.User(r.Context())
	p := o.sh.Page(r, "工作台")
	v := homeView{User: u}
	for _, ro := range u.Roles {
		v.Roles = append(v.Roles, account.RoleName(ro))
	}
	v.Tiles = append(v.Tiles, p.Nav[1:]...)
	v.AgencyAlerts = o.agencyBanner(r)
	p.Data = v
	o.sh.Render(w, r, http.StatusOK, "office_home", p)
}

// pathID parses a numeric path value; a bad one is a 404, like an unknown id.
func pathID(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, apperr.New(apperr.NotFound, "您访问的记录不存在")
	}
	return id, nil
}

// confirm shows the step before an action that cannot be undone; nothing
// has changed yet.
func (o *Office) confirm(w http.ResponseWriter, r *http.Request, title string, c ui.Confirm) {
	p := o.sh.Page(r, title)
	p.Data = c
	o.sh.Render(w, r, http.StatusOK, "confirm", p)
}
