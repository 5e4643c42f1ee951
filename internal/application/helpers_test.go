package application_test

import (
	"strings"
	"testing"

	"jifen/internal/actor"
	"jifen/internal/application"
	"jifen/internal/casetest"
)

// submittedToEmployer makes an application with a valid declaration that
// the applicant has submitted to their employer, and returns the
// applicant, the employer's operator and the application.
func submittedToEmployer(t *testing.T, e *casetest.Env) (me, opc actor.Actor, a *application.Application) {
	t.Helper()
	emp, op := e.VerifiedEmployer("op1")
	_, me, a = e.Linked("app1", emp, op)
	a, err := e.Applications.SaveDraft(e.Ctx, me, a.ID, declaration(), a.Version)
	if err != nil {
		t.Fatal(err)
	}
	if a, err = e.Applications.SubmitToEmployer(e.Ctx, me, a.ID, true); err != nil {
		t.Fatal(err)
	}
	return me, casetest.OperatorActor(emp, op), a
}

// timeline is the statuses an application's timeline went through, in
// order, joined by commas.
func timeline(t *testing.T, e *casetest.Env, who actor.Actor, id int64) string {
	t.Helper()
	evs, err := e.Applications.Events(e.Ctx, who, id)
	if err != nil {
		t.Fatal(err)
	}
	var path []string
	for _, ev := range evs {
		path = append(path, string(ev.To))
	}
	return strings.Join(path, ",")
}
