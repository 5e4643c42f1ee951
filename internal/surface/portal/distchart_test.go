package portal

import (
	"encoding/csv"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"jifen/internal/rules"
)

// totals2022 reads the total column of the real 2022 list (a copy of
// ../shared/data/publicity/beijing-2022.csv kept in the ranking core's test
// data).
func totals2022(t *testing.T) []rules.Points {
	t.Helper()
	f, err := os.Open("../../ranking/testdata/beijing-2022.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []rules.Points
	for _, r := range recs[1:] {
		p, err := rules.ParsePoints(r[len(r)-1])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func TestScoreBinsOfThe2022List(t *testing.T) {
	totals := totals2022(t)
	const cutoff = rules.Points(10542)
	bins := ScoreBins(totals, cutoff)
	// 105.42 … 136.25 in whole points two at a time: 104 … 136, 17 bins.
	if len(bins) != 17 || bins[0].Lo != 10400 || bins[16].Hi != 13800 {
		t.Fatalf("%d bins from %v to %v", len(bins), bins[0].Lo, bins[len(bins)-1].Hi)
	}
	sum := 0
	for i, b := range bins {
		sum += b.Count
		if b.Hi-b.Lo != 200 || i > 0 && b.Lo != bins[i-1].Hi {
			t.Errorf("bin %d [%v, %v) is not a 2-point step", i, b.Lo, b.Hi)
		}
		if !b.AboveCutoff {
			t.Errorf("bin %d below a cutoff every published total reaches", i)
		}
	}
	if len(totals) != 6006 || sum != len(totals) {
		t.Fatalf("counts sum to %d of %d rows", sum, len(totals))
	}
	// Counted with awk over the file: int(total/2)*2.
	for lo, want := range map[rules.Points]int{10400: 1474, 10600: 3275, 10800: 590, 13200: 0, 13600: 1} {
		if got := bins[(lo-10400)/200].Count; got != want {
			t.Errorf("bin %v: %d, want %d", lo, got, want)
		}
	}
	cut := bins[0]
	if !(cut.Lo <= cutoff && cutoff < cut.Hi) || !cut.AboveCutoff {
		t.Errorf("the cutoff's bin %+v is not marked", cut)
	}
}

func TestScoreBinsEdges(t *testing.T) {
	cases := []struct {
		name   string
		totals []rules.Points
		cutoff rules.Points
		want   []ScoreBin
	}{
		{"empty", nil, 10000, nil},
		{"single value", []rules.Points{10542}, 10542, []ScoreBin{{10400, 10600, 1, true}}},
		{"lower bound inclusive", []rules.Points{10600, 10599}, 10600,
			// 1 point apart: two bins of 2 would be too few, so 0.25 points.
			[]ScoreBin{{10575, 10600, 1, false}, {10600, 10625, 1, true}}},
		{"negative values floor downwards", []rules.Points{-150, -1, 0, 1450}, 0, []ScoreBin{
			{-200, 0, 2, false}, {0, 200, 1, true}, {200, 400, 0, true}, {400, 600, 0, true}, {600, 800, 0, true},
			{800, 1000, 0, true}, {1000, 1200, 0, true}, {1200, 1400, 0, true}, {1400, 1600, 1, true}}},
		{"cutoff below the data widens the axis", []rules.Points{11000, 12000}, 10000, nil /* checked below */},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := ScoreBins(c.totals, c.cutoff)
			if c.want == nil && c.totals != nil {
				if got[0].Lo > c.cutoff || got[len(got)-1].Hi <= 12000 {
					t.Fatalf("axis %v … %v misses the cutoff or the data", got[0].Lo, got[len(got)-1].Hi)
				}
				return
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("bin %d: %+v, want %+v", i, got[i], c.want[i])
				}
			}
		})
	}
}

func TestScoreBinsChoosesEightToTwentyBins(t *testing.T) {
	for _, span := range []rules.Points{300, 1000, 1600, 3900, 4100, 10000, 99999, 1e7} {
		got := ScoreBins([]rules.Points{10000, 10000 + span}, 10000)
		width := got[0].Hi - got[0].Lo
		if len(got) < minBins && width != 25 || len(got) > maxBins {
			t.Errorf("span %v: %d bins of %v", span, len(got), width)
		}
		if span <= 1600 && span >= 1400 && width != 200 {
			t.Errorf("span %v: width %v, want the 2 points the real lists get", span, width)
		}
	}
}

// svgShape walks the chart with an XML decoder (so it must be well-formed)
// and counts its rect elements.
func svgShape(t *testing.T, s string) (rects int, texts []string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(s))
	depth, inText := 0, false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not XML: %v\n%s", err, s)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			depth++
			if e.Name.Local == "rect" {
				rects++
			}
			inText = e.Name.Local == "text" || e.Name.Local == "title"
		case xml.EndElement:
			depth--
			inText = false
		case xml.CharData:
			if inText {
				texts = append(texts, string(e))
			}
		}
	}
	if depth != 0 {
		t.Fatalf("unbalanced SVG")
	}
	return rects, texts
}

func TestDistributionChartOfThe2022List(t *testing.T) {
	bins := ScoreBins(totals2022(t), 10542)
	s := string(DistributionChart(bins, 10542))
	rects, texts := svgShape(t, s)
	nonEmpty := 0
	for _, b := range bins {
		if b.Count > 0 {
			nonEmpty++
		}
	}
	if rects != nonEmpty || nonEmpty != 16 {
		t.Errorf("%d rects for %d non-empty bins", rects, nonEmpty)
	}
	all := strings.Join(texts, "|")
	for _, want := range []string{"分数线 105.42", "104.00 至 105.99 分：1474 人", "共 6006 人", "积分（分）"} {
		if !strings.Contains(all, want) {
			t.Errorf("chart lacks %q: %s", want, all)
		}
	}
	for _, want := range []string{`role="img"`, `aria-label="积分分布`, `viewBox="0 0 360 200"`, `class="chart"`, barAbove} {
		if !strings.Contains(s, want) {
			t.Errorf("chart lacks %s", want)
		}
	}
	if strings.Contains(s, "<script") || strings.Contains(s, "http://") && !strings.Contains(s, `xmlns="http://www.w3.org/2000/svg"`) {
		t.Error("chart refers to a script or elsewhere")
	}
}

func TestDistributionChartColoursAndEdges(t *testing.T) {
	if DistributionChart(nil, 100) != "" || DistributionTable(nil, 100) != "" {
		t.Fatal("no bins should draw nothing")
	}
	// A distribution across the line: both colours, the line inside.
	bins := ScoreBins([]rules.Points{-350, -100, 0, 99, 250, 900, 1000, 1001}, 100)
	s := string(DistributionChart(bins, 100))
	rects, texts := svgShape(t, s)
	want := 0
	for _, b := range bins {
		if b.Count > 0 {
			want++
		}
	}
	if rects != want {
		t.Errorf("%d rects, want %d", rects, want)
	}
	if !strings.Contains(s, barAbove) || !strings.Contains(s, barBelow) || !strings.Contains(strings.Join(texts, "|"), "分数线 1.00") {
		t.Errorf("colours or cutoff missing:\n%s", s)
	}
	if !strings.Contains(strings.Join(texts, "|"), "-4") {
		t.Errorf("negative axis label missing: %v", texts)
	}
	// A single value: one bar, still XML.
	one := ScoreBins([]rules.Points{10542}, 10542)
	if r, _ := svgShape(t, string(DistributionChart(one, 10542))); r != 1 {
		t.Errorf("single value: %d rects", r)
	}
}

func TestDistributionTable(t *testing.T) {
	bins := ScoreBins([]rules.Points{9900, 10000, 10150, 10300}, 10050)
	s := string(DistributionTable(bins, 10050))
	if _, err := xml.NewDecoder(strings.NewReader(s)).Token(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<caption>积分分布（每档 0.5 分，分数线 100.50 分）</caption>", "<td data-label=\"积分段（分）\">99.00 至 99.49</td><td data-label=\"人数\">1</td><td data-label=\"是否达到分数线\">否</td>",
		">100.50 至 100.99</td><td data-label=\"人数\">0</td><td data-label=\"是否达到分数线\">是<"} {
		if !strings.Contains(s, want) {
			t.Errorf("table lacks %s:\n%s", want, s)
		}
	}
}
