package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// The features the project would need from River, tried on the engine:
// pausing a queue (one per agency, paused while its breaker is open),
// JobSnooze (does it spend an attempt?), periodic jobs, unique jobs, and a
// JobCompleteTx whose transaction rolls back.

type featArgs struct {
	Test string `json:"test"`
	N    int    `json:"n"`
}

func (featArgs) Kind() string { return "feat" }

type periodicArgs struct{}

func (periodicArgs) Kind() string { return "periodic" }

type featState struct {
	mu       sync.Mutex
	starts   map[string][]time.Time
	attempts map[string][]int
	periodic []time.Time
}

func (s *featState) start(test string, attempt int) {
	s.mu.Lock()
	s.starts[test] = append(s.starts[test], time.Now())
	s.attempts[test] = append(s.attempts[test], attempt)
	s.mu.Unlock()
}

func (s *featState) count(test string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.starts[test])
}

func (s *featState) attemptsOf(test string) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.attempts[test]...)
}

func (s *featState) startsAfter(test string, t time.Time) (n int, first time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.starts[test] {
		if st.After(t) {
			if n == 0 {
				first = st
			}
			n++
		}
	}
	return n, first
}

type featWorker[TTx any] struct {
	river.WorkerDefaults[featArgs]
	b  *backend[TTx]
	st *featState
}

func (w *featWorker[TTx]) Work(ctx context.Context, job *river.Job[featArgs]) error {
	w.st.start(job.Args.Test, job.Attempt)
	switch job.Args.Test {
	case "snooze":
		// Snoozed three times (as a job refused by an open breaker would be),
		// then done; it has MaxAttempts 1, so a counted snooze would discard it.
		if w.st.count("snooze") <= 3 {
			return river.JobSnooze(300 * time.Millisecond)
		}
		return nil
	case "error":
		if job.Attempt == 1 {
			return errors.New("agency down")
		}
		return nil
	case "rollback":
		tx, err := w.b.begin(ctx)
		if err != nil {
			return err
		}
		if err := w.b.exec(ctx, tx, `INSERT INTO bench_answers (batch_no, agency, answer) VALUES ($1, $2, $3)`,
			-1, fmt.Sprintf("attempt%d", job.Attempt), "{}"); err != nil {
			w.b.rollback(ctx, tx)
			return err
		}
		if err := w.b.completeFeat(ctx, tx, job); err != nil {
			w.b.rollback(ctx, tx)
			return err
		}
		if job.Attempt == 1 {
			// The process fails after completing in the transaction but
			// before the commit: nothing of it may remain.
			w.b.rollback(ctx, tx)
			return errors.New("failed before commit")
		}
		return w.b.commit(ctx, tx)
	case "pause":
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

type periodicWorker struct {
	river.WorkerDefaults[periodicArgs]
	st *featState
}

func (w *periodicWorker) Work(context.Context, *river.Job[periodicArgs]) error {
	w.st.mu.Lock()
	w.st.periodic = append(w.st.periodic, time.Now())
	w.st.mu.Unlock()
	return nil
}

func waitFor(ctx context.Context, d time.Duration, cond func() bool) bool {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if cond() {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(10 * time.Millisecond):
		}
	}
	return cond()
}

func runFeatures[TTx any](ctx context.Context, c config, log *slog.Logger, b *backend[TTx]) error {
	st := &featState{starts: map[string][]time.Time{}, attempts: map[string][]int{}}
	workers := river.NewWorkers()
	river.AddWorker(workers, &featWorker[TTx]{b: b, st: st})
	river.AddWorker(workers, &periodicWorker{st: st})
	cfg := &river.Config{
		Logger:  log,
		Workers: workers,
		Queues: map[string]river.QueueConfig{
			river.QueueDefault: {MaxWorkers: 4},
			"agency_p":         {MaxWorkers: 2},
		},
		FetchCooldown:     c.fetchCooldown,
		FetchPollInterval: c.fetchPoll,
		PeriodicJobs: []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(time.Second),
			func() (river.JobArgs, *river.InsertOpts) { return periodicArgs{}, nil }, &river.PeriodicJobOpts{RunOnStart: true})},
	}
	client, err := river.NewClient(b.driver, cfg)
	if err != nil {
		return err
	}
	started := time.Now()
	if err := client.Start(ctx); err != nil {
		return err
	}
	defer func() { _ = client.Stop(context.WithoutCancel(ctx)) }()
	ok := true
	report := func(name string, pass bool, format string, args ...any) {
		res := "OK  "
		if !pass {
			res, ok = "FAIL", false
		}
		fmt.Printf("%s %-10s %s\n", res, name, fmt.Sprintf(format, args...))
	}

	// Unique jobs.
	u1, err := client.Insert(ctx, featArgs{Test: "unique", N: 1}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}})
	if err != nil {
		return err
	}
	u2, err := client.Insert(ctx, featArgs{Test: "unique", N: 1}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}})
	if err != nil {
		return err
	}
	u3, err := client.Insert(ctx, featArgs{Test: "unique", N: 2}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}})
	if err != nil {
		return err
	}
	report("unique", !u1.UniqueSkippedAsDuplicate && u2.UniqueSkippedAsDuplicate && u2.Job.ID == u1.Job.ID && !u3.UniqueSkippedAsDuplicate,
		"same args twice → second skipped as duplicate (%v, same id %v); other args inserted (%v)",
		u2.UniqueSkippedAsDuplicate, u2.Job.ID == u1.Job.ID, !u3.UniqueSkippedAsDuplicate)
	p1, err := client.Insert(ctx, featArgs{Test: "unique", N: 3}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: time.Hour}})
	if err != nil {
		return err
	}
	p2, err := client.Insert(ctx, featArgs{Test: "unique", N: 4}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: time.Hour}})
	if err != nil {
		return err
	}
	report("unique", !p1.UniqueSkippedAsDuplicate && p2.UniqueSkippedAsDuplicate,
		"ByPeriod 1h (kind only): second insert in the same hour skipped (%v)", p2.UniqueSkippedAsDuplicate)
	many, err := client.InsertMany(ctx, []river.InsertManyParams{
		{Args: featArgs{Test: "unique", N: 1}, InsertOpts: &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}},
		{Args: featArgs{Test: "unique", N: 5}, InsertOpts: &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}},
	})
	if err != nil {
		return err
	}
	report("unique", many[0].UniqueSkippedAsDuplicate && !many[1].UniqueSkippedAsDuplicate,
		"InsertMany honours unique: existing skipped (%v), new inserted (%v)", many[0].UniqueSkippedAsDuplicate, !many[1].UniqueSkippedAsDuplicate)

	// Snooze: MaxAttempts 1, snoozed three times, then completes.
	sn, err := client.Insert(ctx, featArgs{Test: "snooze"}, &river.InsertOpts{MaxAttempts: 1})
	if err != nil {
		return err
	}
	var snRow *rivertype.JobRow
	waitFor(ctx, 15*time.Second, func() bool {
		snRow, err = client.JobGet(ctx, sn.Job.ID)
		return err == nil && snRow.State == rivertype.JobStateCompleted
	})
	if err != nil {
		return err
	}
	report("snooze", snRow.State == rivertype.JobStateCompleted && snRow.Attempt == 1,
		"job with MaxAttempts 1 snoozed 3× then completed: state %s, attempt seen by the worker on each run %v, attempt in the row %d, metadata %s",
		snRow.State, st.attemptsOf("snooze"), snRow.Attempt, snRow.Metadata)
	er, err := client.Insert(ctx, featArgs{Test: "error"}, &river.InsertOpts{MaxAttempts: 5})
	if err != nil {
		return err
	}
	var erRow *rivertype.JobRow
	waitFor(ctx, 20*time.Second, func() bool {
		erRow, err = client.JobGet(ctx, er.Job.ID)
		return err == nil && erRow.State == rivertype.JobStateCompleted
	})
	if err != nil {
		return err
	}
	report("snooze", erRow.Attempt == 2, "for comparison, an error does spend one: attempts seen %v, row attempt %d, state %s",
		st.attemptsOf("error"), erRow.Attempt, erRow.State)

	// JobCompleteTx in a transaction that rolls back.
	rb, err := client.Insert(ctx, featArgs{Test: "rollback"}, &river.InsertOpts{MaxAttempts: 5})
	if err != nil {
		return err
	}
	var rbRow *rivertype.JobRow
	waitFor(ctx, 20*time.Second, func() bool {
		rbRow, err = client.JobGet(ctx, rb.Job.ID)
		return err == nil && rbRow.State == rivertype.JobStateCompleted
	})
	if err != nil {
		return err
	}
	n1, _ := b.scalar(ctx, `SELECT count(*) FROM bench_answers WHERE batch_no = -1 AND agency = 'attempt1'`)
	n2, _ := b.scalar(ctx, `SELECT count(*) FROM bench_answers WHERE batch_no = -1 AND agency = 'attempt2'`)
	report("completeTx", rbRow.State == rivertype.JobStateCompleted && rbRow.Attempt == 2 && n1 == 0 && n2 == 1,
		"completion rolled back with its result on attempt 1 (result rows %d, job retried), committed on attempt 2 (rows %d, state %s)",
		n1, n2, rbRow.State)

	// Pause: paused before its jobs arrive, nothing of the queue runs;
	// resumed, how soon does the first job start?
	if err := client.QueuePause(ctx, "agency_p", nil); err != nil {
		return err
	}
	time.Sleep(300 * time.Millisecond) // let the pause reach the producer
	pausedAt := time.Now()
	params := make([]river.InsertManyParams, 5)
	for i := range params {
		params[i] = river.InsertManyParams{Args: featArgs{Test: "pause", N: i}, InsertOpts: &river.InsertOpts{Queue: "agency_p"}}
	}
	if _, err := client.InsertMany(ctx, params); err != nil {
		return err
	}
	time.Sleep(3 * time.Second)
	during, _ := st.startsAfter("pause", pausedAt)
	q, err := client.QueueGet(ctx, "agency_p")
	if err != nil {
		return err
	}
	report("pause", during == 0 && q.PausedAt != nil, "queue paused (paused_at set: %v): 0 of 5 jobs started in 3 s (started %d)", q.PausedAt != nil, during)
	resumed := time.Now()
	if err := client.QueueResume(ctx, "agency_p", nil); err != nil {
		return err
	}
	waitFor(ctx, 10*time.Second, func() bool { n, _ := st.startsAfter("pause", resumed); return n == 5 })
	n, first := st.startsAfter("pause", resumed)
	report("pause", n == 5, "resumed: first job started %s after QueueResume returned, %d of 5 ran", first.Sub(resumed).Round(time.Millisecond), n)

	// Pause while the queue is busy: how many jobs still start after the pause?
	params = make([]river.InsertManyParams, 200)
	for i := range params {
		params[i] = river.InsertManyParams{Args: featArgs{Test: "pause", N: i}, InsertOpts: &river.InsertOpts{Queue: "agency_p"}}
	}
	if _, err := client.InsertMany(ctx, params); err != nil {
		return err
	}
	busyFrom := time.Now()
	time.Sleep(time.Second)
	if err := client.QueuePause(ctx, "agency_p", nil); err != nil {
		return err
	}
	pauseReturned := time.Now()
	before, _ := st.startsAfter("pause", busyFrom)
	time.Sleep(3 * time.Second)
	after, _ := st.startsAfter("pause", pauseReturned)
	lateAfter, _ := st.startsAfter("pause", pauseReturned.Add(time.Second))
	report("pause", lateAfter == 0, "paused while busy (2 workers, 20 ms jobs; %d had started in the 1 s before): %d jobs started after QueuePause returned, %d later than 1 s after it", before-after, after, lateAfter)
	if err := client.QueueResume(ctx, "agency_p", nil); err != nil {
		return err
	}

	// Periodic: every second, RunOnStart; needs the elected leader.
	waitFor(ctx, 15*time.Second, func() bool { st.mu.Lock(); defer st.mu.Unlock(); return len(st.periodic) >= 4 })
	st.mu.Lock()
	per := append([]time.Time(nil), st.periodic...)
	st.mu.Unlock()
	var firstRun time.Duration
	if len(per) > 0 {
		firstRun = per[0].Sub(started)
	}
	gaps := []string{}
	for i := 1; i < len(per); i++ {
		gaps = append(gaps, per[i].Sub(per[i-1]).Round(10*time.Millisecond).String())
	}
	report("periodic", len(per) >= 4, "every 1 s with RunOnStart: first run %s after Start, %d runs, gaps %v", firstRun.Round(time.Millisecond), len(per), gaps)

	if b.occ != nil {
		b.occ.report(os.Stdout, "features", time.Since(started), 10)
	}
	if !ok {
		return errors.New("a feature check failed")
	}
	return nil
}
