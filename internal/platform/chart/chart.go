// Package chart draws charts as SVG on the server, for pages that must work
// without the internet or a script: bar, line, pie and histogram. Each
// chart is an <svg class="chart" role="img"> with a <title> and an
// aria-label; the page shows the chart's data as a table beside it (the
// table, not the picture, is the accessible and exact form of the data).
//
// Why not github.com/go-analyze/charts (v0.6.4, evaluated first, as the
// project prefers a kept library): its SVG is offline-clean (no external
// URL, text escaped, a single 100% pie slice drawn as a full circle), but it
// lays out text by measuring it with its embedded Roboto font, which has
// no Chinese glyphs. A 14-character employer name at 16px was measured as
// about 100px while the browser draws it about 224px wide, so the library's
// label thinning and placement let Chinese category labels overlap their
// neighbours. Fixing that means installing a CJK TrueType font (several
// megabytes) into every binary, on top of freetype and x/image; and the
// root element would still need patching for role, aria-label and <title>.
// Here text is measured by a rule that fits Chinese (a wide character is
// one em, anything else 0.6 em, deliberately generous), and the drawing is
// a few hundred lines in the style of the office's lineChart.
//
// Values that are NaN or infinite are "no data": no bar, a gap in a line.
// Text (titles, categories, series names: user data such as employer
// names) is always escaped; the output has no script and no URL but the
// SVG namespace.
package chart

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Series is one named run of values, one per category.
type Series struct {
	Name   string
	Values []float64
}

// palette is a fixed set of colours that stay apart from each other on
// white (the GOV.UK design system's): a series keeps its colour from chart
// to chart. Lines also differ by dash pattern, for readers who do not see
// the colours apart.
var palette = []string{"#1d70b8", "#00703c", "#d4351c", "#f47738", "#4c2c92", "#28a197", "#b58840", "#6f72af"}

var dashes = []string{"", "6 3", "2 3", "8 3 2 3"}

const (
	width     = 600  // viewBox width; pages.css scales the chart to its box
	fontSize  = 12.0 // pages.css draws chart text at 11px: measuring at 12 leaves slack
	plotH     = 240  // height of the plotting area of bar, line, histogram
	maxLabelW = 120  // a longer category label is cut with "…" (the table has it whole)
	noData    = "没有数据"
)

// Bar draws grouped vertical bars: one group per category, one bar per
// series. unit follows the axis values ("人", "分").
func Bar(title string, categories []string, series []Series, unit string) template.HTML {
	return categorical(title, categories, series, unit, false)
}

// Line draws one line per series over the categories.
func Line(title string, categories []string, series []Series, unit string) template.HTML {
	return categorical(title, categories, series, unit, true)
}

// Pie draws the shares of values (negative values count as 0). With more
// than eight categories the smallest are drawn together as "其他", so the
// colours stay distinguishable; the legend gives every share in percent.
func Pie(title string, categories []string, values []float64) template.HTML {
	type slice struct {
		name string
		v    float64
	}
	var sl []slice
	total := 0.0
	for i, v := range values {
		if !finite(v) || v < 0 {
			v = 0
		}
		name := ""
		if i < len(categories) {
			name = categories[i]
		}
		sl = append(sl, slice{name, v})
		total += v
	}
	if total <= 0 {
		return empty(title)
	}
	if len(sl) > len(palette) {
		// Keep the largest seven in their order, fold the rest into one.
		idx := make([]int, len(sl))
		for i := range idx {
			idx[i] = i
		}
		// A stable selection by value (insertion sort: at most ~40 items).
		for i := 1; i < len(idx); i++ {
			for j := i; j > 0 && sl[idx[j]].v > sl[idx[j-1]].v; j-- {
				idx[j], idx[j-1] = idx[j-1], idx[j]
			}
		}
		keep := map[int]bool{}
		for _, i := range idx[:len(palette)-1] {
			keep[i] = true
		}
		var kept []slice
		rest, n := 0.0, 0
		for i, s := range sl {
			if keep[i] {
				kept = append(kept, s)
			} else {
				rest += s.v
				n++
			}
		}
		sl = append(kept, slice{fmt.Sprintf("其他（%d项）", n), rest})
	}

	const r = 110.0
	const cx, cy = 20 + r, 20 + r
	legendX := cx + r + 30
	rowH := 20.0
	h := math.Max(2*r+40, 20+rowH*float64(len(sl))+10)
	var b strings.Builder
	open(&b, title, width, h)
	nonZero := 0
	for _, s := range sl {
		if s.v > 0 {
			nonZero++
		}
	}
	angle := -math.Pi / 2 // from twelve o'clock, clockwise
	for i, s := range sl {
		color := palette[i%len(palette)]
		share := s.v / total
		tip := fmt.Sprintf("%s：%s（%s）", s.name, num(s.v), pct(share))
		if s.v > 0 && nonZero == 1 {
			// An arc from a point to itself draws nothing: a whole pie is a circle.
			fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="%s" fill="%s" stroke="#fff"><title>%s</title></circle>`,
				f1(cx), f1(cy), f1(r), color, esc(tip))
		} else if s.v > 0 {
			end := angle + 2*math.Pi*share
			large := 0
			if end-angle > math.Pi {
				large = 1
			}
			fmt.Fprintf(&b, `<path d="M%s,%s L%s,%s A%s,%s 0 %d 1 %s,%s Z" fill="%s" stroke="#fff"><title>%s</title></path>`,
				f1(cx), f1(cy), f1(cx+r*math.Cos(angle)), f1(cy+r*math.Sin(angle)), f1(r), f1(r), large,
				f1(cx+r*math.Cos(end)), f1(cy+r*math.Sin(end)), color, esc(tip))
			angle = end
		}
		y := 20 + rowH*float64(i)
		fmt.Fprintf(&b, `<rect class="key" x="%s" y="%s" width="12" height="12" fill="%s"/>`, f1(legendX), f1(y), color)
		label := truncate(s.name, width-legendX-20-textWidth(" 100.0%"))
		fmt.Fprintf(&b, `<text x="%s" y="%s">%s %s</text>`, f1(legendX+18), f1(y+10), esc(label), pct(share))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every value above is a number or escaped
}

// Histogram draws counts[i] over the interval [edges[i], edges[i+1]);
// len(edges) == len(counts)+1. unit names the x axis values.
func Histogram(title string, edges []float64, counts []float64, unit string) template.HTML {
	n := min(len(counts), len(edges)-1)
	if n <= 0 {
		return empty(title)
	}
	hasData := false
	hi := 0.0
	for _, c := range counts[:n] {
		if finite(c) {
			hasData = true
			hi = math.Max(hi, c)
		}
	}
	for _, e := range edges[:n+1] {
		if !finite(e) {
			return empty(title)
		}
	}
	if !hasData {
		return empty(title)
	}
	ax := newAxis(0, hi)
	labels := make([]string, n+1)
	for i, e := range edges[:n+1] {
		labels[i] = num(e)
	}
	lay := layout(labels, n+1, ax, "", nil)
	if unit != "" {
		lay.h += fontSize * 1.25 // a line below the edges for the unit
	}
	// Edges sit on slot boundaries, not centres: n bars over n slots, so
	// the first and last edge labels need half a label of room at the sides.
	var b strings.Builder
	open(&b, title, width, lay.h)
	lay.grid(&b, ax, "")
	bw := lay.pw / float64(n)
	for i := 0; i < n; i++ {
		c := counts[i]
		if !finite(c) {
			continue
		}
		x := lay.left + bw*float64(i)
		y0, y1 := lay.y(ax, 0), lay.y(ax, math.Max(c, 0))
		fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s" stroke="#fff" stroke-width="0.5"><title>%s–%s%s：%s</title></rect>`,
			f1(x), f1(y1), f1(bw), f1(math.Max(y0-y1, 0)), palette[0], num(edges[i]), num(edges[i+1]), esc(unit), num(c))
	}
	lay.xLabels(&b, labels, func(i int) float64 { return lay.left + bw*float64(i) })
	if unit != "" {
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="end">%s</text>`, f1(lay.left+lay.pw), f1(lay.h-6), "单位："+esc(unit))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every value above is a number or escaped
}

func categorical(title string, categories []string, series []Series, unit string, line bool) template.HTML {
	n := len(categories)
	lo, hi, hasData := 0.0, 0.0, false
	for _, s := range series {
		for i, v := range s.Values {
			if i < n && finite(v) {
				hasData = true
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if n == 0 || !hasData {
		return empty(title)
	}
	ax := newAxis(lo, hi)
	var names []string
	if len(series) > 1 {
		for _, s := range series {
			names = append(names, s.Name)
		}
	}
	lay := layout(categories, n, ax, unit, names)
	slot := lay.pw / float64(n)
	center := func(i int) float64 { return lay.left + slot*(float64(i)+.5) }
	var b strings.Builder
	open(&b, title, width, lay.h)
	lay.legend(&b, names, line)
	lay.grid(&b, ax, unit)
	for si, s := range series {
		color := palette[si%len(palette)]
		if line {
			var pts []string
			var tips []string
			flush := func() {
				if len(pts) == 1 { // a lone point: a dot, so it is seen
					xy := strings.Split(pts[0], ",")
					fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3" fill="%s"><title>%s</title></circle>`, xy[0], xy[1], color, tips[0])
				} else if len(pts) > 1 {
					fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"><title>%s</title></polyline>`,
						color, dash(si), strings.Join(pts, " "), esc(s.Name))
				}
				pts, tips = pts[:0], tips[:0]
			}
			for i := 0; i < n; i++ {
				if i >= len(s.Values) || !finite(s.Values[i]) {
					flush()
					continue
				}
				pts = append(pts, f1(center(i))+","+f1(lay.y(ax, s.Values[i])))
				tips = append(tips, esc(tip(categories[i], s.Name, s.Values[i], unit)))
			}
			flush()
			continue
		}
		group := slot * .8
		bw := group / float64(len(series))
		for i := 0; i < n && i < len(s.Values); i++ {
			v := s.Values[i]
			if !finite(v) {
				continue
			}
			x := center(i) - group/2 + bw*float64(si)
			y0, y1 := lay.y(ax, 0), lay.y(ax, v)
			top, hgt := math.Min(y0, y1), math.Abs(y0-y1)
			fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s</title></rect>`,
				f1(x), f1(top), f1(bw), f1(hgt), color, esc(tip(categories[i], s.Name, v, unit)))
		}
	}
	lay.xLabels(&b, categories, center)
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every value above is a number or escaped
}

func tip(cat, series string, v float64, unit string) string {
	if series != "" {
		cat += " · " + series
	}
	return cat + "：" + num(v) + unit
}

// axis is a value axis with round ticks from lo to hi.
type axis struct{ lo, hi, step float64 }

func newAxis(lo, hi float64) axis {
	if hi <= lo {
		hi = lo + 1
	}
	step := niceStep((hi - lo) / 5)
	return axis{lo: math.Floor(lo/step) * step, hi: math.Ceil(hi/step) * step, step: step}
}

// niceStep rounds a tick step up to 1, 2 or 5 times a power of ten.
func niceStep(v float64) float64 {
	if !(v > 0) || !finite(v) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5} {
		if m*p >= v*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// frame is the computed geometry of an axis chart.
type frame struct {
	left, top, pw float64
	h             float64
	rotate        float64 // x label rotation in degrees: 0, -45 or -90
	every         int     // draw every k-th x label
	legendTop     float64
}

func (l frame) y(ax axis, v float64) float64 {
	return l.top + plotH*(1-(v-ax.lo)/(ax.hi-ax.lo))
}

// layout sizes the margins: the left one from the tick labels, the top one
// from the legend, the bottom one from the x labels, which turn 45° when
// they do not fit side by side, 90° when even that would overlap, and are
// thinned to every k-th when upright ones would still collide.
func layout(labels []string, slots int, ax axis, unit string, legend []string) frame {
	l := frame{every: 1, legendTop: 8}
	tickW := 0.0
	for v := ax.lo; v <= ax.hi+ax.step/2; v += ax.step {
		tickW = math.Max(tickW, textWidth(num(v)+unit))
	}
	l.left = math.Ceil(tickW) + 10
	right := 16.0
	l.pw = width - l.left - right
	l.top = 12
	if len(legend) > 0 {
		l.top += legendHeight(legend) + 4
	}
	labelW := 0.0
	for _, s := range labels {
		labelW = math.Max(labelW, textWidth(truncate(s, maxLabelW)))
	}
	slot := l.pw / float64(slots)
	line := fontSize * 1.25
	var bottom float64
	switch {
	case labelW+6 <= slot:
		bottom = line + 8
	case slot >= line/math.Sin(math.Pi/4):
		l.rotate = -45
		bottom = labelW*math.Sin(math.Pi/4) + line
		// The first label hangs down to the left of its tick: the left
		// margin must hold it, or the browser cuts it at the edge.
		if need := labelW*math.Cos(math.Pi/4) - slot/2 + 4; need > l.left {
			l.pw -= need - l.left
			l.left = need
		}
	default:
		l.rotate = -90
		l.every = int(math.Ceil(line / slot))
		bottom = labelW + line
	}
	l.h = math.Ceil(l.top + plotH + bottom + 6)
	return l
}

// legend lays out swatches and names left to right, wrapping rows; a line
// chart's swatch is a short line in the series' dash pattern.
func legendRows(names []string) [][]int {
	var rows [][]int
	x := 0.0
	for i, n := range names {
		w := 22 + textWidth(truncate(n, maxLabelW)) + 16
		if len(rows) == 0 || x+w > width-16 {
			rows = append(rows, nil)
			x = 0
		}
		rows[len(rows)-1] = append(rows[len(rows)-1], i)
		x += w
	}
	return rows
}

func legendHeight(names []string) float64 { return float64(len(legendRows(names))) * 20 }

func (l frame) legend(b *strings.Builder, names []string, line bool) {
	for r, row := range legendRows(names) {
		x, y := l.left, l.legendTop+20*float64(r)
		for _, i := range row {
			color := palette[i%len(palette)]
			if line {
				fmt.Fprintf(b, `<line class="key" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="2"%s/>`,
					f1(x), f1(y+7), f1(x+18), f1(y+7), color, dash(i))
			} else {
				fmt.Fprintf(b, `<rect class="key" x="%s" y="%s" width="12" height="12" fill="%s"/>`, f1(x), f1(y+1), color)
			}
			name := truncate(names[i], maxLabelW)
			fmt.Fprintf(b, `<text x="%s" y="%s">%s</text>`, f1(x+22), f1(y+11), esc(name))
			x += 22 + textWidth(name) + 16
		}
	}
}

func (l frame) grid(b *strings.Builder, ax axis, unit string) {
	for v := ax.lo; v <= ax.hi+ax.step/2; v += ax.step {
		y := l.y(ax, v)
		cls, col := "grid", "#e5e6e7"
		if math.Abs(v) < ax.step/2 {
			cls, col, v = "axis", "#b1b4b6", 0 // the zero line, and no "-0"
		}
		fmt.Fprintf(b, `<line class="%s" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`, cls, f1(l.left), f1(y), f1(l.left+l.pw), f1(y), col)
		fmt.Fprintf(b, `<text x="%s" y="%s" text-anchor="end">%s%s</text>`, f1(l.left-5), f1(y+4), num(v), esc(unit))
	}
}

func (l frame) xLabels(b *strings.Builder, labels []string, at func(int) float64) {
	base := l.top + plotH + fontSize + 4
	for i, s := range labels {
		if i%l.every != 0 {
			continue
		}
		x := at(i)
		text := esc(truncate(s, maxLabelW))
		switch l.rotate {
		case 0:
			fmt.Fprintf(b, `<text x="%s" y="%s" text-anchor="middle">%s</text>`, f1(x), f1(base), text)
		default:
			// Anchored at its end under the tick, turned up to the left.
			fmt.Fprintf(b, `<text x="%s" y="%s" text-anchor="end" transform="rotate(%g %s %s)">%s</text>`,
				f1(x+fontSize*.35), f1(base-4), l.rotate, f1(x+fontSize*.35), f1(base-4), text)
		}
	}
}

func open(b *strings.Builder, title string, w, h float64) {
	fmt.Fprintf(b, `<svg class="chart" viewBox="0 0 %s %s" width="%s" height="%s" role="img" aria-label="%s" font-size="%g" fill="#0b0c0c" xmlns="http://www.w3.org/2000/svg">`,
		f1(w), f1(h), f1(w), f1(h), esc(title), fontSize)
	fmt.Fprintf(b, `<title>%s</title>`, esc(title))
}

// empty is the chart of no data: small, saying so.
func empty(title string) template.HTML {
	var b strings.Builder
	// As wide as a chart, so pages.css scales its text like a chart's.
	open(&b, title, width, 40)
	fmt.Fprintf(&b, `<text x="%d" y="25" text-anchor="middle">%s</text></svg>`, width/2, noData)
	return template.HTML(b.String()) // the title is escaped
}

// textWidth estimates the drawn width at fontSize: a wide (Chinese,
// full-width) character one em, others 0.6 em; the browser's own font
// decides the real width, so the estimate errs on the wide side.
func textWidth(s string) float64 {
	w := 0.0
	for _, r := range s {
		if wide(r) {
			w += fontSize
		} else {
			w += fontSize * .6
		}
	}
	return w
}

func wide(r rune) bool {
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hangul, r) || unicode.Is(unicode.Hiragana, r) ||
		unicode.Is(unicode.Katakana, r) || (r >= 0x3000 && r <= 0x303f) || (r >= 0xff00 && r <= 0xffef) ||
		r == '…' || r == '—' || r == '“' || r == '”'
}

// truncate cuts s to at most maxW wide, ending it with "…".
func truncate(s string, maxW float64) string {
	s = clean(s)
	if textWidth(s) <= maxW {
		return s
	}
	w := textWidth("…")
	var b strings.Builder
	for _, r := range s {
		rw := textWidth(string(r))
		if w+rw > maxW {
			break
		}
		w += rw
		b.WriteRune(r)
	}
	return b.String() + "…"
}

// clean drops what XML may not contain (control characters, invalid
// UTF-8): the chart must stay well-formed whatever a name holds.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || (r < 0x20 && r != '\t') || (r >= 0xfffe && r <= 0xffff) || (r >= 0xd800 && r <= 0xdfff) {
			return -1
		}
		if r == '\t' {
			return ' '
		}
		return r
	}, s)
}

func esc(s string) string { return template.HTMLEscapeString(clean(s)) }

func dash(i int) string {
	d := dashes[i%len(dashes)]
	if d == "" {
		return ""
	}
	return ` stroke-dasharray="` + d + `"`
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// f1 formats a coordinate with one decimal, never NaN (a NaN would make
// the browser drop the element silently).
func f1(v float64) string {
	if !finite(v) {
		v = 0
	}
	s := strconv.FormatFloat(v, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	if s == "-0" {
		s = "0"
	}
	return s
}

// num formats a value for people: thousands grouped, at most two decimals.
func num(v float64) string {
	if !finite(v) {
		return "–"
	}
	neg := v < 0
	v = math.Abs(v)
	s := strconv.FormatFloat(v, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	intPart, frac, _ := strings.Cut(s, ".")
	var g strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			g.WriteByte(',')
		}
		g.WriteRune(c)
	}
	if frac != "" {
		g.WriteString("." + frac)
	}
	if neg && g.String() != "0" {
		return "-" + g.String()
	}
	return g.String()
}

func pct(share float64) string {
	return strconv.FormatFloat(share*100, 'f', 1, 64) + "%"
}
