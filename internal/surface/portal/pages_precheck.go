package portal

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"jifen/internal/agency"
	"jifen/internal/application"
	"jifen/internal/check"
	"jifen/internal/discrepancy"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/platform/web"
	"jifen/internal/rules"
)

// The pre-check on the summary page (预核验, docs/precheck.md): with the
// applicant's consent the agencies are asked what they hold, and each check
// item shows it next to what was declared, with a button to take the
// agency's value into the draft. It is advice and never blocks submitting.

// precheckView is the pre-check's part of the summary page.
type precheckView struct {
	Purpose       string
	ConsentActive bool
	ConsentAt     string
	Used, Limit   int
	Editable      bool
	Version       int // the draft's version the take buttons send
	Latest        *check.Precheck
	At            string // when the latest finished (or was asked for)
	Items         []precheckItemView
	Down          []agencyDownView
	// NowTotal and AcceptedTotal are the estimate as declared and with the
	// agencies' values; Changes the indicators that would move.
	NowTotal, AcceptedTotal string
	AcceptedNote            string
	Changes                 []indicatorChange
}

type precheckItemView struct {
	Item, Name, Outcome, OutcomeName string
	Rows                             []discrepancy.Row
	Takeable, Agrees                 bool
	Section                          string // where to correct it or attach evidence
}

type agencyDownView struct{ Name, Detail, RetryAt string }

type indicatorChange struct{ Name, Now, Then string }

// precheckSection is the section page of a check item: where its value is
// corrected or its evidence attached.
func precheckSection(item string) string {
	for _, s := range sections {
		if slices.ContainsFunc(s.indicators, func(o option) bool { return o.Value == item }) {
			return "/me/application/" + s.slug
		}
	}
	switch item {
	case rules.CodeStudyDeduction:
		return "/me/application/education"
	case rules.CodeLawRecord:
		return "/me/application/eligibility"
	}
	return ""
}

// precheckOf builds the pre-check's part of the summary page; nil when the
// pre-check is not offered. A failure to read it leaves it out rather than
// failing the page.
func (p *Portal) precheckOf(r *http.Request, c *applicantCtx, a *application.Application) *precheckView {
	eng := p.svc.Precheck
	if eng == nil {
		return nil
	}
	ctx := r.Context()
	v := &precheckView{Purpose: check.PrecheckPurpose, Editable: a.Status.Editable(), Version: a.Version}
	st, err := eng.StateOf(ctx, c.caller, a)
	if err != nil {
		return nil
	}
	if st.Consent.Active() {
		v.ConsentActive, v.ConsentAt = true, st.Consent.GrantedAt.In(clock.Beijing).Format("2006-01-02 15:04")
	}
	v.Used, v.Limit = st.Used, st.Limit
	pc := st.Latest
	if pc == nil {
		return v
	}
	v.Latest = pc
	v.At = pc.RequestedAt.In(clock.Beijing).Format("2006-01-02 15:04")
	if pc.Status != check.PrecheckDone {
		return v
	}
	v.At = pc.FinishedAt.In(clock.Beijing).Format("2006-01-02 15:04")
	book := bookOf(a.Declaration.ApplicationYear)
	for _, o := range pc.Outcomes {
		iv := precheckItemView{Item: o.Item, Name: rules.CheckItemName(o.Item), Outcome: o.Outcome, OutcomeName: check.OutcomeNames[o.Outcome],
			Takeable: v.Editable && pc.Takeable(o.Item), Section: precheckSection(o.Item)}
		if o.Outcome == check.Mismatch || o.Outcome == check.NotFound {
			iv.Rows = discrepancy.Compare(book.Version(), o.Item, o.Declared, o.Verified)
			iv.Agrees = pc.Agrees(a.Declaration, o.Item)
		}
		v.Items = append(v.Items, iv)
	}
	for _, code := range agency.Codes() {
		st, ok := pc.Agencies[code]
		if !ok || st.Answered {
			continue
		}
		d := agencyDownView{Name: agency.Name(code), Detail: st.Detail}
		if st.RetryAt > 0 {
			d.RetryAt = db.FromMicros(st.RetryAt).In(clock.Beijing).Format("15:04")
		}
		v.Down = append(v.Down, d)
	}
	now, err1 := application.Estimate(a.Declaration)
	then, err2 := application.Estimate(pc.Accepted(a.Declaration))
	switch {
	case err1 != nil:
		v.AcceptedNote = "填报内容尚不完整，暂时无法比较估算。"
	case err2 != nil:
		v.AcceptedNote = "部门记录中有本系统无法直接计分的内容，请以初核结果为准。"
	default:
		v.NowTotal, v.AcceptedTotal = now.Total.String(), then.Total.String()
		for _, in := range now.Indicators {
			t, _ := then.Indicator(in.Code)
			if t.Points != in.Points {
				v.Changes = append(v.Changes, indicatorChange{Name: in.Name, Now: in.Points.String(), Then: t.Points.String()})
			}
		}
		if now.Eligible != then.Eligible && !then.Eligible {
			v.AcceptedNote = "按部门记录，您暂不符合申报条件：" + strings.Join(then.IneligibleReasons, "；")
		}
	}
	return v
}

// precheckPost asks for a pre-check: with the consent box ticked it records
// the consent first (the purpose is on the form). POST
// /me/application/precheck.
func (p *Portal) precheckPost(w http.ResponseWriter, r *http.Request) {
	c, d, ok := p.precheckForm(w, r)
	if !ok {
		return
	}
	err := p.requestPrecheck(r, c, d.app, r.PostFormValue("consent") == "yes")
	p.precheckDone(w, r, c, d, err, "precheck_requested")
}

// requestPrecheck asks for a pre-check of a, the summary page's and the
// API's: where no consent stands it records one when consented, and is
// check.ErrNoConsent otherwise.
func (p *Portal) requestPrecheck(r *http.Request, c *applicantCtx, a *application.Application, consented bool) error {
	eng := p.svc.Precheck
	consent, err := eng.Consent(r.Context(), c.caller)
	if err != nil {
		return err
	}
	if !consent.Active() {
		if !consented {
			return check.ErrNoConsent
		}
		if err := eng.GrantConsent(r.Context(), c.caller); err != nil {
			return err
		}
	}
	_, err = eng.RequestPrecheck(r.Context(), c.caller, a)
	return err
}

// precheckForm reads a pre-check form of the applicant's case; without an
// application, or where the pre-check is not offered, it sends them to /me. On
// false it has answered.
func (p *Portal) precheckForm(w http.ResponseWriter, r *http.Request) (*applicantCtx, *caseData, bool) {
	c, d, ok := p.caseOf(w, r)
	if !ok || !readForm(w, r, formLimit) {
		return nil, nil, false
	}
	if d.app == nil || p.svc.Precheck == nil {
		web.Redirect(w, r, "/me")
		return nil, nil, false
	}
	return c, d, true
}

// precheckDone answers a pre-check form: back to the summary page's
// pre-check with a flash, or the page with the error beside the form.
func (p *Portal) precheckDone(w http.ResponseWriter, r *http.Request, c *applicantCtx, d *caseData, err error, flash string) {
	if err == nil {
		p.sh.Flash(w, r, "/me/application/submit#precheck", flash)
		return
	}
	if !shownOnPage(err) && !apperr.Is(err, apperr.TooManyRequests) {
		web.WriteError(w, r, err)
		return
	}
	status := http.StatusTooManyRequests
	if !apperr.Is(err, apperr.TooManyRequests) {
		status = statusOf(err)
	}
	pg := p.page(r, "核对并提交")
	pg.SetError(err)
	a, rerr := p.svc.Applications.Get(r.Context(), c.caller, d.app.ID)
	if rerr != nil {
		web.WriteError(w, r, rerr)
		return
	}
	d.app = a
	p.renderSubmit(w, r, status, pg, c, d)
}

// precheckWithdraw withdraws the consent. POST
// /me/application/precheck/withdraw.
func (p *Portal) precheckWithdraw(w http.ResponseWriter, r *http.Request) {
	c, d, ok := p.precheckForm(w, r)
	if !ok {
		return
	}
	p.precheckDone(w, r, c, d, p.svc.Precheck.WithdrawConsent(r.Context(), c.caller), "precheck_withdrawn")
}

// precheckTake takes the agency's value of one item into the draft. POST
// /me/application/precheck/take with precheck, item and version.
func (p *Portal) precheckTake(w http.ResponseWriter, r *http.Request) {
	c, d, ok := p.precheckForm(w, r)
	if !ok {
		return
	}
	id, err1 := strconv.ParseInt(r.PostFormValue("precheck"), 10, 64)
	version, err2 := strconv.Atoi(r.PostFormValue("version"))
	if err1 != nil || err2 != nil {
		p.precheckDone(w, r, c, d, apperr.Field("precheck", "请从预核验结果中点击“采用部门记录”"), "")
		return
	}
	_, err := p.svc.Precheck.TakeAgencyValue(r.Context(), c.caller, d.app, id, r.PostFormValue("item"), version)
	p.precheckDone(w, r, c, d, err, "precheck_taken")
}

// precheckProgress answers the page's poll while the agencies are asked:
// {"finished": bool, "fields": {"precheck-status": text}}. GET
// /me/application/precheck/progress.
func (p *Portal) precheckProgress(w http.ResponseWriter, r *http.Request) {
	c, d, ok := p.caseOf(w, r)
	if !ok {
		return
	}
	if d.app == nil || p.svc.Precheck == nil {
		web.NotFound(w, r)
		return
	}
	st, err := p.svc.Precheck.StateOf(r.Context(), c.caller, d.app)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	finished, text := true, "没有预核验"
	if pc := st.Latest; pc != nil {
		finished = !pc.Waiting()
		text = map[bool]string{true: "已完成", false: "正在向各部门查询，请稍候……"}[finished]
	}
	web.JSON(w, http.StatusOK, map[string]any{"finished": finished, "fields": map[string]string{"precheck-status": text}})
}
