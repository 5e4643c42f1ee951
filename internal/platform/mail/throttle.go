package mail

import (
	"time"
)

// The worker's three brakes, kept free of goroutines and real time so that
// tests drive them with plain values: the retry backoff, the per-second
// send rate, and the pause after a run of errors.

// backoff returns how long to wait after the attempt-th failed attempt
// (attempt counts from 1): base, 2×base, 4×base ... capped at max, plus a
// jitter of up to a quarter of that, so that messages that failed together
// (a mail server outage) do not all come back in the same second. The
// jitter only ever adds, so a retry is never earlier than the nominal delay.
// jitter(n) must return a number in [0, n).
func backoff(attempt int, base, max time.Duration, jitter func(n int64) int64) time.Duration {
	d := base
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	if q := int64(d / 4); q > 0 && jitter != nil {
		d += time.Duration(jitter(q))
	}
	return d
}

// pacer spaces sends to at most rate per second. It remembers when the
// next send may start; a worker that was idle gets no burst credit beyond
// one message.
type pacer struct {
	interval time.Duration // 0: no limit
	next     time.Time
}

func newPacer(rate float64) *pacer {
	p := &pacer{}
	if rate > 0 {
		p.interval = time.Duration(float64(time.Second) / rate)
	}
	return p
}

// reserve books the next send slot and returns how long to wait for it.
func (p *pacer) reserve(now time.Time) time.Duration {
	if p.interval == 0 {
		return 0
	}
	if p.next.Before(now) {
		p.next = now
	}
	wait := p.next.Sub(now)
	p.next = p.next.Add(p.interval)
	return wait
}

// breaker pauses sending after threshold consecutive errors, as listmonk
// does: when the mail server is down or throttling us, hammering it with
// the rest of the queue only burns every message's attempts.
type breaker struct {
	threshold   int           // 0: never pause
	pause       time.Duration // how long a pause lasts
	consecutive int
	until       time.Time
}

// failure counts an error and reports whether it started a pause.
func (b *breaker) failure(now time.Time) bool {
	if b.threshold <= 0 {
		return false
	}
	b.consecutive++
	if b.consecutive < b.threshold {
		return false
	}
	b.consecutive = 0
	b.until = now.Add(b.pause)
	return true
}

// success ends a run of errors.
func (b *breaker) success() { b.consecutive = 0 }

// pausedUntil returns the end of the current pause, or the zero time when
// sending may go on.
func (b *breaker) pausedUntil(now time.Time) time.Time {
	if now.Before(b.until) {
		return b.until
	}
	return time.Time{}
}

// PausedUntil returns the end of the current pause after a run of errors,
// or the zero time when the worker is sending.
func (w *Worker) PausedUntil() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.breaker.pausedUntil(w.out.clock.Now())
}
