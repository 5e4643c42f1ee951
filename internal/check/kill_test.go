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

	"jifen/internal/agency"
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
	eng := New(d, keys, conn, clock.System{}, audit.New(d, clock.System{}), slog.New(slog.NewTextHandler(io.Discard, nil)),
		testOwners(d), testJobs(d))
	eng.BatchSize = 50
	eng.SetWorkers(1)
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
	running := e.count(`SELECT COUNT(*) FROM river_job WHERE kind LIKE 'check_%' AND state = 'running'`)
	t.Logf("killed with %d of %d batches scored and %d jobs running", scored, r.Batches, running)
	// A new worker takes over, including the dead one's running jobs: once
	// the dead process's leadership has expired, River's rescuer finds them
	// running for longer than RescueAfter and retries them.
	e.setFaults("*", agencysim.Faults{})
	next := e.newEngine()
	next.jobs.JobTimeout, next.jobs.RescueAfter = 2*time.Second, 3*time.Second
	r = e.work(next, r.ID, 90*time.Second, "applied")
	if r.Status != "applied" {
		t.Fatalf("run %s after restart", r.Status)
	}
	assertCheckedOnce(e, r)
}

// A run whose jobs are gone (carried over from the old queue table, or
// given up on by River) gets them back from Resume at the next worker's
// start, once each however often Resume runs.
func TestResumeQueuesOpenWorkOnce(t *testing.T) {
	e := newEnv(t, 600)
	r, err := e.eng.StartRun(e.ctx, officer, RunInput{RoundID: e.roundID})
	if err != nil {
		t.Fatal(err)
	}
	queries := r.Batches * len(agency.PersonAgencies())
	// Half the queries answered before the jobs were lost, by a worker
	// slow enough that the rest is still open when it stops.
	e.setFaults("*", agencysim.Faults{LatencyMS: 30})
	slow := e.newEngine()
	slow.SetWorkers(1)
	e.workUntil(slow, 60*time.Second, func() bool {
		return e.count(`SELECT COUNT(*) FROM check_queries WHERE run_id = $1 AND answered_at <> 0`, r.ID) >= queries/2
	})
	if _, err := e.db.Exec(e.ctx, `DELETE FROM river_job WHERE kind LIKE 'check_%'`); err != nil {
		t.Fatal(err)
	}
	open := e.count(`SELECT COUNT(*) FROM check_queries WHERE run_id = $1 AND answered_at = 0`, r.ID)
	toScore := e.count(`SELECT COUNT(*) FROM check_batches WHERE run_id = $1 AND pending = 0 AND NOT scored`, r.ID)
	if open == 0 {
		t.Fatal("the run finished before its jobs were lost; nothing was tested")
	}
	e.setFaults("*", agencysim.Faults{})
	for range 2 {
		if err := e.eng.Resume(e.ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.count(`SELECT COUNT(*) FROM river_job WHERE kind = 'check_query'`); n != open {
		t.Errorf("%d query jobs after two resumes, want one per open query (%d)", n, open)
	}
	if n := e.count(`SELECT COUNT(*) FROM river_job WHERE kind = 'check_score'`); n != toScore {
		t.Errorf("%d score jobs after two resumes, want %d", n, toScore)
	}
	if r = e.work(e.eng, r.ID, 60*time.Second, "applied"); r.Status != "applied" {
		logOpenJobs(e, r.ID)
		t.Fatalf("run %s after resuming", r.Status)
	}
	assertCheckedOnce(e, r)
}
