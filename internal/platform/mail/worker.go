package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"

	"jifen/internal/platform/clock"
)

// WorkerConfig tunes the worker. Zero fields take the defaults shown.
type WorkerConfig struct {
	BatchSize    int           // messages claimed at a time; 20
	PollInterval time.Duration // wait between runs when the queue is empty; 5s
	Rate         float64       // at most this many sends a second; 10; negative: no limit
	MaxAttempts  int           // attempts before a message is given up; 10
	BackoffBase  time.Duration // wait after the first failure (its last fifth random), doubled after each; 1m
	BackoffMax   time.Duration // the longest wait between attempts; 6h
	Lease        time.Duration // how long a claim holds its messages; 5m
	PauseAfter   int           // consecutive send errors that pause the worker; 5; negative: never
	PauseFor     time.Duration // how long such a pause lasts; 2m
}

func (c WorkerConfig) withDefaults() WorkerConfig {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if c.BatchSize == 0 {
		c.BatchSize = 20
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
	def(&c.PollInterval, 5*time.Second)
	def(&c.BackoffBase, time.Minute)
	def(&c.BackoffMax, 6*time.Hour)
	def(&c.Lease, 5*time.Minute)
	def(&c.PauseFor, 2*time.Minute)
	return c
}

func (c WorkerConfig) validate() error {
	var errs []error
	if c.BatchSize < 1 {
		errs = append(errs, fmt.Errorf("mail batch size: %d is less than 1", c.BatchSize))
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("mail max attempts: %d is less than 1", c.MaxAttempts))
	}
	for name, d := range map[string]time.Duration{"poll interval": c.PollInterval, "backoff base": c.BackoffBase,
		"backoff max": c.BackoffMax, "lease": c.Lease, "pause": c.PauseFor} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("mail %s: %s is not positive", name, d))
		}
	}
	if c.BackoffMax < c.BackoffBase {
		errs = append(errs, fmt.Errorf("mail backoff max %s is shorter than backoff base %s", c.BackoffMax, c.BackoffBase))
	}
	return errors.Join(errs...)
}

// Worker sends the outbox's due messages. Any number of workers, in one
// process or several, may share an outbox: a message is claimed under a
// lease and only one worker sends it at a time. A Worker is meant to be run
// by one goroutine; its methods serialise themselves all the same.
type Worker struct {
	out    *Outbox
	sender Sender
	cfg    WorkerConfig
	log    *slog.Logger

	mu       sync.Mutex
	limiter  *rate.Limiter
	breaker  *gobreaker.TwoStepCircuitBreaker[struct{}]
	pausedAt time.Time // when the current pause began, by the outbox's clock
	// random draws the backoff's jitter; tests fix it.
	random func() float64
	// sleep waits for d or until ctx ends; tests replace it to move a fake
	// clock instead of waiting.
	sleep func(ctx context.Context, d time.Duration) error
}

// NewWorker returns a worker that sends out's messages through s. A nil s
// (no SMTP server configured) makes a worker that sends nothing and leaves
// every message queued. A nil log discards the worker's log.
func NewWorker(out *Outbox, s Sender, cfg WorkerConfig, log *slog.Logger) (*Worker, error) {
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
	w := &Worker{out: out, sender: s, cfg: cfg, log: log, limiter: newLimiter(cfg.Rate), random: rand.Float64, sleep: clock.Sleep}
	w.breaker = newBreaker(cfg.PauseAfter, cfg.PauseFor, w.opened)
	return w, nil
}

// Run sends due messages until ctx ends, then returns nil. It goes straight
// on while batches come back full and waits PollInterval otherwise. Errors
// (the database away for a moment) are logged and retried at the next poll.
func (w *Worker) Run(ctx context.Context) error {
	if w.sender == nil {
		w.log.Warn("mail: no SMTP server configured; messages stay queued in the mail log")
		<-ctx.Done()
		return nil
	}
	for ctx.Err() == nil {
		sent, failed, err := w.RunOnce(ctx)
		switch {
		case ctx.Err() != nil:
		case err != nil:
			w.log.Error("mail: worker run", slog.String("error", err.Error()))
			_ = w.sleep(ctx, w.cfg.PollInterval)
		case sent+failed < w.cfg.BatchSize:
			_ = w.sleep(ctx, w.cfg.PollInterval)
		}
	}
	return nil
}

// RunOnce claims one batch of due messages and tries to send each, and
// returns how many were sent and how many attempts failed (whether the
// message will be retried or was given up). It sends nothing without a
// Sender or while paused after a run of errors. Messages it claimed but did
// not try (a pause began, ctx ended, the lease ran short) go back to the
// queue without an attempt counted against them.
func (w *Worker) RunOnce(ctx context.Context) (sent, failed int, err error) {
	if w.sender == nil {
		return 0, 0, nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.paused() {
		return 0, 0, nil
	}
	now := w.out.clock.Now()
	if n, err := w.out.abandonStale(ctx, now, w.cfg.MaxAttempts); err != nil {
		return 0, 0, err
	} else if n > 0 {
		w.log.Warn("mail: gave up messages whose sending was interrupted", slog.Int64("count", n))
	}
	batch, token, err := w.out.claim(ctx, now, w.cfg.Lease, w.cfg.MaxAttempts, w.cfg.BatchSize)
	if err != nil {
		return 0, 0, err
	}
	// The outcome must be recorded even when ctx ends during a send: a
	// message the server took but left "sending" would be sent again.
	bg := context.WithoutCancel(ctx)
	for i, m := range batch {
		done := w.mayStart(ctx, token)
		if done == nil {
			return sent, failed, w.out.release(bg, batch[i:], token)
		}
		sendErr := w.sender.Send(ctx, m)
		now := w.out.clock.Now()
		switch {
		case sendErr == nil:
			done(nil)
			if err := w.out.markSent(bg, m.ID, now); err != nil {
				return sent, failed, err
			}
			sent++
			w.log.Debug("mail: sent", slog.Int64("id", m.ID), slog.String("category", m.Category))
		case ctx.Err() != nil:
			// Stopping, not the server's fault: hand the message back.
			done(errStopping)
			return sent, failed, w.out.release(bg, batch[i:], token)
		default:
			done(sendErr)
			failed++
			if err := w.recordFailure(bg, m, token, now, sendErr); err != nil {
				return sent, failed, err
			}
		}
	}
	return sent, failed, nil
}

// mayStart waits for the next send slot and reports whether a send may
// begin: not after ctx ended, not during a pause, and not when less than
// half the lease is left, so that a slow send cannot outlive the lease and
// be duplicated by another worker. When it may, it returns the function
// that reports the send's outcome to the breaker (to be called exactly
// once); when not, nil.
func (w *Worker) mayStart(ctx context.Context, token time.Time) (done func(error)) {
	if ctx.Err() != nil || w.paused() {
		return nil
	}
	now := w.out.clock.Now()
	if err := w.sleep(ctx, delay(w.limiter, now)); err != nil {
		return nil
	}
	if !w.out.clock.Now().Before(token.Add(-w.cfg.Lease / 2)) {
		return nil
	}
	done, err := w.breaker.Allow()
	if err != nil {
		return nil
	}
	return done
}

// recordFailure reschedules m after a failed attempt, or gives it up when
// the failure is permanent or m has used its attempts.
func (w *Worker) recordFailure(ctx context.Context, m Message, token, now time.Time, sendErr error) error {
	attrs := []any{slog.Int64("id", m.ID), slog.Int("attempt", m.Attempts), slog.String("error", sendErr.Error())}
	if IsPermanent(sendErr) {
		w.log.Warn("mail: rejected for good", attrs...)
		return w.out.markFailed(ctx, m.ID, token, sendErr.Error())
	}
	if m.Attempts >= w.cfg.MaxAttempts {
		w.log.Warn("mail: giving up", attrs...)
		return w.out.markFailed(ctx, m.ID, token, sendErr.Error())
	}
	next := now.Add(w.backoff().Wait(m.Attempts))
	w.log.Info("mail: will retry", append(attrs, slog.Time("next", next))...)
	return w.out.markRetry(ctx, m.ID, token, next, sendErr.Error())
}
