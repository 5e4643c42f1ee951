package rules

import (
	"maps"
	"slices"
)

// Option is one choice of a form field: the value the calculator contract
// carries and its Chinese label.
type Option struct {
	Value string `json:"value"`
	Label string `json:"label"`
}

// Labels is what a form needs to offer the choices of a rulebook in Chinese.
// Values are those of the calculator JSON contract.
type Labels struct {
	Sexes           []Option          `json:"sexes"`
	HousingKinds    []Option          `json:"housing_kinds"`
	EducationLevels []Option          `json:"education_levels"`
	InnovationKinds []Option          `json:"innovation_kinds"`
	AwardLevels     []Option          `json:"award_levels"`   // levels of kind "award"
	ContestLevels   []Option          `json:"contest_levels"` // levels of kind "contest"
	Honors          []Option          `json:"honors"`
	Districts       []Option          `json:"districts"`      // value and label are the district's name
	CoreDistricts   []string          `json:"core_districts"` // 城六区
	Indicators      []Option          `json:"indicators"`     // code → 指标 name, in order
	Fields          map[string]string `json:"fields"`         // JSON field → Chinese name, as in FieldError messages
}

// Labels returns the Chinese labels of the rulebook's choices. The result is
// a copy the caller may keep or change.
func (b *Rulebook) Labels() Labels {
	l := b.labels
	for _, s := range []*[]Option{&l.Sexes, &l.HousingKinds, &l.EducationLevels, &l.InnovationKinds,
		&l.AwardLevels, &l.ContestLevels, &l.Honors, &l.Districts, &l.Indicators} {
		*s = slices.Clone(*s)
	}
	l.CoreDistricts = slices.Clone(l.CoreDistricts)
	l.Fields = maps.Clone(l.Fields)
	return l
}

// label returns the label of value among opts, or value itself.
func label(opts []Option, value string) string {
	for _, o := range opts {
		if o.Value == value {
			return o.Label
		}
	}
	return value
}

// hasOption reports whether value is one of opts.
func hasOption(opts []Option, value string) bool {
	for _, o := range opts {
		if o.Value == value {
			return true
		}
	}
	return false
}

// fieldNames names the fields of the calculator request in Chinese; the
// validation messages and the web form use the same words.
var fieldNames = map[string]string{
	"body":              "请求内容",
	"application_year":  "申请年度",
	"birth_date":        "出生日期",
	"sex":               "性别",
	"cadre":             "是否干部岗位",
	"residence_permit":  "是否持有北京市居住证",
	"criminal_record":   "是否有刑事犯罪记录",
	"social_insurance":  "社会保险缴费记录",
	"back_paid":         "社会保险补缴记录",
	"housing":           "住房记录",
	"education":         "教育背景",
	"education.level":   "学历层次",
	"education.diploma": "是否取得学历",
	"education.degree":  "是否取得学位",
	"study_months":      "取得学历（学位）期间在京参保居住月数",
	"workplaces":        "工作地记录",
	"innovation":        "创新创业项目",
	"income_tax":        "个人所得税纳税额",
	"tax_offences":      "涉税违法次数",
	"honors":            "荣誉表彰",
	"detentions":        "行政拘留次数",
	"from":              "起始月份",
	"to":                "截止月份",
	"kind":              "类型",
	"district":          "所在区",
	"registered":        "是否租赁备案",
	"amount_wan":        "融资金额（万元）",
	"level":             "等级",
}

func buildLabels(b *Rulebook, r *rawRulebook) Labels {
	l := Labels{
		Sexes:           slices.Clone(r.Sexes),
		InnovationKinds: slices.Clone(r.Innovation.Kinds),
		Honors:          slices.Clone(r.Honors.List),
		CoreDistricts:   b.CoreDistricts(),
		Fields:          maps.Clone(fieldNames),
	}
	for _, k := range r.Housing.Kinds {
		l.HousingKinds = append(l.HousingKinds, Option{Value: k.Value, Label: k.Label})
	}
	for _, e := range r.Education.Levels {
		l.EducationLevels = append(l.EducationLevels, Option{Value: e.Value, Label: e.Label})
	}
	for _, a := range r.Innovation.AwardLevels {
		l.AwardLevels = append(l.AwardLevels, Option{Value: a.Value, Label: a.Label})
	}
	for _, a := range r.Innovation.ContestLevels {
		l.ContestLevels = append(l.ContestLevels, Option{Value: a.Value, Label: a.Label})
	}
	for _, d := range b.districts {
		l.Districts = append(l.Districts, Option{Value: d, Label: d})
	}
	names := []string{r.Employment.Name, r.Housing.Name, r.Education.Name, r.StudyDeduction.Name,
		r.WorkResidenceArea.Name, r.Innovation.Name, r.Tax.Name, r.Age.Name, r.Honors.Name, r.LawRecord.Name}
	for i, code := range IndicatorCodes() {
		l.Indicators = append(l.Indicators, Option{Value: code, Label: names[i]})
	}
	return l
}
