package app

import (
	"context"
	"fmt"
	"strconv"

	"jifen/internal/actor"
	"jifen/internal/casefile"
	"jifen/internal/fraud"
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
