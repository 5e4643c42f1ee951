package rules

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func exampleJSON(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "example_2022.json"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// editJSON applies a change to the decoded example and encodes it again.
func editJSON(t *testing.T, change func(map[string]any)) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(exampleJSON(t)), &m); err != nil {
		t.Fatal(err)
	}
	change(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name, body, field, message string
	}{
		{"empty", "", "body", "请求内容为空"},
		{"not JSON", "hello", "body", "不是有效的 JSON"},
		{"truncated", `{"application_year": 2022`, "body", "不完整"},
		{"array", `[1, 2]`, "body", "应为 JSON 对象"},
		{"trailing data", `{"application_year": 2022} {}`, "body", "多余内容"},
		{"unknown top-level field", `{"application_year": 2022, "nickname": "x"}`, "nickname", "不认识的字段“nickname”"},
		{"unknown nested field", `{"housing": [{"kind": "owned"}, {"kind": "owned", "form": "2020-01"}]}`,
			"housing[1].form", "住房记录第2条中有不认识的字段“form”"},
		{"unknown education field", `{"education": {"level": "master", "major": "law"}}`, "education.major", "教育背景中有不认识的字段"},
		{"year as string", `{"application_year": "2022"}`, "application_year", "申请年度类型不正确，应为整数"},
		{"fractional count", `{"study_months": 1.5}`, "study_months", "应为整数"},
		{"huge number", `{"detentions": 1e30}`, "detentions", "不能超出范围"},
		{"month as number", `{"social_insurance": [{"from": "2015-01", "to": "2021-12"}, {"from": 201501, "to": "x"}]}`,
			"social_insurance[1].from", "社会保险缴费记录第2条的起始月份类型不正确，应为字符串"},
		{"bool as string", `{"residence_permit": "yes"}`, "residence_permit", "应为布尔值（true 或 false）"},
		{"list as object", `{"housing": {"kind": "owned"}}`, "housing", "住房记录类型不正确，应为数组"},
		{"honour as number", `{"honors": ["model_worker", 7]}`, "honors[1]", "荣誉表彰第2项类型不正确"},
		{"empty key", `{"": 1}`, `""`, "不认识的字段“”"},
		{"empty nested key", `{"education": {"": 1}}`, `education.""`, "教育背景中有不认识的字段“”"},
		{"income tax as list", `{"income_tax": [1]}`, "income_tax", "应为对象"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeCalculatorRequest(strings.NewReader(tt.body))
			var fe FieldErrors
			if !errors.As(err, &fe) || len(fe) != 1 {
				t.Fatalf("error %v (%T), want one FieldError", err, err)
			}
			if fe[0].Field != tt.field || !strings.Contains(fe[0].Message, tt.message) {
				t.Errorf("got %s: %s; want %s: …%s…", fe[0].Field, fe[0].Message, tt.field, tt.message)
			}
		})
	}
}

// failingReader fails like http.MaxBytesReader past its limit.
type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errTooLarge }

var errTooLarge = errors.New("http: request body too large")

func TestDecodeReadError(t *testing.T) {
	_, err := DecodeCalculatorRequest(failingReader{})
	if !errors.Is(err, errTooLarge) || errors.As(err, new(FieldErrors)) {
		t.Errorf("error %v: the reader's error must come back wrapped, not as FieldErrors", err)
	}
	big := `{"honors": [` + strings.Repeat(`"model_worker",`, MaxRequestBytes/15) + `"model_worker"]}`
	_, err = DecodeCalculatorRequest(strings.NewReader(big))
	var fe FieldErrors
	if !errors.As(err, &fe) || fe[0].Field != "body" {
		t.Errorf("oversized body: %v", err)
	}
}

func TestDecodeAcceptsExampleAndStrings(t *testing.T) {
	req, err := DecodeCalculatorRequest(strings.NewReader(exampleJSON(t)))
	if err != nil {
		t.Fatal(err)
	}
	if req.IncomeTax["2020"] != "100000" || req.Innovation[0].AmountWan != "4500" {
		t.Errorf("decimals kept as %q, %q", req.IncomeTax["2020"], req.Innovation[0].AmountWan)
	}
	// A web form submits numbers as strings; null means absent.
	body := `{"application_year": 2022, "income_tax": {"2021": "120000.50", "2020": null}, "innovation": [{"kind": "financing", "amount_wan": "600"}]}`
	req, err = DecodeCalculatorRequest(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if req.IncomeTax["2021"] != "120000.50" || req.IncomeTax["2020"] != "" || req.Innovation[0].AmountWan != "600" {
		t.Errorf("decoded %+v", req)
	}
	// The request encodes back to the same contract.
	again, _ := json.Marshal(req)
	if _, err := DecodeCalculatorRequest(strings.NewReader(string(again))); err != nil {
		t.Errorf("re-encoded request rejected: %v\n%s", err, again)
	}
}

func TestFactsValidation(t *testing.T) {
	tests := []struct {
		name    string
		change  func(map[string]any)
		field   string
		message string
	}{
		{"no rulebook for the year", func(m map[string]any) { m["application_year"] = 2017 }, "application_year", "申请年度2017没有适用的积分规则"},
		{"year mistyped", func(m map[string]any) { m["application_year"] = 20222 }, "application_year", "申请年度20222没有适用的积分规则"},
		{"year missing", func(m map[string]any) { delete(m, "application_year") }, "application_year", "申请年度不能为空"},
		{"birth date malformed", func(m map[string]any) { m["birth_date"] = "1980-9-10" }, "birth_date", "出生日期格式不正确，应为 YYYY-MM-DD"},
		{"birth date impossible", func(m map[string]any) { m["birth_date"] = "1980-02-30" }, "birth_date", "格式不正确"},
		{"birth after statistics date", func(m map[string]any) { m["birth_date"] = "2022-01-01" }, "birth_date", "晚于统计截止日"},
		{"sex unknown", func(m map[string]any) { m["sex"] = "X" }, "sex", "性别“X”无效"},
		{"month malformed", func(m map[string]any) { item(m, "housing", 1)["from"] = "2007/07" }, "housing[1].from",
			"住房记录第2条的起始月份格式不正确，应为 YYYY-MM"},
		{"month missing", func(m map[string]any) { delete(item(m, "workplaces", 0), "to") }, "workplaces[0].to", "工作地记录第1条的截止月份不能为空"},
		{"from after to", func(m map[string]any) { item(m, "back_paid", 0)["to"] = "2015-02" }, "back_paid[0].to",
			"社会保险补缴记录第1条的截止月份早于起始月份"},
		{"month out of range", func(m map[string]any) { item(m, "social_insurance", 0)["from"] = "1066-10" }, "social_insurance[0].from", "超出合理范围"},
		{"overlapping insurance", func(m map[string]any) { item(m, "social_insurance", 1)["from"] = "2015-02" }, "social_insurance[1]",
			"社会保险缴费记录第2条与社会保险缴费记录第1条的月份重叠（2015-02至2015-02）"},
		{"back-paid month also paid", func(m map[string]any) { item(m, "back_paid", 0)["from"] = "2015-02" }, "back_paid[0]",
			"社会保险补缴记录第1条与社会保险缴费记录第1条的月份重叠"},
		{"unknown district", func(m map[string]any) { item(m, "housing", 0)["district"] = "浦东新区" }, "housing[0].district",
			"住房记录第1条的所在区“浦东新区”不是北京市的区"},
		{"district missing", func(m map[string]any) { delete(item(m, "workplaces", 0), "district") }, "workplaces[0].district", "不能为空"},
		{"unknown housing kind", func(m map[string]any) { item(m, "housing", 0)["kind"] = "villa" }, "housing[0].kind",
			"住房记录第1条的类型“villa”无效，应为owned（自有住房）、rented（租赁住房）、dormitory（单位宿舍）之一"},
		{"unknown education level", func(m map[string]any) { m["education"] = map[string]any{"level": "postdoc"} }, "education.level", "学历层次“postdoc”无效"},
		{"negative study months", func(m map[string]any) { m["study_months"] = -1 }, "study_months", "不能为负数"},
		{"unknown innovation kind", func(m map[string]any) { item(m, "innovation", 0)["kind"] = "patent" }, "innovation[0].kind", "创新创业项目第1条的类型“patent”无效"},
		{"negative financing", func(m map[string]any) { item(m, "innovation", 0)["amount_wan"] = -5 }, "innovation[0].amount_wan", "融资金额（万元）不能为负数"},
		{"financing not a number", func(m map[string]any) { item(m, "innovation", 0)["amount_wan"] = true }, "innovation[0].amount_wan", "应为数字"},
		{"financing amount missing", func(m map[string]any) { delete(item(m, "innovation", 0), "amount_wan") }, "innovation[0].amount_wan", "不能为空"},
		{"award level unknown", func(m map[string]any) { m["innovation"] = []any{map[string]any{"kind": "award", "level": "gold"}} },
			"innovation[0].level", "等级“gold”无效"},
		{"negative income tax", func(m map[string]any) { m["income_tax"].(map[string]any)["2020"] = -1 }, "income_tax.2020", "2020年的个人所得税纳税额不能为负数"},
		{"income tax in fen", func(m map[string]any) { m["income_tax"].(map[string]any)["2020"] = 1.005 }, "income_tax.2020", "最多保留两位小数"},
		{"income tax year malformed", func(m map[string]any) { m["income_tax"].(map[string]any)["twenty"] = 1 }, "income_tax.twenty", "年份“twenty”无效"},
		{"negative tax offences", func(m map[string]any) { m["tax_offences"] = -2 }, "tax_offences", "涉税违法次数不能为负数"},
		{"negative detentions", func(m map[string]any) { m["detentions"] = -1 }, "detentions", "行政拘留次数不能为负数"},
		{"unknown honour", func(m map[string]any) { m["honors"] = []any{"model_worker", "hero"} }, "honors[1]", "荣誉表彰第2项“hero”无效"},
		{"too many records", func(m map[string]any) {
			var many []any
			for range maxListLen + 1 {
				many = append(many, map[string]any{"from": "2020-01", "to": "2020-01", "district": "昌平区"})
			}
			m["workplaces"] = many
		}, "workplaces", "工作地记录最多100条"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := editJSON(t, tt.change)
			req, err := DecodeCalculatorRequest(strings.NewReader(body))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			_, errs := req.Facts()
			var hit *FieldError
			for i := range errs {
				if errs[i].Field == tt.field {
					hit = &errs[i]
				}
			}
			if hit == nil || !strings.Contains(hit.Message, tt.message) {
				t.Errorf("errors %v; want %s: …%s…", errs, tt.field, tt.message)
			}
			if _, err := Calculate(req); !errors.As(err, new(FieldErrors)) {
				t.Errorf("Calculate error %v, want FieldErrors", err)
			}
		})
	}
}

func item(m map[string]any, list string, i int) map[string]any {
	return m[list].([]any)[i].(map[string]any)
}

func TestFactsReportsEveryProblem(t *testing.T) {
	req := CalculatorRequest{ApplicationYear: 2022, BirthDate: "x", Sex: "?", StudyMonths: -1,
		Housing: []HousingInput{{Kind: "tent", From: "2020", To: "2019-01", District: "?"}}}
	_, errs := req.Facts()
	want := []string{"birth_date", "sex", "housing[0].kind", "housing[0].from", "housing[0].district", "study_months"}
	for _, field := range want {
		found := false
		for _, e := range errs {
			found = found || e.Field == field
		}
		if !found {
			t.Errorf("no error for %s in %v", field, errs)
		}
	}
	if errs.Error() == "" || !strings.Contains(errs.Error(), "sex: ") {
		t.Errorf("Error() = %q", errs.Error())
	}
	ok := CalculatorRequest{ApplicationYear: 2022, BirthDate: "1990-01-01", Sex: "F"}
	if _, errs := ok.Facts(); errs != nil {
		t.Errorf("minimal request: %v", errs)
	}
}
