package check

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"jifen/internal/agency"
	"jifen/internal/platform/db"
	"jifen/internal/platform/jobs"
	"jifen/internal/platform/retry"
)

// The cross-check's work is three kinds of job on the one job mechanism
// (platform/jobs, River): a query asks one agency about one batch, a score
// verifies and scores a batch once every agency has answered, an apply
// makes a previewed batch's scores take effect. What a job produces is
// written with its completion in one transaction, and each write is
// conditional on the ledger (check_queries.answered_at, check_batches.scored
// and .applied), so a job River runs twice — its worker presumed dead —
// takes effect once.
const (
	// QueryQueue is the prefix of the agency queries' queues: one queue per
	// agency, each running the engine's Workers at once. One shared queue
	// blocked at the head: after an outage the snoozed jobs of one agency
	// come due together, every worker took one and slept on that agency's
	// rate slots while the other agencies' work waited behind them
	// (measured: 5 calls/s in all instead of 5 per agency).
	QueryQueue = "check_query_"
	// BatchQueue holds scoring and applying, which finish what the queries
	// started, so results reach the applicants batch by batch.
	BatchQueue = "check_batch"
)

// queryMaxAttempts bounds the failed attempts of one query: with the
// backoff capped at WaitMax (10 minutes) that is about a week of an agency
// failing; an outage (breaker open) or a busy agency (429) snoozes the job
// without spending an attempt. A query is never given up on lightly: its
// applications wait (unavailable); they never pass unchecked.
const queryMaxAttempts = 1000

type queryArgs struct {
	Run    int64  `json:"run"`
	Batch  int    `json:"batch"`
	Agency string `json:"agency"`
}

func (queryArgs) Kind() string { return "check_query" }

func (a queryArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueryQueue + a.Agency, MaxAttempts: queryMaxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

type scoreArgs struct {
	Run   int64 `json:"run"`
	Batch int   `json:"batch"`
}

func (scoreArgs) Kind() string { return "check_score" }

func (scoreArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: BatchQueue, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

type applyArgs struct {
	Run   int64 `json:"run"`
	Batch int   `json:"batch"`
}

func (applyArgs) Kind() string { return "check_apply" }

func (applyArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: BatchQueue, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

type queryWorker struct {
	river.WorkerDefaults[queryArgs]
	e *Engine
}

func (w *queryWorker) Work(ctx context.Context, job *river.Job[queryArgs]) error {
	return w.e.doQuery(ctx, job)
}

// NextRetry waits WaitBase after a failed query, doubling up to WaitMax,
// with jitter so a recovered agency is not asked by every batch at once.
func (w *queryWorker) NextRetry(job *river.Job[queryArgs]) time.Time {
	return time.Now().Add(retry.Backoff{Base: w.e.WaitBase, Max: w.e.WaitMax, Jitter: 0.5, Rand: w.e.conn.random}.Wait(job.Attempt))
}

type scoreWorker struct {
	river.WorkerDefaults[scoreArgs]
	e *Engine
}

func (w *scoreWorker) Work(ctx context.Context, job *river.Job[scoreArgs]) error {
	return w.e.doScore(ctx, job)
}

type applyWorker struct {
	river.WorkerDefaults[applyArgs]
	e *Engine
}

func (w *applyWorker) Work(ctx context.Context, job *river.Job[applyArgs]) error {
	return w.e.doApply(ctx, job)
}

// register adds the cross-check's kinds and queues to the job mechanism.
func (e *Engine) register() {
	jobs.Register(e.jobs, &queryWorker{e: e})
	jobs.Register(e.jobs, &scoreWorker{e: e})
	jobs.Register(e.jobs, &applyWorker{e: e})
	jobs.Register(e.jobs, &precheckWorker{e: e})
	e.SetWorkers(e.Workers)
}

// SetWorkers sets how many queries to each agency one process runs at once
// (and how many batches it scores at once), before the job mechanism
// starts.
func (e *Engine) SetWorkers(n int) {
	e.Workers = max(n, 1)
	for _, ag := range agency.Codes() {
		e.jobs.Queue(QueryQueue+ag, e.Workers)
	}
	e.jobs.Queue(BatchQueue, max(e.Workers, 2))
	e.jobs.Queue(PrecheckQueue, max(e.Workers, 2))
}

// Work runs the job mechanism of this engine's process — the cross-check's
// queues and every other registered one — until ctx ends, after queueing
// again any open work of a run that has no job (Resume).
func (e *Engine) Work(ctx context.Context) {
	if err := e.Resume(ctx); err != nil && ctx.Err() == nil {
		e.log.Error("check: resuming open runs", "err", err)
	}
	// River cancels the running jobs when the context it was started with
	// ends; a stop lets them finish first.
	if err := e.jobs.Start(context.WithoutCancel(ctx)); err != nil {
		e.log.Error("check: job worker did not start", "err", err)
		return
	}
	<-ctx.Done()
	// Running jobs get a moment to finish; those that do not are cancelled
	// and retried by the next worker.
	stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.StopGrace)
	defer cancel()
	if err := e.jobs.Stop(stop); err != nil {
		e.log.Warn("check: running jobs did not finish in time; cancelling them", "err", err)
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer ccancel()
		_ = e.jobs.StopAndCancel(cctx)
	}
}

// Resume queues the open work of every unfinished run: the queries not yet
// answered, the batches answered but not scored, and the batches of an
// accepted preview not yet applied. A job that exists already is not
// queued twice (the kinds are unique by their arguments), so this is safe
// at every start; it recovers runs carried over from the old queue table
// and any job given up on.
func (e *Engine) Resume(ctx context.Context) error {
	var params []river.InsertManyParams
	err := e.each(ctx, `SELECT q.run_id, q.batch_no, q.agency FROM check_queries q JOIN check_runs r ON r.id = q.run_id
		WHERE r.status = 'running' AND q.answered_at = 0 ORDER BY q.run_id, q.batch_no, q.agency`, nil, func(rows *sql.Rows) error {
		var a queryArgs
		if err := rows.Scan(&a.Run, &a.Batch, &a.Agency); err != nil {
			return err
		}
		params = append(params, river.InsertManyParams{Args: a})
		return nil
	})
	if err != nil {
		return err
	}
	err = e.each(ctx, `SELECT b.run_id, b.batch_no, r.status FROM check_batches b JOIN check_runs r ON r.id = b.run_id
		WHERE (r.status = 'running' AND b.pending = 0 AND NOT b.scored) OR (r.status = 'applying' AND NOT b.applied)
		ORDER BY b.run_id, b.batch_no`, nil, func(rows *sql.Rows) error {
		var run int64
		var no int
		var status string
		if err := rows.Scan(&run, &no, &status); err != nil {
			return err
		}
		if status == "running" {
			params = append(params, river.InsertManyParams{Args: scoreArgs{Run: run, Batch: no}})
		} else {
			params = append(params, river.InsertManyParams{Args: applyArgs{Run: run, Batch: no}})
		}
		return nil
	})
	if err != nil {
		return err
	}
	return e.jobs.InsertMany(ctx, params)
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

// runStatus is a run's status; a job of a discarded run does nothing.
func (e *Engine) runStatus(ctx context.Context, runID int64) (string, error) {
	var status string
	err := e.db.QueryRow(ctx, `SELECT status FROM check_runs WHERE id = $1`, runID).Scan(&status)
	return status, err
}

// doQuery asks one agency about one batch and stores the answers with the
// job's completion; the last agency to answer queues the batch's scoring.
func (e *Engine) doQuery(ctx context.Context, job *river.Job[queryArgs]) error {
	a := job.Args
	if status, err := e.runStatus(ctx, a.Run); err != nil || status == "discarded" {
		return err
	}
	b, err := e.batch(ctx, a.Run, a.Batch)
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
	meta := CallMeta{RunID: a.Run, JobID: job.ID, AppFrom: b.ids[0], AppTo: b.ids[len(b.ids)-1], Kind: "query"}
	// The request id stays the same across retries and workers, so the
	// agency answers a repeated query from its idempotency store.
	reqID := fmt.Sprintf("jifen-r%d-b%d-%s", a.Run, a.Batch, a.Agency)
	ans, err := e.conn.Query(ctx, a.Agency, reqID, subjects, meta)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if w, ok := errors.AsType[*WaitError](err); ok {
			// An outage or a busy agency says nothing about the job: it
			// waits without spending an attempt, so it does not grow the
			// job's backoff.
			e.log.Debug("agency cannot be asked now; the batch waits", "agency", a.Agency, "run", a.Run, "batch", a.Batch,
				"reason", w.Reason, "until", w.Until)
			if err := e.noteQuery(context.WithoutCancel(ctx), a, w.Reason, w.Until, w.Cause); err != nil {
				return err
			}
			return river.JobSnooze(max(w.Until.Sub(e.conn.now()), 0))
		}
		e.log.Warn("agency query failed; the batch waits", "agency", a.Agency, "run", a.Run, "batch", a.Batch, "err", err)
		if nerr := e.noteQuery(context.WithoutCancel(ctx), a, "", time.Time{}, err); nerr != nil {
			return nerr
		}
		return err
	}
	byApp := make(map[int64]Answer, len(b.ids))
	for _, id := range b.ids {
		byApp[id] = ans[subjectOf[id]]
	}
	raw, _ := json.Marshal(byApp)
	return e.db.WithTx(ctx, func(ctx context.Context) error {
		res, err := e.db.Exec(ctx, `UPDATE check_queries SET answered_at = $1, answer = $2, last_error = '', wait_reason = '', wait_until = 0
			WHERE run_id = $3 AND batch_no = $4 AND agency = $5 AND answered_at = 0`,
			db.Micros(e.clock.Now()), string(raw), a.Run, a.Batch, a.Agency)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			if err := e.answered(ctx, a); err != nil {
				return err
			}
		}
		return jobs.Complete(ctx, e.jobs, job)
	})
}

// answered counts an agency's answer against its batch; the last one queues
// the batch's scoring, in the caller's transaction.
func (e *Engine) answered(ctx context.Context, a queryArgs) error {
	var pending int
	if err := e.db.QueryRow(ctx, `UPDATE check_batches SET pending = pending - 1 WHERE run_id = $1 AND batch_no = $2 RETURNING pending`,
		a.Run, a.Batch).Scan(&pending); err != nil {
		return err
	}
	if pending > 0 {
		return nil
	}
	_, err := e.jobs.Insert(ctx, scoreArgs{Run: a.Run, Batch: a.Batch}, nil)
	return err
}

// noteQuery records on the ledger why a query is not answered yet: a wait
// for the agency (reason and until), or a failed attempt (reason "").
func (e *Engine) noteQuery(ctx context.Context, a queryArgs, reason string, until time.Time, cause error) error {
	failed, wait := 1, int64(0)
	if reason != "" {
		failed, wait = 0, db.Micros(until)
	}
	_, err := e.db.Exec(ctx, `UPDATE check_queries SET failures = failures + $1, last_error = $2, wait_reason = $3, wait_until = $4
		WHERE run_id = $5 AND batch_no = $6 AND agency = $7 AND answered_at = 0`,
		failed, truncate(cause.Error(), 300), reason, wait, a.Run, a.Batch, a.Agency)
	return err
}
