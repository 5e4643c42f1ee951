package sheet

import (
	"bytes"
	"math"
	"testing"

	"github.com/xuri/excelize/v2"
)

func TestWriteTable(t *testing.T) {
	cols := []Column{
		{Header: "用人单位"},
		{Header: "申请人数", Format: "int"},
		{Header: "平均积分", Format: "decimal2"},
		{Header: "通过率", Format: "percent1", Width: 12},
	}
	rows := [][]any{
		{"=1+1", 12345, 98.765, 0.125},
		{"北京市海淀区某某科技有限公司", "<5", math.NaN(), "<5"},
		{"@SUM(A1)", int64(7), float64(3), nil},
	}
	var buf bytes.Buffer
	if err := WriteTable(&buf, "统计", cols, rows, "数据截至 2025年6月30日；小于5的格以“<5”显示", "=HYPERLINK(\"x\")"); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	get := func(cell string) string {
		t.Helper()
		v, err := f.GetCellValue("统计", cell, excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for cell, want := range map[string]string{
		"A1": "用人单位", "B1": "申请人数", "D1": "通过率",
		"A2": "'=1+1", "B2": "12345", "C2": "98.765", "D2": "0.125",
		"A3": "北京市海淀区某某科技有限公司", "B3": "<5", "C3": "", "D3": "<5",
		"A4": "'@SUM(A1)", "B4": "7",
		"A5": "", "A6": "数据截至 2025年6月30日；小于5的格以“<5”显示", "A7": "'=HYPERLINK(\"x\")",
	} {
		if got := get(cell); got != want {
			t.Errorf("%s = %q, want %q", cell, got, want)
		}
	}
	for _, cell := range []string{"A2", "A4", "A7"} {
		if v, _ := f.GetCellFormula("统计", cell); v != "" {
			t.Errorf("%s has a formula %q", cell, v)
		}
	}
	// Formatted as Excel shows them.
	for cell, want := range map[string]string{"B2": "12,345", "C2": "98.77", "D2": "12.5%", "B4": "7"} {
		if v, _ := f.GetCellValue("统计", cell); v != want {
			t.Errorf("%s shows %q, want %q", cell, v, want)
		}
	}
	style := func(cell string) *excelize.Style {
		t.Helper()
		id, err := f.GetCellStyle("统计", cell)
		if err != nil {
			t.Fatal(err)
		}
		st, err := f.GetStyle(id)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := style("A1"); st.Font == nil || !st.Font.Bold {
		t.Errorf("header not bold: %+v", st)
	}
	if st := style("B2"); st.NumFmt != 3 {
		t.Errorf("B2 numfmt %d", st.NumFmt)
	}
	if st := style("C2"); st.NumFmt != 2 {
		t.Errorf("C2 numfmt %d", st.NumFmt)
	}
	if st := style("D2"); st.CustomNumFmt == nil || *st.CustomNumFmt != "0.0%" {
		t.Errorf("D2 format %+v", st)
	}
	// "<5" in a numeric column: text (not a number), right-aligned.
	if ty, _ := f.GetCellType("统计", "B3"); ty == excelize.CellTypeNumber {
		t.Errorf("B3 is a number")
	}
	if st := style("B3"); st.Alignment == nil || st.Alignment.Horizontal != "right" {
		t.Errorf("B3 alignment %+v", st.Alignment)
	}
	p, err := f.GetPanes("统计")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Freeze || p.YSplit != 1 || p.TopLeftCell != "A2" {
		t.Errorf("panes %+v", p)
	}
	// Widths: the set one kept, the automatic one wide enough for the Chinese name (14 characters → 28+).
	if w, _ := f.GetColWidth("统计", "D"); w != 12 {
		t.Errorf("D width %v", w)
	}
	if w, _ := f.GetColWidth("统计", "A"); w < 28 {
		t.Errorf("A width %v", w)
	}
}
