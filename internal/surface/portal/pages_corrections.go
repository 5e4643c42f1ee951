package portal

import (
	"net/http"

	"jifen/internal/discrepancy"
	"jifen/internal/platform/web"
	"jifen/internal/surface/ui"
)

// registerCorrections adds 补充材料: the applicant's answers to the district
// officers' requests for material after the cross-check.
func (p *Portal) registerCorrections(mux *web.Mux) {
	if p.svc.Discrepancies == nil {
		return
	}
	user := func(h http.HandlerFunc) http.Handler { return p.sh.RequireUser("", h) }
	mux.Handle("GET /me/corrections", user(p.correctionsPage))
	mux.Handle("POST /me/corrections/{id}", user(p.correctionAnswer))
}

type correctionsView struct {
	Items []discrepancy.Correction
	Open  int // awaiting an answer before the deadline
}

// openCorrections counts the applicant's open requests for the dashboard;
// a failure only hides the notice.
func (p *Portal) openCorrections(r *http.Request, c *applicantCtx) int {
	if p.svc.Discrepancies == nil {
		return 0
	}
	n, _ := p.svc.Discrepancies.OpenRequests(r.Context(), c.person.ID)
	return n
}

func (p *Portal) correctionsPage(w http.ResponseWriter, r *http.Request) {
	c, err := p.applicant(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	p.renderCorrections(w, r, http.StatusOK, p.page(r, "补充材料"), c)
}

func (p *Portal) renderCorrections(w http.ResponseWriter, r *http.Request, status int, pg *ui.Page, c *applicantCtx) {
	items, err := p.svc.Discrepancies.ForApplicant(r.Context(), c.person.ID)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	v := correctionsView{Items: items}
	for _, it := range items {
		if it.Status == discrepancy.MaterialRequested && !it.Overdue {
			v.Open++
		}
	}
	pg.Data = v
	p.sh.Render(w, r, status, "portal_corrections", pg)
}

// correctionAnswer records the applicant's answer to one request; an empty
// answer or a passed deadline shows the page again with the message.
func (p *Portal) correctionAnswer(w http.ResponseWriter, r *http.Request) {
	c, err := p.applicant(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	id, ok := pathInt(r, "id")
	if !ok {
		web.NotFound(w, r)
		return
	}
	if !readForm(w, r, formLimit) {
		return
	}
	note := r.PostFormValue("note")
	err = p.svc.Discrepancies.Answer(r.Context(), c.caller,
		id, note)
	if err == nil {
		p.sh.Flash(w, r, "/me/corrections", "correction_answered")
		return
	}
	if !shownOnPage(err) {
		web.WriteError(w, r, err)
		return
	}
	pg := p.page(r, "补充材料")
	pg.SetError(err)
	pg.Form["note"] = note
	pg.Form["id"] = r.PathValue("id")
	p.renderCorrections(w, r, statusOf(err), pg, c)
}
