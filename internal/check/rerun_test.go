package check

import (
	"encoding/json"
	"testing"
	"time"

	"jifen/internal/platform/crypto"
	"jifen/internal/rules"
)

func TestRerunShowsImpactThenApplies(t *testing.T) {
	e := newEnv(t, 300)
	r, err := e.eng.StartRun(e.ctx, officer, RunInput{RoundID: e.roundID})
	if err != nil {
		t.Fatal(err)
	}
	if r = e.work(e.eng, r.ID, 30*time.Second, "applied"); r.Status != "applied" {
		t.Fatalf("first run %s", r.Status)
	}
	// The tax office corrects its record of an applicant whose tax did not
	// match: it now holds what was declared.
	var app int64
	var decl string
	if err := e.db.QueryRow(e.ctx, `SELECT a.id, a.declaration FROM discrepancies d JOIN applications a ON a.id = d.application_id
		WHERE d.item = 'tax' AND d.status = 'open' ORDER BY a.id LIMIT 1`).Scan(&app, &decl); err != nil {
		t.Fatalf("no tax discrepancy to fix: %v", err)
	}
	var before int64
	if err := e.db.QueryRow(e.ctx, `SELECT score FROM applications WHERE id = $1`, app).Scan(&before); err != nil {
		t.Fatal(err)
	}
	var d rules.CalculatorRequest
	if err := json.Unmarshal([]byte(decl), &d); err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(map[string]any{"income_tax": d.IncomeTax, "offences": d.TaxOffences})
	var enc string
	if err := e.db.QueryRow(e.ctx, `SELECT p.id_enc FROM applications a JOIN persons p ON p.id = a.person_id WHERE a.id = $1`, app).Scan(&enc); err != nil {
		t.Fatal(err)
	}
	num, err := e.keys.DecryptString(enc, "id_number")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Exec(e.ctx, `UPDATE agency_records SET payload = $1 WHERE agency = 'tax' AND subject = $2`,
		string(payload), crypto.SM3Hex([]byte(num))); err != nil {
		t.Fatal(err)
	}

	// A re-run of the tax indicator for the whole round is a preview.
	re, err := e.eng.StartRun(e.ctx, officer, RunInput{RoundID: e.roundID, Item: rules.CodeTax, Reason: "税务局更正数据"})
	if err != nil {
		t.Fatal(err)
	}
	if re.Mode != "preview" || re.Scope != "indicator" {
		t.Fatalf("re-run %+v", re)
	}
	if n := e.count(`SELECT COUNT(DISTINCT agency) FROM check_queries WHERE run_id = $1`, re.ID); n != 1 {
		t.Errorf("the tax re-run asked %d agencies", n)
	}
	if re = e.work(e.eng, re.ID, 30*time.Second, "ready"); re.Status != "ready" {
		t.Fatalf("re-run %s", re.Status)
	}
	var still int64
	if err := e.db.QueryRow(e.ctx, `SELECT score FROM applications WHERE id = $1`, app).Scan(&still); err != nil {
		t.Fatal(err)
	}
	if still != before {
		t.Fatal("a preview changed a score before it was applied")
	}
	im, err := e.eng.Impact(e.ctx, re.ID)
	if err != nil {
		t.Fatal(err)
	}
	if im.Scored != re.Total || im.Changed != 1 || im.Up != 1 || im.Largest[0].ApplicationID != app || im.Largest[0].Before != before {
		t.Fatalf("impact %+v", im)
	}
	if err := e.eng.Apply(e.ctx, officer, re.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.Apply(e.ctx, officer, re.ID); err == nil {
		t.Error("a run applied twice")
	}
	if re = e.work(e.eng, re.ID, 30*time.Second, "applied"); re.Status != "applied" {
		logOpenJobs(e, re.ID)
		t.Fatalf("apply %s", re.Status)
	}
	var after int64
	var status string
	if err := e.db.QueryRow(e.ctx, `SELECT a.score, d.status FROM applications a JOIN discrepancies d ON d.application_id = a.id AND d.item = 'tax'
		WHERE a.id = $1`, app).Scan(&after, &status); err != nil {
		t.Fatal(err)
	}
	if after != before+im.Largest[0].Delta || status != "cleared" {
		t.Errorf("after apply: score %d (before %d, delta %d), discrepancy %s", after, before, im.Largest[0].Delta, status)
	}
	// The other indicators' findings are kept.
	res, err := e.eng.ResultOf(e.ctx, app)
	if err != nil || res == nil || len(res.Outcomes) != len(rules.CheckItems()) {
		t.Fatalf("result %+v %v", res, err)
	}

	// One application, and a discarded preview.
	one, err := e.eng.StartRun(e.ctx, officer, RunInput{RoundID: e.roundID, ApplicationID: app})
	if err != nil {
		t.Fatal(err)
	}
	if one.Total != 1 || one.Scope != "application" {
		t.Fatalf("one %+v", one)
	}
	if one = e.work(e.eng, one.ID, 30*time.Second, "ready"); one.Status != "ready" {
		t.Fatalf("one %s", one.Status)
	}
	if im, _ := e.eng.Impact(e.ctx, one.ID); im.Changed != 0 {
		t.Errorf("nothing changed, impact %+v", im)
	}
	if err := e.eng.Discard(e.ctx, officer, one.ID, "无变化"); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.Apply(e.ctx, officer, one.ID); err == nil {
		t.Error("a discarded run applied")
	}
	if _, err := e.eng.StartRun(e.ctx, officer, RunInput{RoundID: e.roundID, Rulebook: "1999"}); err == nil {
		t.Error("unknown rulebook accepted")
	}

	// Under another rulebook, the preview shows how the scores would move.
	old, err := e.eng.StartRun(e.ctx, officer, RunInput{RoundID: e.roundID, Rulebook: "2016", Reason: "对比2016版规则"})
	if err != nil {
		t.Fatal(err)
	}
	if old = e.work(e.eng, old.ID, 30*time.Second, "ready"); old.Status != "ready" || old.Rulebook != "2016" {
		t.Fatalf("2016 run %s %s", old.Status, old.Rulebook)
	}
	im, err = e.eng.Impact(e.ctx, old.ID)
	if err != nil {
		t.Fatal(err)
	}
	if im.Changed < im.Scored/2 {
		t.Errorf("under the 2016 rulebook only %d of %d scores change", im.Changed, im.Scored)
	}
	var n int64
	for _, b := range im.Buckets {
		n += b.N
	}
	if n != im.Changed || im.Up+im.Down != im.Changed {
		t.Errorf("impact buckets %+v do not add up to %d", im.Buckets, im.Changed)
	}
}
