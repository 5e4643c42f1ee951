package mail

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/riverqueue/river/rivertype"
	"github.com/sony/gobreaker/v2"

	"jifen/internal/platform/jobs"
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
	w := newWorker(t, o, clk, srv.sender(), WorkerConfig{PauseAfter: 2, PauseFor: 10 * time.Minute, Workers: 1})
	for i := range 4 {
		mustEnqueue(t, o, notice(i))
	}
	srv.stop()
	w.start(t)
	// Two errors, then the pause: the other two jobs are snoozed untried.
	await(t, "two failures and two snoozes", func() bool {
		snoozed := 0
		for _, j := range w.sendJobs(t, rivertype.JobStateScheduled) {
			if strings.Contains(string(j.Metadata), "snoozes") {
				snoozed++
			}
		}
		return snoozed == 2 && len(w.sendJobs(t, rivertype.JobStateRetryable)) == 2
	})
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
	// A snoozed job has spent no attempt of River's either.
	for _, j := range w.sendJobs(t, rivertype.JobStateScheduled) {
		if j.Attempt != 0 {
			t.Errorf("snoozed job %d is at attempt %d", j.ID, j.Attempt)
		}
	}

	srv.restart()
	clk.Advance(5 * time.Minute)
	w.retryNow(t) // due again, but still paused
	await(t, "the jobs snoozed again", func() bool {
		return len(w.sendJobs(t, rivertype.JobStateScheduled)) == 4
	})
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
	w := newWorker(t, o, clk, srv.sender(), WorkerConfig{PauseAfter: 1, PauseFor: time.Millisecond, Workers: 1})
	first := mustEnqueue(t, o, notice(1))
	srv.stop()
	w.start(t)
	awaitRow(t, o, first, "the failure", func(m Message) bool { return m.Attempts == 1 && m.Status == StatusQueued })
	w.Worker.mu.Lock()
	pausedAt := w.pausedAt
	w.Worker.mu.Unlock()
	if pausedAt.IsZero() { // not PausedUntil: the millisecond may be over already
		t.Fatal("no pause began after the error")
	}
	srv.restart()
	second := mustEnqueue(t, o, notice(2))
	await(t, "the first job waiting for its retry", func() bool { return len(w.sendJobs(t, rivertype.JobStateRetryable)) == 1 })
	w.retryNow(t)
	for _, id := range []int64{first, second} {
		awaitRow(t, o, id, "delivery", func(m Message) bool { return m.Status == StatusSent })
	}
	if until := w.PausedUntil(); !until.IsZero() {
		t.Errorf("still paused until %v after sending", until)
	}
}

func TestWorkerHonoursRate(t *testing.T) {
	t.Parallel()
	o, clk := newOutbox(t)
	srv := startSMTP(t)
	w := newWorker(t, o, clk, srv.sender(), WorkerConfig{Rate: 4, Workers: 1})
	ids := make([]int64, 5)
	for i := range ids {
		ids[i] = mustEnqueue(t, o, notice(i))
	}
	w.start(t)
	for _, id := range ids {
		awaitRow(t, o, id, "delivery", func(m Message) bool { return m.Status == StatusSent })
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	want := slices.Repeat([]time.Duration{250 * time.Millisecond}, 4)
	if !slices.Equal(w.sleeps, want) {
		t.Errorf("waits %v, want %v", w.sleeps, want)
	}
	if got := clk.Now().Sub(t0); got != time.Second {
		t.Errorf("5 messages at 4/s took %s, want 1s", got)
	}
}

// TestWorkerSnoozesForALongRateWait: a send slot more than a moment away
// is waited for by snoozing the job, not by holding its worker, and the
// wait spends no attempt.
func TestWorkerSnoozesForALongRateWait(t *testing.T) {
	t.Parallel()
	o, clk := newOutbox(t)
	srv := startSMTP(t)
	// One send every 20 s: the first goes, the other two must wait.
	w := newWorker(t, o, clk, srv.sender(), WorkerConfig{Rate: 0.05, Workers: 1})
	for i := range 3 {
		mustEnqueue(t, o, notice(i))
	}
	w.start(t)
	await(t, "one sent and two snoozed", func() bool {
		return len(w.sendJobs(t, rivertype.JobStateCompleted)) == 1 && len(w.sendJobs(t, rivertype.JobStateScheduled)) == 2
	})
	c, err := o.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c[StatusSent] != 1 || c[StatusQueued] != 2 {
		t.Errorf("counts %v, want 1 sent and 2 queued", c)
	}
	ms, _ := o.List(context.Background(), Filter{Status: StatusQueued})
	for _, m := range ms {
		if m.Attempts != 0 {
			t.Errorf("a message waiting for its slot: %+v", m)
		}
	}
}

func TestWorkersNeverSendTheSameMessage(t *testing.T) {
	t.Parallel()
	o, clk := newOutbox(t)
	srv := startSMTP(t)
	// Two worker processes: each its own outbox and River client on the
	// one database.
	a := newWorker(t, o, clk, srv.sender(), WorkerConfig{Workers: 3})
	b := newWorker(t, NewOutbox(o.db, clk), clk, srv.sender(), WorkerConfig{Workers: 3})
	const n = 24
	for i := range n {
		mustEnqueue(t, o, notice(i))
	}
	a.start(t)
	b.start(t)
	await(t, "every message sent", func() bool {
		c, err := o.Counts(context.Background())
		return err == nil && c[StatusSent] == n
	})
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

func TestWorkerConfigRejectsNonsense(t *testing.T) {
	t.Parallel()
	o, _ := newOutbox(t)
	for _, cfg := range []WorkerConfig{
		{Workers: -1},
		{MaxAttempts: -3},
		{MaxAttempts: 100},
		{SweepEvery: -time.Second},
		{BackoffBase: time.Hour, BackoffMax: time.Minute},
	} {
		if _, err := NewWorker(o, jobs.New(o.db, nil), nil, cfg, nil); err == nil {
			t.Errorf("NewWorker(%+v) accepted", cfg)
		}
	}
}
