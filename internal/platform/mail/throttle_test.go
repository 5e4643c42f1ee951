package mail

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	t.Parallel()
	none := func(int64) int64 { return 0 }
	most := func(n int64) int64 { return n - 1 }
	for _, tc := range []struct {
		attempt  int
		min, max time.Duration
	}{
		{1, time.Minute, 75 * time.Second},
		{2, 2 * time.Minute, 150 * time.Second},
		{3, 4 * time.Minute, 5 * time.Minute},
		{9, 256 * time.Minute, 320 * time.Minute},
		{10, 6 * time.Hour, 7*time.Hour + 30*time.Minute},
		{60, 6 * time.Hour, 7*time.Hour + 30*time.Minute}, // no overflow
	} {
		lo := backoff(tc.attempt, time.Minute, 6*time.Hour, none)
		hi := backoff(tc.attempt, time.Minute, 6*time.Hour, most)
		if lo != tc.min || hi < tc.max-time.Nanosecond || hi >= tc.max {
			t.Errorf("attempt %d: backoff from %s to %s, want from %s to just under %s", tc.attempt, lo, hi, tc.min, tc.max)
		}
	}
}

func TestPacer(t *testing.T) {
	t.Parallel()
	p := newPacer(2)
	var waits []time.Duration
	for range 4 {
		waits = append(waits, p.reserve(t0))
	}
	if want := []time.Duration{0, 500 * time.Millisecond, time.Second, 1500 * time.Millisecond}; !slices.Equal(waits, want) {
		t.Errorf("four sends at once wait %v, want %v", waits, want)
	}
	// After an idle spell no burst is saved up.
	if w := p.reserve(t0.Add(time.Minute)); w != 0 {
		t.Errorf("after a minute idle: wait %s", w)
	}
	if w := p.reserve(t0.Add(time.Minute)); w != 500*time.Millisecond {
		t.Errorf("the send after: wait %s, want 500ms", w)
	}
	if w := newPacer(-1).reserve(t0); w != 0 {
		t.Errorf("no limit: wait %s", w)
	}
}

func TestBreaker(t *testing.T) {
	t.Parallel()
	b := breaker{threshold: 3, pause: time.Minute}
	for _, want := range []bool{false, false} {
		if b.failure(t0) != want {
			t.Fatal("paused before the third error")
		}
	}
	b.success()
	for _, want := range []bool{false, false, true} {
		if b.failure(t0) != want {
			t.Fatal("a success did not reset the count, or the third error did not pause")
		}
	}
	if got := b.pausedUntil(t0.Add(59 * time.Second)); !got.Equal(t0.Add(time.Minute)) {
		t.Errorf("during the pause: until %v", got)
	}
	if got := b.pausedUntil(t0.Add(time.Minute)); !got.IsZero() {
		t.Errorf("after the pause: until %v", got)
	}
	off := breaker{threshold: 0}
	for range 100 {
		if off.failure(t0) {
			t.Fatal("a breaker without threshold paused")
		}
	}
}

func TestWorkerPausesAfterConsecutiveErrors(t *testing.T) {
	t.Parallel()
	o, clk := newOutbox(t)
	srv := startSMTP(t)
	w := newWorker(t, o, clk, srv.sender(), WorkerConfig{PauseAfter: 2, PauseFor: 10 * time.Minute})
	for i := range 4 {
		mustEnqueue(t, o, notice(i))
	}
	srv.stop()
	w.runOnce(t, 0, 2) // two errors, then the pause: two are handed back untried
	if until := w.PausedUntil(); !until.Equal(t0.Add(10 * time.Minute)) {
		t.Fatalf("paused until %v", until)
	}
	ms, err := o.List(context.Background(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	attempts := map[int]int{}
	for _, m := range ms {
		if m.Status != StatusQueued {
			t.Errorf("message %d is %s, want queued", m.ID, m.Status)
		}
		attempts[m.Attempts]++
	}
	if attempts[1] != 2 || attempts[0] != 2 {
		t.Errorf("attempts per message %v, want two tried and two untouched", attempts)
	}

	srv.restart()
	clk.Advance(5 * time.Minute)
	w.runOnce(t, 0, 0) // still paused, though messages are due
	if n := len(srv.messages()); n != 0 {
		t.Fatalf("sent %d during the pause", n)
	}
	clk.Advance(5 * time.Minute)
	w.runOnce(t, 4, 0)
}

func TestWorkerHonoursRate(t *testing.T) {
	t.Parallel()
	o, clk := newOutbox(t)
	srv := startSMTP(t)
	w := newWorker(t, o, clk, srv.sender(), WorkerConfig{Rate: 4})
	for i := range 5 {
		mustEnqueue(t, o, notice(i))
	}
	w.runOnce(t, 5, 0)
	want := slices.Repeat([]time.Duration{250 * time.Millisecond}, 4)
	if !slices.Equal(w.sleeps, want) {
		t.Errorf("waits %v, want %v", w.sleeps, want)
	}
	if got := clk.Now().Sub(t0); got != time.Second {
		t.Errorf("5 messages at 4/s took %s, want 1s", got)
	}
}

func TestWorkerHandsBackWhatItCannotSendWithinTheLease(t *testing.T) {
	t.Parallel()
	o, clk := newOutbox(t)
	srv := startSMTP(t)
	// One send every 20 s, and a send must start in the first half of a
	// one-minute lease: two of the three claimed make it.
	w := newWorker(t, o, clk, srv.sender(), WorkerConfig{Rate: 0.05, Lease: time.Minute})
	for i := range 3 {
		mustEnqueue(t, o, notice(i))
	}
	w.runOnce(t, 2, 0)
	c, err := o.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c[StatusSent] != 2 || c[StatusQueued] != 1 {
		t.Errorf("counts %v, want 2 sent and 1 queued", c)
	}
	ms, _ := o.List(context.Background(), Filter{Status: StatusQueued})
	if len(ms) != 1 || ms[0].Attempts != 0 {
		t.Errorf("the message handed back: %+v", ms)
	}
}

func TestWorkersNeverSendTheSameMessage(t *testing.T) {
	t.Parallel()
	o, clk := newOutbox(t)
	srv := startSMTP(t)
	const n = 24
	for i := range n {
		mustEnqueue(t, o, notice(i))
	}
	var wg sync.WaitGroup
	for range 2 {
		w := newWorker(t, o, clk, srv.sender(), WorkerConfig{BatchSize: 3})
		wg.Go(func() {
			for {
				sent, failed, err := w.RunOnce(context.Background())
				if err != nil {
					t.Errorf("RunOnce: %v", err)
					return
				}
				if sent+failed == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	seen := map[string]int{}
	for _, r := range srv.messages() {
		seen[parseMail(t, r.Data).MessageID]++
	}
	if len(seen) != n {
		t.Errorf("%d distinct messages arrived, want %d", len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("%s arrived %d times", id, k)
		}
	}
}

func TestWorkerRunDeliversAndStops(t *testing.T) {
	t.Parallel()
	o, _ := newOutbox(t)
	srv := startSMTP(t)
	w, err := NewWorker(o, srv.sender(), WorkerConfig{PollInterval: 10 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	mustEnqueue(t, o, notice(1)) // enqueued while the worker polls
	deadline := time.Now().Add(5 * time.Second)
	for len(srv.messages()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if n := len(srv.messages()); n != 1 {
		t.Errorf("server received %d messages, want 1", n)
	}
}

func TestWorkerConfigRejectsNonsense(t *testing.T) {
	t.Parallel()
	o, _ := newOutbox(t)
	for _, cfg := range []WorkerConfig{
		{BatchSize: -1},
		{MaxAttempts: -3},
		{Lease: -time.Second},
		{BackoffBase: time.Hour, BackoffMax: time.Minute},
	} {
		if _, err := NewWorker(o, nil, cfg, nil); err == nil {
			t.Errorf("NewWorker(%+v) accepted", cfg)
		}
	}
}
