// Package retry holds the one exponential backoff that every retry loop of
// the system uses: the agency connectors between attempts of one call, the
// cross-check's jobs between runs, and the mail outbox between attempts of
// one message.
//
// It is a pure function of the number of failures so far, not a stateful
// iterator (as github.com/cenkalti/backoff's BackOff is): the jobs and the
// mail outbox keep their attempt counts in the database and compute the
// next wait from the stored count, possibly in another process.
package retry

import (
	"math/rand/v2"
	"time"
)

// Backoff is an exponential backoff with jitter. The nominal wait after the
// n-th failure is Base·2^(n−1), capped at Max; Jitter of it is random, so
// that work that failed together (an agency or a mail server down) does not
// come back together: the wait is drawn evenly from
// [nominal·(1−Jitter), nominal]. Jitter 1 is "full jitter", 0.5 "equal
// jitter", 0 none. The wait never exceeds Max.
type Backoff struct {
	Base, Max time.Duration
	Jitter    float64
	// Rand returns a number in [0, 1); nil uses math/rand/v2. Tests fix it.
	Rand func() float64
}

// Nominal returns the wait after the n-th failure (n counts from 1) before
// jitter: Base, 2·Base, 4·Base ... capped at Max.
func (b Backoff) Nominal(n int) time.Duration {
	d := b.Base
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2 // d < Max before doubling, so this cannot overflow
	}
	return min(d, b.Max)
}

// Wait returns the wait after the n-th failure, jitter included.
func (b Backoff) Wait(n int) time.Duration {
	d := b.Nominal(n)
	if b.Jitter <= 0 {
		return d
	}
	r := b.Rand
	if r == nil {
		r = rand.Float64
	}
	j := min(b.Jitter, 1)
	return d - time.Duration(j*r()*float64(d))
}
