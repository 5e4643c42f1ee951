package office

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"
)

// chartSeries is one line of a chart: a value per point, NaN-free; a point
// with Gap set has no data (no calls that hour) and breaks the line.
type chartSeries struct {
	Class  string // line-ok | line-err | line-time (pages.css)
	Color  string // the same colour as an attribute, for a page without pages.css
	Values []float64
	Gaps   []bool
}

// lineChart draws a small line chart as inline SVG, rendered here so the
// page needs no script and nothing from a CDN. label is the chart's text
// alternative (what a screen reader says), unit follows the axis values,
// first and last name the two ends of the x axis.
func lineChart(label, unit, first, last string, series ...chartSeries) template.HTML {
	const w, h = 320, 120
	const left, right, top, bottom = 44, 8, 8, 20
	pw, ph := float64(w-left-right), float64(h-top-bottom)
	maxV := 0.0
	n := 0
	for _, s := range series {
		n = max(n, len(s.Values))
		for i, v := range s.Values {
			if !(i < len(s.Gaps) && s.Gaps[i]) {
				maxV = max(maxV, v)
			}
		}
	}
	maxV = niceCeil(maxV)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`,
		w, h, w, h, template.HTMLEscapeString(label))
	fmt.Fprintf(&b, `<title>%s</title>`, template.HTMLEscapeString(label))
	// Grid at 0, half and the top, labelled on the left.
	for _, f := range []float64{0, .5, 1} {
		y := float64(top) + ph*(1-f)
		fmt.Fprintf(&b, `<line class="grid" x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e5e6e7"/>`, left, y, w-right, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s%s</text>`, left-4, y,
			fmtAxis(maxV*f), template.HTMLEscapeString(unit))
	}
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d" stroke="#b1b4b6"/>`, left, h-bottom, w-right, h-bottom)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="start">%s</text>`, left, h-4, template.HTMLEscapeString(first))
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, w-right, h-4, template.HTMLEscapeString(last))
	x := func(i int) float64 {
		if n <= 1 {
			return float64(left)
		}
		return float64(left) + pw*float64(i)/float64(n-1)
	}
	y := func(v float64) float64 {
		if maxV <= 0 {
			return float64(top) + ph
		}
		return float64(top) + ph*(1-v/maxV)
	}
	for _, s := range series {
		var pts []string
		flush := func() {
			if len(pts) == 1 { // a lone hour: a dot, so it is seen
				xy := strings.Split(pts[0], ",")
				fmt.Fprintf(&b, `<circle class="dot %s" cx="%s" cy="%s" r="2" fill="%s"/>`, s.Class, xy[0], xy[1], s.Color)
			} else if len(pts) > 1 {
				fmt.Fprintf(&b, `<polyline class="line %s" fill="none" stroke="%s" stroke-width="2" points="%s"/>`, s.Class, s.Color, strings.Join(pts, " "))
			}
			pts = pts[:0]
		}
		for i, v := range s.Values {
			if i < len(s.Gaps) && s.Gaps[i] {
				flush()
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(v)))
		}
		flush()
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every value above is a number or escaped
}

// niceCeil rounds a chart's top up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := 1.0
	for p*10 <= v {
		p *= 10
	}
	for p > v {
		p /= 10
	}
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func fmtAxis(v float64) string {
	if v == float64(int64(v)) {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}
