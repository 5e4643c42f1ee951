// Package application holds applications (积分申请): one per applicant per
// round, the declaration per indicator (the same facts the public calculator
// takes), the live estimate, the state machine from draft to publication,
// the timeline of every change, attachments and 复查 requests. Every change
// is one transaction with its timeline row, its audit record and the e-mail
// it causes.
package application

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/platform/jobs"
	"jifen/internal/platform/mail"
	"jifen/internal/rules"
)

// Status is where an application stands.
type Status string

// The statuses, in the order of the procedure (DOMAIN.md §3).
const (
	Draft           Status = "draft"
	WithEmployer    Status = "with_employer"
	Returned        Status = "returned"
	Submitted       Status = "submitted"
	Checking        Status = "checking"
	FirstResult     Status = "first_result"
	ReviewRequested Status = "review_requested"
	Final           Status = "final"
	Published       Status = "published"
)

var statusNames = map[Status]string{
	Draft: "草稿", WithEmployer: "待单位审核", Returned: "单位已退回", Submitted: "单位已提交", Checking: "数据比对中",
	FirstResult: "初核结果已出", ReviewRequested: "已申请复查", Final: "审核完成", Published: "已公示",
}

// StatusName is the Chinese name of a status.
func StatusName(s Status) string { return statusNames[s] }

// Statuses lists every status in procedure order.
var Statuses = []Status{Draft, WithEmployer, Returned, Submitted, Checking, FirstResult, ReviewRequested, Final, Published}

// Editable reports whether the applicant may still change the declaration.
func (s Status) Editable() bool { return s == Draft || s == Returned }

// Application is one applicant's application in one round.
type Application struct {
	ID           int64
	RoundID      int64
	RoundYear    int
	PersonID     int64
	PersonName   string
	EmployerID   int64
	EmployerName string
	Status       Status
	Declaration  rules.CalculatorRequest
	Estimate     rules.Points
	Eligible     bool
	TruthfulAt   time.Time
	SubmittedAt  time.Time // to the employer
	FiledAt      time.Time // by the employer to the bureau
	ReturnReason string
	Version      int
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// IdentityCheck is the 公安 check of identity and residence permit made
	// when the applicant submits (internal/check): '' not yet asked, match,
	// mismatch, not_found or unavailable.
	IdentityCheck  string
	IdentityDetail string
	// carried is the JSON list of items carried over from an earlier round
	// and not yet confirmed, as read with the application (carryover.go);
	// empty when it was not carried over.
	carried string
}

// Event is one row of an application's timeline.
type Event struct {
	ID        int64
	At        time.Time
	From, To  Status
	ActorID   int64
	ActorRole string
	Reason    string
}

// Windows checks that a round's window is open now; the round service
// implements it. Kinds: "application", "employer_submission", "review".
type Windows interface {
	RequireOpen(ctx context.Context, roundID int64, kind string) error
}

// Service manages applications.
type Service struct {
	db      *db.DB
	audit   *audit.Log
	clock   clock.Clock
	outbox  *mail.Outbox
	windows Windows
	bans    Bans // the fraud register (bans.go); nil bars no one
	// deadlines gives the service clock's limits (steps.go); nil: none.
	deadlines Deadlines
	jobs      *jobs.Jobs // the carry-over job (carryover.go); nil: not registered
}

// NewService returns the application service.
func NewService(d *db.DB, a *audit.Log, c clock.Clock, out *mail.Outbox, w Windows) *Service {
	return &Service{db: d, audit: a, clock: c, outbox: out, windows: w}
}

// ErrNotFound is the answer for an application that does not exist or that
// the caller may not see: the two are not told apart.
var ErrNotFound = apperr.New(apperr.NotFound, "申请不存在")

const selectApp = `SELECT a.id, a.round_id, r.year, a.person_id, p.name, a.employer_id, e.name, a.status, a.declaration,
	a.estimate, a.eligible, a.truthful_at, a.submitted_at, a.filed_at, a.return_reason, a.version, a.created_at, a.updated_at,
	a.identity_check, a.identity_detail,
	COALESCE((SELECT c.items FROM application_carryovers c WHERE c.application_id = a.id LIMIT 1), '')
	FROM applications a JOIN rounds r ON r.id = a.round_id JOIN persons p ON p.id = a.person_id
	JOIN employers e ON e.id = a.employer_id`

func scanApp(row interface{ Scan(...any) error }) (*Application, error) {
	a := &Application{}
	var st, decl string
	var est, ta, sa, fa, ca, ua int64
	if err := row.Scan(&a.ID, &a.RoundID, &a.RoundYear, &a.PersonID, &a.PersonName, &a.EmployerID, &a.EmployerName, &st, &decl,
		&est, &a.Eligible, &ta, &sa, &fa, &a.ReturnReason, &a.Version, &ca, &ua, &a.IdentityCheck, &a.IdentityDetail, &a.carried); err != nil {
		return nil, err
	}
	a.Status, a.Estimate = Status(st), rules.Points(est)
	a.TruthfulAt, a.SubmittedAt, a.FiledAt = db.FromMicros(ta), db.FromMicros(sa), db.FromMicros(fa)
	a.CreatedAt, a.UpdatedAt = db.FromMicros(ca), db.FromMicros(ua)
	if err := json.Unmarshal([]byte(decl), &a.Declaration); err != nil {
		return nil, fmt.Errorf("application %d: declaration: %w", a.ID, err)
	}
	return a, nil
}

func (s *Service) get(ctx context.Context, id int64) (*Application, error) {
	a, err := scanApp(s.db.QueryRow(ctx, selectApp+` WHERE a.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	return a, nil
}

// Get returns an application the caller may see. Anything else is
// ErrNotFound, and the attempt is audited; so is a read by anyone but the
// applicant (auditRead).
func (s *Service) Get(ctx context.Context, c actor.Actor, id int64) (*Application, error) {
	a, err := s.getFor(ctx, c, id)
	if err == nil {
		s.auditRead(ctx, c, a, audit.ReadApplication, applicationRead(a))
	}
	return a, s.denied(ctx, id, err)
}

// errDenied marks a refusal to show someone else's application: callers see
// ErrNotFound; the service audits it once the transaction is over (inside
// it, the record would be rolled back with the refused change).
var errDenied = &apperr.Error{Code: apperr.NotFound, Message: ErrNotFound.Message, Err: errors.New("not the caller's application")}

func (s *Service) getFor(ctx context.Context, c actor.Actor, id int64) (*Application, error) {
	a, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !canSee(c, a) {
		return nil, errDenied
	}
	return a, nil
}

// denied records a refused access in the audit trail and returns err. It
// must run outside the transaction that found the refusal.
func (s *Service) denied(ctx context.Context, id int64, err error) error {
	if err == errDenied {
		_ = s.audit.Record(ctx, audit.Entry{Action: "access.denied", ObjectType: "application", ObjectID: fmt.Sprint(id),
			Outcome: audit.Denied, Reason: "not the caller's application"})
	}
	return err
}

// mayRead is the access check of an application already read: nil when c
// may see a, else ErrNotFound, audited as Get audits it.
func (s *Service) mayRead(ctx context.Context, c actor.Actor, a *Application) error {
	if !canSee(c, a) {
		return s.denied(ctx, a.ID, errDenied)
	}
	return nil
}

// canSee says whether c may read a: an official who handles cases, the
// applicant whose it is, or an operator of the employer it is filed with.
func canSee(c actor.Actor, a *Application) bool {
	switch {
	case c.Can(actor.PermCasesDistrict) || c.Can(actor.PermCasesCity):
		return true
	case c.PersonID != 0 && c.Can(actor.PermApply):
		return a.PersonID == c.PersonID
	case c.EmployerID != 0 && c.Can(actor.PermEmployer):
		return a.EmployerID == c.EmployerID
	}
	return false
}

// ForPerson returns the applicant's application in a round, or ErrNotFound.
func (s *Service) ForPerson(ctx context.Context, personID, roundID int64) (*Application, error) {
	a, err := scanApp(s.db.QueryRow(ctx, selectApp+` WHERE a.person_id = $1 AND a.round_id = $2`, personID, roundID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	return a, nil
}

// Events returns the timeline of an application the caller may see.
func (s *Service) Events(ctx context.Context, c actor.Actor, id int64) ([]Event, error) {
	a, err := s.Get(ctx, c, id)
	if err != nil {
		return nil, err
	}
	return s.EventsOf(ctx, c, a)
}

// EventsOf is Events of an application the caller has just read (with Get
// or ForPerson): the access check runs on a as read, so a page that shows
// the application and its timeline reads the application once.
func (s *Service) EventsOf(ctx context.Context, c actor.Actor, a *Application) ([]Event, error) {
	if err := s.mayRead(ctx, c, a); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT id, at, from_status, to_status, actor_id, actor_role, reason
		FROM application_events WHERE application_id = $1 ORDER BY id`, a.ID)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var at int64
		var from, to string
		if err := rows.Scan(&e.ID, &at, &from, &to, &e.ActorID, &e.ActorRole, &e.Reason); err != nil {
			return nil, apperr.Wrap(err)
		}
		e.At, e.From, e.To = db.FromMicros(at), Status(from), Status(to)
		out = append(out, e)
	}
	return out, rows.Err()
}

// record writes the timeline row and the audit record of a change.
func (s *Service) record(ctx context.Context, c actor.Actor, a *Application, to Status, reason string) error {
	if _, err := s.db.Exec(ctx, `INSERT INTO application_events (application_id, at, from_status, to_status, actor_id, actor_role, reason)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, a.ID, db.Micros(s.clock.Now()), string(a.Status), string(to), c.UserID, string(c.Role()), reason); err != nil {
		return err
	}
	return s.audit.Record(ctx, audit.Entry{Action: "application." + string(to), ObjectType: "application", ObjectID: fmt.Sprint(a.ID),
		Reason: fmt.Sprintf("%s → %s %s", a.Status, to, reason)})
}

func indicatorCodes() []string { return rules.IndicatorCodes() }

func auditEntry(action string, id int64, reason string) audit.Entry {
	return audit.Entry{Action: action, ObjectType: "application", ObjectID: fmt.Sprint(id), Reason: reason}
}
