package round

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
)

// The freeze (冻结) ends the round's case work: from then on no score may
// change, so the ranking computed from the scores is the ranking of a fixed
// list. A change after the freeze needs a formal reopening: one city officer
// asks with a reason, a second approves (never the same person), and the
// approval also discards an uncommitted ranking. Once a ranking is
// committed the round cannot be reopened at all.

// Frozen reports whether the round is frozen.
func (r *Round) Frozen() bool { return !r.FrozenAt.IsZero() }

// frozenKinds are the windows a freeze closes: every step that can change
// a declaration, a filing or a score. Viewing results and the later steps
// stay as scheduled.
var frozenKinds = map[Kind]bool{Application: true, EmployerSubmission: true, Crosscheck: true, Review: true}

func (r *Round) frozenError() error {
	return apperr.New(apperr.Conflict, fmt.Sprintf("%d年度批次已于 %s 冻结，积分不能再变更；如确需变更，请由市人力社保局申请解除冻结",
		r.Year, BeijingTime(r.FrozenAt)))
}

// RequireUnfrozen answers Conflict once round id is frozen. Every change of
// a score asks it (the review decisions, the cross-check's results).
func (s *Service) RequireUnfrozen(ctx context.Context, id int64) error {
	r, err := s.cached(ctx, id)
	if err != nil {
		return err
	}
	if r.Frozen() {
		return r.frozenError()
	}
	return nil
}

// Ranking is what the round asks of the ranking when the round is
// reopened, in the reopening's transaction: to discard a draft, and to
// supersede a committed ranking (a correction: the round is ranked,
// committed and published again as a new version). The ranking package
// implements it; nil means there is no ranking yet.
type Ranking interface {
	DiscardDraft(ctx context.Context, roundID int64) error
	Supersede(ctx context.Context, by actor.Actor, roundID, reopeningID int64) error
}

// WithRanking sets the ranking the freeze consults.
func (s *Service) WithRanking(r Ranking) *Service { s.ranking = r; return s }

// Lock reads round id inside the caller's transaction with its row locked
// on PostgreSQL (SQLite's one writer serialises): the ranking's draft and
// commit hold it, so a reopening cannot run in between.
func (s *Service) Lock(ctx context.Context, id int64) (*Round, error) { return s.lockRound(ctx, id) }

// lockRound reads round id for a change of its state, locked on PostgreSQL
// (SQLite's one writer serialises).
func (s *Service) lockRound(ctx context.Context, id int64) (*Round, error) {
	var got int64
	err := s.db.QueryRow(ctx, `SELECT id FROM rounds WHERE id = $1`+s.db.ForUpdate(), id).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, apperr.Wrap(fmt.Errorf("lock round: %w", err))
	}
	return s.Get(ctx, id)
}

// Freeze freezes round id on behalf of a city officer. Freezing a frozen
// round is refused (the officer sees when it was done); so is a freeze
// before the 复查 window has closed, while any filed application is not
// final yet (in the check, at its first result, in a 复查), or while a
// cross-check run is under way.
func (s *Service) Freeze(ctx context.Context, by actor.Actor, id int64) (*Round, error) {
	if err := require(by); err != nil {
		return nil, err
	}
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		r, err := s.lockRound(ctx, id)
		if err != nil {
			return err
		}
		if r.Frozen() {
			return apperr.New(apperr.Conflict, fmt.Sprintf("%d年度批次已于 %s 冻结，无需重复冻结", r.Year, BeijingTime(r.FrozenAt)))
		}
		now := s.clock.Now()
		if w, ok := r.Window(Review); ok && now.Before(w.ClosesAt) {
			return apperr.New(apperr.Conflict, fmt.Sprintf("复查期至 %s 结束，此前申请人仍可申请复查，不能冻结", BeijingTime(w.ClosesAt)))
		}
		// Every filed application must be final: one still in the check,
		// at its first result or in a 复查 would be left out of the
		// ranking, and the freeze would stop it from ever getting there.
		var reviews, others int
		if err := s.db.QueryRow(ctx, `SELECT COALESCE(SUM(CASE WHEN status = 'review_requested' THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN status <> 'review_requested' THEN 1 ELSE 0 END), 0) FROM applications
			WHERE round_id = $1 AND status IN ('submitted', 'checking', 'first_result', 'review_requested')`, id).Scan(&reviews, &others); err != nil {
			return apperr.Wrap(err)
		}
		if reviews > 0 {
			return apperr.New(apperr.Conflict, fmt.Sprintf("还有 %d 件复查申请尚未作出决定，请处理完毕后再冻结", reviews))
		}
		if others > 0 {
			return apperr.New(apperr.Conflict, fmt.Sprintf("还有 %d 件申请尚未审核完成（比对中或初核结果尚未确定），请待其审核完成后再冻结", others))
		}
		var running int
		if err := s.db.QueryRow(ctx, `SELECT count(*) FROM check_runs WHERE round_id = $1 AND status IN ('running', 'ready', 'applying')`,
			id).Scan(&running); err != nil {
			return apperr.Wrap(err)
		}
		if running > 0 {
			return apperr.New(apperr.Conflict, "还有比对任务正在进行或等待确认，请完成或放弃后再冻结")
		}
		res, err := s.db.Exec(ctx, `UPDATE rounds SET frozen_at = $1, frozen_by = $2, state_version = state_version + 1, updated_at = $1
			WHERE id = $3 AND frozen_at = 0 AND state_version = $4`, db.Micros(now), by.UserID, id, r.StateVersion)
		if err != nil {
			return apperr.Wrap(fmt.Errorf("freeze round: %w", err))
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errRoundMoved
		}
		return s.audit.Record(ctx, audit.Entry{Action: "round.freeze", ObjectType: "round", ObjectID: strconv.FormatInt(id, 10),
			Reason: fmt.Sprintf("冻结%d年度批次", r.Year)})
	})
	s.forget(id)
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, id)
}

var errRoundMoved = apperr.New(apperr.Conflict, "年度批次已被他人修改，请刷新页面后重试")

// Reopening is a request to lift a round's freeze.
type Reopening struct {
	ID          int64     `json:"id"`
	RoundID     int64     `json:"round_id"`
	Year        int       `json:"year"`
	Reason      string    `json:"reason"`
	Status      string    `json:"status"` // pending, approved, rejected
	StatusName  string    `json:"status_name"`
	RequestedBy int64     `json:"requested_by"`
	RequestedAt time.Time `json:"requested_at"`
	DecidedBy   int64     `json:"decided_by,omitempty"`
	DecidedAt   time.Time `json:"decided_at,omitzero"`
	Decision    string    `json:"decision,omitempty"`
	Version     int       `json:"version"`
}

// ReopeningStatusName is the Chinese name of a reopening's status.
func ReopeningStatusName(s string) string {
	switch s {
	case "pending":
		return "待审批"
	case "approved":
		return "已批准"
	case "rejected":
		return "已驳回"
	}
	return s
}

// The bounds of a reopening's reason, in characters.
const (
	minReopenReason = 10
	maxReopenReason = 1000
)

// RequestReopening asks to lift the freeze of round id. It takes effect only
// when a second city officer approves it.
func (s *Service) RequestReopening(ctx context.Context, by actor.Actor, id int64, reason string) (*Reopening, error) {
	if err := require(by); err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if n := utf8.RuneCountInString(reason); n < minReopenReason || n > maxReopenReason {
		return nil, apperr.Field("reason", fmt.Sprintf("请说明解除冻结的理由（%d到%d字），审批人和审计将看到该理由", minReopenReason, maxReopenReason))
	}
	var rid int64
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		r, err := s.lockRound(ctx, id)
		if err != nil {
			return err
		}
		if !r.Frozen() {
			return apperr.New(apperr.Conflict, fmt.Sprintf("%d年度批次尚未冻结，无需解除", r.Year))
		}
		err = s.db.QueryRow(ctx, `INSERT INTO round_reopenings (round_id, reason, status, requested_by, requested_at)
			VALUES ($1, $2, 'pending', $3, $4) RETURNING id`, id, reason, by.UserID, db.Micros(s.clock.Now())).Scan(&rid)
		if db.IsUniqueViolation(err) {
			return apperr.New(apperr.Conflict, "该批次已有一项待审批的解除冻结申请")
		}
		if err != nil {
			return apperr.Wrap(fmt.Errorf("insert reopening: %w", err))
		}
		return s.audit.Record(ctx, audit.Entry{Action: "round.reopen_request", ObjectType: "round", ObjectID: strconv.FormatInt(id, 10),
			Reason: reason})
	})
	if err != nil {
		return nil, err
	}
	return s.reopening(ctx, rid)
}

// DecideReopening approves or rejects a pending reopening. The approver is
// never the officer who asked. Approval lifts the freeze, discards an
// uncommitted ranking and supersedes a committed one (a correction: the
// round is ranked, committed and published again) in the same transaction.
func (s *Service) DecideReopening(ctx context.Context, by actor.Actor, reopeningID int64, approve bool, note string) (*Reopening, error) {
	if err := require(by); err != nil {
		return nil, err
	}
	note = strings.TrimSpace(note)
	if !approve && note == "" {
		return nil, apperr.Field("note", "请填写驳回理由")
	}
	if utf8.RuneCountInString(note) > maxReopenReason {
		return nil, apperr.Field("note", fmt.Sprintf("意见不能超过%d字", maxReopenReason))
	}
	var roundID int64
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		ro, err := s.reopening(ctx, reopeningID)
		if err != nil {
			return err
		}
		roundID = ro.RoundID
		if ro.Status != "pending" {
			return apperr.New(apperr.Conflict, "该申请已处理（"+ReopeningStatusName(ro.Status)+"）")
		}
		if ro.RequestedBy == by.UserID {
			return apperr.New(apperr.Forbidden, "不能审批本人提出的解除冻结申请，须由另一名经办人员审批")
		}
		r, err := s.lockRound(ctx, ro.RoundID)
		if err != nil {
			return err
		}
		status := "rejected"
		if approve {
			status = "approved"
		}
		now := db.Micros(s.clock.Now())
		res, err := s.db.Exec(ctx, `UPDATE round_reopenings SET status = $1, decided_by = $2, decided_at = $3, decision = $4,
			version = version + 1 WHERE id = $5 AND status = 'pending' AND version = $6`, status, by.UserID, now, note, ro.ID, ro.Version)
		if err != nil {
			return apperr.Wrap(fmt.Errorf("decide reopening: %w", err))
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errRoundMoved
		}
		action := "round.reopen_reject"
		if approve {
			action = "round.reopen"
			res, err := s.db.Exec(ctx, `UPDATE rounds SET frozen_at = 0, frozen_by = 0, state_version = state_version + 1, updated_at = $1
				WHERE id = $2 AND frozen_at > 0 AND state_version = $3`, now, r.ID, r.StateVersion)
			if err != nil {
				return apperr.Wrap(fmt.Errorf("reopen round: %w", err))
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return errRoundMoved
			}
			if s.ranking != nil {
				if err := s.ranking.DiscardDraft(ctx, r.ID); err != nil {
					return err
				}
				if err := s.ranking.Supersede(ctx, by, r.ID, ro.ID); err != nil {
					return err
				}
			}
		}
		return s.audit.Record(ctx, audit.Entry{Action: action, ObjectType: "round", ObjectID: strconv.FormatInt(r.ID, 10),
			Reason: strings.TrimSpace(ro.Reason + " / " + note)})
	})
	s.forget(roundID)
	if err != nil {
		return nil, err
	}
	return s.reopening(ctx, reopeningID)
}

const reopeningColumns = `o.id, o.round_id, r.year, o.reason, o.status, o.requested_by, o.requested_at, o.decided_by, o.decided_at,
	o.decision, o.version`

func scanReopening(sc interface{ Scan(...any) error }) (*Reopening, error) {
	var o Reopening
	var req, dec int64
	if err := sc.Scan(&o.ID, &o.RoundID, &o.Year, &o.Reason, &o.Status, &o.RequestedBy, &req, &o.DecidedBy, &dec,
		&o.Decision, &o.Version); err != nil {
		return nil, err
	}
	o.RequestedAt, o.StatusName = db.FromMicros(req), ReopeningStatusName(o.Status)
	if dec != 0 {
		o.DecidedAt = db.FromMicros(dec)
	}
	return &o, nil
}

func (s *Service) reopening(ctx context.Context, id int64) (*Reopening, error) {
	o, err := scanReopening(s.db.QueryRow(ctx, `SELECT `+reopeningColumns+` FROM round_reopenings o JOIN rounds r ON r.id = o.round_id
		WHERE o.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "解除冻结申请不存在")
	}
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	return o, nil
}

// Reopenings lists the reopening requests of round id, newest first.
func (s *Service) Reopenings(ctx context.Context, id int64) ([]*Reopening, error) {
	rows, err := s.db.Query(ctx, `SELECT `+reopeningColumns+` FROM round_reopenings o JOIN rounds r ON r.id = o.round_id
		WHERE o.round_id = $1 ORDER BY o.id DESC`, id)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	var out []*Reopening
	for rows.Next() {
		o, err := scanReopening(rows)
		if err != nil {
			return nil, apperr.Wrap(err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	return out, nil
}
