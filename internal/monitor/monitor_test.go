package monitor

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/xuri/excelize/v2"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/blob"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/platform/db/dbtest"
	"jifen/internal/platform/mail"
)

var (
	admin1 = actor.Actor{UserID: 1, Login: "ops1", Name: "运维一", Roles: []actor.Role{actor.SystemAdmin}}
	admin2 = actor.Actor{UserID: 2, Login: "ops2", Name: "运维二", Roles: []actor.Role{actor.SystemAdmin}}
	clerk  = actor.Actor{UserID: 3, Login: "d1", Roles: []actor.Role{actor.DistrictOfficer}, District: "海淀区"}
)

func newService(t *testing.T) (*Service, *db.DB, *clock.Fake) {
	t.Helper()
	d := dbtest.Open(t)
	clk := clock.NewFake(time.Date(2026, 11, 2, 9, 0, 0, 0, clock.Beijing))
	s := New(d, audit.New(d, clk), clk, mail.NewOutbox(d, clk), slog.New(slog.NewTextHandler(io.Discard, nil)), "test")
	s.OnCall = []string{"oncall@example.cn"}
	s.OfficeURL = "https://office.example"
	return s, d, clk
}

// TestAnAlertFiresAndClears: disk_free_pct < 10 for 5 minutes. Four bad
// minutes fire nothing; the fifth fires — alert, fault record, mail, banner;
// a good minute resolves it.
func TestAnAlertFiresAndClears(t *testing.T) {
	s, d, clk := newService(t)
	ctx := context.Background()
	step := func(v float64) {
		t.Helper()
		clk.Advance(time.Minute)
		if err := s.Store(ctx, clk.Now(), "host-a/web", map[string]float64{"disk_free_pct": v + 40, "cpu_pct": 5}); err != nil {
			t.Fatal(err)
		}
		// The worst source counts: host-b's disk is the one filling up.
		if err := s.Store(ctx, clk.Now(), "host-b/worker", map[string]float64{"disk_free_pct": v}); err != nil {
			t.Fatal(err)
		}
		if err := s.Evaluate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := d.QueryRow(ctx, q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for range 4 {
		step(5)
	}
	if n := count(`SELECT count(*) FROM alerts`); n != 0 {
		t.Fatalf("fired after 4 minutes: %d", n)
	}
	step(5)
	as, err := s.Alerts(ctx, 10)
	if err != nil || len(as) != 1 || as[0].State != "firing" || as[0].Value != 5 || as[0].FaultID == 0 {
		t.Fatalf("alerts %+v %v", as, err)
	}
	step(6) // still bad: no second alert, no second mail
	if n := count(`SELECT count(*) FROM alerts`); n != 1 {
		t.Fatalf("alerts %d", n)
	}
	if n := count(`SELECT count(*) FROM mail_outbox WHERE to_addr = 'oncall@example.cn' AND subject LIKE '%磁盘%'`); n != 1 {
		t.Fatalf("on-call mails %d", n)
	}
	if b := s.Banner(ctx); len(b) != 1 || !strings.Contains(b[0], "严重") || !strings.Contains(b[0], "磁盘") {
		t.Fatalf("banner %v", b)
	}
	f, err := s.Fault(ctx, admin1, as[0].FaultID)
	if err != nil || f.Status != "open" || f.Severity != "critical" || len(f.Events) != 1 || !strings.Contains(f.Events[0].Text, "当前值 5") {
		t.Fatalf("fault %+v %v", f, err)
	}
	step(30)
	as, _ = s.Alerts(ctx, 10)
	if as[0].State != "resolved" || as[0].ResolvedAt.IsZero() {
		t.Fatalf("not resolved: %+v", as[0])
	}
	if b := s.Banner(ctx); len(b) != 0 {
		t.Fatalf("banner after resolving %v", b)
	}
	f, _ = s.Fault(ctx, admin1, as[0].FaultID)
	if f.EndedAt.IsZero() || len(f.Events) != 2 {
		t.Fatalf("fault after resolving %+v", f)
	}
	if n := count(`SELECT count(*) FROM mail_outbox WHERE subject LIKE '%告警恢复%'`); n != 1 {
		t.Fatalf("resolved mails %d", n)
	}
	// Now and Series show the worst source.
	cur, err := s.Now(ctx, admin1)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, c := range cur {
		got[c.Metric] = c.Value
	}
	if got["disk_free_pct"] != 30 || got["cpu_pct"] != 5 {
		t.Fatalf("now %v", got)
	}
	pts, err := s.Series(ctx, admin1, "disk_free_pct", 24*time.Hour, 5*time.Minute)
	if err != nil || len(pts) < 2 {
		t.Fatalf("series %v %v", pts, err)
	}
	// The hourly means: the worst source each minute (host-b's disk).
	if err := s.Rollup(ctx); err != nil {
		t.Fatal(err)
	}
	hours, err := s.Series(ctx, admin1, "disk_free_pct", 7*24*time.Hour, time.Hour)
	if err != nil || len(hours) != 1 || hours[0].Value != (5*5+6+30)/7.0 {
		t.Fatalf("hourly %+v %v", hours, err)
	}
	if _, err := s.Now(ctx, clerk); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("a district officer reads monitoring: %v", err)
	}
}

func TestRulesEditAndPrune(t *testing.T) {
	s, d, clk := newService(t)
	ctx := context.Background()
	rules, err := s.Rules(ctx)
	if err != nil || len(rules) < 10 {
		t.Fatalf("rules %d %v", len(rules), err)
	}
	r := rules[0]
	r.Threshold, r.ForMinutes = 15, 3
	if err := s.SetRule(ctx, admin1, r); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRule(ctx, admin2, r); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("stale version: %v", err)
	}
	r.Version++
	r.ForMinutes = 0
	if err := s.SetRule(ctx, admin1, r); apperr.As(err).Fields == nil {
		t.Fatalf("bad duration: %v", err)
	}
	if err := s.Store(ctx, clk.Now(), "a", map[string]float64{"cpu_pct": 1}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(91 * 24 * time.Hour)
	if err := s.Store(ctx, clk.Now(), "a", map[string]float64{"cpu_pct": 2}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Prune(ctx); err != nil || n != 1 {
		t.Fatalf("pruned %d %v", n, err)
	}
	var left int
	_ = d.QueryRow(ctx, `SELECT count(*) FROM monitor_samples`).Scan(&left)
	if left != 1 {
		t.Fatalf("left %d", left)
	}
}

// TestAFaultIsClosedByASecondPerson: open by hand, fill, submit, refused
// self-review, returned, closed by another.
func TestAFaultIsClosedByASecondPerson(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	if _, err := s.OpenFault(ctx, admin1, "", "fatal", ""); len(apperr.As(err).Fields) != 2 {
		t.Fatalf("bad open: %v", err)
	}
	id, err := s.OpenFault(ctx, admin1, "互联网端无法登录", "critical", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SubmitFault(ctx, admin1, id, 1); len(apperr.As(err).Fields) != 3 {
		t.Fatalf("submit empty: %v", err)
	}
	if err := s.UpdateFault(ctx, admin1, id, FaultUpdate{Impact: "全部申请人，40分钟", Cause: "证书过期", Fix: "更换证书", Version: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.SubmitFault(ctx, admin1, id, 2); err != nil {
		t.Fatal(err)
	}
	if err := s.ReviewFault(ctx, admin1, id, 3, true, ""); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("self-review: %v", err)
	}
	if err := s.ReviewFault(ctx, admin2, id, 3, false, ""); apperr.As(err).Fields == nil {
		t.Fatalf("return without reason: %v", err)
	}
	if err := s.ReviewFault(ctx, admin2, id, 3, false, "请补充后续措施"); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateFault(ctx, admin1, id, FaultUpdate{Impact: "全部申请人，40分钟", Cause: "证书过期", Fix: "更换证书",
		Followups: "证书到期前30天提醒", Version: 4}); err != nil {
		t.Fatal(err)
	}
	if err := s.SubmitFault(ctx, admin1, id, 5); err != nil {
		t.Fatal(err)
	}
	if err := s.ReviewFault(ctx, admin2, id, 6, true, ""); err != nil {
		t.Fatal(err)
	}
	f, _ := s.Fault(ctx, admin1, id)
	if f.Status != "closed" || f.ClosedBy != 2 || len(f.Events) != 7 {
		t.Fatalf("closed: %+v", f)
	}
	if _, err := s.OpenFault(ctx, clerk, "x故障", "warning", ""); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("clerk opens: %v", err)
	}

	// The quarter's report lists it, as Excel read back.
	rep, err := s.Quarterly(ctx, admin1, 2026, 4, func(context.Context, time.Time, time.Time) ([]BackupLine, error) {
		return []BackupLine{{At: time.Date(2026, 11, 1, 3, 0, 0, 0, clock.Beijing), OK: true, Drill: "通过", SizeMB: 12}}, nil
	})
	if err != nil || len(rep.Faults) != 1 || len(rep.Backups) != 1 {
		t.Fatalf("quarter %+v %v", rep, err)
	}
	var buf bytes.Buffer
	if err := rep.WriteExcel(&buf); err != nil {
		t.Fatal(err)
	}
	x, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := x.GetRows("季度维护工作报告")
	text := ""
	for _, r := range rows {
		text += strings.Join(r, "|") + "\n"
	}
	for _, want := range []string{"2026年第4季度", "互联网端无法登录", "证书过期", "备份与恢复演练（1 次）"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	if _, _, err := QuarterOf("2026-5"); err == nil {
		t.Error("quarter 5 accepted")
	}
}

// TestHTTPProbesReadTheRegistry: the minute's requests, 5xx share and p95
// come from the differences of the Prometheus instruments.
func TestHTTPProbesReadTheRegistry(t *testing.T) {
	s, d, clk := newService(t)
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	req := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "jifen_http_requests_total"}, []string{"surface", "route", "method", "code"})
	lat := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "jifen_http_request_duration_seconds",
		Buckets: []float64{.01, .1, 1}}, []string{"surface", "route"})
	reg.MustRegister(req, lat)
	s.HTTPProbes(reg)
	s.HostProbes(t.TempDir())
	s.DBProbes(d)
	if err := s.Collect(ctx); err != nil { // the baseline
		t.Fatal(err)
	}
	for i := range 100 {
		code := "200"
		if i < 2 {
			code = "500"
		}
		req.WithLabelValues("internet", "GET /", "GET", code).Inc()
		v := .005
		if i >= 90 {
			v = .5
		}
		lat.WithLabelValues("internet", "GET /").Observe(v)
	}
	clk.Advance(time.Minute)
	// /proc/stat counts in ticks of 10 ms: let a few pass, so that the CPU
	// share over the interval is defined.
	time.Sleep(50 * time.Millisecond)
	if err := s.Collect(ctx); err != nil {
		t.Fatal(err)
	}
	cur, err := s.Now(ctx, admin1)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, c := range cur {
		got[c.Metric] = c.Value
	}
	if got["http_rpm"] != 100 || got["http_rpm.internet"] != 100 || got["http_5xx_pct"] != 2 || got["http_p95_ms"] != 1000 {
		t.Fatalf("http figures %v", got)
	}
	for _, m := range []string{"disk_free_pct", "goroutines", "db_size_mb", "mem_used_pct", "rss_mb", "cpu_pct"} {
		if _, ok := got[m]; !ok {
			t.Errorf("no %s in %v", m, got)
		}
	}
}

func TestFaultAttachments(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	st, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s.SetStore(st)
	id, err := s.OpenFault(ctx, admin1, "数据库连接耗尽", "critical", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Attach(ctx, admin1, id, `C:\logs\错误日志.txt`, strings.NewReader("too many connections")); err != nil {
		t.Fatal(err)
	}
	if err := s.Attach(ctx, admin1, id, "big.bin", bytes.NewReader(make([]byte, MaxAttachment+1))); apperr.As(err).Fields == nil {
		t.Fatalf("too large: %v", err)
	}
	if err := s.Attach(ctx, admin1, id, "", strings.NewReader("x")); apperr.As(err).Fields == nil {
		t.Fatalf("no name: %v", err)
	}
	if err := s.Attach(ctx, clerk, id, "a.txt", strings.NewReader("x")); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("clerk: %v", err)
	}
	as, err := s.Attachments(ctx, admin1, id)
	if err != nil || len(as) != 1 || as[0].Name != "错误日志.txt" || as[0].Size != 20 {
		t.Fatalf("attachments %+v %v", as, err)
	}
	a, rc, err := s.OpenAttachment(ctx, admin1, id, as[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	_ = rc.Close()
	if string(b) != "too many connections" || a.Name != "错误日志.txt" {
		t.Fatalf("content %q", b)
	}
	if _, _, err := s.OpenAttachment(ctx, admin1, id+1, as[0].ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("another fault's file: %v", err)
	}
	f, _ := s.Fault(ctx, admin1, id)
	if last := f.Events[len(f.Events)-1]; !strings.Contains(last.Text, "错误日志.txt") {
		t.Fatalf("timeline %+v", f.Events)
	}
}
