package mail

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sony/gobreaker/v2"
)

func TestBackoff(t *testing.T) {
	t.Parallel()
	w := &Worker{cfg: WorkerConfig{}.withDefaults()}
	for _, tc := range []struct {
		attempt int
		max     time.Duration // the whole wait; its last fifth is random
	}{
		{1, time.Minute},
		{2, 2 * time.Minute},
		{3, 4 * time.Minute},
		{9, 256 * time.Minute},
		{10, 6 * time.Hour},
		{60, 6 * time.Hour}, // no overflow, and 6 h is the longest wait
	} {
		w.random = func() float64 { return 0 }
		hi := w.backoff().Wait(tc.attempt)
		w.random = func() float64 { return 1 - 1e-12 }
		lo := w.backoff().Wait(tc.attempt)
		if min := tc.max * 4 / 5; hi != tc.max || lo < min || lo > min+time.Millisecond {
			t.Errorf("attempt %d: backoff from %s to %s, want from just over %s to %s", tc.attempt, lo, hi, min, tc.max)
		}
	}
}

func TestLimiter(t *testing.T) {
	t.Parallel()
	l := newLimiter(2)
	var waits []time.Duration
	for range 4 {
		waits = append(waits, delay(l, t0))
	}
	if want := []time.Duration{0, 500 * time.Millisecond, time.Second, 1500 * time.Millisecond}; !slices.Equal(waits, want) {
		t.Errorf("four sends at once wait %v, want %v", waits, want)
	}
	// After an idle spell no burst is saved up.
	if w := delay(l, t0.Add(time.Minute)); w != 0 {
		t.Errorf("after a minute idle: wait %s", w)
	}
	if w := delay(l, t0.Add(time.Minute)); w != 500*time.Millisecond {
		t.Errorf("the send after: wait %s, want 500ms", w)
	}
	nolimit := newLimiter(-1)
	for range 100 {
		if w := delay(nolimit, t0); w != 0 {
			t.Fatalf("no limit: wait %s", w)
		}
	}
}

// TestBreaker runs in a synctest bubble: gobreaker reads the wall clock,
// which the bubble moves when its goroutines sleep.
func TestBreaker(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		opened := 0
		b := newBreaker(3, time.Minute, func() { opened++ })
		send := func(err error) error {
			done, aerr := b.Allow()
			if aerr != nil {
				return aerr
			}
			done(err)
			return nil
		}
		fail := errors.New("451 try later")
		for range 2 {
			_ = send(fail)
		}
		// A success ends the run of errors; a permanent rejection (the server
		// answers) and our own shutdown count neither way.
		_ = send(nil)
		_ = send(Permanent(errors.New("550 no such user")))
		_ = send(errStopping)
		for range 2 {
			_ = send(fail)
		}
		if opened != 0 {
			t.Fatal("paused before the third consecutive error")
		}
		_ = send(fail)
		if opened != 1 {
			t.Fatal("the third consecutive error did not pause")
		}
		time.Sleep(59 * time.Second)
		if err := send(nil); !errors.Is(err, gobreaker.ErrOpenState) {
			t.Fatalf("during the pause: %v", err)
		}
		time.Sleep(2 * time.Second)
		if err := send(fail); err != nil { // one message goes through after the pause ...
			t.Fatalf("after the pause: %v", err)
		}
		if opened != 2 { // ... and its failure starts the pause again
			t.Fatalf("a failure after the pause did not pause again (%d pauses)", opened)
		}
		time.Sleep(61 * time.Second)
		for i := range 3 { // a success after the pause closes the breaker: sends go on
			if err := send(nil); err != nil {
				t.Fatalf("send %d after recovery: %v", i, err)
			}
		}

		off := newBreaker(0, time.Minute, func() { opened++ })
		for range 100 {
			done, err := off.Allow()
			if err != nil {
				t.Fatal(err)
			}
			done(fail)
		}
		if opened != 2 {
			t.Fatal("a breaker without threshold paused")
		}
	})
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
}

// TestWorkerResumesAfterThePause lets a real pause of a millisecond pass:
// the breaker (gobreaker) reads the wall clock, not the outbox's. How long
// a pause lasts is TestBreaker's part.
func TestWorkerResumesAfterThePause(t *testing.T) {
	t.Parallel()
	o, clk := newOutbox(t)
	srv := startSMTP(t)
	w := newWorker(t, o, clk, srv.sender(), WorkerConfig{PauseAfter: 1, PauseFor: time.Millisecond})
	mustEnqueue(t, o, notice(1))
	srv.stop()
	w.runOnce(t, 0, 1)
	if w.pausedAt.IsZero() { // not PausedUntil: the millisecond may be over already
		t.Fatal("no pause began after the error")
	}
	srv.restart()
	mustEnqueue(t, o, notice(2))
	clk.Advance(time.Hour) // the first message is due again
	time.Sleep(2 * time.Millisecond)
	w.runOnce(t, 2, 0)
	if until := w.PausedUntil(); !until.IsZero() {
		t.Errorf("still paused until %v after sending", until)
	}
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
