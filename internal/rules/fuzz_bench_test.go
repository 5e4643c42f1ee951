package rules

import (
	"errors"
	"strings"
	"testing"
)

// FuzzDecodeCalculatorRequest feeds arbitrary bytes through the public path:
// decoding, validation and scoring must never panic, every error must be
// FieldErrors naming a field, and a valid request must score ten indicators
// that sum to the total.
func FuzzDecodeCalculatorRequest(f *testing.F) {
	f.Add(exampleJSON(f))
	for _, seed := range []string{
		``, `{}`, `null`, `[]`, `{"application_year": 2022}`, `{"application_year": 2019, "birth_date": "1970-01-01", "sex": "F"}`,
		`{"housing": [{"kind": "owned", "form": "2020-01"}]}`, `{"income_tax": {"2021": "1e5", "x": true}}`,
		`{"social_insurance": [{"from": 201501}]}`, `{"application_year": 1e400}`, `{"honors": [1]}`,
		`{"innovation": [{"kind": "financing", "amount_wan": "-0.001"}]}`, `{"education": {"level": "doctor", "DIPLOMA": true}}`,
		`{"application_year": 2022, "birth_date": "1980-09-10", "sex": "M", "social_insurance": [{"from": "1900-01", "to": "2100-12"}],
		  "housing": [{"kind": "rented", "from": "1900-01", "to": "2100-12", "district": "延庆区"}]}`,
		`{"": ""}`, `{"education": {"": 1}}`,
		`{"a": 1} trailing`, `{"study_months": -9223372036854775808}`, "{\"sex\": \"\xff\"}",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req, err := DecodeCalculatorRequest(strings.NewReader(body))
		if err != nil {
			checkFieldErrors(t, err)
			return
		}
		res, err := Calculate(req)
		if err != nil {
			checkFieldErrors(t, err)
			return
		}
		if len(res.Indicators) != 10 {
			t.Fatalf("%d indicators", len(res.Indicators))
		}
		var sum Points
		for _, in := range res.Indicators {
			sum += in.Points
		}
		if sum != res.Total || res.IneligibleReasons == nil {
			t.Fatalf("total %s, sum %s, reasons %v", res.Total, sum, res.IneligibleReasons)
		}
	})
}

func checkFieldErrors(t *testing.T, err error) {
	t.Helper()
	var fe FieldErrors
	if !errors.As(err, &fe) || len(fe) == 0 {
		t.Fatalf("error %v (%T) is not FieldErrors", err, err)
	}
	for _, e := range fe {
		if e.Field == "" || e.Message == "" {
			t.Fatalf("field error without field or message: %+v", e)
		}
	}
}

// BenchmarkScore measures one scoring of the worked example (facts already
// validated), the work the bureau repeats for every applicant.
func BenchmarkScore(b *testing.B) {
	req, err := DecodeCalculatorRequest(strings.NewReader(exampleJSON(b)))
	if err != nil {
		b.Fatal(err)
	}
	facts, errs := req.Facts()
	if errs != nil {
		b.Fatal(errs)
	}
	book := mustBook(b, "2020")
	b.ReportAllocs()
	for b.Loop() {
		if res := book.Score(facts); res.Total != 13117 {
			b.Fatal(res.Total)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "scorings/s")
}

// BenchmarkCalculate measures the whole calculator path: decode the JSON,
// validate, score.
func BenchmarkCalculate(b *testing.B) {
	body := exampleJSON(b)
	b.ReportAllocs()
	for b.Loop() {
		req, err := DecodeCalculatorRequest(strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Calculate(req); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
}
