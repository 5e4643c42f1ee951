package rules

import (
	"fmt"
	"slices"
)

func (v *validator) housing(in []HousingInput) []Housing {
	if !v.listLen("housing", len(in)) {
		return nil
	}
	out := make([]Housing, 0, len(in))
	for i, h := range in {
		path := fmt.Sprintf("housing[%d]", i)
		okKind := v.choice(path+".kind", h.Kind, v.b.labels.HousingKinds)
		per, okPer := v.period(path, h.From, h.To)
		okDistrict := v.district(path+".district", h.District)
		if okKind && okPer && okDistrict {
			out = append(out, Housing{Kind: HousingKind(h.Kind), Period: per, District: h.District, Registered: h.Registered})
		}
	}
	return out
}

func (v *validator) education(in EducationInput) Education {
	if in.Level == "" {
		in.Level = string(EducationNone)
	}
	if !v.choice("education.level", in.Level, v.b.labels.EducationLevels) {
		return Education{Level: EducationNone}
	}
	return Education{Level: EducationLevel(in.Level), Diploma: in.Diploma, Degree: in.Degree}
}

func (v *validator) workplaces(in []WorkplaceInput) []Workplace {
	if !v.listLen("workplaces", len(in)) {
		return nil
	}
	out := make([]Workplace, 0, len(in))
	for i, w := range in {
		path := fmt.Sprintf("workplaces[%d]", i)
		per, okPer := v.period(path, w.From, w.To)
		if okDistrict := v.district(path+".district", w.District); okPer && okDistrict {
			out = append(out, Workplace{Period: per, District: w.District})
		}
	}
	return out
}

func (v *validator) innovation(in []InnovationInput) []Innovation {
	if !v.listLen("innovation", len(in)) {
		return nil
	}
	out := make([]Innovation, 0, len(in))
	for i, item := range in {
		path := fmt.Sprintf("innovation[%d]", i)
		if !v.choice(path+".kind", item.Kind, v.b.labels.InnovationKinds) {
			continue
		}
		switch kind := InnovationKind(item.Kind); kind {
		case Financing:
			if a, ok := v.amount(path+".amount_wan", item.AmountWan); ok {
				out = append(out, Innovation{Kind: kind, AmountWan: a})
			}
		case Award, Contest:
			levels := v.b.labels.AwardLevels
			if kind == Contest {
				levels = v.b.labels.ContestLevels
			}
			if v.choice(path+".level", item.Level, levels) {
				out = append(out, Innovation{Kind: kind, Level: item.Level})
			}
		default: // a kind in the rulebook that this code cannot score
			v.errs.add(path+".kind", "%s“%s”暂不支持", describe(path+".kind"), item.Kind)
		}
	}
	return out
}

func (v *validator) incomeTax(in map[string]Decimal) map[int]Amount {
	if !v.listLen("income_tax", len(in)) {
		return nil
	}
	out := make(map[int]Amount, len(in))
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	slices.Sort(keys) // errors in a stable order
	for _, k := range keys {
		field := "income_tax." + k
		y, okYear := v.year(field, k)
		if a, ok := v.amount(field, in[k]); ok && okYear {
			out[y] = a
		}
	}
	return out
}

func (v *validator) honors(in []string) []string {
	if !v.listLen("honors", len(in)) {
		return nil
	}
	out := make([]string, 0, len(in))
	for i, h := range in {
		if v.choice(fmt.Sprintf("honors[%d]", i), h, v.b.labels.Honors) {
			out = append(out, h)
		}
	}
	return out
}
