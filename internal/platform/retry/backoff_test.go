package retry

import (
	"testing"
	"time"
)

func TestBackoffNominalDoublesUpToMax(t *testing.T) {
	t.Parallel()
	b := Backoff{Base: time.Minute, Max: 6 * time.Hour}
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{
		{0, time.Minute}, {1, time.Minute}, {2, 2 * time.Minute}, {3, 4 * time.Minute},
		{9, 256 * time.Minute}, {10, 6 * time.Hour},
		{1000, 6 * time.Hour}, // no overflow however many failures
	} {
		if got := b.Nominal(tc.n); got != tc.want {
			t.Errorf("Nominal(%d) = %s, want %s", tc.n, got, tc.want)
		}
	}
	if got := (Backoff{Base: time.Hour, Max: time.Minute}).Nominal(1); got != time.Minute {
		t.Errorf("a base above the cap waits %s, want the cap", got)
	}
}

func TestBackoffJitterStaysBelowTheNominalWait(t *testing.T) {
	t.Parallel()
	lowest := func() float64 { return 0 }
	highest := func() float64 { return 1 - 1e-12 } // just under 1, as rand.Float64 at most
	for _, tc := range []struct {
		jitter float64
		lo, hi time.Duration // from the highest and the lowest random number
	}{
		{0, 4 * time.Second, 4 * time.Second},
		{0.5, 2 * time.Second, 4 * time.Second},
		{1, 0, 4 * time.Second},
		{2, 0, 4 * time.Second}, // more than full jitter is full jitter
	} {
		b := Backoff{Base: time.Second, Max: time.Minute, Jitter: tc.jitter}
		b.Rand = lowest
		if got := b.Wait(3); got != tc.hi {
			t.Errorf("jitter %v, random 0: wait %s, want %s", tc.jitter, got, tc.hi)
		}
		b.Rand = highest
		if got := b.Wait(3); got < tc.lo || got > tc.lo+time.Microsecond {
			t.Errorf("jitter %v, random just under 1: wait %s, want just over %s", tc.jitter, got, tc.lo)
		}
	}
	// The default source stays within bounds.
	b := Backoff{Base: time.Second, Max: time.Minute, Jitter: 0.5}
	for range 1000 {
		if w := b.Wait(2); w < time.Second || w > 2*time.Second {
			t.Fatalf("wait %s outside [1s, 2s]", w)
		}
	}
}
