package rules

import "testing"

func TestPartsCoverEveryField(t *testing.T) {
	a := CalculatorRequest{ApplicationYear: 2022, BirthDate: "1985-03-01", Sex: "M", ResidencePermit: true,
		SocialInsurance: []PeriodInput{{From: "2010-01", To: "2021-12"}}, Housing: []HousingInput{{Kind: "owned", From: "2015-01", To: "2021-12", District: "昌平区"}},
		Education: EducationInput{Level: "master", Diploma: true, Degree: true}, StudyMonths: 3,
		Workplaces: []WorkplaceInput{{From: "2015-01", To: "2021-12", District: "昌平区"}}, IncomeTax: map[string]Decimal{"2021": "150000"},
		Innovation: []InnovationInput{{Kind: "financing", AmountWan: "600"}}, Honors: []string{"model_worker"}, Detentions: 1, TaxOffences: 1, CriminalRecord: true}
	var b CalculatorRequest
	b.ApplicationYear, b.Sex = a.ApplicationYear, a.Sex
	for _, code := range CheckItems() {
		if SamePart(&a, &b, code) {
			t.Errorf("%s: parts equal before copying", code)
		}
		CopyPart(&b, &a, code)
		if !SamePart(&a, &b, code) {
			t.Errorf("%s: parts differ after copying: %s vs %s", code, a.PartJSON(code), b.PartJSON(code))
		}
		if CheckItemName(code) == "" {
			t.Errorf("%s has no name", code)
		}
	}
	if !SamePart(&CalculatorRequest{}, &CalculatorRequest{Housing: []HousingInput{}}, CodeHousing) {
		t.Error("nil and empty housing differ")
	}
	// Every field of the request now agrees: the items cover the request.
	fa, fb := a.PartJSON(CodeEmployment), b.PartJSON(CodeEmployment)
	if fa != fb {
		t.Errorf("%s vs %s", fa, fb)
	}
}
