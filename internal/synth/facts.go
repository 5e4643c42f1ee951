package synth

import (
	"fmt"
	"math/rand/v2"

	"jifen/internal/rules"
)

// ym formats a month index (months since year 0) as YYYY-MM.
func ym(m int) string { return fmt.Sprintf("%04d-%02d", m/12, m%12+1) }

func monthIndex(y, m int) int { return y*12 + m - 1 }

// truth is what the agencies hold about a person; the declaration is made
// from it, with a deliberate discrepancy at the configured rate.
type truth struct {
	req        rules.CalculatorRequest
	altered    string // the indicator the declaration misstates, if any
	creditCode string // the insured employer
}

// makeTruth invents a consistent life for a person born in (by, bm) working
// for an employer in empDistrict, for the round of year.
func makeTruth(r *rand.Rand, year, by, bm int, male bool, empDistrict string) truth {
	s := monthIndex(year-1, 12) // statistics month
	req := rules.CalculatorRequest{ApplicationYear: year, BirthDate: fmt.Sprintf("%04d-%02d-%02d", by, bm, 1+r.IntN(28)),
		Sex: map[bool]string{true: "M", false: "F"}[male], ResidencePermit: r.Float64() > 0.02, CriminalRecord: r.Float64() < 0.003}
	// Work starts after study, at 22–27; never before 1998-07 for scoring.
	start := monthIndex(by+22+r.IntN(6), 7)
	if start > s-84 && r.Float64() < 0.9 {
		start = s - 84 - r.IntN(60) // most applicants have the 7 years
	}
	if start < monthIndex(1995, 1) {
		start = monthIndex(1995, 1) + r.IntN(36)
	}
	// Someone who finished study late still started work before the
	// statistics month: a period that ends before it begins is refused
	// on submission and on every draft save.
	if start > s-6 {
		start = s - 6 - r.IntN(18)
	}
	// One gap of 1–3 months for some; most gaps back-paid.
	if r.Float64() < 0.15 && s-start > 120 {
		g := start + 12 + r.IntN(s-start-110)
		n := 1 + r.IntN(3)
		req.SocialInsurance = []rules.PeriodInput{{From: ym(start), To: ym(g - 1)}, {From: ym(g + n), To: ym(s)}}
		if r.Float64() < 0.8 {
			req.BackPaid = []rules.PeriodInput{{From: ym(g), To: ym(g + n - 1)}}
		}
	} else {
		req.SocialInsurance = []rules.PeriodInput{{From: ym(start), To: ym(s)}}
	}
	// Housing: rent first, buy later for about half.
	home := district(r)
	if r.Float64() < 0.5 && s-start > 48 {
		buy := start + 24 + r.IntN(s-start-30)
		req.Housing = append(req.Housing,
			rules.HousingInput{Kind: "rented", From: ym(start), To: ym(buy - 1), District: district(r), Registered: r.Float64() < 0.6},
			rules.HousingInput{Kind: "owned", From: ym(buy), To: ym(s), District: home})
	} else if r.Float64() < 0.7 {
		req.Housing = append(req.Housing, rules.HousingInput{Kind: "rented", From: ym(start), To: ym(s), District: home,
			Registered: r.Float64() < 0.7})
	}
	req.Workplaces = []rules.WorkplaceInput{{From: ym(max(start, s-95)), To: ym(s), District: empDistrict}}
	levels := []string{"college", "bachelor", "bachelor", "bachelor", "master", "master", "doctor"}
	lvl := levels[r.IntN(len(levels))]
	req.Education = rules.EducationInput{Level: lvl, Diploma: true, Degree: lvl == "college" || r.Float64() < 0.92}
	if r.Float64() < 0.1 {
		req.StudyMonths = 1 + r.IntN(40)
	}
	if r.Float64() < 0.02 {
		req.Innovation = []rules.InnovationInput{{Kind: "financing", AmountWan: rules.Decimal(fmt.Sprint(500 + r.IntN(6000)))}}
	}
	req.IncomeTax = map[string]rules.Decimal{}
	base := 5000 + r.IntN(60000)
	if r.Float64() < 0.15 {
		base = 80000 + r.IntN(120000)
	}
	for y := year - 3; y < year; y++ {
		req.IncomeTax[fmt.Sprint(y)] = rules.Decimal(fmt.Sprint(base + r.IntN(20000)))
	}
	if r.Float64() < 0.003 {
		req.Honors = []string{"model_worker"}
	}
	if r.Float64() < 0.002 {
		req.Detentions = 1
	}
	return truth{req: req}
}

// declare copies the truth into a declaration, misstating one indicator
// with probability rate: more insured months, a home never owned, a higher
// degree, or more income tax.
func declare(r *rand.Rand, t *truth, rate float64) rules.CalculatorRequest {
	d := t.req
	d.SocialInsurance = append([]rules.PeriodInput(nil), t.req.SocialInsurance...)
	d.Housing = append([]rules.HousingInput(nil), t.req.Housing...)
	if r.Float64() >= rate {
		return d
	}
	switch r.IntN(4) {
	case 0:
		first := d.SocialInsurance[0]
		m := parseYM(first.From) - 6 - r.IntN(18)
		d.SocialInsurance[0] = rules.PeriodInput{From: ym(m), To: first.To}
		t.altered = "employment"
	case 1:
		s := monthIndex(d.ApplicationYear-1, 12)
		d.Housing = append(d.Housing[:0:0], rules.HousingInput{Kind: "owned", From: ym(s - 60), To: ym(s), District: "昌平区"})
		t.altered = "housing"
	case 2:
		d.Education = rules.EducationInput{Level: "master", Diploma: true, Degree: true}
		if t.req.Education.Level == "master" || t.req.Education.Level == "doctor" {
			d.Education.Level = "doctor"
		}
		t.altered = "education"
	default:
		d.IncomeTax = map[string]rules.Decimal{}
		for y := d.ApplicationYear - 3; y < d.ApplicationYear; y++ {
			d.IncomeTax[fmt.Sprint(y)] = "150000"
		}
		t.altered = "tax"
	}
	return d
}

func parseYM(s string) int {
	var y, m int
	_, _ = fmt.Sscanf(s, "%d-%d", &y, &m)
	return monthIndex(y, m)
}
