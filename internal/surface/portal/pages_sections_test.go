package portal

import (
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"jifen/internal/rules"
)

// full is a declaration with something in every field a section owns.
func full() rules.CalculatorRequest {
	return rules.CalculatorRequest{ApplicationYear: 2026, ResidencePermit: true, Cadre: true,
		SocialInsurance: []rules.PeriodInput{{From: "2010-01", To: "2019-12"}, {From: "2020-03", To: "2025-12"}},
		BackPaid:        []rules.PeriodInput{{From: "2020-01", To: "2020-02"}},
		Housing:         []rules.HousingInput{{Kind: "rented", From: "2015-01", To: "2025-12", District: "昌平区", Registered: true}},
		Education:       rules.EducationInput{Level: "bachelor", Diploma: true, Degree: true}, StudyMonths: 12,
		Workplaces: []rules.WorkplaceInput{{From: "2010-01", To: "2025-12", District: "海淀区"}},
		Innovation: []rules.InnovationInput{{Kind: "financing", AmountWan: "500"},
			{Kind: "award", Level: "national_special"}},
		IncomeTax: map[string]rules.Decimal{"2023": "120000", "2025": "99.5"}, TaxOffences: 1,
		Honors: []string{"model_worker"}, Detentions: 2}
}

// A section page shows what was saved, and saving the page unchanged
// saves the same declaration: declForm is the inverse of the form parser.
func TestSectionFormsRoundTrip(t *testing.T) {
	d := full()
	f := declForm(d)
	form := url.Values{}
	for k, v := range f.flat() {
		form.Set(k, v)
	}
	for _, h := range f.honors {
		form.Add("honors", h)
	}
	req, errs := parseCalcForm(form).request()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	got := rules.CalculatorRequest{ApplicationYear: d.ApplicationYear}
	for _, s := range sections {
		s.apply(&got, req)
	}
	if !reflect.DeepEqual(got, d) {
		t.Fatalf("round trip\n got %+v\nwant %+v", got, d)
	}
	d.BirthDate, d.Sex = "1988-05-01", "M"
	if _, err := rules.Calculate(d); err != nil {
		t.Fatalf("the example is not a valid declaration: %v", err)
	}
}

// Every field of the calculator's form belongs to exactly one section
// (the year, birth date and sex come from the ID number), so every error
// can be shown on a page.
func TestEveryFieldHasOneSection(t *testing.T) {
	for _, field := range calcOrder {
		if slices.Contains([]string{"application_year", "birth_date", "sex"}, field) {
			continue
		}
		n := 0
		for _, s := range sections {
			if slices.Contains(s.lists, field) || slices.Contains(s.fields, field) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s is in %d sections", field, n)
		}
	}
	for _, field := range []string{"housing[2].from", "income_tax.2024", "education.level", "honors[0]"} {
		if _, ok := sectionOf(field); !ok {
			t.Errorf("no section for %s", field)
		}
	}
}

func TestSectionDescriptions(t *testing.T) {
	views := sectionViews(full(), nil, true)
	if len(views) != len(sections) {
		t.Fatalf("%d views", len(views))
	}
	want := map[string]string{"eligibility": "持有北京市居住证：是", "insurance": "补缴：2020-01 至 2020-02",
		"housing": "已办理租赁备案", "education": "已取得学位", "workplaces": "海淀区，2010-01 至 2025-12",
		"innovation": "500 万元", "tax": "2023年个人所得税：120000 元", "honors": "近5年行政拘留 2 次"}
	for _, v := range views {
		if !v.Filled || v.Href != "/me/application/"+v.Slug || !strings.Contains(strings.Join(v.Lines, "\n"), want[v.Slug]) {
			t.Errorf("%s: %+v", v.Slug, v)
		}
	}
	if v := sectionViews(rules.CalculatorRequest{ApplicationYear: 2026}, nil, false)[1]; v.Filled || v.Href != "" || !v.Required {
		t.Errorf("empty insurance: %+v", v)
	}
}

func TestFileSizesAsPeopleReadThem(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{{13, "13 字节"}, {1024, "1 KB"}, {1025, "2 KB"}, {356 << 10, "356 KB"}, {5 << 20, "5.0 MB"}, {2516582, "2.4 MB"}} {
		if got := sizeText(c.n); got != c.want {
			t.Errorf("sizeText(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}
