package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/loadtest"
	"jifen/internal/platform/db"
	"jifen/internal/platform/db/dbtest"
	"jifen/internal/platform/mail/smtptest"
	"jifen/internal/platform/totp"
)

// TestTwoServeProcessesUnderLoad is the production shape of README's
// "分开部署" on PostgreSQL: two `jifen serve` processes of their own — the
// internet surfaces without the worker (--surfaces=portal,public,metrics
// --worker=false) and the office with the worker (--surfaces=office,metrics)
// — each with its own data directory, sharing only the database and the
// master key, behind one load run (jifen loadtest at scale 1). It shows
// that the processes are stateless:
//
//   - the run has no error, and no request but the deliberate logged-out
//     one got 401; a session logged in on each process before the run still
//     works after it, the office's even on a new office process;
//   - every mail the internet process queued (submissions, filings) is sent
//     once by the worker process: one River job per message, completed at
//     its first attempt, one message per Message-ID at the SMTP server;
//   - the internet process runs no job: every attempt River recorded is by
//     an office process's client, and a mail queued while only the internet
//     process runs waits, unsent and unattempted, until an office process
//     starts again, which then sends it once;
//   - the restarted worker does not repeat the hour's periodic job.
func TestTwoServeProcessesUnderLoad(t *testing.T) {
	if os.Getenv(dbtest.EnvPostgres) == "" {
		t.Skip("two serve processes share one database only on PostgreSQL (README, 分开部署); two processes on one " +
			"SQLite file is not a deployment shape. Set JIFEN_TEST_POSTGRES (CI runs the suite on both engines)")
	}
	if testing.Short() {
		t.Skip("starts two server processes and a load run")
	}
	ctx := context.Background()
	env := testEnv(t)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	env["JIFEN_MASTER_KEY"] = hex.EncodeToString(key)
	env["JIFEN_LOG_LEVEL"] = "warn"
	dsn := env["JIFEN_DB"]
	must := func(args ...string) {
		t.Helper()
		if r := jifen(t, env, "", args...); r.code != 0 {
			t.Fatalf("jifen %s: exit %d: %s", strings.Join(args, " "), r.code, r.stderr)
		}
	}
	must("synth", "--people", "600", "--employers", "60", "--open", "--quiet")
	must("publicity", "import", "--year", "2022", "--quota", "6000", "--file", "../ranking/testdata/beijing-2022.csv")
	stateFile := filepath.Join(t.TempDir(), "state.json")
	must("loadtest", "prepare", "--state", stateFile, "--users", "20", "--staff", "2")
	st, err := loadtest.Load(stateFile)
	if err != nil {
		t.Fatal(err)
	}
	// Held out of the run: an applicant with a draft (submitted at the
	// end, while no worker runs) and a district officer of a district that
	// keeps another for the run.
	if len(st.Submitters) < 2 {
		t.Fatalf("the state has %d drafts to submit", len(st.Submitters))
	}
	applicant := st.Submitters[len(st.Submitters)-1]
	st.Submitters = st.Submitters[:len(st.Submitters)-1]
	officer := -1
	for i, s := range st.Staff {
		for j, o := range st.Staff {
			if s.Role == string(account.DistrictOfficer) && j != i && o.District == s.District {
				officer = i
			}
		}
	}
	if officer < 0 {
		t.Fatalf("no district with two officers among %d staff accounts", len(st.Staff))
	}
	staff := st.Staff[officer]
	st.Staff = slices.Delete(st.Staff, officer, officer+1)

	d, err := db.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	smtp, err := smtptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = smtp.Close() })
	common := map[string]string{
		"JIFEN_DB": dsn, "JIFEN_MASTER_KEY": env["JIFEN_MASTER_KEY"], "JIFEN_TRUSTED_PROXIES": "127.0.0.1/32",
		"JIFEN_BACKUP_EVERY": "off", "JIFEN_LOG_FORMAT": "json", "JIFEN_LOG_LEVEL": "info",
		"JIFEN_INTERNET_ADDR": "127.0.0.1:0", "JIFEN_OFFICE_ADDR": "127.0.0.1:0", "JIFEN_METRICS_ADDR": "127.0.0.1:0",
		"JIFEN_SMTP_HOST": "127.0.0.1", "JIFEN_SMTP_PORT": smtp.Port(), "JIFEN_SMTP_TLS": "none",
		"JIFEN_SMTP_FROM": "noreply@jifen.test",
	}
	own := func() map[string]string {
		e := map[string]string{"JIFEN_DATA_DIR": t.TempDir()}
		for k, v := range common {
			e[k] = v
		}
		return e
	}
	internetEnv, officeEnv := own(), own()
	officeEnv["JIFEN_WORKER"] = "true" // the default, whatever the caller's environment says
	t0 := time.Now()
	officeArgs := []string{"--surfaces=office,metrics"}
	office := startServe(t, "office", officeEnv, officeArgs...)
	internet := startServe(t, "internet", internetEnv, "--surfaces=portal,public,metrics", "--worker=false")
	office.waitReady(t, "office", "metrics")
	internet.waitReady(t, "internet", "metrics")
	fail := func(format string, args ...any) {
		t.Helper()
		for _, p := range []*serveProc{internet, office} {
			t.Logf("%s process log ends:\n%s", p.name, p.tail(40))
		}
		t.Fatalf(format, args...)
	}
	leader1 := waitLeader(t, d, "")

	// A session on each process before the run.
	ctl := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	iBase, oBase := internet.url("internet"), office.url("office")
	const appAddr, staffAddr = "192.0.2.7", "192.0.2.8"
	appCookie, next := apiLogin(t, ctl, iBase, applicant, st.Password, appAddr)
	if next != "" {
		t.Fatalf("applicant %s owes %q", applicant, next)
	}
	staffCookie := staffLogin(t, ctl, oBase, staff, staffAddr)
	appOK := func(when string) {
		t.Helper()
		if code, body := call(t, ctl, http.MethodGet, iBase+"/api/v1/application", appCookie, appAddr, nil); code != http.StatusOK {
			fail("%s: the applicant's session on the internet process: %d %s", when, code, body)
		}
	}
	staffOK := func(base, when string) {
		t.Helper()
		if code, body := call(t, ctl, http.MethodGet, base+"/api/v1/office/queue?limit=1", staffCookie, staffAddr, nil); code != http.StatusOK {
			fail("%s: the officer's session on the office process: %d %s", when, code, body)
		}
	}
	appOK("before the run")
	staffOK(oBase, "before the run")

	r, err := loadtest.Run(ctx, loadtest.Config{Internet: iBase, Office: oBase, Scale: 1, Duration: 5 * time.Second,
		State: st, Users: 20})
	if err != nil {
		fail("load run: %v", err)
	}
	var md strings.Builder
	r.Markdown(&md)
	if r.Errors != 0 || r.Requests < 300 {
		fail("load run across two processes: %d errors of %d requests:\n%s", r.Errors, r.Requests, md.String())
	}
	for _, o := range r.Ops {
		if o.Name != "invalid.session" && o.Codes["401"] > 0 {
			fail("%s got 401 %d times: a session was lost\n%s", o.Name, o.Codes["401"], md.String())
		}
	}
	appOK("after the run")
	staffOK(oBase, "after the run")

	// Every mail of the run (the internet process queued it) sent once by
	// the worker.
	sent := waitMailSent(t, d, fail)
	if sent == 0 {
		fail("the run queued no mail: submissions and filings mail the applicant")
	}
	checkMailOnce(t, d, smtp, fail)
	workers := []string{leader1}
	checkWorkers(t, d, workers, fail)

	// Only the internet process now: what it queues waits for a worker.
	office.stop(t)
	stopped := time.Now()
	before := smtp.Count()
	var maxID int64
	if err := d.QueryRow(ctx, `SELECT COALESCE(MAX(id), 0) FROM mail_outbox`).Scan(&maxID); err != nil {
		t.Fatal(err)
	}
	if code, body := call(t, ctl, http.MethodPost, iBase+"/api/v1/application/submit", appCookie, appAddr,
		map[string]bool{"truthful": true}); code != http.StatusOK {
		fail("submit on the internet process alone: %d %s", code, body)
	}
	var held int
	if err := d.QueryRow(ctx, `SELECT COUNT(*) FROM mail_outbox WHERE id > $1`, maxID).Scan(&held); err != nil || held == 0 {
		fail("the submission queued %d mails (%v)", held, err)
	}
	time.Sleep(3 * time.Second) // six of a worker's poll intervals
	var worked int
	if err := d.QueryRow(ctx, `SELECT COUNT(*) FROM river_job WHERE kind = 'mail_send' AND (args->>'id')::bigint > $1
		AND (state <> 'available' OR attempt > 0 OR COALESCE(array_length(attempted_by, 1), 0) > 0)`, maxID).Scan(&worked); err != nil {
		t.Fatal(err)
	}
	var jobs int
	if err := d.QueryRow(ctx, `SELECT COUNT(*) FROM river_job WHERE kind = 'mail_send' AND (args->>'id')::bigint > $1`, maxID).Scan(&jobs); err != nil {
		t.Fatal(err)
	}
	if worked != 0 || jobs != held || smtp.Count() != before {
		fail("with the worker stopped, the internet process (--worker=false) worked %d of %d mail jobs (%d mails queued); the SMTP server got %d",
			worked, jobs, held, smtp.Count()-before)
	}

	// A new office process: the officer's session is still there, and the
	// waiting mail is sent, once.
	office = startServe(t, "office", officeEnv, officeArgs...)
	office.waitReady(t, "office", "metrics")
	staffOK(office.url("office"), "on a new office process")
	leader2 := waitLeader(t, d, leader1)
	workers = append(workers, leader2)
	waitMailSent(t, d, fail)
	if got := smtp.Count() - before; got != held {
		fail("the new worker sent %d mails, %d were waiting", got, held)
	}
	checkMailOnce(t, d, smtp, fail)
	var late int
	if err := d.QueryRow(ctx, `SELECT COUNT(*) FROM river_job WHERE kind = 'mail_send' AND (args->>'id')::bigint > $1
		AND attempted_by = ARRAY[$2::text]`, maxID, leader2).Scan(&late); err != nil || late != held {
		fail("%d of the %d waiting mails were sent by the new worker alone (%v)", late, held, err)
	}
	checkWorkers(t, d, workers, fail)

	// The periodic jobs: the new leader inserted its start-up batch (a
	// schedule job after the restart), and the hourly session purge, due at
	// each worker's start, is one job per hour all the same.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var n int
		if err := d.QueryRow(ctx, `SELECT COUNT(*) FROM river_job WHERE kind = 'schedule' AND created_at > $1`, stopped).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			fail("the new worker inserted no periodic job in 20 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	var purges int
	if err := d.QueryRow(ctx, `SELECT COUNT(*) FROM river_job WHERE kind = 'schedule' AND args->>'name' = 'session_purge'`).Scan(&purges); err != nil {
		t.Fatal(err)
	}
	hours := 1
	if time.Now().Truncate(time.Hour) != t0.Truncate(time.Hour) {
		hours = 2
	}
	if purges < 1 || purges > hours {
		fail("the hourly session purge ran %d times over %d hour(s) and two worker starts", purges, hours)
	}
	checkWorkers(t, d, workers, fail)

	internet.stop(t)
	office.stop(t)
	t.Logf("%d requests (p99 %.0f ms) across two processes; %d mails of the run and %d queued without a worker sent once each; "+
		"%d session purge(s); River clients that worked: %v", r.Requests, r.P99MS, sent, held, purges, workers)
}

// serveProc is a `jifen serve` process: this test binary started again
// with JIFEN_TEST_CHILD=serve (TestMain).
type serveProc struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuf
	done chan struct{}
	err  error
	urls map[string]string // surface → base URL
}

func startServe(t *testing.T, name string, env map[string]string, args ...string) *serveProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), "JIFEN_TEST_CHILD=serve")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &serveProc{name: name, cmd: cmd, out: &syncBuf{}, done: make(chan struct{}), urls: map[string]string{}}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *serveProc) url(surface string) string { return p.urls[surface] }

// tail is the last n lines of the process's log.
func (p *serveProc) tail(n int) string {
	lines := strings.Split(strings.TrimRight(p.out.String(), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// waitReady waits for the process to log where each surface listens, then
// for each listener to answer its health check.
func (p *serveProc) waitReady(t *testing.T, surfaces ...string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for len(p.urls) < len(surfaces) {
		select {
		case <-p.done:
			t.Fatalf("%s process exited (%v):\n%s", p.name, p.err, p.tail(40))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s process did not listen in 90 s:\n%s", p.name, p.tail(40))
		}
		sc := bufio.NewScanner(strings.NewReader(p.out.String()))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var l struct{ Msg, Surface, Addr string }
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "listening" {
				p.urls[l.Surface] = "http://" + l.Addr
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, s := range surfaces {
		path := "/readyz"
		if s == "metrics" {
			path = "/healthz"
		}
		for {
			resp, err := http.Get(p.urls[s] + path)
			if err == nil {
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s process: %s%s not ready (%v):\n%s", p.name, p.urls[s], path, err, p.tail(40))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *serveProc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
		if p.err != nil {
			t.Fatalf("%s process: %v:\n%s", p.name, p.err, p.tail(40))
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s process did not stop in 30 s:\n%s", p.name, p.tail(40))
	}
}

// waitLeader returns River's leader once one other than not is elected:
// only a process that works jobs takes part in the election.
func waitLeader(t *testing.T, d *db.DB, not string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var id string
		err := d.QueryRow(context.Background(), `SELECT leader_id FROM river_leader WHERE expires_at > now()`).Scan(&id)
		if err == nil && id != not {
			return id
		}
		if err != nil && !db.IsNoRows(err) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no River leader but %q in 30 s", not)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitMailSent waits until no mail is queued or sending, and returns how
// many were sent; failed mail fails the test.
func waitMailSent(t *testing.T, d *db.DB, fail func(string, ...any)) int {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for {
		var pending, sent, failed int
		if err := d.QueryRow(context.Background(), `SELECT
			COALESCE(SUM(CASE WHEN status IN ('queued', 'sending') THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN status = 'sent' THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0) FROM mail_outbox`).Scan(&pending, &sent, &failed); err != nil {
			t.Fatal(err)
		}
		if failed > 0 {
			fail("%d mails failed", failed)
		}
		if pending == 0 {
			return sent
		}
		if time.Now().After(deadline) {
			fail("%d mails still queued after 45 s (%d sent)", pending, sent)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var messageIDPattern = regexp.MustCompile(`^<?jifen\.mail\.(\d+)\.`)

// checkMailOnce: every sent mail has exactly one River job, completed at
// its first attempt, and reached the SMTP server exactly once.
func checkMailOnce(t *testing.T, d *db.DB, smtp *smtptest.Server, fail func(string, ...any)) {
	t.Helper()
	atServer := map[int64]int{}
	for _, m := range smtp.Messages() {
		sm := messageIDPattern.FindStringSubmatch(m.MessageID)
		if sm == nil {
			fail("a message without a jifen Message-ID: %q", m.MessageID)
		}
		id, _ := strconv.ParseInt(sm[1], 10, 64)
		atServer[id]++
	}
	rows, err := d.Query(context.Background(), `SELECT o.id, o.attempts,
		(SELECT COUNT(*) FROM river_job j WHERE j.kind = 'mail_send' AND (j.args->>'id')::bigint = o.id),
		(SELECT COUNT(*) FROM river_job j WHERE j.kind = 'mail_send' AND (j.args->>'id')::bigint = o.id
			AND j.state = 'completed' AND j.attempt = 1 AND array_length(j.attempted_by, 1) = 1)
		FROM mail_outbox o WHERE o.status = 'sent' ORDER BY o.id`)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	n := 0
	for rows.Next() {
		var id int64
		var attempts, jobs, once int
		if err := rows.Scan(&id, &attempts, &jobs, &once); err != nil {
			t.Fatal(err)
		}
		n++
		// One send: one attempt on the row, one message at the server. A
		// second job can exist: the mail sweep (run when a worker starts)
		// offers a job to every row it read as queued, and a job is unique
		// only while live, so a row whose first job completed meanwhile gets
		// another, which finds the row sent and sends nothing. Every job
		// completed at its first attempt by one worker.
		if attempts != 1 || jobs < 1 || once != jobs || atServer[id] != 1 {
			fail("mail %d: %d send attempts on its row, %d jobs (%d completed at one attempt by one worker), %d at the SMTP server; want one send, every job completed once",
				id, attempts, jobs, once, atServer[id])
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(smtp.Messages()) {
		fail("%d mails sent, the SMTP server got %d", n, len(smtp.Messages()))
	}
}

// checkWorkers: every attempt of every job was made by one of the office
// processes' River clients (the leaders seen), never by the internet
// process.
func checkWorkers(t *testing.T, d *db.DB, workers []string, fail func(string, ...any)) {
	t.Helper()
	rows, err := d.Query(context.Background(), `SELECT w, COUNT(*) FROM river_job, unnest(attempted_by) AS w GROUP BY w`)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var w string
		var n int
		if err := rows.Scan(&w, &n); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(workers, w) {
			fail("%d job attempts by %q, which is not an office process (%v)", n, w, workers)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// call sends one request as the client at addr with the session cookie
// and returns the status and body.
func call(t *testing.T, c *http.Client, method, u, cookie, addr string, body any) (int, string) {
	t.Helper()
	resp, raw := send(t, c, method, u, cookie, addr, body)
	return resp.StatusCode, raw
}

// send is call with the response, for its cookies.
func send(t *testing.T, c *http.Client, method, u, cookie, addr string, body any) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	req.Header.Set("X-Forwarded-For", addr)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	return resp, string(raw)
}

// apiLogin logs in through the JSON API and returns the session cookie
// and the step the session still owes.
func apiLogin(t *testing.T, c *http.Client, base, login, pw, addr string) (string, string) {
	t.Helper()
	resp, raw := send(t, c, http.MethodPost, base+"/api/v1/session", "", addr, map[string]string{"login": login, "password": pw})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login %s: %d %s", login, resp.StatusCode, raw)
	}
	var ans struct {
		Next *string `json:"next"`
	}
	_ = json.Unmarshal([]byte(raw), &ans)
	next := ""
	if ans.Next != nil {
		next = *ans.Next
	}
	return cookieOf(resp, ""), next
}

// staffLogin logs a load-test officer in with the password and a TOTP code
// of its secret (the first code completes the enrolment).
func staffLogin(t *testing.T, c *http.Client, base string, s loadtest.Staff, addr string) string {
	t.Helper()
	ck, next := apiLogin(t, c, base, s.Login, s.Password, addr)
	if next == "" {
		return ck
	}
	if next != "totp" {
		t.Fatalf("officer %s owes %q", s.Login, next)
	}
	code, err := totp.Code(s.Secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp, raw := send(t, c, http.MethodPost, base+"/api/v1/session/totp", ck, addr, map[string]string{"code": code})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("TOTP of %s: %d %s", s.Login, resp.StatusCode, raw)
	}
	return cookieOf(resp, ck)
}

// cookieOf is the session cookie a response sets, else old.
func cookieOf(resp *http.Response, old string) string {
	var cookies []string
	for _, ck := range resp.Cookies() {
		if ck.Value != "" && ck.MaxAge >= 0 {
			cookies = append(cookies, ck.Name+"="+ck.Value)
		}
	}
	if len(cookies) == 0 {
		return old
	}
	return strings.Join(cookies, "; ")
}
