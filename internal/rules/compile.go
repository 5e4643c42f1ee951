package rules

import (
	"errors"
	"fmt"
	"slices"
)

// rawRulebook is the JSON form of a rulebook (rulebooks/*.json). Numbers of
// points and rates are strings so that they stay exact decimals.
type rawRulebook struct {
	Version        string   `json:"version"`
	Title          string   `json:"title"`
	FirstRound     int      `json:"first_round"`
	LastRound      int      `json:"last_round"`
	StatisticsDate dayRule  `json:"statistics_date"`
	Districts      []string `json:"districts"`
	CoreDistricts  []string `json:"core_districts"`
	Sexes          []Option `json:"sexes"`
	Notes          []string `json:"notes"`
	Eligibility    struct {
		RetirementAge struct {
			Male        int `json:"male"`
			Female      int `json:"female"`
			FemaleCadre int `json:"female_cadre"`
		} `json:"retirement_age"`
		ContinuityMonths  int `json:"continuity_months"`
		MaxBackPaidMonths int `json:"max_back_paid_months"`
	} `json:"eligibility"`
	Employment struct {
		Name string `json:"name"`
		From string `json:"from"`
		Unit string `json:"unit"`
		Rate string `json:"rate"`
	} `json:"employment"`
	Housing struct {
		Name  string `json:"name"`
		From  string `json:"from"`
		Unit  string `json:"unit"`
		Kinds []struct {
			Value                    string `json:"value"`
			Label                    string `json:"label"`
			Rate                     string `json:"rate"`
			Owned                    bool   `json:"owned"`
			RegistrationRequiredFrom string `json:"registration_required_from"`
		} `json:"kinds"`
		PresumedRental struct {
			Label  string `json:"label"`
			Rate   string `json:"rate"`
			Before string `json:"before"`
		} `json:"presumed_rental"`
	} `json:"housing"`
	Education struct {
		Name   string `json:"name"`
		Levels []struct {
			Value string `json:"value"`
			Label string `json:"label"`
			Both  string `json:"both"`
			One   string `json:"one"`
		} `json:"levels"`
	} `json:"education"`
	StudyDeduction struct {
		Name  string   `json:"name"`
		Unit  string   `json:"unit"`
		Rates []string `json:"rates"`
		Caps  []struct {
			Education string `json:"education"`
			MaxMonths int    `json:"max_months"`
		} `json:"caps"`
	} `json:"study_deduction"`
	WorkResidenceArea struct {
		Name        string    `json:"name"`
		From        string    `json:"from"`
		HomeKinds   []string  `json:"home_kinds"`
		LiveAndWork rawYearly `json:"live_and_work"`
		LiveOnly    rawYearly `json:"live_only"`
		Max         string    `json:"max"`
	} `json:"work_residence_area"`
	Innovation struct {
		Name      string   `json:"name"`
		Max       string   `json:"max"`
		Kinds     []Option `json:"kinds"`
		Financing []struct {
			MinWan string `json:"min_wan"`
			Points string `json:"points"`
		} `json:"financing"`
		AwardLevels   []rawLevel `json:"award_levels"`
		ContestLevels []rawLevel `json:"contest_levels"`
	} `json:"innovation"`
	Tax struct {
		Name           string `json:"name"`
		Years          int    `json:"years"`
		ThresholdYuan  string `json:"threshold_yuan"`
		PerYear        string `json:"per_year"`
		AllYears       string `json:"all_years"`
		Max            string `json:"max"`
		OffencePenalty string `json:"offence_penalty"`
	} `json:"tax"`
	Age struct {
		Name      string  `json:"name"`
		Reference dayRule `json:"reference"`
		Bands     []struct {
			MaxAge int    `json:"max_age"`
			Points string `json:"points"`
		} `json:"bands"`
		Otherwise string `json:"otherwise"`
	} `json:"age"`
	Honors struct {
		Name   string   `json:"name"`
		Points string   `json:"points"`
		List   []Option `json:"list"`
	} `json:"honors"`
	LawRecord struct {
		Name             string `json:"name"`
		DetentionPenalty string `json:"detention_penalty"`
	} `json:"law_record"`
}

type rawYearly struct {
	PerFullYear string `json:"per_full_year"`
	Max         string `json:"max"`
}

type rawLevel struct {
	Value  string `json:"value"`
	Label  string `json:"label"`
	Points string `json:"points"`
}

// compiler parses the strings of a rawRulebook, keeping the first error so
// that compileRulebook reads as a list of assignments.
type compiler struct{ err error }

func (c *compiler) fail(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf(format, args...)
	}
}

func (c *compiler) points(what, s string) Points {
	p, err := ParsePoints(s)
	if err != nil {
		c.fail("%s: %q: %v", what, s, err)
	}
	return p
}

func (c *compiler) rate(what, s string) Rate {
	r, err := ParseRate(s)
	if err != nil {
		c.fail("%s: %v", what, err)
	}
	return r
}

// month parses "YYYY-MM"; an empty string is the zero Month when optional.
func (c *compiler) month(what, s string, optional bool) Month {
	if s == "" && optional {
		return 0
	}
	m, err := ParseMonth(s)
	if err != nil {
		c.fail("%s: %q: %v", what, s, err)
	}
	return m
}

func (c *compiler) unit(what, s string) unit {
	switch s {
	case "month":
		return perMonth
	case "full_year":
		return perFullYear
	}
	c.fail("%s: unit %q is neither month nor full_year", what, s)
	return perMonth
}

// name records the 指标 name of an indicator.
func (c *compiler) name(b *Rulebook, code, s string) {
	if s == "" {
		c.fail("%s: name missing", code)
	}
	b.names[code] = s
}

func (c *compiler) yearly(what string, y rawYearly) yearly {
	return yearly{perYear: c.points(what+".per_full_year", y.PerFullYear), max: c.points(what+".max", y.Max)}
}

func (c *compiler) levels(what string, raw []rawLevel) map[string]Points {
	m := map[string]Points{}
	for _, l := range raw {
		if _, dup := m[l.Value]; dup || l.Value == "" || l.Label == "" {
			c.fail("%s: level %q missing, unlabelled or repeated", what, l.Value)
		}
		m[l.Value] = c.points(what+"."+l.Value, l.Points)
	}
	return m
}

// compileRulebook turns the JSON of a rulebook into a Rulebook, checking that
// every number parses and every list is coherent.
func compileRulebook(data []byte) (*Rulebook, error) {
	var r rawRulebook
	if err := decodeStrict(data, &r); err != nil {
		return nil, err
	}
	var c compiler
	b := &Rulebook{
		version: r.Version, title: r.Title, firstRound: r.FirstRound, lastRound: r.LastRound,
		statistics: r.StatisticsDate, districts: officialOrder(r.Districts), core: map[string]bool{}, notes: r.Notes,
		names: map[string]string{},
	}
	if b.version == "" || b.firstRound <= 0 || (b.lastRound != 0 && b.lastRound < b.firstRound) {
		c.fail("version or rounds missing")
	}
	for _, d := range []dayRule{r.StatisticsDate, r.Age.Reference} {
		if d.Month < 1 || d.Month > 12 || d.Day < 1 || d.Day > 31 {
			c.fail("day %+v out of range", d)
		}
	}
	for _, d := range r.CoreDistricts {
		if !slices.Contains(r.Districts, d) {
			c.fail("core district %q is not a district", d)
		}
		b.core[d] = true
	}
	e := r.Eligibility
	b.retireMale, b.retireFemale, b.retireFemaleCadre = e.RetirementAge.Male, e.RetirementAge.Female, e.RetirementAge.FemaleCadre
	b.continuityMonths, b.maxBackPaid = e.ContinuityMonths, e.MaxBackPaidMonths
	if b.continuityMonths <= 0 || b.retireMale <= 0 || b.retireFemale <= 0 || b.retireFemaleCadre <= 0 {
		c.fail("eligibility incomplete")
	}

	c.name(b, CodeEmployment, r.Employment.Name)
	b.employmentFrom = c.month("employment.from", r.Employment.From, false)
	b.employmentUnit = c.unit("employment", r.Employment.Unit)
	b.employmentRate = c.rate("employment.rate", r.Employment.Rate)

	compileHousing(&c, b, &r)
	compileEducation(&c, b, &r)

	w := r.WorkResidenceArea
	c.name(b, CodeWorkResidenceArea, w.Name)
	b.wraFrom = c.month("work_residence_area.from", w.From, false)
	b.wraHomeKinds = map[HousingKind]bool{}
	for _, k := range w.HomeKinds {
		if _, ok := b.housingKinds[HousingKind(k)]; !ok {
			c.fail("work_residence_area: home kind %q unknown", k)
		}
		b.wraHomeKinds[HousingKind(k)] = true
	}
	b.wraBoth = c.yearly("work_residence_area.live_and_work", w.LiveAndWork)
	b.wraLiveOnly = c.yearly("work_residence_area.live_only", w.LiveOnly)
	b.wraMax = c.points("work_residence_area.max", w.Max)

	compileInnovation(&c, b, &r)

	t := r.Tax
	c.name(b, CodeTax, t.Name)
	b.taxYears = t.Years
	if th, err := ParseAmount(t.ThresholdYuan); err != nil {
		c.fail("tax.threshold_yuan: %v", err)
	} else {
		b.taxThreshold = th
	}
	b.taxPerYear, b.taxAllYears = c.points("tax.per_year", t.PerYear), c.points("tax.all_years", t.AllYears)
	b.taxMax, b.taxOffencePenalty = c.points("tax.max", t.Max), c.points("tax.offence_penalty", t.OffencePenalty)

	c.name(b, CodeAge, r.Age.Name)
	b.ageReference = r.Age.Reference
	for i, band := range r.Age.Bands {
		if i > 0 && band.MaxAge <= r.Age.Bands[i-1].MaxAge {
			c.fail("age bands not ascending")
		}
		b.ageBands = append(b.ageBands, ageBand{maxAge: band.MaxAge, points: c.points("age.band", band.Points)})
	}
	b.ageOtherwise = c.points("age.otherwise", r.Age.Otherwise)

	c.name(b, CodeHonors, r.Honors.Name)
	b.honorPoints = c.points("honors.points", r.Honors.Points)
	c.name(b, CodeLawRecord, r.LawRecord.Name)
	b.detentionPenalty = c.points("law_record.detention_penalty", r.LawRecord.DetentionPenalty)

	b.labels = buildLabels(b, &r)
	if c.err != nil {
		return nil, c.err
	}
	if len(b.districts) == 0 || len(b.housingKinds) == 0 || len(b.educationLevels) == 0 {
		return nil, errors.New("districts, housing kinds or education levels missing")
	}
	return b, nil
}

func compileHousing(c *compiler, b *Rulebook, r *rawRulebook) {
	h := r.Housing
	c.name(b, CodeHousing, h.Name)
	b.housingFrom = c.month("housing.from", h.From, false)
	b.housingUnit = c.unit("housing", h.Unit)
	b.housingKinds = map[HousingKind]housingKind{}
	for _, k := range h.Kinds {
		if k.Value == "" || k.Label == "" {
			c.fail("housing kind without value or label")
		}
		b.housingKinds[HousingKind(k.Value)] = housingKind{
			label: k.Label, rate: c.rate("housing."+k.Value, k.Rate), owned: k.Owned,
			registeredFrom: c.month("housing."+k.Value+".registration_required_from", k.RegistrationRequiredFrom, true),
		}
	}
	b.presumedLabel = h.PresumedRental.Label
	b.presumedRate = c.rate("housing.presumed_rental", h.PresumedRental.Rate)
	b.presumedBefore = c.month("housing.presumed_rental.before", h.PresumedRental.Before, true)
}

func compileEducation(c *compiler, b *Rulebook, r *rawRulebook) {
	c.name(b, CodeEducation, r.Education.Name)
	b.educationLevels = map[EducationLevel]educationLevel{}
	for _, l := range r.Education.Levels {
		b.educationLevels[EducationLevel(l.Value)] = educationLevel{
			label: l.Label, both: c.points("education."+l.Value, l.Both), one: c.points("education."+l.Value, l.One),
		}
	}
	if _, ok := b.educationLevels[EducationNone]; !ok {
		c.fail("education level %q missing", EducationNone)
	}
	s := r.StudyDeduction
	c.name(b, CodeStudyDeduction, s.Name)
	b.studyUnit = c.unit("study_deduction", s.Unit)
	if len(s.Rates) == 0 {
		c.fail("study_deduction: no rates")
	}
	for i, text := range s.Rates {
		rate := c.rate("study_deduction.rates", text)
		if i == 0 {
			b.studyRate = rate
		} else {
			b.studyRate = b.studyRate.Plus(rate)
		}
	}
	b.studyCaps = map[Points]int{}
	for _, cp := range s.Caps {
		b.studyCaps[c.points("study_deduction.caps", cp.Education)] = cp.MaxMonths
	}
}

func compileInnovation(c *compiler, b *Rulebook, r *rawRulebook) {
	in := r.Innovation
	c.name(b, CodeInnovation, in.Name)
	b.innovationMax = c.points("innovation.max", in.Max)
	for i, f := range in.Financing {
		min, err := ParseAmount(f.MinWan)
		if err != nil {
			c.fail("innovation.financing: %v", err)
		}
		if i > 0 && min >= b.financing[i-1].min {
			c.fail("innovation.financing: thresholds not descending")
		}
		b.financing = append(b.financing, financingTier{min: min, points: c.points("innovation.financing", f.Points)})
	}
	b.awardLevels = c.levels("innovation.award_levels", in.AwardLevels)
	b.contestLevels = c.levels("innovation.contest_levels", in.ContestLevels)
}

// officialOrder is a rulebook's districts in the official order.
func officialOrder(ds []string) []string {
	out := slices.Clone(ds)
	SortDistricts(out)
	return out
}
