package check

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/riverqueue/river"

	"jifen/internal/application"
	"jifen/internal/discrepancy"
	"jifen/internal/platform/db"
	"jifen/internal/platform/jobs"
	"jifen/internal/rules"
)

// scored is one application's verified result in a run.
type scored struct {
	id       int64
	total    int64
	eligible bool
	verified string
	outcomes []Outcome
	district string
}

type appRow struct {
	id       int64
	decl     rules.CalculatorRequest
	status   string
	scoreRun int64
	emp      Employer
}

func (e *Engine) loadApps(ctx context.Context, ids []int64) (map[int64]*appRow, error) {
	rows, err := e.db.Query(ctx, `SELECT a.id, a.declaration, a.status, a.score_run, e.credit_code, e.district
		FROM applications a JOIN employers e ON e.id = a.employer_id WHERE a.id IN (SELECT id FROM `+e.db.JSONIDs("$1")+` x)`, idJSON(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[int64]*appRow, len(ids))
	for rows.Next() {
		var a appRow
		var decl string
		if err := rows.Scan(&a.id, &decl, &a.status, &a.scoreRun, &a.emp.CreditCode, &a.emp.District); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(decl), &a.decl); err != nil {
			return nil, fmt.Errorf("application %d: declaration: %w", a.id, err)
		}
		out[a.id] = &a
	}
	return out, rows.Err()
}

// previous returns the verified facts and outcomes of the applications'
// current results (for a run of one check item).
func (e *Engine) previous(ctx context.Context, ids []int64) (map[int64]rules.CalculatorRequest, map[int64][]Outcome, error) {
	rows, err := e.db.Query(ctx, `SELECT s.application_id, s.verified, s.outcomes FROM check_scores s
		JOIN applications a ON a.id = s.application_id AND a.score_run = s.run_id WHERE a.id IN (SELECT id FROM `+e.db.JSONIDs("$1")+` x)`,
		idJSON(ids))
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	facts, outs := map[int64]rules.CalculatorRequest{}, map[int64][]Outcome{}
	for rows.Next() {
		var id int64
		var v, o string
		if err := rows.Scan(&id, &v, &o); err != nil {
			return nil, nil, err
		}
		var req rules.CalculatorRequest
		var oc []Outcome
		if json.Unmarshal([]byte(v), &req) == nil && json.Unmarshal([]byte(o), &oc) == nil {
			facts[id], outs[id] = req, oc
		}
	}
	return facts, outs, rows.Err()
}

// overrides returns the approved overrides of the applications: item →
// the verified part the override was decided against.
func (e *Engine) overrides(ctx context.Context, ids []int64) (map[int64]map[string]string, error) {
	rows, err := e.db.Query(ctx, `SELECT application_id, item, verified FROM discrepancies
		WHERE status = 'overridden' AND application_id IN (SELECT id FROM `+e.db.JSONIDs("$1")+` x)`, idJSON(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]map[string]string{}
	for rows.Next() {
		var id int64
		var item, v string
		if err := rows.Scan(&id, &item, &v); err != nil {
			return nil, err
		}
		if out[id] == nil {
			out[id] = map[string]string{}
		}
		out[id][item] = v
	}
	return out, rows.Err()
}

// doScore verifies and scores one batch once every agency has answered.
func (e *Engine) doScore(ctx context.Context, job *river.Job[scoreArgs]) error {
	a := job.Args
	run, err := e.GetRun(ctx, a.Run)
	if err != nil || run.Status == "discarded" {
		return err
	}
	book, err := rules.Book(run.Rulebook)
	if err != nil {
		return err
	}
	b, err := e.batch(ctx, a.Run, a.Batch)
	if err != nil {
		return err
	}
	answers, err := e.answers(ctx, a.Run, a.Batch)
	if err != nil {
		return err
	}
	out, err := e.verifyBatch(ctx, run, book, b.ids, answers)
	if err != nil {
		return err
	}
	return e.db.WithTx(ctx, func(ctx context.Context) error {
		if err := e.saveScores(ctx, a.Batch, run, out); err != nil {
			return err
		}
		return jobs.Complete(ctx, e.jobs, job)
	})
}

// answers returns what each agency answered about a batch.
func (e *Engine) answers(ctx context.Context, runID int64, batchNo int) (map[string]map[int64]Answer, error) {
	answers := map[string]map[int64]Answer{}
	err := e.each(ctx, `SELECT agency, answer FROM check_queries WHERE run_id = $1 AND batch_no = $2 AND answered_at <> 0`,
		[]any{runID, batchNo}, func(rows *sql.Rows) error {
			var ag, raw string
			if err := rows.Scan(&ag, &raw); err != nil {
				return err
			}
			m := map[int64]Answer{}
			if err := json.Unmarshal([]byte(raw), &m); err != nil {
				return fmt.Errorf("answer of %s: %w", ag, err)
			}
			answers[ag] = m
			return nil
		})
	return answers, err
}

// verifyBatch builds each application's verified request from the answers
// (for a run of one item, on top of its current result) and scores it,
// honouring approved overrides. It reads only: no transaction is held.
func (e *Engine) verifyBatch(ctx context.Context, run *Run, book *rules.Rulebook, ids []int64,
	answers map[string]map[int64]Answer) ([]scored, error) {
	apps, err := e.loadApps(ctx, ids)
	if err != nil {
		return nil, err
	}
	var base map[int64]rules.CalculatorRequest
	var baseOut map[int64][]Outcome
	if run.Item != "" {
		if base, baseOut, err = e.previous(ctx, ids); err != nil {
			return nil, err
		}
	}
	ovr, err := e.overrides(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]scored, 0, len(ids))
	for _, id := range ids {
		a, ok := apps[id]
		if !ok {
			continue
		}
		facts := Facts{}
		for _, ag := range run.Agencies() {
			if x, ok := answers[ag][id]; ok {
				facts[ag] = x
			}
		}
		var bp *rules.CalculatorRequest
		if f, ok := base[id]; ok {
			bp = &f
		}
		v, oc := Verify(a.decl, facts, a.emp, run.Items(), bp)
		if run.Item != "" {
			oc = mergeOutcomes(baseOut[id], oc)
		}
		res, ok := discrepancy.ScoreVerified(book, v, a.decl, ovr[id])
		vj, _ := json.Marshal(v)
		out = append(out, scored{id: id, total: int64(res.Total), eligible: ok && res.Eligible, verified: string(vj), outcomes: oc,
			district: a.emp.District})
	}
	return out, nil
}

// saveScores, in the caller's transaction, marks the batch scored (once:
// a batch scored already is left as it is), stores its scores, applies them
// when the run applies as it goes, and finishes the run with its last batch.
func (e *Engine) saveScores(ctx context.Context, batchNo int, run *Run, out []scored) error {
	if err := e.lockRun(ctx, run.ID); err != nil {
		return err
	}
	res, err := e.db.Exec(ctx, `UPDATE check_batches SET scored = TRUE, applied = $1 WHERE run_id = $2 AND batch_no = $3 AND NOT scored`,
		run.Mode == "apply", run.ID, batchNo)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil
	}
	now := db.Micros(e.clock.Now())
	for _, s := range out {
		oj, _ := json.Marshal(s.outcomes)
		if _, err := e.db.Exec(ctx, `INSERT INTO check_scores (run_id, application_id, total, eligible, verified, outcomes, scored_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (run_id, application_id) DO UPDATE SET total = excluded.total,
			eligible = excluded.eligible, verified = excluded.verified, outcomes = excluded.outcomes, scored_at = excluded.scored_at`,
			run.ID, s.id, s.total, s.eligible, s.verified, string(oj), now); err != nil {
			return err
		}
	}
	if run.Mode == "apply" {
		if err := e.applyScores(ctx, run.ID, out); err != nil {
			return err
		}
	}
	var left int
	if err := e.db.QueryRow(ctx, `SELECT COUNT(*) FROM check_batches WHERE run_id = $1 AND NOT scored`, run.ID).Scan(&left); err != nil {
		return err
	}
	if left > 0 {
		return nil
	}
	_, err = e.db.Exec(ctx, `UPDATE check_runs SET status = CASE WHEN mode = 'apply' THEN 'applied' ELSE 'ready' END,
		finished_at = $1 WHERE id = $2 AND status = 'running'`, now, run.ID)
	return err
}

// mergeOutcomes replaces the outcomes of the items in fresh within prev.
func mergeOutcomes(prev, fresh []Outcome) []Outcome {
	byItem := map[string]Outcome{}
	for _, o := range fresh {
		byItem[o.Item] = o
	}
	out := make([]Outcome, 0, len(prev)+len(fresh))
	for _, o := range prev {
		if f, ok := byItem[o.Item]; ok {
			out = append(out, f)
			delete(byItem, o.Item)
			continue
		}
		out = append(out, o)
	}
	for _, o := range fresh {
		if _, ok := byItem[o.Item]; ok {
			out = append(out, o)
		}
	}
	return out
}

// applyScores makes the scores the applications' first-round results and
// brings the discrepancy queue up to date, in the caller's transaction,
// through the services that own those tables: the application moves on
// with its timeline row and its mail, the queue opens, refreshes or clears
// each item.
func (e *Engine) applyScores(ctx context.Context, runID int64, list []scored) error {
	if len(list) == 0 {
		return nil
	}
	results := make([]application.Result, len(list))
	var findings []discrepancy.Finding
	for i, s := range list {
		results[i] = application.Result{ID: s.id, Score: s.total, Eligible: s.eligible}
		for _, o := range s.outcomes {
			findings = append(findings, discrepancy.Finding{ApplicationID: s.id, Item: o.Item, Outcome: o.Outcome,
				Declared: o.Declared, Verified: o.Verified, District: s.district})
		}
	}
	if err := e.own.Applications.ApplyResults(ctx, runID, results); err != nil {
		return err
	}
	return e.own.Discrepancies.Record(ctx, runID, findings)
}

// doApply applies one batch of a previewed run that an officer accepted,
// once (a batch applied already is left as it is); the last batch finishes
// the run.
func (e *Engine) doApply(ctx context.Context, job *river.Job[applyArgs]) error {
	a := job.Args
	b, err := e.batch(ctx, a.Run, a.Batch)
	if err != nil {
		return err
	}
	var list []scored
	if err := e.each(ctx, `SELECT s.application_id, s.total, s.eligible, s.outcomes, e.district
		FROM check_scores s JOIN applications a ON a.id = s.application_id JOIN employers e ON e.id = a.employer_id
		WHERE s.run_id = $1 AND s.application_id IN (SELECT id FROM `+e.db.JSONIDs("$2")+` x)`, []any{a.Run, idJSON(b.ids)},
		func(rows *sql.Rows) error {
			var s scored
			var oc string
			if err := rows.Scan(&s.id, &s.total, &s.eligible, &oc, &s.district); err != nil {
				return err
			}
			if err := json.Unmarshal([]byte(oc), &s.outcomes); err != nil {
				return fmt.Errorf("outcomes of application %d: %w", s.id, err)
			}
			list = append(list, s)
			return nil
		}); err != nil {
		return err
	}
	return e.db.WithTx(ctx, func(ctx context.Context) error {
		if err := e.lockRun(ctx, a.Run); err != nil {
			return err
		}
		res, err := e.db.Exec(ctx, `UPDATE check_batches SET applied = TRUE WHERE run_id = $1 AND batch_no = $2 AND NOT applied`, a.Run, a.Batch)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			if err := e.applyScores(ctx, a.Run, list); err != nil {
				return err
			}
			var left int
			if err := e.db.QueryRow(ctx, `SELECT COUNT(*) FROM check_batches WHERE run_id = $1 AND NOT applied`, a.Run).Scan(&left); err != nil {
				return err
			}
			if left == 0 {
				if _, err := e.db.Exec(ctx, `UPDATE check_runs SET status = 'applied', finished_at = $1 WHERE id = $2 AND status = 'applying'`,
					db.Micros(e.clock.Now()), a.Run); err != nil {
					return err
				}
			}
		}
		return jobs.Complete(ctx, e.jobs, job)
	})
}

// lockRun locks the run's row for the transaction (PostgreSQL; SQLite's
// single writer already serialises), so the last two batches finishing at
// once cannot each miss the other and leave the run unfinished.
func (e *Engine) lockRun(ctx context.Context, runID int64) error {
	var id int64
	return e.db.QueryRow(ctx, `SELECT id FROM check_runs WHERE id = $1`+e.db.ForUpdate(), runID).Scan(&id)
}

// idJSON is a set of ids as one parameter, for db.JSONIDs.
func idJSON(ids []int64) string {
	b, _ := json.Marshal(ids)
	return string(b)
}
