package application

import (
	"context"
	"fmt"
	"strings"

	"jifen/internal/platform/apperr"
	"jifen/internal/platform/mail"
)

// notify queues e-mail about a change to the people it concerns, in the
// transaction of the change: the applicant always, the employer's operators
// when the application reaches them. The idempotency key makes a repeated
// call harmless.
func (s *Service) notify(ctx context.Context, a *Application, to Status, reason string) error {
	if s.outbox == nil {
		return nil
	}
	rs, err := s.recipients(ctx, `SELECT u.email, u.display_name FROM users u JOIN persons p ON p.user_id = u.id
		WHERE p.id = $1 AND u.email <> ''`, a.PersonID)
	if err != nil {
		return err
	}
	if to == WithEmployer {
		ops, err := s.recipients(ctx, `SELECT u.email, u.display_name FROM users u JOIN employer_operators o ON o.user_id = u.id
			WHERE o.employer_id = $1 AND u.email <> '' AND u.disabled = FALSE`, a.EmployerID)
		if err != nil {
			return err
		}
		rs = append(rs, ops...)
	}
	for _, r := range rs {
		m := statusMail(a.ID, a.Version, a.RoundYear, a.PersonName, to, reason, r)
		if _, err := s.outbox.Enqueue(ctx, m); err != nil {
			if apperr.Is(err, apperr.Invalid) {
				continue // an address the outbox refuses must not block the case
			}
			return err
		}
	}
	return nil
}

type recipient struct{ email, name string }

// statusMail is the e-mail about one status change of application id (at
// version, before the change) to one recipient. Its idempotency key makes a
// repeated change harmless.
func statusMail(id int64, version, year int, personName string, to Status, reason string, r recipient) mail.Message {
	var b strings.Builder
	fmt.Fprintf(&b, "%s，您好：\n\n", r.name)
	fmt.Fprintf(&b, "申请人%s的%d年度积分落户申请（编号 %d）状态已更新为：%s。\n", personName, year, id, StatusName(to))
	if reason != "" {
		fmt.Fprintf(&b, "说明：%s\n", reason)
	}
	b.WriteString("\n请登录北京市积分落户网上申报系统查看详情。本邮件由系统自动发送，请勿回复。\n")
	return mail.Message{To: r.email, ToName: r.name, Subject: fmt.Sprintf("【北京市积分落户】%d年度申请状态更新：%s", year, StatusName(to)),
		Text: b.String(), Category: "application.status", Ref: fmt.Sprintf("application:%d", id),
		IdempotencyKey: fmt.Sprintf("app:%d:v%d:%s:%s", id, version, to, r.email)}
}

func (s *Service) recipients(ctx context.Context, q string, id int64) ([]recipient, error) {
	rows, err := s.db.Query(ctx, q, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []recipient
	for rows.Next() {
		var r recipient
		if err := rows.Scan(&r.email, &r.name); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
