package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"jifen/internal/platform/mail/smtptest"
)

// TestMain lets a test start this test binary as `jifen serve` in a process
// of its own (JIFEN_TEST_CHILD=serve), to kill it; the arguments after "--"
// are serve's flags.
func TestMain(m *testing.M) {
	if os.Getenv("JIFEN_TEST_CHILD") == "serve" {
		args := []string{"serve"}
		if i := slices.Index(os.Args, "--"); i >= 0 {
			args = append(args, os.Args[i+1:]...)
		}
		os.Exit(Main(context.Background(), args, Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
			Getenv: os.Getenv}))
	}
	os.Exit(m.Run())
}

// TestCampaignSurvivesSIGKILL: a campaign is imported and started from the
// command line; a `jifen serve` process sends it to a real SMTP server and
// is killed with SIGKILL mid-campaign; a second process finishes it. Every
// recipient gets exactly one message (one Message-ID); a message the server
// took in the instant before the kill, not yet recorded, may arrive twice
// with the same Message-ID — at most as many as were in flight.
func TestCampaignSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two server processes")
	}
	srv, err := smtptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Close() }()
	env := testEnv(t)
	for k, v := range map[string]string{
		"JIFEN_INTERNET_ADDR": "127.0.0.1:0", "JIFEN_OFFICE_ADDR": "127.0.0.1:0", "JIFEN_METRICS_ADDR": "127.0.0.1:0",
		"JIFEN_SMTP_HOST": "127.0.0.1", "JIFEN_SMTP_PORT": srv.Port(), "JIFEN_SMTP_TLS": "none",
		"JIFEN_SMTP_FROM": "noreply@jifen.test", "JIFEN_MAIL_CLAIM_LEASE": "3s", "JIFEN_WORKER": "true",
		"JIFEN_LOG_LEVEL": "warn",
	} {
		env[k] = v
	}
	run := func(args ...string) string {
		t.Helper()
		var out, errb syncBuf
		if code := Main(context.Background(), args, Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
			Getenv: func(k string) string { return env[k] }}); code != 0 {
			t.Fatalf("jifen %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
		}
		return out.String()
	}
	const n = 600
	dir := t.TempDir()
	var csv strings.Builder
	csv.WriteString("email,name\n")
	for i := range n {
		fmt.Fprintf(&csv, "user%03d@example.com,用户%03d\n", i, i)
	}
	listFile, bodyFile := filepath.Join(dir, "list.csv"), filepath.Join(dir, "body.html")
	if err := os.WriteFile(listFile, []byte(csv.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bodyFile, []byte("<p>{{.Name}}，您好：</p><p>这是一封测试群发邮件。</p>"), 0o600); err != nil {
		t.Fatal(err)
	}
	run("mail", "import", "--list", "crash", "--file", listFile)
	id, err := strconv.ParseInt(strings.TrimSpace(run("mail", "send", "--list", "crash", "--subject", "测试 {{.Name}}",
		"--template", bodyFile, "--rate", "100")), 10, 64)
	if err != nil {
		t.Fatalf("campaign id: %v", err)
	}

	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "JIFEN_TEST_CHILD=serve")
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	first := start()
	deadline := time.Now().Add(60 * time.Second)
	for srv.Count() < n/3 {
		if time.Now().After(deadline) {
			_ = first.Process.Kill()
			t.Fatalf("the first process sent %d of %d in 60 s", srv.Count(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := first.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = first.Wait()
	atKill := srv.Count()
	if atKill >= n {
		t.Fatalf("the campaign finished before the kill (%d)", atKill)
	}

	second := start()
	defer func() { _ = second.Process.Kill(); _ = second.Wait() }()
	var rep struct {
		Status string `json:"status"`
		Sent   int    `json:"sent"`
		Failed int    `json:"failed"`
	}
	// A liveness check, not a speed one: on a busy machine the second
	// process may start and send slowly, so the test fails only when
	// nothing has been sent for three minutes (stuck; the second process
	// took up to 90 s to resume on PostgreSQL), never because the rest
	// took long.
	lastCount, lastMove := srv.Count(), time.Now()
	for {
		if err := json.Unmarshal([]byte(run("mail", "report", "--campaign", strconv.FormatInt(id, 10))), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Status == "finished" {
			break
		}
		if c := srv.Count(); c != lastCount {
			lastCount, lastMove = c, time.Now()
		}
		if time.Since(lastMove) > 3*time.Minute {
			t.Fatalf("not finished after the restart and nothing sent for three minutes: %+v, server has %d", rep, srv.Count())
		}
		time.Sleep(100 * time.Millisecond)
	}
	all, distinct := srv.ByRecipient()
	dup := 0
	for i := range n {
		to := fmt.Sprintf("user%03d@example.com", i)
		if distinct[to] != 1 {
			t.Errorf("%s got %d different messages, want exactly 1", to, distinct[to])
		}
		dup += all[to] - 1
	}
	if rep.Sent != n || rep.Failed != 0 {
		t.Errorf("report: %+v, want %d sent", rep, n)
	}
	// Only messages in flight at the kill can come twice, with the same
	// Message-ID: at most the sender's workers.
	if dup > 8 {
		t.Errorf("%d duplicate deliveries, more than the 8 messages in flight at the kill", dup)
	}
	t.Logf("killed after %d of %d; %d delivered twice with the same Message-ID", atKill, n, dup)
}
