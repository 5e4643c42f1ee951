// Package agency is the wire contract between jifen and the partner agencies
// (委办局) of docs/agencies.md: who the agencies are and which check items
// each verifies, the query and answer bodies, the signed request headers and
// the batch limit. The connector that calls the agencies, the operations
// pages and the simulator all speak it, so none of them owns it.
package agency

import (
	"slices"

	"jifen/internal/rules"
)

// The agency codes, as they appear in the URL of a query.
const (
	PublicSecurity  = "public_security"
	SocialInsurance = "social_insurance"
	RealEstate      = "real_estate"
	Housing         = "housing_construction"
	Education       = "education"
	Tax             = "tax"
	Science         = "science"
	Honors          = "honors"
	Market          = "market_regulation"
)

// Agency is one partner agency.
type Agency struct {
	Code  string
	Name  string   // the agency's Chinese name, as pages show it
	Items []string // the check items (rules codes) its records verify; none for the market regulator, asked about employers
}

// agencies in the order of docs/agencies.md, which is the order pages list
// them in.
var agencies = []Agency{
	{PublicSecurity, "市公安局", []string{rules.CodeEligibility, rules.CodeAge, rules.CodeLawRecord}},
	{SocialInsurance, "市人力社保局", []string{rules.CodeEmployment, rules.CodeWorkResidenceArea}},
	{RealEstate, "市规划自然资源委（不动产登记）", []string{rules.CodeHousing}},
	{Housing, "市住房城乡建设委", []string{rules.CodeHousing}},
	{Education, "学信网／留学服务中心", []string{rules.CodeEducation, rules.CodeStudyDeduction}},
	{Tax, "市税务局", []string{rules.CodeLawRecord, rules.CodeTax}},
	{Science, "市科委／中关村管委会", []string{rules.CodeInnovation}},
	{Honors, "市总工会／市文明办", []string{rules.CodeHonors}},
	{Market, "市市场监管局", nil},
}

// All returns every partner agency in the order of docs/agencies.md.
func All() []Agency {
	out := slices.Clone(agencies)
	for i := range out {
		out[i].Items = slices.Clone(out[i].Items)
	}
	return out
}

// Codes returns every agency code in the order of docs/agencies.md.
func Codes() []string {
	out := make([]string, len(agencies))
	for i, a := range agencies {
		out[i] = a.Code
	}
	return out
}

// PersonAgencies returns the agencies every application is checked against:
// all but the market regulator, which is asked about employers.
func PersonAgencies() []string {
	var out []string
	for _, a := range agencies {
		if len(a.Items) > 0 {
			out = append(out, a.Code)
		}
	}
	return out
}

// Known reports whether code is one of the partner agencies.
func Known(code string) bool { return Index(code) >= 0 }

// Index is the place of code in the order of docs/agencies.md, or -1 for an
// unknown code.
func Index(code string) int {
	return slices.IndexFunc(agencies, func(a Agency) bool { return a.Code == code })
}

// Name returns the Chinese name of an agency code, or the code itself when
// it is unknown.
func Name(code string) string {
	if i := Index(code); i >= 0 {
		return agencies[i].Name
	}
	return code
}

// ItemAgencies returns the agencies that verify a check item, in the order of
// docs/agencies.md; none for an item no agency verifies.
func ItemAgencies(item string) []string {
	var out []string
	for _, a := range agencies {
		if slices.Contains(a.Items, item) {
			out = append(out, a.Code)
		}
	}
	return out
}
