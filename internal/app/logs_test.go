package app_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jifen/internal/account"
	"jifen/internal/app/apptest"
	"jifen/internal/config"
	"jifen/internal/logs"
)

// A failed login and the lockout that follows reach the security log file
// through the audit trail's hook, and the system administrator finds them
// on 日志巡检 and through the API.
func TestFailedLoginReachesTheSecurityLog(t *testing.T) {
	a := apptest.Start(t)
	a.CreateUser("ops-admin", account.SystemAdmin)
	a.CreateUser("victim", account.CityOfficer)
	off := a.Client(a.Office)
	for range 5 {
		off.LoginAPI("victim", "Wrong#Pass9")
	}
	b, err := os.ReadFile(filepath.Join(a.Cfg.DataDir, "logs", "security-current.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	file := string(b)
	if strings.Count(file, `"kind":"login_failure"`) != 5 || !strings.Contains(file, `"kind":"lockout"`) ||
		!strings.Contains(file, `"user":"victim"`) {
		t.Fatalf("security log:\n%s", file)
	}
	adm := a.Client(a.Office)
	a.LoginStaff(adm, "ops-admin", apptest.Password)
	var res logs.Result
	r := adm.Get("/api/v1/office/ops/logs?log=security&user=victim&level=warn&from=2026-03-01")
	r.JSON(&res)
	if r.Status != 200 || len(res.Records) != 6 {
		t.Fatalf("API: %d %s", r.Status, r.Body)
	}
	if r := adm.Get("/office/ops/logs?log=security&q=lockout&from=2026-03-01"); r.Status != 200 || !strings.Contains(r.Body, "victim") || !strings.Contains(r.Body, "log=security&amp;request_id=") {
		t.Fatalf("page: %d", r.Status)
	}
	if r := adm.Get("/office/ops/logs?level=loud"); r.Status != 400 || !strings.Contains(r.Body, "级别") {
		t.Fatalf("bad level: %d %s", r.Status, r.Body)
	}
	// The application log file has the requests too.
	if b, err := os.ReadFile(filepath.Join(a.Cfg.DataDir, "logs", "app-current.jsonl")); err != nil || !strings.Contains(string(b), `"msg":"http"`) {
		t.Fatalf("app log: %v", err)
	}
}

// A full disk under the log directory (both live files point at /dev/full,
// which answers every write with ENOSPC): the service keeps answering, the
// metric the monitoring alerts on drops to 0 and counts the failures, and
// 日志巡检 says so.
func TestFullLogDiskKeepsServingAndRaisesTheAlert(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	dir := t.TempDir()
	for _, n := range []string{"app-current.jsonl", "security-current.jsonl"} {
		if err := os.Symlink("/dev/full", filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	a := apptest.Start(t, func(c *config.Config) { c.LogDir = dir })
	a.CreateUser("ops-admin", account.SystemAdmin)
	off := a.Client(a.Office)
	off.LoginAPI("ops-admin", "Wrong#Pass9") // a security event too
	if r := a.Client(a.Internet).Get("/healthz"); r.Status != 200 {
		t.Fatalf("healthz: %d", r.Status)
	}
	a.LoginStaff(off, "ops-admin", apptest.Password)
	if r := off.Get("/office/ops/logs"); r.Status != 200 || !strings.Contains(r.Body, "日志文件写入失败") {
		t.Fatalf("page: %d", r.Status)
	}
	m := a.Client(a.Metrics).Get("/metrics").Body
	if !strings.Contains(m, "jifen_log_file_healthy 0") || strings.Contains(m, "jifen_log_write_failures_total 0\n") {
		t.Fatalf("metrics:\n%s", grepLines(m, "jifen_log"))
	}
	if a.LogFiles.Security.Failures() == 0 || a.LogFiles.App.Failures() == 0 {
		t.Fatalf("failures: app %d security %d", a.LogFiles.App.Failures(), a.LogFiles.Security.Failures())
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
