package mail

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"jifen/internal/platform/clock"
	"jifen/internal/platform/jobs"
)

// testWorker is delivery on a River client of its own over the outbox's
// database. Its waits for a send slot move the fake clock instead of
// sleeping, and its jitter is half the largest it can be. River runs a
// failed job again after the real backoff, so tests that go on after a
// failure move the job forward with retryNow.
type testWorker struct {
	*Worker
	j   *jobs.Jobs
	clk *clock.Fake

	mu     sync.Mutex
	sleeps []time.Duration
}

func newWorker(t *testing.T, o *Outbox, clk *clock.Fake, s Sender, cfg WorkerConfig) *testWorker {
	t.Helper()
	if cfg.Rate == 0 {
		cfg.Rate = -1
	}
	j := jobs.New(o.db, nil)
	j.PollInterval = 20 * time.Millisecond
	w, err := NewWorker(o, j, s, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	tw := &testWorker{Worker: w, j: j, clk: clk}
	w.random = func() float64 { return 0.5 }
	w.sleep = func(ctx context.Context, d time.Duration) error {
		if d > 0 {
			tw.mu.Lock()
			tw.sleeps = append(tw.sleeps, d)
			tw.mu.Unlock()
			clk.Advance(d)
		}
		return ctx.Err()
	}
	return tw
}

// start works the mail queue until the test ends.
func (w *testWorker) start(t *testing.T) {
	t.Helper()
	if err := w.j.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := w.j.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
}

// sendJobs returns the delivery jobs, in the given states (all if none).
func (w *testWorker) sendJobs(t *testing.T, states ...rivertype.JobState) []*rivertype.JobRow {
	t.Helper()
	c, err := w.j.Client()
	if err != nil {
		t.Fatal(err)
	}
	p := river.NewJobListParams().Kinds(SendArgs{}.Kind()).First(1000)
	if len(states) > 0 {
		p = p.States(states...)
	}
	res, err := c.JobList(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return res.Jobs
}

// retryNow runs the delivery jobs that wait for their backoff at once.
func (w *testWorker) retryNow(t *testing.T) {
	t.Helper()
	c, _ := w.j.Client()
	for _, job := range w.sendJobs(t, rivertype.JobStateRetryable, rivertype.JobStateScheduled) {
		if _, err := c.JobRetry(context.Background(), job.ID); err != nil {
			t.Fatal(err)
		}
	}
}

// await waits until cond holds; it fails the test after a minute, which a
// loaded machine needs and a correct run never comes near.
func await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// awaitRow waits until message id satisfies cond and returns it.
func awaitRow(t *testing.T, o *Outbox, id int64, what string, cond func(Message) bool) Message {
	t.Helper()
	var m Message
	await(t, what, func() bool { m = mustGet(t, o, id); return cond(m) })
	return m
}

func TestWorkerSendsThroughSMTP(t *testing.T) {
	t.Parallel()
	o, clk := newOutbox(t)
	srv := startSMTP(t)
	w := newWorker(t, o, clk, srv.sender(), WorkerConfig{})
	ids := []int64{mustEnqueue(t, o, notice(1)), mustEnqueue(t, o, notice(2)), mustEnqueue(t, o, notice(3))}
	if n := len(w.sendJobs(t)); n != 3 {
		t.Fatalf("%d delivery jobs for 3 messages", n)
	}
	w.start(t)
	await(t, "3 jobs completed", func() bool { return len(w.sendJobs(t, rivertype.JobStateCompleted)) == 3 })

	got := srv.messages()
	if len(got) != 3 {
		t.Fatalf("server received %d messages, want 3", len(got))
	}
	byTo := map[string]string{}
	for _, r := range got {
		p := parseMail(t, r.Data)
		byTo[p.To.Address] = p.MessageID
	}
	for _, id := range ids {
		m := mustGet(t, o, id)
		if byTo[m.To] != "<"+srv.sender().MessageID(m)+">" {
			t.Errorf("message %d arrived with Message-ID %q", id, byTo[m.To])
		}
		if m.Status != StatusSent || m.Attempts != 1 || !m.SentAt.Equal(t0) || !m.LockedUntil.IsZero() {
			t.Errorf("message %d after sending: %+v", id, m)
		}
	}
}

func TestWorkerRetriesUntilServerRecovers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		break_  func(s *testServer)
		recover func(s *testServer)
		errText string
	}{
		{"451 on DATA", func(s *testServer) { s.set(func(s *testServer) { s.failData = 2 }) }, func(*testServer) {}, "451"},
		{"connection refused", (*testServer).stop, (*testServer).restart, "refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, clk := newOutbox(t)
			srv := startSMTP(t)
			w := newWorker(t, o, clk, srv.sender(), WorkerConfig{})
			id := mustEnqueue(t, o, notice(1))
			tc.break_(srv)
			w.start(t)

			// Backoff 1 min less half the largest jitter (a fifth): 54 s.
			m := awaitRow(t, o, id, "the first failure", func(m Message) bool { return m.Attempts == 1 && m.Status == StatusQueued })
			if !strings.Contains(m.LastError, tc.errText) || !m.NextAttemptAt.Equal(t0.Add(54*time.Second)) {
				t.Fatalf("after the first failure: %+v", m)
			}
			await(t, "the job waiting for its retry", func() bool { return len(w.sendJobs(t, rivertype.JobStateRetryable)) == 1 })
			if tc.errText == "451" {
				w.retryNow(t) // the server fails once more
				m := awaitRow(t, o, id, "the second failure", func(m Message) bool { return m.Attempts == 2 && m.Status == StatusQueued })
				if !m.NextAttemptAt.Equal(t0.Add(108 * time.Second)) {
					t.Fatalf("the second backoff doubles: %+v", m)
				}
				await(t, "the job waiting for its retry", func() bool { return len(w.sendJobs(t, rivertype.JobStateRetryable)) == 1 })
			}
			tc.recover(srv)
			w.retryNow(t)
			m = awaitRow(t, o, id, "delivery", func(m Message) bool { return m.Status == StatusSent })
			if m.LastError != "" {
				t.Errorf("after recovery: %+v", m)
			}
			await(t, "the job completed", func() bool { return len(w.sendJobs(t, rivertype.JobStateCompleted)) == 1 })
			if n := len(srv.messages()); n != 1 {
				t.Fatalf("server received %d messages, want exactly 1", n)
			}
		})
	}
}

func TestWorkerRolledBackEnqueueSendsNothing(t *testing.T) {
	t.Parallel()
	o, clk := newOutbox(t)
	srv := startSMTP(t)
	w := newWorker(t, o, clk, srv.sender(), WorkerConfig{})
	boom := errors.New("the state change failed")
	err := o.db.WithTx(context.Background(), func(ctx context.Context) error {
		if _, err := o.Enqueue(ctx, notice(1)); err != nil {
			return err
		}
		if _, err := o.EnqueueMany(ctx, []Message{notice(2), notice(3)}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("transaction: %v", err)
	}
	if n := len(w.sendJobs(t)); n != 0 {
		t.Errorf("%d delivery jobs after a rollback", n)
	}
	if ms, _ := o.List(context.Background(), Filter{}); len(ms) != 0 {
		t.Errorf("outbox holds %d messages after a rollback", len(ms))
	}
	if n := len(srv.messages()); n != 0 {
		t.Errorf("server received %d messages, want 0", n)
	}
}

func TestWorkerWithoutServerLeavesMailQueued(t *testing.T) {
	t.Parallel()
	o, clk := newOutbox(t)
	var unset *SMTPSender // what a caller holds when no server is configured
	w := newWorker(t, o, clk, unset, WorkerConfig{})
	id := mustEnqueue(t, o, notice(1))
	if m := mustGet(t, o, id); m.Status != StatusQueued || m.Attempts != 0 {
		t.Errorf("without a server: %+v", m)
	}
	// The job waits in the mail queue, which no process works, and shows
	// in the office's queue depth.
	depth, err := w.j.Depth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(depth) != 1 || depth[0].Kind != "mail_send" || depth[0].Waiting != 1 {
		t.Errorf("queue depth without a server: %+v", depth)
	}
}

func TestWorkerRecoversFromCrash(t *testing.T) {
	t.Parallel()
	o, clk := newOutbox(t)
	srv := startSMTP(t)
	snd := srv.sender()
	w := newWorker(t, o, clk, snd, WorkerConfig{})
	id := mustEnqueue(t, o, notice(1))

	// A worker starts the message, gets it through the server, and dies
	// before it records the delivery; River rescues its job, which runs
	// again.
	m, err := o.markSending(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if err := snd.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	w.start(t)
	m = awaitRow(t, o, id, "the resend", func(m Message) bool { return m.Status == StatusSent })
	if m.Attempts != 2 {
		t.Errorf("after recovery: %+v", m)
	}
	got := srv.messages()
	if len(got) != 2 {
		t.Fatalf("server received %d messages, want 2 (at least once)", len(got))
	}
	a, b := parseMail(t, got[0].Data), parseMail(t, got[1].Data)
	if a.MessageID != b.MessageID || a.MessageID == "" {
		t.Errorf("the resend is not recognisable: Message-IDs %q and %q", a.MessageID, b.MessageID)
	}
}

func TestWorkerAbandonsInterruptedLastAttempt(t *testing.T) {
	t.Parallel()
	o, clk := newOutbox(t)
	srv := startSMTP(t)
	w := newWorker(t, o, clk, srv.sender(), WorkerConfig{MaxAttempts: 1})
	id := mustEnqueue(t, o, notice(1))
	if _, err := o.markSending(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	w.start(t)
	m := awaitRow(t, o, id, "the message given up", func(m Message) bool { return m.Status != StatusSending })
	if m.Status != StatusFailed || !strings.Contains(m.LastError, "中断") {
		t.Errorf("an interrupted last attempt: %+v", m)
	}
	await(t, "the job cancelled", func() bool { return len(w.sendJobs(t, rivertype.JobStateCancelled)) == 1 })
	if n := len(srv.messages()); n != 0 {
		t.Errorf("server received %d messages, want 0", n)
	}
}

func TestWorkerGivesUpThenOperatorRetries(t *testing.T) {
	t.Parallel()
	o, clk := newOutbox(t)
	srv := startSMTP(t)
	srv.set(func(s *testServer) { s.failData = 1000 })
	w := newWorker(t, o, clk, srv.sender(), WorkerConfig{MaxAttempts: 3})
	id := mustEnqueue(t, o, notice(1))
	w.start(t)
	for i := 1; i < 3; i++ {
		awaitRow(t, o, id, "a failed attempt", func(m Message) bool { return m.Attempts == i && m.Status == StatusQueued })
		await(t, "the job waiting for its retry", func() bool { return len(w.sendJobs(t, rivertype.JobStateRetryable)) == 1 })
		w.retryNow(t)
	}
	m := awaitRow(t, o, id, "the message given up", func(m Message) bool { return m.Status == StatusFailed })
	if m.Attempts != 3 || !strings.Contains(m.LastError, "451") {
		t.Fatalf("after 3 failed attempts: %+v", m)
	}
	await(t, "the job cancelled", func() bool { return len(w.sendJobs(t, rivertype.JobStateCancelled)) == 1 })

	srv.set(func(s *testServer) { s.failData = 0 })
	if err := o.Retry(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	m = awaitRow(t, o, id, "the operator's retry", func(m Message) bool { return m.Status == StatusSent })
	if m.Attempts != 1 {
		t.Errorf("after the operator's retry: %+v", m)
	}
	if n := len(srv.messages()); n != 1 {
		t.Errorf("server received %d messages, want 1", n)
	}
}

func TestWorkerRejectedRecipientFailsAtOnce(t *testing.T) {
	t.Parallel()
	o, clk := newOutbox(t)
	srv := startSMTP(t)
	srv.set(func(s *testServer) { s.rejectRcpt["applicant1@example.cn"] = true })
	// Pausing after a single error would hold the other message back if a
	// rejection counted as a server error.
	w := newWorker(t, o, clk, srv.sender(), WorkerConfig{PauseAfter: 1, Workers: 1})
	bad := mustEnqueue(t, o, notice(1))
	good := mustEnqueue(t, o, notice(2))
	w.start(t)
	m := awaitRow(t, o, bad, "the rejection", func(m Message) bool { return m.Status == StatusFailed })
	if m.Attempts != 1 || !strings.Contains(m.LastError, "550") {
		t.Errorf("rejected recipient: %+v", m)
	}
	awaitRow(t, o, good, "the other message", func(m Message) bool { return m.Status == StatusSent })
	await(t, "the rejected message's job cancelled", func() bool { return len(w.sendJobs(t, rivertype.JobStateCancelled)) == 1 })
	if !w.PausedUntil().IsZero() {
		t.Error("a rejected recipient paused sending")
	}
}

// TestSweepGivesQueuedMailJobs is the upgrade: messages queued (or left
// sending by a worker of the old lease queue) before delivery ran on River
// have no job; the sweep that runs when the worker starts gives them one,
// and a message that has a job keeps just that one.
func TestSweepGivesQueuedMailJobs(t *testing.T) {
	t.Parallel()
	o, clk := newOutbox(t)
	srv := startSMTP(t)
	old := []int64{mustEnqueue(t, o, notice(1)), mustEnqueue(t, o, notice(2))}
	if _, err := o.markSending(context.Background(), old[1]); err != nil {
		t.Fatal(err)
	}
	w := newWorker(t, o, clk, srv.sender(), WorkerConfig{})
	fresh := mustEnqueue(t, o, notice(3))
	w.sweep.page = 1 // a page a message: the sweep goes through every page
	w.start(t)
	for _, id := range append(old, fresh) {
		awaitRow(t, o, id, "delivery", func(m Message) bool { return m.Status == StatusSent })
	}
	if n := len(srv.messages()); n != 3 {
		t.Errorf("server received %d messages, want 3", n)
	}
	if n := len(w.sendJobs(t)); n != 3 {
		t.Errorf("%d delivery jobs for 3 messages", n)
	}
}
