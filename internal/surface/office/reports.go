package office

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"jifen/internal/account"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/chart"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/web"
	"jifen/internal/reports"
	"jifen/internal/stats"
	"jifen/internal/surface/shell"
)

// ReportPages are the office pages of the ready-made reports (常用统计报表):
// the index, one page per report with its chart and table, its CSV and
// Excel exports and the JSON API. A type of its own, like StatsPages, so
// that wiring it touches no shared file but app.go.
type ReportPages struct {
	sh      *shell.Shell
	reg     *reports.Registry
	minCell int // small-cell threshold of exports and the API (JIFEN_STATS_MIN_CELL)
}

// NewReports returns the report pages; minCell is the small-cell threshold
// of what leaves the office.
func NewReports(sh *shell.Shell, reg *reports.Registry, minCell int) *ReportPages {
	return &ReportPages{sh: sh, reg: reg, minCell: minCell}
}

// Register adds the routes. Every office user may reach them; each report
// checks its own permission (cases, check.monitor or mail.send) and the
// district scope. {code} carries the export's extension: a path wildcard
// is a whole segment, so "progress.csv" arrives as the code.
func (p *ReportPages) Register(mux *web.Mux) {
	sh := p.sh
	mux.Handle("GET /office/reports", sh.RequireUser(account.PermOfficeHome, p.index))
	mux.Handle("GET /office/reports/{code}", sh.RequireUser(account.PermOfficeHome, p.report))
	mux.Handle("GET /api/v1/office/reports", sh.RequireUser(account.PermOfficeHome, p.apiList))
	mux.Handle("GET /api/v1/office/reports/{code}", sh.RequireUser(account.PermOfficeHome, p.apiRun))
}

// params reads a report's parameters from the query.
func params(rep reports.Report, r *http.Request) reports.Params {
	out := reports.Params{}
	for _, prm := range rep.Params {
		if v := strings.TrimSpace(r.URL.Query().Get(prm.Name)); v != "" {
			out[prm.Name] = v
		}
	}
	return out
}

func (p *ReportPages) index(w http.ResponseWriter, r *http.Request) {
	pg := p.sh.Page(r, "统计报表")
	pg.Data = p.reg.ListFor(shell.Actor(r.Context()))
	p.sh.Render(w, r, http.StatusOK, "office_reports", pg)
}

type reportView struct {
	Report reports.Report
	Result *stats.Result
	Query  string
	Chart  template.HTML
	AsOf   string
	// Headers are the table's column names: the dimensions, 人数, the
	// measures.
	Dims     []string
	Measures []string
	Rows     []reportRow
	Total    reportRow
	Below    int
	Cols     int // every column, for the empty table's one cell
}

type reportRow struct {
	Labels []string
	Count  int
	Cells  []reportCell
}

type reportCell struct {
	Label, Text string
}

func (p *ReportPages) report(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("code")
	switch {
	case strings.HasSuffix(code, ".csv"):
		p.export(w, r, strings.TrimSuffix(code, ".csv"), "csv")
		return
	case strings.HasSuffix(code, ".xlsx"):
		p.export(w, r, strings.TrimSuffix(code, ".xlsx"), "xlsx")
		return
	}
	rep, ok := p.reg.Get(code)
	if !ok {
		web.WriteError(w, r, apperr.New(apperr.NotFound, "没有这个报表"))
		return
	}
	prm := params(rep, r)
	pg := p.sh.Page(r, rep.Title)
	for k, v := range prm {
		pg.Form[k] = v
	}
	v := reportView{Report: rep, Below: p.minCell}
	q := url.Values{}
	for k, val := range prm {
		q.Set(k, val)
	}
	v.Query = q.Encode()
	res, err := p.reg.Run(r.Context(), shell.Actor(r.Context()), code, prm)
	status := http.StatusOK
	switch {
	case err != nil && apperr.Is(err, apperr.Invalid):
		pg.SetError(err)
		status = http.StatusBadRequest
	case err != nil:
		web.WriteError(w, r, err)
		return
	default:
		v.Result = res
		v.fill(res)
		v.Chart = drawChart(rep, res)
	}
	pg.Data = v
	p.sh.Render(w, r, status, "office_report", pg)
}

// fill turns the result into the table's text: points with 2 decimals, a
// value of nothing as "—".
func (v *reportView) fill(res *stats.Result) {
	v.AsOf = res.AsOf.In(clock.Beijing).Format("2006-01-02 15:04")
	for _, d := range res.Dims {
		v.Dims = append(v.Dims, d.Label)
	}
	for _, m := range res.Measures {
		h := m.Label
		if m.Unit != "" {
			h += "（" + m.Unit + "）"
		}
		v.Measures = append(v.Measures, h)
	}
	row := func(labels []string, r stats.Row) reportRow {
		out := reportRow{Labels: labels, Count: r.Count}
		for i, val := range r.Values {
			out.Cells = append(out.Cells, reportCell{Label: v.Measures[i], Text: valueText(val, res.Measures[i].Unit)})
		}
		return out
	}
	for _, r := range res.Rows {
		v.Rows = append(v.Rows, row(r.Labels, r))
	}
	v.Cols = len(v.Dims) + 1 + len(v.Measures)
	total := make([]string, len(res.Dims))
	if len(total) > 0 {
		total[0] = "合计"
	}
	v.Total = row(total, res.Total)
}

func valueText(v stats.Value, unit string) string {
	switch {
	case v.Hidden:
		return "—"
	case v.Null:
		return "—"
	case unit == "分" || unit == "天" || unit == "%" || v.N != float64(int64(v.N)):
		return strconv.FormatFloat(v.N, 'f', 2, 64)
	}
	return strconv.FormatInt(int64(v.N), 10)
}

// countUnits are the units of measures that add up across rows (the
// chart sums them); means, shares and scores do not.
var countUnits = map[string]bool{"件": true, "项": true, "人": true, "次": true, "封": true, "": true}

// drawChart draws the report's chart from the same numbers as the table:
// a histogram of the "bin" rows, a pie of the first measure, or bars and
// lines of the additive measures over the days (when the report has them)
// or the first dimension.
func drawChart(rep reports.Report, res *stats.Result) template.HTML {
	if rep.Chart == "" || len(res.Rows) == 0 || len(res.Dims) == 0 {
		return ""
	}
	switch rep.Chart {
	case "histogram":
		var edges, counts []float64
		for _, r := range res.Rows {
			if r.Keys[0] != "bin" {
				continue
			}
			from, err := strconv.ParseFloat(r.Keys[1], 64)
			if err != nil {
				continue
			}
			edges = append(edges, from)
			counts = append(counts, float64(r.Count))
		}
		if len(counts) == 0 {
			return ""
		}
		edges = append(edges, edges[len(edges)-1]+reports.BinPoints)
		return chart.Histogram(rep.Title, edges, counts, "分")
	case "pie":
		var cats []string
		var vals []float64
		for _, r := range res.Rows {
			cats = append(cats, strings.Join(r.Labels, " "))
			vals = append(vals, r.Values[0].N)
		}
		return chart.Pie(rep.Title, cats, vals)
	}
	by := 0
	for i, d := range res.Dims {
		if d.Name == "day" {
			by = i
		}
	}
	var cats []string
	index := map[string]int{}
	for _, l := range res.Dims[by].Values {
		index[l.Code] = len(cats)
		cats = append(cats, l.Label)
	}
	var series []chart.Series
	unit := ""
	for mi, m := range res.Measures {
		if !countUnits[m.Unit] {
			continue
		}
		unit = m.Unit
		s := chart.Series{Name: m.Label, Values: make([]float64, len(cats))}
		for _, r := range res.Rows {
			if i, ok := index[r.Keys[by]]; ok && !r.Values[mi].Null {
				s.Values[i] += r.Values[mi].N
			}
		}
		series = append(series, s)
	}
	if len(series) == 0 {
		return ""
	}
	if rep.Chart == "line" {
		return chart.Line(rep.Title, cats, series, unit)
	}
	return chart.Bar(rep.Title, cats, series, unit)
}

// run runs a report for the exports and the API: suppressed, as whatever
// leaves the office.
func (p *ReportPages) run(r *http.Request, code string) (*stats.Result, error) {
	rep, ok := p.reg.Get(code)
	if !ok {
		return nil, apperr.New(apperr.NotFound, "没有这个报表")
	}
	res, err := p.reg.Run(r.Context(), shell.Actor(r.Context()), code, params(rep, r))
	if err != nil {
		return nil, err
	}
	return stats.Suppress(res, p.minCell), nil
}

func (p *ReportPages) export(w http.ResponseWriter, r *http.Request, code, ext string) {
	res, err := p.run(r, code)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	var buf bytes.Buffer
	contentType := "text/csv; charset=utf-8"
	if ext == "xlsx" {
		contentType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
		err = stats.WriteExcel(&buf, res)
	} else {
		err = stats.WriteCSV(&buf, res)
	}
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="report-%s.%s"`, code, ext))
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

func (p *ReportPages) apiList(w http.ResponseWriter, r *http.Request) {
	list := p.reg.ListFor(shell.Actor(r.Context()))
	if list == nil {
		list = []reports.Report{}
	}
	web.JSON(w, http.StatusOK, map[string]any{"reports": list})
}

func (p *ReportPages) apiRun(w http.ResponseWriter, r *http.Request) {
	res, err := p.run(r, r.PathValue("code"))
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, res)
}
