package monitor

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"jifen/internal/platform/jobs"
)

// evaluateArgs is the minute's evaluation of the alert rules (and the
// pruning of samples past Retention).
type evaluateArgs struct{}

func (evaluateArgs) Kind() string { return "monitor_evaluate" }

// EvaluateEvery is how often the rules are evaluated.
const EvaluateEvery = time.Minute

// Register adds the evaluation job: one run a minute across every process
// (River's periodic job, unique per period).
func (s *Service) Register(j *jobs.Jobs) {
	jobs.Register(j, river.Worker[evaluateArgs](&evaluateWorker{s: s}))
	j.Every(EvaluateEvery, evaluateArgs{}, &river.InsertOpts{MaxAttempts: 2, UniqueOpts: river.UniqueOpts{ByPeriod: EvaluateEvery}})
}

type evaluateWorker struct {
	river.WorkerDefaults[evaluateArgs]
	s *Service
}

func (w *evaluateWorker) Work(ctx context.Context, _ *river.Job[evaluateArgs]) error {
	if err := w.s.Evaluate(ctx); err != nil {
		return err
	}
	_, err := w.s.Prune(ctx)
	return err
}

// Timeout keeps a slow database from holding the job for long.
func (w *evaluateWorker) Timeout(*river.Job[evaluateArgs]) time.Duration { return 50 * time.Second }
