package application

import (
	"context"
	"database/sql"
	"encoding/json"

	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
	"jifen/internal/platform/mail"
)

// What the cross-check (internal/check) changes in applications. Each
// method works in the caller's transaction (db.WithTx joins it) and writes
// a whole batch with one statement per kind of row, so a round of 350,000
// applications costs a few statements per batch, not several per
// application.

// EnterCheck moves the filed applications of a round — only application id
// when id is not 0 — from submitted to checking, each with its timeline
// row, and returns how many moved. The applicant is not mailed: the check
// takes minutes and the mail comes with its result (ApplyResults).
func (s *Service) EnterCheck(ctx context.Context, roundID, id int64) (int, error) {
	var n int
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		now := db.Micros(s.clock.Now())
		due, err := s.dueAt(ctx, roundID, Step(Checking), now)
		if err != nil {
			return err
		}
		// The update is guarded by the status and returns what it moved,
		// so the timeline rows are exactly the rows changed.
		rows, err := s.db.Query(ctx, `UPDATE applications SET status = 'checking', version = version + 1, updated_at = $1, `+clockSet(1, 4)+`
			WHERE round_id = $2 AND status = 'submitted' AND (CAST($3 AS BIGINT) = 0 OR id = $3) RETURNING id`, now, roundID, id, due)
		if err != nil {
			return err
		}
		ids, err := scanIDs(rows)
		if err != nil || len(ids) == 0 {
			return err
		}
		n = len(ids)
		return s.events(ctx, now, ids, Submitted, Checking, "进入业务比对")
	})
	return n, err
}

// Result is one application's verified score from a cross-check run.
type Result struct {
	ID       int64
	Score    int64
	Eligible bool
}

// ApplyResults makes results the applications' first-round results of run
// runID: the score columns always, and for an application still submitted
// or checking the move to first_result with its timeline row and the e-mail
// that tells the applicant the result is out. Applications further on
// (review requested, final) keep their status.
func (s *Service) ApplyResults(ctx context.Context, runID int64, results []Result) error {
	if len(results) == 0 {
		return nil
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		ids := make([]int64, len(results))
		for i, r := range results {
			ids[i] = r.ID
		}
		if err := s.unfrozen(ctx, ids); err != nil {
			return err
		}
		idj, _ := json.Marshal(ids)
		// Lock the rows (PostgreSQL; SQLite's single writer serialises), so
		// the status read here is the one the update changes.
		type cur struct {
			status  Status
			version int
		}
		current := map[int64]cur{}
		rows, err := s.db.Query(ctx, `SELECT id, status, version FROM applications WHERE id IN (SELECT r.id FROM `+
			s.db.JSONIDs("$1")+` r) ORDER BY id`+s.db.ForUpdate(), string(idj))
		if err != nil {
			return err
		}
		if err := eachRow(rows, func(rows *sql.Rows) error {
			var id int64
			var c cur
			if err := rows.Scan(&id, &c.status, &c.version); err != nil {
				return err
			}
			current[id] = c
			return nil
		}); err != nil {
			return err
		}
		type row struct {
			ID       int64  `json:"id"`
			Score    int64  `json:"score"`
			Eligible bool   `json:"eligible"`
			Status   Status `json:"status"`
			Version  int    `json:"version"`
		}
		list := make([]row, 0, len(results))
		var moved []int64
		from := map[int64]Status{}
		for _, r := range results {
			c, ok := current[r.ID]
			if !ok || c.status == Final || c.status == Published {
				// A final score (after the 复查, approved by a second
				// officer) is not overwritten by a later run.
				continue
			}
			to := c.status
			if c.status == Submitted || c.status == Checking {
				to = FirstResult
				moved = append(moved, r.ID)
				from[r.ID] = c.status
			}
			list = append(list, row{r.ID, r.Score, r.Eligible, to, c.version})
		}
		lj, _ := json.Marshal(list)
		at := db.Micros(s.clock.Now())
		// The clock restarts only for the rows that move: every row of a run
		// belongs to one round, so one deadline serves them all.
		var due int64
		if len(moved) > 0 {
			var roundID int64
			if err := s.db.QueryRow(ctx, `SELECT round_id FROM applications WHERE id = $1`, moved[0]).Scan(&roundID); err != nil {
				return err
			}
			if due, err = s.dueAt(ctx, roundID, StepFirstResult, at); err != nil {
				return err
			}
		}
		res, err := s.db.Exec(ctx, `UPDATE applications SET score = r.score, score_eligible = r.eligible, score_run = $2, scored_at = $3,
			district = COALESCE((SELECT e.district FROM employers e WHERE e.id = applications.employer_id), ''),
			step_started_at = CASE WHEN r.status = applications.status THEN applications.step_started_at ELSE $3 END,
			step_due_at = CASE WHEN r.status = applications.status THEN applications.step_due_at ELSE $4 END,
			status = r.status, updated_at = $3, version = applications.version + 1
			FROM `+s.db.JSONRows("$1", "id BIGINT", "score BIGINT", "eligible BOOLEAN", "status TEXT", "version BIGINT")+` r
			WHERE applications.id = r.id AND applications.version = r.version`, string(lj), runID, at, due)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != int64(len(list)) {
			return errMoved
		}
		if len(moved) == 0 {
			return nil
		}
		// Applications reach first_result from submitted (a run of one
		// application) or checking; the timeline names where each came from.
		var fromChecking, fromSubmitted []int64
		for _, id := range moved {
			if from[id] == Checking {
				fromChecking = append(fromChecking, id)
			} else {
				fromSubmitted = append(fromSubmitted, id)
			}
		}
		const reason = "业务比对完成，初核结果已生成"
		if err := s.events(ctx, at, fromChecking, Checking, FirstResult, reason); err != nil {
			return err
		}
		if err := s.events(ctx, at, fromSubmitted, Submitted, FirstResult, reason); err != nil {
			return err
		}
		versions := map[int64]int{}
		for _, id := range moved {
			versions[id] = current[id].version
		}
		return s.mailStatus(ctx, FirstResult, "", moved, versions)
	})
}

// events writes one timeline row per application, from the system, in one
// statement.
func (s *Service) events(ctx context.Context, at int64, ids []int64, from, to Status, reason string) error {
	if len(ids) == 0 {
		return nil
	}
	idj, _ := json.Marshal(ids)
	_, err := s.db.Exec(ctx, `INSERT INTO application_events (application_id, at, from_status, to_status, actor_id, actor_role, reason)
		SELECT r.id, $2, $3, $4, 0, 'system', $5 FROM `+s.db.JSONIDs("$1")+` r`,
		string(idj), at, string(from), string(to), reason)
	return err
}

// mailStatus queues the e-mail about a batch's move to status to (the first
// result is out, the result is final) to the applicants of ids, read and
// written in one statement each; reason, if any, is quoted.
func (s *Service) mailStatus(ctx context.Context, to Status, reason string, ids []int64, versions map[int64]int) error {
	if s.outbox == nil {
		return nil
	}
	idj, _ := json.Marshal(ids)
	rows, err := s.db.Query(ctx, `SELECT a.id, r.year, p.name, u.email, u.display_name FROM applications a
		JOIN rounds r ON r.id = a.round_id JOIN persons p ON p.id = a.person_id JOIN users u ON u.id = p.user_id
		WHERE a.id IN (SELECT x.id FROM `+s.db.JSONIDs("$1")+` x) AND u.email <> ''`, string(idj))
	if err != nil {
		return err
	}
	var msgs []mail.Message
	if err := eachRow(rows, func(rows *sql.Rows) error {
		var id int64
		var year int
		var person string
		var r recipient
		if err := rows.Scan(&id, &year, &person, &r.email, &r.name); err != nil {
			return err
		}
		msgs = append(msgs, statusMail(id, versions[id], year, person, to, reason, r))
		return nil
	}); err != nil {
		return err
	}
	_, err = s.outbox.EnqueueMany(ctx, msgs)
	return err
}

// SetScore replaces an application's score after an officer's override is
// approved (discrepancy.Rescore), in the caller's transaction. The status
// does not change. A final application's score is refused: it changes only
// through a 复查 and its second officer, never by a later override.
func (s *Service) SetScore(ctx context.Context, id, score int64, eligible bool) error {
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.unfrozen(ctx, []int64{id}); err != nil {
			return err
		}
		// updated_at moves with every write, so that readers refreshing
		// by it (the statistics cube) see the new score.
		res, err := s.db.Exec(ctx, `UPDATE applications SET score = $1, score_eligible = $2, updated_at = $3 WHERE id = $4
			AND status NOT IN ('final', 'published')`, score, eligible, db.Micros(s.clock.Now()), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.Conflict, "该申请已审核完成，积分不能再由比对差异更正")
		}
		return nil
	})
}

// SetIdentityCheck records the outcome of the 公安 single check of an
// application (internal/check).
func (s *Service) SetIdentityCheck(ctx context.Context, id int64, outcome, detail string, at int64) error {
	_, err := s.db.Exec(ctx, `UPDATE applications SET identity_check = $1, identity_detail = $2, identity_checked_at = $3 WHERE id = $4`,
		outcome, detail, at, id)
	return err
}

func scanIDs(rows *sql.Rows) ([]int64, error) {
	var ids []int64
	err := eachRow(rows, func(rows *sql.Rows) error {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return err
		}
		ids = append(ids, id)
		return nil
	})
	return ids, err
}

// eachRow calls scan for every row and closes rows.
func eachRow(rows *sql.Rows, scan func(*sql.Rows) error) error {
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
