package portal

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"jifen/internal/accessstats"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/web"
	"jifen/internal/publicity"
)

// registerPublicityHistory adds the past official lists (历年公示): public
// pages and their JSON, for anyone. Nil History leaves them out.
func (p *Portal) registerPublicityHistory(mux *web.Mux) {
	if p.svc.History == nil {
		return
	}
	mux.HandleFunc("GET /publicity/history", p.historyPage)
	mux.HandleFunc("GET /publicity/history/{year}", p.historyYearPage)
	mux.HandleFunc("GET /api/v1/publicity/history", p.apiHistory)
	mux.HandleFunc("GET /api/v1/publicity/history/{year}/entries", p.apiHistoryEntries)
}

// historyYear reads the {year} of a path: four digits, else a 404 like any
// year that was never imported.
func historyYear(r *http.Request) (int, error) {
	s := r.PathValue("year")
	y, err := strconv.Atoi(s)
	if err != nil || len(s) != 4 {
		return 0, apperr.New(apperr.NotFound, "没有这一年度的历年公示名单")
	}
	return y, nil
}

// historyPageNo reads page= (default 1): a positive number, else a clear
// 400 naming the field.
func historyPageNo(r *http.Request) (int, error) {
	s := r.URL.Query().Get("page")
	if s == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, apperr.Field("page", "页码必须是大于 0 的整数")
	}
	return n, nil
}

func (p *Portal) apiHistory(w http.ResponseWriter, r *http.Request) {
	rs, err := p.svc.History.Rounds(r.Context())
	if !answered(w, r, err) {
		return
	}
	web.JSON(w, http.StatusOK, map[string]any{"rounds": rs})
}

func (p *Portal) apiHistoryEntries(w http.ResponseWriter, r *http.Request) {
	pg, err := p.historyEntries(r)
	if !answered(w, r, err) {
		return
	}
	web.JSON(w, http.StatusOK, pg)
}

func (p *Portal) historyEntries(r *http.Request) (*publicity.EntryPage, error) {
	year, err := historyYear(r)
	if err != nil {
		return nil, err
	}
	page, err := historyPageNo(r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query().Get("q")
	pg, err := p.svc.History.Entries(r.Context(), year, q, page)
	if err == nil && q != "" {
		// The access statistics count searches and the share that found
		// something (访问指标统计).
		accessstats.Search(r.Context(), pg.Total > 0)
	}
	return pg, err
}

// historyRow is a round as the trend table shows it.
type historyRow struct {
	publicity.Round
	Quota, Qualified string // with thousands separators
}

type historyView struct {
	Rounds         []historyRow
	CutoffChart    template.HTML
	QualifiedChart template.HTML
}

func (p *Portal) historyPage(w http.ResponseWriter, r *http.Request) {
	rs, err := p.svc.History.Rounds(r.Context())
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	v := historyView{}
	var years []string
	var cut, qual []float64
	for _, x := range rs {
		v.Rounds = append(v.Rounds, historyRow{Round: x, Quota: thousands(x.Quota), Qualified: thousands(x.Qualified)})
		years = append(years, strconv.Itoa(x.Year))
		cut = append(cut, float64(x.Cutoff)/100)
		qual = append(qual, float64(x.Qualified))
	}
	if len(rs) > 0 {
		v.CutoffChart = trendChart("历年积分落户分数线（分）", years, cut, "#1d70b8")
		v.QualifiedChart = trendChart("历年获得落户资格人数（人）", years, qual, "#00703c")
	}
	pg := p.page(r, "历年公示")
	pg.Data = v
	p.sh.Render(w, r, http.StatusOK, "portal_publicity_history", pg)
}

// historyEntryRow is one entry as the list page shows it.
type historyEntryRow struct {
	publicity.Entry
	Values []historyValue // nil: the year's file has no indicator values
}

type historyValue struct{ Name, Value string }

type historyYearView struct {
	Round     *publicity.Round
	Qualified string
	Quota     string
	Page      *publicity.EntryPage
	Rows      []historyEntryRow
	Prev      string // links to the neighbouring pages, "" at the ends
	Next      string
}

func (p *Portal) historyYearPage(w http.ResponseWriter, r *http.Request) {
	year, err := historyYear(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	rd, err := p.svc.History.Round(r.Context(), year)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	pg, err := p.historyEntries(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	v := historyYearView{Round: rd, Qualified: thousands(rd.Qualified), Quota: thousands(rd.Quota), Page: pg}
	for _, e := range pg.Entries {
		row := historyEntryRow{Entry: e}
		for i, val := range e.Values {
			row.Values = append(row.Values, historyValue{publicity.IndicatorNames[i], val.String()})
		}
		v.Rows = append(v.Rows, row)
	}
	link := func(n int) string {
		q := url.Values{}
		if pg.Query != "" {
			q.Set("q", pg.Query)
		}
		q.Set("page", strconv.Itoa(n))
		return fmt.Sprintf("/publicity/history/%d?%s", year, q.Encode())
	}
	if pg.Page > 1 && pg.Page <= pg.Pages+1 {
		v.Prev = link(pg.Page - 1)
	}
	if pg.Page < pg.Pages {
		v.Next = link(pg.Page + 1)
	}
	page := p.page(r, fmt.Sprintf("%d年度积分落户公示名单", year))
	page.Data = v
	p.sh.Render(w, r, http.StatusOK, "portal_publicity_year", page)
}

// thousands writes n with a comma every three digits, as the bureau's
// notices do (6,006).
func thousands(n int) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// trendChart draws one value per year as an inline SVG line chart, on the
// server, so the page needs no script and nothing from the internet. Unlike
// the office's call charts its axis does not start at zero: a cutoff moves
// a few points on a base of a hundred, and only a range around the values
// shows that. The page repeats the numbers in a table for screen readers.
func trendChart(label string, years []string, values []float64, color string) template.HTML {
	const w, h = 320, 140
	const left, right, top, bottom = 60, 24, 20, 30
	pw, ph := float64(w-left-right), float64(h-top-bottom)
	lo, hi := values[0], values[0]
	for _, v := range values {
		lo, hi = min(lo, v), max(hi, v)
	}
	pad := (hi - lo) * 0.2
	if pad == 0 {
		pad = max(1, hi*0.05)
	}
	lo, hi = lo-pad, hi+pad
	// Counts read as whole numbers; cutoffs keep one decimal on the axis.
	prec := 1
	if hi-lo >= 20 {
		prec = 0
	}
	x := func(i int) float64 {
		if len(values) == 1 {
			return float64(left) + pw/2
		}
		return float64(left) + pw*float64(i)/float64(len(values)-1)
	}
	y := func(v float64) float64 { return float64(top) + ph*(1-(v-lo)/(hi-lo)) }
	var b strings.Builder
	esc := template.HTMLEscapeString(label)
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg"><title>%s</title>`,
		w, h, w, h, esc, esc)
	for _, f := range []float64{0, .5, 1} {
		gy := float64(top) + ph*(1-f)
		fmt.Fprintf(&b, `<line class="grid" x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e5e6e7"/>`, left, gy, w-right, gy)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`, left-4, gy,
			strconv.FormatFloat(lo+(hi-lo)*f, 'f', prec, 64))
	}
	pts := make([]string, len(values))
	for i, v := range values {
		pts[i] = fmt.Sprintf("%.1f,%.1f", x(i), y(v))
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, x(i), h-6, template.HTMLEscapeString(years[i]))
	}
	if len(pts) > 1 {
		fmt.Fprintf(&b, `<polyline class="line" fill="none" stroke="%s" stroke-width="2" points="%s"/>`, color, strings.Join(pts, " "))
	}
	for i, v := range values {
		val := strconv.FormatFloat(v, 'f', -1, 64)
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s：%s</title></circle>`, x(i), y(v), color,
			template.HTMLEscapeString(years[i]), val)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, x(i), y(v)-7, val)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every value above is a number or escaped
}
