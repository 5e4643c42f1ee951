package chart

import (
	"encoding/xml"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"testing"
)

// parse checks that out is well-formed XML and counts its elements by name.
func parse(t *testing.T, out template.HTML) map[string]int {
	t.Helper()
	s := string(out)
	d := xml.NewDecoder(strings.NewReader(s))
	counts := map[string]int{}
	first := true
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, s)
		}
		if se, ok := tok.(xml.StartElement); ok {
			counts[se.Name.Local]++
			if first {
				first = false
				attrs := map[string]string{}
				for _, a := range se.Attr {
					attrs[a.Name.Local] = a.Value
				}
				if se.Name.Local != "svg" || attrs["role"] != "img" || attrs["aria-label"] == "" || attrs["class"] != "chart" ||
					attrs["viewBox"] == "" || se.Name.Space != "http://www.w3.org/2000/svg" {
					t.Fatalf("root %v %v", se.Name, attrs)
				}
			}
		}
	}
	if counts["title"] == 0 {
		t.Fatalf("no <title>: %s", s)
	}
	for _, bad := range []string{"NaN", "Inf", "<script", "http://", "https://", "url("} {
		rest := strings.ReplaceAll(s, `xmlns="http://www.w3.org/2000/svg"`, "")
		if strings.Contains(rest, bad) {
			t.Fatalf("output contains %q: %s", bad, s)
		}
	}
	return counts
}

func cats(n int) []string {
	c := make([]string, n)
	for i := range c {
		c[i] = fmt.Sprintf("北京市第%d区某某科技有限公司", i+1)
	}
	return c
}

func TestBarGroupsOneRectPerSeriesAndCategory(t *testing.T) {
	c := []string{"<script>alert(1)</script>", "海淀区", "朝阳区"}
	out := Bar("人数 <b>", c, []Series{{"2024年", []float64{1, 2, 3}}, {"2025年&", []float64{4, 0, 6}}}, "人")
	n := parse(t, out)
	// 6 bars, 2 legend keys.
	if n["rect"] != 8 {
		t.Fatalf("rects %d: %s", n["rect"], out)
	}
	s := string(out)
	if !strings.Contains(s, "&lt;script&gt;") || !strings.Contains(s, "<title>人数 &lt;b&gt;</title>") || !strings.Contains(s, "2025年&amp;") {
		t.Fatalf("escaping: %s", s)
	}
	// One series: no legend.
	if n := parse(t, Bar("t", c, []Series{{"x", []float64{1, 2, 3}}}, "")); n["rect"] != 3 {
		t.Fatalf("single series rects %d", n["rect"])
	}
}

func TestBadValuesDrawNoNaN(t *testing.T) {
	c := []string{"甲", "乙", "丙", "丁"}
	vals := []float64{math.NaN(), -5, 0, math.Inf(1)}
	n := parse(t, Bar("t", c, []Series{{"a", vals}}, "分"))
	if n["rect"] != 2 { // -5 and 0 are data; NaN and Inf are not
		t.Fatalf("rects %d", n["rect"])
	}
	parse(t, Line("t", c, []Series{{"a", vals}, {"b", []float64{1}}}, ""))
	parse(t, Pie("t", c, vals))
	parse(t, Histogram("t", []float64{0, 10, 20, 30, 40}, vals, "分"))
	parse(t, Bar("t", c, []Series{{"a", []float64{0, 0, 0, 0}}}, "")) // all zero: an axis, flat bars
	if s := string(Bar("t", c, []Series{{"a", []float64{math.NaN()}}}, "")); !strings.Contains(s, noData) {
		t.Fatalf("all-NaN is no data: %s", s)
	}
}

func TestEmptyInputSaysNoData(t *testing.T) {
	for name, out := range map[string]template.HTML{
		"bar":        Bar("空", nil, nil, ""),
		"bar-series": Bar("空", []string{"a"}, nil, ""),
		"line":       Line("空", []string{}, []Series{{"a", nil}}, ""),
		"pie":        Pie("空", []string{"a"}, []float64{0}),
		"pie-neg":    Pie("空", []string{"a"}, []float64{-3}),
		"hist":       Histogram("空", []float64{0}, nil, ""),
		"hist-bad":   Histogram("空", []float64{0, 1}, []float64{1, 2, 3}, ""), // len mismatch: what fits is drawn
	} {
		n := parse(t, out)
		if name == "hist-bad" {
			if n["rect"] != 1 {
				t.Fatalf("%s: rects %d", name, n["rect"])
			}
			continue
		}
		if !strings.Contains(string(out), noData) {
			t.Fatalf("%s: %s", name, out)
		}
	}
}

func TestLineOnePolylinePerSeries(t *testing.T) {
	c := cats(12)
	var ss []Series
	for i := 0; i < 3; i++ {
		v := make([]float64, 12)
		for j := range v {
			v[j] = float64(i*10 + j)
		}
		ss = append(ss, Series{fmt.Sprintf("系列%d", i), v})
	}
	out := Line("趋势", c, ss, "人")
	n := parse(t, out)
	if n["polyline"] != 3 || n["line"] < 3+3 { // 3 legend keys and the grid
		t.Fatalf("polylines %d lines %d", n["polyline"], n["line"])
	}
	if !strings.Contains(string(out), `stroke-dasharray`) {
		t.Fatalf("series should differ by dash too")
	}
	// A gap splits the line; a lone point becomes a dot.
	n = parse(t, Line("t", []string{"a", "b", "c", "d"}, []Series{{"x", []float64{1, 2, math.NaN(), 4}}}, ""))
	if n["polyline"] != 1 || n["circle"] != 1 {
		t.Fatalf("gap: %v", n)
	}
}

func TestPieSlicesAndFullCircle(t *testing.T) {
	out := Pie("构成", []string{"甲", "乙", "丙"}, []float64{1, 1, 2})
	n := parse(t, out)
	if n["path"] != 3 || n["rect"] != 3 {
		t.Fatalf("pie %v", n)
	}
	for _, p := range []string{"25.0%", "50.0%"} {
		if !strings.Contains(string(out), p) {
			t.Fatalf("legend lacks %s: %s", p, out)
		}
	}
	out = Pie("全部", []string{"甲", "乙"}, []float64{5, 0})
	n = parse(t, out)
	if n["circle"] != 1 || n["path"] != 0 || !strings.Contains(string(out), "100.0%") {
		t.Fatalf("full circle %v: %s", n, out)
	}
	// Many categories: seven kept, the rest as one "其他".
	vals := make([]float64, 20)
	for i := range vals {
		vals[i] = float64(i + 1)
	}
	out = Pie("多", cats(20), vals)
	if n = parse(t, out); n["path"] != 8 || !strings.Contains(string(out), "其他（13项）") {
		t.Fatalf("many %v", n)
	}
}

func TestHistogramContiguousOverEdges(t *testing.T) {
	edges := []float64{0, 20, 40, 60, 80, 100, 120}
	out := Histogram("积分分布", edges, []float64{3, 10, 25, 12, 4, 1}, "分")
	n := parse(t, out)
	if n["rect"] != 6 {
		t.Fatalf("rects %d", n["rect"])
	}
	s := string(out)
	for _, e := range []string{">0<", ">60<", ">120<"} {
		if !strings.Contains(s, e) {
			t.Fatalf("edge label %s missing: %s", e, s)
		}
	}
	// Contiguous: each bar starts where the previous ended.
	var xs, ws []float64
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			var x, w float64
			for _, a := range se.Attr {
				switch a.Name.Local {
				case "x":
					fmt.Sscan(a.Value, &x)
				case "width":
					fmt.Sscan(a.Value, &w)
				}
			}
			xs, ws = append(xs, x), append(ws, w)
		}
	}
	for i := 1; i < len(xs); i++ {
		if math.Abs(xs[i-1]+ws[i-1]-xs[i]) > 0.15 {
			t.Fatalf("gap between bars %d and %d: %v %v", i-1, i, xs, ws)
		}
	}
}

func TestManyCategoriesRotateAndFit(t *testing.T) {
	v := make([]float64, 40)
	for i := range v {
		v[i] = float64(i * 3)
	}
	out := string(Bar("四十类", cats(40), []Series{{"a", v}}, "人"))
	parse(t, template.HTML(out))
	if !strings.Contains(out, "rotate(-90") {
		t.Fatalf("40 categories should stand upright: %s", out)
	}
	if !strings.Contains(out, "…") {
		t.Fatalf("long labels should be cut")
	}
	out = string(Bar("八类", cats(8), []Series{{"a", v[:8]}}, "人"))
	if !strings.Contains(out, "rotate(-45") {
		t.Fatalf("8 long labels should turn 45°: %s", out)
	}
	out = string(Bar("三类", []string{"甲", "乙", "丙"}, []Series{{"a", v[:3]}}, "人"))
	if strings.Contains(out, "rotate(") {
		t.Fatalf("short labels stay flat")
	}
}

func TestNum(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 1234567: "1,234,567", -1500.5: "-1,500.5", 0.126: "0.13", -0.001: "0"} {
		if got := num(v); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
}
