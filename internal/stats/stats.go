// Package stats is the office's statistics (统计报表 / 申报统计多维度查询):
// pivot queries over the applications of every round — dimensions,
// measures, filters — answered from an in-memory column store (the cube)
// that is loaded from the database and kept fresh by a cheap incremental
// refresh, drill-downs into the cases behind a cell (audited like case
// views), small-cell suppression for what leaves the office, and exports.
//
// The package writes no table of its own for the cube: it reads
// applications, persons, employers, check_scores and ranking_entries, which
// their owners write. Saved queries and scheduled reports are stored by
// package statsreport.
package stats

import (
	"time"
)

// Query is one pivot query. It is what the office page's form, the JSON
// API and `jifen stats` send, and what a saved query stores (as JSON).
type Query struct {
	// Dims are the grouping dimensions, at most MaxDims; the first is the
	// pivot's rows, the others its columns. Empty: one row, the totals.
	Dims []string `json:"dims"`
	// Measures are "count" or "<agg>:<field>" with agg one of sum, mean,
	// min, max, p10…p99 (any pNN) and field "total" or an indicator code
	// (rules.IndicatorCodes: "education", "tax", …). Empty means count.
	Measures []string `json:"measures"`
	// Filters keep the applications whose dimension value is one of the
	// codes given, per dimension ("district": ["朝阳区", "海淀区"]).
	Filters map[string][]string `json:"filters,omitempty"`
}

// MaxDims is how many dimensions one query may group by.
const MaxDims = 3

// Result is a query's answer.
type Result struct {
	Query    Query         `json:"query"`
	Dims     []DimInfo     `json:"dims"`
	Measures []MeasureInfo `json:"measures"`
	// Rows are the non-empty cells, ordered by the dimensions' own order.
	Rows []Row `json:"rows"`
	// Total is the same measures over every application the filters keep.
	Total Row `json:"total"`
	// AsOf is when the data answered from was read from the database.
	AsOf time.Time `json:"as_of"`
	// Suppressed is the threshold applied (0: exact figures, office only).
	Suppressed int `json:"suppressed_below,omitempty"`
	// Scope is the district the asker is limited to ("" for the city).
	Scope string `json:"scope,omitempty"`
}

// Row is one cell of the pivot: the dimension values and the measures.
type Row struct {
	Keys   []string `json:"keys"`   // the dimensions' codes, in Result.Dims order
	Labels []string `json:"labels"` // their Chinese names
	Count  int      `json:"count"`
	Values []Value  `json:"values"` // one per measure, in Result.Measures order
	// Hidden: a suppressed small cell; Count is 0 and every value hidden.
	Hidden bool `json:"hidden,omitempty"`
}

// Value is one measure of one cell. Null: no application in the cell has
// the field (a mean of nothing). Hidden: suppressed (shown as "<N").
type Value struct {
	N      float64 `json:"n"`
	Null   bool    `json:"null,omitempty"`
	Hidden bool    `json:"hidden,omitempty"`
}

// DimInfo describes a dimension for forms, headers and docs/api.md.
type DimInfo struct {
	Name   string  `json:"name"`
	Label  string  `json:"label"`
	Values []Level `json:"values"` // every value, in display order
}

// Level is one value of a dimension.
type Level struct {
	Code  string `json:"code"`
	Label string `json:"label"`
}

// MeasureInfo describes a measure.
type MeasureInfo struct {
	Name  string `json:"name"`  // as asked: "count", "mean:total"
	Label string `json:"label"` // "人数", "总积分平均值"
	Unit  string `json:"unit"`  // "人" | "分"
}
