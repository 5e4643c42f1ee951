package portal_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"jifen/internal/app/apptest"
	"jifen/internal/rules"
)

var examplePath = filepath.Join("..", "..", "rules", "testdata", "example_2022.json")

func exampleJSON(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// exampleMap is the worked example as generic JSON, for tests to spoil.
func exampleMap(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(exampleJSON(t), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func item(m map[string]any, list string, i int) map[string]any {
	return m[list].([]any)[i].(map[string]any)
}

func postCalc(c *apptest.Client, body []byte) *apptest.Response {
	return c.Do("POST", "/api/v1/calculator", bytes.NewReader(body), map[string]string{"Content-Type": "application/json"})
}

type apiError struct {
	Error struct {
		Code, Message string
		Fields        []struct{ Field, Message string }
	}
}

func TestCalculatorAPIAnswersTheWorkedExample(t *testing.T) {
	a := apptest.Start(t)
	r := postCalc(a.Client(a.Internet), exampleJSON(t))
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	var res rules.Result
	r.JSON(&res)
	var codes []string
	for _, in := range res.Indicators {
		codes = append(codes, in.Code)
	}
	if res.Total.String() != "131.17" || !res.Eligible || !slices.Equal(codes, rules.IndicatorCodes()) {
		t.Fatalf("total %s, eligible %v, codes %v", res.Total, res.Eligible, codes)
	}
	// The whole answer is the engine's golden answer, byte for byte once indented.
	var indented bytes.Buffer
	if err := json.Indent(&indented, []byte(r.Body), "", "  "); err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile(filepath.Join("..", "..", "rules", "testdata", "example_2022.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(indented.Bytes(), golden) {
		t.Errorf("answer differs from the golden file:\n%s", indented.Bytes())
	}
}

func TestCalculatorAPIRefusesBadInput(t *testing.T) {
	a := apptest.Start(t)
	c := a.Client(a.Internet)
	cases := []struct {
		name, field string
		spoil       func(m map[string]any)
	}{
		{"unknown field", "housing[1].form", func(m map[string]any) { item(m, "housing", 1)["form"] = "2007-07" }},
		{"malformed date", "birth_date", func(m map[string]any) { m["birth_date"] = "1980/09/10" }},
		{"malformed month", "back_paid[0].from", func(m map[string]any) { item(m, "back_paid", 0)["from"] = "2015-3" }},
		{"from after to", "social_insurance[1].to", func(m map[string]any) { item(m, "social_insurance", 1)["to"] = "2014-12" }},
		{"negative amount", "innovation[0].amount_wan", func(m map[string]any) { item(m, "innovation", 0)["amount_wan"] = -4500 }},
		{"negative tax", "income_tax.2021", func(m map[string]any) { m["income_tax"].(map[string]any)["2021"] = -1 }},
		{"unknown district", "workplaces[0].district", func(m map[string]any) { item(m, "workplaces", 0)["district"] = "浦东新区" }},
		{"unknown kind", "housing[1].kind", func(m map[string]any) { item(m, "housing", 1)["kind"] = "villa" }},
		{"wrong type", "study_months", func(m map[string]any) { m["study_months"] = "forty" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := exampleMap(t)
			tc.spoil(m)
			body, _ := json.Marshal(m)
			r := postCalc(c, body)
			var e apiError
			r.JSON(&e)
			if r.Status != 400 || e.Error.Code != "invalid" || len(e.Error.Fields) == 0 {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			if f := e.Error.Fields[0]; f.Field != tc.field || !hasHan(f.Message) {
				t.Fatalf("field %q message %q, want field %q with a Chinese message", f.Field, f.Message, tc.field)
			}
		})
	}
	if r := postCalc(c, []byte(`{"application_year": 2022,`)); r.Status != 400 || !strings.Contains(r.Body, `"field":"body"`) {
		t.Errorf("truncated JSON: %d %s", r.Status, r.Body)
	}
}

func hasHan(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r >= 0x4e00 && r <= 0x9fff })
}

func TestCalculatorAPILimits(t *testing.T) {
	a := apptest.Start(t)
	c := a.Client(a.Internet)
	big := []byte(`{"application_year": 2022, "birth_date": "` + strings.Repeat("x", 70<<10) + `"}`)
	r := postCalc(c, big)
	var e apiError
	r.JSON(&e)
	if r.Status != 413 || e.Error.Code != "too_large" {
		t.Fatalf("70 KB body: %d %s", r.Status, r.Body)
	}
	if r := c.Get("/api/v1/calculator"); r.Status != 405 || !strings.Contains(r.Body, `"method_not_allowed"`) {
		t.Fatalf("GET: %d %s", r.Status, r.Body)
	}
	// A browser on another site may not use it with the visitor's cookies.
	r = c.Do("POST", "/api/v1/calculator", bytes.NewReader(exampleJSON(t)), map[string]string{
		"Content-Type": "application/json", "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
	if r.Status != 403 {
		t.Fatalf("cross-site POST: %d", r.Status)
	}
}

// exampleForm is the worked example as the page's form submits it.
func exampleForm(t *testing.T) url.Values {
	t.Helper()
	var req rules.CalculatorRequest
	if err := json.Unmarshal(exampleJSON(t), &req); err != nil {
		t.Fatal(err)
	}
	v := url.Values{}
	set := func(k string, x any) { v.Set(k, fmt.Sprint(x)) }
	set("application_year", req.ApplicationYear)
	set("birth_date", req.BirthDate)
	set("sex", req.Sex)
	set("cadre", req.Cadre)
	set("residence_permit", req.ResidencePermit)
	set("criminal_record", req.CriminalRecord)
	for list, ps := range map[string][]rules.PeriodInput{"social_insurance": req.SocialInsurance, "back_paid": req.BackPaid} {
		for i, p := range ps {
			set(fmt.Sprintf("%s[%d].from", list, i), p.From)
			set(fmt.Sprintf("%s[%d].to", list, i), p.To)
		}
	}
	for i, h := range req.Housing {
		row := fmt.Sprintf("housing[%d].", i)
		set(row+"kind", h.Kind)
		set(row+"from", h.From)
		set(row+"to", h.To)
		set(row+"district", h.District)
		if h.Registered {
			set(row+"registered", true)
		}
	}
	for i, w := range req.Workplaces {
		row := fmt.Sprintf("workplaces[%d].", i)
		set(row+"from", w.From)
		set(row+"to", w.To)
		set(row+"district", w.District)
	}
	set("education.level", req.Education.Level)
	set("education.diploma", req.Education.Diploma)
	set("education.degree", req.Education.Degree)
	set("study_months", req.StudyMonths)
	for i, in := range req.Innovation {
		row := fmt.Sprintf("innovation[%d].", i)
		set(row+"kind", in.Kind)
		set(row+"amount_wan", in.AmountWan)
		if in.Level != "" {
			set(row+"level", in.Kind+":"+in.Level)
		}
	}
	for y, amount := range req.IncomeTax {
		set("income_tax."+y, amount)
	}
	set("tax_offences", req.TaxOffences)
	set("detentions", req.Detentions)
	for _, h := range req.Honors {
		v.Add("honors", h)
	}
	return v
}

// input returns the <input> or <select> tag named name, or "".
func input(body, name string) string {
	re := regexp.MustCompile(`<(input|select)[^>]*name="` + regexp.QuoteMeta(name) + `"[^>]*>`)
	return re.FindString(body)
}

func TestCalculatorPageForm(t *testing.T) {
	a := apptest.Start(t)
	c := a.Client(a.Internet)
	r := c.Get("/calculator")
	if r.Status != 200 || !strings.Contains(r.Body, `<form method="post" action="/calculator"`) {
		t.Fatalf("GET: %d", r.Status)
	}
	for _, name := range []string{"application_year", "birth_date", "sex", "residence_permit", "criminal_record",
		"social_insurance[0].from", "back_paid[0].to", "housing[0].district", "housing[0].registered",
		"workplaces[0].district", "education.level", "education.degree", "study_months", "innovation[0].level",
		"income_tax.2025", "tax_offences", "honors", "detentions"} {
		if input(r.Body, name) == "" {
			t.Errorf("the form lacks %s", name)
		}
	}
	// One blank row per list; 增加一行 adds more.
	if input(r.Body, "housing[1].from") != "" || input(r.Body, "social_insurance[1].from") != "" || strings.Contains(r.Body, "估算结果") {
		t.Error("a fresh form has more than one row of a list, or a result")
	}
	if strings.Contains(r.Body, "style=") || strings.Contains(r.Body, "<script>") {
		t.Error("inline style or script: the CSP forbids them")
	}
}

func TestCalculatorPageComputesTheWorkedExample(t *testing.T) {
	a := apptest.Start(t)
	r := a.Client(a.Internet).PostForm("/calculator", exampleForm(t))
	if r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	for _, want := range []string{"合计 131.17 分", "本结果仅为估算，以正式审核结果为准", "同一套积分规则和同一计算程序",
		"符合申报条件", "合法稳定就业", "实缴社保172个月 × 0.25 = 43.00", "-10.50", "统计截止日为 2021-12-31"} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("the result lacks %q", want)
		}
	}
	// The form stays filled for the next try, tax years those of 2022.
	for name, value := range map[string]string{"birth_date": "1980-09-10", "social_insurance[1].from": "2015-05",
		"income_tax.2019": "50000", "innovation[0].amount_wan": "4500"} {
		if tag := input(r.Body, name); !strings.Contains(tag, `value="`+value+`"`) {
			t.Errorf("%s not kept: %s", name, tag)
		}
	}
	if !strings.Contains(r.Body, `<option value="昌平区" selected>`) || !strings.Contains(r.Body, `value="model_worker" checked`) {
		t.Error("selections not kept")
	}
}

func TestCalculatorPageShowsErrorsBesideTheField(t *testing.T) {
	a := apptest.Start(t)
	c := a.Client(a.Internet)
	cases := []struct {
		name, field, value, want string
	}{
		{"bad month", "social_insurance[1].to", "2021-13", "格式不正确"},
		{"to before from", "housing[0].to", "2010-12", "早于起始月份"},
		{"not a number", "study_months", "四十", "应填写整数"},
		{"level of another kind", "innovation[0].level", "award:national_first", "等级不能为空"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			form := exampleForm(t)
			form.Set(tc.field, tc.value)
			if tc.field == "innovation[0].level" {
				form.Set("innovation[0].kind", "contest")
			}
			r := c.PostForm("/calculator", form)
			id := strings.NewReplacer("[", "-", "]", "", ".", "-").Replace(tc.field)
			beside := regexp.MustCompile(`<p class="field-error" id="e-` + id + `"><span class="visually-hidden">错误：</span>([^<]*)</p>`).FindStringSubmatch(r.Body)
			if r.Status != 400 || beside == nil || !strings.Contains(beside[1], tc.want) {
				t.Fatalf("%d, beside %s: %v", r.Status, tc.field, beside)
			}
			if !strings.Contains(r.Body, `<a href="#f-`+id+`">`) || strings.Contains(r.Body, "估算结果") {
				t.Error("no link in the error summary, or a result despite the error")
			}
			if tag := input(r.Body, "birth_date"); !strings.Contains(tag, `value="1980-09-10"`) {
				t.Errorf("other values not kept: %s", tag)
			}
			if tc.field == "social_insurance[1].to" {
				// The same validation as the API: the very same message.
				m := exampleMap(t)
				item(m, "social_insurance", 1)["to"] = tc.value
				body, _ := json.Marshal(m)
				var e apiError
				postCalc(c, body).JSON(&e)
				if len(e.Error.Fields) != 1 || e.Error.Fields[0].Message != beside[1] {
					t.Errorf("page says %q, API %+v", beside[1], e.Error.Fields)
				}
			}
		})
	}
}

func TestCalculatorPageAddsRows(t *testing.T) {
	a := apptest.Start(t)
	c := a.Client(a.Internet)
	form := url.Values{"application_year": {"2022"}, "add": {"housing"}}
	for i := range 3 { // a fresh form's three housing rows, only the last one filled
		for _, sub := range []string{"kind", "from", "to", "district"} {
			form.Set(fmt.Sprintf("housing[%d].%s", i, sub), "")
		}
	}
	form.Set("housing[2].from", "2011-01")
	r := c.PostForm("/calculator", form)
	if r.Status != 200 || input(r.Body, "housing[3].from") == "" || input(r.Body, "housing[4].from") != "" {
		t.Fatalf("add row: %d, want housing rows 0–3", r.Status)
	}
	// Blank rows are dropped: the filled row comes first, its value kept.
	if tag := input(r.Body, "housing[0].from"); !strings.Contains(tag, `value="2011-01"`) {
		t.Errorf("filled row not kept first: %s", tag)
	}
	if strings.Contains(r.Body, "估算结果") || strings.Contains(r.Body, "error-summary") {
		t.Error("adding a row computed or validated")
	}
	if !strings.Contains(r.Body, `formaction="/calculator#f-housing-4"`) {
		t.Error("the next add button does not lead to the row it adds")
	}
	// Changing the year re-renders the tax years without computing.
	form = url.Values{"application_year": {"2024"}, "refresh": {"1"}}
	if r := c.PostForm("/calculator", form); input(r.Body, "income_tax.2023") == "" || input(r.Body, "income_tax.2020") != "" {
		t.Errorf("refresh to 2024: tax years not 2021–2023")
	}
}

var formRe = regexp.MustCompile(`(?s)<form method="post" action="/calculator".*?</form>`)

// The empty form of GET /calculator is rendered once a year and kept: it
// must be the very form a fresh rendering of the same values gives, and
// follow the year.
func TestCalculatorPageKeptFormIsTheFreshOne(t *testing.T) {
	a := apptest.Start(t)
	c := a.Client(a.Internet)
	fresh := func() string { // rendered for this request: a refresh of the default values
		r := c.PostForm("/calculator", url.Values{"residence_permit": {"true"}, "criminal_record": {"false"},
			"cadre": {"false"}, "refresh": {"1"}})
		return formRe.FindString(r.Body)
	}
	for range 2 { // the first GET renders the form, the second shows the kept one
		r := c.Get("/calculator")
		if got, want := formRe.FindString(r.Body), fresh(); r.Status != 200 || got == "" || got != want {
			t.Fatalf("GET %d: the kept form differs from a fresh one:\n%s\n---\n%s", r.Status, got, want)
		}
	}
	if !strings.Contains(c.Get("/calculator").Body, `<option value="2026" selected>`) {
		t.Fatal("the form does not offer the current year")
	}
	a.Clock.Advance(366 * 24 * time.Hour)
	r := c.Get("/calculator")
	if !strings.Contains(r.Body, `<option value="2027" selected>`) || formRe.FindString(r.Body) != fresh() {
		t.Error("a new year keeps last year's form")
	}
}
