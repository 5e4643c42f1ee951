package discrepancy

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/rules"
)

// Rescore scores an application again from its applied cross-check result:
// the verified facts of the run that scored it (applications.score_run),
// with the declared facts copied in for every check item whose discrepancy
// an officer overrode, under that run's rulebook — the same rule the
// cross-check engine scores by (ScoreVerified). It updates the
// application's score through the application service, in the transaction
// of ctx if there is one.
func (s *Service) Rescore(ctx context.Context, applicationID int64) error {
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		var decl, book, verified string
		var run, old int64
		err := s.db.QueryRow(ctx, `SELECT a.declaration, a.score_run, a.score, c.rulebook, cs.verified FROM applications a
			JOIN check_runs c ON c.id = a.score_run JOIN check_scores cs ON cs.run_id = a.score_run AND cs.application_id = a.id
			WHERE a.id = $1`, applicationID).Scan(&decl, &run, &old, &book, &verified)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.New(apperr.Conflict, "该申请尚无比对结果，无法重新计分")
		}
		if err != nil {
			return err
		}
		ovr, err := s.overridden(ctx, applicationID)
		if err != nil {
			return err
		}
		var d, v rules.CalculatorRequest
		if err := json.Unmarshal([]byte(decl), &d); err != nil {
			return fmt.Errorf("rescore %d: declaration: %w", applicationID, err)
		}
		if err := json.Unmarshal([]byte(verified), &v); err != nil {
			return fmt.Errorf("rescore %d: verified: %w", applicationID, err)
		}
		rb, err := rules.Book(book)
		if err != nil {
			return err
		}
		res, ok := ScoreVerified(rb, v, d, ovr)
		if !ok {
			return fmt.Errorf("rescore %d: the facts cannot be scored", applicationID)
		}
		if err := s.apps.SetScore(ctx, applicationID, int64(res.Total), res.Eligible); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{Action: "application.rescore", ObjectType: "application",
			ObjectID: strconv.FormatInt(applicationID, 10),
			Reason:   fmt.Sprintf("%s → %s（更正指标：%d项）", rules.Points(old), res.Total, len(ovr))})
	})
}

// overridden maps the check items of an application whose discrepancy an
// officer overrode, with a second officer's approval, to the agency's value
// the override was decided against.
func (s *Service) overridden(ctx context.Context, applicationID int64) (map[string]string, error) {
	rows, err := s.db.Query(ctx, `SELECT item, verified FROM discrepancies WHERE application_id = $1 AND status = 'overridden'`,
		applicationID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var c, v string
		if err := rows.Scan(&c, &v); err != nil {
			return nil, err
		}
		out[c] = v
	}
	return out, rows.Err()
}

// ScoreVerified scores verified facts under a rulebook, taking the declared
// value of every item an officer's approved override stands for (as long as
// the agency's record is still the one the override was decided against).
// It is the one scoring rule of the cross-check engine (internal/check) and
// of Rescore; it lives here, with the overrides it honours, so that check
// may import this package to record discrepancies.
func ScoreVerified(book *rules.Rulebook, verified, declared rules.CalculatorRequest, overridden map[string]string) (rules.Result, bool) {
	req := copyRequest(verified)
	for item, against := range overridden {
		if verified.PartJSON(item) == against {
			rules.CopyPart(&req, &declared, item)
		}
	}
	facts, fe := req.Facts()
	if len(fe) > 0 {
		return rules.Result{}, false
	}
	return book.Score(facts), true
}

func copyRequest(r rules.CalculatorRequest) rules.CalculatorRequest {
	var out rules.CalculatorRequest
	b, _ := json.Marshal(r)
	_ = json.Unmarshal(b, &out)
	return out
}
