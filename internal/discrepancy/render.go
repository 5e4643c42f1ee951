package discrepancy

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"jifen/internal/rules"
)

// Row is one field of a check item, declared beside verified, in Chinese.
type Row struct {
	Field    string
	Declared []string
	Verified []string
	Differs  bool
}

// Compare renders the declared and verified parts of a check item (the JSON
// of rules' Part) field by field, in the words of the rulebook's labels.
// version names the rulebook; "" or an unknown one means the latest.
func Compare(version, code, declared, verified string) []Row {
	book, err := rules.Book(version)
	if err != nil || book == nil {
		book = rules.Latest()
	}
	l := book.Labels()
	d, v := Readable(l, code, declared), Readable(l, code, verified)
	rows := make([]Row, len(d))
	for i := range d {
		rows[i] = Row{Field: d[i].Field, Declared: d[i].Values, Verified: v[i].Values, Differs: !slices.Equal(d[i].Values, v[i].Values)}
	}
	return rows
}

// Line is one field of one side.
type Line struct {
	Field  string
	Values []string // one line each; "无" for an empty list
}

// Readable renders one side of a check item. A side that is not valid JSON
// (which the engine never writes) is shown as it is.
func Readable(l rules.Labels, code, part string) []Line {
	var r rules.CalculatorRequest
	if err := json.Unmarshal([]byte(part), &r); err != nil {
		return []Line{{Field: "原始数据", Values: []string{part}}}
	}
	f := func(name string) string {
		if n := l.Fields[name]; n != "" {
			return n
		}
		return name
	}
	switch code {
	case rules.CodeEligibility:
		return []Line{{f("residence_permit"), []string{yesNo(r.ResidencePermit)}}, {f("criminal_record"), []string{yesNo(r.CriminalRecord)}}}
	case rules.CodeEmployment:
		return []Line{{f("social_insurance"), periods(r.SocialInsurance)}, {f("back_paid"), periods(r.BackPaid)}}
	case rules.CodeHousing:
		var out []string
		for _, h := range r.Housing {
			s := option(l.HousingKinds, h.Kind) + "，" + h.District + "，" + period(h.From, h.To)
			if h.Kind == "rented" {
				s += map[bool]string{true: "，已备案", false: "，未备案"}[h.Registered]
			}
			out = append(out, s)
		}
		return []Line{{f("housing"), none(out)}}
	case rules.CodeEducation:
		e := r.Education
		lvl := e.Level
		if lvl == "" {
			lvl = "none"
		}
		return []Line{{f("education.level"), []string{option(l.EducationLevels, lvl)}},
			{f("education.diploma"), []string{yesNo(e.Diploma)}}, {f("education.degree"), []string{yesNo(e.Degree)}}}
	case rules.CodeStudyDeduction:
		return []Line{{f("study_months"), []string{fmt.Sprintf("%d个月", r.StudyMonths)}}}
	case rules.CodeWorkResidenceArea:
		var out []string
		for _, w := range r.Workplaces {
			out = append(out, w.District+"，"+period(w.From, w.To))
		}
		return []Line{{f("workplaces"), none(out)}}
	case rules.CodeInnovation:
		var out []string
		for _, in := range r.Innovation {
			s := option(l.InnovationKinds, in.Kind)
			switch in.Kind {
			case "financing":
				s += "，" + string(in.AmountWan) + "万元"
			case "award":
				s += "，" + option(l.AwardLevels, in.Level)
			case "contest":
				s += "，" + option(l.ContestLevels, in.Level)
			}
			out = append(out, s)
		}
		return []Line{{f("innovation"), none(out)}}
	case rules.CodeTax:
		years := make([]string, 0, len(r.IncomeTax))
		for y := range r.IncomeTax {
			years = append(years, y)
		}
		slices.Sort(years)
		var out []string
		for _, y := range years {
			out = append(out, y+"年："+string(r.IncomeTax[y])+"元")
		}
		return []Line{{f("income_tax"), none(out)}}
	case rules.CodeAge:
		return []Line{{f("birth_date"), []string{r.BirthDate}}}
	case rules.CodeHonors:
		var out []string
		for _, h := range r.Honors {
			out = append(out, option(l.Honors, h))
		}
		return []Line{{f("honors"), none(out)}}
	case rules.CodeLawRecord:
		return []Line{{f("detentions"), []string{fmt.Sprintf("%d次", r.Detentions)}},
			{f("tax_offences"), []string{fmt.Sprintf("%d次", r.TaxOffences)}}}
	}
	return []Line{{Field: "原始数据", Values: []string{part}}}
}

func yesNo(b bool) string {
	if b {
		return "是"
	}
	return "否"
}

func period(from, to string) string { return from + " 至 " + to }

func periods(ps []rules.PeriodInput) []string {
	var out []string
	for _, p := range ps {
		out = append(out, period(p.From, p.To))
	}
	return none(out)
}

func none(s []string) []string {
	if len(s) == 0 {
		return []string{"无"}
	}
	return s
}

func option(opts []rules.Option, v string) string {
	for _, o := range opts {
		if o.Value == v {
			return o.Label
		}
	}
	return strings.TrimSpace(v)
}
