package portal

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"jifen/internal/application"
	"jifen/internal/person"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/web"
	"jifen/internal/rules"
)

// registerApplicantAPI adds the applicant's JSON API (docs/api.md).
func (p *Portal) registerApplicantAPI(mux *web.Mux) {
	sh := p.sh
	mux.Handle("POST /api/v1/applicants", sh.Limiter.Limit(http.HandlerFunc(p.apiRegisterApplicant)))
	mux.Handle("GET /api/v1/me", sh.RequireUser("", p.apiMe))
	mux.Handle("GET /api/v1/links", sh.RequireUser("", p.apiLinks))
	mux.Handle("POST /api/v1/links", sh.RequireUser("", p.apiRequestLink))
	mux.Handle("GET /api/v1/application", sh.RequireUser("", p.apiApplication))
	mux.Handle("POST /api/v1/application", sh.RequireUser("", p.apiOpenApplication))
	mux.Handle("PUT /api/v1/application/declaration", sh.RequireUser("", p.apiSaveDeclaration))
	mux.Handle("POST /api/v1/application/submit", sh.RequireUser("", p.apiSubmit))
	mux.Handle("GET /api/v1/application/events", sh.RequireUser("", p.apiEvents))
	mux.Handle("POST /api/v1/application/review", sh.RequireUser("", p.apiRequestReview))
	mux.Handle("GET /api/v1/application/attachments", sh.RequireUser("", p.apiAttachments))
	mux.Handle("POST /api/v1/application/attachments", sh.RequireUser("", p.apiAddAttachment))
	mux.AllowBody("POST /api/v1/application/attachments", uploadLimit)
	mux.Handle("DELETE /api/v1/application/attachments/{att}", sh.RequireUser("", p.apiRemoveAttachment))
}

type applicantRegistration struct {
	IDNumber string `json:"id_number"`
	Name     string `json:"name"`
	Login    string `json:"login"`
	Phone    string `json:"phone"`
	Email    string `json:"email"`
	Password string `json:"password"`
	// PrivacyVersion: the version of the privacy notice accepted
	// (GET /privacy shows it); required.
	PrivacyVersion string `json:"privacy_version"`
}

type personJSON struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	IDNumber  string `json:"id_number_masked"`
	BirthDate string `json:"birth_date"`
	Sex       string `json:"sex"`
}

func personOut(pp *person.Person) personJSON {
	return personJSON{ID: pp.ID, Name: pp.Name, IDNumber: pp.IDMasked, BirthDate: pp.BirthDate, Sex: pp.Sex}
}

func (p *Portal) apiRegisterApplicant(w http.ResponseWriter, r *http.Request) {
	var in applicantRegistration
	if err := web.DecodeJSON(r, &in); err != nil {
		web.WriteError(w, r, err)
		return
	}
	pp, _, err := p.svc.Persons.Register(r.Context(), person.Registration(in))
	if err != nil && !errors.Is(err, person.ErrRegisteredAgain) {
		web.WriteError(w, r, err)
		return
	}
	// The same answer whether or not the ID number already had an account
	// (then nothing was created and the holder was told by mail): only what
	// the registration itself says, no id.
	web.JSON(w, http.StatusCreated, registrationAnswer{Name: pp.Name, IDNumber: pp.IDMasked, BirthDate: pp.BirthDate, Sex: pp.Sex})
}

type registrationAnswer struct {
	Name      string `json:"name"`
	IDNumber  string `json:"id_number_masked"`
	BirthDate string `json:"birth_date"`
	Sex       string `json:"sex"`
}

type linkJSON struct {
	ID         int64     `json:"id"`
	EmployerID int64     `json:"employer_id"`
	Employer   string    `json:"employer_name"`
	Status     string    `json:"status"`
	StatusName string    `json:"status_name"`
	Reason     string    `json:"reason,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
}

func linksOut(ls []*person.Link) []linkJSON {
	out := make([]linkJSON, 0, len(ls))
	for _, l := range ls {
		out = append(out, linkJSON{ID: l.ID, EmployerID: l.EmployerID, Employer: l.EmployerName, Status: string(l.Status),
			StatusName: person.LinkStatusName(l.Status), Reason: l.Reason, CreatedAt: l.CreatedAt})
	}
	return out
}

func (p *Portal) apiMe(w http.ResponseWriter, r *http.Request) {
	if c, err := p.applicant(r); err == nil {
		out := map[string]any{"role": "applicant", "person": personOut(c.person), "round_year": c.year}
		web.JSON(w, http.StatusOK, out)
		return
	}
	c, ok := p.operatorOf(w, r)
	if !ok {
		return
	}
	web.JSON(w, http.StatusOK, map[string]any{"role": "employer_operator", "employer": employerOut(c.employer), "round_year": c.year})
}

func (p *Portal) apiLinks(w http.ResponseWriter, r *http.Request) {
	c, ok := p.applicantInRoundOf(w, r)
	if !ok {
		return
	}
	ls, err := p.svc.Persons.LinksOfPerson(r.Context(), c.person.ID, c.roundID)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, map[string]any{"links": linksOut(ls)})
}

func (p *Portal) apiRequestLink(w http.ResponseWriter, r *http.Request) {
	c, ok := p.applicantInRoundOf(w, r)
	if !ok {
		return
	}
	var in struct {
		RegCode string `json:"reg_code"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		web.WriteError(w, r, err)
		return
	}
	if err := p.svc.RequireOpen(r.Context(), c.roundID, "application"); err != nil {
		web.WriteError(w, r, err)
		return
	}
	l, err := p.svc.Persons.RequestLink(r.Context(), c.person, c.roundID, in.RegCode)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusCreated, linksOut([]*person.Link{l})[0])
}

func (p *Portal) applicantInRound(r *http.Request) (*applicantCtx, error) {
	c, err := p.applicant(r)
	if err != nil {
		return nil, err
	}
	if c.roundID == 0 {
		return nil, needRound
	}
	return c, nil
}

// applicationJSON is the API's view of an application.
type applicationJSON struct {
	ID           int64                   `json:"id"`
	RoundYear    int                     `json:"round_year"`
	Status       string                  `json:"status"`
	StatusName   string                  `json:"status_name"`
	EmployerID   int64                   `json:"employer_id"`
	EmployerName string                  `json:"employer_name"`
	PersonName   string                  `json:"person_name"`
	Declaration  rules.CalculatorRequest `json:"declaration"`
	Estimate     rules.Points            `json:"estimate"`
	Eligible     bool                    `json:"eligible"`
	Version      int                     `json:"version"`
	ReturnReason string                  `json:"return_reason,omitempty"`
	SubmittedAt  *time.Time              `json:"submitted_at,omitempty"`
	FiledAt      *time.Time              `json:"filed_at,omitempty"`
	UpdatedAt    time.Time               `json:"updated_at"`
	// FinalScore and FinalEligible are set once the application is final:
	// the score after the 复查 (or the first result without one). Rank and
	// cutoff are not part of the answer before the publication.
	FinalScore    *rules.Points `json:"final_score,omitempty"`
	FinalEligible *bool         `json:"final_eligible,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func applicationOut(a *application.Application) applicationJSON {
	return applicationJSON{ID: a.ID, RoundYear: a.RoundYear, Status: string(a.Status), StatusName: application.StatusName(a.Status),
		EmployerID: a.EmployerID, EmployerName: a.EmployerName, PersonName: a.PersonName, Declaration: a.Declaration,
		Estimate: a.Estimate, Eligible: a.Eligible, Version: a.Version, ReturnReason: a.ReturnReason,
		SubmittedAt: timePtr(a.SubmittedAt), FiledAt: timePtr(a.FiledAt), UpdatedAt: a.UpdatedAt}
}

func (p *Portal) myApplication(r *http.Request) (*applicantCtx, *application.Application, error) {
	c, err := p.applicantInRound(r)
	if err != nil {
		return nil, nil, err
	}
	a, err := p.svc.Applications.ForPerson(r.Context(), c.person.ID, c.roundID)
	return c, a, err
}

func (p *Portal) apiApplication(w http.ResponseWriter, r *http.Request) {
	_, a, ok := p.myApplicationOf(w, r)
	if !ok {
		return
	}
	out := applicationOut(a)
	if a.Status == application.Final || a.Status == application.Published {
		score, eligible, _, err := p.svc.Applications.Score(r.Context(), a.ID)
		if err != nil {
			web.WriteError(w, r, err)
			return
		}
		total := rules.Points(score)
		out.FinalScore, out.FinalEligible = &total, &eligible
	}
	web.JSON(w, http.StatusOK, out)
}

// apiOpenApplication creates the applicant's application for the current
// round (idempotent: the same application comes back the second time).
func (p *Portal) apiOpenApplication(w http.ResponseWriter, r *http.Request) {
	c, ok := p.applicantInRoundOf(w, r)
	if !ok {
		return
	}
	a, err := p.openApplication(r, c)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, applicationOut(a))
}

func (p *Portal) openApplication(r *http.Request, c *applicantCtx) (*application.Application, error) {
	empID, err := p.svc.Persons.ConfirmedEmployer(r.Context(), c.person.ID, c.roundID)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	return p.svc.Applications.Open(r.Context(), c.caller, application.Subject{PersonID: c.person.ID, EmployerID: empID,
		BirthDate: c.person.BirthDate, Sex: c.person.Sex}, c.roundID, c.year)
}

type declarationUpdate struct {
	Version     int                     `json:"version"`
	Declaration rules.CalculatorRequest `json:"declaration"`
}

func (p *Portal) apiSaveDeclaration(w http.ResponseWriter, r *http.Request) {
	c, a, ok := p.myApplicationOf(w, r)
	if !ok {
		return
	}
	var in declarationUpdate
	if err := web.DecodeJSON(r, &in); err != nil {
		web.WriteError(w, r, err)
		return
	}
	a, err := p.svc.Applications.SaveDraftOf(r.Context(), c.caller, a, in.Declaration, in.Version)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, applicationOut(a))
}

func (p *Portal) apiSubmit(w http.ResponseWriter, r *http.Request) {
	c, a, ok := p.myApplicationOf(w, r)
	if !ok {
		return
	}
	var in struct {
		Truthful bool `json:"truthful"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		web.WriteError(w, r, err)
		return
	}
	a, err := p.svc.Applications.SubmitToEmployer(r.Context(), c.caller, a.ID, in.Truthful)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, applicationOut(a))
}

type eventJSON struct {
	At        time.Time `json:"at"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	ToName    string    `json:"to_name"`
	ActorRole string    `json:"actor_role"`
	Reason    string    `json:"reason,omitempty"`
}

func eventsOut(es []application.Event) []eventJSON {
	out := make([]eventJSON, 0, len(es))
	for _, e := range es {
		out = append(out, eventJSON{At: e.At, From: string(e.From), To: string(e.To), ToName: application.StatusName(e.To),
			ActorRole: e.ActorRole, Reason: e.Reason})
	}
	return out
}

func (p *Portal) apiEvents(w http.ResponseWriter, r *http.Request) {
	c, a, ok := p.myApplicationOf(w, r)
	if !ok {
		return
	}
	es, err := p.svc.Applications.EventsOf(r.Context(), c.caller, a)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, map[string]any{"events": eventsOut(es)})
}

func (p *Portal) apiRequestReview(w http.ResponseWriter, r *http.Request) {
	c, a, ok := p.myApplicationOf(w, r)
	if !ok {
		return
	}
	var in struct {
		Indicators []string `json:"indicators"`
		Reason     string   `json:"reason"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		web.WriteError(w, r, err)
		return
	}
	if err := p.svc.Applications.RequestReview(r.Context(), c.caller, a.ID, in.Indicators, in.Reason); err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, map[string]string{"status": "review_requested"})
}

type attachmentJSON struct {
	ID          int64     `json:"id"`
	Indicator   string    `json:"indicator"`
	Filename    string    `json:"filename"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	CreatedAt   time.Time `json:"created_at"`
}

func (p *Portal) apiAttachments(w http.ResponseWriter, r *http.Request) {
	c, a, ok := p.myApplicationOf(w, r)
	if !ok {
		return
	}
	list, err := p.svc.Attachments.ListOf(r.Context(), c.caller, a)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	out := make([]attachmentJSON, 0, len(list))
	for _, at := range list {
		out = append(out, attachmentJSON{at.ID, at.Indicator, at.Filename, at.ContentType, at.Size, at.CreatedAt})
	}
	web.JSON(w, http.StatusOK, map[string]any{"attachments": out})
}

// uploadLimit bounds a multipart upload: one 10 MB file and its form fields.
const uploadLimit = application.MaxAttachmentBytes + 64<<10

func (p *Portal) apiAddAttachment(w http.ResponseWriter, r *http.Request) {
	c, a, ok := p.myApplicationOf(w, r)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, uploadLimit)
	mr, err := r.MultipartReader()
	if err != nil {
		web.WriteError(w, r, apperr.Field("file", "请以 multipart/form-data 上传文件"))
		return
	}
	indicator := ""
	for {
		part, err := mr.NextPart()
		if err != nil {
			if web.IsTooLarge(err) {
				web.WriteError(w, r, err)
				return
			}
			web.WriteError(w, r, apperr.Field("file", "没有收到文件"))
			return
		}
		switch part.FormName() {
		case "indicator":
			b, _ := io.ReadAll(io.LimitReader(part, 64))
			indicator = string(b)
		case "file":
			at, err := p.svc.Attachments.Add(r.Context(), c.caller, a.ID, indicator, part.FileName(), part)
			if err != nil {
				web.WriteError(w, r, err)
				return
			}
			web.JSON(w, http.StatusCreated, attachmentJSON{at.ID, at.Indicator, at.Filename, at.ContentType, at.Size, at.CreatedAt})
			return
		}
	}
}

func (p *Portal) apiRemoveAttachment(w http.ResponseWriter, r *http.Request) {
	c, a, ok := p.myApplicationOf(w, r)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("att"), 10, 64)
	if err != nil {
		web.WriteError(w, r, apperr.New(apperr.NotFound, "材料不存在"))
		return
	}
	if err := p.svc.Attachments.Remove(r.Context(), c.caller, a.ID, id); err != nil {
		web.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
