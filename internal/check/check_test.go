package check

import (
	"database/sql"
	"encoding/json"
	"testing"
	"time"

	"jifen/internal/actor"
	"jifen/internal/agency"
	"jifen/internal/agencysim"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
	"jifen/internal/rules"
)

// assertCheckedOnce asserts that every application of the run has exactly
// one verified score, took the step into the first-round result exactly
// once, and carries the run's score; and that an application without any
// discrepancy scores what it declared.
func assertCheckedOnce(e *env, r *Run) {
	t := e.t
	t.Helper()
	if n := e.count(`SELECT COUNT(*) FROM check_scores WHERE run_id = $1`, r.ID); int64(n) != r.Total {
		t.Errorf("check_scores %d, want %d", n, r.Total)
	}
	if n := e.count(`SELECT COUNT(*) FROM applications WHERE score_run = $1`, r.ID); int64(n) != r.Total {
		t.Errorf("applications with the run's score %d, want %d", n, r.Total)
	}
	if n := e.count(`SELECT COUNT(*) FROM (SELECT application_id FROM application_events WHERE to_status = 'first_result'
		AND actor_role = 'system' GROUP BY application_id HAVING COUNT(*) > 1) x`); n != 0 {
		t.Errorf("%d applications reached the first result more than once", n)
	}
	// Each applicant hears once, by mail, that the first result is out.
	if n := e.count(`SELECT COUNT(*) FROM mail_outbox WHERE category = 'application.status' AND subject LIKE '%初核结果已出%'`); n == 0 {
		t.Error("no mail told an applicant of the first result")
	}
	if n := e.count(`SELECT COUNT(*) FROM applications a JOIN persons p ON p.id = a.person_id JOIN users u ON u.id = p.user_id
		WHERE a.score_run = $1 AND u.email <> '' AND EXISTS (SELECT 1 FROM application_events v WHERE v.application_id = a.id
		AND v.to_status = 'first_result' AND v.actor_role = 'system') AND (SELECT COUNT(*) FROM mail_outbox m WHERE m.ref = 'application:' || a.id
		AND m.subject LIKE '%初核结果已出%') <> 1`, r.ID); n != 0 {
		t.Errorf("%d applicants were not mailed their first result exactly once", n)
	}
	if n := e.count(`SELECT COUNT(*) FROM (SELECT application_id FROM application_events WHERE to_status = 'checking'
		AND actor_role = 'system' GROUP BY application_id HAVING COUNT(*) > 1) x`); n != 0 {
		t.Errorf("%d applications entered the check more than once", n)
	}
	if n := e.count(`SELECT COUNT(*) FROM applications WHERE round_id = $1 AND status IN ('submitted', 'checking')`, r.RoundID); n != 0 {
		t.Errorf("%d applications still waiting", n)
	}
	if n := e.count(`SELECT COUNT(*) FROM check_queries WHERE run_id = $1 AND answered_at = 0`, r.ID); n != 0 {
		t.Errorf("%d queries not answered", n)
	}
	if n := e.count(`SELECT COUNT(*) FROM check_batches WHERE run_id = $1 AND NOT applied`, r.ID); n != 0 {
		t.Errorf("%d batches not applied", n)
	}
	// Without a discrepancy, the verified score is the declared one.
	if n := e.count(`SELECT COUNT(*) FROM applications a WHERE a.score_run = $1 AND a.score <> a.estimate
		AND NOT EXISTS (SELECT 1 FROM discrepancies d WHERE d.application_id = a.id AND d.status <> 'cleared')`, r.ID); n != 0 {
		t.Errorf("%d applications without a discrepancy score other than declared", n)
	}
}

func TestRoundRunChecksEveryApplicationOnce(t *testing.T) {
	e := newEnv(t, 400)
	// Some noise the connectors must absorb: slow answers, 500s and 429s.
	e.setFaults("*", agencysim.Faults{LatencyMS: 2, JitterMS: 5, ErrorRate: 0.25})
	e.setFaults(agency.Tax, agencysim.Faults{RatePerSec: 0.5, Burst: 1})
	// Only an actor allowed to run checks starts one: the domain checks,
	// whatever the caller (page, API or command line).
	district := actor.Actor{UserID: 2, Login: "hd", Roles: []actor.Role{actor.DistrictOfficer}, District: "海淀区"}
	for _, by := range []actor.Actor{{}, district} {
		if _, err := e.eng.StartRun(e.ctx, by, RunInput{RoundID: e.roundID}); !apperr.Is(err, apperr.Forbidden) {
			t.Fatalf("run started by %+v: %v", by, err)
		}
	}
	r, err := e.eng.StartRun(e.ctx, officer, RunInput{RoundID: e.roundID})
	if err != nil {
		t.Fatal(err)
	}
	if r.Mode != "apply" || r.Total == 0 {
		t.Fatalf("first run %+v", r)
	}
	want := r.Batches * len(agency.PersonAgencies())
	if n := e.count(`SELECT COUNT(*) FROM check_queries WHERE run_id = $1`, r.ID); n != want {
		t.Fatalf("queries %d, want %d", n, want)
	}
	if n := e.count(`SELECT COUNT(*) FROM river_job WHERE kind = 'check_query' AND state = 'available'`); n != want {
		t.Fatalf("query jobs %d, want %d", n, want)
	}
	if _, err := e.eng.StartRun(e.ctx, officer, RunInput{RoundID: e.roundID}); err == nil {
		t.Error("a second run of the round started while the first runs")
	}
	r = e.work(e.eng, r.ID, 120*time.Second, "applied")
	if r.Status != "applied" {
		t.Fatalf("run %s after 120 s", r.Status)
	}
	assertCheckedOnce(e, r)
	disc := e.count(`SELECT COUNT(*) FROM discrepancies`)
	if disc < int(r.Total)/20 || disc > int(r.Total)/2 {
		t.Errorf("%d discrepancies among %d applications, synth misstated about 20%%", disc, r.Total)
	}
	// Every call is logged; the 500s were retried.
	if n := e.count(`SELECT COUNT(*) FROM check_calls WHERE status = 'error' AND http_status = 500`); n == 0 {
		t.Error("no failed call logged though a quarter failed")
	}
	// The tax office allows a call every 2 s, our connector 500: it answered
	// 429 and the connector waited as told.
	if n := e.count(`SELECT COUNT(*) FROM check_calls WHERE status = 'rate_limited' AND agency = $1`, agency.Tax); n == 0 {
		t.Error("no 429 from the rate-limited tax office")
	}
	// A mismatch keeps both values, and the score uses the agency's.
	var app int64
	var item, declared, verified string
	if err := e.db.QueryRow(e.ctx, `SELECT application_id, item, declared, verified FROM discrepancies WHERE outcome = 'mismatch'
		ORDER BY id LIMIT 1`).Scan(&app, &item, &declared, &verified); err != nil {
		t.Fatal(err)
	}
	if declared == verified || declared == "" || verified == "" {
		t.Errorf("discrepancy of %s: declared %s verified %s", item, declared, verified)
	}
	var vj string
	var score int64
	if err := e.db.QueryRow(e.ctx, `SELECT s.verified, a.score FROM check_scores s JOIN applications a ON a.id = s.application_id
		WHERE s.application_id = $1 AND s.run_id = $2`, app, r.ID).Scan(&vj, &score); err != nil {
		t.Fatal(err)
	}
	var v rules.CalculatorRequest
	if err := json.Unmarshal([]byte(vj), &v); err != nil {
		t.Fatal(err)
	}
	facts, fe := v.Facts()
	if len(fe) > 0 {
		t.Fatalf("verified facts invalid: %v", fe)
	}
	book, _ := rules.Book("2020")
	if got := book.Score(facts).Total; int64(got) != score {
		t.Errorf("score %d, rules give %d for the verified facts", score, got)
	}
}

func TestOutageWaitsThenResumes(t *testing.T) {
	e := newEnv(t, 120)
	e.setFaults(agency.Tax, agencysim.Faults{Down: true})
	r, err := e.eng.StartRun(e.ctx, officer, RunInput{RoundID: e.roundID})
	if err != nil {
		t.Fatal(err)
	}
	// The office's queue view: every query job waits, since the run began.
	qd, err := e.eng.jobs.Depth(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(qd) != 1 || qd[0].Kind != "check_query" || qd[0].Waiting != int64(r.Batches*len(agency.PersonAgencies())) ||
		qd[0].Oldest.Before(r.CreatedAt.Add(-time.Second)) || qd[0].Oldest.After(time.Now()) {
		t.Errorf("queue depth %+v after the start of a run of %d batches at %s", qd, r.Batches, r.CreatedAt)
	}
	// Work until every other agency has answered and the tax office's
	// breaker has opened and let probes through (on a loaded machine that
	// takes longer than the breaker's timeout).
	e.workUntil(e.eng, 60*time.Second, func() bool {
		return e.count(`SELECT COUNT(*) FROM check_queries WHERE run_id = $1 AND agency <> $2 AND answered_at = 0`, r.ID, agency.Tax) == 0 &&
			e.count(`SELECT COUNT(*) FROM check_calls WHERE agency = $1 AND kind = 'query' AND status <> 'ok'`, agency.Tax) > 5 &&
			e.count(`SELECT COUNT(*) FROM agency_connectors WHERE agency = $1 AND breaker = 'open'`, agency.Tax) == 1
	})
	r, _ = e.eng.GetRun(e.ctx, r.ID)
	assertOutage(e, r)
	e.setFaults(agency.Tax, agencysim.Faults{})
	r = e.work(e.eng, r.ID, 30*time.Second, "applied")
	assertRecovered(e, r)
}

func TestOutageInTheMiddleOfARun(t *testing.T) {
	e := newEnv(t, 600)
	// Slow answers, so the outage begins while the run is under way.
	e.setFaults("*", agencysim.Faults{LatencyMS: 40})
	r, err := e.eng.StartRun(e.ctx, officer, RunInput{RoundID: e.roundID})
	if err != nil {
		t.Fatal(err)
	}
	// One query per agency at a time, so most of the run is still to do
	// when the first batch is scored.
	w := e.newEngine()
	w.SetWorkers(1)
	ctx, cancel := contextWithCancel(e)
	done := make(chan struct{})
	go func() { w.Work(ctx); close(done) }()
	for e.count(`SELECT COUNT(*) FROM check_batches WHERE run_id = $1 AND scored`, r.ID) == 0 {
		sleepMS(5)
	}
	e.setFaults("*", agencysim.Faults{Down: true})
	// Until the breaker of every agency with work left has opened, and then
	// five times the breakers' timeout: each lets a probe through and opens
	// again, several times over.
	waitFor(e, 60*time.Second, func() bool {
		return e.count(`SELECT COUNT(DISTINCT q.agency) FROM check_queries q JOIN agency_connectors c ON c.agency = q.agency
			WHERE q.run_id = $1 AND q.answered_at = 0 AND c.breaker = 'closed'`, r.ID) == 0
	})
	sleepMS(1500)
	// While the agencies are down, their work shows as waiting for them,
	// not as failed.
	p, err := e.eng.Progress(e.ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	scored := e.count(`SELECT COUNT(*) FROM check_batches WHERE run_id = $1 AND scored`, r.ID)
	if scored == r.Batches {
		t.Fatal("the run finished before the outage; nothing was tested")
	}
	if p.Waiting == 0 || p.Failed != 0 {
		t.Errorf("progress during the outage: %d waiting, %d failed (want all open work waiting)", p.Waiting, p.Failed)
	}
	for _, a := range p.Agencies {
		if a.Failed != 0 {
			t.Errorf("agency %s shows %d failed during the outage", a.Agency, a.Failed)
		}
	}
	if n := e.count(`SELECT COUNT(*) FROM check_queries WHERE run_id = $1 AND answered_at = 0 AND last_error <> ''`, r.ID); n == 0 {
		t.Error("no query waits with the outage's error")
	}
	// The open breakers spent no job's attempts: a job counts at most the
	// one attempt that failed before its agency's breaker opened (without
	// the snooze, each job was retried every 30–200 ms and counted each).
	if n := e.count(`SELECT COUNT(*) FROM check_queries WHERE run_id = $1 AND failures > 1`, r.ID); n != 0 {
		t.Errorf("%d queries failed more than once during the outage", n)
	}
	if n := e.count(`SELECT COUNT(*) FROM river_job WHERE kind = 'check_query' AND attempt > 1`); n != 0 {
		t.Errorf("%d query jobs counted more than one attempt during the outage", n)
	}
	if n := e.count(`SELECT COUNT(*) FROM check_queries WHERE run_id = $1 AND answered_at = 0 AND wait_reason = 'breaker'`, r.ID); n == 0 {
		t.Error("no query waits for an open breaker")
	}
	// And each waits only until its breaker lets a probe through, never
	// longer.
	conn := e.eng.Connectors()
	latest := db.Micros(time.Now().Add(conn.BreakerTimeout + conn.ProbeWait))
	if n := e.count(`SELECT COUNT(*) FROM check_queries WHERE run_id = $1 AND wait_reason <> '' AND wait_until > $2`, r.ID, latest); n != 0 {
		t.Errorf("%d waiting jobs wait past their breaker's half-open time", n)
	}
	e.setFaults("*", agencysim.Faults{})
	if r = e.work(e.eng, r.ID, 60*time.Second, "applied"); r.Status != "applied" {
		logOpenJobs(e, r.ID)
		t.Fatalf("run %s after the outage", r.Status)
	}
	assertCheckedOnce(e, r)
}

// logOpenJobs shows what a run that did not finish still waits for.
func logOpenJobs(e *env, runID int64) {
	now := time.Now()
	_ = e.eng.each(e.ctx, `SELECT batch_no, agency, failures, wait_until, wait_reason, last_error FROM check_queries
		WHERE run_id = $1 AND answered_at = 0 ORDER BY batch_no, agency`, []any{runID}, func(rows *sql.Rows) error {
		var no, failures int
		var until int64
		var ag, wr, le string
		if err := rows.Scan(&no, &ag, &failures, &until, &wr, &le); err != nil {
			return err
		}
		e.t.Logf("query %d %s failures %d waits %q until %s: %s", no, ag, failures, wr, db.FromMicros(until).Sub(now), le)
		return nil
	})
	_ = e.eng.each(e.ctx, `SELECT id, kind, state, attempt, args FROM river_job WHERE kind LIKE 'check_%' AND state NOT IN ('completed')
		ORDER BY id`, nil, func(rows *sql.Rows) error {
		var id int64
		var kind, state string
		var attempt int
		var args []byte
		if err := rows.Scan(&id, &kind, &state, &attempt, &args); err != nil {
			return err
		}
		e.t.Logf("job %d %s %s attempt %d %s", id, kind, state, attempt, args)
		return nil
	})
	_ = e.eng.each(e.ctx, `SELECT agency, breaker, breaker_at FROM agency_connectors`, nil, func(rows *sql.Rows) error {
		var ag, b string
		var at int64
		if err := rows.Scan(&ag, &b, &at); err != nil {
			return err
		}
		e.t.Logf("breaker %s %s since %s ago", ag, b, now.Sub(db.FromMicros(at)))
		return nil
	})
}

func assertOutage(e *env, r *Run) {
	t := e.t
	t.Helper()
	if r.Status != "running" {
		t.Fatalf("run %s while the tax office is down", r.Status)
	}
	// Nothing passed unchecked: no score, every tax job waiting with its error.
	if n := e.count(`SELECT COUNT(*) FROM check_scores WHERE run_id = $1`, r.ID); n != 0 {
		t.Errorf("%d applications scored without the tax office", n)
	}
	// Each tax query waits with the outage's error.
	if n := e.count(`SELECT COUNT(*) FROM check_queries WHERE run_id = $1 AND agency = $2 AND answered_at = 0`, r.ID, agency.Tax); n != r.Batches {
		t.Errorf("%d tax queries open, want %d", n, r.Batches)
	}
	if n := e.count(`SELECT COUNT(*) FROM check_queries WHERE run_id = $1 AND agency = $2 AND last_error <> ''`, r.ID, agency.Tax); n == 0 {
		t.Error("no tax query waits with the outage's error")
	}
	if n := e.count(`SELECT COUNT(*) FROM applications WHERE round_id = $1 AND status = 'checking'`, e.roundID); int64(n) < r.Total-r.Total/2 {
		t.Errorf("only %d applications still checking", n)
	}
	p, err := e.eng.Progress(e.ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The tax office is down (its breaker open): its work waits for it and
	// has not failed.
	if p.Checked != 0 || p.Waiting != r.Total || p.Failed != 0 || p.Pending != 0 {
		t.Errorf("progress during the outage: checked %d waiting %d failed %d pending %d of %d", p.Checked, p.Waiting, p.Failed, p.Pending, r.Total)
	}
	for _, a := range p.Agencies {
		want := AgencyProgress{Agency: a.Agency, Name: agency.Name(a.Agency), Total: r.Total, Done: r.Total}
		if a.Agency == agency.Tax {
			want.Done, want.Waiting, want.LastError = 0, r.Total, a.LastError
			if a.LastError == "" {
				t.Error("the tax office's failure has no error")
			}
		}
		if a != want {
			t.Errorf("agency progress %+v, want %+v", a, want)
		}
	}
	var breaker string
	if err := e.db.QueryRow(e.ctx, `SELECT breaker FROM agency_connectors WHERE agency = $1`, agency.Tax).Scan(&breaker); err != nil {
		t.Fatal(err)
	}
	if breaker == "closed" {
		t.Error("the breaker did not open during the outage")
	}
}

func assertRecovered(e *env, r *Run) {
	t := e.t
	t.Helper()
	if r.Status != "applied" {
		t.Fatalf("run %s after the outage ended", r.Status)
	}
	assertCheckedOnce(e, r)
	p, err := e.eng.Progress(e.ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	var inDistricts int64
	for _, d := range p.Districts {
		inDistricts += d.Checked
		if d.Total != d.Checked {
			t.Errorf("district %+v after the run", d)
		}
	}
	if p.Checked != r.Total || inDistricts != r.Total || p.Failed != 0 || p.Waiting != 0 {
		t.Errorf("progress after the run: %d checked (%d by district), %d waiting, %d failed of %d", p.Checked, inDistricts, p.Waiting, p.Failed, r.Total)
	}
	var breaker string
	if err := e.db.QueryRow(e.ctx, `SELECT breaker FROM agency_connectors WHERE agency = $1`, agency.Tax).Scan(&breaker); err != nil {
		t.Fatal(err)
	}
	if breaker != "closed" {
		t.Errorf("breaker %s after recovery", breaker)
	}
}

func TestMalformedAnswersAndWrongKey(t *testing.T) {
	e := newEnv(t, 300)
	e.key = []byte("a-wrong-key")
	r, err := e.eng.StartRun(e.ctx, officer, RunInput{RoundID: e.roundID})
	if err != nil {
		t.Fatal(err)
	}
	r = e.work(e.eng, r.ID, 1500*time.Millisecond, "applied")
	if r.Status != "running" {
		t.Fatalf("run %s with a wrong key", r.Status)
	}
	if n := e.count(`SELECT COUNT(*) FROM check_calls WHERE status = 'rejected' AND http_status = 401`); n == 0 {
		t.Error("no rejected call logged")
	}
	if n := e.count(`SELECT COUNT(*) FROM check_scores`); n != 0 {
		t.Errorf("%d scored with a wrong key", n)
	}
	// The key is fixed, but the education ministry answers garbage: its
	// batches wait, nothing is scored from a malformed answer.
	e.key = agencyKey
	e.setFaults(agency.Education, agencysim.Faults{MalformedRate: 1})
	r = e.work(e.eng, r.ID, 1500*time.Millisecond, "applied")
	if r.Status != "running" {
		t.Fatalf("run %s on malformed answers", r.Status)
	}
	if n := e.count(`SELECT COUNT(*) FROM check_calls WHERE agency = $1 AND error LIKE 'malformed%'`, agency.Education); n == 0 {
		t.Error("no malformed answer logged")
	}
	if n := e.count(`SELECT COUNT(*) FROM check_scores`); n != 0 {
		t.Errorf("%d scored without the education ministry's answers", n)
	}
	e.setFaults(agency.Education, agencysim.Faults{MalformedRate: 0.3})
	r = e.work(e.eng, r.ID, 30*time.Second, "applied")
	if r.Status != "applied" {
		t.Fatalf("run %s after the answers were mended", r.Status)
	}
	assertCheckedOnce(e, r)
}

func TestRateLimitHoldsAcrossWorkers(t *testing.T) {
	e := newEnv(t, 150)
	if _, err := e.db.Exec(e.ctx, `UPDATE agency_connectors SET rate_per_sec = 10, batch_size = 10`); err != nil {
		t.Fatal(err)
	}
	r, err := e.eng.StartRun(e.ctx, officer, RunInput{RoundID: e.roundID, Item: rules.CodeHonors})
	if err != nil {
		t.Fatal(err)
	}
	// Two engines (two processes' worth of workers) share the limit.
	other := e.newEngine()
	done := make(chan struct{})
	ctx, cancel := contextWithCancel(e)
	go func() { other.Work(ctx); close(done) }()
	r = e.work(e.eng, r.ID, 60*time.Second, "ready")
	cancel()
	<-done
	if r.Status != "ready" {
		t.Fatalf("run %s", r.Status)
	}
	var at []int64
	if err := e.eng.each(e.ctx, `SELECT at FROM check_calls WHERE agency = $1 AND kind = 'query' ORDER BY at`, []any{agency.Honors},
		func(rows *sql.Rows) error {
			var x int64
			if err := rows.Scan(&x); err != nil {
				return err
			}
			at = append(at, x)
			return nil
		}); err != nil {
		t.Fatal(err)
	}
	if len(at) < 10 {
		t.Fatalf("only %d calls", len(at))
	}
	// In any one second, at most 10 calls (plus one at the window's edge).
	for i := range at {
		n := 0
		for j := i; j < len(at) && at[j] < at[i]+1_000_000; j++ {
			n++
		}
		if n > 11 {
			t.Fatalf("%d calls within one second from call %d", n, i)
		}
	}
}
