package portal

import (
	"net/http"
	"strconv"
	"time"

	"jifen/internal/account"
	"jifen/internal/application"
	"jifen/internal/employer"
	"jifen/internal/person"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/web"
)

// registerEmployerAPI adds the employer's JSON API (docs/api.md).
func (p *Portal) registerEmployerAPI(mux *web.Mux) {
	sh := p.sh
	mux.Handle("POST /api/v1/employers", sh.Limiter.Limit(http.HandlerFunc(p.apiRegisterEmployer)))
	mux.Handle("GET /api/v1/employer", sh.RequireUser("", p.apiEmployer))
	mux.Handle("POST /api/v1/employer/reg-code", sh.RequireUser("", p.apiRegenerateCode))
	mux.Handle("GET /api/v1/employer/links", sh.RequireUser("", p.apiEmployerLinks))
	mux.Handle("POST /api/v1/employer/links/{id}/{action}", sh.RequireUser("", p.apiDecideLink))
	mux.Handle("GET /api/v1/employer/applications", sh.RequireUser("", p.apiEmployerApplications))
	mux.Handle("GET /api/v1/employer/applications/{id}", sh.RequireUser("", p.apiEmployerApplication))
	mux.Handle("POST /api/v1/employer/applications/{id}/{action}", sh.RequireUser("", p.apiEmployerAct))
	mux.Handle("POST /api/v1/employer/applications/file", sh.RequireUser("", p.apiFileMany))
	mux.Handle("GET /api/v1/employer/operators", sh.RequireUser("", p.apiOperators))
	mux.Handle("POST /api/v1/employer/invites", sh.RequireUser("", p.apiInvite))
	mux.Handle("GET /api/v1/invites/{token}", http.HandlerFunc(p.apiInviteInfo))
	mux.Handle("POST /api/v1/invites/{token}", sh.Limiter.Limit(http.HandlerFunc(p.apiAcceptInvite)))
}

type employerRegistration struct {
	CreditCode string `json:"credit_code"`
	Name       string `json:"name"`
	District   string `json:"district"`
	Address    string `json:"address"`
	LegalRep   string `json:"legal_rep"`
	// Industry (GB/T 4754 section letter) and Size (large, medium, small,
	// micro) are optional.
	Industry      string `json:"industry,omitempty"`
	Size          string `json:"size,omitempty"`
	OperatorName  string `json:"operator_name"`
	OperatorLogin string `json:"operator_login"`
	Phone         string `json:"phone"`
	Email         string `json:"email"`
	Password      string `json:"password"`
	// PrivacyVersion: the operator's consent to the privacy notice (GET
	// /privacy shows its version); required.
	PrivacyVersion string `json:"privacy_version"`
}

type employerJSON struct {
	ID         int64  `json:"id"`
	CreditCode string `json:"credit_code"`
	Name       string `json:"name"`
	District   string `json:"district"`
	Address    string `json:"address"`
	LegalRep   string `json:"legal_rep"`
	Status     string `json:"status"`
	StatusName string `json:"status_name"`
	RegCode    string `json:"reg_code,omitempty"`
}

func employerOut(e *employer.Employer) employerJSON {
	return employerJSON{ID: e.ID, CreditCode: e.CreditCode, Name: e.Name, District: e.District, Address: e.Address,
		LegalRep: e.LegalRep, Status: string(e.Status), StatusName: employer.StatusName(e.Status), RegCode: e.RegCode}
}

func (p *Portal) apiRegisterEmployer(w http.ResponseWriter, r *http.Request) {
	var in employerRegistration
	if err := web.DecodeJSON(r, &in); err != nil {
		web.WriteError(w, r, err)
		return
	}
	if roundID, _, err := p.svc.CurrentRound(r.Context()); err != nil {
		web.WriteError(w, r, needRound)
		return
	} else if err := p.svc.RequireOpen(r.Context(), roundID, "employer_registration"); err != nil {
		web.WriteError(w, r, err)
		return
	}
	e, _, err := p.svc.Employers.Register(r.Context(), employer.Registration(in))
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusCreated, employerOut(e))
}

func (p *Portal) apiEmployer(w http.ResponseWriter, r *http.Request) {
	c, ok := p.operatorOf(w, r)
	if !ok {
		return
	}
	web.JSON(w, http.StatusOK, employerOut(c.employer))
}

func (p *Portal) apiRegenerateCode(w http.ResponseWriter, r *http.Request) {
	c, ok := p.operatorOf(w, r)
	if !ok {
		return
	}
	code, err := p.svc.Employers.RegenerateCode(r.Context(), c.caller)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, map[string]string{"reg_code": code})
}

type employerLinkJSON struct {
	ID         int64     `json:"id"`
	PersonID   int64     `json:"person_id"`
	PersonName string    `json:"person_name"`
	IDMasked   string    `json:"id_number_masked"`
	Status     string    `json:"status"`
	StatusName string    `json:"status_name"`
	Reason     string    `json:"reason,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
}

func (p *Portal) operatorInRound(r *http.Request) (*operatorCtx, error) {
	c, err := p.operator(r)
	if err != nil {
		return nil, err
	}
	if c.roundID == 0 {
		return nil, needRound
	}
	return c, nil
}

func (p *Portal) apiEmployerLinks(w http.ResponseWriter, r *http.Request) {
	c, ok := p.operatorInRoundOf(w, r)
	if !ok {
		return
	}
	ls, err := p.svc.Persons.LinksOfEmployer(r.Context(), c.employer.ID, c.roundID, person.LinkStatus(r.URL.Query().Get("status")))
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	out := make([]employerLinkJSON, 0, len(ls))
	for _, l := range ls {
		out = append(out, employerLinkJSON{ID: l.ID, PersonID: l.PersonID, PersonName: l.PersonName, IDMasked: l.PersonMasked,
			Status: string(l.Status), StatusName: person.LinkStatusName(l.Status), Reason: l.Reason, CreatedAt: l.CreatedAt})
	}
	web.JSON(w, http.StatusOK, map[string]any{"links": out})
}

func (p *Portal) apiDecideLink(w http.ResponseWriter, r *http.Request) {
	c, ok := p.operatorInRoundOf(w, r)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		web.NotFound(w, r)
		return
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if r.ContentLength != 0 {
		if err := web.DecodeJSON(r, &in); err != nil {
			web.WriteError(w, r, err)
			return
		}
	}
	err = p.decideLink(r, c, id, r.PathValue("action"), in.Reason)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// decideLink confirms, rejects or unlinks. Unlinking is refused once the
// employer has submitted the person's application.
func (p *Portal) decideLink(r *http.Request, c *operatorCtx, id int64, action, reason string) error {
	switch action {
	case "confirm", "reject":
		return p.svc.Persons.DecideLink(r.Context(), c.caller, id, action == "confirm", reason)
	case "unlink":
		l, err := p.svc.Persons.LinkOfEmployer(r.Context(), c.employer.ID, id)
		if err != nil {
			return err
		}
		if a, err := p.svc.Applications.ForPerson(r.Context(), l.PersonID, l.RoundID); err == nil && a.EmployerID == c.employer.ID {
			switch a.Status {
			case application.Draft, application.Returned, application.WithEmployer:
			default:
				return apperr.New(apperr.Conflict, "单位已提交该申请人的申请，不能再解除关联")
			}
		}
		return p.svc.Persons.Unlink(r.Context(), c.caller, id, reason)
	}
	return apperr.New(apperr.NotFound, "不支持的操作")
}

type summaryJSON struct {
	ID         int64   `json:"id"`
	PersonName string  `json:"person_name"`
	Status     string  `json:"status"`
	StatusName string  `json:"status_name"`
	Estimate   float64 `json:"estimate"`
	Eligible   bool    `json:"eligible"`
}

func (p *Portal) apiEmployerApplications(w http.ResponseWriter, r *http.Request) {
	c, ok := p.operatorInRoundOf(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	offset, _ := strconv.Atoi(q.Get("offset"))
	list, counts, err := p.svc.Applications.ForEmployer(r.Context(), c.employer.ID, c.roundID, application.Filter{
		Status: application.Status(q.Get("status")), Name: q.Get("q"), Limit: limit, Offset: offset})
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	out := make([]summaryJSON, 0, len(list))
	for _, s := range list {
		out = append(out, summaryJSON{ID: s.ID, PersonName: s.PersonName, Status: string(s.Status),
			StatusName: application.StatusName(s.Status), Estimate: float64(s.Estimate) / 100, Eligible: s.Eligible})
	}
	cs := map[string]int{}
	for k, v := range counts {
		cs[string(k)] = v
	}
	web.JSON(w, http.StatusOK, map[string]any{"applications": out, "counts": cs})
}

func (p *Portal) apiEmployerApplication(w http.ResponseWriter, r *http.Request) {
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
	es, err := p.svc.Applications.EventsOf(r.Context(), c.caller, a)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, map[string]any{"application": applicationOut(a), "events": eventsOut(es)})
}

func (p *Portal) apiEmployerAct(w http.ResponseWriter, r *http.Request) {
	c, ok := p.operatorOf(w, r)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		web.WriteError(w, r, application.ErrNotFound)
		return
	}
	var in struct {
		Reason string `json:"reason"`
		Note   string `json:"note"`
	}
	if r.ContentLength != 0 {
		if err := web.DecodeJSON(r, &in); err != nil {
			web.WriteError(w, r, err)
			return
		}
	}
	var a *application.Application
	switch r.PathValue("action") {
	case "return":
		a, err = p.svc.Applications.Return(r.Context(), c.caller, id, in.Reason)
	case "file":
		a, err = p.svc.Applications.File(r.Context(), c.caller, id)
	case "forward-review":
		err = p.svc.Applications.ForwardReview(r.Context(), c.caller, id, in.Note)
		if err == nil {
			a, err = p.svc.Applications.Get(r.Context(), c.caller, id)
		}
	default:
		web.NotFound(w, r)
		return
	}
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, applicationOut(a))
}

func (p *Portal) apiFileMany(w http.ResponseWriter, r *http.Request) {
	c, ok := p.operatorOf(w, r)
	if !ok {
		return
	}
	var in struct {
		IDs []int64 `json:"ids"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		web.WriteError(w, r, err)
		return
	}
	if len(in.IDs) == 0 || len(in.IDs) > 500 {
		web.WriteError(w, r, apperr.Field("ids", "请选择1到500份申请"))
		return
	}
	web.JSON(w, http.StatusOK, map[string]any{"results": p.svc.Applications.FileMany(r.Context(), c.caller, in.IDs)})
}

func (p *Portal) apiOperators(w http.ResponseWriter, r *http.Request) {
	c, ok := p.operatorOf(w, r)
	if !ok {
		return
	}
	ops, err := p.svc.Employers.Operators(r.Context(), c.employer.ID)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	type opJSON struct {
		Login   string `json:"login"`
		Name    string `json:"name"`
		Primary bool   `json:"primary"`
	}
	out := make([]opJSON, 0, len(ops))
	for _, o := range ops {
		out = append(out, opJSON{o.Login, o.Name, o.Primary})
	}
	web.JSON(w, http.StatusOK, map[string]any{"operators": out})
}

// apiInvite invites a colleague. The token is in the e-mail only: the
// invitation is accepted by whoever reads that mailbox, never by the one
// who invited.
func (p *Portal) apiInvite(w http.ResponseWriter, r *http.Request) {
	c, ok := p.operatorOf(w, r)
	if !ok {
		return
	}
	var in struct {
		Email string `json:"email"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		web.WriteError(w, r, err)
		return
	}
	inv, _, err := p.svc.Employers.CreateInvite(r.Context(), c.caller, in.Email)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusCreated, map[string]any{"email": inv.Email, "expires_at": inv.ExpiresAt})
}

func (p *Portal) apiInviteInfo(w http.ResponseWriter, r *http.Request) {
	inv, e, err := p.svc.Employers.InviteByToken(r.Context(), r.PathValue("token"))
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, map[string]any{"employer_name": e.Name, "email": inv.Email, "expires_at": inv.ExpiresAt})
}

func (p *Portal) apiAcceptInvite(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Login    string `json:"login"`
		Name     string `json:"name"`
		Phone    string `json:"phone"`
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		web.WriteError(w, r, err)
		return
	}
	u, err := p.svc.Employers.AcceptInvite(r.Context(), r.PathValue("token"), account.NewUser{Login: in.Login,
		DisplayName: in.Name, Phone: in.Phone, Email: in.Email, Password: in.Password})
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusCreated, map[string]string{"login": u.Login})
}
