package portal

import (
	"slices"
	"strconv"
	"strings"

	"jifen/internal/rules"
	"jifen/internal/surface/ui"
)

// section is one page of the declaration (积分填报): one group of
// indicators the applicant fills in at once, as on GOV.UK one question
// group per page. A page owns some of the declaration's fields; saving it
// replaces those and keeps the others.
type section struct {
	slug, title, why string
	lists            []string // repeatable rows, by calcLists name
	fields           []string // the page's other fields (the first segment of their paths)
	indicators       []option // the indicators its attachments support
	required         bool     // submitting needs it filled in
	apply            func(dst *rules.CalculatorRequest, src rules.CalculatorRequest)
	groups           func(v calcView, pg *ui.Page) []ctlGroup
	describe         func(d rules.CalculatorRequest, l rules.Labels) []string
}

// ctlGroup is a fieldset of controls on a section page.
type ctlGroup struct {
	ID, Legend, Hint, Error string
	Controls                []control
}

var sections = []section{
	{slug: "eligibility", title: "基本条件", required: true,
		why:        "申请积分落户须持有本市居住证，且无刑事犯罪记录。是否在干部岗位影响女性的法定退休年龄，用于判断年龄条件。",
		fields:     []string{"residence_permit", "criminal_record", "cadre"},
		indicators: []option{{Value: "eligibility", Label: "申请条件（居住证等）"}},
		apply: func(dst *rules.CalculatorRequest, src rules.CalculatorRequest) {
			dst.ResidencePermit, dst.CriminalRecord, dst.Cadre = src.ResidencePermit, src.CriminalRecord, src.Cadre
		},
		groups: func(v calcView, _ *ui.Page) []ctlGroup {
			return []ctlGroup{{Legend: "基本条件", Controls: pick(v.Basics, "residence_permit", "criminal_record", "cadre")}}
		},
		describe: describeEligibility},
	{slug: "insurance", title: "社会保险", required: true,
		why:        "合法稳定就业按在京实际缴纳社会保险的月数计分。请按社会保险缴费记录逐段填写。",
		lists:      []string{"social_insurance", "back_paid"},
		indicators: []option{{Value: "employment", Label: "合法稳定就业（社会保险缴费证明等）"}},
		apply: func(dst *rules.CalculatorRequest, src rules.CalculatorRequest) {
			dst.SocialInsurance, dst.BackPaid = src.SocialInsurance, src.BackPaid
		},
		describe: describeInsurance},
	{slug: "housing", title: "住房",
		why:        "合法稳定住所按在京居住的月数计分，自有住房的分值高于租赁住房和单位宿舍。",
		lists:      []string{"housing"},
		indicators: []option{{Value: "housing", Label: "合法稳定住所（房产证、租赁备案证明等）"}},
		apply:      func(dst *rules.CalculatorRequest, src rules.CalculatorRequest) { dst.Housing = src.Housing },
		describe:   describeHousing},
	{slug: "education", title: "教育",
		why:        "按取得的最高学历（学位）计分；在职学习期间在京参保且居住的月份按规定扣除。",
		fields:     []string{"education", "study_months"},
		indicators: []option{{Value: "education", Label: "教育背景（毕业证书、学位证书）"}},
		apply: func(dst *rules.CalculatorRequest, src rules.CalculatorRequest) {
			dst.Education, dst.StudyMonths = src.Education, src.StudyMonths
		},
		groups: func(v calcView, _ *ui.Page) []ctlGroup {
			return []ctlGroup{{Legend: "教育背景", Controls: v.Education}}
		},
		describe: describeEducation},
	{slug: "workplaces", title: "工作地点",
		why:        "用于职住区域指标：住所和工作地都在城六区以外的月份可以加分。",
		lists:      []string{"workplaces"},
		indicators: []option{{Value: "work_residence_area", Label: "职住区域（工作地证明等）"}},
		apply:      func(dst *rules.CalculatorRequest, src rules.CalculatorRequest) { dst.Workplaces = src.Workplaces },
		describe:   describeWorkplaces},
	{slug: "innovation", title: "创新创业",
		why:        "在京创业获得投资，或获奖、参加创新创业大赛获奖的，可以加分。没有可不填。",
		lists:      []string{"innovation"},
		indicators: []option{{Value: "innovation", Label: "创新创业（投资、获奖证明等）"}},
		apply:      func(dst *rules.CalculatorRequest, src rules.CalculatorRequest) { dst.Innovation = src.Innovation },
		describe:   describeInnovation},
	{slug: "tax", title: "纳税",
		why:        "申报年度前3个年度个人所得税年纳税额达到10万元的，可以加分；有涉税违法记录的减分。",
		fields:     []string{"income_tax", "tax_offences"},
		indicators: []option{{Value: "tax", Label: "纳税（个人所得税完税证明）"}},
		apply: func(dst *rules.CalculatorRequest, src rules.CalculatorRequest) {
			dst.IncomeTax, dst.TaxOffences = src.IncomeTax, src.TaxOffences
		},
		groups: func(v calcView, pg *ui.Page) []ctlGroup {
			return []ctlGroup{{ID: "income_tax", Legend: "纳税", Error: pg.Fields["income_tax"], Controls: v.Tax,
				Hint: "填写每年缴纳的个人所得税（元），没有可留空。"}}
		},
		describe: describeTax},
	{slug: "honors", title: "荣誉与守法",
		why:        "获得省部级以上劳动模范、道德模范、见义勇为等荣誉表彰的加分；近5年有行政拘留记录的减分。",
		fields:     []string{"honors", "detentions"},
		indicators: []option{{Value: "honors", Label: "荣誉表彰（证书、表彰文件）"}, {Value: "law_record", Label: "守法记录"}},
		apply: func(dst *rules.CalculatorRequest, src rules.CalculatorRequest) {
			dst.Honors, dst.Detentions = src.Honors, src.Detentions
		},
		groups: func(v calcView, _ *ui.Page) []ctlGroup {
			return []ctlGroup{{Legend: "荣誉表彰与守法记录", Controls: []control{v.Honors, v.Detentions}}}
		},
		describe: describeHonors},
}

func sectionBySlug(slug string) (*section, bool) {
	i := slices.IndexFunc(sections, func(s section) bool { return s.slug == slug })
	if i < 0 {
		return nil, false
	}
	return &sections[i], true
}

// sectionOf returns the section that owns a field path such as
// "housing[1].from" or "income_tax.2024".
func sectionOf(field string) (*section, bool) {
	head, _, _ := strings.Cut(field, ".")
	name, _, _ := strings.Cut(head, "[")
	for i := range sections {
		if slices.Contains(sections[i].lists, name) || slices.Contains(sections[i].fields, name) {
			return &sections[i], true
		}
	}
	return nil, false
}

// sectionFor returns the section whose attachments support an indicator.
func sectionFor(indicator string) (*section, bool) {
	for i := range sections {
		if slices.ContainsFunc(sections[i].indicators, func(o option) bool { return o.Value == indicator }) {
			return &sections[i], true
		}
	}
	return nil, false
}

func pick(cs []control, names ...string) []control {
	var out []control
	for _, n := range names {
		if i := slices.IndexFunc(cs, func(c control) bool { return c.Name == n }); i >= 0 {
			out = append(out, cs[i])
		}
	}
	return out
}

// declForm is the calculator form holding a saved declaration: the reverse
// of calcForm.request, so that a section page shows what was saved.
func declForm(d rules.CalculatorRequest) *calcForm {
	f := &calcForm{values: map[string]string{}, rows: map[string][]map[string]string{}, shown: map[string]int{},
		honors: slices.Clone(d.Honors)}
	yesNo := func(b bool) string { return strconv.FormatBool(b) }
	check := func(b bool) string {
		if b {
			return "true"
		}
		return ""
	}
	count := func(n int) string {
		if n == 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	v := f.values
	v["residence_permit"], v["criminal_record"], v["cadre"] = yesNo(d.ResidencePermit), yesNo(d.CriminalRecord), yesNo(d.Cadre)
	v["education.level"], v["education.diploma"], v["education.degree"] =
		d.Education.Level, check(d.Education.Diploma), check(d.Education.Degree)
	v["study_months"], v["tax_offences"], v["detentions"] = count(d.StudyMonths), count(d.TaxOffences), count(d.Detentions)
	for y, amount := range d.IncomeTax {
		v["income_tax."+y] = string(amount)
	}
	for _, p := range d.SocialInsurance {
		f.rows["social_insurance"] = append(f.rows["social_insurance"], map[string]string{"from": p.From, "to": p.To})
	}
	for _, p := range d.BackPaid {
		f.rows["back_paid"] = append(f.rows["back_paid"], map[string]string{"from": p.From, "to": p.To})
	}
	for _, h := range d.Housing {
		f.rows["housing"] = append(f.rows["housing"], map[string]string{"kind": h.Kind, "from": h.From, "to": h.To,
			"district": h.District, "registered": check(h.Registered)})
	}
	for _, w := range d.Workplaces {
		f.rows["workplaces"] = append(f.rows["workplaces"], map[string]string{"from": w.From, "to": w.To, "district": w.District})
	}
	for _, in := range d.Innovation {
		row := map[string]string{"kind": in.Kind, "amount_wan": string(in.AmountWan)}
		if in.Level != "" {
			row["level"] = in.Kind + ":" + in.Level
		}
		f.rows["innovation"] = append(f.rows["innovation"], row)
	}
	return f
}
