package portal

import (
	"net/http"

	"jifen/internal/application"
	"jifen/internal/platform/web"
)

// carriedItemView is one item carried over from an earlier round's
// application (internal/application carryover.go) that the applicant has
// not confirmed yet.
type carriedItemView struct {
	Item, Name, Label, Note string
}

// carriedViews lists the unconfirmed carried items of the applicant's
// application; an error reading them shows none rather than failing the page.
func (p *Portal) carriedViews(r *http.Request, c *applicantCtx, a *application.Application) []carriedItemView {
	items, err := p.svc.Applications.Carried(r.Context(), c.caller, a)
	if err != nil {
		return nil
	}
	out := make([]carriedItemView, len(items))
	for i, it := range items {
		out[i] = carriedItemView{Item: it.Item, Name: application.ItemName(it.Item), Label: it.Label(), Note: it.Note}
	}
	return out
}

// carriedConfirm removes the mark of one carried item (POST item=<code>).
func (p *Portal) carriedConfirm(w http.ResponseWriter, r *http.Request) {
	c, d, ok := p.caseOf(w, r)
	if !ok || !readForm(w, r, formLimit) {
		return
	}
	if d.app == nil {
		web.Redirect(w, r, "/me")
		return
	}
	if _, err := p.svc.Applications.Confirm(r.Context(), c.caller, d.app.ID, r.PostFormValue("item")); err != nil {
		web.WriteError(w, r, err)
		return
	}
	back := "/me/application/submit"
	if sec, ok := sectionBySlug(r.PostFormValue("back")); ok {
		back = "/me/application/" + sec.slug
	}
	p.sh.Flash(w, r, back, "carry_confirmed")
}
