package application_test

import (
	"context"
	"strings"
	"testing"

	"jifen/internal/application"
	"jifen/internal/casetest"
	"jifen/internal/platform/mail"
)

// The cross-check's transitions, in the caller's transaction: entering the
// check writes the timeline row; the first result writes the score, the
// timeline row and the applicant's mail, once even when applied twice.
func TestCrossCheckTransitions(t *testing.T) {
	e := casetest.New(t)
	me, opc, a := submittedToEmployer(t, e)
	if _, err := e.Applications.File(e.Ctx, opc, a.ID); err != nil {
		t.Fatal(err)
	}
	err := e.DB.WithTx(e.Ctx, func(ctx context.Context) error {
		n, err := e.Applications.EnterCheck(ctx, e.RoundID, 0)
		if err == nil && n != 1 {
			t.Errorf("entered %d, want 1", n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := e.Applications.EnterCheck(e.Ctx, e.RoundID, 0); err != nil || n != 0 {
		t.Fatalf("entered again: %d %v", n, err)
	}
	for range 2 { // applying the same result again moves nothing and mails nobody
		err = e.DB.WithTx(e.Ctx, func(ctx context.Context) error {
			return e.Applications.ApplyResults(ctx, 7, []application.Result{{ID: a.ID, Score: 9876, Eligible: true}, {ID: a.ID + 999}})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := e.Applications.Get(e.Ctx, me, a.ID)
	if err != nil || got.Status != application.FirstResult {
		t.Fatalf("after the result: %+v %v", got, err)
	}
	var score, run int64
	if err := e.DB.QueryRow(e.Ctx, `SELECT score, score_run FROM applications WHERE id = $1`, a.ID).Scan(&score, &run); err != nil ||
		score != 9876 || run != 7 {
		t.Fatalf("score %d run %d %v", score, run, err)
	}
	if p := timeline(t, e, me, a.ID); p != "draft,with_employer,submitted,checking,first_result" {
		t.Fatalf("timeline %s", p)
	}
	msgs, err := e.Outbox.List(e.Ctx, mail.Filter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range msgs {
		if strings.Contains(m.Subject, application.StatusName(application.FirstResult)) {
			n++
			if m.Ref == "" || !strings.Contains(m.Text, application.StatusName(application.FirstResult)) {
				t.Fatalf("mail %+v", m)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d first-result mails, want 1", n)
	}
}
