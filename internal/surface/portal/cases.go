package portal

import (
	"context"
	"net/http"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/check"
	"jifen/internal/ranking"

	"jifen/internal/account"
	"jifen/internal/application"
	"jifen/internal/discrepancy"
	"jifen/internal/employer"
	"jifen/internal/mailing"
	"jifen/internal/objection"
	"jifen/internal/person"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/web"
	"jifen/internal/publicity"
	"jifen/internal/review"
	"jifen/internal/surface/shell"
)

// Services are the domain services the portal's case pages and API use.
type Services struct {
	Employers    *employer.Service
	Persons      *person.Service
	Applications *application.Service
	Attachments  *application.Attachments
	// Discrepancies holds the cross-check's requests for material; nil
	// leaves /me/corrections out.
	Discrepancies *discrepancy.Service
	// Review shows the 复查 decisions and books in-person checks; nil
	// leaves /me/review/progress out.
	Review *review.Service
	// CurrentRound returns the id and year of the round the portal works on
	// now, or a NotFound error when there is none.
	CurrentRound func(ctx context.Context) (id int64, year int, err error)
	// RequireOpen checks a window of a round ("employer_registration",
	// "application", "employer_submission", "review").
	RequireOpen func(ctx context.Context, roundID int64, kind string) error
	// Statement returns an application's first-round score statement from
	// the cross-check, nil before the check (nil func: no cross-check).
	Statement func(ctx context.Context, applicationID int64) (*check.Statement, error)
	// Precheck asks the agencies about an applicant before submission
	// (预核验); nil leaves it out of the summary page.
	Precheck *check.Engine
	// Views returns the readings of an applicant's file by staff (office,
	// role, time, purpose; never who); nil leaves /me/views out.
	Views func(ctx context.Context, personID int64) ([]audit.View, error)
	// History holds the past official lists (历年公示); nil leaves
	// /publicity/history out.
	History *publicity.History
	// Board holds every public list in memory (积分公示); nil leaves
	// /publicity and its API out. PublicLimiter limits each client on those
	// pages (nil: no limit).
	Board         *publicity.Board
	PublicLimiter *web.Limiter
	// PublicNumber returns the 公示编号 of a person's application in
	// year's current committed ranking (NotFound when not qualified).
	PublicNumber func(ctx context.Context, personID int64, year int) (string, error)
	// Standing returns a published application's place in its round's
	// ranking, nil before publication.
	Standing func(ctx context.Context, applicationID int64) (*ranking.Standing, error)
	// Objections takes objections to the published list (异议/举报); nil
	// leaves /publicity/objection out. ObjectionLimiter limits their
	// submission per client (nil: one per 10 s, burst 3).
	Objections       *objection.Service
	ObjectionLimiter *web.Limiter
	// Mailing takes unsubscribes from campaign mail (邮件群发) with
	// UnsubscribeKey, the key of the links; nil leaves /mail/unsubscribe
	// out.
	Mailing        *mailing.Lists
	UnsubscribeKey []byte
	// Unsubscribed counts an unsubscribe in its campaign's figures (nil:
	// not counted).
	Unsubscribed func(ctx context.Context, campaignID int64) error
}

// applicantCtx is a logged-in applicant with the current round.
type applicantCtx struct {
	user    *account.User
	person  *person.Person
	roundID int64
	year    int
	caller  actor.Actor // the applicant acting on their own case
}

func (p *Portal) applicant(r *http.Request) (*applicantCtx, error) {
	u := shell.User(r.Context())
	if u == nil || !u.HasRole(account.Applicant) {
		return nil, apperr.New(apperr.Forbidden, "此功能仅供申请人使用")
	}
	per, err := p.svc.Persons.ByUser(r.Context(), u.ID)
	if err != nil {
		return nil, apperr.New(apperr.Forbidden, "此账号不是申请人账号")
	}
	as := shell.Actor(r.Context())
	as.PersonID = per.ID
	c := &applicantCtx{user: u, person: per, caller: as}
	// With no round yet, roundID stays 0 and the pages say so.
	c.roundID, c.year, _ = p.svc.CurrentRound(r.Context())
	return c, nil
}

// operatorCtx is a logged-in employer operator with the current round.
type operatorCtx struct {
	user     *account.User
	employer *employer.Employer
	roundID  int64
	year     int
	caller   actor.Actor // the operator acting for the employer
}

func (p *Portal) operator(r *http.Request) (*operatorCtx, error) {
	u := shell.User(r.Context())
	if u == nil || !u.HasRole(account.EmployerOperator) {
		return nil, apperr.New(apperr.Forbidden, "此功能仅供用人单位经办人使用")
	}
	emp, err := p.svc.Employers.ForOperator(r.Context(), u.ID)
	if err != nil {
		return nil, apperr.New(apperr.Forbidden, "此账号未关联单位")
	}
	as := shell.Actor(r.Context())
	as.EmployerID = emp.ID
	c := &operatorCtx{user: u, employer: emp, caller: as}
	c.roundID, c.year, _ = p.svc.CurrentRound(r.Context())
	return c, nil
}

// needRound is the error when a function needs a round and none exists.
var needRound = apperr.New(apperr.Conflict, "当前没有进行中的积分落户年度批次")

// answered writes err, if any, and reports whether the handler may go on:
// the one place the API handlers turn a failed lookup into an answer.
func answered(w http.ResponseWriter, r *http.Request, err error) bool {
	if err != nil {
		web.WriteError(w, r, err)
		return false
	}
	return true
}

func (p *Portal) operatorInRoundOf(w http.ResponseWriter, r *http.Request) (*operatorCtx, bool) {
	c, err := p.operatorInRound(r)
	return c, answered(w, r, err)
}

func (p *Portal) applicantInRoundOf(w http.ResponseWriter, r *http.Request) (*applicantCtx, bool) {
	c, err := p.applicantInRound(r)
	return c, answered(w, r, err)
}

func (p *Portal) myApplicationOf(w http.ResponseWriter, r *http.Request) (*applicantCtx, *application.Application, bool) {
	c, a, err := p.myApplication(r)
	return c, a, answered(w, r, err)
}
