package mail

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"jifen/internal/platform/clock"
)

// testWorker is a worker on a fake clock whose waits move the clock
// instead of sleeping, and whose jitter is half the largest it can be.
type testWorker struct {
	*Worker
	clk *clock.Fake

	mu     sync.Mutex
	sleeps []time.Duration
}

func newWorker(t *testing.T, o *Outbox, clk *clock.Fake, s Sender, cfg WorkerConfig) *testWorker {
	t.Helper()
	if cfg.Rate == 0 {
		cfg.Rate = -1
	}
	w, err := NewWorker(o, s, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	tw := &testWorker{Worker: w, clk: clk}
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

func (w *testWorker) runOnce(t *testing.T, wantSent, wantFailed int) {
	t.Helper()
	sent, failed, err := w.RunOnce(context.Background())
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	if sent != wantSent || failed != wantFailed {
		t.Fatalf("RunOnce: sent %d failed %d, want %d and %d", sent, failed, wantSent, wantFailed)
	}
}

func TestWorkerSendsThroughSMTP(t *testing.T) {
	t.Parallel()
	o, clk := newOutbox(t)
	srv := startSMTP(t)
	w := newWorker(t, o, clk, srv.sender(), WorkerConfig{})
	ids := []int64{mustEnqueue(t, o, notice(1)), mustEnqueue(t, o, notice(2)), mustEnqueue(t, o, notice(3))}

	w.runOnce(t, 3, 0)
	w.runOnce(t, 0, 0)

	got := srv.messages()
	if len(got) != 3 {
		t.Fatalf("server received %d messages, want 3", len(got))
	}
	for i, id := range ids {
		p := parseMail(t, got[i].Data)
		m := mustGet(t, o, id)
		if p.To.Address != m.To || p.Subject != m.Subject || p.MessageID != "<"+srv.sender().MessageID(m)+">" {
			t.Errorf("message %d arrived as to %s, subject %q, id %s", id, p.To.Address, p.Subject, p.MessageID)
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

			w.runOnce(t, 0, 1)
			m := mustGet(t, o, id)
			// Backoff 1 min less half the largest jitter (a fifth): 54 s.
			if m.Status != StatusQueued || m.Attempts != 1 || !strings.Contains(m.LastError, tc.errText) ||
				!m.NextAttemptAt.Equal(t0.Add(54*time.Second)) {
				t.Fatalf("after the first failure: %+v", m)
			}
			clk.Advance(53 * time.Second)
			w.runOnce(t, 0, 0) // not due yet
			clk.Advance(time.Second)
			if tc.errText == "451" {
				w.runOnce(t, 0, 1) // the server fails once more
				if m := mustGet(t, o, id); m.Attempts != 2 || !m.NextAttemptAt.Equal(clk.Now().Add(108*time.Second)) {
					t.Fatalf("the second backoff doubles: %+v", m)
				}
				clk.Advance(107 * time.Second)
				w.runOnce(t, 0, 0)
				clk.Advance(time.Second)
			}
			tc.recover(srv)
			w.runOnce(t, 1, 0)
			w.runOnce(t, 0, 0)
			clk.Advance(24 * time.Hour)
			w.runOnce(t, 0, 0)

			if n := len(srv.messages()); n != 1 {
				t.Fatalf("server received %d messages, want exactly 1", n)
			}
			if m := mustGet(t, o, id); m.Status != StatusSent || m.LastError != "" {
				t.Errorf("after recovery: %+v", m)
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
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("transaction: %v", err)
	}
	w.runOnce(t, 0, 0)
	if n := len(srv.messages()); n != 0 {
		t.Errorf("server received %d messages, want 0", n)
	}
	if ms, _ := o.List(context.Background(), Filter{}); len(ms) != 0 {
		t.Errorf("outbox holds %d messages after a rollback", len(ms))
	}
}

func TestWorkerWithoutServerLeavesMailQueued(t *testing.T) {
	t.Parallel()
	o, clk := newOutbox(t)
	var unset *SMTPSender // what a caller holds when no server is configured
	w := newWorker(t, o, clk, unset, WorkerConfig{})
	id := mustEnqueue(t, o, notice(1))
	w.runOnce(t, 0, 0)
	if m := mustGet(t, o, id); m.Status != StatusQueued || m.Attempts != 0 {
		t.Errorf("without a server: %+v", m)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop on cancel")
	}
}

func TestWorkerRecoversFromCrash(t *testing.T) {
	t.Parallel()
	o, clk := newOutbox(t)
	srv := startSMTP(t)
	snd := srv.sender()
	w := newWorker(t, o, clk, snd, WorkerConfig{Lease: 5 * time.Minute})
	id := mustEnqueue(t, o, notice(1))

	// A worker claims the message, gets it through the server, and dies
	// before it records the delivery.
	claimed, _, err := o.claim(context.Background(), clk.Now(), 5*time.Minute, 10, 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v, %d messages", err, len(claimed))
	}
	if err := snd.Send(context.Background(), claimed[0]); err != nil {
		t.Fatal(err)
	}

	clk.Advance(4 * time.Minute)
	w.runOnce(t, 0, 0) // the lease still holds: nobody else sends it
	if m := mustGet(t, o, id); m.Status != StatusSending {
		t.Fatalf("under a live lease: %+v", m)
	}
	clk.Advance(time.Minute)
	w.runOnce(t, 1, 0) // the lease has run out: sent again
	m := mustGet(t, o, id)
	if m.Status != StatusSent || m.Attempts != 2 {
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
	w := newWorker(t, o, clk, srv.sender(), WorkerConfig{MaxAttempts: 1, Lease: time.Minute})
	id := mustEnqueue(t, o, notice(1))
	if _, _, err := o.claim(context.Background(), clk.Now(), time.Minute, 1, 10); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Minute)
	w.runOnce(t, 0, 0)
	if m := mustGet(t, o, id); m.Status != StatusFailed || !strings.Contains(m.LastError, "中断") {
		t.Errorf("an interrupted last attempt: %+v", m)
	}
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
	for range 3 {
		w.runOnce(t, 0, 1)
		clk.Advance(7 * time.Hour)
	}
	w.runOnce(t, 0, 0)
	m := mustGet(t, o, id)
	if m.Status != StatusFailed || m.Attempts != 3 || !strings.Contains(m.LastError, "451") {
		t.Fatalf("after 3 failed attempts: %+v", m)
	}

	srv.set(func(s *testServer) { s.failData = 0 })
	if err := o.Retry(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	w.runOnce(t, 1, 0)
	if m := mustGet(t, o, id); m.Status != StatusSent || m.Attempts != 1 {
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
	// Pausing after a single error would stop the batch if a rejection
	// counted as a server error.
	w := newWorker(t, o, clk, srv.sender(), WorkerConfig{PauseAfter: 1})
	bad := mustEnqueue(t, o, notice(1))
	mustEnqueue(t, o, notice(2))
	w.runOnce(t, 1, 1)
	if m := mustGet(t, o, bad); m.Status != StatusFailed || m.Attempts != 1 || !strings.Contains(m.LastError, "550") {
		t.Errorf("rejected recipient: %+v", m)
	}
	if !w.PausedUntil().IsZero() {
		t.Error("a rejected recipient paused the worker")
	}
}
