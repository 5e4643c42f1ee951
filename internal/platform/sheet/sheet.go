// Package sheet writes tables for spreadsheets: CSV (UTF-8 with a byte
// order mark, so Excel reads the Chinese) and Excel workbooks, with every
// text cell neutralized against formula injection.
package sheet

import (
	"encoding/csv"
	"io"
	"strings"

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
