package check

import (
	"encoding/json"
	"slices"
	"strings"

	"jifen/internal/agency"
	"jifen/internal/rules"
)

// The outcomes of one check item.
const (
	Match       = "match"
	Mismatch    = "mismatch"
	NotFound    = "not_found"
	Unavailable = "unavailable"
)

// OutcomeNames are the outcomes in Chinese.
var OutcomeNames = map[string]string{Match: "一致", Mismatch: "不一致", NotFound: "无记录", Unavailable: "暂无法核验"}

// Outcome is the finding of one check item.
type Outcome struct {
	Item     string `json:"item"`
	Outcome  string `json:"outcome"`
	Declared string `json:"declared,omitempty"` // JSON of the declared part, when it differs
	Verified string `json:"verified,omitempty"` // JSON of the verified part, when it differs
}

// Facts are the records of one applicant, by agency. A missing agency was
// not asked (or could not answer).
type Facts map[string]Answer

// Employer is what the check knows of the applicant's employer.
type Employer struct {
	CreditCode string
	District   string
}

// Verify builds the facts as the agencies hold them from the declaration
// and the agencies' answers, and finds the outcome of each check item. An
// item whose agency did not answer keeps the declared value and is
// unavailable; it must not be scored as verified. items limits the items
// checked (nil: all); the others are copied from base (the previously
// verified facts) when base is given.
func Verify(decl rules.CalculatorRequest, facts Facts, emp Employer, items []string, base *rules.CalculatorRequest) (rules.CalculatorRequest, []Outcome) {
	if items == nil {
		items = rules.CheckItems()
	}
	v := decl
	if base != nil {
		v = *base
	}
	// Start the verified request as a deep copy, so the declaration is never
	// changed through shared slices.
	v = copyRequest(v)
	d := copyRequest(decl)
	normalise(&d)
	var out []Outcome
	for _, item := range items {
		ag := agency.ItemAgencies(item)
		o := Outcome{Item: item}
		missing, none := false, true
		for _, a := range ag {
			ans, ok := facts[a]
			if !ok {
				missing = true
				continue
			}
			if ans.Found {
				none = false
			}
		}
		if missing {
			o.Outcome = Unavailable
			rules.CopyPart(&v, &decl, item)
			out = append(out, o)
			continue
		}
		var got rules.CalculatorRequest
		got.ApplicationYear, got.Sex = decl.ApplicationYear, decl.Sex
		fill(&got, item, facts, decl, emp)
		rules.CopyPart(&v, &got, item)
		normalise(&v)
		switch {
		case rules.SamePart(&d, &v, item):
			o.Outcome = Match
		case none:
			// No agency holds a record of what was declared.
			o.Outcome = NotFound
		default:
			o.Outcome = Mismatch
		}
		if o.Outcome != Match {
			o.Declared, o.Verified = d.PartJSON(item), v.PartJSON(item)
		}
		out = append(out, o)
	}
	return v, out
}

// fill sets the fields of item in dst from the agencies' records.
func fill(dst *rules.CalculatorRequest, item string, f Facts, decl rules.CalculatorRequest, emp Employer) {
	switch item {
	case rules.CodeEligibility, rules.CodeAge, rules.CodeLawRecord:
		var ps struct {
			BirthDate       string `json:"birth_date"`
			ResidencePermit bool   `json:"residence_permit"`
			CriminalRecord  bool   `json:"criminal_record"`
			Detentions      int    `json:"detentions"`
		}
		decode(f[agency.PublicSecurity], &ps)
		var tx struct {
			Offences int `json:"offences"`
		}
		decode(f[agency.Tax], &tx)
		dst.BirthDate, dst.ResidencePermit, dst.CriminalRecord, dst.Detentions, dst.TaxOffences =
			ps.BirthDate, ps.ResidencePermit, ps.CriminalRecord, ps.Detentions, tx.Offences
	case rules.CodeEmployment, rules.CodeWorkResidenceArea:
		var si struct {
			Paid     []rules.PeriodInput `json:"paid"`
			BackPaid []rules.PeriodInput `json:"back_paid"`
			Employer string              `json:"employer_credit_code"`
		}
		decode(f[agency.SocialInsurance], &si)
		dst.SocialInsurance, dst.BackPaid = si.Paid, si.BackPaid
		// The workplace is the insured employer's: its periods stand as
		// declared when the insured employer is the applicant's, in the
		// employer's district; otherwise none is verified.
		if si.Employer != "" && si.Employer == emp.CreditCode {
			for _, w := range decl.Workplaces {
				w.District = emp.District
				dst.Workplaces = append(dst.Workplaces, w)
			}
		}
	case rules.CodeHousing:
		var re struct {
			Owned []rules.HousingInput `json:"owned"`
		}
		decode(f[agency.RealEstate], &re)
		var hc struct {
			Rentals []rules.HousingInput `json:"rentals"`
		}
		decode(f[agency.Housing], &hc)
		for _, h := range re.Owned {
			h.Kind = "owned"
			dst.Housing = append(dst.Housing, h)
		}
		dst.Housing = append(dst.Housing, hc.Rentals...)
	case rules.CodeEducation, rules.CodeStudyDeduction:
		var ed struct {
			Level       string `json:"level"`
			Diploma     bool   `json:"diploma"`
			Degree      bool   `json:"degree"`
			StudyMonths int    `json:"study_months"`
		}
		decode(f[agency.Education], &ed)
		dst.Education = rules.EducationInput{Level: ed.Level, Diploma: ed.Diploma, Degree: ed.Degree}
		dst.StudyMonths = ed.StudyMonths
	case rules.CodeTax:
		var tx struct {
			IncomeTax map[string]rules.Decimal `json:"income_tax"`
		}
		decode(f[agency.Tax], &tx)
		dst.IncomeTax = tx.IncomeTax
	case rules.CodeInnovation:
		var sc struct {
			Innovation []rules.InnovationInput `json:"innovation"`
		}
		decode(f[agency.Science], &sc)
		dst.Innovation = sc.Innovation
	case rules.CodeHonors:
		var ho struct {
			Honors []string `json:"honors"`
		}
		decode(f[agency.Honors], &ho)
		dst.Honors = ho.Honors
	}
}

func decode(a Answer, v any) {
	if a.Found && len(a.Record) > 0 {
		_ = json.Unmarshal(a.Record, v)
	}
}

// normalise orders the lists whose order carries no meaning, so a
// declaration and a record that list the same homes agree.
func normalise(r *rules.CalculatorRequest) {
	slices.SortStableFunc(r.Housing, func(a, b rules.HousingInput) int {
		if c := strings.Compare(a.From, b.From); c != 0 {
			return c
		}
		return strings.Compare(a.Kind, b.Kind)
	})
	slices.SortStableFunc(r.SocialInsurance, func(a, b rules.PeriodInput) int { return strings.Compare(a.From, b.From) })
	slices.SortStableFunc(r.BackPaid, func(a, b rules.PeriodInput) int { return strings.Compare(a.From, b.From) })
	slices.Sort(r.Honors)
}

func copyRequest(r rules.CalculatorRequest) rules.CalculatorRequest {
	var out rules.CalculatorRequest
	b, _ := json.Marshal(r)
	_ = json.Unmarshal(b, &out)
	return out
}
