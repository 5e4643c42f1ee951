package application

import (
	"context"
	"strconv"
	"time"

	"jifen/internal/actor"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
)

// The service clock (办理时限) of an application: who holds the case, in
// which step, since when and by when it must move. Every status-changing
// write of this package sets the three columns it lives in — district (the
// employer's district, so a district's queue is one indexed read),
// step_started_at and step_due_at — so the queue (internal/casework) reads
// them without a join; the limits come from Deadlines (casework's step
// limits over the working-day calendar).

// Step is a step of the service clock: the status, refined by the 复查
// request's own progress while the application is review_requested.
type Step string

// The steps of the clock that carry a limit by default (casework).
const (
	StepFirstResult     Step = "first_result"     // the applicant may ask for 复查
	StepReviewRequested Step = "review_requested" // the employer forwards the request with its evidence
	StepReviewForwarded Step = "review_forwarded" // the district office receives it
	StepReviewReceived  Step = "review_received"  // the district office decides it
)

// QueueSteps lists the steps of the office's work queues, in order.
var QueueSteps = []Step{StepFirstResult, StepReviewRequested, StepReviewForwarded, StepReviewReceived}

var stepNames = map[Step]string{
	StepFirstResult:     "初核结果已出，可申请复查",
	StepReviewRequested: "复查申请待单位转交",
	StepReviewForwarded: "复查申请待区人力社保局接收",
	StepReviewReceived:  "复查审核中",
}

// StepName is the Chinese name of a step.
func StepName(st Step) string {
	if n, ok := stepNames[st]; ok {
		return n
	}
	return StatusName(Status(st))
}

// The holders of a case, as the applicant and the employer see them.
const (
	HolderApplicant = "申请人"
	HolderEmployer  = "用人单位"
	HolderDistrict  = "区人力社保局"
	HolderCity      = "市人力社保局"
)

// Holder is who must act in a step.
func Holder(st Step) string {
	switch st {
	case Step(Draft), Step(Returned), StepFirstResult:
		return HolderApplicant
	case Step(WithEmployer), StepReviewRequested:
		return HolderEmployer
	case StepReviewForwarded, StepReviewReceived:
		return HolderDistrict
	case Step(Published):
		return ""
	}
	return HolderCity
}

// StepOf is the step of an application in status with its 复查 request's
// status ("" without one).
func StepOf(status Status, review string) Step {
	if status == ReviewRequested {
		switch review {
		case "forwarded":
			return StepReviewForwarded
		case "received":
			return StepReviewReceived
		}
		return StepReviewRequested
	}
	return Step(status)
}

// Deadlines gives the deadline of a step begun at start in a round (the
// zero time: the step has no limit). casework.Service implements it.
type Deadlines interface {
	Due(ctx context.Context, roundID int64, step Step, start time.Time) (time.Time, error)
}

// WithDeadlines sets the limits of the service clock; without them every
// step is written without a deadline.
func (s *Service) WithDeadlines(d Deadlines) *Service { s.deadlines = d; return s }

// dueAt is the deadline of step begun at now (microseconds), 0 for none.
func (s *Service) dueAt(ctx context.Context, roundID int64, step Step, now int64) (int64, error) {
	if s.deadlines == nil {
		return 0, nil
	}
	t, err := s.deadlines.Due(ctx, roundID, step, db.FromMicros(now))
	if err != nil || t.IsZero() {
		return 0, err
	}
	return db.Micros(t), nil
}

// clockSet is the assignments of an UPDATE of applications that starts a
// step: the district from the employer, the start at the placeholder
// started and the deadline at due (placeholder numbers, never values).
func clockSet(started, due int) string {
	return `district = COALESCE((SELECT e.district FROM employers e WHERE e.id = applications.employer_id), ''), ` +
		`step_started_at = $` + strconv.Itoa(started) + `, step_due_at = $` + strconv.Itoa(due)
}

// restartClock starts step of application id at now, in the caller's
// transaction: the 复查 request's own moves (forwarded, received) do not
// change the status but hand the case to someone else.
func (s *Service) restartClock(ctx context.Context, roundID, id int64, step Step, now int64) error {
	due, err := s.dueAt(ctx, roundID, step, now)
	if err != nil {
		return err
	}
	_, err = s.db.Exec(ctx, `UPDATE applications SET `+clockSet(1, 2)+` WHERE id = $3`, now, due, id)
	return err
}

// StepClock is the service clock of one application.
type StepClock struct {
	Step      Step      `json:"step"`
	StepName  string    `json:"step_name"`
	Holder    string    `json:"holder"`
	StartedAt time.Time `json:"started_at"`
	DueAt     time.Time `json:"due_at"` // zero: no limit
	Overdue   bool      `json:"overdue"`
}

// Clock returns the service clock of an application the caller may see
// (the applicant, the employer or an officer, as Get decides).
func (s *Service) Clock(ctx context.Context, c actor.Actor, id int64) (StepClock, error) {
	a, err := s.Get(ctx, c, id)
	if err != nil {
		return StepClock{}, err
	}
	return s.ClockOf(ctx, a)
}

// ClockOf is Clock for an application the caller has already read with
// permission.
func (s *Service) ClockOf(ctx context.Context, a *Application) (StepClock, error) {
	var started, due int64
	var review string
	err := s.db.QueryRow(ctx, `SELECT a.step_started_at, a.step_due_at, COALESCE(rr.status, '') FROM applications a
		LEFT JOIN review_requests rr ON rr.application_id = a.id WHERE a.id = $1`, a.ID).Scan(&started, &due, &review)
	if err != nil {
		return StepClock{}, apperr.Wrap(err)
	}
	st := StepOf(a.Status, review)
	c := StepClock{Step: st, StepName: StepName(st), Holder: Holder(st)}
	if started != 0 {
		c.StartedAt = db.FromMicros(started)
	}
	if due != 0 {
		c.DueAt = db.FromMicros(due)
		c.Overdue = s.clock.Now().After(c.DueAt)
	}
	return c, nil
}

// CaseEvent writes a timeline row for a change of who works a case
// (casework: claim, release, assignment), in the caller's transaction. The
// status stays; the applicant sees the role and the reason, never the
// officer's name.
func (s *Service) CaseEvent(ctx context.Context, c actor.Actor, id int64, reason string) error {
	_, err := s.db.Exec(ctx, `INSERT INTO application_events (application_id, at, from_status, to_status, actor_id, actor_role, reason)
		SELECT id, $2, status, status, $3, $4, $5 FROM applications WHERE id = $1`,
		id, db.Micros(s.clock.Now()), c.UserID, string(c.Role()), reason)
	return err
}
