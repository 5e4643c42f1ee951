package agencyops

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"jifen/internal/agency"
	"jifen/internal/audit"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
)

// Anomaly thresholds of the daily report.
const (
	ErrorRateAlarm = 0.05             // an error rate above this is reported
	OutageAlarm    = 10 * time.Minute // consecutive failed probes spanning at least this long are an outage
	SlowestShown   = 5
)

// StatusCount is how many calls ended with one status.
type StatusCount struct {
	Status string
	Name   string
	N      int
}

// Outage is a run of consecutive failed probes.
type Outage struct {
	From, To time.Time // first failed probe; the next successful one (or the last failed one)
	Probes   int
}

// Duration is how long the outage lasted as far as the probes saw.
func (o Outage) Duration() time.Duration { return o.To.Sub(o.From) }

// AgencyReport is one agency's day.
type AgencyReport struct {
	Agency    string
	Name      string
	Enabled   bool
	Calls     int
	Queries   int
	Probes    int
	Failures  int
	ByStatus  []StatusCount // failures by status, in the order of FailureStatuses
	ErrorRate float64
	P50, P95  time.Duration
	Max       time.Duration
	Slowest   []Call
	Outages   []Outage
	Anomalies []string // in Chinese
}

// Report is the daily inspection report (日巡检报告).
type Report struct {
	Day      time.Time // midnight, Beijing time
	From, To time.Time
	Work     bool // some agency had query jobs alive that day
	Agencies []AgencyReport
}

// Anomalies counts the anomalies of every agency.
func (r Report) Anomalies() int {
	n := 0
	for _, a := range r.Agencies {
		n += len(a.Anomalies)
	}
	return n
}

// DayOf returns midnight in Beijing of the Beijing day that t falls on.
func DayOf(t time.Time) time.Time {
	return clock.BeijingDay(t)
}

type daySample struct {
	agency, kind, status string
	at, latency          int64
}

// DailyReport builds the inspection report of the Beijing day that day falls on.
func (s *Service) DailyReport(ctx context.Context, day time.Time) (Report, error) {
	r := Report{Day: DayOf(day)}
	r.From, r.To = r.Day, r.Day.AddDate(0, 0, 1)
	from, to := db.Micros(r.From), db.Micros(r.To)

	rows, err := s.db.Query(ctx, `SELECT agency, kind, status, at, latency_us FROM check_calls
		WHERE at >= $1 AND at < $2 ORDER BY at, id`, from, to)
	if err != nil {
		return r, fmt.Errorf("report calls: %w", err)
	}
	defer rows.Close()
	by := map[string][]daySample{}
	for rows.Next() {
		var d daySample
		if err := rows.Scan(&d.agency, &d.kind, &d.status, &d.at, &d.latency); err != nil {
			return r, err
		}
		by[d.agency] = append(by[d.agency], d)
	}
	if err := rows.Err(); err != nil {
		return r, err
	}
	conns, err := s.Connectors(ctx)
	if err != nil {
		return r, err
	}
	connOf := map[string]Connector{}
	for _, c := range conns {
		connOf[c.Agency] = c
	}
	agencies := slices.Clone(agency.Codes())
	for a := range by {
		if !slices.Contains(agencies, a) {
			agencies = append(agencies, a)
		}
	}
	slices.SortStableFunc(agencies, func(a, b string) int { return agencyOrder(a) - agencyOrder(b) })
	for _, a := range agencies {
		c, configured := connOf[a]
		jobs, err := s.jobsOnDay(ctx, a, from, to)
		if err != nil {
			return r, err
		}
		// Work is the agency's own query jobs: a run for one indicator
		// queries one agency, so other agencies' calls say nothing.
		work := jobs > 0
		r.Work = r.Work || work
		ar := AgencyReport{Agency: a, Name: agency.Name(a), Enabled: configured && c.Enabled}
		summarize(&ar, by[a])
		if ar.Calls > 0 {
			if ar.Slowest, err = s.slowest(ctx, a, from, to); err != nil {
				return r, err
			}
		}
		ar.Anomalies = anomalies(ar, c, configured, work, r.From, r.To)
		r.Agencies = append(r.Agencies, ar)
	}
	return r, nil
}

// jobsOnDay counts the agency's queries (one batch each) that were open
// during the day.
func (s *Service) jobsOnDay(ctx context.Context, agency string, from, to int64) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM check_queries WHERE agency = $1
		AND created_at < $2 AND (answered_at = 0 OR answered_at >= $3)`, agency, to, from).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("report jobs: %w", err)
	}
	return n, nil
}

func (s *Service) slowest(ctx context.Context, agency string, from, to int64) ([]Call, error) {
	return s.queryCalls(ctx, "slowest calls", `SELECT `+callColumns+` FROM check_calls
		WHERE agency = $1 AND at >= $2 AND at < $3 AND status <> 'breaker_open'
		ORDER BY latency_us DESC, id LIMIT $4`, agency, from, to, SlowestShown)
}

// summarize counts one agency's calls (given in time order) and finds its outages.
func summarize(ar *AgencyReport, calls []daySample) {
	counts := map[string]int{}
	var lat []int64
	var run *Outage
	for _, d := range calls {
		ar.Calls++
		counts[d.status]++
		if d.status != StatusOK {
			ar.Failures++
		}
		if d.status != StatusBreakerOpen {
			lat = append(lat, d.latency)
		}
		switch d.kind {
		case "query":
			ar.Queries++
		case "probe":
			ar.Probes++
			at := db.FromMicros(d.at)
			switch {
			case d.status != StatusOK && run == nil:
				run = &Outage{From: at, To: at, Probes: 1}
			case d.status != StatusOK:
				run.To, run.Probes = at, run.Probes+1
			case run != nil:
				run.To = at
				ar.Outages = append(ar.Outages, *run)
				run = nil
			}
		}
	}
	if run != nil {
		ar.Outages = append(ar.Outages, *run)
	}
	for _, st := range FailureStatuses {
		ar.ByStatus = append(ar.ByStatus, StatusCount{Status: st, Name: StatusName(st), N: counts[st]})
	}
	if ar.Calls > 0 {
		ar.ErrorRate = float64(ar.Failures) / float64(ar.Calls)
	}
	slices.Sort(lat)
	ar.P50, ar.P95 = percentile(lat, 50), percentile(lat, 95)
	if len(lat) > 0 {
		ar.Max = time.Duration(lat[len(lat)-1]) * time.Microsecond
	}
}

// anomalies says, in Chinese, what the inspector should look at.
func anomalies(ar AgencyReport, c Connector, configured, work bool, from, to time.Time) []string {
	var out []string
	if ar.ErrorRate > ErrorRateAlarm {
		out = append(out, fmt.Sprintf("错误率 %.1f%%，超过 %.0f%%（%d 次调用中 %d 次失败）", ar.ErrorRate*100, ErrorRateAlarm*100,
			ar.Calls, ar.Failures))
	}
	if ar.P95 > SlowP95 {
		out = append(out, fmt.Sprintf("P95 延迟 %.1f 秒，超过 %.0f 秒", ar.P95.Seconds(), SlowP95.Seconds()))
	}
	refused := 0
	for _, sc := range ar.ByStatus {
		if sc.Status == StatusBreakerOpen {
			refused = sc.N
		}
	}
	switch {
	case refused > 0:
		out = append(out, fmt.Sprintf("熔断器曾打开：%d 次调用因熔断未发出", refused))
	case configured && c.Breaker != "closed" && !c.BreakerAt.Before(from) && c.BreakerAt.Before(to):
		out = append(out, fmt.Sprintf("熔断器于 %s 打开", c.BreakerAt.In(clock.Beijing).Format("15:04")))
	}
	for _, o := range ar.Outages {
		if o.Duration() >= OutageAlarm {
			out = append(out, fmt.Sprintf("接口中断约 %d 分钟（%s—%s，连续 %d 次探测失败）", int(o.Duration().Minutes()),
				o.From.In(clock.Beijing).Format("15:04"), o.To.In(clock.Beijing).Format("15:04"), o.Probes))
		}
	}
	if work && ar.Enabled && ar.Queries == 0 {
		if ar.Calls == 0 {
			out = append(out, "当日有比对任务，但全天没有任何调用")
		} else {
			out = append(out, "当日有比对任务，但没有查询调用（只有探测）")
		}
	}
	return out
}

// ReportCSVHeader is the header of the summary table of the CSV report.
var ReportCSVHeader = []string{"日期", "委办局代码", "委办局", "调用次数", "查询", "探测", "失败", "错误率(%)",
	"错误", "超时", "被限流", "对方停机", "被拒绝", "熔断未调用", "P50(毫秒)", "P95(毫秒)", "最大(毫秒)", "异常"}

// SlowestCSVHeader is the header of the slowest-calls table of the CSV report.
var SlowestCSVHeader = []string{"委办局代码", "调用序号", "时间(北京时间)", "类型", "延迟(毫秒)", "结果", "HTTP状态",
	"比对批次", "任务", "申请编号起", "申请编号止", "人数", "第几次尝试", "错误", "应答摘要(SM3)"}

// DailyReportCSV writes the report of the day as CSV: a summary row per
// agency, a blank row, then the slowest calls. UTF-8 with a byte-order mark
// so Excel reads the Chinese; cells a spreadsheet would run as a formula are
// neutralised as in the audit export.
func (s *Service) DailyReportCSV(ctx context.Context, day time.Time, w io.Writer) error {
	r, err := s.DailyReport(ctx, day)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	write := func(rec []string) {
		for i := range rec {
			rec[i] = audit.SafeCell(rec[i])
		}
		_ = cw.Write(rec) // the error sticks in cw and is checked at the end
	}
	write(slices.Clone(ReportCSVHeader))
	date := r.Day.Format("2006-01-02")
	for _, a := range r.Agencies {
		rec := []string{date, a.Agency, a.Name, strconv.Itoa(a.Calls), strconv.Itoa(a.Queries), strconv.Itoa(a.Probes),
			strconv.Itoa(a.Failures), strconv.FormatFloat(a.ErrorRate*100, 'f', 2, 64)}
		for _, sc := range a.ByStatus {
			rec = append(rec, strconv.Itoa(sc.N))
		}
		rec = append(rec, ms(a.P50), ms(a.P95), ms(a.Max), strings.Join(a.Anomalies, "；"))
		write(rec)
	}
	write([]string{})
	write(slices.Clone(SlowestCSVHeader))
	for _, a := range r.Agencies {
		for _, c := range a.Slowest {
			write([]string{c.Agency, strconv.FormatInt(c.ID, 10), c.At.In(clock.Beijing).Format("2006-01-02 15:04:05.000"), c.Kind,
				ms(c.Latency), c.Status, strconv.Itoa(c.HTTPStatus), strconv.FormatInt(c.RunID, 10), strconv.FormatInt(c.JobID, 10),
				strconv.FormatInt(c.AppFrom, 10), strconv.FormatInt(c.AppTo, 10), strconv.Itoa(c.Subjects), strconv.Itoa(c.Attempt),
				c.Error, c.Digest})
		}
	}
	cw.Flush()
	return cw.Error()
}

// ms formats a duration in milliseconds with one decimal.
func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64)
}
