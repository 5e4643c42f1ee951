package backup

import (
	"context"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"jifen/internal/platform/jobs"
)

// Queue is the backups' own queue: one at a time, and a long backup holds
// up no other schedule.
const Queue = "backup"

// checkEvery is how often the schedule asks whether a backup is due; the
// interval itself is Options.Every, counted from the last good backup.
const checkEvery = time.Hour

type dueArgs struct{}

func (dueArgs) Kind() string { return "backup_due" }

type dueWorker struct {
	river.WorkerDefaults[dueArgs]
	s *Service
}

// Timeout lets a backup of a large database run for hours, not the
// job mechanism's default minutes.
func (w *dueWorker) Timeout(*river.Job[dueArgs]) time.Duration { return 12 * time.Hour }

func (w *dueWorker) Work(ctx context.Context, _ *river.Job[dueArgs]) error {
	_, err := w.s.RunIfDue(ctx)
	return err
}

// Register adds the schedule to the job mechanism, unless backups are off.
// The job is unique while it waits or runs (running included, or a check
// that outlasts the hour would get a twin).
func (s *Service) Register(j *jobs.Jobs) {
	if s.opt.Every <= 0 {
		return
	}
	jobs.Register(j, &dueWorker{s: s})
	j.Queue(Queue, 1)
	j.Every(checkEvery, dueArgs{}, &river.InsertOpts{Queue: Queue, MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByArgs: true,
		ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
			rivertype.JobStateRetryable, rivertype.JobStateRunning, rivertype.JobStateScheduled}}})
}

// RunIfDue makes a backup when the last good one started at least Every
// ago, and no attempt was made in the last hour (a failing backup is
// retried hourly, not in a loop). It reports whether it ran one; a failed
// backup is in backup_runs and the log, and is not the job's error.
func (s *Service) RunIfDue(ctx context.Context) (bool, error) {
	if s.opt.Every <= 0 {
		return false, nil
	}
	good, last, err := s.lastRuns(ctx)
	if err != nil {
		return false, err
	}
	now := s.clock.Now()
	if !good.IsZero() && now.Sub(good) < s.opt.Every {
		return false, nil
	}
	if !last.IsZero() && now.Sub(last) < checkEvery {
		return false, nil
	}
	_, _, err = s.Backup(ctx, "")
	if err != nil && ctx.Err() != nil {
		return true, err
	}
	return true, nil
}
