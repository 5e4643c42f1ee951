package jobs_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"jifen/internal/platform/db"
	"jifen/internal/platform/db/dbtest"
	"jifen/internal/platform/jobs"
)

type noteArgs struct {
	Note string `json:"note"`
}

func (noteArgs) Kind() string { return "test_note" }

// noteWorker writes its note and completes itself in one transaction; the
// first run of a note "snooze" waits instead, without spending an attempt.
type noteWorker struct {
	river.WorkerDefaults[noteArgs]
	d       *db.DB
	j       *jobs.Jobs
	snoozed atomic.Bool
}

func (w *noteWorker) Work(ctx context.Context, job *river.Job[noteArgs]) error {
	if job.Args.Note == "snooze" && w.snoozed.CompareAndSwap(false, true) {
		return river.JobSnooze(50 * time.Millisecond)
	}
	return w.d.WithTx(ctx, func(ctx context.Context) error {
		if _, err := w.d.Exec(ctx, `INSERT INTO test_notes (note, attempt) VALUES ($1, $2)`, job.Args.Note, job.Attempt); err != nil {
			return err
		}
		return jobs.Complete(ctx, w.j, job)
	})
}

type tickArgs struct{}

func (tickArgs) Kind() string { return "test_tick" }

type tickWorker struct {
	river.WorkerDefaults[tickArgs]
	ticks atomic.Int64
}

func (w *tickWorker) Work(context.Context, *river.Job[tickArgs]) error {
	w.ticks.Add(1)
	return nil
}

func count(t *testing.T, d *db.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := d.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestJobsInTransactionsUniqueSnoozedPeriodic(t *testing.T) {
	ctx := context.Background()
	d := dbtest.Open(t)
	if _, err := d.Exec(ctx, `CREATE TABLE test_notes (note TEXT NOT NULL, attempt INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	j := jobs.New(d, nil)
	j.PollInterval = 50 * time.Millisecond
	nw := &noteWorker{d: d, j: j}
	tw := &tickWorker{}
	jobs.Register(j, nw)
	jobs.Register(j, tw)
	j.Queue(river.QueueDefault, 2)
	j.Every(time.Hour, tickArgs{}, nil)

	// A job inserted in a transaction that rolls back never exists.
	rollback := errors.New("roll back")
	if err := d.WithTx(ctx, func(ctx context.Context) error {
		if _, err := j.Insert(ctx, noteArgs{Note: "rolled back"}, nil); err != nil {
			return err
		}
		return rollback
	}); !errors.Is(err, rollback) {
		t.Fatal(err)
	}
	// Unique by its arguments: a second insert is skipped.
	for i, want := range []bool{true, false} {
		got, err := j.Insert(ctx, noteArgs{Note: "once"}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}})
		if err != nil || got != want {
			t.Fatalf("unique insert %d: inserted %v, %v", i, got, err)
		}
	}
	if _, err := j.Insert(ctx, noteArgs{Note: "snooze"}, &river.InsertOpts{MaxAttempts: 1}); err != nil {
		t.Fatal(err)
	}
	// A scheduled job waits, and shows in the depth of its kind.
	if _, err := j.Insert(ctx, noteArgs{Note: "later"}, &river.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	depth, err := j.Depth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(depth) != 1 || depth[0].Kind != "test_note" || depth[0].Waiting != 3 || depth[0].Oldest.IsZero() ||
		time.Since(depth[0].Oldest) > time.Minute {
		t.Fatalf("depth before start: %+v", depth)
	}

	if err := j.Start(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for count(t, d, `SELECT COUNT(*) FROM test_notes`) < 2 || tw.ticks.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("jobs not done in 60 s: %d notes, %d ticks", count(t, d, `SELECT COUNT(*) FROM test_notes`), tw.ticks.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := j.Stop(stop); err != nil {
		t.Fatal(err)
	}
	if n := count(t, d, `SELECT COUNT(*) FROM test_notes WHERE note = 'rolled back'`); n != 0 {
		t.Error("a job inserted in a rolled-back transaction ran")
	}
	if n := count(t, d, `SELECT COUNT(*) FROM test_notes WHERE note = 'once'`); n != 1 {
		t.Errorf("the unique job ran %d times", n)
	}
	// The snoozed job had one attempt allowed and still ran after its wait.
	if n := count(t, d, `SELECT COUNT(*) FROM test_notes WHERE note = 'snooze'`); n != 1 {
		t.Errorf("the snoozed job ran %d times to completion", n)
	}
	if n := count(t, d, `SELECT COUNT(*) FROM test_notes WHERE note = 'later'`); n != 0 {
		t.Error("the job scheduled an hour ahead ran")
	}
	depth, err = j.Depth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(depth) != 1 || depth[0].Waiting != 1 || depth[0].Running != 0 {
		t.Errorf("depth after the run: %+v", depth)
	}
}
