package stats

import (
	"io"
	"strconv"

	"jifen/internal/platform/clock"
	"jifen/internal/platform/sheet"
)

// Flat is a result as `jifen stats` prints it and the API's "flat" form:
// one object per cell with each dimension's code under its name (and its
// Chinese name under name+"_label"), "count", and each measure under its
// name; a suppressed figure is the string "<N".
type Flat struct {
	Rows  []map[string]any `json:"rows"`
	Total map[string]any   `json:"total"`
	AsOf  string           `json:"as_of"`
	// SuppressedBelow is the small-cell threshold applied, 0 for none.
	SuppressedBelow int `json:"suppressed_below,omitempty"`
}

// Flatten turns r into its flat form.
func Flatten(r *Result) Flat {
	f := Flat{Rows: make([]map[string]any, 0, len(r.Rows)), AsOf: r.AsOf.In(clock.Beijing).Format("2006-01-02T15:04:05+08:00"),
		SuppressedBelow: r.Suppressed}
	cell := func(row Row) map[string]any {
		m := map[string]any{}
		for i, d := range r.Dims {
			if i < len(row.Keys) {
				m[d.Name], m[d.Name+"_label"] = row.Keys[i], row.Labels[i]
			}
		}
		if row.Hidden {
			m["count"] = "<" + strconv.Itoa(r.Suppressed)
		} else {
			m["count"] = row.Count
		}
		for i, ms := range r.Measures {
			if ms.Name == "count" || i >= len(row.Values) {
				continue
			}
			m[ms.Name] = valueAny(row.Values[i], r.Suppressed)
		}
		return m
	}
	for _, row := range r.Rows {
		f.Rows = append(f.Rows, cell(row))
	}
	f.Total = cell(r.Total)
	return f
}

func valueAny(v Value, below int) any {
	switch {
	case v.Hidden:
		return "<" + strconv.Itoa(below)
	case v.Null:
		return nil
	}
	return v.N
}

// header is the table's column line: the dimensions, then the measures.
func header(r *Result) []string {
	var h []string
	for _, d := range r.Dims {
		h = append(h, d.Label)
	}
	for _, m := range r.Measures {
		label := m.Label
		if m.Unit != "" {
			label += "（" + m.Unit + "）"
		}
		h = append(h, label)
	}
	return h
}

// table is r as rows of cells: labels, then numbers (or "<N"), then the
// total line.
func table(r *Result) [][]any {
	var out [][]any
	line := func(labels []string, row Row) []any {
		var l []any
		for i := range r.Dims {
			if i < len(labels) {
				l = append(l, labels[i])
			} else {
				l = append(l, "")
			}
		}
		for i := range r.Measures {
			if i < len(row.Values) {
				v := valueAny(row.Values[i], r.Suppressed)
				if v == nil {
					v = ""
				}
				l = append(l, v)
			}
		}
		return l
	}
	for _, row := range r.Rows {
		out = append(out, line(row.Labels, row))
	}
	totalLabel := []string{"合计"}
	if r.Suppressed > 0 {
		totalLabel = []string{"合计（不含小于" + strconv.Itoa(r.Suppressed) + "的格）"}
	}
	if len(r.Dims) == 0 {
		totalLabel = nil
	}
	out = append(out, line(totalLabel, r.Total))
	return out
}

// notes are the lines under an exported table.
func notes(r *Result) []string {
	n := []string{"数据截至 " + r.AsOf.In(clock.Beijing).Format("2006-01-02 15:04:05")}
	if r.Scope != "" {
		n = append(n, "范围："+r.Scope)
	}
	if r.Suppressed > 0 {
		n = append(n, "人数少于"+strconv.Itoa(r.Suppressed)+"的格以“<"+strconv.Itoa(r.Suppressed)+"”显示，合计只计显示的格")
	}
	return n
}

// WriteCSV writes r as a CSV table (Chinese headers; a hidden value as
// "<N"), the notes as the last lines.
func WriteCSV(w io.Writer, r *Result) error {
	rows := table(r)
	recs := make([][]string, 0, len(rows)+3)
	for _, row := range rows {
		rec := make([]string, len(row))
		for i, c := range row {
			rec[i] = cellText(c)
		}
		recs = append(recs, rec)
	}
	for _, n := range notes(r) {
		recs = append(recs, []string{n})
	}
	return sheet.WriteCSV(w, header(r), recs)
}

func cellText(c any) string {
	switch v := c.(type) {
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ""
}

// WriteExcel writes r as an Excel workbook: Chinese headers, frozen header
// row, number formats (counts "#,##0", points "0.00"), a suppressed figure
// as the text "<N", the notes under the table.
func WriteExcel(w io.Writer, r *Result) error {
	var cols []sheet.Column
	for _, h := range header(r)[:len(r.Dims)] {
		cols = append(cols, sheet.Column{Header: h, Format: "text"})
	}
	for i, m := range r.Measures {
		f := "decimal2"
		if countLike(m) {
			f = "int"
		}
		cols = append(cols, sheet.Column{Header: header(r)[len(r.Dims)+i], Format: f})
	}
	return sheet.WriteTable(w, "申报统计", cols, table(r), notes(r)...)
}
