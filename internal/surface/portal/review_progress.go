package portal

import (
	"net/http"
	"strconv"

	"jifen/internal/platform/apperr"
	"jifen/internal/platform/web"
	"jifen/internal/review"
	"jifen/internal/surface/ui"
)

// registerReviewProgress adds 复查进度: the applicant sees the district's
// decision on each indicator, whether a change of score was approved, and
// books (or rebooks) the in-person check (现场审核) the district asked for.
func (p *Portal) registerReviewProgress(mux *web.Mux) {
	if p.svc.Review == nil {
		return
	}
	user := func(h http.HandlerFunc) http.Handler { return p.sh.RequireUser("", h) }
	mux.Handle("GET /me/review/progress", user(p.reviewProgressPage))
	mux.Handle("POST /me/review/booking", user(p.reviewBookingPost))
	mux.Handle("GET /api/v1/application/review", user(p.apiReviewProgress))
	mux.Handle("POST /api/v1/application/review/booking", user(p.apiReviewBooking))
}

type reviewProgressView struct {
	*review.ApplicantView // nil: no 复查 request
	Slot                  string
}

func (p *Portal) reviewProgressPage(w http.ResponseWriter, r *http.Request) {
	p.renderReviewProgress(w, r, http.StatusOK, p.page(r, "复查进度"))
}

func (p *Portal) renderReviewProgress(w http.ResponseWriter, r *http.Request, status int, pg *ui.Page) {
	c, a, err := p.myApplication(r)
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		web.WriteError(w, r, err)
		return
	}
	v := reviewProgressView{}
	if err == nil {
		v.ApplicantView, err = p.svc.Review.ForApplicant(r.Context(), c.caller, a.ID)
		if err != nil && !apperr.Is(err, apperr.NotFound) {
			web.WriteError(w, r, err)
			return
		}
		if v.ApplicantView != nil && v.Inspection != nil && v.Inspection.Slot != nil {
			v.Slot = v.Inspection.Slot.District + "人力社保局 " + v.Inspection.Slot.Label()
		}
	}
	pg.Data = v
	p.sh.Render(w, r, status, "portal_review_progress", pg)
}

func (p *Portal) reviewBookingPost(w http.ResponseWriter, r *http.Request) {
	c, a, err := p.myApplication(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	if !readForm(w, r, formLimit) {
		return
	}
	slot, _ := strconv.ParseInt(r.PostFormValue("slot"), 10, 64)
	err = p.book(r, c, a.ID, slot)
	if err == nil {
		p.sh.Flash(w, r, "/me/review/progress", "saved")
		return
	}
	if !shownOnPage(err) {
		web.WriteError(w, r, err)
		return
	}
	pg := p.page(r, "复查进度")
	pg.SetError(err)
	p.renderReviewProgress(w, r, statusOf(err), pg)
}

func (p *Portal) book(r *http.Request, c *applicantCtx, id, slot int64) error {
	if slot <= 0 {
		return apperr.Field("slot", "请选择预约时段")
	}
	return p.svc.Review.Book(r.Context(), c.caller, id, slot)
}

func (p *Portal) apiReviewProgress(w http.ResponseWriter, r *http.Request) {
	c, a, ok := p.myApplicationOf(w, r)
	if !ok {
		return
	}
	v, err := p.svc.Review.ForApplicant(r.Context(), c.caller, a.ID)
	if !answered(w, r, err) {
		return
	}
	web.JSON(w, http.StatusOK, v)
}

func (p *Portal) apiReviewBooking(w http.ResponseWriter, r *http.Request) {
	c, a, ok := p.myApplicationOf(w, r)
	if !ok {
		return
	}
	var in struct {
		SlotID int64 `json:"slot_id"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		web.WriteError(w, r, err)
		return
	}
	if !answered(w, r, p.book(r, c, a.ID, in.SlotID)) {
		return
	}
	v, err := p.svc.Review.ForApplicant(r.Context(), c.caller, a.ID)
	if !answered(w, r, err) {
		return
	}
	web.JSON(w, http.StatusOK, v)
}
