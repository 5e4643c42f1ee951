package mail

import (
	"errors"
	"log/slog"
	"time"

	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"

	"jifen/internal/platform/retry"
)

// Delivery's three brakes: the retry backoff (platform/retry), the
// per-second send rate (x/time/rate) and the pause after a run of errors
// (gobreaker).

// backoff is the wait between attempts of one message: from BackoffBase,
// doubled after each failure up to BackoffMax, the last fifth of it random,
// so that messages that failed together (a mail server outage) do not all
// come back in the same second.
func (w *Worker) backoff() retry.Backoff {
	return retry.Backoff{Base: w.cfg.BackoffBase, Max: w.cfg.BackoffMax, Jitter: 0.2, Rand: w.random}
}

// newLimiter spaces sends to at most perSecond (negative: no limit). The
// burst is one message: a worker that was idle saves up no credit, so a
// full queue after a quiet night still goes out at the set rate.
func newLimiter(perSecond float64) *rate.Limiter {
	if perSecond < 0 {
		return rate.NewLimiter(rate.Inf, 1)
	}
	return rate.NewLimiter(rate.Limit(perSecond), 1)
}

// delay books the next send slot at now and returns how long to wait for
// it. The worker's clock, not the wall clock, is passed in, so tests on a
// fake clock see exact waits.
func delay(l *rate.Limiter, now time.Time) time.Duration {
	return l.ReserveN(now, 1).DelayFrom(now)
}

// errStopping is what a send interrupted by our own shutdown reports to the
// breaker: it says nothing about the mail server.
var errStopping = errors.New("mail: worker stopping")

// newBreaker returns the breaker that pauses sending after threshold
// consecutive errors (0 or less: never), as listmonk does: when the mail
// server is down or throttling us, hammering it with the rest of the queue
// only burns every message's attempts. After pause it lets one message
// through; if that one fails too, the pause starts again. A permanent
// rejection (a bad address) means the server is up and answering, so it
// counts neither way; nor does our own shutdown. opened is called, inside
// the breaker, each time a pause begins.
func newBreaker(threshold int, pause time.Duration, opened func()) *gobreaker.TwoStepCircuitBreaker[struct{}] {
	return gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:    "mail",
		Timeout: pause,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return threshold > 0 && c.ConsecutiveFailures >= uint32(threshold)
		},
		IsExcluded: func(err error) bool { return IsPermanent(err) || errors.Is(err, errStopping) },
		OnStateChange: func(_ string, _, to gobreaker.State) {
			if to == gobreaker.StateOpen {
				opened()
			}
		},
	})
}

// opened notes when a pause began, by the worker's clock, for PausedUntil
// and for how long refused jobs snooze. It runs from the breaker's state
// change when a job reports its failure, outside w.mu.
func (w *Worker) opened() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pausedAt = w.out.clock.Now()
	w.log.Warn("mail: pausing after consecutive send errors",
		slog.Int("errors", w.cfg.PauseAfter), slog.Time("until", w.pausedAt.Add(w.cfg.PauseFor)))
}

// paused reports whether the breaker refuses sends now.
func (w *Worker) paused() bool { return w.breaker.State() == gobreaker.StateOpen }

// PausedUntil returns the end of the current pause after a run of errors,
// or the zero time when the worker is sending.
func (w *Worker) PausedUntil() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.paused() {
		return time.Time{}
	}
	return w.pausedAt.Add(w.cfg.PauseFor)
}
