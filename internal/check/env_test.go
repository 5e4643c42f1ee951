package check

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"jifen/internal/actor"
	"jifen/internal/agency"
	"jifen/internal/agencysim"
	"jifen/internal/application"
	"jifen/internal/audit"
	"jifen/internal/discrepancy"
	"jifen/internal/employer"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/crypto"
	"jifen/internal/platform/db"
	"jifen/internal/platform/db/dbtest"
	"jifen/internal/platform/jobs"
	"jifen/internal/platform/mail"
	"jifen/internal/synth"
)

var agencyKey = []byte("test-agency-key-0123456789abcdef")

type env struct {
	t       testing.TB
	ctx     context.Context
	dsn     string
	db      *db.DB
	keys    *crypto.Keyring
	sim     *agencysim.Server
	srv     *httptest.Server
	eng     *Engine
	roundID int64
	key     []byte
}

// newEnv is a database with a round of synthetic applicants, the agencies
// played by agencysim over HTTP, connectors to it, and an engine tuned for
// quick tests.
func newEnv(t testing.TB, people int) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), key: agencyKey}
	e.dsn = dbtest.DSN(t)
	e.db = dbtest.OpenDSN(t, e.dsn)
	var err error
	if e.keys, err = crypto.NewKeyring(make([]byte, 32)); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := e.db.QueryRow(e.ctx, `INSERT INTO rounds (year, rulebook, quota, title, created_at, updated_at, created_by)
		VALUES (2027, '2020', 6000, '2027年度', $1, $1, 0) RETURNING id`, db.Micros(now)).Scan(&e.roundID); err != nil {
		t.Fatal(err)
	}
	if people > 0 {
		if _, err := synth.New(e.db, e.keys, synth.Config{People: people, Employers: people/10 + 1, Seed: 7, Discrepancy: 0.2,
			RoundID: e.roundID, Year: 2027, PasswordHash: "not-a-login", Now: now}).Run(e.ctx); err != nil {
			t.Fatal(err)
		}
	}
	e.sim = agencysim.New(e.db, agencyKey, "admin", slog.New(slog.NewTextHandler(io.Discard, nil)))
	e.srv = httptest.NewServer(e.sim.Handler())
	t.Cleanup(e.srv.Close)
	for _, a := range agency.Codes() {
		if _, err := e.db.Exec(e.ctx, `INSERT INTO agency_connectors (agency, base_url, rate_per_sec, timeout_ms, retries, batch_size)
			VALUES ($1, $2, 500, 2000, 2, 500)`, a, e.srv.URL); err != nil {
			t.Fatal(err)
		}
	}
	e.eng = e.newEngine()
	return e
}

// newEngine is one more worker process's engine on the same database.
func (e *env) newEngine() *Engine {
	conn := NewConnectors(e.db, func(context.Context, string) ([]byte, error) { return e.key, nil })
	conn.BreakerTimeout, conn.ProbeWait, conn.MaxBackoff = 300*time.Millisecond, 50*time.Millisecond, 20*time.Millisecond
	eng := New(e.db, e.keys, conn, clock.System{}, audit.New(e.db, clock.System{}), slog.New(slog.NewTextHandler(io.Discard, nil)),
		testOwners(e.db), testJobs(e.db))
	eng.BatchSize = 50
	eng.SetWorkers(4)
	eng.WaitBase, eng.WaitMax, eng.StopGrace = 30*time.Millisecond, 200*time.Millisecond, 5*time.Second
	return eng
}

// work runs the engine until the run reaches one of the states or the
// timeout passes, and returns the run.
func (e *env) work(eng *Engine, runID int64, timeout time.Duration, states ...string) *Run {
	e.t.Helper()
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan struct{})
	go func() { eng.Work(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(timeout)
	for {
		r, err := eng.GetRun(e.ctx, runID)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, s := range states {
			if r.Status == s {
				return r
			}
		}
		if time.Now().After(deadline) {
			return r
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// workUntil runs the engine until cond holds, failing the test after the
// timeout.
func (e *env) workUntil(eng *Engine, timeout time.Duration, cond func() bool) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan struct{})
	go func() { eng.Work(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor(e, timeout, cond)
}

// waitFor polls cond until it holds, failing the test after the timeout.
func waitFor(e *env, timeout time.Duration, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("condition not reached within %s", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) setFaults(agency string, f agencysim.Faults) {
	e.t.Helper()
	if err := e.sim.SetFaults(agency, f); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.db.QueryRow(e.ctx, q, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return n
}

var officer = actor.Actor{UserID: 1, Login: "city", Roles: []actor.Role{actor.CityOfficer}}

func contextWithCancel(e *env) (context.Context, context.CancelFunc) {
	return context.WithCancel(e.ctx)
}

func sleepMS(n int) { time.Sleep(time.Duration(n) * time.Millisecond) }

// testJobs is a worker process's job client for tests: it looks for work
// every 20 ms.
func testJobs(d *db.DB) *jobs.Jobs {
	j := jobs.New(d, nil)
	j.PollInterval = 100 * time.Millisecond
	return j
}

// testOwners are the services that own the applications, discrepancies and
// employers the engine changes, on the engine's database, with the mail
// outbox the applicants' results are queued in.
func testOwners(d *db.DB) Owners {
	c := clock.System{}
	log := audit.New(d, c)
	out := mail.NewOutbox(d, c)
	apps := application.NewService(d, log, c, out, openWindows{})
	return Owners{Applications: apps, Discrepancies: discrepancy.NewService(d, log, c, out, apps),
		Employers: employer.NewService(d, log, c, nil)}
}

// openWindows holds every window of every round open: the tests that save a
// draft (the pre-check's "take the agency's value") are not about windows.
type openWindows struct{}

func (openWindows) RequireOpen(context.Context, int64, string) error { return nil }
