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
	"jifen/internal/calendar"
	"jifen/internal/casefile"
	"jifen/internal/casework"
	"jifen/internal/check"
	"jifen/internal/discrepancy"
	"jifen/internal/employer"
	"jifen/internal/fraud"
	"jifen/internal/mailing"
	"jifen/internal/objection"
	"jifen/internal/person"
	"jifen/internal/platform/mail"
	"jifen/internal/publicity"
	"jifen/internal/ranking"
	"jifen/internal/review"
	"jifen/internal/settlement"

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

	fraud     *fraud.Service       // set by WithFraud
	agencies  *agencyops.Service   // set by WithAgencies
	review    *review.Service      // set by WithReview
	queues    []QueueSource        // set by WithQueues
	cases     *casefile.Service    // set by WithCasefile
	ranking   *ranking.Service     // set by WithRanking
	publisher *publicity.Publisher // set by WithPublisher
	// campaigns and mailCatalog are the mass mail (set by WithCampaigns).
	campaigns   *mailing.Campaigns
	mailCatalog MailCatalog
	// objections holds objections to published lists (set by WithObjections).
	objections *objection.Service

	settlement *settlement.Service // set by WithSettlement
	mailing    *mailing.Lists      // set by WithMailing

	cw  *casework.Service // set by WithCasework
	cal *calendar.Service // set by WithCasework
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
	o.registerPermissions(mux)
	mux.Handle("GET /office/security/sessions", sh.RequireUser(account.PermSecurityManage, o.staffSessions))
	mux.Handle("POST /office/security/sessions/end", sh.RequireUser(account.PermSecurityManage, o.staffSessionEnd))

	mux.Handle("GET /office/audit", sh.RequireUser(account.PermAuditRead, o.auditPage))
	mux.Handle("GET /office/audit/export.csv", sh.RequireUser(account.PermAuditExport, o.auditExport))
	o.registerRounds(mux)
	o.registerEmployers(mux)
	o.registerMail(mux)
	o.registerReviewDecide(mux)
	o.registerReviews(mux)
	o.registerCheck(mux)
	o.registerDiscrepancies(mux)
	o.registerAgencies(mux)
	o.registerCases(mux)
	o.registerRanking(mux)
	o.registerSettlement(mux)
	o.registerCampaigns(mux)
	o.registerFraud(mux)
	o.registerObjections(mux)
	o.registerCasework(mux)
	o.registerMailing(mux)
}

func (o *Office) nav(u *account.User, path string) []ui.Nav {
	items := []ui.Nav{{Href: "/office/", Label: "工作台"}}
	add := func(p account.Permission, href, label string) {
		if u.Can(p) {
			items = append(items, ui.Nav{Href: href, Label: label})
		}
	}
	if o.cw != nil {
		add(account.PermCasesDistrict, "/office/queue", "案件工作台")
		add(account.PermCasesAssign, "/office/workload", "经办工作量")
		add(account.PermRoundsManage, "/office/calendar", "工作日历")
	}
	add(account.PermRoundsManage, "/office/rounds", "年度批次")
	add(account.PermCasesDistrict, "/office/employers", "单位核验")
	add(account.PermCasesDistrict, "/office/reviews", "复查申请")
	if o.check != nil {
		add(account.PermCheckMonitor, "/office/check", "业务比对")
	}
	add(account.PermCasesDistrict, "/office/discrepancies", "比对差异")
	add(account.PermCasesDistrict, "/office/statistics", "申报统计")
	if o.fraud != nil {
		add(account.PermCasesDistrict, "/office/fraud", "虚假材料库")
	}
	if o.objections != nil {
		add(account.PermCasesCity, "/office/objections", "异议处理")
	}
	if o.mailing != nil {
		add(account.PermMailSend, "/office/mail/campaigns", "群发活动")
		add(account.PermMailSend, "/office/mail/lists", "邮件名单")
		add(account.PermMailSend, "/office/mail/templates", "邮件模板")
		add(account.PermMailSend, "/office/mail/suppressions", "屏蔽名单")
	}
	add(account.PermUsersView, "/office/admin/users", "账号管理")
	add(account.PermConfigManage, "/office/admin/settings", "系统配置")
	add(account.PermConfigManage, "/office/ops/mail", "邮件日志")
	add(account.PermConfigManage, "/office/ops/monitor", "运行监控")
	add(account.PermConfigManage, "/office/ops/faults", "故障记录")
	add(account.PermConfigManage, "/office/ops/logs", "日志巡检")
	add(account.PermCheckMonitor, "/office/agencies", "委办局接口")
	add(account.PermCheckMonitor, "/office/calls", "比对接口日志")
	add(account.PermCheckMonitor, "/office/inspection", "日巡检报告")
	add(account.PermCheckMonitor, "/office/stats", "访问统计")
	add(account.PermCasesDistrict, "/office/reports", "统计报表")
	add(account.PermRolesManage, "/office/security/roles", "权限管理")
	add(account.PermRolesManage, "/office/security/access-review", "权限复核")
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
	Todos []todo // the role's work waiting, with links to the queues
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
	v.Todos = o.todos(r, v.AgencyAlerts)
	p.Data = v
	o.sh.Render(w, r, http.StatusOK, "office_home", p)
}

// todo is one count of work waiting on the 工作台.
type todo struct {
	Label, Href, Hint string
	N                 int
	More              bool // N is a lower bound: the queue holds more
	Urgent            bool // overdue or an agency down: shown as a warning
}

// todoCap bounds each count: the 工作台 says "100+" rather than counting a
// long queue on every visit.
const todoCap = 100

// todos counts the work waiting for the user's roles: in a district
// officer's own district, city-wide for the city bureau. A count that
// cannot be read is left out (the queue's own page shows the error).
func (o *Office) todos(r *http.Request, alerts []string) []todo {
	ctx := r.Context()
	u := shell.Actor(ctx)
	var out []todo
	logErr := func(what string, err error) {
		o.sh.Log.Error("office home: "+what, "err", err, "request_id", web.RequestID(ctx))
	}
	if u.Can(account.PermCasesDistrict) {
		d, _ := officerDistrict(u)
		if o.disc != nil {
			if pg, err := o.disc.List(ctx, u, discrepancy.Filter{Status: discrepancy.Open}); err != nil {
				logErr("discrepancies", err)
			} else {
				out = append(out,
					todo{Label: "待处理的比对差异", Href: "/office/discrepancies?status=open", N: pg.Counts[discrepancy.Open],
						Hint: "确认以比对结果为准、要求补充材料或提出更正"},
					todo{Label: "申请人已补充材料", Href: "/office/discrepancies?status=material_received", N: pg.Counts[discrepancy.MaterialReceived],
						Hint: "审核补充材料后处理"},
					todo{Label: "更正待审批", Href: "/office/discrepancies?status=override_pending", N: pg.Counts[discrepancy.OverridePending],
						Hint: "须由提出人以外的经办人员审批"})
			}
			if pg, err := o.disc.List(ctx, u, discrepancy.Filter{Overdue: true}); err != nil {
				logErr("overdue", err)
			} else {
				out = append(out, todo{Label: "补充材料已逾期", Href: "/office/discrepancies?status=material_requested&overdue=1",
					N: len(pg.Items), More: pg.Next, Urgent: len(pg.Items) > 0, Hint: "申请人未在截止日期前补充材料"})
			}
		}
		if o.fraud != nil {
			if l, err := o.fraud.List(ctx, u, fraud.Filter{Status: fraud.Pending}); err != nil {
				logErr("fraud register", err)
			} else {
				out = append(out, todo{Label: "虚假材料库记录待审批", Href: "/office/fraud?status=pending", N: l.Counts[fraud.Pending],
					Hint: "须由登记人以外的经办人员审批"})
			}
		}
		if n, err := o.apps.CountForwardedReviews(ctx, d, todoCap+1); err != nil {
			logErr("reviews", err)
		} else {
			out = append(out, capped(todo{Label: "待接收的复查申请", Href: "/office/reviews", Hint: "单位已转交，请接收证明材料"}, n))
		}
		if o.review != nil {
			out = append(out, o.reviewTodos(r)...)
		}
		out = append(out, o.caseTodos(r)...)
		if list, err := o.emp.List(ctx, employer.Filter{Status: employer.Pending, District: d, Limit: todoCap + 1}); err != nil {
			logErr("employers", err)
		} else {
			out = append(out, capped(todo{Label: "待核验的用人单位", Href: "/office/employers?status=pending", Hint: "核验单位信息后生成单位注册码"}, len(list)))
		}
	}
	if shell.User(ctx).IsAdmin() {
		if reqs, err := o.sh.Accounts.AdminRequests(ctx, u, 200); err != nil {
			logErr("admin requests", err)
		} else {
			n := 0
			for _, q := range reqs {
				if canDecide(u, q) {
					n++
				}
			}
			out = append(out, todo{Label: "待审批的管理员账号操作", Href: "/office/admin-requests", N: n,
				Hint: "由其他角色的管理员提出的重置或停用"})
		}
	}
	if u.Can(account.PermRolesManage) {
		if reqs, err := o.sh.Accounts.RoleRequests(ctx, u, 200); err != nil {
			logErr("role requests", err)
		} else {
			n := 0
			for _, q := range reqs {
				if q.AwaitsReview() || q.MayApprove(u.UserID) {
					n++
				}
			}
			out = append(out, todo{Label: "待审核、审批的权限申请", Href: "/office/security/roles", N: n,
				Hint: "权限开通、变更、撤销和停用申请，须由两名安全管理员审核、审批"})
		}
	}
	if u.Can(account.PermCheckMonitor) && o.agencies != nil {
		out = append(out, todo{Label: "委办局接口异常", Href: "/office/agencies", N: len(alerts), Urgent: len(alerts) > 0,
			Hint: strings.Join(alerts, "、")})
	}
	return out
}

// capped sets a count read with a limit of todoCap+1.
func capped(t todo, n int) todo {
	t.N, t.More = min(n, todoCap), n > todoCap
	return t
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
