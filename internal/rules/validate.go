package rules

import (
	"fmt"
	"strconv"
	"strings"
)

// Bounds on request values that no rule sets but that keep input sane.
const (
	maxListLen  = 100  // records per list
	maxCount    = 100  // tax offences, detentions
	maxStudy    = 1200 // study months
	firstYear   = 1900 // earliest year of any date
	lastYear    = 2100 // latest year of any date
	yearPattern = "四位年份，如“2021”"
)

// Calculate validates req, then scores it under the rulebook of its
// application year. The error, if any, is FieldErrors.
func Calculate(req CalculatorRequest) (Result, error) {
	f, errs := req.Facts()
	if len(errs) > 0 {
		return Result{}, errs
	}
	b, err := ForYear(f.ApplicationYear)
	if err != nil { // unreachable: Facts checked the year
		return Result{}, FieldErrors{{Field: "application_year", Message: "申请年度没有适用的积分规则"}}
	}
	return b.Score(f), nil
}

// validator collects FieldErrors while converting a request.
type validator struct {
	b    *Rulebook
	errs FieldErrors
}

// Facts checks every field of the request against the rulebook of its
// application year and converts it. errs is nil when the request is valid;
// otherwise it lists every problem found, not only the first.
func (req CalculatorRequest) Facts() (Facts, FieldErrors) {
	v := validator{}
	f := Facts{
		ApplicationYear: req.ApplicationYear, Cadre: req.Cadre,
		ResidencePermit: req.ResidencePermit, CriminalRecord: req.CriminalRecord,
	}
	b, err := ForYear(req.ApplicationYear)
	yearOK := err == nil
	if !yearOK {
		if req.ApplicationYear == 0 {
			v.errs.add("application_year", "申请年度不能为空")
		} else {
			v.errs.add("application_year", "申请年度%d没有适用的积分规则，可选年度为%s", req.ApplicationYear, roundsText())
		}
		b = Latest()
	}
	v.b = b

	switch {
	case req.BirthDate == "":
		v.errs.add("birth_date", "出生日期不能为空")
	default:
		d, err := ParseDate(req.BirthDate)
		switch {
		case err != nil:
			v.errs.add("birth_date", "出生日期格式不正确，应为 YYYY-MM-DD")
		case d.Year() < firstYear:
			v.errs.add("birth_date", "出生日期早于%d年，请核对", firstYear)
		case yearOK && d.After(b.StatisticsDate(req.ApplicationYear)):
			v.errs.add("birth_date", "出生日期晚于统计截止日，请核对")
		}
		f.BirthDate = d
	}
	switch Sex(req.Sex) {
	case Male, Female:
		f.Sex = Sex(req.Sex)
	case "":
		v.errs.add("sex", "性别不能为空，应为 M（男）或 F（女）")
	default:
		v.errs.add("sex", "性别“%s”无效，应为 M（男）或 F（女）", req.Sex)
	}

	insured := v.periods("social_insurance", req.SocialInsurance)
	backPaid := v.periods("back_paid", req.BackPaid)
	v.noOverlap(insured, insured)
	v.noOverlap(backPaid, backPaid)
	v.noOverlap(backPaid, insured)
	f.SocialInsurance, f.BackPaid = insured.periods(), backPaid.periods()
	f.Housing = v.housing(req.Housing)
	f.Education = v.education(req.Education)
	f.StudyMonths = v.count("study_months", req.StudyMonths, maxStudy)
	f.Workplaces = v.workplaces(req.Workplaces)
	f.Innovation = v.innovation(req.Innovation)
	f.IncomeTax = v.incomeTax(req.IncomeTax)
	f.TaxOffences = v.count("tax_offences", req.TaxOffences, maxCount)
	f.Honors = v.honors(req.Honors)
	f.Detentions = v.count("detentions", req.Detentions, maxCount)
	return f, v.errs
}

// roundsText lists the application years that have a rulebook.
func roundsText() string {
	var parts []string
	for _, ver := range Versions() {
		b, _ := Book(ver)
		if first, last := b.Rounds(); last == 0 {
			parts = append(parts, fmt.Sprintf("%d年及以后", first))
		} else {
			parts = append(parts, fmt.Sprintf("%d–%d年", first, last))
		}
	}
	return strings.Join(parts, "、")
}

func (v *validator) listLen(field string, n int) bool {
	if n > maxListLen {
		v.errs.add(field, "%s最多%d条", describe(field), maxListLen)
		return false
	}
	return true
}

// month parses a required "YYYY-MM" field.
func (v *validator) month(field, s string) (Month, bool) {
	if s == "" {
		v.errs.add(field, "%s不能为空", describe(field))
		return 0, false
	}
	m, err := ParseMonth(s)
	if err != nil {
		v.errs.add(field, "%s格式不正确，应为 YYYY-MM", describe(field))
		return 0, false
	}
	if m.Year() < firstYear || m.Year() > lastYear {
		v.errs.add(field, "%s超出合理范围（%d–%d年）", describe(field), firstYear, lastYear)
		return 0, false
	}
	return m, true
}

// period parses the from and to of the record at path.
func (v *validator) period(path, from, to string) (Period, bool) {
	a, okA := v.month(path+".from", from)
	z, okZ := v.month(path+".to", to)
	if okA && okZ && z < a {
		v.errs.add(path+".to", "%s早于起始月份", describe(path+".to"))
		return Period{}, false
	}
	return Period{From: a, To: z}, okA && okZ
}

// periodList is the valid records of one list of periods, with the list's
// name and each record's index in the request.
type periodList struct {
	field string
	index []int
	items []Period
}

func (l periodList) periods() []Period { return l.items }

func (v *validator) periods(field string, in []PeriodInput) periodList {
	l := periodList{field: field}
	if !v.listLen(field, len(in)) {
		return l
	}
	for i, p := range in {
		if per, ok := v.period(fmt.Sprintf("%s[%d]", field, i), p.From, p.To); ok {
			l.index = append(l.index, i)
			l.items = append(l.items, per)
		}
	}
	return l
}

// noOverlap reports each record of a that shares a month with a record of b,
// or with an earlier record when a and b are the same list: a month is paid
// once, or back-paid once, never both.
func (v *validator) noOverlap(a, b periodList) {
	for i, p := range a.items {
		limit := len(b.items)
		if a.field == b.field {
			limit = i
		}
		for j, q := range b.items[:limit] {
			if p.From <= q.To && q.From <= p.To {
				field := fmt.Sprintf("%s[%d]", a.field, a.index[i])
				v.errs.add(field, "%s与%s的月份重叠（%s），同一月份只能出现一次", describe(field),
					describe(fmt.Sprintf("%s[%d]", b.field, b.index[j])),
					Period{From: max(p.From, q.From), To: min(p.To, q.To)})
				break
			}
		}
	}
}

func (v *validator) district(field, d string) bool {
	switch {
	case d == "":
		v.errs.add(field, "%s不能为空", describe(field))
	case !v.b.IsDistrict(d):
		v.errs.add(field, "%s“%s”不是北京市的区，应为%s之一", describe(field), d, strings.Join(v.b.districts, "、"))
	default:
		return true
	}
	return false
}

// choice checks that value is one of opts.
func (v *validator) choice(field, value string, opts []Option) bool {
	if hasOption(opts, value) {
		return true
	}
	var list []string
	for _, o := range opts {
		list = append(list, fmt.Sprintf("%s（%s）", o.Value, o.Label))
	}
	if value == "" {
		v.errs.add(field, "%s不能为空，应为%s之一", describe(field), strings.Join(list, "、"))
	} else {
		v.errs.add(field, "%s“%s”无效，应为%s之一", describe(field), value, strings.Join(list, "、"))
	}
	return false
}

func (v *validator) count(field string, n, limit int) int {
	switch {
	case n < 0:
		v.errs.add(field, "%s不能为负数", describe(field))
		return 0
	case n > limit:
		v.errs.add(field, "%s不能超过%d", describe(field), limit)
		return 0
	}
	return n
}

// amount parses a required non-negative decimal with two places at most.
func (v *validator) amount(field string, d Decimal) (Amount, bool) {
	if d == "" {
		v.errs.add(field, "%s不能为空", describe(field))
		return 0, false
	}
	a, err := ParseAmount(string(d))
	switch err {
	case nil:
		return a, true
	case errDecimalSign:
		v.errs.add(field, "%s不能为负数", describe(field))
	case errDecimalPlaces:
		v.errs.add(field, "%s最多保留两位小数", describe(field))
	case errDecimalRange:
		v.errs.add(field, "%s数值过大", describe(field))
	default:
		v.errs.add(field, "%s应为数字", describe(field))
	}
	return 0, false
}

func (v *validator) year(field, s string) (int, bool) {
	y, err := strconv.Atoi(s)
	if len(s) != 4 || !allDigits(s) || err != nil || y < firstYear || y > lastYear {
		v.errs.add(field, "个人所得税纳税额的年份“%s”无效，应为%s", s, yearPattern)
		return 0, false
	}
	return y, true
}
