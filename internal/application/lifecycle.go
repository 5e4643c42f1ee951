package application

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"jifen/internal/actor"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
	"jifen/internal/rules"
)

// Subject is what the application service needs to know of an applicant
// when it opens an application: the person, the confirmed employer, and the
// facts from the ID number that the applicant cannot edit.
type Subject struct {
	PersonID   int64
	EmployerID int64 // the confirmed employer in the round; 0 if none
	BirthDate  string
	Sex        string
}

// Open returns the applicant's application in the round, creating an empty
// draft the first time. It needs a confirmed employer and the application
// window. Calling it twice gives the same application.
func (s *Service) Open(ctx context.Context, c actor.Actor, sub Subject, roundID int64, year int) (*Application, error) {
	if a, err := s.ForPerson(ctx, sub.PersonID, roundID); err == nil {
		return a, nil
	} else if !apperr.Is(err, apperr.NotFound) {
		return nil, err
	}
	if sub.EmployerID == 0 {
		return nil, apperr.New(apperr.Conflict, "请先关联用人单位，并等待单位确认后再填报")
	}
	if err := s.windows.RequireOpen(ctx, roundID, "application"); err != nil {
		return nil, err
	}
	decl := rules.CalculatorRequest{ApplicationYear: year, BirthDate: sub.BirthDate, Sex: sub.Sex, ResidencePermit: true}
	// A carry-over from an earlier round (carryover.go) fills the draft.
	carry, err := s.pendingCarry(ctx, roundID, sub.PersonID)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	if carry != nil {
		decl = carry.decl
		decl.ApplicationYear, decl.BirthDate, decl.Sex = year, sub.BirthDate, sub.Sex
	}
	b, _ := json.Marshal(decl)
	// The new draft's estimate is stored as every save stores it, so the
	// lists and the API show the figure the pages compute (not 0).
	var est int64
	var eligible bool
	if res, err := Estimate(decl); err == nil {
		est, eligible = int64(res.Total), res.Eligible
	}
	var out *Application
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		now := db.Micros(s.clock.Now())
		var id int64
		err := s.db.QueryRow(ctx, `INSERT INTO applications (round_id, person_id, employer_id, status, declaration, estimate, eligible,
			created_at, updated_at) VALUES ($1, $2, $3, 'draft', $4, $5, $6, $7, $8) RETURNING id`,
			roundID, sub.PersonID, sub.EmployerID, string(b), est, eligible, now, now).Scan(&id)
		if db.IsUniqueViolation(err) {
			return errAlreadyOpen
		}
		if err != nil {
			return err
		}
		reason := "创建申请"
		if carry != nil {
			if err := s.adoptCarry(ctx, carry, id); err != nil {
				return err
			}
			reason = fmt.Sprintf("创建申请（内容来自%d年申请）", carry.fromYear)
		}
		a, err := s.get(ctx, id)
		if err != nil {
			return err
		}
		a.Status = ""
		if err := s.record(ctx, c, a, Draft, reason); err != nil {
			return err
		}
		out, err = s.get(ctx, id)
		return err
	})
	if err == errAlreadyOpen {
		return s.ForPerson(ctx, sub.PersonID, roundID)
	}
	return out, err
}

var errAlreadyOpen = apperr.New(apperr.Conflict, "本年度已有申请")

// SaveDraft replaces the declaration of an editable application after
// validating it exactly as the calculator does, plus the rules of a real
// application: the year, birth date and sex are fixed, and no period may end
// after the statistics date. It returns the application with its new
// estimate. version must be the version the applicant edited (a stale
// version from another tab answers conflict).
func (s *Service) SaveDraft(ctx context.Context, c actor.Actor, id int64, decl rules.CalculatorRequest, version int) (*Application, error) {
	// Everything but the write happens outside a transaction: reading,
	// validating and scoring must not hold the database's write lock. The
	// write itself is one conditional UPDATE, so a concurrent change (another
	// tab, or a submission) makes it match nothing instead of being lost;
	// concurrent saves share one commit (db.Batch).
	a, err := s.Get(ctx, c, id)
	if err != nil {
		return nil, err
	}
	return s.SaveDraftOf(ctx, c, a, decl, version)
}

// SaveDraftOf is SaveDraft for an application the caller has just read
// (the portal has it already): it saves one read per request.
func (s *Service) SaveDraftOf(ctx context.Context, c actor.Actor, a *Application, decl rules.CalculatorRequest, version int) (*Application, error) {
	return s.saveDraft(ctx, c, a, decl, version, "")
}

// SaveDraftNoted is SaveDraftOf with a line on the timeline and its audit
// record, written in the same commit as the draft: a change the applicant
// made with one click that the case should remember (taking an agency's
// value found by the pre-check).
func (s *Service) SaveDraftNoted(ctx context.Context, c actor.Actor, a *Application, decl rules.CalculatorRequest, version int,
	note string) (*Application, error) {
	return s.saveDraft(ctx, c, a, decl, version, note)
}

func (s *Service) saveDraft(ctx context.Context, c actor.Actor, a *Application, decl rules.CalculatorRequest, version int,
	note string) (*Application, error) {
	id := a.ID
	if c.PersonID == 0 || a.PersonID != c.PersonID {
		return nil, ErrNotFound
	}
	if !a.Status.Editable() {
		return nil, apperr.New(apperr.Conflict, "申请已提交，不能再修改（当前状态："+StatusName(a.Status)+"）")
	}
	if version != 0 && version != a.Version {
		return nil, errStale
	}
	if err := s.windows.RequireOpen(ctx, a.RoundID, "application"); err != nil {
		return nil, err
	}
	decl.ApplicationYear, decl.BirthDate, decl.Sex = a.Declaration.ApplicationYear, a.Declaration.BirthDate, a.Declaration.Sex
	res, err := Estimate(decl)
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(decl)
	now := s.clock.Now()
	var n int64
	err = s.db.Batch(ctx, func(ctx context.Context) error {
		r, err := s.db.Exec(ctx, `UPDATE applications SET declaration = $1, estimate = $2, eligible = $3, version = version + 1,
			updated_at = $4 WHERE id = $5 AND version = $6 AND status IN ('draft', 'returned')`,
			string(b), int64(res.Total), res.Eligible, db.Micros(now), id, a.Version)
		if err != nil {
			return err
		}
		if n, _ = r.RowsAffected(); n == 0 || note == "" {
			return nil
		}
		if _, err := s.db.Exec(ctx, `INSERT INTO application_events (application_id, at, from_status, to_status, actor_id, actor_role,
			reason) VALUES ($1, $2, $3, $3, $4, $5, $6)`, id, db.Micros(now), string(a.Status), c.UserID, string(c.Role()), note); err != nil {
			return err
		}
		e := auditEntry("application.note", id, note)
		e.ActorID, e.ActorLogin, e.ActorRole, e.ClientAddr = c.UserID, c.Login, string(c.Role()), c.ClientAddr
		return s.audit.Record(ctx, e)
	})
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	if n == 0 {
		return nil, errStale
	}
	a.Declaration, a.Estimate, a.Eligible, a.Version, a.UpdatedAt = decl, res.Total, res.Eligible, a.Version+1, now.Truncate(time.Microsecond)
	return a, nil
}

var errStale = apperr.New(apperr.Conflict, "申请已在其他页面修改或已提交，请刷新后再保存")

// Estimate validates a declaration and scores it with the rules engine. It
// refuses any period that ends after the statistics date.
func Estimate(decl rules.CalculatorRequest) (rules.Result, error) {
	facts, fe := decl.Facts()
	fe = append(fe, afterStatisticsDate(decl)...)
	if len(fe) > 0 {
		out := make([]apperr.FieldError, len(fe))
		for i, f := range fe {
			out[i] = apperr.FieldError{Field: f.Field, Message: f.Message}
		}
		return rules.Result{}, apperr.Fields(out)
	}
	book, err := rules.ForYear(decl.ApplicationYear)
	if err != nil {
		return rules.Result{}, apperr.Field("application_year", "该年度没有适用的积分规则")
	}
	return book.Score(facts), nil
}

// afterStatisticsDate names every period that ends (or starts) after
// December of the year before the application year.
func afterStatisticsDate(d rules.CalculatorRequest) []rules.FieldError {
	limit := fmt.Sprintf("%04d-12", d.ApplicationYear-1)
	var fe []rules.FieldError
	check := func(path, label, from, to string) {
		for _, f := range []struct{ name, v string }{{"from", from}, {"to", to}} {
			if len(f.v) == 7 && f.v > limit {
				fe = append(fe, rules.FieldError{Field: path + "." + f.name,
					Message: label + "的月份不能晚于统计截止日（" + limit + "），截止日之后的情况不计分"})
			}
		}
	}
	for i, p := range d.SocialInsurance {
		check(fmt.Sprintf("social_insurance[%d]", i), fmt.Sprintf("社保缴纳记录第%d条", i+1), p.From, p.To)
	}
	for i, p := range d.BackPaid {
		check(fmt.Sprintf("back_paid[%d]", i), fmt.Sprintf("补缴记录第%d条", i+1), p.From, p.To)
	}
	for i, h := range d.Housing {
		check(fmt.Sprintf("housing[%d]", i), fmt.Sprintf("住房记录第%d条", i+1), h.From, h.To)
	}
	for i, w := range d.Workplaces {
		check(fmt.Sprintf("workplaces[%d]", i), fmt.Sprintf("工作地点记录第%d条", i+1), w.From, w.To)
	}
	return fe
}

// change is one state change of an application: who may make it, when it
// counts as made already (answered again, idempotent), what must hold, and
// what it writes besides the status, the version and the time.
type change struct {
	to    Status
	by    func(actor.Actor) bool
	done  func(*Application) bool
	check func(ctx context.Context, a *Application) error
	// set is extra assignments, a constant of this file. Its values are
	// $2 (the time of the change) and $6, $7, ... (args); $1 and $3–$5 are
	// the status, the id and the guard.
	set    string
	args   []any
	reason string
}

// errMoved is the answer when the application changed between reading and
// writing it: another tab, another officer or a double click came first.
var errMoved = apperr.New(apperr.Conflict, "申请已被他人处理或已在其他页面修改，请刷新页面后查看")

// transition makes one change in one transaction: the row, its timeline
// entry, its audit record and its e-mail. The write is conditional on the
// status and the version it read, so of two concurrent changes exactly one
// takes effect; the other finds the change made (when it is idempotent) or
// answers a conflict.
func (s *Service) transition(ctx context.Context, c actor.Actor, id int64, ch change) (*Application, error) {
	var out *Application
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		a, err := s.getFor(ctx, c, id)
		if err != nil {
			return err
		}
		if !ch.by(c) {
			return ErrNotFound
		}
		if ch.done != nil && ch.done(a) {
			out = a
			return nil
		}
		if err := ch.check(ctx, a); err != nil {
			return err
		}
		now := db.Micros(s.clock.Now())
		due, err := s.dueAt(ctx, a.RoundID, StepOf(ch.to, ""), now)
		if err != nil {
			return err
		}
		res, err := s.db.Exec(ctx, `UPDATE applications SET status = $1, `+ch.set+`, `+clockSet(2, 6+len(ch.args))+`, version = version + 1,
			updated_at = $2 WHERE id = $3 AND status = $4 AND version = $5`,
			append(append([]any{string(ch.to), now, id, string(a.Status), a.Version}, ch.args...), due)...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return s.moved(ctx, id, ch, &out)
		}
		if err := s.record(ctx, c, a, ch.to, ch.reason); err != nil {
			return err
		}
		if err := s.notify(ctx, a, ch.to, returnReason(ch)); err != nil {
			return err
		}
		out, err = s.get(ctx, id)
		return err
	})
	return out, s.denied(ctx, id, err)
}

// moved answers a change whose guarded write matched nothing: if the same
// change was made meanwhile (a double click), it is answered as made;
// anything else is a conflict.
func (s *Service) moved(ctx context.Context, id int64, ch change, out **Application) error {
	a, err := s.get(ctx, id)
	if err != nil {
		return err
	}
	if ch.done != nil && ch.done(a) {
		*out = a
		return nil
	}
	return errMoved
}

// returnReason is the reason the e-mail quotes: only a return explains
// itself to the applicant.
func returnReason(ch change) string {
	if ch.to == Returned {
		return ch.reason
	}
	return ""
}

func byApplicant(c actor.Actor) bool { return c.PersonID != 0 && c.Can(actor.PermApply) }
func byEmployer(c actor.Actor) bool  { return c.EmployerID != 0 && c.Can(actor.PermEmployer) }

// SubmitToEmployer sends an editable application to the employer. The
// applicant must accept the truthfulness statement, and the declaration
// must be valid. Submitting an application that is already with the
// employer answers the same application again (idempotent).
func (s *Service) SubmitToEmployer(ctx context.Context, c actor.Actor, id int64, truthful bool) (*Application, error) {
	return s.transition(ctx, c, id, change{to: WithEmployer, by: byApplicant, reason: "申请人确认承诺并提交单位",
		done: func(a *Application) bool { return a.Status == WithEmployer },
		check: func(ctx context.Context, a *Application) error {
			if !a.Status.Editable() {
				return apperr.New(apperr.Conflict, "申请已提交（当前状态："+StatusName(a.Status)+"）")
			}
			if !truthful {
				return apperr.Field("truthful", "请阅读并确认承诺：所填信息真实、准确、完整，如有虚假愿承担相应责任")
			}
			if err := s.windows.RequireOpen(ctx, a.RoundID, "application"); err != nil {
				return err
			}
			// The window check reads a cached round; a freeze committed
			// a moment ago is seen here, under the round's row lock.
			if err := s.unfrozen(ctx, []int64{a.ID}); err != nil {
				return err
			}
			if _, err := Estimate(a.Declaration); err != nil {
				return err
			}
			if len(a.Declaration.SocialInsurance) == 0 {
				return apperr.Field("social_insurance", "请至少填写一条社会保险缴纳记录")
			}
			if err := s.unconfirmedCarry(ctx, a.ID); err != nil {
				return err
			}
			return s.checkPersonBan(ctx, a, true)
		},
		set: "truthful_at = $2, submitted_at = $2, return_reason = ''"})
}

// Return sends an application back to the applicant with a reason.
func (s *Service) Return(ctx context.Context, c actor.Actor, id int64, reason string) (*Application, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, apperr.Field("reason", "请填写退回理由，申请人将看到该理由并据此修改")
	}
	return s.transition(ctx, c, id, change{to: Returned, by: byEmployer, reason: reason,
		check: func(_ context.Context, a *Application) error {
			if a.Status != WithEmployer {
				return apperr.New(apperr.Conflict, "只能退回待单位审核的申请（当前状态："+StatusName(a.Status)+"）")
			}
			return nil
		},
		set: "return_reason = $6", args: []any{reason}})
}

// File submits an application to the bureau on the employer's behalf
// (确认提交); from then on it is locked. Filing one already filed answers
// the same application (idempotent).
func (s *Service) File(ctx context.Context, c actor.Actor, id int64) (*Application, error) {
	return s.transition(ctx, c, id, change{to: Submitted, by: byEmployer, reason: "单位确认提交",
		done: func(a *Application) bool { return a.Status == Submitted },
		check: func(ctx context.Context, a *Application) error {
			if a.Status != WithEmployer {
				return apperr.New(apperr.Conflict, "只能提交待单位审核的申请（当前状态："+StatusName(a.Status)+"）")
			}
			if err := s.windows.RequireOpen(ctx, a.RoundID, "employer_submission"); err != nil {
				return err
			}
			if err := s.unfrozen(ctx, []int64{a.ID}); err != nil {
				return err
			}
			if err := s.checkEmployerBan(ctx, a); err != nil {
				return err
			}
			return s.checkPersonBan(ctx, a, false)
		},
		set: "filed_at = $2"})
}

// BulkResult is the outcome of one application in a bulk action.
type BulkResult struct {
	ID    int64  `json:"id"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// FileMany files several applications, each in its own transaction, so one
// failure does not undo the others.
func (s *Service) FileMany(ctx context.Context, c actor.Actor, ids []int64) []BulkResult {
	out := make([]BulkResult, 0, len(ids))
	for _, id := range ids {
		_, err := s.File(ctx, c, id)
		r := BulkResult{ID: id, OK: err == nil}
		if err != nil {
			r.Error = apperr.As(err).Message
		}
		out = append(out, r)
	}
	return out
}
