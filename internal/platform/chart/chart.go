// Package chart draws charts as SVG on the server, for pages that must work
// without the internet or a script: bar, line, pie and histogram. Each
// chart is an <svg role="img"> with a <title> and an aria-label; the page
// shows the chart's data as a table beside it.
//
// CONTRACT STUB: the signatures are fixed; the drawing is being written.
package chart

import (
	"html/template"
)

// Series is one named run of values, one per category.
type Series struct {
	Name   string
	Values []float64
}

// Bar draws grouped vertical bars: one group per category, one bar per
// series. unit follows the axis values ("人", "分").
func Bar(title string, categories []string, series []Series, unit string) template.HTML {
	return template.HTML("<svg role=\"img\" aria-label=\"" + template.HTMLEscapeString(title) + "\"></svg>")
}

// Line draws one line per series over the categories.
func Line(title string, categories []string, series []Series, unit string) template.HTML {
	return Bar(title, categories, series, unit)
}

// Pie draws the shares of values (negative values count as 0).
func Pie(title string, categories []string, values []float64) template.HTML {
	return Bar(title, categories, nil, "")
}

// Histogram draws counts[i] over the interval [edges[i], edges[i+1]);
// len(edges) == len(counts)+1. unit names the x axis values.
func Histogram(title string, edges []float64, counts []float64, unit string) template.HTML {
	return Bar(title, nil, nil, unit)
}
