package office

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"jifen/internal/account"
	"jifen/internal/monitor"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/chart"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/web"
	"jifen/internal/surface/shell"
)

// OpsPages are the operations pages of the system administrator (运行维护,
// docs/operations.md): monitoring with alert rules, fault records, and the
// quarterly maintenance report. The domain (monitor.Service) checks
// config.manage again.
type OpsPages struct {
	sh      *shell.Shell
	mon     *monitor.Service
	backups monitor.Backups
}

// NewOps returns the operations pages; backups lists a period's backups
// for the quarterly report (nil: none).
func NewOps(sh *shell.Shell, m *monitor.Service, backups monitor.Backups) *OpsPages {
	return &OpsPages{sh: sh, mon: m, backups: backups}
}

// Register adds the routes.
func (p *OpsPages) Register(mux *web.Mux) {
	sh, perm := p.sh, account.PermConfigManage
	mux.Handle("GET /office/ops/monitor", sh.RequireUser(perm, p.monitorPage))
	mux.Handle("GET /api/v1/office/ops/monitor", sh.RequireUser(perm, p.monitorAPI))
	mux.Handle("POST /office/ops/alerts/{id}", sh.RequireUser(perm, p.ruleSave))
	mux.Handle("GET /office/ops/faults", sh.RequireUser(perm, p.faultsPage))
	mux.Handle("POST /office/ops/faults", sh.RequireUser(perm, p.faultOpen))
	mux.Handle("GET /office/ops/faults/{id}", sh.RequireUser(perm, p.faultPage))
	mux.Handle("POST /office/ops/faults/{id}/{action}", sh.RequireUser(perm, p.faultAction))
	// An attachment (up to MaxAttachment) rides on the action route.
	mux.AllowBody("POST /office/ops/faults/{id}/{action}", monitor.MaxAttachment+1<<20)
	mux.Handle("GET /office/ops/faults/{id}/files/{file}", sh.RequireUser(perm, p.faultFile))
	mux.Handle("GET /office/ops/quarterly", sh.RequireUser(perm, p.quarterlyPage))
	mux.Handle("GET /office/ops/quarterly.xlsx", sh.RequireUser(perm, p.quarterlyExcel))
}

// The charts of the monitoring page, in order.
var monitorCharts = []string{"cpu_pct", "mem_used_pct", "disk_free_pct", "http_rpm", "http_p95_ms", "http_5xx_pct",
	"jobs_oldest_min", "mail_backlog", "db_size_mb", "rss_mb"}

type monitorView struct {
	Now      []currentView
	Alerts   []alertView
	Rules    []ruleView
	Span     string // 24h | 7d
	Charts   []chartView
	Checked  string
	NoFigure bool
}

type currentView struct {
	Name, Value string
	Bad         bool
}

type alertView struct {
	monitor.Alert
	SeverityName, Started, Resolved string
}

type ruleView struct {
	monitor.Rule
	MetricName string
	Firing     bool
}

type chartView struct {
	Title string
	SVG   template.HTML
	Rows  []chartRow
}

type chartRow struct{ At, Value string }

func fmtNum(v float64) string {
	if v == float64(int64(v)) {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func (p *OpsPages) monitorPage(w http.ResponseWriter, r *http.Request) {
	ctx, by := r.Context(), shell.Actor(r.Context())
	cur, err := p.mon.Now(ctx, by)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	rules, err := p.mon.Rules(ctx)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	alerts, err := p.mon.Alerts(ctx, 20)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	v := monitorView{Span: r.URL.Query().Get("span"), Checked: p.sh.Clock.Now().In(clock.Beijing).Format("2006-01-02 15:04:05")}
	if v.Span != "7d" {
		v.Span = "24h"
	}
	firing := map[int64]bool{}
	for _, a := range alerts {
		av := alertView{Alert: a, SeverityName: monitor.SeverityNames[a.Severity], Started: a.StartedAt.In(clock.Beijing).Format("01-02 15:04")}
		if !a.ResolvedAt.IsZero() {
			av.Resolved = a.ResolvedAt.In(clock.Beijing).Format("01-02 15:04")
		}
		if a.State == "firing" {
			firing[a.RuleID] = true
		}
		v.Alerts = append(v.Alerts, av)
	}
	byMetric := map[string][]monitor.Rule{}
	for _, rl := range rules {
		byMetric[rl.Metric] = append(byMetric[rl.Metric], rl)
		v.Rules = append(v.Rules, ruleView{Rule: rl, MetricName: monitor.MetricName(rl.Metric), Firing: firing[rl.ID]})
	}
	sort.Slice(cur, func(i, j int) bool { return monitor.MetricName(cur[i].Metric) < monitor.MetricName(cur[j].Metric) })
	for _, c := range cur {
		cv := currentView{Name: monitor.MetricName(c.Metric), Value: fmtNum(c.Value)}
		for _, rl := range byMetric[c.Metric] {
			if rl.Enabled && ((rl.Op == ">" && c.Value > rl.Threshold) || (rl.Op == "<" && c.Value < rl.Threshold)) {
				cv.Bad = true
			}
		}
		v.Now = append(v.Now, cv)
	}
	v.NoFigure = len(cur) == 0
	span, step, layout := 24*time.Hour, 10*time.Minute, "15:04"
	if v.Span == "7d" {
		span, step, layout = 7*24*time.Hour, time.Hour, "01-02 15时"
	}
	for _, m := range monitorCharts {
		pts, err := p.mon.Series(ctx, by, m, span, step)
		if err != nil {
			web.WriteError(w, r, err)
			return
		}
		if len(pts) == 0 {
			continue
		}
		cats := make([]string, len(pts))
		vals := make([]float64, len(pts))
		cv := chartView{Title: monitor.MetricName(m)}
		for i, pt := range pts {
			cats[i], vals[i] = pt.At.In(clock.Beijing).Format(layout), pt.Value
		}
		// The table beside the chart: at most 24 lines (every n-th point).
		every := max(1, len(pts)/24)
		for i := len(pts) - 1; i >= 0; i -= every {
			cv.Rows = append(cv.Rows, chartRow{At: cats[i], Value: fmtNum(float64(int64(vals[i]*10)) / 10)})
		}
		cv.SVG = chart.Line(cv.Title, cats, []chart.Series{{Name: cv.Title, Values: vals}}, "")
		v.Charts = append(v.Charts, cv)
	}
	pg := p.sh.Page(r, "运行监控")
	pg.Data = v
	p.sh.Render(w, r, http.StatusOK, "office_ops_monitor", pg)
}

func (p *OpsPages) monitorAPI(w http.ResponseWriter, r *http.Request) {
	ctx, by := r.Context(), shell.Actor(r.Context())
	cur, err := p.mon.Now(ctx, by)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	alerts, err := p.mon.Alerts(ctx, 50)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, map[string]any{"now": cur, "alerts": alerts})
}

func (p *OpsPages) ruleSave(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	th, err := strconv.ParseFloat(strings.TrimSpace(r.FormValue("threshold")), 64)
	if err != nil {
		web.WriteError(w, r, apperr.Field("threshold", "阈值应为数字"))
		return
	}
	rl := monitor.Rule{ID: id, Threshold: th, ForMinutes: formInt(r.FormValue("for_minutes")), Severity: r.FormValue("severity"),
		Enabled: r.FormValue("enabled") == "on", Version: formInt(r.FormValue("version"))}
	if err := p.mon.SetRule(r.Context(), shell.Actor(r.Context()), rl); err != nil {
		web.WriteError(w, r, err)
		return
	}
	p.sh.Flash(w, r, "/office/ops/monitor#rules", "saved")
}

type faultsView struct {
	Faults []faultView
}

type faultView struct {
	monitor.Fault
	SeverityName, StatusName, Started, Ended string
	Events                                   []eventView
	CanReview                                bool
	Files                                    []fileView
}

type fileView struct {
	monitor.Attachment
	Size string
}

type eventView struct {
	monitor.FaultEvent
	When string
}

func viewFault(f monitor.Fault, me int64) faultView {
	fv := faultView{Fault: f, SeverityName: monitor.SeverityNames[f.Severity], StatusName: monitor.FaultStatusNames[f.Status],
		Started: f.StartedAt.In(clock.Beijing).Format("2006-01-02 15:04"), Ended: "未结束"}
	if !f.EndedAt.IsZero() {
		fv.Ended = f.EndedAt.In(clock.Beijing).Format("2006-01-02 15:04")
	}
	for _, e := range f.Events {
		fv.Events = append(fv.Events, eventView{FaultEvent: e, When: e.At.In(clock.Beijing).Format("2006-01-02 15:04")})
	}
	fv.CanReview = f.Status == "review" && f.SubmittedBy != me
	return fv
}

func (p *OpsPages) faultsPage(w http.ResponseWriter, r *http.Request) {
	p.renderFaults(w, r, http.StatusOK, nil)
}

func (p *OpsPages) renderFaults(w http.ResponseWriter, r *http.Request, status int, formErr error) {
	by := shell.Actor(r.Context())
	fs, err := p.mon.Faults(r.Context(), by, time.Time{}, time.Time{})
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	var v faultsView
	for _, f := range fs {
		v.Faults = append(v.Faults, viewFault(f, by.UserID))
	}
	pg := p.sh.Page(r, "故障记录")
	if formErr != nil {
		pg.SetError(formErr)
		for _, k := range []string{"title", "severity", "impact"} {
			pg.Form[k] = r.FormValue(k)
		}
	}
	pg.Data = v
	p.sh.Render(w, r, status, "office_ops_faults", pg)
}

func (p *OpsPages) faultOpen(w http.ResponseWriter, r *http.Request) {
	id, err := p.mon.OpenFault(r.Context(), shell.Actor(r.Context()), r.FormValue("title"), r.FormValue("severity"), r.FormValue("impact"))
	if err != nil {
		if shownHere(err) {
			p.renderFaults(w, r, web.Status(err), err)
			return
		}
		web.WriteError(w, r, err)
		return
	}
	p.sh.Flash(w, r, fmt.Sprintf("/office/ops/faults/%d", id), "created")
}

func (p *OpsPages) faultPage(w http.ResponseWriter, r *http.Request) {
	p.renderFault(w, r, http.StatusOK, nil)
}

func (p *OpsPages) renderFault(w http.ResponseWriter, r *http.Request, status int, formErr error) {
	by := shell.Actor(r.Context())
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	f, err := p.mon.Fault(r.Context(), by, id)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	files, err := p.mon.Attachments(r.Context(), by, id)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	pg := p.sh.Page(r, "故障记录："+f.Title)
	if formErr != nil {
		pg.SetError(formErr)
	}
	fv := viewFault(*f, by.UserID)
	for _, a := range files {
		fv.Files = append(fv.Files, fileView{Attachment: a, Size: fmt.Sprintf("%.1f KB", float64(a.Size)/1024)})
	}
	pg.Data = fv
	p.sh.Render(w, r, status, "office_ops_fault", pg)
}

func (p *OpsPages) faultAction(w http.ResponseWriter, r *http.Request) {
	ctx, by := r.Context(), shell.Actor(r.Context())
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	version := formInt(r.FormValue("version"))
	var err error
	switch r.PathValue("action") {
	case "update":
		err = p.mon.UpdateFault(ctx, by, id, monitor.FaultUpdate{Impact: r.FormValue("impact"), Cause: r.FormValue("cause"),
			Fix: r.FormValue("fix"), Followups: r.FormValue("followups"), Note: r.FormValue("note"), Version: version})
	case "submit":
		err = p.mon.SubmitFault(ctx, by, id, version)
	case "approve":
		err = p.mon.ReviewFault(ctx, by, id, version, true, "")
	case "return":
		err = p.mon.ReviewFault(ctx, by, id, version, false, r.FormValue("reason"))
	case "attach":
		err = p.attach(r, id)
	default:
		web.WriteError(w, r, apperr.New(apperr.NotFound, "没有这个操作"))
		return
	}
	if err != nil {
		if shownHere(err) {
			p.renderFault(w, r, web.Status(err), err)
			return
		}
		web.WriteError(w, r, err)
		return
	}
	p.sh.Flash(w, r, fmt.Sprintf("/office/ops/faults/%d", id), "saved")
}

type quarterView struct {
	Q                          string
	Report                     *monitor.Quarter
	Title                      string
	Metrics                    []summaryView
	Faults                     []faultView
	Availability, AgencyAvail  string
	Alerts, Permissions        []countView
	Backups                    []backupView
	PrevQ, NextQ, PeriodString string
}

type summaryView struct{ Name, Mean, Min, Max string }
type countView struct {
	Name string
	N    int
}
type backupView struct{ At, OK, Size, Drill string }

func (p *OpsPages) quarter(r *http.Request) (*monitor.Quarter, error) {
	q := r.URL.Query().Get("q")
	if q == "" {
		now := p.sh.Clock.Now().In(clock.Beijing)
		q = fmt.Sprintf("%d-%d", now.Year(), (int(now.Month())-1)/3+1)
	}
	year, n, err := monitor.QuarterOf(q)
	if err != nil {
		return nil, err
	}
	return p.mon.Quarterly(r.Context(), shell.Actor(r.Context()), year, n, p.backups)
}

func (p *OpsPages) quarterlyPage(w http.ResponseWriter, r *http.Request) {
	rep, err := p.quarter(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	v := quarterView{Report: rep, Q: fmt.Sprintf("%d-%d", rep.Year, rep.Q), Title: fmt.Sprintf("%d年第%d季度维护工作报告", rep.Year, rep.Q),
		Availability: fmt.Sprintf("%.2f%%", 100*rep.Availability), AgencyAvail: fmt.Sprintf("%.2f%%", 100*rep.AgencyAvailability),
		PeriodString: rep.From.Format("2006-01-02") + " 至 " + rep.To.AddDate(0, 0, -1).Format("2006-01-02")}
	py, pq := rep.Year, rep.Q-1
	if pq == 0 {
		py, pq = py-1, 4
	}
	ny, nq := rep.Year, rep.Q+1
	if nq == 5 {
		ny, nq = ny+1, 1
	}
	v.PrevQ, v.NextQ = fmt.Sprintf("%d-%d", py, pq), fmt.Sprintf("%d-%d", ny, nq)
	for _, m := range rep.Metrics {
		v.Metrics = append(v.Metrics, summaryView{Name: monitor.MetricName(m.Metric), Mean: fmtNum(m.Mean), Min: fmtNum(m.Min), Max: fmtNum(m.Max)})
	}
	me := shell.Actor(r.Context()).UserID
	for _, f := range rep.Faults {
		v.Faults = append(v.Faults, viewFault(f, me))
	}
	for k, n := range rep.Alerts {
		v.Alerts = append(v.Alerts, countView{k, n})
	}
	for k, n := range rep.Permissions {
		v.Permissions = append(v.Permissions, countView{k, n})
	}
	sort.Slice(v.Alerts, func(i, j int) bool { return v.Alerts[i].Name < v.Alerts[j].Name })
	sort.Slice(v.Permissions, func(i, j int) bool { return v.Permissions[i].Name < v.Permissions[j].Name })
	for _, b := range rep.Backups {
		ok := "成功"
		if !b.OK {
			ok = "失败"
		}
		v.Backups = append(v.Backups, backupView{At: b.At.In(clock.Beijing).Format("2006-01-02 15:04"), OK: ok, Size: fmt.Sprintf("%.1f MB", b.SizeMB), Drill: b.Drill})
	}
	pg := p.sh.Page(r, v.Title)
	pg.Data = v
	p.sh.Render(w, r, http.StatusOK, "office_ops_quarterly", pg)
}

func (p *OpsPages) quarterlyExcel(w http.ResponseWriter, r *http.Request) {
	rep, err := p.quarter(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	var buf bytes.Buffer
	if err := rep.WriteExcel(&buf); err != nil {
		web.WriteError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="maintenance-%d-Q%d.xlsx"`, rep.Year, rep.Q))
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

// attach reads one uploaded file (multipart field "file") onto the record.
func (p *OpsPages) attach(r *http.Request, id int64) error {
	f, hdr, err := r.FormFile("file")
	if err != nil {
		if web.IsTooLarge(err) {
			return apperr.Field("file", fmt.Sprintf("附件不能超过 %d MB", monitor.MaxAttachment>>20))
		}
		return apperr.Field("file", "请选择要上传的文件")
	}
	defer func() { _ = f.Close() }()
	return p.mon.Attach(r.Context(), shell.Actor(r.Context()), id, hdr.Filename, f)
}

// faultFile downloads an attachment (always as a download: the office never
// renders an uploaded file in its own origin).
func (p *OpsPages) faultFile(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	fid, _ := strconv.ParseInt(r.PathValue("file"), 10, 64)
	a, rc, err := p.mon.OpenAttachment(r.Context(), shell.Actor(r.Context()), id, fid)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	defer func() { _ = rc.Close() }()
	ct := a.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition", "attachment; filename*=UTF-8''"+url.PathEscape(a.Name))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.Copy(w, rc)
}
