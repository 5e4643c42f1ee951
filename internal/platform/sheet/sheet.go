// Package sheet writes tables for spreadsheets: CSV (UTF-8 with a byte
// order mark, so Excel reads the Chinese) and Excel workbooks, with every
// text cell neutralized against formula injection.
package sheet

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode"

	"github.com/xuri/excelize/v2"
)

// Neutralize makes a cell that a spreadsheet would read as a formula (it
// begins with = + - @, or a tab or carriage return that some programs
// skip) plain text, by prefixing an apostrophe: an employer's name or a
// note must never run as a formula on an officer's computer. Every export
// (settlement, access statistics) goes through this package.
func Neutralize(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// WriteCSV writes header and rows as CSV with a byte order mark; string
// cells are neutralized, other values are written with their default
// format.
func WriteCSV(w io.Writer, header []string, rows [][]string) error {
	if _, err := io.WriteString(w, "\uFEFF"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return err
	}
	for _, r := range rows {
		rec := make([]string, len(r))
		for i, v := range r {
			rec[i] = Neutralize(v)
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteExcel writes header and rows as a one-sheet workbook (.xlsx):
// strings neutralized, numbers as numbers.
func WriteExcel(w io.Writer, sheetName string, header []string, rows [][]any) error {
	f := excelize.NewFile()
	defer func() { _ = f.Close() }()
	if err := f.SetSheetName("Sheet1", sheetName); err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(sheetName)
	if err != nil {
		return err
	}
	head := make([]any, len(header))
	for i, h := range header {
		head[i] = h
	}
	if err := sw.SetRow("A1", head); err != nil {
		return err
	}
	for i, r := range rows {
		cells := make([]any, len(r))
		for j, v := range r {
			if s, ok := v.(string); ok {
				v = Neutralize(s)
			}
			cells[j] = v
		}
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		if err := sw.SetRow(cell, cells); err != nil {
			return err
		}
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	_, err = f.WriteTo(w)
	return err
}

// Column describes one column of a WriteTable sheet.
type Column struct {
	Header string
	// Format is "text" (the default), "int" (#,##0), "decimal2" (0.00) or
	// "percent1" (0.0%, the value a fraction: 0.125 shows 12.5%).
	Format string
	// Width in Excel character units; 0 sizes the column from its
	// content, a Chinese character counting as two.
	Width float64
}

// WriteTable writes one sheet (.xlsx) for officers to work with: the
// headers bold in a frozen first row, each numeric column in its number
// format, every string neutralized. A string in a numeric column (a
// suppressed small count shown as "<5") is kept as text, right-aligned
// like the numbers around it. notes are written as lines below the table
// (the data's date, what "<5" means). Rows are streamed, so a large
// export does not hold a cell object per value.
func WriteTable(w io.Writer, sheetName string, cols []Column, rows [][]any, notes ...string) error {
	f := excelize.NewFile()
	defer func() { _ = f.Close() }()
	if err := f.SetSheetName("Sheet1", sheetName); err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(sheetName)
	if err != nil {
		return err
	}
	headStyle, err := f.NewStyle(&excelize.Style{
		Font:      &excelize.Font{Bold: true},
		Alignment: &excelize.Alignment{Vertical: "center", WrapText: true},
		Border:    []excelize.Border{{Type: "bottom", Color: "000000", Style: 1}},
	})
	if err != nil {
		return err
	}
	rightText, err := f.NewStyle(&excelize.Style{Alignment: &excelize.Alignment{Horizontal: "right"}})
	if err != nil {
		return err
	}
	styles := make([]int, len(cols)) // 0: text, no style
	for i, c := range cols {
		var st *excelize.Style
		switch c.Format {
		case "int":
			st = &excelize.Style{NumFmt: 3} // built-in #,##0
		case "decimal2":
			st = &excelize.Style{NumFmt: 2} // built-in 0.00
		case "percent1":
			p := "0.0%"
			st = &excelize.Style{CustomNumFmt: &p}
		}
		if st != nil {
			if styles[i], err = f.NewStyle(st); err != nil {
				return err
			}
		}
	}

	// Widths go before the first row (the stream writer's rule).
	for i, c := range cols {
		wd := c.Width
		if wd <= 0 {
			wd = autoWidth(c, i, rows)
		}
		if err := sw.SetColWidth(i+1, i+1, wd); err != nil {
			return err
		}
	}
	if err := sw.SetPanes(&excelize.Panes{
		Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft",
		Selection: []excelize.Selection{{SQRef: "A2", ActiveCell: "A2", Pane: "bottomLeft"}},
	}); err != nil {
		return err
	}

	head := make([]any, len(cols))
	for i, c := range cols {
		head[i] = excelize.Cell{StyleID: headStyle, Value: Neutralize(c.Header)}
	}
	if err := sw.SetRow("A1", head); err != nil {
		return err
	}
	for r, row := range rows {
		cells := make([]any, len(row))
		for j, v := range row {
			numeric := j < len(cols) && styles[j] != 0
			switch x := v.(type) {
			case string:
				if numeric {
					cells[j] = excelize.Cell{StyleID: rightText, Value: Neutralize(x)}
				} else {
					cells[j] = Neutralize(x)
				}
			case float64:
				if math.IsNaN(x) || math.IsInf(x, 0) {
					cells[j] = nil // no value is better than a cell Excel calls an error
				} else if numeric {
					cells[j] = excelize.Cell{StyleID: styles[j], Value: x}
				} else {
					cells[j] = x
				}
			default:
				if numeric && v != nil {
					cells[j] = excelize.Cell{StyleID: styles[j], Value: v}
				} else {
					cells[j] = v
				}
			}
		}
		cell, _ := excelize.CoordinatesToCellName(1, r+2)
		if err := sw.SetRow(cell, cells); err != nil {
			return err
		}
	}
	// Notes after one empty row, so a filter or sort over the table
	// (Excel takes the contiguous block) leaves them out.
	for i, n := range notes {
		cell, _ := excelize.CoordinatesToCellName(1, len(rows)+3+i)
		if err := sw.SetRow(cell, []any{Neutralize(n)}); err != nil {
			return err
		}
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	_, err = f.WriteTo(w)
	return err
}

// autoWidth is the widest of the column's header and cells, in Excel's
// character units, where a Chinese character takes two; kept between 8
// and 60 so a long note-like cell does not make a column screen-wide.
func autoWidth(c Column, col int, rows [][]any) float64 {
	wd := displayWidth(c.Header)
	for _, r := range rows {
		if col >= len(r) || r[col] == nil {
			continue
		}
		var s string
		switch x := r[col].(type) {
		case string:
			s = x
		case float64:
			s = strconv.FormatFloat(x, 'f', 2, 64)
		default:
			s = fmt.Sprint(x)
		}
		if c.Format == "int" && len(s) > 3 {
			s += strings.Repeat(",", (len(s)-1)/3) // the thousands separators
		}
		wd = max(wd, displayWidth(s))
	}
	return min(max(float64(wd)+2, 8), 60)
}

func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x1100 && (unicode.Is(unicode.Han, r) || (r >= 0x3000 && r <= 0x30ff) || (r >= 0xff00 && r <= 0xffef) ||
			unicode.Is(unicode.Hangul, r)) {
			n += 2
		} else {
			n++
		}
	}
	return n
}
