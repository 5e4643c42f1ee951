package portal

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"

	"jifen/internal/rules"
)

// ScoreBin is one bar of a score distribution: the count of totals in
// [Lo, Hi). AboveCutoff marks a bin that reaches the line (Hi > cutoff):
// on a published list, where every total is at or above the cutoff, each
// person it counts qualified.
type ScoreBin struct {
	Lo, Hi      rules.Points
	Count       int
	AboveCutoff bool
}

const (
	preferredWidth = 200 // whole points, two at a time
	minBins        = 8
	maxBins        = 20
)

// ScoreBins counts totals in bins whose lower bound is inclusive and a
// multiple of the width, from the bin of the lowest value (or of the
// cutoff, if lower) to the bin of the highest, empty bins included so the
// bars stand on a continuous axis.
//
// The width is 2 points when that gives 8–20 bins, which it does for every
// real list (2020–2022 span about 30 points: 15–17 bins); a wider range
// takes the narrowest of 5, 10, 20, 50… points that gives at most 20 bins,
// and a narrower one the widest of 1, 0.5, 0.25 points that gives at least
// 8 (a single value is one bin of 2 points). No totals: nil.
func ScoreBins(totals []rules.Points, cutoff rules.Points) []ScoreBin {
	if len(totals) == 0 {
		return nil
	}
	lo, hi := min(totals[0], cutoff), totals[0]
	for _, t := range totals {
		lo, hi = min(lo, t), max(hi, t)
	}
	width := chooseWidth(lo, hi)
	first := floorTo(lo, width)
	bins := make([]ScoreBin, int((floorTo(hi, width)-first)/width)+1)
	for i := range bins {
		b := &bins[i]
		b.Lo = first + rules.Points(i)*width
		b.Hi = b.Lo + width
		b.AboveCutoff = b.Hi > cutoff
	}
	for _, t := range totals {
		bins[(floorTo(t, width)-first)/width].Count++
	}
	return bins
}

func chooseWidth(lo, hi rules.Points) rules.Points {
	n := func(w rules.Points) int { return int((floorTo(hi, w)-floorTo(lo, w))/w) + 1 }
	w := rules.Points(preferredWidth)
	if lo == hi {
		return w
	}
	if n(w) > maxBins {
		for n(w) > maxBins { // 2 → 5 → 10 → 20 → 50 … points
			if strconv.FormatInt(int64(w), 10)[0] == '2' {
				w = w * 5 / 2
			} else {
				w *= 2
			}
		}
		return w
	}
	for _, narrower := range []rules.Points{100, 50, 25} {
		if n(w) >= minBins {
			break
		}
		w = narrower
	}
	return w
}

// floorTo rounds p down to a multiple of w, negative values included.
func floorTo(p, w rules.Points) rules.Points {
	q := p / w
	if p%w != 0 && p < 0 {
		q--
	}
	return q * w
}

// shortPoints writes p as the axis does: 104, 105.5, 105.42.
func shortPoints(p rules.Points) string {
	b, _ := p.MarshalJSON() // never fails
	return string(b)
}

// binLabel names the bin's range by its last reachable value, so it reads
// without interval notation: "104.00 至 105.99".
func binLabel(b ScoreBin) string {
	return b.Lo.String() + " 至 " + (b.Hi - 1).String()
}

// Colours of the bars: both have at least 3:1 contrast on white (WCAG
// 1.4.11), and the cutoff line and the table say the same without colour.
const (
	barAbove   = "#1d70b8"
	barBelow   = "#505a5f"
	cutoffLine = "#d4351c"
)

// DistributionChart draws bins as an inline SVG bar chart on the server,
// like trendChart: no script, nothing from the internet, sized by viewBox
// so the .chart rule (width: 100%) fits it to a 360-pixel phone. Bins that
// reach the cutoff are drawn in another colour and a dashed line labelled
// 分数线 marks the cutoff. Pair it with DistributionTable for screen readers.
// No bins: "".
func DistributionChart(bins []ScoreBin, cutoff rules.Points) template.HTML {
	if len(bins) == 0 {
		return ""
	}
	const w, h = 360, 200
	const left, right, top, bottom = 44, 20, 24, 32
	pw, ph := float64(w-left-right), float64(h-top-bottom)
	lo, hi := bins[0].Lo, bins[len(bins)-1].Hi
	top1 := 1
	total := 0
	for _, b := range bins {
		top1 = max(top1, b.Count)
		total += b.Count
	}
	ymax := niceCeil(max(top1, 2)) // 2 at least: three distinct counts on the axis
	x := func(p rules.Points) float64 { return float64(left) + pw*float64(p-lo)/float64(hi-lo) }
	y := func(n int) float64 { return float64(top) + ph*(1-float64(n)/float64(ymax)) }

	var b strings.Builder
	label := template.HTMLEscapeString(fmt.Sprintf("积分分布：共 %d 人，每档 %s 分，分数线 %s 分",
		total, shortPoints(bins[0].Hi-bins[0].Lo), cutoff.String()))
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg"><title>%s</title>`,
		w, h, w, h, label, label)
	for _, f := range []int{0, 1, 2} { // grid lines and counts at 0, half, top
		n := ymax * f / 2
		fmt.Fprintf(&b, `<line class="grid" x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e5e6e7"/>`, left, y(n), w-right, y(n))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`, left-4, y(n),
			template.HTMLEscapeString(strconv.Itoa(n)))
	}
	for _, bin := range bins {
		if bin.Count == 0 {
			continue
		}
		color := barBelow
		if bin.AboveCutoff {
			color = barAbove
		}
		x0, x1 := x(bin.Lo), x(bin.Hi)
		// One person among thousands still shows: at least 2 units tall.
		bh := max(y(0)-y(bin.Count), 2)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s</title></rect>`,
			x0+0.5, y(0)-bh, max(x1-x0-1, 0.5), bh, color,
			template.HTMLEscapeString(fmt.Sprintf("%s 分：%d 人", binLabel(bin), bin.Count)))
	}
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#b1b4b6"/>`, left, y(0), w-right, y(0))
	// At most six labels on the score axis, so they do not collide on a phone.
	step := (len(bins) + 5) / 6
	for i := 0; i <= len(bins); i += step {
		p := hi
		if i < len(bins) {
			p = bins[i].Lo
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, x(p), h-bottom+14,
			template.HTMLEscapeString(shortPoints(p)))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, w-right, h-4, template.HTMLEscapeString("积分（分）"))
	if cutoff >= lo && cutoff <= hi {
		cx := x(cutoff)
		anchor := "start" // the label stays inside the picture on either side
		if cx > float64(left)+pw/2 {
			anchor = "end"
		}
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2" stroke-dasharray="4 3"/>`,
			cx, top-6, cx, y(0), cutoffLine)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="%s">%s</text>`, cx, top-10, anchor,
			template.HTMLEscapeString("分数线 "+cutoff.String()))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every value above is a number or escaped
}

// niceCeil rounds n up to 1, 2 or 5 times a power of ten, so the count
// axis reads in round numbers.
func niceCeil(n int) int {
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*p >= n {
				return m * p
			}
		}
	}
}

// DistributionTable is the chart's numbers as a table, for screen readers
// and for anyone who prefers to read them. No bins: "".
func DistributionTable(bins []ScoreBin, cutoff rules.Points) template.HTML {
	if len(bins) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<div class="table-wrap"><table class="table-stack"><caption>%s</caption>`,
		template.HTMLEscapeString(fmt.Sprintf("积分分布（每档 %s 分，分数线 %s 分）", shortPoints(bins[0].Hi-bins[0].Lo), cutoff.String())))
	b.WriteString(`<thead><tr><th scope="col">积分段（分）</th><th scope="col">人数</th><th scope="col">是否达到分数线</th></tr></thead><tbody>`)
	for _, bin := range bins {
		reach := "否"
		switch {
		case bin.Lo >= cutoff:
			reach = "是"
		case bin.AboveCutoff:
			reach = "含分数线"
		}
		fmt.Fprintf(&b, `<tr><td data-label="积分段（分）">%s</td><td data-label="人数">%s</td><td data-label="是否达到分数线">%s</td></tr>`,
			template.HTMLEscapeString(binLabel(bin)), template.HTMLEscapeString(thousands(bin.Count)), template.HTMLEscapeString(reach))
	}
	b.WriteString(`</tbody></table></div>`)
	return template.HTML(b.String()) // every value above is a number or escaped
}
