package office

import (
	"encoding/json"
	"net/http"
	"time"

	"jifen/internal/discrepancy"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/web"
	"jifen/internal/surface/shell"
)

// The discrepancy queue as JSON (docs/api.md): the list a district
// officer works from and the actions of its page, for the office's own
// tools and the load test. The service checks the officer's district and
// the four-eyes rule exactly as for the page.

// apiDiscrepancy is one discrepancy as the API shows it: no declared or
// verified values in the list (the item's own GET has them).
type apiDiscrepancy struct {
	ID            int64  `json:"id"`
	ApplicationID int64  `json:"application_id"`
	Item          string `json:"item"`
	Outcome       string `json:"outcome"`
	District      string `json:"district"`
	Status        string `json:"status"`
	StatusName    string `json:"status_name"`
	Deadline      string `json:"deadline,omitempty"` // of a material request, a Beijing date
	PersonName    string `json:"person_name"`
	EmployerName  string `json:"employer_name"`
	UpdatedAt     string `json:"updated_at"`
}

func apiDiscrepancyOf(it *discrepancy.Item) apiDiscrepancy {
	v := apiDiscrepancy{ID: it.ID, ApplicationID: it.ApplicationID, Item: it.CheckItem, Outcome: it.Outcome, District: it.District,
		Status: string(it.Status), StatusName: discrepancy.StatusName(it.Status), PersonName: it.PersonName, EmployerName: it.EmployerName,
		UpdatedAt: it.UpdatedAt.UTC().Format(time.RFC3339)}
	if !it.Deadline.IsZero() {
		v.Deadline = it.Deadline.In(clock.Beijing).Format("2006-01-02")
	}
	return v
}

// apiDiscrepancies lists a page of the queue: ?status= (default open),
// &item=, &district= (city officers), &overdue=1, &page=.
func (o *Office) apiDiscrepancies(w http.ResponseWriter, r *http.Request) {
	f := discFilter(r)
	res, err := o.disc.List(r.Context(), shell.Actor(r.Context()), f)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	items := make([]apiDiscrepancy, 0, len(res.Items))
	for _, it := range res.Items {
		items = append(items, apiDiscrepancyOf(it))
	}
	counts := map[string]int{}
	for st, n := range res.Counts {
		counts[string(st)] = n
	}
	web.JSON(w, http.StatusOK, map[string]any{"items": items, "counts": counts, "total": res.Total, "page": f.Page, "next": res.Next})
}

// apiDiscrepancy answers one discrepancy with its declared and verified
// values (JSON of the indicator's part).
func (o *Office) apiDiscrepancy(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	d, err := o.disc.Get(r.Context(), shell.Actor(r.Context()), id)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, map[string]any{"discrepancy": apiDiscrepancyOf(d.Item), "declared": rawJSON(d.Declared),
		"verified": rawJSON(d.Verified)})
}

// rawJSON passes stored JSON through; anything else as a string.
func rawJSON(s string) any {
	if s == "" {
		return nil
	}
	if json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	return s
}

type discActionRequest struct {
	Note     string `json:"note"`
	Reason   string `json:"reason"`
	Deadline string `json:"deadline"` // request: a date, 2026-12-20
}

// apiDiscrepancyAction takes the page's actions: accept (the agency's
// record stands), request (material from the applicant by a deadline),
// override (to the declared value; a second officer approves or rejects).
// It answers with the discrepancy as it now stands.
func (o *Office) apiDiscrepancyAction(w http.ResponseWriter, r *http.Request) {
	u := shell.Actor(r.Context())
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	var in discActionRequest
	if err := web.DecodeJSON(r, &in); err != nil {
		web.WriteError(w, r, err)
		return
	}
	ctx := r.Context()
	switch r.PathValue("action") {
	case "accept":
		err = o.disc.Accept(ctx, u, id, in.Note)
	case "request":
		err = o.disc.RequestMaterial(ctx, u, id, in.Note, parseDay(in.Deadline))
	case "override":
		err = o.disc.Override(ctx, u, id, in.Reason)
	case "approve":
		err = o.disc.Approve(ctx, u, id)
	case "reject":
		err = o.disc.RejectOverride(ctx, u, id, in.Note)
	default:
		err = apperr.New(apperr.NotFound, "您访问的页面不存在")
	}
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	o.apiDiscrepancy(w, r)
}
