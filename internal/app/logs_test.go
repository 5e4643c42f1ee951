package app_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jifen/internal/account"
	"jifen/internal/app/apptest"
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
	if r := adm.Get("/office/ops/logs?log=security&q=lockout&from=2026-03-01"); r.Status != 200 || !strings.Contains(r.Body, "victim") {
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
