package application_test

import (
	"testing"

	"jifen/internal/application"
	"jifen/internal/casetest"
	"jifen/internal/platform/apperr"
)

// TestNoScoreChangesAfterTheFreeze: once the round is frozen, neither the
// cross-check's results nor an approved override change a score.
func TestNoScoreChangesAfterTheFreeze(t *testing.T) {
	e := casetest.New(t)
	emp, op := e.VerifiedEmployer("hr-frozen")
	_, _, a := e.Linked("ap-frozen", emp, op)
	if _, err := e.DB.Exec(e.Ctx, `UPDATE applications SET status = 'first_result', score = 9000, score_eligible = TRUE WHERE id = $1`,
		a.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.Applications.SetScore(e.Ctx, a.ID, 9100, true); err != nil {
		t.Fatalf("before the freeze: %v", err)
	}
	if _, err := e.DB.Exec(e.Ctx, `UPDATE rounds SET frozen_at = 1 WHERE id = $1`, e.RoundID); err != nil {
		t.Fatal(err)
	}
	if err := e.Applications.SetScore(e.Ctx, a.ID, 9900, true); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("override after the freeze: %v", err)
	}
	if err := e.Applications.ApplyResults(e.Ctx, 1, []application.Result{{ID: a.ID, Score: 9900, Eligible: true}}); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("cross-check results after the freeze: %v", err)
	}
	var score int64
	if err := e.DB.QueryRow(e.Ctx, `SELECT score FROM applications WHERE id = $1`, a.ID).Scan(&score); err != nil || score != 9100 {
		t.Fatalf("score %d %v, want 9100", score, err)
	}
}
