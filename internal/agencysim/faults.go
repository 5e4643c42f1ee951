package agencysim

import (
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Faults is how one agency misbehaves. The zero value answers at once,
// always.
type Faults struct {
	LatencyMS   int     `json:"latency_ms"`   // added to every answer
	JitterMS    int     `json:"jitter_ms"`    // plus a uniform 0..jitter
	ErrorRate   float64 `json:"error_rate"`   // share answered 500
	TimeoutRate float64 `json:"timeout_rate"` // share never answered (until the client gives up)
	// MalformedRate is the share answered 200 with a body that is not JSON.
	MalformedRate float64   `json:"malformed_rate"`
	Down          bool      `json:"down"`      // answers 503 while true
	DownFrom      time.Time `json:"down_from"` // an outage window (zero: none)
	DownUntil     time.Time `json:"down_until"`
	RatePerSec    float64   `json:"rate_per_sec"` // 0: no limit; over it: 429 with Retry-After
	Burst         int       `json:"burst"`
}

// agencyState is an agency's faults and its rate limiter.
type agencyState struct {
	mu      sync.Mutex
	faults  Faults
	limiter *rate.Limiter
	calls   int64
}

func (a *agencyState) set(f Faults) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.faults = f
	a.limiter = nil
	if f.RatePerSec > 0 {
		b := f.Burst
		if b <= 0 {
			b = int(f.RatePerSec) + 1
		}
		a.limiter = rate.NewLimiter(rate.Limit(f.RatePerSec), b)
	}
}

func (a *agencyState) get() Faults {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.faults
}

// decision is what to do with one request.
type decision int

const (
	answer decision = iota
	fail
	hang
	outage
	limited
	malformed
)

func (a *agencyState) decide(now time.Time, r *rand.Rand) (decision, time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls++
	f := a.faults
	if f.Down || (!f.DownFrom.IsZero() && !now.Before(f.DownFrom) && now.Before(f.DownUntil)) {
		return outage, 0
	}
	if a.limiter != nil && !a.limiter.AllowN(now, 1) {
		return limited, 0
	}
	delay := time.Duration(f.LatencyMS) * time.Millisecond
	if f.JitterMS > 0 {
		delay += time.Duration(r.IntN(f.JitterMS+1)) * time.Millisecond
	}
	switch x := r.Float64(); {
	case x < f.TimeoutRate:
		return hang, delay
	case x < f.TimeoutRate+f.ErrorRate:
		return fail, delay
	case x < f.TimeoutRate+f.ErrorRate+f.MalformedRate:
		return malformed, delay
	}
	return answer, delay
}
