package office

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"jifen/internal/platform/apperr"
	"jifen/internal/platform/chart"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/web"
	"jifen/internal/stats"
	"jifen/internal/surface/shell"
)

// StatisticsPages are the office's multi-dimensional statistics (申报统计
// 多维度查询, docs/statistics.md): the query form, the pivot table, a chart
// with its data table, the drill-down into a cell, the exports and the
// JSON API. The domain (stats.Service) checks who may see what.
type StatisticsPages struct {
	sh      *shell.Shell
	stats   *stats.Service
	minCell int // small-cell threshold of what leaves the office
	// maxCells bounds an export: more cells than this is refused with a
	// message rather than written in part (JIFEN_STATS_MAX_EXPORT).
	maxCells int
}

// NewStatistics returns the statistics pages; minCell is the small-cell
// threshold of exports and the API.
func NewStatistics(sh *shell.Shell, s *stats.Service, minCell, maxCells int) *StatisticsPages {
	if maxCells <= 0 {
		maxCells = 100000
	}
	return &StatisticsPages{sh: sh, stats: s, minCell: minCell, maxCells: maxCells}
}

// Register adds the routes.
func (p *StatisticsPages) Register(mux *web.Mux) {
	sh := p.sh
	mux.Handle("GET /office/statistics", sh.RequireUser("", p.page))
	mux.Handle("GET /office/statistics/cases", sh.RequireUser("", p.cases))
	mux.Handle("GET /office/statistics.csv", sh.RequireUser("", p.csv))
	mux.Handle("GET /office/statistics.xlsx", sh.RequireUser("", p.excel))
	mux.Handle("GET /api/v1/office/statistics", sh.RequireUser("", p.api))
	mux.Handle("GET /api/v1/office/statistics/dimensions", sh.RequireUser("", p.apiDims))
}

// The measures the form offers as check boxes; the API takes any.
var formMeasures = []string{"count", "mean:total", "min:total", "max:total", "p50:total", "p90:total", "sum:total",
	"mean:employment", "mean:housing", "mean:education", "mean:tax", "mean:innovation", "mean:age"}

// The dimensions the form offers as filter lists (the others are reached
// through the API or a link).
var formFilters = []string{"round", "district", "status", "qualified", "sex", "age_band", "education", "housing_kind",
	"industry", "employer_size", "band:total"}

// query reads the query of the request; with no dimension asked, the page
// opens on the applications of the latest round by district and status.
func (p *StatisticsPages) query(r *http.Request) (stats.Query, error) {
	q, err := stats.ParseQuery(r.URL.Query())
	if err != nil {
		return q, err
	}
	if r.URL.RawQuery == "" {
		q.Dims = []string{"district", "status"}
		q.Measures = []string{"count", "mean:total"}
		if dims := p.stats.Dimensions(); len(dims) > 0 && len(dims[0].Values) > 1 {
			latest := dims[0].Values[len(dims[0].Values)-1]
			q.Filters = map[string][]string{"round": {latest.Code}}
		}
	}
	return q, nil
}

type statisticsView struct {
	Q          stats.Query
	Res        *stats.Result
	Query      string // the query as URL parameters, for links
	AsOf       string
	Dims       []stats.DimInfo
	Measures   []stats.MeasureInfo
	Chosen     [stats.MaxDims]string
	Filters    []filterView
	MeasureSet map[string]bool
	Chart      string
	ChartSVG   template.HTML
	ChartNote  string
	Pivot      *pivotView
	Cells      []cellView
	MinCell    int
	// DimLabels, MeasureLabels and TotalValues are the table's headers
	// (the phone layout's cell labels) and its total line.
	DimLabels, MeasureLabels, TotalValues []string
}

type filterView struct {
	Name, Label string
	Values      []stats.Level
	Chosen      map[string]bool
}

type cellView struct {
	stats.Row
	Link   string
	Values []string
}

type pivotView struct {
	RowLabel string
	Cols     []string
	Rows     []pivotRow
	Measure  string
}

type pivotRow struct {
	Label string
	Cells []pivotCell
}

// pivotCell is a cross-table cell: text only, so that a phone scrolling
// the wide table sideways meets no controls; the cell table below links
// each cell to its drill-down.
type pivotCell struct {
	Text string
}

func fmtValue(v stats.Value, m stats.MeasureInfo) string {
	switch {
	case v.Hidden:
		return "—"
	case v.Null:
		return "—"
	case m.Unit == "人":
		return strconv.FormatFloat(v.N, 'f', 0, 64)
	}
	return strconv.FormatFloat(v.N, 'f', 2, 64)
}

func (p *StatisticsPages) page(w http.ResponseWriter, r *http.Request) {

	q, err := p.query(r)
	var res *stats.Result
	if err == nil {
		res, err = p.stats.Run(r.Context(), shell.Actor(r.Context()), q)
	}
	if err != nil && !apperr.Is(err, apperr.Invalid) {
		web.WriteError(w, r, err)
		return
	}
	v := statisticsView{Q: q, Dims: p.stats.Dimensions(), Measures: stats.MeasureNames(), MinCell: p.minCell,
		MeasureSet: map[string]bool{}, Chart: r.URL.Query().Get("chart"), Res: res}
	if v.Chart == "" {
		v.Chart = "bar"
	}
	v.Measures = slices.DeleteFunc(v.Measures, func(m stats.MeasureInfo) bool { return !slices.Contains(formMeasures, m.Name) })
	for i, d := range q.Dims {
		if i < stats.MaxDims {
			v.Chosen[i] = d
		}
	}
	for _, m := range q.Measures {
		v.MeasureSet[m] = true
	}
	if len(q.Measures) == 0 {
		v.MeasureSet["count"] = true
	}
	for _, name := range formFilters {
		for _, d := range v.Dims {
			if d.Name != name {
				continue
			}
			f := filterView{Name: d.Name, Label: d.Label, Values: d.Values, Chosen: map[string]bool{}}
			for _, c := range q.Filters[name] {
				f.Chosen[c] = true
			}
			v.Filters = append(v.Filters, f)
		}
	}
	qv := q.Values()
	v.Query = qv.Encode()
	pg := p.sh.Page(r, "申报统计")
	status := http.StatusOK
	if err != nil {
		pg.SetError(err)
		status = web.Status(err)
	} else {
		v.AsOf = res.AsOf.In(clock.Beijing).Format("2006-01-02 15:04:05")
		p.build(&v, res, qv)
	}
	pg.Data = v
	p.sh.Render(w, r, status, "office_statistics", pg)
}

// build fills the pivot, the cells with their drill-down links, and the
// chart.
func (p *StatisticsPages) build(v *statisticsView, res *stats.Result, qv url.Values) {
	cellLink := func(keys []string) string {
		u := url.Values{}
		for k, vals := range qv {
			u[k] = vals
		}
		u["cell"] = keys
		return "/office/statistics/cases?" + u.Encode()
	}
	for _, d := range res.Dims {
		v.DimLabels = append(v.DimLabels, d.Label)
	}
	for i, m := range res.Measures {
		v.MeasureLabels = append(v.MeasureLabels, m.Label)
		v.TotalValues = append(v.TotalValues, fmtValue(res.Total.Values[i], m))
	}
	for _, row := range res.Rows {
		c := cellView{Row: row}
		if len(res.Dims) > 0 {
			c.Link = cellLink(row.Keys)
		}
		for i, m := range res.Measures {
			c.Values = append(c.Values, fmtValue(row.Values[i], m))
		}
		v.Cells = append(v.Cells, c)
	}
	if len(res.Dims) >= 2 && len(res.Measures) > 0 {
		pv := &pivotView{RowLabel: res.Dims[0].Label, Measure: res.Measures[0].Label}
		colIdx := map[string]int{}
		rowIdx := map[string]int{}
		type cellAt struct{ r, c int }
		vals := map[cellAt]pivotCell{}
		for _, row := range res.Rows {
			col := strings.Join(row.Labels[1:], "／")
			if _, ok := colIdx[col]; !ok {
				colIdx[col] = len(pv.Cols)
				pv.Cols = append(pv.Cols, col)
			}
			if _, ok := rowIdx[row.Labels[0]]; !ok {
				rowIdx[row.Labels[0]] = len(pv.Rows)
				pv.Rows = append(pv.Rows, pivotRow{Label: row.Labels[0]})
			}
			vals[cellAt{rowIdx[row.Labels[0]], colIdx[col]}] = pivotCell{Text: fmtValue(row.Values[0], res.Measures[0])}
		}
		for i := range pv.Rows {
			pv.Rows[i].Cells = make([]pivotCell, len(pv.Cols))
			for j := range pv.Cols {
				if c, ok := vals[cellAt{i, j}]; ok {
					pv.Rows[i].Cells[j] = c
				} else {
					pv.Rows[i].Cells[j] = pivotCell{Text: "0"}
					if res.Measures[0].Name != "count" {
						pv.Rows[i].Cells[j] = pivotCell{Text: "—"}
					}
				}
			}
		}
		if len(pv.Cols) <= 60 {
			v.Pivot = pv
		}
	}
	v.ChartSVG, v.ChartNote = drawStats(v.Chart, res)
}

// maxSeries is how many series (the column dimensions' values) a chart
// draws; the table has them all.
const maxSeries = 8

// drawStats draws the first measure of res by the first dimension (series
// by the others) as kind: bar, line, pie (one dimension) or histogram (a
// score band dimension).
func drawStats(kind string, res *stats.Result) (template.HTML, string) {
	if len(res.Dims) == 0 || len(res.Measures) == 0 || len(res.Rows) == 0 {
		return "", ""
	}
	m := res.Measures[0]
	title := res.Dims[0].Label + "：" + m.Label
	var cats []string
	catIdx := map[string]int{}
	seriesIdx := map[string]int{}
	var series []chart.Series
	note := ""
	for _, row := range res.Rows {
		if _, ok := catIdx[row.Labels[0]]; !ok {
			catIdx[row.Labels[0]] = len(cats)
			cats = append(cats, row.Labels[0])
		}
	}
	if len(cats) > 60 {
		return "", fmt.Sprintf("%s有%d个取值，图表不易阅读，请看下方表格或增加筛选条件。", res.Dims[0].Label, len(cats))
	}
	for _, row := range res.Rows {
		name := m.Label
		if len(row.Labels) > 1 {
			name = strings.Join(row.Labels[1:], "／")
		}
		si, ok := seriesIdx[name]
		if !ok {
			if len(series) == maxSeries {
				note = fmt.Sprintf("图表只画出前%d个系列，表格中有全部数据。", maxSeries)
				continue
			}
			si = len(series)
			seriesIdx[name] = si
			series = append(series, chart.Series{Name: name, Values: make([]float64, len(cats))})
		}
		if !row.Values[0].Hidden && !row.Values[0].Null {
			series[si].Values[catIdx[row.Labels[0]]] = row.Values[0].N
		}
	}
	switch kind {
	case "line":
		return chart.Line(title, cats, series, m.Unit), note
	case "pie":
		if len(series) != 1 {
			return chart.Bar(title, cats, series, m.Unit), "饼图只适用于一个维度，已改为柱状图。"
		}
		return chart.Pie(title, cats, series[0].Values), note
	case "histogram":
		if !strings.HasPrefix(res.Query.Dims[0], "band:") || len(series) != 1 {
			return chart.Bar(title, cats, series, m.Unit), "直方图只适用于按积分分段的单个维度，已改为柱状图。"
		}
		width := 5.0
		if res.Query.Dims[0] == "band:total" {
			width = 10
		}
		first, _ := strconv.ParseFloat(res.Rows[0].Keys[0], 64)
		last, _ := strconv.ParseFloat(res.Rows[len(res.Rows)-1].Keys[0], 64)
		n := int((last-first)/width) + 1
		edges := make([]float64, n+1)
		for i := range edges {
			edges[i] = first + float64(i)*width
		}
		// Bands with nobody in them are not rows: they stay zero bars.
		counts := make([]float64, n)
		for _, row := range res.Rows {
			lo, _ := strconv.ParseFloat(row.Keys[0], 64)
			if i := int((lo - first) / width); i >= 0 && i < n && !row.Values[0].Hidden {
				counts[i] = row.Values[0].N
			}
		}
		return chart.Histogram(title, edges, counts, "分"), note
	}
	return chart.Bar(title, cats, series, m.Unit), note
}

// outgoing runs the request's query suppressed for leaving the office.
func (p *StatisticsPages) outgoing(r *http.Request) (*stats.Result, error) {
	q, err := stats.ParseQuery(r.URL.Query())
	if err != nil {
		return nil, err
	}
	res, err := p.stats.RunOut(r.Context(), shell.Actor(r.Context()), q, p.minCell)
	if err != nil {
		return nil, err
	}
	if len(res.Rows) > p.maxCells {
		return nil, apperr.Field("dims", fmt.Sprintf("结果有%d格，超过导出上限%d格，请减少维度或增加筛选条件", len(res.Rows), p.maxCells))
	}
	return res, nil
}

func (p *StatisticsPages) export(w http.ResponseWriter, r *http.Request, ext, contentType string, write func(*bytes.Buffer, *stats.Result) error) {
	res, err := p.outgoing(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	// Written whole before a byte is sent: a failure is an error page,
	// never half a file.
	var buf bytes.Buffer
	if err := write(&buf, res); err != nil {
		web.WriteError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="statistics-%s.%s"`,
		res.AsOf.In(clock.Beijing).Format("20060102-150405"), ext))
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

func (p *StatisticsPages) csv(w http.ResponseWriter, r *http.Request) {
	p.export(w, r, "csv", "text/csv; charset=utf-8", func(b *bytes.Buffer, res *stats.Result) error { return stats.WriteCSV(b, res) })
}

func (p *StatisticsPages) excel(w http.ResponseWriter, r *http.Request) {
	p.export(w, r, "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		func(b *bytes.Buffer, res *stats.Result) error { return stats.WriteExcel(b, res) })
}

// api answers GET /api/v1/office/statistics: the flat form (docs/api.md),
// suppressed like every figure that leaves the office; ?form=full gives
// the whole Result.
func (p *StatisticsPages) api(w http.ResponseWriter, r *http.Request) {
	res, err := p.outgoing(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	if r.URL.Query().Get("form") == "full" {
		web.JSON(w, http.StatusOK, res)
		return
	}
	web.JSON(w, http.StatusOK, stats.Flatten(res))
}

func (p *StatisticsPages) apiDims(w http.ResponseWriter, r *http.Request) {
	if _, err := p.stats.Run(r.Context(), shell.Actor(r.Context()), stats.Query{}); err != nil {
		web.WriteError(w, r, err) // the permission check
		return
	}
	web.JSON(w, http.StatusOK, map[string]any{"dimensions": p.stats.Dimensions(), "measures": stats.MeasureNames(), "max_dims": stats.MaxDims})
}

type casesView struct {
	Page      *stats.CasePage
	Back      string
	Cell      string
	Prev      string
	Next      string
	PageCount int
}

// cases is the drill-down: the applications behind one cell.
func (p *StatisticsPages) cases(w http.ResponseWriter, r *http.Request) {
	vals := r.URL.Query()
	q, err := stats.ParseQuery(vals)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	page, _ := strconv.Atoi(vals.Get("page"))
	cp, err := p.stats.Cases(r.Context(), shell.Actor(r.Context()), q, vals["cell"], page)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	v := casesView{Page: cp, Back: "/office/statistics?" + q.Values().Encode(), PageCount: (cp.Total + cp.PerPage - 1) / cp.PerPage}
	var names []string
	for _, l := range cp.Cell {
		names = append(names, l.Label)
	}
	v.Cell = strings.Join(names, "／")
	link := func(n int) string {
		u := url.Values{}
		for k, vs := range vals {
			u[k] = vs
		}
		u.Set("page", strconv.Itoa(n))
		return "/office/statistics/cases?" + u.Encode()
	}
	if cp.Page > 1 {
		v.Prev = link(cp.Page - 1)
	}
	if cp.Page < v.PageCount {
		v.Next = link(cp.Page + 1)
	}
	pg := p.sh.Page(r, "统计明细："+v.Cell)
	pg.Data = v
	p.sh.Render(w, r, http.StatusOK, "office_statistics_cases", pg)
}
