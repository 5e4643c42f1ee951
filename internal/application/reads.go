package application

import (
	"context"
	"fmt"

	"jifen/internal/actor"
	"jifen/internal/audit"
)

// auditRead notes in the audit trail that c read application a, or one of
// its attachments, when c is not its applicant (an employer's operator, an
// officer). The row is buffered and written in a batch (audit.RecordRead),
// so the page keeps its speed.
func (s *Service) auditRead(ctx context.Context, c actor.Actor, a *Application, action, what string) {
	s.audit.RecordRead(ctx, c, audit.Read{Action: action, PersonID: a.PersonID, What: what})
}

func applicationRead(a *Application) string {
	return fmt.Sprintf("申请 %d（%d年度）：申报信息、材料清单、办理记录", a.ID, a.RoundYear)
}

func attachmentRead(a *Application, at *Attachment) string {
	return fmt.Sprintf("申请 %d 的附件 %d（指标 %s，%s）", a.ID, at.ID, at.Indicator, at.Filename)
}
