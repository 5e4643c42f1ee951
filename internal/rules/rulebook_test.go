package rules

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestVersionsAndForYear(t *testing.T) {
	if got := Versions(); !slices.Equal(got, []string{"2016", "2020"}) {
		t.Fatalf("Versions = %v", got)
	}
	tests := []struct {
		year int
		want string
	}{
		{2017, ""}, {20222, ""}, {-5, ""}, {2018, "2016"}, {2019, "2016"}, {2020, "2020"}, {2022, "2020"}, {2026, "2020"}, {0, ""},
	}
	for _, tt := range tests {
		b, err := ForYear(tt.year)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("ForYear(%d) = %s, want error", tt.year, b.Version())
		case tt.want != "" && (err != nil || b.Version() != tt.want):
			t.Errorf("ForYear(%d) = %v, %v; want %s", tt.year, b, err, tt.want)
		}
	}
	if _, err := Book("2099"); err == nil {
		t.Error("Book(2099) succeeded")
	}
	if Latest().Version() != "2020" {
		t.Errorf("Latest = %s", Latest().Version())
	}
}

func TestRulebookData(t *testing.T) {
	for _, v := range Versions() {
		t.Run(v, func(t *testing.T) {
			b := mustBook(t, v)
			if len(b.Districts()) != 16 {
				t.Errorf("%d districts", len(b.Districts()))
			}
			if ds := b.Districts(); ds[3] != "丰台区" || ds[5] != "海淀区" || ds[15] != "延庆区" {
				t.Errorf("districts not in the official order: %v", ds)
			}
			core := b.CoreDistricts()
			// In the official order, whatever order the rulebook file has.
			if !slices.Equal(core, []string{"东城区", "西城区", "朝阳区", "丰台区", "石景山区", "海淀区"}) {
				t.Errorf("core districts %v", core)
			}
			if !b.IsCoreDistrict("海淀区") || b.IsCoreDistrict("昌平区") || b.IsCoreDistrict("浦东新区") {
				t.Error("IsCoreDistrict wrong")
			}
			if got := b.StatisticsDate(2022).Format("2006-01-02"); got != "2021-12-31" {
				t.Errorf("statistics date %s", got)
			}
			if b.StatisticsMonth(2022) != mo("2021-12") {
				t.Errorf("statistics month %s", b.StatisticsMonth(2022))
			}
			if got := b.TaxYears(2022); !slices.Equal(got, []int{2019, 2020, 2021}) {
				t.Errorf("TaxYears(2022) = %v", got)
			}
			if len(b.Notes()) == 0 {
				t.Error("no notes on our readings")
			}
			l := b.Labels()
			for name, opts := range map[string][]Option{
				"sexes": l.Sexes, "housing": l.HousingKinds, "education": l.EducationLevels,
				"innovation": l.InnovationKinds, "award": l.AwardLevels, "contest": l.ContestLevels,
				"honors": l.Honors, "districts": l.Districts, "indicators": l.Indicators,
			} {
				if len(opts) == 0 {
					t.Errorf("no %s labels", name)
				}
				for _, o := range opts {
					if o.Value == "" || o.Label == "" {
						t.Errorf("%s: empty option %+v", name, o)
					}
				}
			}
			var codes []string
			for _, o := range l.Indicators {
				codes = append(codes, o.Value)
			}
			if !slices.Equal(codes, IndicatorCodes()) {
				t.Errorf("indicator labels %v", codes)
			}
			l.Districts[0].Label = "changed"
			if b.Labels().Districts[0].Label == "changed" {
				t.Error("Labels shares its slices with the rulebook")
			}
		})
	}
	if got := Districts(); len(got) != 16 || got[0] != "东城区" || got[15] != "延庆区" {
		t.Errorf("Districts() = %v", got)
	}
}

// TestCompileRejects makes sure a broken rulebook cannot load silently.
func TestCompileRejects(t *testing.T) {
	good, err := rulebookFiles.ReadFile("rulebooks/2020.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := compileRulebook(good); err != nil {
		t.Fatalf("2020 rulebook: %v", err)
	}
	tests := map[string][2]string{
		"unknown field":    {`"version": "2020",`, `"version": "2020", "extra": 1,`},
		"bad rate":         {`"rate": "0.25"`, `"rate": "quarter"`},
		"bad unit":         {`"unit": "month"`, `"unit": "week"`},
		"bad month":        {`"from": "1998-07"`, `"from": "1998-7"`},
		"core not listed":  {`"core_districts": [`, `"core_districts": ["浦东新区", `},
		"bad points":       {`"max": "12"`, `"max": "12.001"`},
		"unsorted finance": {`"min_wan": "2000"`, `"min_wan": "5000"`},
	}
	for name, edit := range tests {
		t.Run(name, func(t *testing.T) {
			data := replaceOnce(t, string(good), edit[0], edit[1])
			if _, err := compileRulebook([]byte(data)); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	i := strings.Index(s, old)
	if i < 0 {
		t.Fatalf("%q not in rulebook", old)
	}
	return s[:i] + new + s[i+len(old):]
}

// mo parses a month in a test, panicking on a typo in the test itself.
func mo(s string) Month {
	m, err := ParseMonth(s)
	if err != nil {
		panic(err)
	}
	return m
}

// per is the period from a to z, both "YYYY-MM".
func per(a, z string) Period { return Period{From: mo(a), To: mo(z)} }

// day parses "YYYY-MM-DD" in a test.
func day(s string) time.Time {
	d, err := ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// pts parses points in a test.
func pts(s string) Points {
	p, err := ParsePoints(s)
	if err != nil {
		panic(err)
	}
	return p
}

// baseFacts is an eligible applicant of the 2022 round who scores only
// employment (84 months) and age: a starting point each test changes.
func baseFacts() Facts {
	return Facts{
		ApplicationYear: 2022,
		BirthDate:       day("1985-06-15"),
		Sex:             Male,
		ResidencePermit: true,
		SocialInsurance: []Period{per("2015-01", "2021-12")},
	}
}

// mustBook returns a rulebook by version.
func mustBook(t testing.TB, version string) *Rulebook {
	t.Helper()
	b, err := Book(version)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// scoreOf scores f under the rulebook of its year and returns the points of
// one indicator.
func scoreOf(t testing.TB, f Facts, code string) (Points, Indicator) {
	t.Helper()
	res, err := Score(f)
	if err != nil {
		t.Fatal(err)
	}
	in, ok := res.Indicator(code)
	if !ok {
		t.Fatalf("no indicator %s", code)
	}
	return in.Points, in
}

// checkIndicator runs one table case of an indicator.
func checkIndicator(t *testing.T, f Facts, code string, want string) {
	t.Helper()
	got, in := scoreOf(t, f, code)
	if got != pts(want) {
		t.Errorf("%s = %s, want %s (%s)", code, got, pts(want), in.Explanation)
	}
}
