package application

import (
	"context"
	"fmt"

	"jifen/internal/actor"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
)

// Bans is what the application service needs of the fraud register
// (虚假材料库, internal/fraud): whether a person or an employer is barred in
// a round's year, and why. Each answers "" when nothing bars them. The
// register's package implements it; application does not import it, so the
// register can read applications.
type Bans interface {
	PersonBan(ctx context.Context, personID int64, year int) (string, error)
	EmployerBan(ctx context.Context, employerID int64, year int) (string, error)
}

// WithBans makes submission and filing consult the fraud register: a banned
// person cannot submit to the employer, and no one's application is filed
// for them or by a banned employer. Without it nothing is barred.
func (s *Service) WithBans(b Bans) *Service { s.bans = b; return s }

// Barred is why the fraud register stops an application from moving on, in
// words for the page of whoever reads it ("" when nothing does): the
// applicant's ban, then the employer's. The employer's pages show it beside
// the 确认提交 button.
func (s *Service) Barred(ctx context.Context, a *Application) (person, employer string, err error) {
	if s.bans == nil {
		return "", "", nil
	}
	if person, err = s.bans.PersonBan(ctx, a.PersonID, a.RoundYear); err != nil {
		return "", "", err
	}
	if employer, err = s.bans.EmployerBan(ctx, a.EmployerID, a.RoundYear); err != nil {
		return "", "", err
	}
	return person, employer, nil
}

// checkPersonBan refuses to move the application of a banned person. own
// says whether the applicant is the one asking (您) or the employer is.
func (s *Service) checkPersonBan(ctx context.Context, a *Application, own bool) error {
	if s.bans == nil {
		return nil
	}
	why, err := s.bans.PersonBan(ctx, a.PersonID, a.RoundYear)
	if err != nil || why == "" {
		return err
	}
	if own {
		return apperr.New(apperr.Conflict, "不能提交：您"+why+"积分落户（已列入虚假材料库）")
	}
	return apperr.New(apperr.Conflict, "不能提交该申请：申请人"+why+"积分落户（已列入虚假材料库）")
}

// checkEmployerBan refuses a filing by a banned employer.
func (s *Service) checkEmployerBan(ctx context.Context, a *Application) error {
	if s.bans == nil {
		return nil
	}
	why, err := s.bans.EmployerBan(ctx, a.EmployerID, a.RoundYear)
	if err != nil || why == "" {
		return err
	}
	return apperr.New(apperr.Conflict, "不能提交：本单位"+why+"（已列入虚假材料库）")
}

// Note writes a line on an application's timeline without changing its
// status, with its audit record: the fraud register tells the applicant's
// (and the employer's) case that a ban took effect. It runs inside the
// caller's transaction.
func (s *Service) Note(ctx context.Context, c actor.Actor, id int64, reason string) error {
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		a, err := s.get(ctx, id)
		if err != nil {
			return err
		}
		if _, err := s.db.Exec(ctx, `INSERT INTO application_events (application_id, at, from_status, to_status, actor_id, actor_role,
			reason) VALUES ($1, $2, $3, $3, $4, $5, $6)`, a.ID, db.Micros(s.clock.Now()), string(a.Status), c.UserID,
			string(c.Role()), reason); err != nil {
			return err
		}
		e := auditEntry("application.note", a.ID, reason)
		e.ActorID, e.ActorLogin, e.ActorRole = c.UserID, c.Login, string(c.Role())
		if err := s.audit.Record(ctx, e); err != nil {
			return fmt.Errorf("audit application.note: %w", err)
		}
		return nil
	})
}
