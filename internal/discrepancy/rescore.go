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
// an officer overrode, under the round's rulebook. It updates
// applications.score and score_eligible, in the transaction of ctx if there
// is one. The cross-check engine calls it after a re-run too.
func (s *Service) Rescore(ctx context.Context, applicationID int64) error {
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		var decl, book string
		var run, old int64
		err := s.db.QueryRow(ctx, `SELECT a.declaration, a.score_run, a.score, r.rulebook FROM applications a
			JOIN rounds r ON r.id = a.round_id WHERE a.id = $1`, applicationID).Scan(&decl, &run, &old, &book)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.New(apperr.NotFound, "申请不存在")
		}
		if err != nil {
			return err
		}
		if run == 0 {
			return apperr.New(apperr.Conflict, "该申请尚无比对结果，无法重新计分")
		}
		var verified string
		err = s.db.QueryRow(ctx, `SELECT verified FROM check_scores WHERE run_id = $1 AND application_id = $2`, run, applicationID).
			Scan(&verified)
		if err != nil {
			return fmt.Errorf("rescore %d: verified of run %d: %w", applicationID, run, err)
		}
		codes, err := s.overridden(ctx, applicationID)
		if err != nil {
			return err
		}
		res, err := ScoreWithOverrides(book, decl, verified, codes)
		if err != nil {
			return fmt.Errorf("rescore %d: %w", applicationID, err)
		}
		if _, err := s.db.Exec(ctx, `UPDATE applications SET score = $1, score_eligible = $2 WHERE id = $3`,
			int64(res.Total), res.Eligible, applicationID); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{Action: "application.rescore", ObjectType: "application",
			ObjectID: strconv.FormatInt(applicationID, 10),
			Reason:   fmt.Sprintf("%s → %s（更正指标：%d项）", rules.Points(old), res.Total, len(codes))})
	})
}

// overridden lists the check items of an application whose discrepancy an
// officer overrode, with a second officer's approval.
func (s *Service) overridden(ctx context.Context, applicationID int64) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT indicator FROM discrepancies WHERE application_id = $1 AND status = 'overridden'
		ORDER BY indicator`, applicationID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ScoreWithOverrides scores the verified request (JSON) with the declared
// request's (JSON) parts of codes copied in, under rulebook version.
func ScoreWithOverrides(version, declared, verified string, codes []string) (rules.Result, error) {
	var d, v rules.CalculatorRequest
	if err := json.Unmarshal([]byte(declared), &d); err != nil {
		return rules.Result{}, fmt.Errorf("declaration: %w", err)
	}
	if err := json.Unmarshal([]byte(verified), &v); err != nil {
		return rules.Result{}, fmt.Errorf("verified: %w", err)
	}
	for _, c := range codes {
		rules.CopyPart(&v, &d, c)
	}
	facts, fe := v.Facts()
	if len(fe) > 0 {
		return rules.Result{}, fmt.Errorf("facts: %w", fe)
	}
	book, err := rules.Book(version)
	if err != nil {
		return rules.Result{}, err
	}
	return book.Score(facts), nil
}
