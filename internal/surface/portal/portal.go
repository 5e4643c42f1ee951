// Package portal is the internet surface of applicants and employers
// (互联网申报系统) and the public calculator. It never serves an /office/
// path: those answer 404 here whatever is asked.
package portal

import (
	"net/http"
	"strings"
	"sync/atomic"

	"jifen/internal/account"
	"jifen/internal/platform/web"
	"jifen/internal/surface/shell"
	"jifen/internal/surface/ui"
)

// Portal holds the internet surface's handlers.
type Portal struct {
	sh  *shell.Shell
	svc Services
	// calcForm is the calculator's default form, rendered once a year.
	calcForm atomic.Pointer[builtCalcForm]
	// shared keeps the rendered public list pages (publicity.go).
	shared sharedCache
	charts chartCache
}

// New returns the portal on the internet shell.
func New(sh *shell.Shell, svc Services) *Portal {
	p := &Portal{sh: sh, svc: svc}
	sh.Nav = p.nav
	return p
}

// Register adds the portal's routes.
func (p *Portal) Register(mux *web.Mux) {
	p.sh.Register(mux)
	mux.Handle("GET /static/", ui.Static())
	// The internet listener has no office: every such path is 404, whatever
	// the method, before any other route could match.
	mux.HandleFunc("/office", web.NotFound)
	mux.HandleFunc("/office/", web.NotFound)
	mux.HandleFunc("GET /{$}", p.home)
	p.registerCalculator(mux)
	p.registerApplicantAPI(mux)
	p.registerPrecheckAPI(mux)
	p.registerEmployerAPI(mux)
	p.registerClock(mux)
	p.registerPages(mux)
	p.registerReviewProgress(mux)
	p.registerPublicityHistory(mux)
	p.registerPublicity(mux)
	p.registerObjections(mux)
	p.registerUnsubscribe(mux)
}

func (p *Portal) nav(u *account.User, path string) []ui.Nav {
	items := []ui.Nav{{Href: "/", Label: "首页"}, {Href: "/calculator", Label: "积分自测"}}
	if p.svc.History != nil {
		items = append(items, ui.Nav{Href: "/publicity/history", Label: "历年公示"})
	}
	if u != nil {
		if u.HasRole(account.Applicant) {
			items = append(items, ui.Nav{Href: "/me", Label: "我的申请"})
		}
		if u.HasRole(account.EmployerOperator) {
			items = append(items, ui.Nav{Href: "/employer", Label: "单位首页"}, ui.Nav{Href: "/employer/links", Label: "关联申请"},
				ui.Nav{Href: "/employer/applications", Label: "申请审核"}, ui.Nav{Href: "/employer/operators", Label: "经办人"})
		}
		items = append(items, ui.Nav{Href: "/account", Label: "账号与安全"})
	}
	// The current item is the longest that is the path or a folder of it:
	// on /employer/links that is 关联申请, not 单位首页.
	cur := -1
	for i, it := range items {
		if (it.Href == path || it.Href != "/" && strings.HasPrefix(path, it.Href+"/")) &&
			(cur < 0 || len(it.Href) > len(items[cur].Href)) {
			cur = i
		}
	}
	if cur >= 0 {
		items[cur].Current = true
	}
	return items
}

type homeView struct {
	User  *account.User
	Round *RoundView // nil when no round is scheduled
}

func (p *Portal) home(w http.ResponseWriter, r *http.Request) {
	pg := p.sh.Page(r, "首页")
	v := homeView{User: shell.User(r.Context())}
	if p.sh.Rounds != nil {
		v.Round, _ = CurrentRoundView(r.Context(), p.sh.Rounds, p.sh.Clock.Now())
	}
	pg.Data = v
	p.sh.Render(w, r, http.StatusOK, "portal_home", pg)
}
