package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"

	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/platform/jobs"
)

// Delivery is a River job per message (platform/jobs): Enqueue inserts the
// job in the transaction that writes the outbox row, the job sends the
// message, and the row is marked sent in the transaction that completes the
// job. The outbox row stays the mail log (status, attempts, last error);
// River holds when the next attempt runs and who runs it.

// Queue is the job queue of mail delivery.
const Queue = "mail"

// SendArgs is the delivery job of one outbox message.
type SendArgs struct {
	ID int64 `json:"id"`
}

func (SendArgs) Kind() string { return "mail_send" }

// InsertOpts makes a message's job unique while it is live: the sweep may
// offer a job for every queued row without doubling one that waits or
// runs. Completed jobs are left out of the unique states so that a message
// an operator retries gets a new job. The outbox, not River, decides when
// a message has had its attempts (WorkerConfig.MaxAttempts); River's limit
// is only a backstop above it.
func (SendArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: 100, UniqueOpts: river.UniqueOpts{ByArgs: true,
		ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
			rivertype.JobStateRetryable, rivertype.JobStateRunning, rivertype.JobStateScheduled}}}
}

// sweepArgs is the periodic job that gives queued messages without a live
// job one: the rows queued before delivery ran on River, and a message
// whose job River gave up while its worker was gone.
type sweepArgs struct{}

func (sweepArgs) Kind() string { return "mail_sweep" }

// WorkerConfig tunes delivery. Zero fields take the defaults shown.
type WorkerConfig struct {
	Workers     int           // messages one process sends at once; 2
	SweepEvery  time.Duration // how often queued messages without a job get one; 5m
	Rate        float64       // at most this many sends a second per process; 10; negative: no limit
	MaxAttempts int           // attempts before a message is given up; 10
	BackoffBase time.Duration // wait after the first failure (its last fifth random), doubled after each; 1m
	BackoffMax  time.Duration // the longest wait between attempts; 6h
	PauseAfter  int           // consecutive send errors that pause sending; 5; negative: never
	PauseFor    time.Duration // how long such a pause lasts; 2m
}

func (c WorkerConfig) withDefaults() WorkerConfig {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if c.Workers == 0 {
		c.Workers = 2
	}
	if c.Rate == 0 {
		c.Rate = 10
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 10
	}
	if c.PauseAfter == 0 {
		c.PauseAfter = 5
	}
	def(&c.SweepEvery, 5*time.Minute)
	def(&c.BackoffBase, time.Minute)
	def(&c.BackoffMax, 6*time.Hour)
	def(&c.PauseFor, 2*time.Minute)
	return c
}

func (c WorkerConfig) validate() error {
	var errs []error
	if c.Workers < 1 {
		errs = append(errs, fmt.Errorf("mail workers: %d is less than 1", c.Workers))
	}
	if c.MaxAttempts < 1 || c.MaxAttempts >= 100 {
		errs = append(errs, fmt.Errorf("mail max attempts: %d is not between 1 and 99", c.MaxAttempts))
	}
	for name, d := range map[string]time.Duration{"sweep interval": c.SweepEvery, "backoff base": c.BackoffBase,
		"backoff max": c.BackoffMax, "pause": c.PauseFor} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("mail %s: %s is not positive", name, d))
		}
	}
	if c.BackoffMax < c.BackoffBase {
		errs = append(errs, fmt.Errorf("mail backoff max %s is shorter than backoff base %s", c.BackoffMax, c.BackoffBase))
	}
	return errors.Join(errs...)
}

// maxRateWait is the longest wait for a send slot a job spends holding its
// worker; a longer one snoozes the job instead (a snooze is a database
// write and a fetch, dearer than a wait of a fraction of a second).
const maxRateWait = time.Second

// Worker sends the outbox's messages as River jobs. One per process; River
// spreads the jobs over every worker process, and its job state (running,
// rescued after its worker died) replaces the old leases.
type Worker struct {
	river.WorkerDefaults[SendArgs]

	out    *Outbox
	jobs   *jobs.Jobs
	sender Sender
	cfg    WorkerConfig
	log    *slog.Logger

	mu       sync.Mutex
	limiter  *rate.Limiter
	breaker  *gobreaker.TwoStepCircuitBreaker[struct{}]
	pausedAt time.Time // when the current pause began, by the outbox's clock
	retries  map[int64]time.Duration
	sweep    *sweeper

	// random draws the backoff's jitter; tests fix it.
	random func() float64
	// sleep waits for d or until ctx ends; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
	// retryAt turns a backoff into the time River runs the job again; tests
	// make it at once, as they check the wait on the outbox row.
	retryAt func(wait time.Duration) time.Time
}

// NewWorker makes out's messages River jobs of j: from now on Enqueue,
// EnqueueMany and Retry insert a delivery job with each message. With a
// Sender it also registers the delivery worker, the mail queue and the
// sweep on j, so the process that starts j sends mail; a nil s (no SMTP
// server configured) leaves the jobs waiting and every message queued in
// the mail log. A nil log discards the worker's log.
func NewWorker(out *Outbox, j *jobs.Jobs, s Sender, cfg WorkerConfig, log *slog.Logger) (*Worker, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if snd, ok := s.(*SMTPSender); ok && snd == nil {
		s = nil // a nil *SMTPSender left unset when no server is configured
	}
	w := &Worker{out: out, jobs: j, sender: s, cfg: cfg, log: log, limiter: newLimiter(cfg.Rate),
		retries: map[int64]time.Duration{}, random: rand.Float64, sleep: clock.Sleep,
		retryAt: func(wait time.Duration) time.Time { return time.Now().Add(wait) }}
	w.breaker = newBreaker(cfg.PauseAfter, cfg.PauseFor, w.opened)
	out.jobs = j
	// River inserts only jobs of registered kinds, so the worker is
	// registered even without a server; the mail queue is worked only with
	// one.
	jobs.Register(j, river.Worker[SendArgs](w))
	if s == nil {
		log.Warn("mail: no SMTP server configured; messages stay queued in the mail log")
		return w, nil
	}
	w.sweep = &sweeper{out: out, page: sweepPage}
	jobs.Register(j, river.Worker[sweepArgs](w.sweep))
	j.Queue(Queue, cfg.Workers)
	j.Every(cfg.SweepEvery, sweepArgs{}, &river.InsertOpts{Queue: Queue, MaxAttempts: 3,
		UniqueOpts: river.UniqueOpts{ByPeriod: cfg.SweepEvery}})
	return w, nil
}

// Work sends one message. An open breaker or a rate limit that would hold
// the job more than a moment snoozes it (River does not count a snooze as
// an attempt); a permanent rejection, or a message that has used its
// attempts, is marked failed and the job cancelled; another failure is
// recorded on the row and returned, and River runs the job again after the
// backoff (NextRetry). Success marks the row sent in the transaction that
// completes the job. Delivery is at least once: a worker that dies after the
// server took the message but before the commit leaves a running job that
// River rescues, and the resend carries the same Message-ID.
func (w *Worker) Work(ctx context.Context, job *river.Job[SendArgs]) error {
	if w.sender == nil {
		return river.JobSnooze(time.Hour) // another process's queue setting; not ours to send
	}
	m, err := w.out.Get(ctx, job.Args.ID)
	if errors.Is(err, db.ErrNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	switch {
	case m.CampaignID != 0:
		return river.JobCancel(errors.New("a campaign's message is sent by its campaign")) // never inserted so; a guard
	case m.Status == StatusSent || m.Status == StatusFailed:
		return nil // a job left over from before the outcome was recorded
	case m.Status == StatusSending && m.Attempts >= w.cfg.MaxAttempts:
		// Its worker died during the last allowed attempt.
		msg := fmt.Sprintf("发送过程中断（工作进程停止），已尝试 %d 次，不再重试", m.Attempts)
		if err := w.out.markFailed(ctx, m.ID, msg); err != nil {
			return err
		}
		return river.JobCancel(errors.New(msg))
	}

	done, wait := w.mayStart()
	if done == nil {
		return river.JobSnooze(wait)
	}
	if err := w.sleep(ctx, wait); err != nil {
		done(errStopping)
		return river.JobSnooze(time.Second)
	}
	if m, err = w.out.markSending(ctx, m.ID); err != nil {
		done(errStopping)
		if errors.Is(err, db.ErrNotFound) {
			return nil // sent or failed meanwhile by another job of the same message
		}
		return err
	}

	sendErr := w.sender.Send(ctx, m)
	// The outcome must be recorded even when ctx ends during a send: a
	// message the server took but left "sending" would be sent again.
	bg := context.WithoutCancel(ctx)
	now := w.out.clock.Now()
	switch {
	case sendErr == nil:
		done(nil)
		w.log.Debug("mail: sent", slog.Int64("id", m.ID), slog.String("category", m.Category))
		return w.out.db.WithTx(bg, func(ctx context.Context) error {
			if err := w.out.markSent(ctx, m.ID, now); err != nil {
				return err
			}
			return jobs.Complete(ctx, w.jobs, job)
		})
	case ctx.Err() != nil:
		// Stopping, not the server's fault: hand the message back
		// without counting the attempt.
		done(errStopping)
		if err := w.out.release(bg, m.ID); err != nil {
			return err
		}
		return river.JobSnooze(time.Second)
	}
	done(sendErr)
	attrs := []any{slog.Int64("id", m.ID), slog.Int("attempt", m.Attempts), slog.String("error", sendErr.Error())}
	if IsPermanent(sendErr) || m.Attempts >= w.cfg.MaxAttempts {
		w.log.Warn("mail: giving up", attrs...)
		if err := w.out.markFailed(bg, m.ID, sendErr.Error()); err != nil {
			return err
		}
		return river.JobCancel(sendErr)
	}
	backoff := w.backoff().Wait(m.Attempts)
	next := now.Add(backoff)
	w.log.Info("mail: will retry", append(attrs, slog.Time("next", next))...)
	if err := w.out.markRetry(bg, m.ID, next, sendErr.Error()); err != nil {
		return err
	}
	w.mu.Lock()
	w.retries[job.ID] = backoff
	w.mu.Unlock()
	return sendErr
}

// NextRetry runs the job again after the backoff Work wrote on the row, so
// the mail log shows when the next attempt comes.
func (w *Worker) NextRetry(job *river.Job[SendArgs]) time.Time {
	w.mu.Lock()
	wait, ok := w.retries[job.ID]
	delete(w.retries, job.ID)
	w.mu.Unlock()
	if !ok {
		wait = w.backoff().Wait(max(job.Attempt, 1))
	}
	return w.retryAt(wait)
}

// mayStart reports whether a send may begin now: the breaker lets it
// through and the next send slot is at most maxRateWait away. When it may,
// it returns the function that reports the send's outcome to the breaker
// (to be called exactly once) and the wait for the slot; when not, nil and
// how long to snooze.
func (w *Worker) mayStart() (done func(error), wait time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	done, err := w.breaker.Allow()
	if err != nil {
		// Open: wait out the pause. Half open: one probe is under way;
		// look again shortly.
		wait = 2 * time.Second
		if until := w.pausedAt.Add(w.cfg.PauseFor); errors.Is(err, gobreaker.ErrOpenState) && until.After(w.out.clock.Now()) {
			wait = until.Sub(w.out.clock.Now())
		}
		return nil, wait
	}
	now := w.out.clock.Now()
	r := w.limiter.ReserveN(now, 1)
	if wait = r.DelayFrom(now); wait > maxRateWait {
		r.CancelAt(now)
		done(errStopping)
		return nil, wait
	}
	return done, wait
}

// sweeper offers a delivery job to every queued or interrupted message;
// the jobs' uniqueness drops the offers for messages whose job is live.
type sweeper struct {
	river.WorkerDefaults[sweepArgs]
	out  *Outbox
	page int // sweepPage; tests make it small
}

// sweepPage is how many messages one transaction of the sweep offers jobs
// to; the sweep goes through every queued message page by page, so that a
// long backlog whose first messages have jobs still reaches the rest.
const sweepPage = 1000

func (s *sweeper) Work(ctx context.Context, _ *river.Job[sweepArgs]) error {
	for after := int64(0); ; {
		var ids []int64
		err := s.out.db.WithTx(ctx, func(ctx context.Context) error {
			rows, err := s.out.db.Query(ctx, `SELECT id FROM mail_outbox WHERE status IN ('queued', 'sending') AND campaign_id = 0 AND id > $1
				ORDER BY id LIMIT $2`, after, s.page)
			if err != nil {
				return err
			}
			if ids, err = scanIDs(rows); err != nil {
				return err
			}
			return s.out.insertJobs(ctx, ids)
		})
		if err != nil || len(ids) < s.page {
			return err
		}
		after = ids[len(ids)-1]
	}
}

// The outbox rows' side of delivery. Each write is conditional on the
// row's status, so a stale job cannot undo another's outcome.

// markSending counts the attempt that starts now, before the send, so a
// worker that dies mid-send still has spent it. A message that is no
// longer queued or sending is db.ErrNotFound.
func (o *Outbox) markSending(ctx context.Context, id int64) (Message, error) {
	m, err := scanMessage(o.db.QueryRow(ctx, `UPDATE mail_outbox SET status = 'sending', attempts = attempts + 1
		WHERE id = $1 AND status IN ('queued', 'sending') RETURNING `+columns, id))
	if db.IsNoRows(err) {
		return Message{}, db.ErrNotFound
	}
	if err != nil {
		return Message{}, fmt.Errorf("start mail %d: %w", id, err)
	}
	return m, nil
}

// markSent records delivery.
func (o *Outbox) markSent(ctx context.Context, id int64, at time.Time) error {
	_, err := o.db.Exec(ctx, `UPDATE mail_outbox SET status = 'sent', sent_at = $1, last_error = ''
		WHERE id = $2 AND status = 'sending'`, db.Micros(at), id)
	if err != nil {
		return fmt.Errorf("mark mail %d sent: %w", id, err)
	}
	return nil
}

// markRetry puts the message back in the queue, due at next.
func (o *Outbox) markRetry(ctx context.Context, id int64, next time.Time, lastErr string) error {
	_, err := o.db.Exec(ctx, `UPDATE mail_outbox SET status = 'queued', next_attempt_at = $1, last_error = $2
		WHERE id = $3 AND status = 'sending'`, db.Micros(next), truncate(lastErr), id)
	if err != nil {
		return fmt.Errorf("reschedule mail %d: %w", id, err)
	}
	return nil
}

// markFailed gives the message up.
func (o *Outbox) markFailed(ctx context.Context, id int64, lastErr string) error {
	_, err := o.db.Exec(ctx, `UPDATE mail_outbox SET status = 'failed', last_error = $1
		WHERE id = $2 AND status = 'sending'`, truncate(lastErr), id)
	if err != nil {
		return fmt.Errorf("mark mail %d failed: %w", id, err)
	}
	return nil
}

// release hands back a message whose send our own shutdown interrupted,
// without counting the attempt against it.
func (o *Outbox) release(ctx context.Context, id int64) error {
	_, err := o.db.Exec(ctx, `UPDATE mail_outbox SET status = 'queued', attempts = attempts - 1
		WHERE id = $1 AND status = 'sending'`, id)
	if err != nil {
		return fmt.Errorf("release mail %d: %w", id, err)
	}
	return nil
}

// maxErrorLen bounds the stored error text; SMTP replies can be long.
const maxErrorLen = 1000

func truncate(s string) string {
	if len(s) <= maxErrorLen {
		return s
	}
	i := maxErrorLen
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
