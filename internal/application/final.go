package application

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"time"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
	"jifen/internal/rules"
)

// This file holds what the 复查 case handling (internal/review) needs of
// applications: a timeline line with its mail for each step of a review,
// the move to `final` once the review is decided (with the approved new
// score, if any), and the batch that makes final every application whose
// review window closed without a request.

// ReviewStep records one step of an application's 复查 that does not change
// its status (an indicator decided, an in-person check required or booked,
// a score change proposed or refused): the timeline line, its audit record
// and the mail to the applicant quoting text (NoteAndMail), in the caller's
// transaction. The step's time and text make the mail's key: a step is
// mailed once.
func (s *Service) ReviewStep(ctx context.Context, c actor.Actor, id int64, text string) error {
	sum := sha256.Sum256([]byte(text))
	key := fmt.Sprintf("review:%d:%x", db.Micros(s.clock.Now()), sum[:6])
	return s.NoteAndMail(ctx, c, id, text, key, false)
}

// ReceiveReviewBy is ReceiveReview by an officer, with the step on the
// applicant's timeline and in their mail, in one transaction.
func (s *Service) ReceiveReviewBy(ctx context.Context, c actor.Actor, district string, id int64) error {
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.ReceiveReview(ctx, district, id); err != nil {
			return err
		}
		return s.ReviewStep(ctx, c, id, "区人力社保局已接收复查申请和单位补充的证明材料，进入复查")
	})
}

// NewScore is the score an approved 复查 change gives an application.
type NewScore struct {
	Score    rules.Points
	Eligible bool
}

// FinalizeReview moves an application whose 复查 is decided from
// review_requested to final, with the approved new score when the review
// changed it (nil keeps the score). It runs in the caller's transaction;
// finalizing one already final answers it as made.
func (s *Service) FinalizeReview(ctx context.Context, c actor.Actor, id int64, score *NewScore, reason string) (*Application, error) {
	ch := change{to: Final, reason: reason,
		by:   func(c actor.Actor) bool { return c.Can(actor.PermCasesDistrict) || c.Can(actor.PermCasesCity) },
		done: func(a *Application) bool { return a.Status == Final },
		check: func(_ context.Context, a *Application) error {
			if a.Status != ReviewRequested {
				return apperr.New(apperr.Conflict, "只有已申请复查的申请才能在复查决定后完成审核（当前状态："+StatusName(a.Status)+"）")
			}
			return nil
		},
		// A constant assignment: transition needs one, and the score stays.
		set: "score = score"}
	if score != nil {
		ch.set, ch.args = "score = $6, score_eligible = $7", []any{int64(score.Score), score.Eligible}
		ch.check = func(ctx context.Context, a *Application) error {
			if a.Status != ReviewRequested {
				return apperr.New(apperr.Conflict, "只有已申请复查的申请才能在复查决定后完成审核（当前状态："+StatusName(a.Status)+"）")
			}
			return s.unfrozen(ctx, []int64{a.ID})
		}
	}
	return s.transition(ctx, c, id, ch)
}

// Score returns an application's applied score (hundredths of a point),
// its eligibility and the cross-check run that scored it (0: none).
func (s *Service) Score(ctx context.Context, id int64) (score int64, eligible bool, run int64, err error) {
	err = s.db.QueryRow(ctx, `SELECT score, score_eligible, score_run FROM applications WHERE id = $1`, id).Scan(&score, &eligible, &run)
	if db.IsNoRows(err) {
		return 0, false, 0, ErrNotFound
	}
	return score, eligible, run, err
}

// FinalizeUnreviewed makes final, at most limit at a time, the applications
// still at first_result in rounds whose review window (kind "review") has
// closed by now: nobody asked for a 复查, so the first result is the final
// one. Each gets its timeline row and its mail, in the statement's
// transaction; the audit record names the batch. Run again it finds nothing
// (the guard is the status), so it changes nothing. It returns how many it
// moved.
func (s *Service) FinalizeUnreviewed(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	var n int
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		at := db.Micros(now)
		rows, err := s.db.Query(ctx, `UPDATE applications SET status = 'final', version = version + 1, updated_at = $1
			WHERE id IN (SELECT a.id FROM applications a WHERE a.status = 'first_result' AND a.round_id IN
				(SELECT w.round_id FROM round_windows w WHERE w.kind = 'review' AND w.closes_at <= $1) ORDER BY a.id LIMIT $2)
			AND status = 'first_result' RETURNING id, version`, at, limit)
		if err != nil {
			return err
		}
		versions := map[int64]int{}
		var ids []int64
		if err := eachRow(rows, func(rows *sql.Rows) error {
			var id int64
			var v int
			if err := rows.Scan(&id, &v); err != nil {
				return err
			}
			ids, versions[id] = append(ids, id), v-1
			return nil
		}); err != nil {
			return err
		}
		n = len(ids)
		if n == 0 {
			return nil
		}
		if err := s.events(ctx, at, ids, FirstResult, Final, "复查期限届满，未申请复查，初核结果即为最终结果"); err != nil {
			return err
		}
		if err := s.mailStatus(ctx, Final, "复查期限届满，初核结果即为最终结果", ids, versions); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{Action: "application.finalize_unreviewed", ObjectType: "application",
			ObjectID: fmt.Sprintf("%d", ids[0]), Reason: fmt.Sprintf("复查期限届满，%d件申请审核完成（编号 %d–%d）",
				n, ids[0], ids[len(ids)-1])})
	})
	return n, err
}
