package portal

import (
	"net/http"

	"jifen/internal/audit"
	"jifen/internal/platform/web"
)

// registerViews adds the page and the JSON answer that tell applicants who
// opened their file: the office, the role, the time and the purpose of
// every reading by staff — never the officer's name or login.
func (p *Portal) registerViews(mux *web.Mux) {
	if p.svc.Views == nil {
		return
	}
	mux.Handle("GET /me/views", p.sh.RequireUser("", p.viewsPage))
	mux.Handle("GET /api/v1/application/views", p.sh.RequireUser("", p.apiViews))
}

// viewsOf reads the applicant's readings; on failure it answers and
// returns false.
func (p *Portal) viewsOf(w http.ResponseWriter, r *http.Request) ([]audit.View, bool) {
	c, err := p.applicant(r)
	if err != nil {
		web.WriteError(w, r, err)
		return nil, false
	}
	vs, err := p.svc.Views(r.Context(), c.person.ID)
	if err != nil {
		web.WriteError(w, r, err)
		return nil, false
	}
	return vs, true
}

func (p *Portal) viewsPage(w http.ResponseWriter, r *http.Request) {
	vs, ok := p.viewsOf(w, r)
	if !ok {
		return
	}
	pg := p.page(r, "查阅记录")
	pg.Data = struct {
		Views []audit.View
		Max   int
	}{vs, audit.MaxViews}
	p.sh.Render(w, r, http.StatusOK, "portal_views", pg)
}

func (p *Portal) apiViews(w http.ResponseWriter, r *http.Request) {
	vs, ok := p.viewsOf(w, r)
	if !ok {
		return
	}
	web.JSON(w, http.StatusOK, map[string]any{"views": vs})
}
