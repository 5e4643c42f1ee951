package rules

import (
	"fmt"
	"strings"
	"time"
)

func (b *Rulebook) scoreEducation(s *scoring) Indicator {
	e := s.f.Education
	in := Indicator{Code: CodeEducation, Name: b.names[CodeEducation]}
	lvl, ok := b.educationLevels[e.Level]
	switch {
	case e.Level == "" || e.Level == EducationNone:
		in.Explanation = "无大专及以上学历 = 0.00"
	case !ok:
		in.Explanation = fmt.Sprintf("学历层次%q不在积分规则中 = 0.00", e.Level)
	case e.Diploma && e.Degree:
		in.Points = lvl.both
		in.Explanation = fmt.Sprintf("%s，取得学历和学位 = %s", lvl.label, in.Points)
	case e.Diploma || e.Degree:
		// A college (大专) grants no degree, so its rulebook entry scores
		// "one" and "both" alike.
		in.Points = lvl.one
		what := "仅取得学历"
		if e.Degree {
			what = "仅取得学位"
		}
		in.Explanation = fmt.Sprintf("%s，%s = %s", lvl.label, what, in.Points)
	default:
		in.Explanation = fmt.Sprintf("%s，未取得学历或学位 = 0.00", lvl.label)
	}
	s.education = in.Points
	return in
}

// scoreStudyDeduction takes back the employment and housing points earned
// while studying for the qualification that scored, months capped by tier.
func (b *Rulebook) scoreStudyDeduction(s *scoring) Indicator {
	in := Indicator{Code: CodeStudyDeduction, Name: b.names[CodeStudyDeduction]}
	months := max(s.f.StudyMonths, 0)
	if s.education == 0 {
		in.Explanation = "教育背景未计分，不扣除 = 0.00"
		return in
	}
	used := months
	if limit, ok := b.studyCaps[s.education]; ok {
		used = min(months, limit)
	}
	in.Points = -b.studyUnit.amount(b.studyRate, used)
	text := fmt.Sprintf("取得学历（学位）期间在京参保居住%d个月", months)
	if used < months {
		text += fmt.Sprintf("，教育背景%s分对应上限%d个月", formatHundredths(int64(s.education), false), used)
	}
	if b.studyUnit == perFullYear {
		text += fmt.Sprintf("，满%d年", used/12)
	}
	in.Explanation = fmt.Sprintf("%s × (%s) = %s", text, b.studyRate, in.Points)
	return in
}

// scoreWorkResidenceArea rewards living, and working, outside the core
// districts: months with the home and the workplace outside, and months with
// only the home outside, each scored per full 12 months on their own. Our
// reading (DOMAIN.md §5): the two kinds of months are counted separately and
// need not be consecutive.
func (b *Rulebook) scoreWorkResidenceArea(s *scoring) Indicator {
	in := Indicator{Code: CodeWorkResidenceArea, Name: b.names[CodeWorkResidenceArea]}
	home := "住所"
	if len(b.wraHomeKinds) == 1 && b.wraHomeKinds[Owned] {
		home = "自有住房"
	}
	if s.span.at(s.stat)&fHomeOutside == 0 {
		in.Explanation = fmt.Sprintf("统计截止月%s未在城六区以外%s居住 = 0.00", s.stat, home)
		return in
	}
	window := Period{From: b.wraFrom, To: s.stat}
	living := s.span.count(window, fHomeOutside)
	both := s.span.count(window, fHomeOutside|fWorkOutside) - s.span.count(window, fHomeOutside|fWorkOutside|fWorkInside)
	only := living - both
	pBoth := min(b.wraBoth.perYear*Points(both/12), b.wraBoth.max)
	pOnly := min(b.wraLiveOnly.perYear*Points(only/12), b.wraLiveOnly.max)
	in.Points = min(pBoth+pOnly, b.wraMax)
	in.Explanation = fmt.Sprintf("%s在城六区以外%s居住%d个月：其中在城六区以外工作%d个月，满%d年 × %s = %s；仅居住%d个月，满%d年 × %s = %s；合计 %s（上限%s）",
		window, home, living, both, both/12, formatHundredths(int64(b.wraBoth.perYear), false), pBoth,
		only, only/12, formatHundredths(int64(b.wraLiveOnly.perYear), false), pOnly,
		in.Points, formatHundredths(int64(b.wraMax), false))
	return in
}

// scoreInnovation scores the best single item.
func (b *Rulebook) scoreInnovation(s *scoring) Indicator {
	in := Indicator{Code: CodeInnovation, Name: b.names[CodeInnovation], Explanation: "无 = 0.00"}
	best, bestText := Points(-1), ""
	for _, item := range s.f.Innovation {
		p, text := b.innovationItem(item)
		if p > best {
			best, bestText = p, text
		}
	}
	if best < 0 {
		return in
	}
	in.Points = min(best, b.innovationMax)
	in.Explanation = fmt.Sprintf("%s = %s", bestText, in.Points)
	if len(s.f.Innovation) > 1 {
		in.Explanation = fmt.Sprintf("共%d项，取最高一项：%s", len(s.f.Innovation), in.Explanation)
	}
	if best > b.innovationMax {
		in.Explanation += fmt.Sprintf("（上限%s）", formatHundredths(int64(b.innovationMax), false))
	}
	return in
}

func (b *Rulebook) innovationItem(item Innovation) (Points, string) {
	kinds := b.labels.InnovationKinds
	switch item.Kind {
	case Financing:
		for _, t := range b.financing {
			if item.AmountWan >= t.min {
				return t.points, fmt.Sprintf("%s%s万元（≥%s万元）", label(kinds, string(item.Kind)),
					formatHundredths(int64(item.AmountWan), false), formatHundredths(int64(t.min), false))
			}
		}
		return 0, fmt.Sprintf("%s%s万元（未达到最低档）", label(kinds, string(item.Kind)), formatHundredths(int64(item.AmountWan), false))
	case Award:
		return b.awardLevels[item.Level], label(kinds, string(item.Kind)) + "：" + label(b.labels.AwardLevels, item.Level)
	case Contest:
		return b.contestLevels[item.Level], label(kinds, string(item.Kind)) + "：" + label(b.labels.ContestLevels, item.Level)
	}
	return 0, fmt.Sprintf("类型%q不计分", item.Kind)
}

// TaxYears lists the calendar years whose income tax counts in the round of
// the given application year (2019, 2020, 2021 for 2022), for a form to ask.
func (b *Rulebook) TaxYears(applicationYear int) []int {
	years := make([]int, 0, b.taxYears)
	for y := applicationYear - b.taxYears; y < applicationYear; y++ {
		years = append(years, y)
	}
	return years
}

// scoreTax scores the years Y−years … Y−1 whose income tax reaches the
// threshold: a rate per such year, a bonus when every year does (the 2016
// all-or-nothing rule), capped, minus a penalty per tax offence.
func (b *Rulebook) scoreTax(s *scoring) Indicator {
	in := Indicator{Code: CodeTax, Name: b.names[CodeTax]}
	y := s.f.ApplicationYear
	qualifying := 0
	var years []string
	for _, year := range b.TaxYears(y) {
		paid := s.f.IncomeTax[year]
		if paid >= b.taxThreshold {
			qualifying++
		}
		years = append(years, fmt.Sprintf("%d年%s元", year, formatHundredths(int64(paid), false)))
	}
	earned := b.taxPerYear * Points(qualifying)
	if qualifying == b.taxYears {
		earned += b.taxAllYears
	}
	earned = min(earned, b.taxMax)
	penalty := b.taxOffencePenalty * Points(max(s.f.TaxOffences, 0))
	in.Points = earned - penalty
	threshold := formatHundredths(int64(b.taxThreshold), false)
	var sb strings.Builder
	fmt.Fprintf(&sb, "个人所得税%s，达到%s元的%d年", strings.Join(years, "、"), threshold, qualifying)
	if b.taxPerYear != 0 {
		fmt.Fprintf(&sb, " × %s", formatHundredths(int64(b.taxPerYear), false))
	}
	if b.taxAllYears != 0 {
		fmt.Fprintf(&sb, "（%d年均达到加%s）", b.taxYears, formatHundredths(int64(b.taxAllYears), false))
	}
	fmt.Fprintf(&sb, " = %s", earned)
	if s.f.TaxOffences > 0 {
		fmt.Fprintf(&sb, "；涉税违法%d次 × -%s = %s；合计 %s", s.f.TaxOffences,
			formatHundredths(int64(b.taxOffencePenalty), false), -penalty, in.Points)
	}
	in.Explanation = sb.String()
	return in
}

// AgePoints returns the applicant's age in completed years on the rulebook's
// reference day (1 January of the year before the application year) and the
// age points it gives.
func (b *Rulebook) AgePoints(birth time.Time, applicationYear int) (age int, p Points) {
	y, m, d := b.ageReference.in(applicationYear)
	age = completedYears(birth, y, m, d)
	for _, band := range b.ageBands {
		if age <= band.maxAge {
			return age, band.points
		}
	}
	return age, b.ageOtherwise
}

func (b *Rulebook) scoreAge(s *scoring) Indicator {
	age, p := b.AgePoints(s.f.BirthDate, s.f.ApplicationYear)
	y, m, d := b.ageReference.in(s.f.ApplicationYear)
	return Indicator{Code: CodeAge, Name: b.names[CodeAge], Points: p,
		Explanation: fmt.Sprintf("%04d-%02d-%02d时年满%d周岁 = %s", y, int(m), d, age, p)}
}

func (b *Rulebook) scoreHonors(s *scoring) Indicator {
	in := Indicator{Code: CodeHonors, Name: b.names[CodeHonors], Explanation: "无 = 0.00"}
	var held []string
	for _, h := range s.f.Honors {
		if hasOption(b.labels.Honors, h) {
			held = append(held, label(b.labels.Honors, h))
		}
	}
	if len(held) > 0 {
		in.Points = b.honorPoints
		in.Explanation = fmt.Sprintf("%s = %s", strings.Join(held, "、"), in.Points)
		if len(held) > 1 {
			in.Explanation += "（不累加）"
		}
	}
	return in
}

func (b *Rulebook) scoreLawRecord(s *scoring) Indicator {
	n := max(s.f.Detentions, 0)
	in := Indicator{Code: CodeLawRecord, Name: b.names[CodeLawRecord], Explanation: "无行政拘留记录 = 0.00"}
	if n > 0 {
		in.Points = -b.detentionPenalty * Points(n)
		in.Explanation = fmt.Sprintf("行政拘留%d次 × -%s = %s", n, formatHundredths(int64(b.detentionPenalty), false), in.Points)
	}
	return in
}
