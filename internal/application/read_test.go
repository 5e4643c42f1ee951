package application_test

import (
	"bytes"
	"testing"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/casetest"
	"jifen/internal/platform/apperr"
)

// EventsOf and ListOf take an application the page has already read; they
// check access on it as Events and List do after reading it themselves.
func TestTimelineAndFilesOfAnApplicationAlreadyRead(t *testing.T) {
	e := casetest.New(t)
	emp, op := e.VerifiedEmployer("op1")
	other, op2 := e.VerifiedEmployer("op2")
	_, me, mine := e.Linked("app1", emp, op)
	_, thief, _ := e.Linked("app2", other, op2)
	if _, err := e.Attachments.Add(e.Ctx, me, mine.ID, "housing", "房产证.pdf", bytes.NewReader([]byte("%PDF-1.7\n"))); err != nil {
		t.Fatal(err)
	}
	evs, err := e.Applications.EventsOf(e.Ctx, me, mine)
	if want, _ := e.Applications.Events(e.Ctx, me, mine.ID); err != nil || len(evs) == 0 || len(evs) != len(want) {
		t.Fatalf("own timeline: %d events, want %d, %v", len(evs), len(want), err)
	}
	files, err := e.Attachments.ListOf(e.Ctx, casetest.OperatorActor(emp, op), mine)
	if err != nil || len(files) != 1 || files[0].Filename != "房产证.pdf" {
		t.Fatalf("the employer's view of the files: %v %v", files, err)
	}
	before, _ := e.Audit.Search(e.Ctx, audit.Filter{Action: "access.denied"})
	if _, err := e.Applications.EventsOf(e.Ctx, thief, mine); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("another applicant's timeline: %v", err)
	}
	if _, err := e.Attachments.ListOf(e.Ctx, casetest.OperatorActor(other, op2), mine); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("another employer's files: %v", err)
	}
	after, err := e.Audit.Search(e.Ctx, audit.Filter{Action: "access.denied"})
	if err != nil || len(after) != len(before)+2 {
		t.Fatalf("%d denied accesses audited, want %d: %v", len(after), len(before)+2, err)
	}
}

// Who may act is the actor's roles, not only the ids it carries: a person
// id on an actor without the applicant's role opens nothing, and the
// officials who handle cases read any application.
func TestAccessFollowsTheActorsRoles(t *testing.T) {
	e := casetest.New(t)
	emp, op := e.VerifiedEmployer("op1")
	_, me, mine := e.Linked("app1", emp, op)
	noRole := me
	noRole.Roles = nil
	if _, err := e.Applications.Get(e.Ctx, noRole, mine.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("an actor with the person's id but no role read the application: %v", err)
	}
	if _, err := e.Applications.SubmitToEmployer(e.Ctx, noRole, mine.ID, true); err == nil {
		t.Fatal("an actor with no role submitted the application")
	}
	for _, r := range []actor.Role{actor.DistrictOfficer, actor.CityOfficer} {
		if _, err := e.Applications.Get(e.Ctx, actor.Actor{UserID: 99, Roles: []actor.Role{r}}, mine.ID); err != nil {
			t.Fatalf("%s cannot read a case: %v", r, err)
		}
	}
	if _, err := e.Applications.Get(e.Ctx, actor.Actor{UserID: 98, Roles: []actor.Role{actor.SystemAdmin}}, mine.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("the system administrator read a case: %v", err)
	}
}
