package application

import (
	"context"
	"fmt"
	"strings"

	"jifen/internal/actor"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/mail"
)

// NoteAndMail is Note (a line on the timeline, audited) and an e-mail to
// the applicant and, with toEmployer, the employer's operators, in the
// caller's transaction. key makes the e-mail idempotent: the same key is
// mailed once per address.
func (s *Service) NoteAndMail(ctx context.Context, by actor.Actor, id int64, text, key string, toEmployer bool) error {
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.Note(ctx, by, id, text); err != nil {
			return err
		}
		a, err := s.get(ctx, id)
		if err != nil {
			return err
		}
		if s.outbox == nil {
			return nil
		}
		rs, err := s.recipients(ctx, `SELECT u.email, u.display_name FROM users u JOIN persons p ON p.user_id = u.id
			WHERE p.id = $1 AND u.email <> ''`, a.PersonID)
		if err != nil {
			return err
		}
		if toEmployer {
			ops, err := s.recipients(ctx, `SELECT u.email, u.display_name FROM users u JOIN employer_operators o ON o.user_id = u.id
				WHERE o.employer_id = $1 AND u.email <> '' AND u.disabled = FALSE`, a.EmployerID)
			if err != nil {
				return err
			}
			rs = append(rs, ops...)
		}
		for _, r := range rs {
			var b strings.Builder
			fmt.Fprintf(&b, "%s，您好：\n\n申请人%s的%d年度积分落户申请（编号 %d）：%s\n", r.name, a.PersonName, a.RoundYear, a.ID, text)
			b.WriteString("\n请登录北京市积分落户网上申报系统查看详情。本邮件由系统自动发送，请勿回复。\n")
			m := mail.Message{To: r.email, ToName: r.name, Subject: fmt.Sprintf("【北京市积分落户】%d年度申请办理进展", a.RoundYear),
				Text: b.String(), Category: "application.note", Ref: fmt.Sprintf("application:%d", a.ID),
				IdempotencyKey: fmt.Sprintf("app:%d:note:%s:%s", a.ID, key, r.email)}
			if _, err := s.outbox.Enqueue(ctx, m); err != nil && !apperr.Is(err, apperr.Invalid) {
				return err
			}
		}
		return nil
	})
}
