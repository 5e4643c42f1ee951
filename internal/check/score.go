package check

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"jifen/internal/platform/db"
	"jifen/internal/rules"
)

// scored is one application's verified result in a run.
type scored struct {
	id       int64
	status   string
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
		FROM applications a JOIN employers e ON e.id = a.employer_id WHERE a.id IN (`+inList(ids)+`)`)
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
		JOIN applications a ON a.id = s.application_id AND a.score_run = s.run_id WHERE a.id IN (`+inList(ids)+`)`)
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
	rows, err := e.db.Query(ctx, `SELECT application_id, indicator, verified FROM discrepancies
		WHERE status = 'overridden' AND application_id IN (`+inList(ids)+`)`)
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

// ScoreVerified scores verified facts under a rulebook, taking the declared
// value of every item an officer's approved override stands for (as long as
// the agency's record is still the one the override was decided against).
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

// doScore verifies and scores one batch once every agency has answered.
func (e *Engine) doScore(ctx context.Context, j *job) error {
	run, err := e.GetRun(ctx, j.runID)
	if err != nil {
		return err
	}
	if run.Status == "discarded" {
		return e.db.WithTx(ctx, func(ctx context.Context) error { return e.finish(ctx, j, "") })
	}
	book, err := rules.Book(run.Rulebook)
	if err != nil {
		return err
	}
	b, err := e.batch(ctx, j.runID, j.batchNo)
	if err != nil {
		return err
	}
	answers := map[string]map[int64]Answer{}
	if err := e.each(ctx, `SELECT agency, answer FROM check_jobs WHERE run_id = $1 AND batch_no = $2 AND kind = 'query' AND state = 'done'`,
		[]any{j.runID, j.batchNo}, func(rows *sql.Rows) error {
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
		}); err != nil {
		return err
	}
	apps, err := e.loadApps(ctx, b.ids)
	if err != nil {
		return err
	}
	var base map[int64]rules.CalculatorRequest
	var baseOut map[int64][]Outcome
	if run.Item != "" {
		if base, baseOut, err = e.previous(ctx, b.ids); err != nil {
			return err
		}
	}
	ovr, err := e.overrides(ctx, b.ids)
	if err != nil {
		return err
	}
	out := make([]scored, 0, len(b.ids))
	for _, id := range b.ids {
		a, ok := apps[id]
		if !ok {
			continue
		}
		facts := Facts{}
		for _, ag := range run.Agencies() {
			if m, ok := answers[ag]; ok {
				if x, ok := m[id]; ok {
					facts[ag] = x
				}
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
		res, ok := ScoreVerified(book, v, a.decl, ovr[id])
		vj, _ := json.Marshal(v)
		s := scored{id: id, status: a.status, total: int64(res.Total), eligible: ok && res.Eligible, verified: string(vj), outcomes: oc,
			district: a.emp.District}
		out = append(out, s)
	}
	err = e.db.WithTx(ctx, func(ctx context.Context) error {
		if err := e.lockRun(ctx, j.runID); err != nil {
			return err
		}
		if err := e.finish(ctx, j, ""); err != nil {
			return err
		}
		now := db.Micros(e.clock.Now())
		for _, s := range out {
			oj, _ := json.Marshal(s.outcomes)
			if _, err := e.db.Exec(ctx, `INSERT INTO check_scores (run_id, application_id, total, eligible, verified, outcomes, scored_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (run_id, application_id) DO UPDATE SET total = excluded.total,
				eligible = excluded.eligible, verified = excluded.verified, outcomes = excluded.outcomes, scored_at = excluded.scored_at`,
				j.runID, s.id, s.total, s.eligible, s.verified, string(oj), now); err != nil {
				return err
			}
		}
		if run.Mode == "apply" {
			if err := e.applyScores(ctx, run.ID, out); err != nil {
				return err
			}
		}
		if _, err := e.db.Exec(ctx, `UPDATE check_batches SET scored = TRUE WHERE run_id = $1 AND batch_no = $2`, j.runID, j.batchNo); err != nil {
			return err
		}
		var left int
		if err := e.db.QueryRow(ctx, `SELECT COUNT(*) FROM check_batches WHERE run_id = $1 AND NOT scored`, j.runID).Scan(&left); err != nil {
			return err
		}
		if left == 0 {
			_, err := e.db.Exec(ctx, `UPDATE check_runs SET status = CASE WHEN mode = 'apply' THEN 'applied' ELSE 'ready' END,
				finished_at = $1 WHERE id = $2 AND status = 'running'`, now, j.runID)
			return err
		}
		return nil
	})
	if errors.Is(err, errLostLease) {
		return nil
	}
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

// applyScores makes the scores the applications' first-round results, moves
// the checked applications on, and brings the discrepancy queue up to date,
// in the caller's transaction.
func (e *Engine) applyScores(ctx context.Context, runID int64, list []scored) error {
	if len(list) == 0 {
		return nil
	}
	now := db.Micros(e.clock.Now())
	ids := make([]int64, len(list))
	for i, s := range list {
		ids[i] = s.id
	}
	existing := map[int64]map[string]bool{}
	if err := e.each(ctx, `SELECT application_id, indicator FROM discrepancies WHERE application_id IN (`+inList(ids)+`)`, nil,
		func(rows *sql.Rows) error {
			var id int64
			var item string
			if err := rows.Scan(&id, &item); err != nil {
				return err
			}
			if existing[id] == nil {
				existing[id] = map[string]bool{}
			}
			existing[id][item] = true
			return nil
		}); err != nil {
		return err
	}
	for _, s := range list {
		to := s.status
		if s.status == "submitted" || s.status == "checking" {
			to = "first_result"
		}
		if _, err := e.db.Exec(ctx, `UPDATE applications SET score = $1, score_eligible = $2, score_run = $3, scored_at = $4,
			status = $5, updated_at = $4, version = version + 1 WHERE id = $6`, s.total, s.eligible, runID, now, to, s.id); err != nil {
			return err
		}
		if to != s.status {
			if _, err := e.db.Exec(ctx, `INSERT INTO application_events (application_id, at, from_status, to_status, actor_id, actor_role, reason)
				VALUES ($1, $2, $3, $4, 0, 'system', '业务比对完成，初审结果已生成')`, s.id, now, s.status, to); err != nil {
				return err
			}
		}
		for _, o := range s.outcomes {
			switch o.Outcome {
			case Mismatch, NotFound:
				// A finding that changed reopens; the same finding keeps
				// whatever an officer decided about it.
				if _, err := e.db.Exec(ctx, `INSERT INTO discrepancies (application_id, run_id, indicator, outcome, declared, verified,
					district, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $8)
					ON CONFLICT (application_id, indicator) DO UPDATE SET run_id = excluded.run_id, outcome = excluded.outcome,
					status = CASE WHEN discrepancies.declared = excluded.declared AND discrepancies.verified = excluded.verified
						AND discrepancies.status <> 'cleared' THEN discrepancies.status ELSE 'open' END,
					declared = excluded.declared, verified = excluded.verified, district = excluded.district, updated_at = excluded.updated_at`,
					s.id, runID, o.Item, o.Outcome, o.Declared, o.Verified, s.district, now); err != nil {
					return err
				}
			case Match:
				if existing[s.id][o.Item] {
					if _, err := e.db.Exec(ctx, `UPDATE discrepancies SET status = 'cleared', run_id = $1, updated_at = $2
						WHERE application_id = $3 AND indicator = $4 AND status <> 'cleared'`, runID, now, s.id, o.Item); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// doApply applies one batch of a previewed run that an officer accepted.
func (e *Engine) doApply(ctx context.Context, j *job) error {
	b, err := e.batch(ctx, j.runID, j.batchNo)
	if err != nil {
		return err
	}
	var list []scored
	if err := e.each(ctx, `SELECT s.application_id, a.status, s.total, s.eligible, s.outcomes, e.district
		FROM check_scores s JOIN applications a ON a.id = s.application_id JOIN employers e ON e.id = a.employer_id
		WHERE s.run_id = $1 AND s.application_id IN (`+inList(b.ids)+`)`, []any{j.runID}, func(rows *sql.Rows) error {
		var s scored
		var oc string
		if err := rows.Scan(&s.id, &s.status, &s.total, &s.eligible, &oc, &s.district); err != nil {
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
	err = e.db.WithTx(ctx, func(ctx context.Context) error {
		if err := e.lockRun(ctx, j.runID); err != nil {
			return err
		}
		if err := e.finish(ctx, j, ""); err != nil {
			return err
		}
		if err := e.applyScores(ctx, j.runID, list); err != nil {
			return err
		}
		var left int
		if err := e.db.QueryRow(ctx, `SELECT COUNT(*) FROM check_jobs WHERE run_id = $1 AND kind = 'apply' AND state <> 'done'`, j.runID).Scan(&left); err != nil {
			return err
		}
		if left == 0 {
			_, err := e.db.Exec(ctx, `UPDATE check_runs SET status = 'applied', finished_at = $1 WHERE id = $2 AND status = 'applying'`,
				db.Micros(e.clock.Now()), j.runID)
			return err
		}
		return nil
	})
	if errors.Is(err, errLostLease) {
		return nil
	}
	return err
}

// lockRun locks the run's row for the transaction (PostgreSQL; SQLite's
// single writer already serialises), so the last two batches finishing at
// once cannot each miss the other and leave the run unfinished.
func (e *Engine) lockRun(ctx context.Context, runID int64) error {
	var id int64
	return e.db.QueryRow(ctx, `SELECT id FROM check_runs WHERE id = $1`+e.db.ForUpdate(), runID).Scan(&id)
}
