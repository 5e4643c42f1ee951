package fraud

import (
	"context"
	"fmt"
	"strings"

	"jifen/internal/platform/apperr"
	"jifen/internal/platform/mail"
)

// mailInForce tells whom an entry concerns that it took effect, in the
// transaction of the approval: the person (their account's address), or
// every enabled operator of the employer. The mail names the item concerned,
// the decision's date and the ban's years, and where to ask; it does not
// quote the officer's description of what was false (which may name other
// people and stays in the office) nor any ID number.
func (s *Service) mailInForce(ctx context.Context, e *Entry) error {
	if s.outbox == nil {
		return nil
	}
	q := `SELECT u.email, u.display_name FROM users u JOIN persons p ON p.user_id = u.id WHERE p.id = $1 AND u.email <> ''`
	arg := e.PersonID
	if e.Kind == Employer {
		q = `SELECT u.email, u.display_name FROM users u JOIN employer_operators o ON o.user_id = u.id
			WHERE o.employer_id = $1 AND u.email <> '' AND u.disabled = FALSE ORDER BY u.id`
		arg = e.EmployerID
	}
	type rcpt struct{ email, name string }
	var rs []rcpt
	if err := func() error {
		rows, err := s.db.Query(ctx, q, arg)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r rcpt
			if err := rows.Scan(&r.email, &r.name); err != nil {
				return err
			}
			rs = append(rs, r)
		}
		return rows.Err()
	}(); err != nil {
		return apperr.Wrap(err)
	}
	for _, r := range rs {
		var b strings.Builder
		fmt.Fprintf(&b, "%s，您好：\n\n", r.name)
		if e.Kind == Employer {
			fmt.Fprintf(&b, "经审核认定，%s在北京市积分落户申报中协助申请人提供虚假材料", e.SubjectName)
		} else {
			b.WriteString("经审核认定，您在北京市积分落户申报中提供了虚假材料")
		}
		if e.Item != "" {
			fmt.Fprintf(&b, "（涉及“%s”）", e.ItemName())
		}
		fmt.Fprintf(&b, "，认定日期为%s，已列入虚假材料库。\n", e.DecidedOn)
		if e.Kind == Employer {
			fmt.Fprintf(&b, "根据规定，贵单位%d年至%d年不得为申请人提交积分落户申请。\n", e.BanFrom, e.BanTo)
		} else {
			fmt.Fprintf(&b, "根据规定，您%d年至%d年不得申报北京市积分落户。\n", e.BanFrom, e.BanTo)
		}
		b.WriteString("如对认定有异议，可向北京市或所在区人力资源和社会保障局咨询，并可依法申请行政复议或提起行政诉讼。\n")
		b.WriteString("\n本邮件由系统自动发送，请勿回复。\n")
		_, err := s.outbox.Enqueue(ctx, mail.Message{To: r.email, ToName: r.name, Subject: "【北京市积分落户】虚假材料认定结果告知",
			Text: b.String(), Category: "fraud.in_force", Ref: fmt.Sprintf("fraud_entry:%d", e.ID),
			IdempotencyKey: fmt.Sprintf("fraud:%d:in_force:%s", e.ID, r.email)})
		if err != nil && !apperr.Is(err, apperr.Invalid) { // an address the outbox refuses must not block the decision
			return err
		}
	}
	return nil
}
