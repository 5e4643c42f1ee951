package portal

import (
	"context"
	"net/http"
	"strconv"

	"jifen/internal/application"
	"jifen/internal/platform/web"
)

// The service clock as the applicant and the employer see it: who holds
// the case, the step, and the date by which it must move — the same clock
// the office's queue shows (application.Clock).

// registerClock adds the clock's JSON API for the applicant and the
// employer.
func (p *Portal) registerClock(mux *web.Mux) {
	sh := p.sh
	mux.Handle("GET /api/v1/application/clock", sh.RequireUser("", p.apiMyClock))
	mux.Handle("GET /api/v1/employer/applications/{id}/clock", sh.RequireUser("", p.apiEmployerClock))
}

// clockOf is the clock of an application the caller has read, from the
// first result on (the steps the clock measures); nil before, or when it
// cannot be read (the page shows the rest).
func (p *Portal) clockOf(ctx context.Context, a *application.Application) *application.StepClock {
	if a == nil || !clockShown(a.Status) {
		return nil
	}
	c, err := p.svc.Applications.ClockOf(ctx, a)
	if err != nil {
		return nil
	}
	return &c
}

func clockShown(st application.Status) bool {
	return st == application.FirstResult || st == application.ReviewRequested
}

func (p *Portal) apiMyClock(w http.ResponseWriter, r *http.Request) {
	_, a, ok := p.myApplicationOf(w, r)
	if !ok {
		return
	}
	p.writeClock(w, r, a)
}

func (p *Portal) apiEmployerClock(w http.ResponseWriter, r *http.Request) {
	c, ok := p.operatorOf(w, r)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		web.WriteError(w, r, application.ErrNotFound)
		return
	}
	a, err := p.svc.Applications.Get(r.Context(), c.caller, id)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	p.writeClock(w, r, a)
}

func (p *Portal) writeClock(w http.ResponseWriter, r *http.Request, a *application.Application) {
	c, err := p.svc.Applications.ClockOf(r.Context(), a)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	out := map[string]any{"application_id": a.ID, "status": a.Status, "step": c.Step, "step_name": c.StepName,
		"holder": c.Holder, "started_at": nil, "due_at": nil, "overdue": c.Overdue}
	if !c.StartedAt.IsZero() {
		out["started_at"] = c.StartedAt
	}
	if !c.DueAt.IsZero() {
		out["due_at"] = c.DueAt
	}
	web.JSON(w, http.StatusOK, out)
}
