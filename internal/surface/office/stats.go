package office

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"jifen/internal/accessstats"
	"jifen/internal/account"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/sheet"
	"jifen/internal/platform/web"
	"jifen/internal/surface/shell"
)

// StatsPages are the office pages of the internet listener's access
// statistics (访问指标统计). They are a type of their own, registered
// beside Office, so that wiring them touches no shared file but app.go.
type StatsPages struct {
	sh    *shell.Shell
	stats *accessstats.Stats
}

// NewStats returns the statistics pages.
func NewStats(sh *shell.Shell, s *accessstats.Stats) *StatsPages {
	return &StatsPages{sh: sh, stats: s}
}

// Register adds the routes. The domain (accessstats.Read) checks
// check.monitor again.
func (p *StatsPages) Register(mux *web.Mux) {
	sh := p.sh
	mux.Handle("GET /office/stats", sh.RequireUser(account.PermCheckMonitor, p.page))
	mux.Handle("GET /office/stats.csv", sh.RequireUser(account.PermCheckMonitor, p.csv))
	mux.Handle("GET /office/stats.xlsx", sh.RequireUser(account.PermCheckMonitor, p.excel))
	mux.Handle("GET /api/v1/office/stats", sh.RequireUser(account.PermCheckMonitor, p.api))
}

// parseWhen reads a time parameter: a Beijing date (2026-03-02) or RFC 3339.
// A date as "to" means the end of that day.
func parseWhen(field, v string, end bool) (time.Time, error) {
	if t, err := time.ParseInLocation("2006-01-02", v, clock.Beijing); err == nil {
		if end {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Time{}, apperr.Field(field, "时间格式不正确，请填写日期（如 2026-03-02）")
}

func (p *StatsPages) read(r *http.Request) (*accessstats.Report, error) {
	by := r.FormValue("by")
	if by == "" {
		by = accessstats.ByHour
	}
	now := p.sh.Clock.Now()
	to, from := now, now.Add(-24*time.Hour)
	if by == accessstats.ByDay {
		from = now.AddDate(0, 0, -30)
	}
	var err error
	if v := r.FormValue("to"); v != "" {
		if to, err = parseWhen("to", v, true); err != nil {
			return nil, err
		}
	}
	if v := r.FormValue("from"); v != "" {
		if from, err = parseWhen("from", v, false); err != nil {
			return nil, err
		}
	}
	return p.stats.Read(r.Context(), shell.Actor(r.Context()), from, to, by)
}

func (p *StatsPages) api(w http.ResponseWriter, r *http.Request) {
	rep, err := p.read(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, rep)
}

type statsView struct {
	Report                                       *accessstats.Report
	From, To, By, Query                          string
	Label                                        string // 按小时 | 按天
	ViewsChart, SearchChart, TimeChart, ErrChart template.HTML
	Rows                                         []statsRow
}

type statsRow struct {
	When string
	accessstats.Bucket
	FoundPct string
}

func (p *StatsPages) bucketName(rep *accessstats.Report, t time.Time) string {
	if rep.By == accessstats.ByDay {
		return t.In(clock.Beijing).Format("2006-01-02")
	}
	return t.In(clock.Beijing).Format("01-02 15:00")
}

func (p *StatsPages) page(w http.ResponseWriter, r *http.Request) {
	rep, err := p.read(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	v := statsView{Report: rep, By: rep.By, From: rep.From.In(clock.Beijing).Format("2006-01-02"),
		To: rep.To.Add(-time.Nanosecond).In(clock.Beijing).Format("2006-01-02"), Label: "按小时"}
	if rep.By == accessstats.ByDay {
		v.Label = "按天"
	}
	v.Query = url.Values{"from": {v.From}, "to": {v.To}, "by": {v.By}}.Encode()
	n := len(rep.Buckets)
	views, visitors, searches, found, p50, p95, e4, e5, obj := make([]float64, n), make([]float64, n), make([]float64, n),
		make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i, b := range rep.Buckets {
		views[i], visitors[i], searches[i], found[i] = float64(b.Views), float64(b.Visitors), float64(b.Searches), float64(b.SearchesFound)
		p50[i], p95[i], e4[i], e5[i], obj[i] = float64(b.P50MS), float64(b.P95MS), float64(b.Errors4xx), float64(b.Errors5xx), float64(b.Objections)
		row := statsRow{When: p.bucketName(rep, b.Start), Bucket: b, FoundPct: "—"}
		if b.Searches > 0 {
			row.FoundPct = strconv.FormatFloat(b.FoundShare*100, 'f', 1, 64) + "%"
		}
		v.Rows = append(v.Rows, row)
	}
	if n > 0 {
		first, last := p.bucketName(rep, rep.Buckets[0].Start), p.bucketName(rep, rep.Buckets[n-1].Start)
		t := rep.Totals
		v.ViewsChart = lineChart(fmt.Sprintf("%s访问量：共 %d 次浏览（蓝线），%d 位访客（绿线）", v.Label, t.Views, t.Visitors), "", first, last,
			chartSeries{Class: "line-time", Color: "#1d70b8", Values: views}, chartSeries{Class: "line-ok", Color: "#00703c", Values: visitors})
		v.SearchChart = lineChart(fmt.Sprintf("%s查询：共 %d 次（蓝线），有结果 %d 次（绿线）", v.Label, t.Searches, t.SearchesFound), "", first, last,
			chartSeries{Class: "line-time", Color: "#1d70b8", Values: searches}, chartSeries{Class: "line-ok", Color: "#00703c", Values: found})
		v.TimeChart = lineChart(fmt.Sprintf("%s响应时间：P50 %d 毫秒（绿线），P95 %d 毫秒（蓝线）", v.Label, t.P50MS, t.P95MS), "", first, last,
			chartSeries{Class: "line-ok", Color: "#00703c", Values: p50}, chartSeries{Class: "line-time", Color: "#1d70b8", Values: p95})
		v.ErrChart = lineChart(fmt.Sprintf("%s错误与异议：客户端错误 %d 次（蓝线），服务器错误 %d 次（红线），异议举报 %d 件（绿线）", v.Label,
			t.Errors4xx, t.Errors5xx, t.Objections), "", first, last,
			chartSeries{Class: "line-time", Color: "#1d70b8", Values: e4}, chartSeries{Class: "line-err", Color: "#d4351c", Values: e5},
			chartSeries{Class: "line-ok", Color: "#00703c", Values: obj})
	}
	pg := p.sh.Page(r, "公示系统访问统计")
	pg.Data = v
	p.sh.Render(w, r, http.StatusOK, "office_stats", pg)
}

// statsHeader is the exports' column line.
var statsHeader = []string{"时段", "页面", "浏览次数", "独立访客", "查询次数", "有结果查询", "客户端错误", "服务器错误", "异议举报",
	"平均响应毫秒", "P50毫秒", "P95毫秒"}

// exportRows are the buckets (page "全站") and then the pages over the
// whole range (时段 "合计").
func (p *StatsPages) exportRows(rep *accessstats.Report) [][]any {
	var out [][]any
	line := func(when, page string, t accessstats.Totals, visitors bool) []any {
		var vis any = t.Visitors
		if !visitors {
			vis = ""
		}
		return []any{when, page, t.Views, vis, t.Searches, t.SearchesFound, t.Errors4xx, t.Errors5xx, t.Objections,
			float64(int64(t.MeanMS*10)) / 10, t.P50MS, t.P95MS}
	}
	for _, b := range rep.Buckets {
		out = append(out, line(p.bucketName(rep, b.Start), "全站", b.Totals, true))
	}
	for _, pg := range rep.Pages {
		out = append(out, line("合计", pg.Page, pg.Totals, false))
	}
	return out
}

func (p *StatsPages) export(w http.ResponseWriter, r *http.Request, ext, contentType string, write func(*bytes.Buffer, [][]any) error) {
	rep, err := p.read(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	var buf bytes.Buffer
	if err := write(&buf, p.exportRows(rep)); err != nil {
		web.WriteError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="access-stats-%s.%s"`, rep.By, ext))
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

func (p *StatsPages) csv(w http.ResponseWriter, r *http.Request) {
	p.export(w, r, "csv", "text/csv; charset=utf-8", func(buf *bytes.Buffer, rows [][]any) error {
		recs := make([][]string, len(rows))
		for i, row := range rows {
			for _, c := range row {
				recs[i] = append(recs[i], fmt.Sprint(c))
			}
		}
		return sheet.WriteCSV(buf, statsHeader, recs)
	})
}

func (p *StatsPages) excel(w http.ResponseWriter, r *http.Request) {
	p.export(w, r, "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", func(buf *bytes.Buffer, rows [][]any) error {
		return sheet.WriteExcel(buf, "访问统计", statsHeader, rows)
	})
}
