package portal

import (
	"encoding/json"
	"net/http"
	"time"

	"jifen/internal/application"
	"jifen/internal/check"
	"jifen/internal/platform/db"
	"jifen/internal/platform/web"
)

// The pre-check (预核验, docs/precheck.md) in the applicant's JSON API: the
// summary page's forms, on the same engine with the same rules.
func (p *Portal) registerPrecheckAPI(mux *web.Mux) {
	if p.svc.Precheck == nil {
		return
	}
	sh := p.sh
	mux.Handle("GET /api/v1/application/precheck", sh.RequireUser("", p.apiPrecheck))
	mux.Handle("POST /api/v1/application/precheck", sh.RequireUser("", p.apiRequestPrecheck))
	mux.Handle("DELETE /api/v1/application/precheck/consent", sh.RequireUser("", p.apiWithdrawPrecheck))
	mux.Handle("POST /api/v1/application/precheck/take", sh.RequireUser("", p.apiTakePrecheck))
}

type precheckJSON struct {
	Consent     *consentJSON       `json:"consent"` // null: none stands
	UsedToday   int                `json:"used_today"`
	LimitPerDay int                `json:"limit_per_day"`
	Latest      *precheckResultOut `json:"latest"` // null: none yet
}

type consentJSON struct {
	Purpose   string    `json:"purpose"`
	GrantedAt time.Time `json:"granted_at"`
}

type precheckResultOut struct {
	ID          int64                   `json:"id"`
	Status      string                  `json:"status"` // queued | done
	RequestedAt time.Time               `json:"requested_at"`
	FinishedAt  *time.Time              `json:"finished_at"`
	Counts      check.PrecheckCounts    `json:"counts"`
	Items       []precheckItemOut       `json:"items"`
	Agencies    map[string]agencyStateO `json:"agencies"`
	// Estimate is the draft's estimate now and with the agencies' values
	// (null until done or when the draft cannot be scored).
	Estimate *acceptedOut `json:"estimate"`
}

type precheckItemOut struct {
	Item        string          `json:"item"`
	Outcome     string          `json:"outcome"`
	OutcomeName string          `json:"outcome_name"`
	Declared    json.RawMessage `json:"declared,omitempty"`
	Held        json.RawMessage `json:"held,omitempty"`
	Takeable    bool            `json:"takeable"`
	Agrees      bool            `json:"agrees"` // the draft now says what the agency holds
}

type agencyStateO struct {
	Answered bool       `json:"answered"`
	Detail   string     `json:"detail,omitempty"`
	RetryAt  *time.Time `json:"retry_at,omitempty"`
}

type acceptedOut struct {
	Now      string `json:"now"`
	Accepted string `json:"accepted"`
}

func (p *Portal) precheckOut(r *http.Request, c *applicantCtx, a *application.Application) (*precheckJSON, error) {
	st, err := p.svc.Precheck.StateOf(r.Context(), c.caller, a)
	if err != nil {
		return nil, err
	}
	out := &precheckJSON{UsedToday: st.Used, LimitPerDay: st.Limit}
	if st.Consent.Active() {
		out.Consent = &consentJSON{Purpose: st.Consent.Purpose, GrantedAt: st.Consent.GrantedAt}
	}
	pc := st.Latest
	if pc == nil {
		return out, nil
	}
	res := &precheckResultOut{ID: pc.ID, Status: pc.Status, RequestedAt: pc.RequestedAt, Counts: pc.Counts, Items: []precheckItemOut{},
		Agencies: map[string]agencyStateO{}}
	if !pc.FinishedAt.IsZero() {
		t := pc.FinishedAt
		res.FinishedAt = &t
	}
	for _, o := range pc.Outcomes {
		it := precheckItemOut{Item: o.Item, Outcome: o.Outcome, OutcomeName: check.OutcomeNames[o.Outcome],
			Takeable: a.Status.Editable() && pc.Takeable(o.Item)}
		if o.Declared != "" {
			it.Declared, it.Held = json.RawMessage(o.Declared), json.RawMessage(o.Verified)
			it.Agrees = pc.Agrees(a.Declaration, o.Item)
		}
		res.Items = append(res.Items, it)
	}
	for code, s := range pc.Agencies {
		o := agencyStateO{Answered: s.Answered, Detail: s.Detail}
		if s.RetryAt > 0 {
			t := db.FromMicros(s.RetryAt)
			o.RetryAt = &t
		}
		res.Agencies[code] = o
	}
	if pc.Status == check.PrecheckDone {
		now, err1 := application.Estimate(a.Declaration)
		then, err2 := application.Estimate(pc.Accepted(a.Declaration))
		if err1 == nil && err2 == nil {
			res.Estimate = &acceptedOut{Now: now.Total.String(), Accepted: then.Total.String()}
		}
	}
	out.Latest = res
	return out, nil
}

// apiPrecheck answers the consent, today's count and the latest
// pre-check with its items. GET /api/v1/application/precheck.
func (p *Portal) apiPrecheck(w http.ResponseWriter, r *http.Request) {
	c, a, ok := p.myApplicationOf(w, r)
	if !ok {
		return
	}
	out, err := p.precheckOut(r, c, a)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, out)
}

// apiRequestPrecheck asks for a pre-check; {"consent": true} records the
// consent when none stands. 202 with the state: poll the GET until the
// latest is done. POST /api/v1/application/precheck.
func (p *Portal) apiRequestPrecheck(w http.ResponseWriter, r *http.Request) {
	c, a, ok := p.myApplicationOf(w, r)
	if !ok {
		return
	}
	var in struct {
		Consent bool `json:"consent"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		web.WriteError(w, r, err)
		return
	}
	err := p.requestPrecheck(r, c, a, in.Consent)
	var out *precheckJSON
	if err == nil {
		out, err = p.precheckOut(r, c, a)
	}
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusAccepted, out)
}

// apiWithdrawPrecheck withdraws the consent. DELETE
// /api/v1/application/precheck/consent → 204.
func (p *Portal) apiWithdrawPrecheck(w http.ResponseWriter, r *http.Request) {
	c, _, ok := p.myApplicationOf(w, r)
	if !ok {
		return
	}
	if err := p.svc.Precheck.WithdrawConsent(r.Context(), c.caller); err != nil {
		web.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// apiTakePrecheck takes the agency's value of one item into the draft:
// {"precheck", "item", "version"} → 200 the application.
// POST /api/v1/application/precheck/take.
func (p *Portal) apiTakePrecheck(w http.ResponseWriter, r *http.Request) {
	c, a, ok := p.myApplicationOf(w, r)
	if !ok {
		return
	}
	var in struct {
		Precheck int64  `json:"precheck"`
		Item     string `json:"item"`
		Version  int    `json:"version"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		web.WriteError(w, r, err)
		return
	}
	a, err := p.svc.Precheck.TakeAgencyValue(r.Context(), c.caller, a, in.Precheck, in.Item, in.Version)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, applicationOut(a))
}
