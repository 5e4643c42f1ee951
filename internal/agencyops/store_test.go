package agencyops_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"jifen/internal/agency"
	"jifen/internal/agencyops"
	"jifen/internal/platform/apperr"
)

// TestStoreKeepsTheEnginesState covers what the cross-check engine does to
// agency_connectors through the store: point every connector somewhere,
// take rate slots, record breaker, error and probe.
func TestStoreKeepsTheEnginesState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	st, svc, keys := agencyops.NewStore(f.db), f.svc, f.keys

	if _, err := st.Connector(ctx, "tax"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("missing connector: %v", err)
	}
	if err := st.PointAll(ctx, keys, "http://127.0.0.1:9", "k1", 10, 50, now); err != nil {
		t.Fatal(err)
	}
	if err := st.PointAll(ctx, keys, "http://127.0.0.1:10", "k2", 0, 0, now); err != nil { // keeps rate and batch
		t.Fatal(err)
	}
	for _, a := range agency.Codes() {
		c, err := st.Connector(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if c.BaseURL != "http://127.0.0.1:10" || !c.KeySet || c.RatePerSec != 10 || c.BatchSize != 50 || c.Name == "" {
			t.Errorf("%s after PointAll: %+v", a, c)
		}
		if key, err := svc.Key(ctx, a); err != nil || key != "k2" {
			t.Errorf("%s key %q, %v", a, key, err)
		}
	}

	// Rate 10/s: slots 100 ms apart; an idle agency's next slot is now.
	var slots []time.Duration
	for _, at := range []time.Time{now, now, now, now.Add(time.Second)} {
		s, err := st.ReserveSlot(ctx, "tax", at, 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		slots = append(slots, s.Sub(now))
	}
	if want := []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond, time.Second}; !slices.Equal(slots, want) {
		t.Errorf("slots %v, want %v", slots, want)
	}

	at := now.Add(time.Minute)
	if err := st.RecordBreaker(ctx, "tax", "open", at); err != nil {
		t.Fatal(err)
	}
	if err := st.RecordError(ctx, "tax", "timeout: no answer", at); err != nil {
		t.Fatal(err)
	}
	if err := st.RecordProbe(ctx, "tax", true, at); err != nil {
		t.Fatal(err)
	}
	c, err := st.Connector(ctx, "tax")
	if err != nil {
		t.Fatal(err)
	}
	if c.Breaker != "open" || !c.BreakerAt.Equal(at) || c.LastError != "timeout: no answer" || !c.LastErrorAt.Equal(at) ||
		!c.ProbeOK || !c.ProbeAt.Equal(at) {
		t.Errorf("state after recording: %+v", c)
	}
	if c.Timeout() != time.Duration(c.TimeoutMS)*time.Millisecond || c.Timeout() <= 0 {
		t.Errorf("timeout %s of %d ms", c.Timeout(), c.TimeoutMS)
	}
}
