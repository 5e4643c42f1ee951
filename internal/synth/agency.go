package synth

import (
	"context"
	"encoding/json"
	"time"

	"jifen/internal/platform/crypto"
	"jifen/internal/platform/db"
	"jifen/internal/rules"
)

// Agency codes of the records synth writes (docs/agencies.md describes what
// each holds and how it is queried).
const (
	AgencyPublicSecurity  = "public_security"      // 市公安局: identity, residence permit, records
	AgencySocialInsurance = "social_insurance"     // 市人力社保局/社保中心
	AgencyRealEstate      = "real_estate"          // 市规划自然资源委（不动产登记）
	AgencyHousing         = "housing_construction" // 市住房城乡建设委: rental registration
	AgencyEducation       = "education"            // 学信网 / 留学服务中心
	AgencyTax             = "tax"                  // 市税务局
	AgencyScience         = "science"              // 市科委 / 中关村管委会
	AgencyHonors          = "honors"               // 市总工会 / 市文明办
	AgencyMarket          = "market_regulation"    // 市市场监管局
)

// agencyRows are the agencies' records of one person: what each agency
// holds, from the truth (not the declaration).
func agencyRows(t truth, name, subject string, now int64) [][]any {
	q := t.req
	var rows [][]any
	add := func(agency string, v any) {
		b, _ := json.Marshal(v)
		rows = append(rows, []any{agency, subject, string(b), now})
	}
	add(AgencyPublicSecurity, map[string]any{"name": name, "birth_date": q.BirthDate, "sex": q.Sex,
		"residence_permit": q.ResidencePermit, "criminal_record": q.CriminalRecord, "detentions": q.Detentions})
	add(AgencySocialInsurance, map[string]any{"paid": q.SocialInsurance, "back_paid": q.BackPaid, "employer_credit_code": t.creditCode})
	var owned, rented []any
	for _, h := range q.Housing {
		if h.Kind == "owned" {
			owned = append(owned, map[string]string{"from": h.From, "to": h.To, "district": h.District})
		} else {
			rented = append(rented, h)
		}
	}
	if owned != nil {
		add(AgencyRealEstate, map[string]any{"owned": owned})
	}
	if rented != nil {
		add(AgencyHousing, map[string]any{"rentals": rented})
	}
	add(AgencyEducation, map[string]any{"level": q.Education.Level, "diploma": q.Education.Diploma, "degree": q.Education.Degree,
		"study_months": q.StudyMonths})
	add(AgencyTax, map[string]any{"income_tax": q.IncomeTax, "offences": q.TaxOffences})
	if len(q.Innovation) > 0 {
		add(AgencyScience, map[string]any{"innovation": q.Innovation})
	}
	if len(q.Honors) > 0 {
		add(AgencyHonors, map[string]any{"honors": q.Honors})
	}
	return rows
}

// WriteRecords writes the agencies' records of one person, as synth does
// for its population: what each agency holds about the person whose ID
// number is id, from the facts in req and the insured employer's credit
// code. The demo uses it to give its applicant consistent records.
func WriteRecords(ctx context.Context, d *db.DB, id, name string, req rules.CalculatorRequest, creditCode string, now time.Time) error {
	rows := agencyRows(truth{req: req, creditCode: creditCode}, name, crypto.SM3Hex([]byte(id)), db.Micros(now))
	return d.WithTx(ctx, func(ctx context.Context) error {
		b := newBulk(d, "agency_records", "agency", "subject", "payload", "updated_at")
		for _, r := range rows {
			if err := b.add(ctx, r...); err != nil {
				return err
			}
		}
		return b.flush(ctx)
	})
}
