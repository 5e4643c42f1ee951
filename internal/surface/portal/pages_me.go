package portal

import (
	"cmp"
	"context"
	"net/http"
	"strings"
	"time"

	"jifen/internal/check"
	"jifen/internal/ranking"

	"jifen/internal/application"
	"jifen/internal/person"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/web"
	"jifen/internal/round"
	"jifen/internal/rules"
	"jifen/internal/surface/ui"
)

// meView is the applicant's overview (我的申请): where the case stands,
// the employer link, the application's sections as a task list with the
// live estimate, and the timeline.
type meView struct {
	Clock     *application.StepClock // the service clock (clock.go)
	Person    *person.Person
	Round     *RoundView
	Status    caseStatus
	Links     []linkView
	CanLink   bool // no employer yet: the 单位注册码 form
	CanOpen   bool // linked, nothing filled in yet
	Count     int  // sections of the declaration
	App       *application.Application
	AppStatus string
	Sections  []sectionView
	Files     int
	Result    *rules.Result // the estimate's breakdown; nil while it cannot be scored
	Estimate  estimateFig   // the estimate's figure, the same on every page
	CanSubmit bool
	CanReview bool
	Events    []eventView
	Statement *check.Statement // the first-round result, once checked
	// Final is the final score once the application is final (after the
	// 复查 or without one). Rank, cutoff and qualification are not shown
	// before the ranking is published.
	Final *finalScore
}

type finalScore struct {
	Total    rules.Points
	Eligible bool
	// Excluded is why the applicant takes no part in the ranking: a ban of
	// the fraud register (虚假材料库) in the round's year; "" otherwise.
	Excluded string
	// Standing is the place in the published ranking, once the list's
	// notice period has begun (the application is published); nil before.
	Standing *ranking.Standing
	Year     int
}

// finalOf is the final score of a final application, with the ban that
// keeps it out of the ranking, if any.
func (p *Portal) finalOf(ctx context.Context, a *application.Application) (*finalScore, error) {
	score, eligible, _, err := p.svc.Applications.Score(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	banned, _, err := p.svc.Applications.Barred(ctx, a)
	if err != nil {
		return nil, err
	}
	f := &finalScore{Total: rules.Points(score), Eligible: eligible, Excluded: banned, Year: a.RoundYear}
	if a.Status == application.Published && p.svc.Standing != nil {
		if f.Standing, err = p.svc.Standing(ctx, a.ID); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// linkView is one request to link to an employer.
type linkView struct {
	Employer, Status, Badge, Reason string
	At                              time.Time
}

// caseOf is the logged-in applicant and their case; on failure it answers
// and returns false.
func (p *Portal) caseOf(w http.ResponseWriter, r *http.Request) (*applicantCtx, *caseData, bool) {
	c, err := p.applicant(r)
	if err != nil {
		web.WriteError(w, r, err)
		return nil, nil, false
	}
	d, err := p.loadCase(r, c)
	if err != nil {
		web.WriteError(w, r, err)
		return nil, nil, false
	}
	return c, d, true
}

func (p *Portal) mePage(w http.ResponseWriter, r *http.Request) {
	c, d, ok := p.caseOf(w, r)
	if !ok {
		return
	}
	p.renderMe(w, r, http.StatusOK, p.page(r, "我的申请"), c, d)
}

// renderMe shows the overview on pg, which may carry the error of a form
// of the page.
func (p *Portal) renderMe(w http.ResponseWriter, r *http.Request, status int, pg *ui.Page, c *applicantCtx, d *caseData) {
	ctx := r.Context()
	now := p.sh.Clock.Now()
	v := meView{Person: c.person, Status: d.status(), Count: len(sections)}
	if d.round != nil {
		v.Round = roundViewAt(d.round, now)
	}
	links, err := p.linksOf(ctx, c, d)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	confirmed, pending := false, false
	for _, l := range links {
		badge := map[person.LinkStatus]string{person.LinkConfirmed: "ok", person.LinkPending: "warn"}[l.Status]
		v.Links = append(v.Links, linkView{Employer: l.EmployerName, Status: person.LinkStatusName(l.Status),
			Badge: cmp.Or(badge, "err"), Reason: l.Reason, At: l.CreatedAt})
		confirmed = confirmed || l.Status == person.LinkConfirmed
		pending = pending || l.Status == person.LinkPending
	}
	v.CanLink = d.round != nil && d.app == nil && !confirmed && !pending
	v.CanOpen = d.app == nil && confirmed
	if a := d.app; a != nil {
		v.App, v.AppStatus = a, application.StatusName(a.Status)
		files, err := p.svc.Attachments.ListOf(ctx, c.caller, a)
		if err != nil {
			web.WriteError(w, r, err)
			return
		}
		es, err := p.svc.Applications.EventsOf(ctx, c.caller, a)
		if err != nil {
			web.WriteError(w, r, err)
			return
		}
		v.Files, v.Events = len(files), eventViews(es)
		v.Sections = sectionViews(a.Declaration, files, a.Status.Editable())
		v.Result, _ = estimateOf(a.Declaration)
		v.Estimate = estimateFigure(a.Declaration)
		v.CanSubmit = a.Status.Editable()
		v.Clock = p.clockOf(ctx, a)
		v.CanReview = a.Status == application.FirstResult && d.round.Open(round.Review, now)
		if p.svc.Statement != nil && a.Status != application.Checking {
			if v.Statement, err = p.svc.Statement(ctx, a.ID); err != nil {
				web.WriteError(w, r, err)
				return
			}
		}
		if a.Status == application.Final || a.Status == application.Published {
			if v.Final, err = p.finalOf(ctx, a); err != nil {
				web.WriteError(w, r, err)
				return
			}
		}
	}
	pg.Data = v
	p.sh.Render(w, r, status, "portal_me", pg)
}

// meLink asks to link to the employer of a 单位注册码, in the application
// window, as POST /api/v1/links does.
func (p *Portal) meLink(w http.ResponseWriter, r *http.Request) {
	c, d, ok := p.caseOf(w, r)
	if !ok || !readForm(w, r, formLimit) {
		return
	}
	code := strings.TrimSpace(r.PostFormValue("reg_code"))
	var err error
	switch {
	case c.roundID == 0:
		err = needRound
	case code == "":
		err = apperr.Field("reg_code", "请输入单位注册码（16位，可向本单位经办人索取）")
	default:
		if err = p.svc.RequireOpen(r.Context(), c.roundID, "application"); err == nil {
			_, err = p.svc.Persons.RequestLink(r.Context(), c.person, c.roundID, code)
		}
	}
	if err == nil {
		p.sh.Flash(w, r, "/me", "link_requested")
		return
	}
	if !shownOnPage(err) {
		web.WriteError(w, r, err)
		return
	}
	pg := p.page(r, "我的申请")
	pg.SetError(err)
	pg.Form["reg_code"] = code
	p.renderMe(w, r, statusOf(err), pg, c, d)
}

// meOpen opens the application once the employer has confirmed the link
// (idempotent, as POST /api/v1/application) and goes to its first section.
func (p *Portal) meOpen(w http.ResponseWriter, r *http.Request) {
	c, d, ok := p.caseOf(w, r)
	if !ok {
		return
	}
	var err error = needRound
	if c.roundID != 0 {
		_, err = p.openApplication(r, c)
	}
	if err == nil {
		web.Redirect(w, r, "/me/application/"+sections[0].slug)
		return
	}
	if !shownOnPage(err) {
		web.WriteError(w, r, err)
		return
	}
	pg := p.page(r, "我的申请")
	pg.SetError(err)
	p.renderMe(w, r, statusOf(err), pg, c, d)
}
