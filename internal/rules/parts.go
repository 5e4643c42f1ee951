package rules

import (
	"encoding/json"
	"maps"
	"reflect"
)

// CodeEligibility names the check item of the eligibility facts the agencies
// hold (居住证 and criminal record); it is not an indicator and has no points.
const CodeEligibility = "eligibility"

// CheckItems lists what the cross-check compares, in the order of a score
// statement: the eligibility facts, then the ten indicators.
func CheckItems() []string { return append([]string{CodeEligibility}, IndicatorCodes()...) }

// CheckItemName is the Chinese name of a check item.
func CheckItemName(code string) string { return checkItemNames[code] }

var checkItemNames = map[string]string{
	CodeEligibility: "申请条件（居住证、刑事犯罪记录）", CodeEmployment: "合法稳定就业", CodeHousing: "合法稳定住所",
	CodeEducation: "教育背景", CodeStudyDeduction: "取得学历（学位）期间积分", CodeWorkResidenceArea: "职住区域",
	CodeInnovation: "创新创业", CodeTax: "纳税", CodeAge: "年龄", CodeHonors: "荣誉表彰", CodeLawRecord: "守法记录",
}

// Part returns the fields of r that the check item code is scored from, as
// a map from JSON field name to value (the declared or verified side of a
// discrepancy).
func (r *CalculatorRequest) Part(code string) map[string]any {
	switch code {
	case CodeEligibility:
		return map[string]any{"residence_permit": r.ResidencePermit, "criminal_record": r.CriminalRecord}
	case CodeEmployment:
		return map[string]any{"social_insurance": nonNil(r.SocialInsurance), "back_paid": nonNil(r.BackPaid)}
	case CodeHousing:
		return map[string]any{"housing": nonNil(r.Housing)}
	case CodeEducation:
		return map[string]any{"education": r.Education}
	case CodeStudyDeduction:
		return map[string]any{"study_months": r.StudyMonths}
	case CodeWorkResidenceArea:
		return map[string]any{"workplaces": nonNil(r.Workplaces)}
	case CodeInnovation:
		return map[string]any{"innovation": nonNil(r.Innovation)}
	case CodeTax:
		m := r.IncomeTax
		if m == nil {
			m = map[string]Decimal{}
		}
		return map[string]any{"income_tax": m}
	case CodeAge:
		return map[string]any{"birth_date": r.BirthDate}
	case CodeHonors:
		return map[string]any{"honors": nonNil(r.Honors)}
	case CodeLawRecord:
		return map[string]any{"detentions": r.Detentions, "tax_offences": r.TaxOffences}
	}
	return nil
}

// PartJSON is Part encoded as JSON with sorted keys: equal parts give equal
// strings.
func (r *CalculatorRequest) PartJSON(code string) string {
	b, _ := json.Marshal(r.Part(code))
	return string(b)
}

// SamePart reports whether a and b agree on everything code is scored from.
func SamePart(a, b *CalculatorRequest, code string) bool {
	return reflect.DeepEqual(normal(a.Part(code)), normal(b.Part(code)))
}

// normal round-trips a part through JSON so nil and empty compare equal.
func normal(p map[string]any) any {
	b, _ := json.Marshal(p)
	var v any
	_ = json.Unmarshal(b, &v)
	return v
}

// CopyPart sets the fields of dst that code is scored from to those of src.
func CopyPart(dst, src *CalculatorRequest, code string) {
	switch code {
	case CodeEligibility:
		dst.ResidencePermit, dst.CriminalRecord = src.ResidencePermit, src.CriminalRecord
	case CodeEmployment:
		dst.SocialInsurance, dst.BackPaid = clone(src.SocialInsurance), clone(src.BackPaid)
	case CodeHousing:
		dst.Housing = clone(src.Housing)
	case CodeEducation:
		dst.Education = src.Education
	case CodeStudyDeduction:
		dst.StudyMonths = src.StudyMonths
	case CodeWorkResidenceArea:
		dst.Workplaces = clone(src.Workplaces)
	case CodeInnovation:
		dst.Innovation = clone(src.Innovation)
	case CodeTax:
		dst.IncomeTax = maps.Clone(src.IncomeTax)
	case CodeAge:
		dst.BirthDate = src.BirthDate
	case CodeHonors:
		dst.Honors = clone(src.Honors)
	case CodeLawRecord:
		dst.Detentions, dst.TaxOffences = src.Detentions, src.TaxOffences
	}
}

func clone[T any](s []T) []T { return append([]T(nil), s...) }

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
