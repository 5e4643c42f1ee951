package rules

import (
	"strings"
	"testing"
)

func TestEligibility(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Facts)
		reason string // "" means eligible; else a substring of the single reason
	}{
		{"base", func(*Facts) {}, ""},
		{"no residence permit", func(f *Facts) { f.ResidencePermit = false }, "居住证"},
		{"criminal record", func(f *Facts) { f.CriminalRecord = true }, "刑事犯罪"},
		{"man 59 on statistics date", func(f *Facts) { f.BirthDate = day("1962-01-01") }, ""},
		{"man turns 60 on statistics date", func(f *Facts) { f.BirthDate = day("1961-12-31") }, "男性60周岁"},
		{"woman turns 50 on statistics date", func(f *Facts) { f.Sex, f.BirthDate = Female, day("1971-12-31") }, "女性50周岁"},
		{"woman 49", func(f *Facts) { f.Sex, f.BirthDate = Female, day("1972-01-01") }, ""},
		{"woman cadre 50", func(f *Facts) { f.Sex, f.Cadre, f.BirthDate = Female, true, day("1971-12-31") }, ""},
		{"woman cadre turns 55", func(f *Facts) { f.Sex, f.Cadre, f.BirthDate = Female, true, day("1966-12-31") }, "女性干部岗位55周岁"},
		{"man cadre 60", func(f *Facts) { f.Cadre, f.BirthDate = true, day("1961-12-31") }, "男性60周岁"},
		{"unknown sex", func(f *Facts) { f.Sex = "" }, "性别不明"},
		{"5 back-paid months", func(f *Facts) {
			f.SocialInsurance = []Period{per("2015-01", "2018-02"), per("2018-08", "2021-12")}
			f.BackPaid = []Period{per("2018-03", "2018-07")}
		}, ""},
		{"6 back-paid months", func(f *Facts) {
			f.SocialInsurance = []Period{per("2015-01", "2018-02"), per("2018-09", "2021-12")}
			f.BackPaid = []Period{per("2018-03", "2018-08")}
		}, "补缴6个月，超过5个月"},
		{"6 back-paid but one before the window", func(f *Facts) {
			f.SocialInsurance = []Period{per("2014-01", "2014-11"), per("2015-01", "2018-02"), per("2018-08", "2021-12")}
			f.BackPaid = []Period{per("2014-12", "2014-12"), per("2018-03", "2018-07")}
		}, ""},
		{"a one-month gap", func(f *Facts) {
			f.SocialInsurance = []Period{per("2015-01", "2019-02"), per("2019-04", "2021-12")}
		}, "未缴纳：2019-03"},
		{"window starts one month late", func(f *Facts) { f.SocialInsurance = []Period{per("2015-02", "2021-12")} }, "2015-01"},
		{"window ends one month early", func(f *Facts) { f.SocialInsurance = []Period{per("2015-01", "2021-11")} }, "未缴纳：2021-12"},
		{"months after S do not fill the window", func(f *Facts) {
			f.SocialInsurance = []Period{per("2015-06", "2022-06")}
		}, "2015-01至2015-05"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := baseFacts()
			tt.change(&f)
			res, err := Score(f)
			if err != nil {
				t.Fatal(err)
			}
			if tt.reason == "" {
				if !res.Eligible || len(res.IneligibleReasons) != 0 {
					t.Errorf("ineligible: %v", res.IneligibleReasons)
				}
				return
			}
			if res.Eligible || len(res.IneligibleReasons) != 1 || !strings.Contains(res.IneligibleReasons[0], tt.reason) {
				t.Errorf("reasons %q, want one containing %q", res.IneligibleReasons, tt.reason)
			}
			if len(res.Indicators) != 10 {
				t.Errorf("ineligible applicant got %d indicators, want the full breakdown", len(res.Indicators))
			}
		})
	}
}

func TestIneligibleKeepsEveryReason(t *testing.T) {
	f := baseFacts()
	f.ResidencePermit, f.CriminalRecord, f.BirthDate = false, true, day("1950-01-01")
	f.SocialInsurance = nil
	res, _ := Score(f)
	if len(res.IneligibleReasons) != 4 || res.Eligible {
		t.Errorf("reasons %q", res.IneligibleReasons)
	}
	if res.IneligibleReasons == nil {
		t.Error("reasons must be an empty list, not nil, from Score")
	}
	ok, _ := Score(baseFacts())
	if ok.IneligibleReasons == nil {
		t.Error("eligible result has nil reasons")
	}
}

// TestScoreAbsurdYear makes sure Score stays cheap and total for a year that
// validation would reject.
func TestScoreAbsurdYear(t *testing.T) {
	for _, year := range []int{-1 << 40, 0, 1 << 40} {
		f := baseFacts()
		f.ApplicationYear = year
		if res := Latest().Score(f); len(res.Indicators) != 10 {
			t.Errorf("year %d: %d indicators", year, len(res.Indicators))
		}
	}
}

func TestEmployment(t *testing.T) {
	tests := []struct {
		name      string
		insured   []Period
		backPaid  []Period
		want      string
		wantMonth int
	}{
		{"84 months", []Period{per("2015-01", "2021-12")}, nil, "21", 84},
		{"from 1998-07 only", []Period{per("1998-01", "1998-12"), per("2015-01", "2021-12")}, nil, "22.5", 90},
		{"1998-06 does not count", []Period{per("1998-06", "1998-06"), per("2015-01", "2021-12")}, nil, "21", 84},
		{"1998-07 counts", []Period{per("1998-07", "1998-07"), per("2015-01", "2021-12")}, nil, "21.25", 85},
		{"the most in 2022", []Period{per("1998-07", "2021-12")}, nil, "70.5", 282},
		{"months after S do not count", []Period{per("2015-01", "2022-06")}, nil, "21", 84},
		{"back-paid months do not score", []Period{per("2015-01", "2018-02"), per("2018-08", "2021-12")},
			[]Period{per("2018-03", "2018-07")}, "19.75", 79},
		{"overlapping records count a month once", []Period{per("2015-01", "2021-12"), per("2021-01", "2021-12")}, nil, "21", 84},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := baseFacts()
			f.SocialInsurance, f.BackPaid = tt.insured, tt.backPaid
			checkIndicator(t, f, CodeEmployment, tt.want)
		})
	}
}

func TestHousing(t *testing.T) {
	outside, core := "昌平区", "海淀区"
	own := func(a, z string) Housing { return Housing{Kind: Owned, Period: per(a, z), District: outside} }
	rent := func(a, z string, registered bool) Housing {
		return Housing{Kind: Rented, Period: per(a, z), District: core, Registered: registered}
	}
	dorm := func(a, z string) Housing { return Housing{Kind: Dormitory, Period: per(a, z), District: core} }
	// By default the applicant is insured only from the 2020-08 cut-over,
	// so no presumed rental interferes, and the cap is 17 months.
	tests := []struct {
		name    string
		insured []Period // default 2020-08..2021-12
		housing []Housing
		want    string
	}{
		{"owned 12 months", nil, []Housing{own("2021-01", "2021-12")}, "1"},
		{"owned 1 month rounds down", nil, []Housing{own("2021-12", "2021-12")}, "0.08"},
		{"owned 2 months rounds up", nil, []Housing{own("2021-11", "2021-12")}, "0.17"},
		{"rented 3 months: 0.125 half-up", nil, []Housing{rent("2021-10", "2021-12", true)}, "0.13"},
		{"per-record rounding: 3+3 months", nil, []Housing{rent("2021-07", "2021-09", true), rent("2021-10", "2021-12", true)}, "0.26"},
		{"owned counts first", nil, []Housing{rent("2020-08", "2021-12", true), own("2021-01", "2021-12")}, "1.21"},
		{"overlapping rentals: earlier record first", nil,
			[]Housing{rent("2020-08", "2021-07", true), rent("2021-02", "2021-12", true)}, "0.71"},
		{"unregistered rental stops at 2020-07", nil, []Housing{rent("2020-01", "2021-12", false)}, "0.29"},
		{"unregistered rental from 2020-08 scores nothing", nil, []Housing{rent("2020-08", "2021-12", false)}, "0"},
		{"registered rental across the cut-over", []Period{per("2020-01", "2021-12")},
			[]Housing{rent("2020-01", "2021-12", true)}, "1"},
		{"a registered record takes months an unregistered one could not", nil,
			[]Housing{rent("2020-08", "2021-12", false), rent("2021-01", "2021-12", true)}, "0.5"},
		{"dormitory needs no registration (our reading)", nil, []Housing{dorm("2021-01", "2021-12")}, "0.5"},
		{"presumed rental: insured months before 2020-08 without a home", []Period{per("2015-01", "2021-12")}, nil, "2.79"},
		{"presumed rental around a declared home", []Period{per("2015-01", "2021-12")},
			[]Housing{own("2016-01", "2016-12")}, "3.29"},
		{"no presumption from 2020-08", nil, nil, "0"},
		{"back-paid months are not presumed", []Period{per("2015-01", "2018-02"), per("2018-08", "2021-12")}, nil, "2.58"},
		{"months capped at employment months, owned first", []Period{per("2015-01", "2021-12")},
			[]Housing{rent("2000-01", "2014-12", true), own("2000-01", "2021-12")}, "7"},
		{"cap cuts the later record", []Period{per("2015-01", "2021-12")},
			[]Housing{own("2016-01", "2021-12"), rent("2005-01", "2015-12", true)}, "6.5"},
		{"cap of 17 months", nil, []Housing{rent("2018-01", "2021-12", true)}, "0.71"},
		{"months after S do not count", nil, []Housing{own("2021-01", "2022-12")}, "1"},
		{"housing before 1998-07 does not count (our reading)", []Period{per("1998-07", "2021-12")},
			[]Housing{own("1990-01", "1998-06"), own("1998-07", "2021-12")}, "23.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := baseFacts()
			f.SocialInsurance = []Period{per("2020-08", "2021-12")}
			if tt.insured != nil {
				f.SocialInsurance = tt.insured
			}
			f.Housing = tt.housing
			checkIndicator(t, f, CodeHousing, tt.want)
		})
	}
}
