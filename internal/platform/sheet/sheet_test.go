package sheet

import (
	"bytes"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

func TestExportsNeutralizeFormulas(t *testing.T) {
	rows := [][]string{{"=HYPERLINK(\"x\")", "+1", "-2", "@a", "plain"}}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, []string{"a", "b", "c", "d", "e"}, rows); err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	if !strings.HasPrefix(got, "\uFEFF") || !strings.Contains(got, `"'=HYPERLINK(""x"")",'+1,'-2,'@a,plain`) {
		t.Fatalf("csv %q", got)
	}
	buf.Reset()
	if err := WriteExcel(&buf, "s", []string{"a", "b"}, [][]any{{"=1+1", int64(7)}}); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := f.GetCellValue("s", "A2"); v != "'=1+1" {
		t.Fatalf("A2 = %q", v)
	}
	if v, _ := f.GetCellFormula("s", "A2"); v != "" {
		t.Fatalf("A2 has a formula %q", v)
	}
	if v, _ := f.GetCellValue("s", "B2"); v != "7" {
		t.Fatalf("B2 = %q", v)
	}
}
