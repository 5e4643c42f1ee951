package check

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"jifen/internal/agencysim"
	"jifen/internal/audit"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/crypto"
	"jifen/internal/platform/db"
)

const childEnv = "JIFEN_CHECK_WORKER_DSN"

// TestMain lets the test binary play a separate worker process: with
// JIFEN_CHECK_WORKER_DSN set it works the queue of that database until it
// is killed.
func TestMain(m *testing.M) {
	if dsn := os.Getenv(childEnv); dsn != "" {
		os.Exit(childWorker(dsn))
	}
	os.Exit(m.Run())
}

func childWorker(dsn string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	d, err := db.Open(ctx, dsn)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	keys, _ := crypto.NewKeyring(make([]byte, 32))
	conn := NewConnectors(d, func(context.Context, string) ([]byte, error) { return agencyKey, nil })
	eng := New(d, keys, conn, clock.System{}, audit.New(d, clock.System{}), slog.New(slog.NewTextHandler(io.Discard, nil)), testOwners(d))
	eng.BatchSize, eng.Workers, eng.Idle, eng.Lease = 50, 4, 10*time.Millisecond, 3*time.Second
	eng.Work(ctx)
	return 0
}

func TestWorkerKilledMidRunCompletesOnce(t *testing.T) {
	e := newEnv(t, 600)
	e.setFaults("*", agencysim.Faults{LatencyMS: 30, JitterMS: 30})
	r, err := e.eng.StartRun(e.ctx, officer, RunInput{RoundID: e.roundID})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+e.dsn)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill the worker with SIGKILL once some batches are scored and others
	// are under way.
	deadline := time.Now().Add(60 * time.Second)
	for e.count(`SELECT COUNT(*) FROM check_batches WHERE run_id = $1 AND scored`, r.ID) < 2 {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatal("the worker process scored nothing in 60 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	scored := e.count(`SELECT COUNT(*) FROM check_batches WHERE run_id = $1 AND scored`, r.ID)
	if scored == r.Batches {
		t.Fatalf("the run finished before the kill (%d batches); nothing was tested", scored)
	}
	running := e.count(`SELECT COUNT(*) FROM check_jobs WHERE run_id = $1 AND state = 'running'`, r.ID)
	t.Logf("killed with %d of %d batches scored and %d jobs leased", scored, r.Batches, running)
	// A new worker takes over, including the dead one's leased jobs once
	// their leases run out.
	e.setFaults("*", agencysim.Faults{})
	r = e.work(e.newEngine(), r.ID, 60*time.Second, "applied")
	if r.Status != "applied" {
		t.Fatalf("run %s after restart", r.Status)
	}
	assertCheckedOnce(e, r)
}
