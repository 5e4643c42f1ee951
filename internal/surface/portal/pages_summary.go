package portal

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"jifen/internal/application"
	"jifen/internal/platform/apperr"
	"jifen/internal/rules"
)

// sectionView is a section of a declaration as overviews show it: its
// facts in words, whether anything is filled in, its attachments.
type sectionView struct {
	Slug, Title, Href string
	Error             string // a problem found on submitting
	Lines             []string
	Brief             string // the lines in one, for a task list
	Filled, Required  bool
	Files             int
}

// bookOf is the rulebook of an application year, or the latest.
func bookOf(year int) *rules.Rulebook {
	if b, err := rules.ForYear(year); err == nil {
		return b
	}
	return rules.Latest()
}

// sectionViews describes every section of a declaration. href is where a
// section is edited ("" when it cannot be).
func sectionViews(d rules.CalculatorRequest, files []application.Attachment, editable bool) []sectionView {
	l := bookOf(d.ApplicationYear).Labels()
	out := make([]sectionView, 0, len(sections))
	for i := range sections {
		s := &sections[i]
		v := sectionView{Slug: s.slug, Title: s.title, Lines: s.describe(d, l), Required: s.required}
		v.Filled = len(v.Lines) > 0
		v.Brief = brief(v.Lines)
		if editable {
			v.Href = "/me/application/" + s.slug
		}
		for _, f := range files {
			if slices.ContainsFunc(s.indicators, func(o option) bool { return o.Value == f.Indicator }) {
				v.Files++
			}
		}
		out = append(out, v)
	}
	return out
}

// brief puts a few lines in one; of many, the first two and how many.
func brief(lines []string) string {
	if len(lines) <= 3 {
		return strings.Join(lines, "；")
	}
	return strings.Join(lines[:2], "；") + " 等" + strconv.Itoa(len(lines)) + "项"
}

func optLabel(opts []rules.Option, v string) string {
	for _, o := range opts {
		if o.Value == v {
			return o.Label
		}
	}
	return v
}

func yesOrNo(b bool) string {
	if b {
		return "是"
	}
	return "否"
}

func period(from, to string) string { return from + " 至 " + to }

func describeEligibility(d rules.CalculatorRequest, _ rules.Labels) []string {
	return []string{"持有北京市居住证：" + yesOrNo(d.ResidencePermit), "有刑事犯罪记录：" + yesOrNo(d.CriminalRecord),
		"在干部岗位：" + yesOrNo(d.Cadre)}
}

func describeInsurance(d rules.CalculatorRequest, _ rules.Labels) []string {
	var out []string
	for _, p := range d.SocialInsurance {
		out = append(out, "实际缴纳："+period(p.From, p.To))
	}
	for _, p := range d.BackPaid {
		out = append(out, "补缴："+period(p.From, p.To))
	}
	return out
}

func describeHousing(d rules.CalculatorRequest, l rules.Labels) []string {
	var out []string
	for _, h := range d.Housing {
		s := optLabel(l.HousingKinds, h.Kind) + "，" + h.District + "，" + period(h.From, h.To)
		if h.Registered {
			s += "，已办理租赁备案"
		}
		out = append(out, s)
	}
	return out
}

func describeEducation(d rules.CalculatorRequest, l rules.Labels) []string {
	var out []string
	if e := d.Education; e.Level != "" {
		s := "最高学历：" + optLabel(l.EducationLevels, e.Level)
		if e.Diploma {
			s += "，已取得学历"
		}
		if e.Degree {
			s += "，已取得学位"
		}
		out = append(out, s)
	}
	if d.StudyMonths > 0 {
		out = append(out, "在职学习期间在京参保且居住 "+strconv.Itoa(d.StudyMonths)+" 个月")
	}
	return out
}

func describeWorkplaces(d rules.CalculatorRequest, _ rules.Labels) []string {
	var out []string
	for _, w := range d.Workplaces {
		out = append(out, w.District+"，"+period(w.From, w.To))
	}
	return out
}

func describeInnovation(d rules.CalculatorRequest, l rules.Labels) []string {
	var out []string
	for _, in := range d.Innovation {
		s := optLabel(l.InnovationKinds, in.Kind)
		switch in.Kind {
		case "financing":
			s += "，" + string(in.AmountWan) + " 万元"
		case "award":
			s += "，" + optLabel(l.AwardLevels, in.Level)
		case "contest":
			s += "，" + optLabel(l.ContestLevels, in.Level)
		}
		out = append(out, s)
	}
	return out
}

func describeTax(d rules.CalculatorRequest, _ rules.Labels) []string {
	var out []string
	years := make([]string, 0, len(d.IncomeTax))
	for y := range d.IncomeTax {
		years = append(years, y)
	}
	slices.Sort(years)
	for _, y := range years {
		if d.IncomeTax[y] != "" {
			out = append(out, y+"年个人所得税："+string(d.IncomeTax[y])+" 元")
		}
	}
	if d.TaxOffences > 0 {
		out = append(out, "近5年涉税违法 "+strconv.Itoa(d.TaxOffences)+" 次")
	}
	return out
}

func describeHonors(d rules.CalculatorRequest, l rules.Labels) []string {
	var out []string
	for _, h := range d.Honors {
		out = append(out, "荣誉表彰："+optLabel(l.Honors, h))
	}
	if d.Detentions > 0 {
		out = append(out, "近5年行政拘留 "+strconv.Itoa(d.Detentions)+" 次")
	}
	return out
}

// estimateOf scores a declaration for a page: the result, or nil and the
// reason it cannot be scored yet.
func estimateOf(d rules.CalculatorRequest) (*rules.Result, string) {
	res, err := application.Estimate(d)
	if err != nil {
		return nil, "填报内容尚不完整或有误，暂时无法估算：" + apperr.As(err).Message
	}
	return &res, ""
}

// engineErrors are the field errors inside err, as the rules engine names
// them, for mergeFieldErrors.
func engineErrors(err error) rules.FieldErrors {
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		return nil
	}
	out := make(rules.FieldErrors, 0, len(ae.Fields))
	for _, f := range ae.Fields {
		out = append(out, rules.FieldError{Field: f.Field, Message: f.Message})
	}
	return out
}
