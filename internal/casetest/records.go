package casetest

import (
	"context"
	"encoding/json"
	"fmt"

	"jifen/internal/platform/crypto"
	"jifen/internal/platform/db"
	"jifen/internal/rules"
)

// HoldOtherEducation makes the education office (agency_records, as
// agencysim serves them) hold a different education level for the applicant
// of application appID than was declared, with a degree, and returns the
// level it holds: a discrepancy the pre-check and the cross-check find.
func HoldOtherEducation(ctx context.Context, d *db.DB, keys *crypto.Keyring, appID int64) (rules.Option, error) {
	var enc, decl string
	if err := d.QueryRow(ctx, `SELECT p.id_enc, x.declaration FROM applications x JOIN persons p ON p.id = x.person_id
		WHERE x.id = $1`, appID).Scan(&enc, &decl); err != nil {
		return rules.Option{}, err
	}
	var r rules.CalculatorRequest
	if err := json.Unmarshal([]byte(decl), &r); err != nil {
		return rules.Option{}, err
	}
	levels := rules.Latest().Labels().EducationLevels
	held := levels[0]
	if held.Value == r.Education.Level {
		held = levels[1]
	}
	num, err := keys.DecryptString(enc, "id_number")
	if err != nil {
		return rules.Option{}, err
	}
	payload, _ := json.Marshal(map[string]any{"level": held.Value, "diploma": true, "degree": true, "study_months": r.StudyMonths})
	res, err := d.Exec(ctx, `UPDATE agency_records SET payload = $1 WHERE agency = 'education' AND subject = $2`,
		string(payload), crypto.SM3Hex([]byte(num)))
	if err != nil {
		return rules.Option{}, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return rules.Option{}, fmt.Errorf("application %d: the education office holds no record to change", appID)
	}
	return held, nil
}
