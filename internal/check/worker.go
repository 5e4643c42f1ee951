package check

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/platform/retry"
)

// job is a leased job.
type job struct {
	id       int64
	runID    int64
	batchNo  int
	kind     string
	agency   string
	attempts int
	token    string
}

// Work runs the engine's workers until ctx ends: each takes the next ready
// job (or one whose worker's lease ran out), does it, and records the
// result together with the job's completion.
func (e *Engine) Work(ctx context.Context) {
	var wg sync.WaitGroup
	for range max(e.Workers, 1) {
		wg.Go(func() {
			for ctx.Err() == nil {
				did, err := e.Step(ctx)
				if err != nil && ctx.Err() == nil {
					e.log.Error("check job failed", "err", err)
				}
				if !did || err != nil {
					_ = clock.Sleep(ctx, e.Idle)
				}
			}
		})
	}
	wg.Wait()
}

// Step takes one ready job and does it. It reports whether there was one.
func (e *Engine) Step(ctx context.Context) (bool, error) {
	j, err := e.claim(ctx)
	if err != nil || j == nil {
		return false, err
	}
	hctx, stop := context.WithCancel(ctx)
	defer stop()
	go e.heartbeat(hctx, j)
	switch j.kind {
	case "query":
		err = e.doQuery(ctx, j)
	case "score":
		err = e.doScore(ctx, j)
	case "apply":
		err = e.doApply(ctx, j)
	default:
		err = fmt.Errorf("unknown job kind %q", j.kind)
	}
	if ctx.Err() != nil {
		// Stopping is not the job's fault: hand it back at once, without
		// the attempt its claim counted (a no-op if it finished).
		if rerr := e.release(context.WithoutCancel(ctx), j); rerr != nil {
			return true, rerr
		}
	}
	return true, err
}

// release puts a job this worker holds back in the queue as it was.
func (e *Engine) release(ctx context.Context, j *job) error {
	_, err := e.db.Exec(ctx, `UPDATE check_jobs SET state = 'queued', attempts = attempts - 1, lease_token = ''
		WHERE id = $1 AND lease_token = $2 AND state = 'running'`, j.id, j.token)
	return err
}

func newToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// claim leases the next ready job: a queued one whose time has come, or a
// running one whose lease ran out (its worker died).
func (e *Engine) claim(ctx context.Context) (*job, error) {
	var j *job
	err := e.db.WithTx(ctx, func(ctx context.Context) error {
		now := db.Micros(e.clock.Now())
		skip := e.db.SkipLocked()
		// Scoring and applying come first: they finish what the queries
		// started, so results reach the applicants batch by batch.
		var id int64
		err := e.db.QueryRow(ctx, `SELECT id FROM check_jobs WHERE state = 'queued' AND kind IN ('score', 'apply') AND run_after <= $1
			ORDER BY run_after, id LIMIT 1`+skip, now).Scan(&id)
		// No query goes to an agency whose breaker is open or probing in any
		// process (the state every process writes to the connector's row):
		// the work would only be refused. A state older than the breaker's
		// timeout no longer holds anyone back, so a probe still happens if
		// the process that opened the breaker died.
		if errors.Is(err, sql.ErrNoRows) {
			err = e.db.QueryRow(ctx, `SELECT id FROM check_jobs j WHERE state = 'queued' AND kind = 'query' AND run_after <= $1
				AND NOT EXISTS (SELECT 1 FROM agency_connectors c WHERE c.agency = j.agency AND c.breaker <> 'closed' AND c.breaker_at > $2)
				ORDER BY run_after, id LIMIT 1`+skip, now, now-e.conn.BreakerTimeout.Microseconds()).Scan(&id)
		}
		if errors.Is(err, sql.ErrNoRows) {
			err = e.db.QueryRow(ctx, `SELECT id FROM check_jobs WHERE state = 'running' AND lease_until < $1
				ORDER BY id LIMIT 1`+skip, now).Scan(&id)
		}
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		c := &job{token: newToken()}
		err = e.db.QueryRow(ctx, `UPDATE check_jobs SET state = 'running', lease_until = $1, lease_token = $2, attempts = attempts + 1
			WHERE id = $3 RETURNING id, run_id, batch_no, kind, agency, attempts`, now+e.Lease.Microseconds(), c.token, id).
			Scan(&c.id, &c.runID, &c.batchNo, &c.kind, &c.agency, &c.attempts)
		if err != nil {
			return err
		}
		j = c
		return nil
	})
	return j, err
}

// heartbeat extends the job's lease while its worker lives.
func (e *Engine) heartbeat(ctx context.Context, j *job) {
	t := time.NewTicker(e.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _ = e.db.Exec(ctx, `UPDATE check_jobs SET lease_until = $1 WHERE id = $2 AND lease_token = $3 AND state = 'running'`,
				db.Micros(e.clock.Now())+e.Lease.Microseconds(), j.id, j.token)
		}
	}
}

// errLostLease: another worker took the job (this one was presumed dead);
// whatever this one did is dropped.
var errLostLease = errors.New("check: job lease lost")

// finish marks a job done if it still holds the lease, in the transaction of
// ctx.
func (e *Engine) finish(ctx context.Context, j *job, answer string) error {
	res, err := e.db.Exec(ctx, `UPDATE check_jobs SET state = 'done', answer = $1, finished_at = $2, last_error = '', wait_reason = ''
		WHERE id = $3 AND lease_token = $4 AND state = 'running'`, answer, db.Micros(e.clock.Now()), j.id, j.token)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errLostLease
	}
	return nil
}

// retry puts a failed job back in the queue for later: the agency could not
// answer; the applications wait (unavailable), they never pass unchecked.
func (e *Engine) retry(ctx context.Context, j *job, cause error) error {
	wait := retry.Backoff{Base: e.WaitBase, Max: e.WaitMax, Jitter: 0.5, Rand: e.conn.random}.Wait(j.attempts)
	_, err := e.db.Exec(ctx, `UPDATE check_jobs SET state = 'queued', run_after = $1, last_error = $2, lease_token = '', wait_reason = ''
		WHERE id = $3 AND lease_token = $4 AND state = 'running'`,
		db.Micros(e.clock.Now().Add(wait)), truncate(cause.Error(), 300), j.id, j.token)
	return err
}

// wait puts a job back until its agency can be asked again (its breaker
// lets a probe through, or its Retry-After has passed), handing back the
// attempt its claim counted: an outage or a busy agency says nothing about
// the job, so it must not grow the job's backoff.
func (e *Engine) wait(ctx context.Context, j *job, w *WaitError) error {
	_, err := e.db.Exec(ctx, `UPDATE check_jobs SET state = 'queued', run_after = $1, attempts = attempts - 1, wait_reason = $2,
		last_error = $3, lease_token = '' WHERE id = $4 AND lease_token = $5 AND state = 'running'`,
		db.Micros(w.Until), w.Reason, truncate(w.Cause.Error(), 300), j.id, j.token)
	return err
}

type batch struct {
	ids       []int64
	districts map[string]int
}

func (e *Engine) batch(ctx context.Context, runID int64, no int) (*batch, error) {
	var ids, districts string
	if err := e.db.QueryRow(ctx, `SELECT app_ids, districts FROM check_batches WHERE run_id = $1 AND batch_no = $2`, runID, no).
		Scan(&ids, &districts); err != nil {
		return nil, err
	}
	b := &batch{}
	if err := json.Unmarshal([]byte(ids), &b.ids); err != nil {
		return nil, err
	}
	return b, json.Unmarshal([]byte(districts), &b.districts)
}

// doQuery asks one agency about one batch and stores the answers with the
// job's completion; the last agency to answer queues the batch's scoring.
func (e *Engine) doQuery(ctx context.Context, j *job) error {
	var status string
	if err := e.db.QueryRow(ctx, `SELECT status FROM check_runs WHERE id = $1`, j.runID).Scan(&status); err != nil {
		return err
	}
	if status == "discarded" {
		return e.db.WithTx(ctx, func(ctx context.Context) error { return e.finish(ctx, j, "") })
	}
	b, err := e.batch(ctx, j.runID, j.batchNo)
	if err != nil {
		return err
	}
	subjectOf := map[int64]string{}
	if err := e.each(ctx, `SELECT a.id, p.id_enc FROM applications a JOIN persons p ON p.id = a.person_id
		WHERE a.id IN (SELECT id FROM `+e.db.JSONIDs("$1")+` x)`, []any{idJSON(b.ids)}, func(rows *sql.Rows) error {
		var id int64
		var enc string
		if err := rows.Scan(&id, &enc); err != nil {
			return err
		}
		num, err := e.keys.DecryptString(enc, "id_number")
		if err != nil {
			return fmt.Errorf("application %d: id number: %w", id, err)
		}
		subjectOf[id] = num
		return nil
	}); err != nil {
		return err
	}
	subjects := make([]string, 0, len(b.ids))
	for _, id := range b.ids {
		subjects = append(subjects, subjectOf[id])
	}
	meta := CallMeta{RunID: j.runID, JobID: j.id, AppFrom: b.ids[0], AppTo: b.ids[len(b.ids)-1], Kind: "query"}
	// The request id stays the same across retries and workers, so the
	// agency answers a repeated query from its idempotency store.
	reqID := fmt.Sprintf("jifen-r%d-b%d-%s", j.runID, j.batchNo, j.agency)
	ans, err := e.conn.Query(ctx, j.agency, reqID, subjects, meta)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if w, ok := errors.AsType[*WaitError](err); ok {
			e.log.Debug("agency cannot be asked now; the batch waits", "agency", j.agency, "run", j.runID, "batch", j.batchNo,
				"reason", w.Reason, "until", w.Until)
			return e.wait(context.WithoutCancel(ctx), j, w)
		}
		e.log.Warn("agency query failed; the batch waits", "agency", j.agency, "run", j.runID, "batch", j.batchNo, "err", err)
		return e.retry(context.WithoutCancel(ctx), j, err)
	}
	byApp := make(map[int64]Answer, len(b.ids))
	for _, id := range b.ids {
		byApp[id] = ans[subjectOf[id]]
	}
	raw, _ := json.Marshal(byApp)
	err = e.db.WithTx(ctx, func(ctx context.Context) error {
		if err := e.finish(ctx, j, string(raw)); err != nil {
			return err
		}
		var pending int
		if err := e.db.QueryRow(ctx, `UPDATE check_batches SET pending = pending - 1 WHERE run_id = $1 AND batch_no = $2 RETURNING pending`,
			j.runID, j.batchNo).Scan(&pending); err != nil {
			return err
		}
		if pending > 0 {
			return nil
		}
		now := db.Micros(e.clock.Now())
		_, err := e.db.Exec(ctx, `INSERT INTO check_jobs (run_id, batch_no, kind, agency, state, run_after, created_at)
			VALUES ($1, $2, 'score', '', 'queued', $3, $4)`, j.runID, j.batchNo, now, now)
		return err
	})
	if errors.Is(err, errLostLease) {
		e.log.Warn("check job taken over by another worker; its result is dropped", "job", j.id)
		return nil
	}
	return err
}
