package app_test

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"jifen/internal/app/apptest"
	"jifen/internal/rules"
)

// TestDemoTellsTheStory: the demo as the README walks it. demo-city runs
// the round's cross-check; demo-applicant's first result is a real,
// eligible score with a filled score table and a matching police record;
// demo-district's queue holds exactly the one deliberate discrepancy, which
// it can resolve.
func TestDemoTellsTheStory(t *testing.T) {
	a := apptest.Start(t)
	ctx := context.Background()
	if err := a.StartAgencySim(ctx); err != nil {
		t.Fatal(err)
	}
	accts, err := a.SeedDemoSized(ctx, 120, 20)
	if err != nil {
		t.Fatal(err)
	}
	pw := map[string]string{}
	for _, d := range accts {
		pw[d.Login] = d.Password
	}
	// The demo applicant's application is filed, ready for the check.
	var appID int64
	var status string
	if err := a.DB.QueryRow(ctx, `SELECT x.id, x.status FROM applications x JOIN persons p ON p.id = x.person_id
		JOIN users u ON u.id = p.user_id WHERE u.login = 'demo-applicant'`).Scan(&appID, &status); err != nil {
		t.Fatal(err)
	}
	var identity string
	if err := a.DB.QueryRow(ctx, `SELECT identity_check FROM applications WHERE id = $1`, appID).Scan(&identity); err != nil {
		t.Fatal(err)
	}
	if status != "submitted" || identity != "match" {
		t.Fatalf("demo application is %s, identity check %q, before the check", status, identity)
	}
	// Seeding again (the next --demo start) keeps the data and changes
	// only the passwords.
	if accts, err = a.SeedDemoSized(ctx, 120, 20); err != nil {
		t.Fatal(err)
	}
	for _, d := range accts {
		pw[d.Login] = d.Password
	}

	city := a.Client(a.Office)
	a.LoginStaff(city, "demo-city", pw["demo-city"])
	var roundID int64
	if err := a.DB.QueryRow(ctx, `SELECT round_id FROM applications WHERE id = $1`, appID).Scan(&roundID); err != nil {
		t.Fatal(err)
	}
	r := city.PostForm("/office/check/runs", url.Values{"round": {strconv.FormatInt(roundID, 10)}})
	if r.Status != 303 {
		t.Fatalf("start the check: %d %s", r.Status, r.Body)
	}
	a.WorkJobs(90*time.Second, func() bool {
		runs, err := a.Check.Runs(ctx, roundID, 1)
		return err == nil && len(runs) == 1 && runs[0].Status == "applied"
	})

	var score int64
	var eligible bool
	if err := a.DB.QueryRow(ctx, `SELECT status, score, score_eligible FROM applications WHERE id = $1`, appID).
		Scan(&status, &score, &eligible); err != nil {
		t.Fatal(err)
	}
	if status != "first_result" || !eligible || score <= 0 {
		t.Fatalf("demo applicant after the check: %s, score %d, eligible %v", status, score, eligible)
	}
	ap := a.Client(a.Internet)
	if r := ap.LoginAPI("demo-applicant", pw["demo-applicant"]); r.Status != 200 {
		t.Fatalf("applicant login %d %s", r.Status, r.Body)
	}
	me := ap.Get("/me")
	shown := rules.Points(score).String()
	if me.Status != 200 || !strings.Contains(me.Body, "初核结果（积分告知）") || !strings.Contains(me.Body, shown) ||
		!strings.Contains(me.Body, "市公安局") || strings.Contains(me.Body, "无登记记录") {
		t.Errorf("applicant page (score %s): %d %s", shown, me.Status, me.Body)
	}

	// Exactly one open discrepancy in demo-district's district, and in the
	// whole city: the deliberate one, on the applicant's housing.
	rows, err := a.DB.Query(ctx, `SELECT application_id, item, district FROM discrepancies WHERE status = 'open'`)
	if err != nil {
		t.Fatal(err)
	}
	type disc struct {
		app            int64
		item, district string
	}
	var open []disc
	for rows.Next() {
		var d disc
		if err := rows.Scan(&d.app, &d.item, &d.district); err != nil {
			t.Fatal(err)
		}
		open = append(open, d)
	}
	_ = rows.Close()
	if len(open) != 1 || open[0].app != appID || open[0].item != rules.CodeHousing || open[0].district != "海淀区" {
		t.Fatalf("open discrepancies: %+v (demo application %d)", open, appID)
	}
	district := a.Client(a.Office)
	a.LoginStaff(district, "demo-district", pw["demo-district"])
	q := district.Get("/office/discrepancies")
	if q.Status != 200 || !strings.Contains(q.Body, "演示申请人") {
		t.Errorf("demo-district's queue: %d %s", q.Status, q.Body)
	}

	// demo-district resolves it as the README says: asks for material,
	// the applicant answers on 补充材料, the officer accepts the record.
	var discID int64
	if err := a.DB.QueryRow(ctx, `SELECT id FROM discrepancies WHERE application_id = $1`, appID).Scan(&discID); err != nil {
		t.Fatal(err)
	}
	path := "/office/discrepancies/" + strconv.FormatInt(discID, 10)
	tomorrow := a.Clock.Now().Add(48 * time.Hour).Format(time.DateOnly)
	if r := district.PostForm(path+"/request", url.Values{"note": {"请提供2012年1月至6月的租赁合同"}, "deadline": {tomorrow}}); r.Status != 303 {
		t.Fatalf("request material: %d %s", r.Status, r.Body)
	}
	if c := ap.Get("/me/corrections"); c.Status != 200 || !strings.Contains(c.Body, "租赁合同") {
		t.Fatalf("applicant's corrections: %d %s", c.Status, c.Body)
	}
	if r := ap.PostForm("/me/corrections/"+strconv.FormatInt(discID, 10), url.Values{"note": {"已于窗口提交租赁合同复印件"}}); r.Status != 303 {
		t.Fatalf("answer: %d %s", r.Status, r.Body)
	}
	if r := district.PostForm(path+"/accept", url.Values{"note": {"以登记记录为准"}, "confirmed": {"yes"}}); r.Status != 303 {
		t.Fatalf("accept: %d %s", r.Status, r.Body)
	}
	var st string
	if err := a.DB.QueryRow(ctx, `SELECT status FROM discrepancies WHERE id = $1`, discID).Scan(&st); err != nil || st != "accepted" {
		t.Fatalf("discrepancy after accept: %q %v", st, err)
	}
}
