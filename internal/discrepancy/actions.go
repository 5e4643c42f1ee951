package discrepancy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"jifen/internal/actor"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/platform/mail"
)

// Limits of the texts officers and applicants write.
const (
	maxNote           = 1000
	minOverrideReason = 5
	maxDeadlineDays   = 30
)

// conflict is the answer when the discrepancy is no longer where the page
// showed it: someone acted first, or the same form was sent twice.
func conflict(it *Item) error {
	return apperr.New(apperr.Conflict, "该差异已被处理（当前状态："+StatusName(it.Status)+"），请刷新页面后查看")
}

// change is one transition: the statuses it starts from, the audit action,
// an optional check of the loaded item, and the update.
type change struct {
	from   []Status
	action string
	note   string
	check  func(it *Item) error
	update func(ctx context.Context, it *Item, now int64) error
	after  func(ctx context.Context, it *Item) error
}

// act runs a change in one transaction: load and scope the item, check its
// status, update it (guarded by the status again, so a concurrent change
// loses), record the audit entry and run what follows in the same
// transaction.
func (s *Service) act(ctx context.Context, by actor.Actor, id int64, load func(ctx context.Context) (*Item, error), ch change) error {
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		it, err := load(ctx)
		if err != nil {
			return err
		}
		if !slices.Contains(ch.from, it.Status) {
			return conflict(it)
		}
		if ch.check != nil {
			if err := ch.check(it); err != nil {
				return err
			}
		}
		if err := ch.update(ctx, it, db.Micros(s.clock.Now())); err != nil {
			return err
		}
		if err := s.record(ctx, by, ch.action, id, ch.note); err != nil {
			return err
		}
		if ch.after != nil {
			return ch.after(ctx, it)
		}
		return nil
	})
}

// officerLoad loads a discrepancy an officer may act on.
func (s *Service) officerLoad(officer actor.Actor, id int64) func(ctx context.Context) (*Item, error) {
	return func(ctx context.Context) (*Item, error) { return s.getFor(ctx, officer, id) }
}

// set updates the discrepancy from the status it was loaded in; zero rows
// means another transaction moved it first. The assignments are constants
// of this file whose values are $3, $4, ... ($1 and $2 are the guard).
func (s *Service) set(ctx context.Context, it *Item, assignments string, args ...any) error {
	res, err := s.db.Exec(ctx, `UPDATE discrepancies SET `+assignments+` WHERE id = $1 AND status = $2`,
		append([]any{it.ID, string(it.Status)}, args...)...)
	if err != nil {
		return err
	}
	if k, _ := res.RowsAffected(); k == 0 {
		return conflict(it)
	}
	return nil
}

func checkNote(field, note string, required bool, hint string) (string, error) {
	note = strings.TrimSpace(note)
	switch {
	case required && note == "":
		return "", apperr.Field(field, hint)
	case utf8.RuneCountInString(note) > maxNote:
		return "", apperr.Field(field, fmt.Sprintf("内容不能超过%d字", maxNote))
	}
	return note, nil
}

// Accept lets the agency's value stand: the verified facts score.
func (s *Service) Accept(ctx context.Context, officer actor.Actor, id int64, note string) error {
	note, err := checkNote("note", note, false, "")
	if err != nil {
		return err
	}
	return s.act(ctx, officer, id, s.officerLoad(officer, id), change{
		from: []Status{Open, MaterialRequested, MaterialReceived}, action: "discrepancy.accept", note: note,
		update: func(ctx context.Context, it *Item, now int64) error {
			return s.set(ctx, it, `status = 'accepted', decided_by = $3, decided_at = $4, updated_at = $4`, officer.UserID, now)
		},
	})
}

// DeadlineBounds returns the first and last day a material request's
// deadline may fall on, in Beijing time, as of now.
func DeadlineBounds(now time.Time) (first, last time.Time) {
	today := clock.BeijingDay(now)
	return today.AddDate(0, 0, 1), today.AddDate(0, 0, maxDeadlineDays)
}

// RequestMaterial asks the applicant for material by the end of deadline's
// day (Beijing time), from tomorrow to 30 days ahead, and e-mails them.
func (s *Service) RequestMaterial(ctx context.Context, officer actor.Actor, id int64, note string, deadline time.Time) error {
	var fe []apperr.FieldError
	note, err := checkNote("note", note, true, "请写明需要申请人补充的材料")
	if err != nil {
		fe = append(fe, apperr.As(err).Fields...)
	}
	first, last := DeadlineBounds(s.clock.Now())
	day := clock.BeijingDay(deadline)
	if deadline.IsZero() || day.Before(first) || day.After(last) {
		fe = append(fe, apperr.FieldError{Field: "deadline", Message: fmt.Sprintf("截止日期应在%s至%s之间（明天起30天内）",
			first.Format(time.DateOnly), last.Format(time.DateOnly))})
	}
	if err := apperr.Fields(fe); err != nil {
		return err
	}
	end := day.AddDate(0, 0, 1).Add(-time.Microsecond) // the whole day counts
	return s.act(ctx, officer, id, s.officerLoad(officer, id), change{
		from: []Status{Open, MaterialReceived}, action: "discrepancy.request_material",
		note: note + "（截止" + day.Format(time.DateOnly) + "）",
		update: func(ctx context.Context, it *Item, now int64) error {
			return s.set(ctx, it, `status = 'material_requested', deadline = $3, request_note = $4, material_note = '', material_at = 0,
				updated_at = $5`, db.Micros(end), note, now)
		},
		after: func(ctx context.Context, it *Item) error { return s.mailRequest(ctx, it, note, day) },
	})
}

// Answer records the applicant's answer to a material request, before its
// deadline, for the applicant whose application it is.
func (s *Service) Answer(ctx context.Context, ap actor.Actor, id int64, note string) error {
	if !ap.Can(actor.PermApply) || ap.PersonID == 0 {
		return ErrNotFound
	}
	note, err := checkNote("note", note, true, "请说明您补充的材料（如：已于某日将房屋租赁备案证明交至单位）")
	if err != nil {
		return err
	}
	load := func(ctx context.Context) (*Item, error) {
		it, err := s.load(ctx, id)
		if err != nil || it.PersonID != ap.PersonID {
			return nil, ErrNotFound
		}
		return it, nil
	}
	return s.act(ctx, ap, id, load, change{
		from: []Status{MaterialRequested}, action: "discrepancy.answer", note: note,
		check: func(it *Item) error {
			if it.Overdue(s.clock.Now()) {
				return apperr.New(apperr.Conflict, "补充材料的截止时间（"+it.Deadline.In(clock.Beijing).Format(time.DateOnly)+
					"）已过，无法再在网上提交，请联系单位或区人力社保局")
			}
			return nil
		},
		update: func(ctx context.Context, it *Item, now int64) error {
			return s.set(ctx, it, `status = 'material_received', material_note = $3, material_at = $4, updated_at = $4`, note, now)
		},
	})
}

// Override proposes to keep the applicant's declared value; it takes effect
// only when a second officer approves it.
func (s *Service) Override(ctx context.Context, officer actor.Actor, id int64, reason string) error {
	reason = strings.TrimSpace(reason)
	if n := utf8.RuneCountInString(reason); n < minOverrideReason || n > maxNote {
		return apperr.Field("reason", fmt.Sprintf("请说明更正为申报值的理由（%d到%d字）", minOverrideReason, maxNote))
	}
	return s.act(ctx, officer, id, s.officerLoad(officer, id), change{
		from: []Status{Open, MaterialRequested, MaterialReceived}, action: "discrepancy.override", note: reason,
		update: func(ctx context.Context, it *Item, now int64) error {
			return s.set(ctx, it, `status = 'override_pending', override_reason = $3, override_by = $4, approved_by = 0, updated_at = $5`,
				reason, officer.UserID, now)
		},
	})
}

// fourEyes refuses a decision on an override by the officer who proposed it.
func fourEyes(officer actor.Actor) func(it *Item) error {
	return func(it *Item) error {
		if it.OverrideBy == officer.UserID {
			return apperr.New(apperr.Forbidden, "不能审批本人提出的更正，须由另一名经办人员审批")
		}
		return nil
	}
}

// Approve lets an override take effect and re-scores the application in the
// same transaction. The approver is never the officer who proposed it.
func (s *Service) Approve(ctx context.Context, officer actor.Actor, id int64) error {
	return s.act(ctx, officer, id, s.officerLoad(officer, id), change{
		from: []Status{OverridePending}, action: "discrepancy.approve", check: fourEyes(officer),
		update: func(ctx context.Context, it *Item, now int64) error {
			return s.set(ctx, it, `status = 'overridden', approved_by = $3, decided_by = $3, decided_at = $4, updated_at = $4`,
				officer.UserID, now)
		},
		after: func(ctx context.Context, it *Item) error { return s.Rescore(ctx, it.ApplicationID) },
	})
}

// RejectOverride sends a proposed override back to the queue.
func (s *Service) RejectOverride(ctx context.Context, officer actor.Actor, id int64, note string) error {
	note, err := checkNote("note", note, true, "请说明驳回更正的理由")
	if err != nil {
		return err
	}
	return s.act(ctx, officer, id, s.officerLoad(officer, id), change{
		from: []Status{OverridePending}, action: "discrepancy.reject_override", note: note, check: fourEyes(officer),
		update: func(ctx context.Context, it *Item, now int64) error {
			return s.set(ctx, it, `status = 'open', override_by = 0, updated_at = $3`, now)
		},
	})
}

// mailRequest queues the e-mail that tells the applicant what to supply and
// by when, in the transaction of the request.
func (s *Service) mailRequest(ctx context.Context, it *Item, note string, day time.Time) error {
	if s.outbox == nil {
		return nil
	}
	var email, name string
	err := s.db.QueryRow(ctx, `SELECT u.email, u.display_name FROM users u JOIN persons p ON p.user_id = u.id
		WHERE p.id = $1`, it.PersonID).Scan(&email, &name)
	if errors.Is(err, sql.ErrNoRows) || err == nil && email == "" {
		return nil // an applicant without an address still sees the request on the portal
	}
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s，您好：\n\n", name)
	if it.Outcome == NotFound {
		fmt.Fprintf(&b, "您的积分落户申请（编号 %d）中“%s”一项，相关部门没有查到登记记录。\n", it.ApplicationID, it.ItemName())
	} else {
		fmt.Fprintf(&b, "您的积分落户申请（编号 %d）中“%s”一项，与相关部门核查的信息不一致。\n", it.ApplicationID, it.ItemName())
	}
	fmt.Fprintf(&b, "请补充：%s\n", note)
	fmt.Fprintf(&b, "请于%s前登录北京市积分落户网上申报系统，在“补充材料”页面提交说明。逾期未提交的，以部门核查结果为准。\n", day.Format(time.DateOnly))
	b.WriteString("\n本邮件由系统自动发送，请勿回复。\n")
	_, err = s.outbox.Enqueue(ctx, mail.Message{To: email, ToName: name, Subject: "【北京市积分落户】请补充材料：" + it.ItemName(),
		Text: b.String(), Category: "discrepancy.material", Ref: fmt.Sprintf("discrepancy:%d", it.ID),
		IdempotencyKey: fmt.Sprintf("disc:%d:req:%d:%s", it.ID, it.UpdatedAt.UnixMicro(), email)})
	if apperr.Is(err, apperr.Invalid) {
		return nil // an address the outbox refuses must not block the case
	}
	return err
}
