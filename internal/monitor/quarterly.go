package monitor

import (
	"context"
	"fmt"
	"io"
	"time"

	"jifen/internal/actor"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/platform/sheet"
)

// MetricNames are the metrics in Chinese, for pages and reports.
var MetricNames = map[string]string{
	"cpu_pct": "主机CPU使用率（%）", "mem_used_pct": "主机内存使用率（%）", "load1": "主机1分钟负载",
	"disk_free_pct": "数据目录磁盘剩余（%）", "disk_free_gb": "数据目录磁盘剩余（GB）", "rss_mb": "进程内存（MB）",
	"goroutines": "协程数", "db_size_mb": "数据库大小（MB）", "db_conns_in_use": "数据库连接使用数",
	"db_conns_wait": "数据库连接累计等待次数", "http_rpm": "每分钟请求数", "http_5xx_pct": "服务器错误占比（%）",
	"http_p95_ms": "响应时间P95（毫秒）", "http_rpm.internet": "互联网端每分钟请求数", "http_rpm.office": "政务网端每分钟请求数",
	"http_5xx_pct.internet": "互联网端服务器错误占比（%）", "http_5xx_pct.office": "政务网端服务器错误占比（%）",
	"http_p95_ms.internet": "互联网端响应时间P95（毫秒）", "http_p95_ms.office": "政务网端响应时间P95（毫秒）",
	"jobs_waiting": "后台任务排队数", "jobs_oldest_min": "最久排队任务等待（分钟）", "mail_backlog": "待发邮件数",
	"agencies_down": "不可用的委办局接口数", "backup_age_h": "距上次成功备份（小时）", "backup_drill_failed": "最近一次恢复演练失败",
	"log_write_failures": "日志写入失败次数",
}

// MetricName is a metric's Chinese name (its code when unknown).
func MetricName(m string) string {
	if n, ok := MetricNames[m]; ok {
		return n
	}
	return m
}

// Quarter is the maintenance report of one quarter (季度维护工作报告).
type Quarter struct {
	Year, Q     int
	From, To    time.Time
	Metrics     []Summary
	Faults      []Fault
	Alerts      map[string]int // rule name → times fired
	Permissions map[string]int // audit action → count
	// Availability is the share of minutes with figures in which the
	// service answered with under 1 % server errors; AgencyAvailability the
	// share with every agency up.
	Availability, AgencyAvailability float64
	Backups                          []BackupLine
}

// BackupLine is one backup of the period as the report lists it.
type BackupLine struct {
	At      time.Time
	OK      bool
	Drill   string
	SizeMB  float64
	Comment string
}

// Backups lists the backups and their drills of a period; the backup
// package answers it (nil: none recorded).
type Backups func(ctx context.Context, from, to time.Time) ([]BackupLine, error)

// QuarterOf parses "2026-4" (year and quarter 1–4).
func QuarterOf(v string) (year, q int, err error) {
	if _, err := fmt.Sscanf(v, "%d-%d", &year, &q); err != nil || year < 2018 || year > 2100 || q < 1 || q > 4 {
		return 0, 0, apperr.Field("q", "季度格式应为 年-季度，如 2026-4")
	}
	return year, q, nil
}

// Quarterly builds the report of quarter q of year.
func (s *Service) Quarterly(ctx context.Context, by actor.Actor, year, q int, backups Backups) (*Quarter, error) {
	if err := requireOps(by); err != nil {
		return nil, err
	}
	from := time.Date(year, time.Month(3*(q-1)+1), 1, 0, 0, 0, 0, clock.Beijing)
	to := from.AddDate(0, 3, 0)
	r := &Quarter{Year: year, Q: q, From: from, To: to, Alerts: map[string]int{}, Permissions: map[string]int{}}
	var err error
	if r.Metrics, err = s.Summaries(ctx, from, to); err != nil {
		return nil, apperr.Wrap(err)
	}
	if r.Faults, err = s.Faults(ctx, by, from, to); err != nil {
		return nil, err
	}
	if r.Alerts, err = s.countBy(ctx, `SELECT r.name, COUNT(*) FROM alerts a JOIN alert_rules r ON r.id = a.rule_id
		WHERE a.started_at >= $1 AND a.started_at < $2 GROUP BY r.name`, db.Micros(from), db.Micros(to)); err != nil {
		return nil, apperr.Wrap(err)
	}
	// Permission changes as the audit trail recorded them (the audit log is
	// read here, never written).
	if r.Permissions, err = s.countBy(ctx, `SELECT action, COUNT(*) FROM audit_log WHERE at >= $1 AND at < $2
		AND (action LIKE 'role.%' OR action LIKE 'account.admin_request%' OR action IN ('account.create', 'account.disable', 'account.enable'))
		GROUP BY action`, db.Micros(from), db.Micros(to)); err != nil {
		return nil, apperr.Wrap(err)
	}
	share := func(metric string, ok string) (float64, error) {
		var good, all int
		q := `SELECT COUNT(*), COALESCE(SUM(CASE WHEN v < 1 THEN 1 ELSE 0 END), 0) FROM
			(SELECT minute, MAX(value) AS v FROM monitor_samples WHERE metric = $1 AND minute >= $2 AND minute < $3 GROUP BY minute) x`
		if ok == "zero" {
			q = `SELECT COUNT(*), COALESCE(SUM(CASE WHEN v = 0 THEN 1 ELSE 0 END), 0) FROM
			(SELECT minute, MAX(value) AS v FROM monitor_samples WHERE metric = $1 AND minute >= $2 AND minute < $3 GROUP BY minute) x`
		}
		if err := s.db.QueryRow(ctx, q, metric, db.Micros(from), db.Micros(to)).Scan(&all, &good); err != nil {
			return 0, err
		}
		if all == 0 {
			return 0, nil
		}
		return float64(good) / float64(all), nil
	}
	if r.Availability, err = share("http_5xx_pct", "lt1"); err != nil {
		return nil, apperr.Wrap(err)
	}
	if r.AgencyAvailability, err = share("agencies_down", "zero"); err != nil {
		return nil, apperr.Wrap(err)
	}
	if backups != nil {
		if r.Backups, err = backups(ctx, from, to); err != nil {
			return nil, apperr.Wrap(err)
		}
	}
	return r, nil
}

// countBy runs a query of (name, count) rows.
func (s *Service) countBy(ctx context.Context, q string, args ...any) (map[string]int, error) {
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, rows.Err()
}

// WriteExcel writes the report as one sheet, section after section.
func (r *Quarter) WriteExcel(w io.Writer) error {
	cols := []sheet.Column{{Header: "项目", Format: "text", Width: 34}, {Header: "数值", Format: "text", Width: 22},
		{Header: "最低", Format: "text", Width: 14}, {Header: "最高", Format: "text", Width: 14}, {Header: "说明", Format: "text", Width: 50}}
	var rows [][]any
	sec := func(title string) { rows = append(rows, []any{"【" + title + "】", "", "", "", ""}) }
	sec(fmt.Sprintf("%d年第%d季度（%s 至 %s）", r.Year, r.Q, r.From.Format("2006-01-02"), r.To.AddDate(0, 0, -1).Format("2006-01-02")))
	rows = append(rows, []any{"服务可用率（服务器错误<1%的分钟占比）", pct(r.Availability), "", "", ""},
		[]any{"委办局接口可用率（全部可用的分钟占比）", pct(r.AgencyAvailability), "", "", ""})
	sec("运行指标（平均／最低／最高）")
	for _, m := range r.Metrics {
		rows = append(rows, []any{MetricName(m.Metric), fmt.Sprintf("%.1f", m.Mean), fmt.Sprintf("%.1f", m.Min), fmt.Sprintf("%.1f", m.Max),
			fmt.Sprintf("有数据 %d 分钟", m.Minutes)})
	}
	sec(fmt.Sprintf("故障（%d 起）", len(r.Faults)))
	for _, f := range r.Faults {
		rows = append(rows, []any{f.Title, SeverityNames[f.Severity] + "／" + FaultStatusNames[f.Status],
			f.StartedAt.In(clock.Beijing).Format("01-02 15:04"), endText(f.EndedAt), "原因：" + f.Cause + "；措施：" + f.Fix})
	}
	sec("告警")
	for name, n := range r.Alerts {
		rows = append(rows, []any{name, fmt.Sprintf("%d 次", n), "", "", ""})
	}
	sec(fmt.Sprintf("备份与恢复演练（%d 次）", len(r.Backups)))
	for _, b := range r.Backups {
		ok := "成功"
		if !b.OK {
			ok = "失败"
		}
		rows = append(rows, []any{b.At.In(clock.Beijing).Format("2006-01-02 15:04"), ok, fmt.Sprintf("%.1f MB", b.SizeMB), "", "演练：" + b.Drill + " " + b.Comment})
	}
	sec("权限变更（审计日志）")
	for a, n := range r.Permissions {
		rows = append(rows, []any{a, fmt.Sprintf("%d 次", n), "", "", ""})
	}
	return sheet.WriteTable(w, "季度维护工作报告", cols, rows, "由系统根据运行监控、故障记录、备份记录和审计日志生成")
}

func pct(v float64) string { return fmt.Sprintf("%.2f%%", 100*v) }

func endText(t time.Time) string {
	if t.IsZero() {
		return "未结束"
	}
	return t.In(clock.Beijing).Format("01-02 15:04")
}
