// Package jobs is jifen's one durable job mechanism: River
// (github.com/riverqueue/river) on the application's own database — SQLite
// through its single writer connection, PostgreSQL through the shared pool —
// so a job is inserted, and completed, inside the same transaction as the
// change that causes it or the result it writes. Every subsystem that has
// work outliving a request (the cross-check, mail, the periodic schedules)
// registers its kinds here instead of keeping a queue of its own.
//
// What River gives and jifen relies on: a queue per kind (or per agency),
// retries with backoff, JobSnooze (wait without spending an attempt), unique
// jobs, scheduled (ScheduledAt) and periodic jobs, pausing a queue, and the
// rescue of jobs whose worker died. River's tables are created by
// db.Migrate.
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"jifen/internal/platform/db"
)

// Jobs is a process's job client. Subsystems register their workers,
// queues and periodic jobs first; the client is built on first use (an
// insert or Start), after which nothing more can be registered.
type Jobs struct {
	db  *db.DB
	log *slog.Logger

	mu       sync.Mutex
	workers  *river.Workers
	queues   map[string]river.QueueConfig
	periodic []*river.PeriodicJob
	client   *river.Client[*sql.Tx]

	// JobTimeout is how long one job may run before River cancels it;
	// RescueAfter (longer) is when a job whose worker vanished is taken
	// again. Batch jobs of the cross-check run for minutes, not River's
	// default hour.
	JobTimeout, RescueAfter time.Duration
	// PollInterval is how often a worker looks for new jobs (SQLite has no
	// LISTEN/NOTIFY, so this bounds how soon a new job starts).
	PollInterval time.Duration
}

// New returns the job client of a process on d.
func New(d *db.DB, log *slog.Logger) *Jobs {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Jobs{db: d, log: log, workers: river.NewWorkers(), queues: map[string]river.QueueConfig{},
		JobTimeout: 10 * time.Minute, RescueAfter: 15 * time.Minute, PollInterval: 500 * time.Millisecond}
}

// Register adds the worker of one kind of job.
func Register[T river.JobArgs](j *Jobs, w river.Worker[T]) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.client != nil {
		panic("jobs: Register after the client was built")
	}
	river.AddWorker(j.workers, w)
}

// Queue declares a queue and how many of its jobs one process works on at
// once.
func (j *Jobs) Queue(name string, workers int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.client != nil {
		panic("jobs: Queue after the client was built")
	}
	j.queues[name] = river.QueueConfig{MaxWorkers: max(workers, 1)}
}

// Every adds a periodic job: args is inserted every interval (and once at
// start) by whichever process leads, so it runs once per interval however
// many processes run.
func (j *Jobs) Every(interval time.Duration, args river.JobArgs, opts *river.InsertOpts) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.client != nil {
		panic("jobs: Every after the client was built")
	}
	j.periodic = append(j.periodic, river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return args, opts }, &river.PeriodicJobOpts{RunOnStart: true}))
}

// Client returns River's client, building it on first use.
func (j *Jobs) Client() (*river.Client[*sql.Tx], error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.client != nil {
		return j.client, nil
	}
	cfg := &river.Config{
		Logger:               j.log,
		Workers:              j.workers,
		PeriodicJobs:         j.periodic,
		JobTimeout:           j.JobTimeout,
		RescueStuckJobsAfter: j.RescueAfter,
		FetchPollInterval:    j.PollInterval,
		FetchCooldown:        min(100*time.Millisecond, j.PollInterval),
		MaxAttempts:          25,
	}
	if len(j.queues) > 0 {
		cfg.Queues = j.queues
	}
	var err error
	if j.db.Dialect == db.Postgres {
		j.client, err = river.NewClient(riverdatabasesql.New(j.db.Writer()), cfg)
	} else {
		j.client, err = river.NewClient(riversqlite.New(j.db.Writer()), cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	return j.client, nil
}

// Start works the registered queues until Stop.
func (j *Jobs) Start(ctx context.Context) error {
	c, err := j.Client()
	if err != nil {
		return err
	}
	return c.Start(ctx)
}

// Stop lets running jobs finish (until ctx ends) and stops working.
func (j *Jobs) Stop(ctx context.Context) error {
	j.mu.Lock()
	c := j.client
	j.mu.Unlock()
	if c == nil {
		return nil
	}
	return c.Stop(ctx)
}

// StopAndCancel stops working and cancels the jobs still running; they are
// retried by the next worker.
func (j *Jobs) StopAndCancel(ctx context.Context) error {
	j.mu.Lock()
	c := j.client
	j.mu.Unlock()
	if c == nil {
		return nil
	}
	return c.StopAndCancel(ctx)
}

// Insert adds a job in the transaction ctx carries (so it exists exactly
// when the caller's change commits), or on its own when there is none. It
// reports whether a job was inserted (false: a unique job already there).
func (j *Jobs) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (bool, error) {
	c, err := j.Client()
	if err != nil {
		return false, err
	}
	tx, ok := db.TxOf(ctx)
	if !ok {
		var inserted bool
		err := j.db.WithTx(ctx, func(ctx context.Context) error {
			var err error
			inserted, err = j.Insert(ctx, args, opts)
			return err
		})
		return inserted, err
	}
	res, err := c.InsertTx(ctx, tx, args, opts)
	if err != nil {
		return false, fmt.Errorf("insert %s job: %w", args.Kind(), err)
	}
	return !res.UniqueSkippedAsDuplicate, nil
}

// InsertMany adds many jobs at once, in ctx's transaction as Insert does.
func (j *Jobs) InsertMany(ctx context.Context, params []river.InsertManyParams) error {
	if len(params) == 0 {
		return nil
	}
	c, err := j.Client()
	if err != nil {
		return err
	}
	tx, ok := db.TxOf(ctx)
	if !ok {
		return j.db.WithTx(ctx, func(ctx context.Context) error { return j.InsertMany(ctx, params) })
	}
	if _, err := c.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("insert %d jobs: %w", len(params), err)
	}
	return nil
}

// Complete marks a running job done in the transaction ctx carries, so the
// job's result and its completion commit together: a job whose worker dies
// before the commit runs again and its first run left nothing behind.
func Complete[T river.JobArgs](ctx context.Context, j *Jobs, job *river.Job[T]) error {
	tx, ok := db.TxOf(ctx)
	if !ok {
		return errors.New("jobs: Complete needs the caller's transaction")
	}
	var err error
	if j.db.Dialect == db.Postgres {
		_, err = river.JobCompleteTx[*riverdatabasesql.Driver](ctx, tx, job)
	} else {
		_, err = river.JobCompleteTx[*riversqlite.Driver](ctx, tx, job)
	}
	return err
}

// Pause stops every process from starting jobs of a queue (persisted, so a
// process that starts later also holds back) until Resume.
func (j *Jobs) Pause(ctx context.Context, queue string) error {
	c, err := j.Client()
	if err != nil {
		return err
	}
	return c.QueuePause(ctx, queue, nil)
}

// Resume lets a paused queue's jobs start again.
func (j *Jobs) Resume(ctx context.Context, queue string) error {
	c, err := j.Client()
	if err != nil {
		return err
	}
	return c.QueueResume(ctx, queue, nil)
}

// KindDepth is how much work of one kind waits.
type KindDepth struct {
	Kind     string
	Waiting  int64     // available, scheduled or waiting to be retried
	Running  int64     // being worked on
	Oldest   time.Time // when the oldest waiting job was created (zero: none)
	Failures int64     // waiting after at least one failed attempt
}

// Depth returns the queue depth and the oldest waiting job of every kind
// that has unfinished jobs, for the office.
func (j *Jobs) Depth(ctx context.Context) ([]KindDepth, error) {
	rows, err := j.db.Query(ctx, `SELECT kind,
		SUM(CASE WHEN state = 'running' THEN 0 ELSE 1 END),
		SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END),
		SUM(CASE WHEN state = 'retryable' THEN 1 ELSE 0 END),
		MIN(CASE WHEN state = 'running' THEN NULL ELSE created_at END)
		FROM river_job WHERE state IN ('available', 'scheduled', 'retryable', 'pending', 'running')
		GROUP BY kind ORDER BY kind`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []KindDepth
	for rows.Next() {
		var k KindDepth
		var oldest any
		if err := rows.Scan(&k.Kind, &k.Waiting, &k.Running, &k.Failures, &oldest); err != nil {
			return nil, err
		}
		if k.Oldest, err = asTime(oldest); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// asTime reads a timestamp that PostgreSQL returns typed and SQLite, from
// an aggregate, as text.
func asTime(v any) (time.Time, error) {
	switch t := v.(type) {
	case nil:
		return time.Time{}, nil
	case time.Time:
		return t, nil
	case string:
		return parseSQLiteTime(t)
	case []byte:
		return parseSQLiteTime(string(t))
	}
	return time.Time{}, fmt.Errorf("jobs: unexpected timestamp %T", v)
}

func parseSQLiteTime(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("jobs: timestamp %q", s)
}
