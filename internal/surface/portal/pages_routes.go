package portal

import (
	"net/http"
	"strconv"

	"jifen/internal/account"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/web"
	"jifen/internal/round"
	"jifen/internal/surface/shell"
	"jifen/internal/surface/ui"
)

// registerPages adds the pages of applicants and employers. Each action is
// the JSON API's action as a form, on the same services with the same
// validation; every form posts to its own origin and works without
// JavaScript.
func (p *Portal) registerPages(mux *web.Mux) {
	sh := p.sh
	user := func(h http.HandlerFunc) http.Handler { return sh.RequireUser("", h) }
	mux.HandleFunc("GET /register/applicant", p.registerApplicantPage)
	mux.Handle("POST /register/applicant", sh.Limiter.Limit(http.HandlerFunc(p.registerApplicantSubmit)))
	mux.HandleFunc("GET /register/employer", p.registerEmployerPage)
	mux.Handle("POST /register/employer", sh.Limiter.Limit(http.HandlerFunc(p.registerEmployerSubmit)))
	mux.HandleFunc("GET /register/done", p.registeredPage)
	mux.HandleFunc("GET /privacy", p.privacyPage)
	mux.Handle("GET /dashboard", user(p.dashboard))

	mux.Handle("GET /me", user(p.mePage))
	mux.Handle("POST /me/link", user(p.meLink))
	mux.Handle("POST /me/application", user(p.meOpen))
	mux.Handle("GET /me/application/submit", user(p.submitPage))
	mux.Handle("POST /me/application/submit", user(p.submitPost))
	mux.Handle("POST /me/application/carried", user(p.carriedConfirm))
	mux.Handle("POST /me/application/precheck", user(p.precheckPost))
	mux.Handle("POST /me/application/precheck/withdraw", user(p.precheckWithdraw))
	mux.Handle("POST /me/application/precheck/take", user(p.precheckTake))
	mux.Handle("GET /me/application/precheck/progress", user(p.precheckProgress))
	mux.Handle("GET /me/application/{section}", user(p.sectionPage))
	mux.Handle("POST /me/application/{section}", user(p.sectionPost))
	mux.Handle("POST /me/application/{section}/estimate", user(p.sectionEstimate))
	mux.AllowBody("POST /me/application/{section}/estimate", calcBodyLimit)
	mux.Handle("POST /me/application/attachments", user(p.attachmentUpload))
	mux.AllowBody("POST /me/application/attachments", uploadLimit)
	mux.Handle("GET /me/application/attachments/{att}", user(p.attachmentDownload))
	mux.Handle("POST /me/application/attachments/{att}/remove", user(p.attachmentRemove))
	mux.Handle("GET /me/review", user(p.reviewPage))
	mux.Handle("POST /me/review", user(p.reviewPost))

	mux.Handle("GET /employer", user(p.employerPage))
	mux.Handle("GET /employer/reg-code", user(p.regCodePage))
	mux.Handle("POST /employer/reg-code", user(p.regCodePost))
	mux.Handle("GET /employer/links", user(p.linksPage))
	mux.Handle("POST /employer/links/{id}/{action}", user(p.linkPost))
	mux.Handle("GET /employer/applications", user(p.appsPage))
	mux.Handle("POST /employer/applications/file", user(p.appsFile))
	mux.Handle("GET /employer/applications/{id}", user(p.appPage))
	mux.Handle("POST /employer/applications/{id}/{action}", user(p.appPost))
	mux.Handle("GET /employer/applications/{id}/attachments/{att}", user(p.appAttachment))
	p.registerOperatorPages(mux)
	p.registerCorrections(mux)
	p.registerViews(mux)
}

// page is the base page of the portal.
func (p *Portal) page(r *http.Request, title string) *ui.Page {
	return p.sh.Page(r, title)
}

// shownOnPage reports whether a page shows err beside its form, because the
// person can do something about it: a field to correct, a window or a state
// that forbids the action now, a file too large. Anything else gets the
// error page (and internal causes are logged there).
func shownOnPage(err error) bool {
	if web.IsTooLarge(err) {
		return true
	}
	switch apperr.CodeOf(err) {
	case apperr.Invalid, apperr.Conflict, apperr.TooLarge:
		return true
	}
	return false
}

// statusOf is the HTTP status of an error shown on a page.
func statusOf(err error) int {
	if web.IsTooLarge(err) {
		return http.StatusRequestEntityTooLarge
	}
	return web.Status(err)
}

// readForm reads a url-encoded form of at most limit bytes; on failure it
// answers and returns false.
func readForm(w http.ResponseWriter, r *http.Request, limit int64) bool {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if err := r.ParseForm(); err != nil {
		if !web.IsTooLarge(err) {
			err = apperr.Field("body", "表单内容无法读取，请返回后重新填写")
		}
		web.WriteError(w, r, err)
		return false
	}
	return true
}

// formLimit bounds the small forms of the case pages (a reason, a code).
const formLimit = 16 << 10

// pathInt reads a numeric path value; ok is false for anything else.
func pathInt(r *http.Request, name string) (int64, bool) {
	n, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	return n, err == nil && n > 0
}

// dashboardView is the landing page of a logged-in person: the round and
// the one next step of their role.
type dashboardView struct {
	Round    *RoundView
	Status   *caseStatus
	Href     string // where the person's work is
	HrefText string
	// Corrections counts the applicant's open requests for material.
	Corrections int
}

// dashboard sends a logged-in person to their work: the round as it stands,
// their case's status and next step, and the link to their pages. The home
// page may render it for logged-in users (shell.User not nil).
func (p *Portal) dashboard(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	pg := p.page(r, "办理首页")
	v := dashboardView{}
	rv, err := CurrentRoundView(ctx, p.sh.Rounds, p.sh.Clock.Now())
	if err != nil && !round.IsNotFound(err) {
		web.WriteError(w, r, err)
		return
	}
	v.Round = rv
	u := shell.User(ctx)
	switch {
	case u.HasRole(account.Applicant):
		c, err := p.applicant(r)
		if err != nil {
			web.WriteError(w, r, err)
			return
		}
		d, err := p.loadCase(r, c)
		if err != nil {
			web.WriteError(w, r, err)
			return
		}
		st := d.status()
		v.Status, v.Href, v.HrefText = &st, "/me", "进入我的申请"
		v.Corrections = p.openCorrections(r, c)
	case u.HasRole(account.EmployerOperator):
		c, err := p.operator(r)
		if err != nil {
			web.WriteError(w, r, err)
			return
		}
		st := p.employerStatus(r, c)
		v.Status, v.Href, v.HrefText = &st, "/employer", "进入单位首页"
	default:
		web.Redirect(w, r, "/account")
		return
	}
	pg.Data = v
	p.sh.Render(w, r, http.StatusOK, "portal_dashboard", pg)
}
