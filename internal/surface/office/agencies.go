package office

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"jifen/internal/account"
	"jifen/internal/agency"
	"jifen/internal/agencyops"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/jobs"
	"jifen/internal/platform/web"
	"jifen/internal/surface/shell"
	"jifen/internal/surface/ui"
)

// WithAgencies gives the office the agencies' operations service: the
// status page, connector settings, call log and inspection report.
func (o *Office) WithAgencies(s *agencyops.Service) *Office {
	o.agencies = s
	return o
}

// QueueSource reports how much work of each kind waits in one queue.
type QueueSource func(ctx context.Context) ([]jobs.KindDepth, error)

// WithQueues gives the office the queues whose depth the agency status page
// shows.
func (o *Office) WithQueues(sources ...QueueSource) *Office {
	o.queues = append(o.queues, sources...)
	return o
}

// jobKindNames are the job kinds in Chinese.
var jobKindNames = map[string]string{
	"schedule": "定时任务（会话清理、委办局探测、日志留存、单项核验）", "check_query": "业务比对：查询委办局",
	"check_score": "业务比对：计分", "check_apply": "业务比对：结果生效", "check_precheck": "预核验：查询委办局",
	"mail_send": "发送邮件", "mail_sweep": "邮件重发检查",
}

// queueRow is one job kind's line on the status page.
type queueRow struct {
	Kind, Name                 string
	Waiting, Running, Failures int64
	Oldest                     time.Time
	Age                        string
}

// queueRows reads every queue's depth; a failure leaves the section out
// rather than the page.
func (o *Office) queueRows(ctx context.Context, now time.Time) []queueRow {
	var out []queueRow
	for _, src := range o.queues {
		ds, err := src(ctx)
		if err != nil {
			continue
		}
		for _, d := range ds {
			r := queueRow{Kind: d.Kind, Name: jobKindNames[d.Kind], Waiting: d.Waiting, Running: d.Running, Failures: d.Failures, Oldest: d.Oldest}
			if r.Name == "" {
				r.Name = "其他任务" // the code is shown under the name
			}
			if !d.Oldest.IsZero() {
				r.Age = fmtAge(now.Sub(d.Oldest))
			}
			out = append(out, r)
		}
	}
	return out
}

// fmtAge says how long a job has waited, in Chinese.
func fmtAge(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d秒", max(int(d/time.Second), 0))
	case d < time.Hour:
		return fmt.Sprintf("%d分钟", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d小时", int(d/time.Hour))
	}
	return fmt.Sprintf("%d天", int(d/(24*time.Hour)))
}

// registerAgencies adds the cross-check operations pages (业务比对运维).
func (o *Office) registerAgencies(mux *web.Mux) {
	if o.agencies == nil {
		return
	}
	sh := o.sh
	mux.Handle("GET /office/agencies", sh.RequireUser(account.PermCheckMonitor, o.agencyStatus))
	mux.Handle("GET /office/agencies/{agency}", sh.RequireUser(account.PermConfigManage, o.agencyEdit))
	mux.Handle("POST /office/agencies/{agency}", sh.RequireUser(account.PermConfigManage, o.agencySave))
	mux.Handle("GET /office/calls", sh.RequireUser(account.PermCheckMonitor, o.agencyCalls))
	mux.Handle("GET /office/inspection", sh.RequireUser(account.PermCheckMonitor, o.inspection))
	mux.Handle("GET /office/inspection.csv", sh.RequireUser(account.PermCheckMonitor, o.inspectionCSV))
}

// agencyBanner names the agencies that are down or slow, for the office
// home of users who watch them. A failure here must not break the home page.
func (o *Office) agencyBanner(r *http.Request) []string {
	if o.agencies == nil || !shell.User(r.Context()).Can(account.PermCheckMonitor) {
		return nil
	}
	hs, err := o.agencies.Banner(r.Context())
	if err != nil {
		o.sh.Log.Error("agency banner", "err", err, "request_id", web.RequestID(r.Context()))
		return nil
	}
	var out []string
	for _, h := range hs {
		state := "中断"
		if h.Up {
			state = "缓慢"
		}
		out = append(out, h.Name+"（"+state+"）")
	}
	return out
}

// fmtMS shows a latency in milliseconds, "—" when there was none.
func fmtMS(d time.Duration) string {
	if d == 0 {
		return "—"
	}
	if d >= 10*time.Second {
		return strconv.FormatInt(d.Milliseconds(), 10)
	}
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64)
}

// fmtRate shows an error rate in percent, "—" with no calls.
func fmtRate(w agencyops.WindowStats) string {
	if w.Calls == 0 {
		return "—"
	}
	return strconv.FormatFloat(w.ErrorRate*100, 'f', 1, 64) + "%"
}

// fmtLatencies shows p50 / p95 / p99 of a window in milliseconds.
func fmtLatencies(w agencyops.WindowStats) string {
	if w.P50 == 0 && w.P99 == 0 {
		return "—"
	}
	return fmtMS(w.P50) + " / " + fmtMS(w.P95) + " / " + fmtMS(w.P99)
}

var breakerNames = map[string]string{"closed": "闭合（正常）", "open": "打开（暂停调用）", "half-open": "半开（试探中）"}

func breakerName(b string) string {
	if n, ok := breakerNames[b]; ok {
		return n
	}
	return b
}

type agencyRow struct {
	Agency, Name           string
	State, StateClass      string
	Reasons                string
	Lat5, LatH, LatD       string // "p50 / p95 / p99" of 5 minutes, 1 hour, 24 hours
	Rate5, RateH, RateD    string
	Calls5, CallsH, CallsD int
	Breaker                string
	LastError              string
	LastErrorAt            time.Time
	ErrChart, LatChart     template.HTML // the last 24 hours' trend lines, "" without calls
}

type agenciesView struct {
	Now      time.Time
	Rows     []agencyRow
	CanEdit  bool
	Queues   []queueRow
	HasTrend bool // some agency was called in the last 24 hours
}

func (o *Office) agencyStatus(w http.ResponseWriter, r *http.Request) {
	hs, err := o.agencies.Health(r.Context())
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	v := agenciesView{Now: o.agencies.Now(), CanEdit: shell.User(r.Context()).Can(account.PermConfigManage)}
	v.Queues = o.queueRows(r.Context(), v.Now)
	for _, h := range hs {
		w5, w1, w24 := h.Last5m(), h.Last1h(), h.Last24h()
		row := agencyRow{Agency: h.Agency, Name: h.Name, Reasons: strings.Join(h.Reasons, "；"),
			Lat5: fmtLatencies(w5), LatH: fmtLatencies(w1), LatD: fmtLatencies(w24),
			Rate5: fmtRate(w5), RateH: fmtRate(w1), RateD: fmtRate(w24), Calls5: w5.Calls, CallsH: w1.Calls, CallsD: w24.Calls,
			Breaker: breakerName(h.Breaker), LastError: h.LastError, LastErrorAt: h.LastErrorAt}
		row.ErrChart, row.LatChart = trendCharts(h)
		v.HasTrend = v.HasTrend || row.ErrChart != ""
		switch {
		case !h.Configured:
			row.State, row.StateClass = "未配置", "badge-muted"
		case !h.Enabled:
			row.State, row.StateClass = "已停用", "badge-muted"
		case !h.Up:
			row.State, row.StateClass = "中断", "badge-err"
		case h.Slow:
			row.State, row.StateClass = "缓慢", "badge-warn"
		default:
			row.State, row.StateClass = "正常", "badge-ok"
		}
		v.Rows = append(v.Rows, row)
	}
	p := o.sh.Page(r, "委办局接口状态")
	p.Data = v
	o.sh.Render(w, r, http.StatusOK, "office_agencies", p)
}

type agencyFormView struct {
	Agency, Name string
	Action       string
	KeySet       bool
	Exists       bool
	Conn         agencyops.Connector
	Breaker      string
	Fields       []ui.FieldView
	Enabled      bool
}

// agencyOf reads the agency in the path; an unknown one is a 404.
func agencyOf(r *http.Request) (string, error) {
	a := r.PathValue("agency")
	if !agency.Known(a) {
		return "", apperr.New(apperr.NotFound, "没有该委办局")
	}
	return a, nil
}

func (o *Office) agencyEdit(w http.ResponseWriter, r *http.Request) {
	a, err := agencyOf(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	c, err := o.agencies.Connector(r.Context(), a)
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		web.WriteError(w, r, err)
		return
	}
	if err != nil { // not configured yet: the engine's defaults
		c = agencyops.Connector{Agency: a, Name: agency.Name(a), RatePerSec: 20, TimeoutMS: 10000, Retries: 3, BatchSize: 250, Enabled: true}
	}
	form := map[string]string{"base_url": c.BaseURL, "rate_per_sec": strconv.Itoa(c.RatePerSec), "timeout_ms": strconv.Itoa(c.TimeoutMS),
		"retries": strconv.Itoa(c.Retries), "batch_size": strconv.Itoa(c.BatchSize)}
	if c.Enabled {
		form["enabled"] = "on"
	}
	o.renderAgencyForm(w, r, http.StatusOK, c, err == nil, form, nil)
}

func (o *Office) renderAgencyForm(w http.ResponseWriter, r *http.Request, status int, c agencyops.Connector, exists bool,
	form map[string]string, err error) {
	p := o.sh.Page(r, "委办局接口配置："+c.Name)
	p.Form = form
	if err != nil {
		p.SetError(err)
	}
	keyHint := "未设置。委办局提供的签名密钥（HMAC-SM3）"
	if c.KeySet {
		keyHint = "已设置（出于安全考虑不再显示）。留空则保留原密钥，填写则替换"
	}
	key := p.H("key", "签名密钥（选填）", "password", "new-password", keyHint)
	key.Required, key.Value = false, "" // the key never goes back to the browser
	v := agencyFormView{Agency: c.Agency, Name: c.Name, Action: "/office/agencies/" + c.Agency, KeySet: c.KeySet, Exists: exists,
		Conn: c, Breaker: breakerName(c.Breaker), Enabled: form["enabled"] == "on", Fields: []ui.FieldView{
			p.H("base_url", "接口地址", "url", "off", "以 http:// 或 https:// 开头，如 https://gaj.bj.gov.cn/jifen"),
			key,
			p.H("rate_per_sec", "每秒调用上限", "number", "off", fmt.Sprintf("%d 到 %d 次/秒，所有服务器合计", agencyops.MinRate, agencyops.MaxRate)),
			p.H("timeout_ms", "超时时间（毫秒）", "number", "off", fmt.Sprintf("%d 到 %d 毫秒（0.1 秒到 120 秒）", agencyops.MinTimeout, agencyops.MaxTimeout)),
			p.H("retries", "失败重试次数", "number", "off", fmt.Sprintf("%d 到 %d 次", agencyops.MinRetries, agencyops.MaxRetries)),
			p.H("batch_size", "每批人数", "number", "off", fmt.Sprintf("一次查询的人数，%d 到 %d", agencyops.MinBatch, agencyops.MaxBatch)),
		}}
	p.Data = v
	o.sh.Render(w, r, status, "office_agency_edit", p)
}

// formInt parses a whole number; anything else becomes -1, which every
// setting refuses with its own message naming the allowed range.
func formInt(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return -1
	}
	return n
}

func (o *Office) agencySave(w http.ResponseWriter, r *http.Request) {
	a, err := agencyOf(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	_ = r.ParseForm()
	form := map[string]string{}
	for _, k := range []string{"base_url", "rate_per_sec", "timeout_ms", "retries", "batch_size", "enabled"} {
		form[k] = strings.TrimSpace(r.PostFormValue(k))
	}
	in := agencyops.ConnectorInput{BaseURL: form["base_url"], Key: r.PostFormValue("key"), RatePerSec: formInt(form["rate_per_sec"]),
		TimeoutMS: formInt(form["timeout_ms"]), Retries: formInt(form["retries"]), BatchSize: formInt(form["batch_size"]),
		Enabled: form["enabled"] == "on"}
	_, err = o.agencies.UpdateConnector(r.Context(), shell.Actor(r.Context()), a, in)
	if err == nil {
		o.sh.Flash(w, r, "/office/agencies", "saved")
		return
	}
	if apperr.CodeOf(err) != apperr.Invalid {
		web.WriteError(w, r, err)
		return
	}
	c, cerr := o.agencies.Connector(r.Context(), a)
	if cerr != nil && !apperr.Is(cerr, apperr.NotFound) {
		web.WriteError(w, r, cerr)
		return
	}
	if cerr != nil {
		c = agencyops.Connector{Agency: a, Name: agency.Name(a)}
	}
	o.renderAgencyForm(w, r, http.StatusBadRequest, c, cerr == nil, form, err)
}

type callRow struct {
	agencyops.Call
	Time    string
	Latency string
	Digest  string // shortened for the table; the full value is in the title
}

type callsView struct {
	Agencies []option
	Statuses []option
	Calls    []callRow
	MoreURL  string
}

type option struct{ Value, Label string }

// callFilter reads the filter from the query string, so a search is a link
// that can be kept and shared. Times are Beijing time.
func callFilter(r *http.Request) (agencyops.CallFilter, map[string]string, error) {
	q := r.URL.Query()
	form := map[string]string{}
	for _, k := range []string{"from", "to", "agency", "kind", "status", "app", "run"} {
		form[k] = strings.TrimSpace(q.Get(k))
	}
	f := agencyops.CallFilter{Agency: form["agency"], Kind: form["kind"], Status: form["status"]}
	var fe []apperr.FieldError
	parseTime := func(k, label string) time.Time {
		if form[k] == "" {
			return time.Time{}
		}
		for _, layout := range []string{localLayout, "2006-01-02T15:04:05", "2006-01-02"} {
			if t, err := time.ParseInLocation(layout, form[k], clock.Beijing); err == nil {
				return t
			}
		}
		fe = append(fe, apperr.FieldError{Field: k, Message: label + "格式应为 2026-03-01T09:30（北京时间）"})
		return time.Time{}
	}
	f.From, f.To = parseTime("from", "开始时间"), parseTime("to", "结束时间")
	parseID := func(k, msg string) int64 {
		if form[k] == "" {
			return 0
		}
		n, err := strconv.ParseInt(form[k], 10, 64)
		if err != nil || n <= 0 {
			fe = append(fe, apperr.FieldError{Field: k, Message: msg})
		}
		return n
	}
	f.AppID = parseID("app", "申请编号应为正整数")
	f.RunID = parseID("run", "比对批次编号应为正整数")
	// The page cursor is "<at in Unix microseconds>_<id>" of the last call shown.
	if at, id, ok := strings.Cut(q.Get("before"), "_"); ok {
		us, err1 := strconv.ParseInt(at, 10, 64)
		n, err2 := strconv.ParseInt(id, 10, 64)
		if err1 == nil && err2 == nil && n > 0 {
			f.BeforeAt, f.BeforeID = time.UnixMicro(us), n
		}
	}
	f.Limit = agencyops.DefaultCallLimit
	return f, form, apperr.Fields(fe)
}

func (o *Office) agencyCalls(w http.ResponseWriter, r *http.Request) {
	f, form, err := callFilter(r)
	p := o.sh.Page(r, "比对接口日志")
	p.Form = form
	v := callsView{}
	for _, a := range agency.Codes() {
		v.Agencies = append(v.Agencies, option{a, agency.Name(a)})
	}
	for _, s := range agencyops.Statuses {
		v.Statuses = append(v.Statuses, option{s, agencyops.StatusName(s)})
	}
	var calls []agencyops.Call
	if err == nil {
		calls, err = o.agencies.SearchCalls(r.Context(), f)
	}
	status := http.StatusOK
	if err != nil {
		if apperr.CodeOf(err) != apperr.Invalid {
			web.WriteError(w, r, err)
			return
		}
		p.SetError(err)
		status = http.StatusBadRequest
	}
	for _, c := range calls {
		row := callRow{Call: c, Time: c.At.In(clock.Beijing).Format("2006-01-02 15:04:05.000"), Latency: fmtMS(c.Latency), Digest: c.Digest}
		if len(row.Digest) > 16 {
			row.Digest = row.Digest[:16] + "…"
		}
		v.Calls = append(v.Calls, row)
	}
	if len(calls) == f.Limit {
		q := r.URL.Query()
		last := calls[len(calls)-1]
		q.Set("before", strconv.FormatInt(last.At.UnixMicro(), 10)+"_"+strconv.FormatInt(last.ID, 10))
		v.MoreURL = "/office/calls?" + q.Encode()
	}
	p.Data = v
	o.sh.Render(w, r, status, "office_calls", p)
}

type inspectionView struct {
	Day       string
	Prev      string
	Next      string
	CSVURL    string
	Report    agencyops.Report
	Rows      []inspectionRow
	Anomalies int
	Partial   bool      // the day is not over yet
	AsOf      time.Time // now, for a partial day
}

type inspectionRow struct {
	agencyops.AgencyReport
	Rate          string
	P50, P95, Max string
	Slow          []callRow
}

// inspectionDay reads ?day=YYYY-MM-DD (Beijing); the default is yesterday,
// the last whole day.
func (o *Office) inspectionDay(r *http.Request) (time.Time, error) {
	s := strings.TrimSpace(r.URL.Query().Get("day"))
	if s == "" {
		return agencyops.DayOf(o.agencies.Now()).AddDate(0, 0, -1), nil
	}
	t, err := time.ParseInLocation("2006-01-02", s, clock.Beijing)
	if err != nil {
		return time.Time{}, apperr.Field("day", "日期格式应为 2026-03-01")
	}
	return t, nil
}

func (o *Office) inspection(w http.ResponseWriter, r *http.Request) {
	p := o.sh.Page(r, "日巡检报告")
	day, err := o.inspectionDay(r)
	if err != nil {
		p.SetError(err)
		p.Form = map[string]string{"day": r.URL.Query().Get("day")}
		p.Data = inspectionView{}
		o.sh.Render(w, r, http.StatusBadRequest, "office_inspection", p)
		return
	}
	var rep agencyops.Report
	if strings.TrimSpace(r.URL.Query().Get("day")) == "" {
		// Without a day the report opens on today when today has calls
		// (a run is under way: that is what the officer wants to see), else
		// on yesterday, the last whole day.
		if rep, err = o.agencies.DailyReport(r.Context(), agencyops.DayOf(o.agencies.Now())); err == nil && !hasCalls(rep) {
			rep, err = o.agencies.DailyReport(r.Context(), day)
		}
	} else {
		rep, err = o.agencies.DailyReport(r.Context(), day)
	}
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	d := rep.Day.Format("2006-01-02")
	p.Title = "日巡检报告 " + d
	p.Form = map[string]string{"day": d}
	v := inspectionView{Day: d, Prev: rep.Day.AddDate(0, 0, -1).Format("2006-01-02"), CSVURL: "/office/inspection.csv?day=" + d,
		Report: rep, Anomalies: rep.Anomalies()}
	if now := o.agencies.Now(); rep.To.After(now) {
		v.Partial, v.AsOf = true, now
	} else {
		v.Next = rep.Day.AddDate(0, 0, 1).Format("2006-01-02")
	}
	for _, a := range rep.Agencies {
		row := inspectionRow{AgencyReport: a, Rate: "—", P50: fmtMS(a.P50), P95: fmtMS(a.P95), Max: fmtMS(a.Max)}
		if a.Calls > 0 {
			row.Rate = strconv.FormatFloat(a.ErrorRate*100, 'f', 2, 64) + "%"
		}
		for _, c := range a.Slowest {
			row.Slow = append(row.Slow, callRow{Call: c, Time: c.At.In(clock.Beijing).Format("15:04:05.000"), Latency: fmtMS(c.Latency), Digest: c.Digest})
		}
		v.Rows = append(v.Rows, row)
	}
	p.Data = v
	o.sh.Render(w, r, http.StatusOK, "office_inspection", p)
}

func (o *Office) inspectionCSV(w http.ResponseWriter, r *http.Request) {
	day, err := o.inspectionDay(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	// A day's report is small: build it first, so a failure is a clean error page.
	var buf bytes.Buffer
	if err := o.agencies.DailyReportCSV(r.Context(), day, &buf); err != nil {
		web.WriteError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="inspection-`+agencyops.DayOf(day).Format("2006-01-02")+`.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

// hasCalls reports whether any agency was called in the report's day.
func hasCalls(rep agencyops.Report) bool {
	for _, a := range rep.Agencies {
		if a.Calls > 0 {
			return true
		}
	}
	return false
}

// trendCharts draws an agency's last 24 hours, hour by hour: the error
// rate and the P95 latency; none when it had no calls.
func trendCharts(h agencyops.Health) (errChart, latChart template.HTML) {
	if len(h.Hourly) == 0 {
		return "", ""
	}
	n := len(h.Hourly)
	errs, lats := make([]float64, n), make([]float64, n)
	gaps := make([]bool, n)
	calls, maxErr, maxLat := 0, 0.0, 0.0
	lastErr, lastLat := "无调用", "无调用"
	for i, w := range h.Hourly {
		calls += w.Calls
		gaps[i] = w.Calls == 0
		errs[i], lats[i] = w.ErrorRate*100, float64(w.P95.Microseconds())/1000
		if w.Calls > 0 {
			maxErr, maxLat = max(maxErr, errs[i]), max(maxLat, lats[i])
		}
	}
	if calls == 0 {
		return "", ""
	}
	if w := h.Hourly[n-1]; w.Calls > 0 {
		lastErr, lastLat = strconv.FormatFloat(errs[n-1], 'f', 1, 64)+"%", strconv.FormatFloat(lats[n-1], 'f', 0, 64)+"毫秒"
	}
	first := strconv.Itoa(n) + "小时前"
	errChart = lineChart(fmt.Sprintf("%s近%d小时错误率：最高 %.1f%%，最近一小时 %s", h.Name, n, maxErr, lastErr), "%", first, "现在",
		chartSeries{Class: "line-err", Color: "#d4351c", Values: errs, Gaps: gaps})
	latChart = lineChart(fmt.Sprintf("%s近%d小时P95延迟：最高 %.0f毫秒，最近一小时 %s", h.Name, n, maxLat, lastLat), "", first, "现在",
		chartSeries{Class: "line-time", Color: "#1d70b8", Values: lats, Gaps: gaps})
	return errChart, latChart
}
