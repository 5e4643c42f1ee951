package rules

import (
	"fmt"
	"testing"
)

func TestEducation(t *testing.T) {
	tests := []struct {
		level           EducationLevel
		diploma, degree bool
		want            string
	}{
		{EducationNone, true, true, "0"}, {"", false, false, "0"}, {"phd", true, true, "0"},
		{EducationCollege, true, false, "10.5"}, {EducationCollege, true, true, "10.5"}, {EducationCollege, false, false, "0"},
		{EducationBachelor, true, false, "10.5"}, {EducationBachelor, false, true, "10.5"}, {EducationBachelor, true, true, "15"},
		{EducationMaster, true, false, "15"}, {EducationMaster, false, true, "15"}, {EducationMaster, true, true, "26"},
		{EducationDoctor, true, false, "26"}, {EducationDoctor, false, true, "26"}, {EducationDoctor, true, true, "37"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%v/%v", tt.level, tt.diploma, tt.degree), func(t *testing.T) {
			f := baseFacts()
			f.Education = Education{Level: tt.level, Diploma: tt.diploma, Degree: tt.degree}
			checkIndicator(t, f, CodeEducation, tt.want)
		})
	}
}

func TestStudyDeduction(t *testing.T) {
	college := Education{Level: EducationCollege, Diploma: true}
	bachelorOnly := Education{Level: EducationBachelor, Diploma: true}
	bachelor := Education{Level: EducationBachelor, Diploma: true, Degree: true}
	masterOnly := Education{Level: EducationMaster, Degree: true}
	master := Education{Level: EducationMaster, Diploma: true, Degree: true}
	doctor := Education{Level: EducationDoctor, Diploma: true, Degree: true}
	tests := []struct {
		name   string
		edu    Education
		months int
		want   string
	}{
		{"observed 1 month", bachelor, 1, "-0.29"},
		{"observed 2 months", bachelor, 2, "-0.58"},
		{"3 months: 0.875 half-up", bachelor, 3, "-0.88"},
		{"observed 34 months", master, 34, "-9.92"},
		{"observed 35 months", master, 35, "-10.21"},
		{"tier 10.5 cap 36", college, 36, "-10.5"},
		{"tier 10.5 above cap", college, 37, "-10.5"},
		{"tier 10.5 bachelor without degree", bachelorOnly, 48, "-10.5"},
		{"tier 15 cap 48", bachelor, 48, "-14"},
		{"tier 15 above cap", bachelor, 60, "-14"},
		{"tier 15 below cap", bachelor, 47, "-13.71"},
		{"tier 15 master with degree only", masterOnly, 48, "-14"},
		{"tier 26 cap 36", master, 40, "-10.5"},
		{"tier 37 cap 36", doctor, 120, "-10.5"},
		{"no education, no deduction", Education{Level: EducationNone}, 36, "0"},
		{"diploma missing, no deduction", Education{Level: EducationMaster}, 36, "0"},
		{"zero months", doctor, 0, "0"},
		{"negative months count as none", doctor, -5, "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := baseFacts()
			f.Education, f.StudyMonths = tt.edu, tt.months
			checkIndicator(t, f, CodeStudyDeduction, tt.want)
		})
	}
}

func TestWorkResidenceArea(t *testing.T) {
	home := func(kind HousingKind, a, z, d string) Housing {
		return Housing{Kind: kind, Period: per(a, z), District: d, Registered: true}
	}
	work := func(a, z, d string) Workplace { return Workplace{Period: per(a, z), District: d} }
	tests := []struct {
		name    string
		year    int
		housing []Housing
		work    []Workplace
		want    string
	}{
		{"live and work outside 48 months", 2022, []Housing{home(Owned, "2011-01", "2021-12", "昌平区")},
			[]Workplace{work("2007-07", "2021-12", "昌平区")}, "12"},
		{"live outside, work in the core", 2022, []Housing{home(Owned, "2011-01", "2021-12", "通州区")},
			[]Workplace{work("2007-07", "2021-12", "朝阳区")}, "8"},
		{"no workplace declared counts as live only", 2022, []Housing{home(Owned, "2018-01", "2021-12", "通州区")}, nil, "8"},
		{"months of each kind scored on their own", 2022, []Housing{home(Owned, "2019-01", "2021-12", "大兴区")},
			[]Workplace{work("2019-01", "2020-06", "大兴区"), work("2020-07", "2021-12", "西城区")}, "5"},
		{"11 months floor to 0", 2022, []Housing{home(Owned, "2021-02", "2021-12", "大兴区")},
			[]Workplace{work("2021-02", "2021-12", "大兴区")}, "0"},
		{"12 months", 2022, []Housing{home(Owned, "2021-01", "2021-12", "大兴区")},
			[]Workplace{work("2021-01", "2021-12", "大兴区")}, "3"},
		{"counted from 2018-01", 2022, []Housing{home(Owned, "2010-01", "2021-12", "大兴区")},
			[]Workplace{work("2010-01", "2021-12", "大兴区")}, "12"},
		{"home sold before S", 2022, []Housing{home(Owned, "2018-01", "2021-11", "大兴区")},
			[]Workplace{work("2018-01", "2021-12", "大兴区")}, "0"},
		{"home held in S only through a later record", 2022,
			[]Housing{home(Owned, "2018-01", "2020-12", "大兴区"), home(Owned, "2021-01", "2021-12", "顺义区")},
			[]Workplace{work("2018-01", "2021-12", "大兴区")}, "12"},
		{"owned home in the core", 2022, []Housing{home(Owned, "2011-01", "2021-12", "丰台区")},
			[]Workplace{work("2007-07", "2021-12", "昌平区")}, "0"},
		{"rented home outside does not count", 2022, []Housing{home(Rented, "2011-01", "2021-12", "昌平区")},
			[]Workplace{work("2007-07", "2021-12", "昌平区")}, "0"},
		{"months after S do not count", 2022, []Housing{home(Owned, "2021-01", "2023-12", "昌平区")},
			[]Workplace{work("2021-01", "2023-12", "昌平区")}, "3"},
		{"capped at 12", 2026, []Housing{home(Owned, "2011-01", "2025-12", "昌平区")},
			[]Workplace{work("2007-07", "2025-12", "昌平区")}, "12"},
		{"a workplace in the core that month spoils working outside", 2022,
			[]Housing{home(Owned, "2018-01", "2021-12", "昌平区")},
			[]Workplace{work("2018-01", "2021-12", "昌平区"), work("2018-01", "2018-12", "东城区")}, "11"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := baseFacts()
			f.ApplicationYear = tt.year
			f.SocialInsurance = []Period{per("2007-07", fmt.Sprintf("%d-12", tt.year-1))}
			f.Housing, f.Workplaces = tt.housing, tt.work
			checkIndicator(t, f, CodeWorkResidenceArea, tt.want)
		})
	}
}

func TestInnovation(t *testing.T) {
	fin := func(wan string) Innovation {
		a, err := ParseAmount(wan)
		if err != nil {
			t.Fatal(err)
		}
		return Innovation{Kind: Financing, AmountWan: a}
	}
	tests := []struct {
		name  string
		items []Innovation
		want  string
	}{
		{"none", nil, "0"},
		{"financing 4500", []Innovation{fin("4500")}, "6"},
		{"financing 4000 exactly", []Innovation{fin("4000")}, "6"},
		{"financing 3999.99", []Innovation{fin("3999.99")}, "4"},
		{"financing 2000", []Innovation{fin("2000")}, "4"},
		{"financing 1999.99", []Innovation{fin("1999.99")}, "2"},
		{"financing 500", []Innovation{fin("500")}, "2"},
		{"financing 499.99", []Innovation{fin("499.99")}, "0"},
		{"award national special", []Innovation{{Kind: Award, Level: "national_special"}}, "12"},
		{"award beijing other", []Innovation{{Kind: Award, Level: "beijing_other"}}, "2"},
		{"contest national second", []Innovation{{Kind: Contest, Level: "national_second"}}, "10"},
		{"contest beijing finalist", []Innovation{{Kind: Contest, Level: "beijing_finalist"}}, "1"},
		{"best single item, not the sum", []Innovation{fin("4500"), {Kind: Contest, Level: "national_third"},
			{Kind: Award, Level: "beijing_first"}}, "9"},
		{"unknown level scores nothing", []Innovation{{Kind: Award, Level: "galactic"}}, "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := baseFacts()
			f.Innovation = tt.items
			checkIndicator(t, f, CodeInnovation, tt.want)
		})
	}
}

func TestTax(t *testing.T) {
	y := func(a, b, c string) map[int]Amount {
		m := map[int]Amount{}
		for i, s := range []string{a, b, c} {
			if s != "" {
				v, _ := ParseAmount(s)
				m[2019+i] = v
			}
		}
		return m
	}
	tests := []struct {
		name     string
		tax      map[int]Amount
		offences int
		want     string
	}{
		{"none", nil, 0, "0"},
		{"one year at the threshold", y("50000", "100000", "80000"), 0, "2"},
		{"just below the threshold", y("99999.99", "", ""), 0, "0"},
		{"all three years", y("100000", "200000", "100000.01"), 0, "6"},
		{"two years", y("100000", "", "100000"), 0, "4"},
		{"years outside Y-3..Y-1 ignored", map[int]Amount{2018: 1e9, 2022: 1e9}, 0, "0"},
		{"one offence", y("100000", "100000", "100000"), 1, "-6"},
		{"two offences and no tax", nil, 2, "-24"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := baseFacts()
			f.IncomeTax, f.TaxOffences = tt.tax, tt.offences
			checkIndicator(t, f, CodeTax, tt.want)
		})
	}
}

func TestAge(t *testing.T) {
	tests := []struct {
		birth string
		age   int
		want  string
	}{
		{"1990-06-15", 30, "20"},
		{"1976-01-01", 45, "20"},
		{"1975-01-02", 45, "20"}, // turns 46 the day after the reference day
		{"1975-01-01", 46, "16"}, // birthday on the reference day completes the year
		{"1974-12-31", 46, "16"},
		{"1974-01-01", 47, "12"},
		{"1973-06-30", 47, "12"},
		{"1972-03-01", 48, "8"},
		{"1971-01-01", 50, "0"},
		{"1971-01-02", 49, "4"},
		{"1960-01-01", 61, "0"},
	}
	b := mustBook(t, "2020")
	for _, tt := range tests {
		t.Run(tt.birth, func(t *testing.T) {
			age, p := b.AgePoints(day(tt.birth), 2022)
			if age != tt.age || p != pts(tt.want) {
				t.Errorf("AgePoints(%s, 2022) = %d, %s; want %d, %s", tt.birth, age, p, tt.age, tt.want)
			}
			f := baseFacts()
			f.BirthDate = day(tt.birth)
			checkIndicator(t, f, CodeAge, tt.want)
		})
	}
	if age, _ := b.AgePoints(day("1980-02-29"), 2022); age != 40 {
		t.Errorf("leap-day birth: age %d", age)
	}
}

func TestHonorsAndLawRecord(t *testing.T) {
	tests := []struct {
		name       string
		honors     []string
		detentions int
		honorsWant string
		lawWant    string
	}{
		{"none", nil, 0, "0", "0"},
		{"model worker", []string{"model_worker"}, 0, "20", "0"},
		{"not cumulative", []string{"model_worker", "moral_model", "good_samaritan"}, 0, "20", "0"},
		{"unknown honour ignored", []string{"olympic_champion"}, 0, "0", "0"},
		{"one detention", nil, 1, "0", "-30"},
		{"two detentions", []string{"moral_model"}, 2, "20", "-60"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := baseFacts()
			f.Honors, f.Detentions = tt.honors, tt.detentions
			checkIndicator(t, f, CodeHonors, tt.honorsWant)
			checkIndicator(t, f, CodeLawRecord, tt.lawWant)
		})
	}
}

// Test2016Rulebook checks how the 2016 rulebook (rounds 2018–2019) differs
// from the 2020 one, as DOMAIN.md §5 lists it and as we read it.
func Test2016Rulebook(t *testing.T) {
	base := func() Facts {
		f := baseFacts()
		f.ApplicationYear = 2019 // S = 2018-12
		f.SocialInsurance = []Period{per("2012-01", "2018-12")}
		return f
	}
	home := func(kind HousingKind, a, z, d string) Housing {
		return Housing{Kind: kind, Period: per(a, z), District: d}
	}
	tests := []struct {
		name   string
		change func(*Facts)
		code   string
		want   string
	}{
		{"employment 3 per full year", func(*Facts) {}, CodeEmployment, "21"},
		{"employment 23 months is 1 year", func(f *Facts) { f.SocialInsurance = []Period{per("2017-02", "2018-12")} }, CodeEmployment, "3"},
		{"months after S do not count", func(f *Facts) { f.SocialInsurance = []Period{per("2017-02", "2019-12")} }, CodeEmployment, "3"},
		{"housing per full year of each record", func(f *Facts) {
			f.Housing = []Housing{home(Owned, "2012-01", "2014-06", "海淀区"), home(Rented, "2014-07", "2018-12", "海淀区")}
		}, CodeHousing, "4"},
		{"education by level only", func(f *Facts) { f.Education = Education{Level: EducationBachelor, Diploma: true} }, CodeEducation, "15"},
		{"study deduction per full year", func(f *Facts) {
			f.Education, f.StudyMonths = Education{Level: EducationMaster, Diploma: true, Degree: true}, 40
		}, CodeStudyDeduction, "-10.5"},
		{"tax all or nothing: 2 years", func(f *Facts) { f.IncomeTax = map[int]Amount{2016: 1e7, 2017: 1e7} }, CodeTax, "0"},
		{"tax all or nothing: 3 years", func(f *Facts) { f.IncomeTax = map[int]Amount{2016: 1e7, 2017: 1e7, 2018: 1e7} }, CodeTax, "6"},
		{"age 45 scores", func(f *Facts) { f.BirthDate = day("1972-06-01") }, CodeAge, "20"},
		{"age 46 scores nothing", func(f *Facts) { f.BirthDate = day("1971-06-01") }, CodeAge, "0"},
		{"live and work outside: 4 per year", func(f *Facts) {
			f.Housing = []Housing{home(Rented, "2012-01", "2018-12", "昌平区")}
			f.Workplaces = []Workplace{{Period: per("2012-01", "2018-12"), District: "昌平区"}}
		}, CodeWorkResidenceArea, "8"},
		{"live outside only: 2 per year", func(f *Facts) {
			f.Housing = []Housing{home(Owned, "2012-01", "2018-12", "昌平区")}
			f.Workplaces = []Workplace{{Period: per("2012-01", "2018-12"), District: "海淀区"}}
		}, CodeWorkResidenceArea, "4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := base()
			tt.change(&f)
			checkIndicator(t, f, tt.code, tt.want)
			if res, _ := Score(f); res.Rulebook != "2016" || res.StatisticsDate != "2018-12-31" {
				t.Errorf("scored under %s, %s", res.Rulebook, res.StatisticsDate)
			}
		})
	}
}
