package portal

import (
	"net/http"
	"strconv"
	"time"

	"jifen/internal/application"
	"jifen/internal/employer"
	"jifen/internal/person"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/web"
	"jifen/internal/surface/ui"
)

// employerView is the employer's home (单位首页): the registration and its
// 单位注册码, the round, and the work waiting.
type employerView struct {
	Employer   *employer.Employer
	StatusName string
	Verified   bool
	Status     caseStatus
	Round      *RoundView
	Pending    int // link requests to decide
	Waiting    int // applications to review
	Tabs       []tabView
}

// operatorOf is the logged-in operator; on failure it answers and returns
// false.
func (p *Portal) operatorOf(w http.ResponseWriter, r *http.Request) (*operatorCtx, bool) {
	c, err := p.operator(r)
	if err != nil {
		web.WriteError(w, r, err)
		return nil, false
	}
	return c, true
}

func (p *Portal) employerPage(w http.ResponseWriter, r *http.Request) {
	c, ok := p.operatorOf(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	e := c.employer
	v := employerView{Employer: e, StatusName: employer.StatusName(e.Status), Verified: e.Status == employer.Verified,
		Status: p.employerStatus(r, c)}
	if rd, err := p.currentRound(ctx, c.roundID); err == nil {
		v.Round = roundViewAt(rd, p.sh.Clock.Now())
		pending, err := p.svc.Persons.LinksOfEmployer(ctx, e.ID, c.roundID, person.LinkPending)
		if err != nil {
			web.WriteError(w, r, err)
			return
		}
		_, counts, err := p.svc.Applications.ForEmployer(ctx, e.ID, c.roundID, application.Filter{Limit: 1})
		if err != nil {
			web.WriteError(w, r, err)
			return
		}
		v.Pending, v.Waiting, v.Tabs = len(pending), counts[application.WithEmployer], statusTabs(counts, "", "")
	}
	pg := p.page(r, "单位首页")
	pg.Data = v
	p.sh.Render(w, r, http.StatusOK, "portal_employer", pg)
}

// regCodePage asks for confirmation before the 单位注册码 is replaced.
func (p *Portal) regCodePage(w http.ResponseWriter, r *http.Request) {
	c, ok := p.operatorOf(w, r)
	if !ok {
		return
	}
	if c.employer.Status != employer.Verified {
		web.Redirect(w, r, "/employer")
		return
	}
	pg := p.page(r, "重新生成单位注册码")
	pg.Data = employerView{Employer: c.employer}
	p.sh.Render(w, r, http.StatusOK, "portal_employer_regcode", pg)
}

func (p *Portal) regCodePost(w http.ResponseWriter, r *http.Request) {
	c, ok := p.operatorOf(w, r)
	if !ok {
		return
	}
	if _, err := p.svc.Employers.RegenerateCode(r.Context(), c.caller); err != nil {
		web.WriteError(w, r, err)
		return
	}
	p.sh.Flash(w, r, "/employer", "reg_code_regenerated")
}

// linksView is the employer's link requests (关联申请).
type linksView struct {
	Pending, Confirmed, Closed []empLinkView
}

type empLinkView struct {
	ID                             int64
	Name, IDMasked, Status, Reason string
	At, DecidedAt                  time.Time
}

func (p *Portal) linksPage(w http.ResponseWriter, r *http.Request) {
	c, ok := p.operatorOf(w, r)
	if !ok {
		return
	}
	p.renderLinks(w, r, http.StatusOK, p.page(r, "关联申请"), c)
}

func (p *Portal) renderLinks(w http.ResponseWriter, r *http.Request, status int, pg *ui.Page, c *operatorCtx) {
	var v linksView
	if c.roundID != 0 {
		ls, err := p.svc.Persons.LinksOfEmployer(r.Context(), c.employer.ID, c.roundID, "")
		if err != nil {
			web.WriteError(w, r, err)
			return
		}
		for _, l := range ls {
			lv := empLinkView{ID: l.ID, Name: l.PersonName, IDMasked: l.PersonMasked, Status: person.LinkStatusName(l.Status),
				Reason: l.Reason, At: l.CreatedAt, DecidedAt: l.DecidedAt}
			switch l.Status {
			case person.LinkPending:
				v.Pending = append(v.Pending, lv)
			case person.LinkConfirmed:
				v.Confirmed = append(v.Confirmed, lv)
			default:
				v.Closed = append(v.Closed, lv)
			}
		}
	}
	pg.Data = v
	p.sh.Render(w, r, status, "portal_employer_links", pg)
}

var linkFlashes = map[string]string{"confirm": "link_confirmed", "reject": "link_rejected", "unlink": "link_unlinked"}

// linkPost confirms, rejects (with a reason) or ends a link, as
// POST /api/v1/employer/links/{id}/{action}. A missing reason is shown
// beside the reason box of that row.
func (p *Portal) linkPost(w http.ResponseWriter, r *http.Request) {
	c, ok := p.operatorOf(w, r)
	if !ok || !readForm(w, r, formLimit) {
		return
	}
	id, ok := pathInt(r, "id")
	action := r.PathValue("action")
	if !ok || linkFlashes[action] == "" {
		web.NotFound(w, r)
		return
	}
	var err error = needRound
	if c.roundID != 0 {
		err = p.decideLink(r, c, id, action, r.PostFormValue("reason"))
	}
	if err == nil {
		p.sh.Flash(w, r, "/employer/links", linkFlashes[action])
		return
	}
	if !shownOnPage(err) {
		web.WriteError(w, r, err)
		return
	}
	pg := p.page(r, "关联申请")
	row := "reason-" + strconv.FormatInt(id, 10)
	pg.SetError(renameFields(err, func(f string) string {
		if f == "reason" {
			return row
		}
		return f
	}))
	pg.Form["reason-"+strconv.FormatInt(id, 10)] = r.PostFormValue("reason")
	p.renderLinks(w, r, statusOf(err), pg, c)
}

// renameFields moves the field errors of err onto the page's names: a
// page with several forms holding a field of the same name, or a page that
// shows sections rather than their fields.
func renameFields(err error, to func(field string) string) error {
	ae := apperr.As(err)
	if len(ae.Fields) == 0 {
		return err
	}
	out := *ae
	out.Fields = make([]apperr.FieldError, len(ae.Fields))
	for i, f := range ae.Fields {
		f.Field = to(f.Field)
		out.Fields[i] = f
	}
	return &out
}
