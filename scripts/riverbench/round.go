package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
)

// backend is what differs between the two engines: how a transaction of the
// application is begun and used (*sql.Tx on SQLite, pgx.Tx on PostgreSQL),
// how River's JobCompleteTx is called for its driver, and where reads that
// need no transaction go (SQLite: the reader pool, as in jifen).
type backend[TTx any] struct {
	driver   riverdriver.Driver[TTx]
	begin    func(ctx context.Context) (TTx, error)
	commit   func(ctx context.Context, tx TTx) error
	rollback func(ctx context.Context, tx TTx)
	exec     func(ctx context.Context, tx TTx, q string, args ...any) error
	queryInt func(ctx context.Context, tx TTx, q string, args ...any) (int64, error)
	// answers reads a batch's agency answers outside any transaction.
	answers func(ctx context.Context, batch int) ([]string, error)
	// scalar runs a read outside any transaction (for the final checks).
	scalar        func(ctx context.Context, q string, args ...any) (int64, error)
	completeQuery func(ctx context.Context, tx TTx, j *river.Job[QueryArgs]) error
	completeScore func(ctx context.Context, tx TTx, j *river.Job[ScoreArgs]) error
	completeFeat  func(ctx context.Context, tx TTx, j *river.Job[featArgs]) error
	// occ is the SQLite writer's occupancy (nil on PostgreSQL).
	occ *occupancy
	// writerStats reports the writer pool's waits (SQLite) or pool state.
	writerStats func() string
}

// QueryArgs is one agency's query for one batch.
type QueryArgs struct {
	Batch  int    `json:"batch"`
	Agency string `json:"agency"`
}

func (QueryArgs) Kind() string { return "query" }

// ScoreArgs scores one batch once every agency has answered.
type ScoreArgs struct {
	Batch int `json:"batch"`
}

func (ScoreArgs) Kind() string { return "score" }

const appSchema = `
CREATE TABLE bench_batches (batch_no INTEGER PRIMARY KEY, pending INTEGER NOT NULL);
CREATE TABLE bench_answers (batch_no INTEGER NOT NULL, agency TEXT NOT NULL, answer TEXT NOT NULL, PRIMARY KEY (batch_no, agency));
CREATE TABLE bench_scores (batch_no INTEGER NOT NULL, app_no INTEGER NOT NULL, total INTEGER NOT NULL, verified TEXT NOT NULL, PRIMARY KEY (batch_no, app_no));
`

// recorder keeps the latencies of one run.
type recorder struct {
	mu          sync.Mutex
	pickQuery   []time.Duration // job available → worker starts (query jobs: mostly backlog)
	pickScore   []time.Duration // score job inserted (in the last query's tx) → worker starts
	beginWait   []time.Duration // asking for a transaction → having it (the SQLite writer)
	txQuery     []time.Duration // begin → commit of a query job's completion
	txScore     []time.Duration // begin → commit of a score job's completion
	scored      atomic.Int64
	done        chan struct{}
	want        int64
	failed      atomic.Int64
	lastErr     atomic.Value
	firstScored atomic.Int64
}

func (r *recorder) add(s *[]time.Duration, d time.Duration) {
	r.mu.Lock()
	*s = append(*s, d)
	r.mu.Unlock()
}

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(p * float64(len(s)-1))
	return s[i]
}

func summary(name string, ds []time.Duration) string {
	return fmt.Sprintf("  %-52s n=%-5d p50=%-10s p99=%-10s max=%s", name, len(ds),
		pct(ds, 0.50).Round(100*time.Microsecond), pct(ds, 0.99).Round(100*time.Microsecond), pct(ds, 1).Round(100*time.Microsecond))
}

type queryWorker[TTx any] struct {
	river.WorkerDefaults[QueryArgs]
	b       *backend[TTx]
	c       *river.Client[TTx]
	rec     *recorder
	latency time.Duration
	answer  map[string]string
}

// Timeout: a query job may wait long for the writer under load; River's
// default of one minute would cancel it.
func (w *queryWorker[TTx]) Timeout(*river.Job[QueryArgs]) time.Duration { return 10 * time.Minute }

func (w *queryWorker[TTx]) Work(ctx context.Context, job *river.Job[QueryArgs]) error {
	w.rec.add(&w.rec.pickQuery, time.Since(job.ScheduledAt))
	if w.latency > 0 {
		t := time.NewTimer(w.latency)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	err := w.complete(ctx, job)
	if err != nil {
		w.rec.failed.Add(1)
		w.rec.lastErr.Store(err.Error())
	}
	return err
}

// complete writes the answer, counts the batch down, queues the score job if
// this was the last agency, and completes the job: one transaction.
func (w *queryWorker[TTx]) complete(ctx context.Context, job *river.Job[QueryArgs]) error {
	asked := time.Now()
	tx, err := w.b.begin(ctx)
	if err != nil {
		return err
	}
	began := time.Now()
	w.rec.add(&w.rec.beginWait, began.Sub(asked))
	defer w.b.rollback(ctx, tx)
	a := job.Args
	if err := w.b.exec(ctx, tx, `INSERT INTO bench_answers (batch_no, agency, answer) VALUES ($1, $2, $3)`,
		a.Batch, a.Agency, w.answer[a.Agency]); err != nil {
		return err
	}
	pending, err := w.b.queryInt(ctx, tx, `UPDATE bench_batches SET pending = pending - 1 WHERE batch_no = $1 RETURNING pending`, a.Batch)
	if err != nil {
		return err
	}
	if pending == 0 {
		if _, err := w.c.InsertTx(ctx, tx, ScoreArgs{Batch: a.Batch}, &river.InsertOpts{Queue: "score"}); err != nil {
			return err
		}
	}
	if err := w.b.completeQuery(ctx, tx, job); err != nil {
		return err
	}
	if err := w.b.commit(ctx, tx); err != nil {
		return err
	}
	w.rec.add(&w.rec.txQuery, time.Since(began))
	return nil
}

type scoreWorker[TTx any] struct {
	river.WorkerDefaults[ScoreArgs]
	b    *backend[TTx]
	rec  *recorder
	apps int
}

func (w *scoreWorker[TTx]) Timeout(*river.Job[ScoreArgs]) time.Duration { return 10 * time.Minute }

type answerRow struct {
	Subject string         `json:"s"`
	Found   bool           `json:"f"`
	Values  map[string]any `json:"v"`
}

func (w *scoreWorker[TTx]) Work(ctx context.Context, job *river.Job[ScoreArgs]) error {
	w.rec.add(&w.rec.pickScore, time.Since(job.ScheduledAt))
	err := w.score(ctx, job)
	if err != nil {
		w.rec.failed.Add(1)
		w.rec.lastErr.Store(err.Error())
		return err
	}
	w.rec.firstScored.CompareAndSwap(0, time.Now().UnixNano())
	if w.rec.scored.Add(1) == w.rec.want {
		close(w.rec.done)
	}
	return nil
}

func (w *scoreWorker[TTx]) score(ctx context.Context, job *river.Job[ScoreArgs]) error {
	raw, err := w.b.answers(ctx, job.Args.Batch)
	if err != nil {
		return err
	}
	// Decode every answer: the scoring's own work, done before the
	// transaction as jifen does.
	total := make([]int, w.apps)
	for _, s := range raw {
		var rows []answerRow
		if err := json.Unmarshal([]byte(s), &rows); err != nil {
			return err
		}
		for i := range min(len(rows), w.apps) {
			if rows[i].Found {
				total[i] += len(rows[i].Values)
			}
		}
	}
	verified := strings.Repeat("v", 480)
	asked := time.Now()
	tx, err := w.b.begin(ctx)
	if err != nil {
		return err
	}
	began := time.Now()
	w.rec.add(&w.rec.beginWait, began.Sub(asked))
	defer w.b.rollback(ctx, tx)
	for i := range w.apps {
		if err := w.b.exec(ctx, tx, `INSERT INTO bench_scores (batch_no, app_no, total, verified) VALUES ($1, $2, $3, $4)`,
			job.Args.Batch, i, total[i], verified); err != nil {
			return err
		}
	}
	if err := w.b.completeScore(ctx, tx, job); err != nil {
		return err
	}
	if err := w.b.commit(ctx, tx); err != nil {
		return err
	}
	w.rec.add(&w.rec.txScore, time.Since(began))
	return nil
}

func agencyName(i int) string { return fmt.Sprintf("a%02d", i) }

func queueOf(c config, agency string) string {
	if c.oneQueue > 0 {
		return "query"
	}
	return "agency_" + agency
}

// makeAnswer builds an agency answer of about kb KB: one row per application.
func makeAnswer(apps, kb int) string {
	rows := make([]answerRow, apps)
	pad := strings.Repeat("x", max(kb*1024/apps-84, 8))
	for i := range rows {
		rows[i] = answerRow{Subject: fmt.Sprintf("1101011990%08d", i), Found: i%17 != 0,
			Values: map[string]any{"months": 84, "district": "110105", "note": pad}}
	}
	b, _ := json.Marshal(rows)
	return string(b)
}

func clientConfig(c config, log *slog.Logger, workers *river.Workers) *river.Config {
	queues := map[string]river.QueueConfig{"score": {MaxWorkers: c.scoreWorkers}}
	if c.oneQueue > 0 {
		queues["query"] = river.QueueConfig{MaxWorkers: c.oneQueue}
	} else {
		for i := range c.agencies {
			queues["agency_"+agencyName(i)] = river.QueueConfig{MaxWorkers: c.agencyWorkers}
		}
	}
	return &river.Config{
		Logger:            log,
		Queues:            queues,
		Workers:           workers,
		FetchCooldown:     c.fetchCooldown,
		FetchPollInterval: c.fetchPoll,
		MaxAttempts:       25,
	}
}

// runRound enqueues a whole round in one transaction (batches and query
// jobs, as jifen's StartRun does), works it with a started client, and
// reports.
func runRound[TTx any](ctx context.Context, c config, log *slog.Logger, b *backend[TTx]) error {
	rec := &recorder{done: make(chan struct{}), want: int64(c.batches)}
	answers := map[string]string{}
	for i := range c.agencies {
		answers[agencyName(i)] = makeAnswer(c.apps, c.answerKB)
	}
	fmt.Printf("answer size: %d bytes\n", len(answers[agencyName(0)]))
	workers := river.NewWorkers()
	qw := &queryWorker[TTx]{b: b, rec: rec, latency: c.latency, answer: answers}
	river.AddWorker(workers, qw)
	river.AddWorker(workers, &scoreWorker[TTx]{b: b, rec: rec, apps: c.apps})
	client, err := river.NewClient(b.driver, clientConfig(c, log, workers))
	if err != nil {
		return err
	}
	qw.c = client
	if err := client.Start(ctx); err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = client.Stop(context.WithoutCancel(ctx))
		}
	}()

	// River idle, started, nothing queued: what it writes on its own.
	if b.occ != nil {
		b.occ.snapshot()
		time.Sleep(10 * time.Second)
		b.occ.report(os.Stdout, "River idle 10 s", 10*time.Second, 12)
	}

	start := time.Now()
	tx, err := b.begin(ctx)
	if err != nil {
		return err
	}
	params := make([]river.InsertManyParams, 0, c.batches*c.agencies)
	for bn := range c.batches {
		if err := b.exec(ctx, tx, `INSERT INTO bench_batches (batch_no, pending) VALUES ($1, $2)`, bn, c.agencies); err != nil {
			b.rollback(ctx, tx)
			return err
		}
		for i := range c.agencies {
			a := agencyName(i)
			params = append(params, river.InsertManyParams{Args: QueryArgs{Batch: bn, Agency: a}, InsertOpts: &river.InsertOpts{Queue: queueOf(c, a)}})
		}
	}
	if _, err := client.InsertManyTx(ctx, tx, params); err != nil {
		b.rollback(ctx, tx)
		return err
	}
	if err := b.commit(ctx, tx); err != nil {
		return err
	}
	enqueued := time.Since(start)
	fmt.Printf("enqueued %d batches and %d query jobs in one transaction: %s\n", c.batches, len(params), enqueued.Round(time.Millisecond))
	if b.occ != nil {
		b.occ.snapshot()
	}

	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
wait:
	for {
		select {
		case <-rec.done:
			break wait
		case <-ctx.Done():
			return fmt.Errorf("round not finished: %d of %d batches scored (%w)", rec.scored.Load(), rec.want, ctx.Err())
		case <-tick.C:
			rec.mu.Lock()
			nq := len(rec.txQuery)
			rec.mu.Unlock()
			fmt.Printf("  … %s: %d query jobs done, %d batches scored, load %s\n", time.Since(start).Round(time.Second), nq, rec.scored.Load(), loadavg())
		}
	}
	elapsed := time.Since(start)
	worked := elapsed - enqueued
	jobs := len(params) + c.batches
	fmt.Printf("ROUND DONE: %d jobs (%d query + %d score) in %s (enqueue %s + work %s): %.0f jobs/s overall, %.0f jobs/s while working\n",
		jobs, len(params), c.batches, elapsed.Round(time.Millisecond), enqueued.Round(time.Millisecond), worked.Round(time.Millisecond),
		float64(jobs)/elapsed.Seconds(), float64(jobs)/worked.Seconds())
	conc := c.agencies * c.agencyWorkers
	if c.oneQueue > 0 {
		conc = c.oneQueue
	}
	if c.latency > 0 {
		ideal := time.Duration(float64(len(params)) * float64(c.latency) / float64(conc))
		fmt.Printf("  lower bound of the work from agency latency alone (%d jobs × %s / %d concurrent): %s → queue and writes add %s\n",
			len(params), c.latency, conc, ideal.Round(time.Millisecond), (worked - ideal).Round(time.Millisecond))
	}
	fmt.Printf("  first batch scored after %s\n", time.Duration(rec.firstScored.Load()-start.UnixNano()).Round(time.Millisecond))
	rec.mu.Lock()
	fmt.Println(summary("pickup, query job (inserted → started; mostly backlog)", rec.pickQuery))
	fmt.Println(summary("pickup, score job (inserted in tx → started)", rec.pickScore))
	fmt.Println(summary("waiting for a transaction (writer) in a job", rec.beginWait))
	fmt.Println(summary("query job completion tx (begin → commit)", rec.txQuery))
	fmt.Println(summary("score job completion tx (500 rows; begin → commit)", rec.txScore))
	rec.mu.Unlock()
	if n := rec.failed.Load(); n > 0 {
		fmt.Printf("  FAILED job attempts: %d (last: %v)\n", n, rec.lastErr.Load())
	}
	if b.occ != nil {
		b.occ.report(os.Stdout, "during the work", worked, 14)
	}
	fmt.Printf("  writer pool: %s\n", b.writerStats())

	stopStart := time.Now()
	stopped = true
	if err := client.Stop(ctx); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	fmt.Printf("  client stopped (completer flushed) in %s\n", time.Since(stopStart).Round(time.Millisecond))
	return checkRound(ctx, c, b, len(params))
}

// checkRound verifies exactly-once effects: one answer per (batch, agency),
// every score row, every job completed.
func checkRound[TTx any](ctx context.Context, c config, b *backend[TTx], queries int) error {
	nAns, err := b.scalar(ctx, `SELECT count(*) FROM bench_answers`)
	if err != nil {
		return err
	}
	nScores, err := b.scalar(ctx, `SELECT count(*) FROM bench_scores`)
	if err != nil {
		return err
	}
	nPending, err := b.scalar(ctx, `SELECT count(*) FROM bench_batches WHERE pending <> 0`)
	if err != nil {
		return err
	}
	nDone, err := b.scalar(ctx, `SELECT count(*) FROM river_job WHERE state = 'completed'`)
	if err != nil {
		return err
	}
	nAll, err := b.scalar(ctx, `SELECT count(*) FROM river_job`)
	if err != nil {
		return err
	}
	fmt.Printf("CHECK: answers %d (want %d), score rows %d (want %d), batches not counted down %d, river_job completed %d of %d (want %d)\n",
		nAns, queries, nScores, c.batches*c.apps, nPending, nDone, nAll, queries+c.batches)
	if nAns != int64(queries) || nScores != int64(c.batches*c.apps) || nPending != 0 || nDone != int64(queries+c.batches) || nAll != nDone {
		return errors.New("round check failed")
	}
	return nil
}
