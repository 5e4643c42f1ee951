package office

import (
	"strings"
	"testing"
)

func TestNiceCeil(t *testing.T) {
	for in, want := range map[float64]float64{0: 1, 0.3: 0.5, 1: 1, 1.2: 2, 3: 5, 7: 10, 99: 100, 120: 200, 4500: 5000} {
		if got := niceCeil(in); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", in, got, want)
		}
	}
}

// A gap (an hour without calls) breaks the line; the label is escaped.
func TestLineChartGaps(t *testing.T) {
	svg := string(lineChart(`a<b`, "%", "24小时前", "现在", chartSeries{Class: "line-err", Color: "#d4351c",
		Values: []float64{1, 2, 0, 4, 5}, Gaps: []bool{false, false, true, false, false}}))
	if strings.Count(svg, "<polyline") != 2 || !strings.Contains(svg, `aria-label="a&lt;b"`) || strings.Contains(svg, "a<b") {
		t.Fatalf("chart:\n%s", svg)
	}
}
