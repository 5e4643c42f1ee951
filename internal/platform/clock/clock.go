// Package clock gives the application an injectable notion of "now", so that
// tests can freeze or move time (session expiry, lockouts, round windows).
package clock

import (
	"context"
	"sync"
	"time"
)

// Beijing is China Standard Time (UTC+8, no daylight saving), the zone in
// which pages show times and in which dates (a birthday, a deadline day, a
// report day, a round's windows) are judged. A fixed zone rather than
// time.LoadLocation("Asia/Shanghai"): it needs no tz database on the server.
var Beijing = time.FixedZone("CST", 8*60*60)

// BeijingDay returns midnight, Beijing time, of the Beijing day t falls on.
func BeijingDay(t time.Time) time.Time {
	t = t.In(Beijing)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, Beijing)
}

// Clock returns the current time. Production code uses System; tests use a Fake.
type Clock interface {
	Now() time.Time
}

// System is the real wall clock, in UTC.
type System struct{}

// Now returns the current UTC time.
func (System) Now() time.Time { return time.Now().UTC() }

// Fake is a settable clock for tests. It is safe for concurrent use.
type Fake struct {
	mu sync.Mutex
	t  time.Time
}

// NewFake returns a Fake clock standing at t.
func NewFake(t time.Time) *Fake { return &Fake{t: t.UTC()} }

// Now returns the fake current time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

// Advance moves the fake clock forward by d.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

// Set moves the fake clock to t.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	f.t = t.UTC()
	f.mu.Unlock()
}

// Sleep waits for d or until ctx ends, whichever comes first, and returns
// ctx's error if it ended.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
