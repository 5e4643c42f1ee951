package portal

import (
	"net/http"
	"slices"
	"strings"

	"jifen/internal/application"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/web"
	"jifen/internal/round"
	"jifen/internal/rules"
	"jifen/internal/surface/ui"
)

// truthStatement is the promise the applicant makes on submitting
// (DOMAIN.md §3: false material bars the applicant this year and the next 5).
const truthStatement = "本人承诺所填信息真实、准确、完整，上传的材料真实有效。如有虚假，本人愿承担相应责任，" +
	"并知悉提供虚假材料的，取消本年度申报资格，且此后5年内不得申报。"

// submitView is the page where the applicant checks everything and submits
// to the employer.
type submitView struct {
	Status    caseStatus
	Sections  []sectionView
	Result    *rules.Result
	NoResult  string
	Files     int
	Editable  bool
	Statement string
	Carried   []carriedItemView // carried from an earlier round, not yet confirmed
	Precheck  *precheckView     // the pre-check (预核验); nil: not offered
}

func (p *Portal) submitPage(w http.ResponseWriter, r *http.Request) {
	c, d, ok := p.caseOf(w, r)
	if !ok {
		return
	}
	if d.app == nil {
		web.Redirect(w, r, "/me")
		return
	}
	p.renderSubmit(w, r, http.StatusOK, p.page(r, "核对并提交"), c, d)
}

func (p *Portal) renderSubmit(w http.ResponseWriter, r *http.Request, status int, pg *ui.Page, c *applicantCtx, d *caseData) {
	a := d.app
	files, err := p.svc.Attachments.ListOf(r.Context(), c.caller, a)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	v := submitView{Status: d.status(), Sections: sectionViews(a.Declaration, files, a.Status.Editable()), Files: len(files),
		Editable: a.Status.Editable(), Statement: truthStatement}
	for i := range v.Sections {
		v.Sections[i].Error = pg.Fields[v.Sections[i].Slug]
	}
	v.Result, v.NoResult = estimateOf(a.Declaration)
	v.Carried = p.carriedViews(r, c, a)
	v.Precheck = p.precheckOf(r, c, a)
	pg.Data = v
	p.sh.Render(w, r, status, "portal_submit", pg)
}

// submitPost submits to the employer with the truthfulness statement, as
// POST /api/v1/application/submit. A problem in a section is shown beside
// that section's summary, with a link to correct it.
func (p *Portal) submitPost(w http.ResponseWriter, r *http.Request) {
	c, d, ok := p.caseOf(w, r)
	if !ok || !readForm(w, r, formLimit) {
		return
	}
	if d.app == nil {
		web.Redirect(w, r, "/me")
		return
	}
	truthful := r.PostFormValue("truthful") == "true"
	if !ui.Confirmed(r) {
		// The submit page is the confirmation step: it shows everything that
		// goes to the employer and what submitting does; a POST that did not
		// come from it shows it and changes nothing.
		pg := p.page(r, "核对并提交")
		if truthful {
			pg.Form["truthful"] = "true"
		}
		p.renderSubmit(w, r, http.StatusOK, pg, c, d)
		return
	}
	_, err := p.svc.Applications.SubmitToEmployer(r.Context(), c.caller, d.app.ID, truthful)
	if err == nil {
		p.sh.Flash(w, r, "/me", "submitted")
		return
	}
	if !shownOnPage(err) {
		web.WriteError(w, r, err)
		return
	}
	pg := p.page(r, "核对并提交")
	pg.SetError(renameFields(err, bySection))
	pg.Fields = map[string]string{}
	for _, f := range pg.FieldList {
		if old := pg.Fields[f.Field]; old != "" {
			f.Message = old + "；" + f.Message
		}
		pg.Fields[f.Field] = f.Message
	}
	if truthful {
		pg.Form["truthful"] = "true"
	}
	p.renderSubmit(w, r, statusOf(err), pg, c, d)
}

// bySection names a field error by the section that owns the field: the
// summary page shows sections, not their fields.
func bySection(field string) string {
	if s, ok := sectionOf(field); ok {
		return s.slug
	}
	return field
}

// reviewView is the 复查 page: the indicators to re-review and why.
type reviewView struct {
	Status     caseStatus
	Open       bool   // the form is shown
	Closed     string // why it is not
	Indicators []option
	Request    *application.ReviewRequest
	Asked      []string // the indicators asked for, by name
}

func (p *Portal) reviewPage(w http.ResponseWriter, r *http.Request) {
	c, d, ok := p.caseOf(w, r)
	if !ok {
		return
	}
	if d.app == nil {
		web.Redirect(w, r, "/me")
		return
	}
	p.renderReview(w, r, http.StatusOK, p.page(r, "申请复查"), c, d)
}

func (p *Portal) renderReview(w http.ResponseWriter, r *http.Request, status int, pg *ui.Page, c *applicantCtx, d *caseData) {
	a := d.app
	v := reviewView{Status: d.status()}
	labels := bookOf(a.Declaration.ApplicationYear).Labels()
	switch {
	case a.Status == application.ReviewRequested:
		req, err := p.svc.Applications.Review(r.Context(), c.caller, a.ID)
		if err != nil && !apperr.Is(err, apperr.NotFound) {
			web.WriteError(w, r, err)
			return
		}
		v.Request = req
		if req != nil {
			for _, code := range req.Indicators {
				v.Asked = append(v.Asked, optLabel(labels.Indicators, code))
			}
		}
	case a.Status != application.FirstResult:
		v.Closed = "初核结果公布后，才能在复查期内申请复查。当前状态：" + application.StatusName(a.Status) + "。"
	default:
		if err := d.round.RequireOpen(round.Review, p.sh.Clock.Now()); err != nil {
			v.Closed = apperr.As(err).Message + "。"
		} else {
			v.Open = true
		}
	}
	for _, o := range labels.Indicators {
		v.Indicators = append(v.Indicators, option{Value: o.Value, Label: o.Label,
			Selected: slices.Contains(r.PostForm["indicators"], o.Value)})
	}
	pg.Data = v
	p.sh.Render(w, r, status, "portal_review", pg)
}

// reviewPost asks for a re-review of some indicators, in the review window,
// as POST /api/v1/application/review.
func (p *Portal) reviewPost(w http.ResponseWriter, r *http.Request) {
	c, d, ok := p.caseOf(w, r)
	if !ok || !readForm(w, r, formLimit) {
		return
	}
	if d.app == nil {
		web.Redirect(w, r, "/me")
		return
	}
	reason := r.PostFormValue("reason")
	// Asking for a review is done once: when the request can be made as
	// filled in, show what it does first. Anything the service would
	// refuse (the window, a missing field) goes straight to its message.
	if a := d.app; !ui.Confirmed(r) && a.Status == application.FirstResult && d.round.Open(round.Review, p.sh.Clock.Now()) &&
		len(r.PostForm["indicators"]) > 0 && strings.TrimSpace(reason) != "" {
		labels := bookOf(a.Declaration.ApplicationYear).Labels()
		var asked []string
		for _, code := range r.PostForm["indicators"] {
			asked = append(asked, optLabel(labels.Indicators, code))
		}
		p.confirm(w, r, "确认申请复查", ui.Confirm{Heading: "确认申请复查？", Lead: "复查指标：" + strings.Join(asked, "、") + "。理由：" + reason,
			Effects: []string{"复查申请交由您的单位补充证明材料，转交区服务窗口复查。", "提交后不能撤回，也不能修改复查指标。"},
			Action:  "/me/review", Carry: ui.Carry(r.PostForm), Button: "确认申请复查", Cancel: "/me/review"})
		return
	}
	err := p.svc.Applications.RequestReview(r.Context(), c.caller, d.app.ID, r.PostForm["indicators"], reason)
	if err == nil {
		p.sh.Flash(w, r, "/me", "review_requested")
		return
	}
	if !shownOnPage(err) {
		web.WriteError(w, r, err)
		return
	}
	pg := p.page(r, "申请复查")
	pg.SetError(err)
	pg.Form["reason"] = reason
	p.renderReview(w, r, statusOf(err), pg, c, d)
}
