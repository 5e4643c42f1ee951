package office

import (
	"net/http"
	"strings"

	"jifen/internal/account"
	"jifen/internal/application"
	"jifen/internal/platform/web"
	"jifen/internal/rules"
	"jifen/internal/surface/shell"
)

// registerReviews adds the district office's queue of 复查 requests that
// employers forwarded with their evidence.
func (o *Office) registerReviews(mux *web.Mux) {
	mux.Handle("GET /office/reviews", o.sh.RequireUser(account.PermCasesDistrict, o.reviews))
	mux.Handle("POST /office/reviews/{id}/receive", o.sh.RequireUser(account.PermCasesDistrict, o.reviewReceive))
}

type reviewsView struct {
	Items  []reviewRow
	Status string
}

// reviewRow is a request with its indicators' Chinese names.
type reviewRow struct {
	application.ReviewItem
	Names string
}

func (o *Office) reviews(w http.ResponseWriter, r *http.Request) {
	d, _ := officerDistrict(shell.Actor(r.Context()))
	st := r.URL.Query().Get("status")
	if st != "received" {
		st = "forwarded"
	}
	items, err := o.apps.ReviewsForDistrict(r.Context(), d, st, 200)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	p := o.sh.Page(r, "复查申请")
	v := reviewsView{Status: st}
	for _, it := range items {
		var names []string
		for _, c := range it.Indicators {
			names = append(names, rules.CheckItemName(c))
		}
		v.Items = append(v.Items, reviewRow{ReviewItem: it, Names: strings.Join(names, "、")})
	}
	p.Data = v
	o.sh.Render(w, r, http.StatusOK, "office_reviews", p)
}

func (o *Office) reviewReceive(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	u := shell.Actor(r.Context())
	d, _ := officerDistrict(u)
	if err := o.apps.ReceiveReviewBy(r.Context(), u, d, id); err != nil {
		web.WriteError(w, r, err)
		return
	}
	o.sh.Flash(w, r, "/office/reviews", "saved")
}
