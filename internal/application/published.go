package application

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/platform/mail"
)

// This file holds what the publication (internal/publicity) needs of
// applications: the move of a round's final applications to published once
// its list's notice period has begun, with the mail to applicants and
// employers; and the return of a published case to case handling when an
// objection to it is upheld.

// publishedReason is the timeline's and the mail's line for the move.
const publishedReason = "积分落户公示名单已发布：请登录查看您的排名、分数线和是否取得落户资格"

// PublishStarted moves to published, at most limit at a time, the final
// applications of rounds whose published list's notice period has begun by
// now (the publications table of internal/publicity, read only). Each gets
// its timeline row and its mail; each employer of the batch one mail for
// the round. Run again it finds nothing (the guard is the status). It
// returns how many it moved.
func (s *Service) PublishStarted(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	today := now.In(clock.Beijing).Format("2006-01-02")
	var n int
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		at := db.Micros(now)
		rows, err := s.db.Query(ctx, `UPDATE applications SET status = 'published', version = version + 1, updated_at = $1,
			step_started_at = $1, step_due_at = 0
			WHERE id IN (SELECT a.id FROM applications a WHERE a.status = 'final' AND a.round_id IN
				(SELECT p.round_id FROM publications p WHERE p.notice_start <= $2) ORDER BY a.id LIMIT $3)
			AND status = 'final' RETURNING id, version`, at, today, limit)
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
		if err := s.events(ctx, at, ids, Final, Published, publishedReason); err != nil {
			return err
		}
		if err := s.mailStatus(ctx, Published, publishedReason, ids, versions); err != nil {
			return err
		}
		if err := s.mailEmployersPublished(ctx, ids); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{Action: "application.publish", ObjectType: "application",
			ObjectID: strconv.FormatInt(ids[0], 10), Reason: fmt.Sprintf("公示名单已发布，%d件申请状态更新为已公示（编号 %d–%d）",
				n, ids[0], ids[len(ids)-1])})
	})
	return n, err
}

// mailEmployersPublished queues one mail per employer operator of the
// applications ids, once per round: the key names the round and the
// address, so a later batch holding the same employer queues nothing.
func (s *Service) mailEmployersPublished(ctx context.Context, ids []int64) error {
	if s.outbox == nil {
		return nil
	}
	idj, _ := json.Marshal(ids)
	rows, err := s.db.Query(ctx, `SELECT DISTINCT r.id, r.year, emp.name, u.email, u.display_name FROM applications a
		JOIN rounds r ON r.id = a.round_id JOIN employers emp ON emp.id = a.employer_id
		JOIN employer_operators o ON o.employer_id = a.employer_id JOIN users u ON u.id = o.user_id
		WHERE a.id IN (SELECT x.id FROM `+s.db.JSONIDs("$1")+` x) AND u.email <> '' AND u.disabled = FALSE`, string(idj))
	if err != nil {
		return err
	}
	var msgs []mail.Message
	if err := eachRow(rows, func(rows *sql.Rows) error {
		var roundID int64
		var year int
		var emp, to, name string
		if err := rows.Scan(&roundID, &year, &emp, &to, &name); err != nil {
			return err
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s，您好：\n\n%d年度积分落户公示名单已发布。贵单位（%s）申报的申请人的排名、分数线和是否取得落户资格，", name, year, emp)
		b.WriteString("请登录北京市积分落户网上申报系统，在“申请审核”中查看。\n\n公示期内如对名单有异议，可在公示页面提交。本邮件由系统自动发送，请勿回复。\n")
		msgs = append(msgs, mail.Message{To: to, ToName: name, Subject: fmt.Sprintf("【北京市积分落户】%d年度积分落户名单已公示", year),
			Text: b.String(), Category: "application.status", Ref: fmt.Sprintf("round:%d", roundID),
			IdempotencyKey: fmt.Sprintf("publicity:%d:%s", roundID, to)})
		return nil
	}); err != nil {
		return err
	}
	_, err = s.outbox.EnqueueMany(ctx, msgs)
	return err
}

// ReturnForObjection sends a final or published application back to case
// handling after an objection (异议) to it was upheld, in the caller's
// transaction: it becomes review_requested with a 复查 request on all ten
// indicators that the district office has received (the reason names the
// objection), so that the district's queue and the 复查 decisions of
// internal/review take it up once the round's freeze is formally lifted.
// The applicant sees the step and gets a mail.
func (s *Service) ReturnForObjection(ctx context.Context, by actor.Actor, id int64, reason string) error {
	if !by.Can(actor.PermCasesCity) {
		return apperr.New(apperr.Forbidden, "只有市人力社保局经办人员可以处理公示异议")
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return apperr.Field("reason", "请说明退回案件办理的原因")
	}
	a, err := s.get(ctx, id)
	if err != nil {
		return err
	}
	if a.Status != Final && a.Status != Published {
		return apperr.New(apperr.Conflict, "该申请当前状态为“"+StatusName(a.Status)+"”，不在已审核完成或已公示状态，无需退回")
	}
	now := db.Micros(s.clock.Now())
	inds := strings.Join(indicatorCodes(), ",")
	if _, err := s.db.Exec(ctx, `INSERT INTO review_requests (application_id, indicators, reason, employer_note, status, created_at,
		forwarded_at, received_at) VALUES ($1, $2, $3, '', 'received', $4, $4, $4)
		ON CONFLICT (application_id) DO UPDATE SET indicators = $2, reason = $3, status = 'received', forwarded_at = $4, received_at = $4`,
		id, inds, reason, now); err != nil {
		return apperr.Wrap(fmt.Errorf("objection review request: %w", err))
	}
	due, err := s.dueAt(ctx, a.RoundID, StepReviewReceived, now)
	if err != nil {
		return err
	}
	res, err := s.db.Exec(ctx, `UPDATE applications SET status = 'review_requested', version = version + 1, updated_at = $1, `+
		clockSet(1, 5)+` WHERE id = $2 AND status = $3 AND version = $4`, now, id, string(a.Status), a.Version, due)
	if err != nil {
		return apperr.Wrap(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errMoved
	}
	if err := s.record(ctx, by, a, ReviewRequested, reason); err != nil {
		return err
	}
	return s.notify(ctx, a, ReviewRequested, reason)
}
