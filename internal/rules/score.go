package rules

import (
	"fmt"
	"strings"
	"time"
)

// Score scores f under the rulebook of its application year.
func Score(f Facts) (Result, error) {
	b, err := ForYear(f.ApplicationYear)
	if err != nil {
		return Result{}, err
	}
	return b.Score(f), nil
}

// scoring is the state of scoring one applicant: the facts marked month by
// month over the window that any rule looks at.
type scoring struct {
	f          *Facts
	stat       Month     // statistics month S
	statDate   time.Time // statistics date
	span       monthSpan
	employment int    // months that scored for employment
	education  Points // education points, which select the deduction tier
}

// Score scores f under b. It never fails: facts that no rule can use (an
// unknown district, kind or level) simply score nothing, so callers should
// validate declared facts first, as CalculatorRequest.Facts does.
func (b *Rulebook) Score(f Facts) Result {
	s := b.prepare(&f)
	res := Result{
		Rulebook:          b.version,
		StatisticsDate:    s.statDate.Format(time.DateOnly),
		IneligibleReasons: b.eligibility(s),
		Indicators:        make([]Indicator, 0, 10),
	}
	res.Eligible = len(res.IneligibleReasons) == 0
	for _, score := range []func(*scoring) Indicator{
		b.scoreEmployment, b.scoreHousing, b.scoreEducation, b.scoreStudyDeduction,
		b.scoreWorkResidenceArea, b.scoreInnovation, b.scoreTax, b.scoreAge, b.scoreHonors, b.scoreLawRecord,
	} {
		in := score(s)
		res.Indicators = append(res.Indicators, in)
		res.Total += in.Points
	}
	return res
}

// prepare marks the month-based facts into one window, from the earliest
// month a rule looks at up to the statistics month.
func (b *Rulebook) prepare(f *Facts) *scoring {
	s := &scoring{f: f, stat: b.StatisticsMonth(f.ApplicationYear), statDate: b.StatisticsDate(f.ApplicationYear)}
	lo := min(b.employmentFrom, b.housingFrom, b.wraFrom, s.stat-Month(b.continuityMonths)+1)
	// Bound the window for absurd application years so that memory stays small.
	lo = max(lo, s.stat-Month(12*(lastYear-firstYear)))
	s.span = newMonthSpan(lo, s.stat, nil)
	for _, p := range f.SocialInsurance {
		s.span.mark(p, fPaid)
	}
	for _, p := range f.BackPaid {
		s.span.mark(p, fBackPaid)
	}
	for _, h := range f.Housing {
		s.span.mark(h.Period, fDeclared)
		if b.wraHomeKinds[h.Kind] && b.IsDistrict(h.District) && !b.IsCoreDistrict(h.District) {
			s.span.mark(h.Period, fHomeOutside)
		}
	}
	for _, w := range f.Workplaces {
		if b.IsDistrict(w.District) && !b.IsCoreDistrict(w.District) {
			s.span.mark(w.Period, fWorkOutside)
		} else {
			s.span.mark(w.Period, fWorkInside)
		}
	}
	return s
}

// eligibility checks the four conditions of DOMAIN.md §4 and returns every
// failed one in Chinese; an empty (non-nil) list means eligible.
func (b *Rulebook) eligibility(s *scoring) []string {
	f := s.f
	reasons := []string{}
	if !f.ResidencePermit {
		reasons = append(reasons, "未持有北京市居住证")
	}
	date := s.statDate.Format(time.DateOnly)
	age := completedYears(f.BirthDate, s.statDate.Year(), s.statDate.Month(), s.statDate.Day())
	switch limit, who := b.retirementAge(f.Sex, f.Cadre); {
	case limit == 0:
		reasons = append(reasons, "性别不明，无法判断是否达到法定退休年龄")
	case age >= limit:
		reasons = append(reasons, fmt.Sprintf("统计截止日（%s）已满%d周岁，达到法定退休年龄（%s%d周岁）", date, age, who, limit))
	}
	window := Period{From: s.stat - Month(b.continuityMonths) + 1, To: s.stat}
	gaps := s.span.runs(window, func(fl uint16) bool { return fl&(fPaid|fBackPaid) == 0 })
	if gaps != "" {
		reasons = append(reasons, fmt.Sprintf("统计截止日前连续%d个月（%s）社保缴纳不连续，未缴纳：%s",
			b.continuityMonths, window, gaps))
	}
	back := s.span.count(window, fBackPaid) - s.span.count(window, fBackPaid|fPaid)
	if back > b.maxBackPaid {
		reasons = append(reasons, fmt.Sprintf("统计截止日前连续%d个月中补缴%d个月，超过%d个月的上限",
			b.continuityMonths, back, b.maxBackPaid))
	}
	if f.CriminalRecord {
		reasons = append(reasons, "有刑事犯罪记录")
	}
	return reasons
}

// retirementAge is the statutory retirement age that applies, with who it
// applies to in Chinese; 0 when the sex is unknown.
func (b *Rulebook) retirementAge(sex Sex, cadre bool) (int, string) {
	switch {
	case sex == Male:
		return b.retireMale, "男性"
	case sex == Female && cadre:
		return b.retireFemaleCadre, "女性干部岗位"
	case sex == Female:
		return b.retireFemale, "女性"
	}
	return 0, ""
}

func (b *Rulebook) scoreEmployment(s *scoring) Indicator {
	s.employment = s.span.count(Period{From: b.employmentFrom, To: s.stat}, fPaid)
	p := b.employmentUnit.amount(b.employmentRate, s.employment)
	return Indicator{Code: CodeEmployment, Name: b.names[CodeEmployment], Points: p,
		Explanation: "实缴社保" + explainMonths(s.employment, b.employmentUnit, b.employmentRate, p)}
}

// explainMonths writes "172个月 × 0.25 = 43.00", or for a per-year rate
// "172个月，满14年 × 3 = 42.00".
func explainMonths(n int, u unit, r Rate, p Points) string {
	if u == perFullYear {
		return fmt.Sprintf("%d个月，满%d年 × %s = %s", n, n/12, r, p)
	}
	return fmt.Sprintf("%d个月 × %s = %s", n, r, p)
}

// housingRecord is one record as scored: its months before and after the cap.
type housingRecord struct {
	label        string
	rate         Rate
	months, used int
}

// scoreHousing scores owned homes first, then rentals and dormitories in
// declared order on the months not yet scored, then the presumed rental of
// insured months with no home declared; caps the months at those that scored
// for employment, earlier records first; and rounds each record on its own.
func (b *Rulebook) scoreHousing(s *scoring) Indicator {
	var recs []housingRecord
	window := Period{From: b.housingFrom, To: s.stat}
	for _, ownedPass := range []bool{true, false} {
		for _, h := range s.f.Housing {
			kind, ok := b.housingKinds[h.Kind]
			if !ok || kind.owned != ownedPass {
				continue
			}
			a, z, ok := s.span.clip(Period{From: max(h.Period.From, window.From), To: min(h.Period.To, window.To)})
			n := 0
			for i := a; ok && i <= z; i++ {
				m := s.span.lo + Month(i)
				if s.span.flags[i]&fTaken != 0 || (kind.registeredFrom != 0 && m >= kind.registeredFrom && !h.Registered) {
					continue
				}
				s.span.flags[i] |= fTaken
				n++
			}
			if n > 0 {
				recs = append(recs, housingRecord{label: fmt.Sprintf("%s（%s）", kind.label, h.District), rate: kind.rate, months: n})
			}
		}
	}
	presumed := window
	if b.presumedBefore != 0 {
		presumed.To = min(presumed.To, b.presumedBefore-1)
	}
	if n := s.span.count(presumed, fPaid) - s.span.count(presumed, fPaid|fDeclared); n > 0 {
		recs = append(recs, housingRecord{label: b.presumedLabel, rate: b.presumedRate, months: n})
	}

	var total Points
	var parts []string
	left := s.employment
	for _, r := range recs {
		r.used = min(r.months, left)
		left -= r.used
		p := b.housingUnit.amount(r.rate, r.used)
		total += p
		text := r.label
		if r.used < r.months {
			text += fmt.Sprintf("%d个月，受就业计分月数%d个月限制按", r.months, s.employment)
		}
		parts = append(parts, text+explainMonths(r.used, b.housingUnit, r.rate, p))
	}
	explanation := "无可计分的住所月份 = 0.00"
	if len(parts) > 0 {
		explanation = strings.Join(parts, "；") + "；合计 " + total.String()
	}
	return Indicator{Code: CodeHousing, Name: b.names[CodeHousing], Points: total, Explanation: explanation}
}
