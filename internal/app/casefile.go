package app

import (
	"context"
	"fmt"
	"strconv"

	"jifen/internal/actor"
	"jifen/internal/application"
	"jifen/internal/casefile"
	"jifen/internal/casework"
	"jifen/internal/fraud"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
)

// buildCasefile makes the officers' case view; it reads the cross-check's
// results, so it is built after the check engine. The fraud register's
// entries show on the case (casefile.Service.Fraud); the assignment and
// service clock plug in the same way (Assignment) once they exist.
func (a *App) buildCasefile() {
	var results casefile.Results
	if a.Check != nil {
		results = a.Check
	}
	a.Cases.Casefile = casefile.New(a.DB, a.Audit, a.Clock, a.Cases.Applications, a.Cases.Attachments, a.Cases.Persons,
		a.Accounts, results)
	if a.Cases.Fraud != nil {
		a.Cases.Casefile.Fraud = fraudSection(a.Cases.Fraud)
	}
	if a.Cases.Casework != nil {
		a.Cases.Casefile.Assignment = assignmentSection(a.Cases.Casework, a.Cases.Applications)
	}
}

// assignmentSection shows who holds the case and the service clock: the
// step, who must act and the date by which the case must move.
func assignmentSection(cw *casework.Service, apps *application.Service) casefile.Extra {
	return func(ctx context.Context, viewer actor.Actor, id int64) (*casefile.Section, error) {
		h, err := cw.Holder(ctx, viewer, id)
		if apperr.Is(err, apperr.NotFound) {
			return nil, nil // not in a work queue yet (before the first result)
		}
		if err != nil {
			return nil, err
		}
		ck, err := apps.Clock(ctx, viewer, id)
		if err != nil {
			return nil, err
		}
		sec := &casefile.Section{Key: "assignment", Title: "办理进度", Href: "/office/queue"}
		holder := "尚未认领"
		if h.OfficerID != 0 {
			holder = h.OfficerName
			if holder == "" {
				holder = "其他经办人员"
			}
		}
		sec.Lines = append(sec.Lines, casefile.Line{Label: "经办人", Value: holder})
		if ck.StepName != "" {
			sec.Lines = append(sec.Lines, casefile.Line{Label: "当前环节", Value: ck.StepName + "（" + ck.Holder + "）"})
		}
		if !ck.DueAt.IsZero() {
			due := ck.DueAt.In(clock.Beijing).Format("2006-01-02")
			if ck.Overdue {
				sec.Badge, due = "err", due+"（已逾期）"
			}
			sec.Lines = append(sec.Lines, casefile.Line{Label: "办理期限", Value: due})
		}
		return sec, nil
	}
}

// fraudSection shows the fraud register's entries about the case's person
// or employer, pending or in force; none shows nothing.
func fraudSection(f *fraud.Service) casefile.Extra {
	return func(ctx context.Context, _ actor.Actor, id int64) (*casefile.Section, error) {
		es, err := f.ForApplication(ctx, id)
		if err != nil || len(es) == 0 {
			return nil, err
		}
		sec := &casefile.Section{Key: "fraud", Title: "虚假材料库", Badge: "warn", Href: "/office/fraud/" + strconv.FormatInt(es[0].ID, 10)}
		for _, e := range es {
			if e.Status == fraud.InForce {
				sec.Badge = "err"
			}
			sec.Lines = append(sec.Lines, casefile.Line{Label: e.KindName() + "（" + e.StatusName() + "）",
				Value: fmt.Sprintf("%s；认定日期 %s；禁止申报 %d—%d年", e.What, e.DecidedOn, e.BanFrom, e.BanTo)})
		}
		return sec, nil
	}
}
