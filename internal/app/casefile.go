package app

import "jifen/internal/casefile"

// buildCasefile makes the officers' case view; it reads the cross-check's
// results, so it is built after the check engine. The fraud register and
// the assignment clock plug in as casefile.Extra (Fraud, Assignment).
func (a *App) buildCasefile() {
	var results casefile.Results
	if a.Check != nil {
		results = a.Check
	}
	a.Cases.Casefile = casefile.New(a.DB, a.Audit, a.Clock, a.Cases.Applications, a.Cases.Attachments, a.Cases.Persons,
		a.Accounts, results)
}
