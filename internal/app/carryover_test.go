package app_test

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/app/apptest"
	"jifen/internal/platform/db"
	"jifen/internal/synth"
)

// TestCarryOverAction: a city officer starts the carry-over from the rounds
// page; the durable job carries every synthetic 2026 applicant whose
// application reached the bureau into 2027, and starting it again carries
// no one twice. A district officer may not start it.
func TestCarryOverAction(t *testing.T) {
	a := apptest.Start(t)
	ctx := context.Background()
	r26, err := a.EnsureRound(ctx, 2026, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Synth(ctx, r26, 120, 10, 5, 0.1, nil); err != nil {
		t.Fatal(err)
	}
	r27, err := a.EnsureRound(ctx, 2027, true)
	if err != nil {
		t.Fatal(err)
	}
	var want int
	if err := a.DB.QueryRow(ctx, `SELECT count(DISTINCT person_id) FROM applications WHERE round_id = $1
		AND status IN ('submitted', 'checking', 'first_result', 'review_requested', 'final', 'published')`, r26.ID).Scan(&want); err != nil {
		t.Fatal(err)
	}
	if want == 0 {
		t.Fatal("the synthetic round has no submitted applications")
	}
	a.CreateUser("city1", account.CityOfficer)
	a.CreateUserIn("海淀区", "district1", account.DistrictOfficer)
	city := a.Client(a.Office)
	a.LoginStaff(city, "city1", apptest.Password)
	district := a.Client(a.Office)
	a.LoginStaff(district, "district1", apptest.Password)
	path := "/office/rounds/" + strconv.FormatInt(r27.ID, 10) + "/carry-over"
	if r := district.PostForm(path, url.Values{}); r.Status != 403 && r.Status != 404 {
		t.Fatalf("district officer started the carry-over: %d", r.Status)
	}
	if r := city.PostForm("/office/rounds/999999/carry-over", url.Values{}); r.Status != 404 {
		t.Fatalf("unknown round: %d", r.Status)
	}
	carried := func() int {
		var n int
		if err := a.DB.QueryRow(ctx, `SELECT count(*) FROM application_carryovers WHERE round_id = $1`, r27.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for range 2 {
		r := city.PostForm(path, url.Values{})
		if r.Status != 303 || r.Header.Get("Location") != "/office/rounds" {
			t.Fatalf("start: %d %v", r.Status, r.Header)
		}
		a.WorkJobs(60*time.Second, func() bool {
			var live int
			_ = a.DB.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'application_carry_over' AND state <> 'completed'`).Scan(&live)
			return live == 0 && carried() == want
		})
	}
	if n := carried(); n != want {
		t.Fatalf("carried %d, want %d", n, want)
	}
	if page := city.Get("/office/rounds"); page.Status != 200 || !strings.Contains(page.Body, "从上一年度带入申请") {
		t.Fatalf("rounds page: %d", page.Status)
	}

	// A carried applicant whose employer confirms them again for 2027
	// opens the draft, sees the marks, confirms one, and cannot submit
	// while others remain.
	var login string
	var personID, employerID int64
	if err := a.DB.QueryRow(ctx, `SELECT u.login, p.id, x.employer_id FROM application_carryovers c JOIN persons p ON p.id = c.person_id
		JOIN users u ON u.id = p.user_id JOIN applications x ON x.id = c.from_application_id
		WHERE c.round_id = $1 ORDER BY c.id LIMIT 1`, r27.ID).Scan(&login, &personID, &employerID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.DB.Exec(ctx, `INSERT INTO employer_links (round_id, person_id, employer_id, status, created_at, decided_at)
		VALUES ($1, $2, $3, 'confirmed', $4, $4)`, r27.ID, personID, employerID, db.Micros(a.Clock.Now())); err != nil {
		t.Fatal(err)
	}
	ap := a.Client(a.Internet)
	if r := ap.LoginAPI(login, synth.Password); r.Status != 200 {
		t.Fatalf("applicant login %d %s", r.Status, r.Body)
	}
	if r := ap.PostForm("/me/application", url.Values{}); r.Status != 303 {
		t.Fatalf("open: %d %s", r.Status, r.Body)
	}
	page := ap.Get("/me/application/submit")
	if page.Status != 200 || !strings.Contains(page.Body, "从往年申请带入的内容") || !strings.Contains(page.Body, "来自2026年申请") ||
		!strings.Contains(page.Body, `name="item" value="employment"`) {
		t.Fatalf("submit page: %d %s", page.Status, page.Body)
	}
	sec := ap.Get("/me/application/insurance")
	if sec.Status != 200 || !strings.Contains(sec.Body, "来自2026年申请") || !strings.Contains(sec.Body, `name="item" value="employment"`) {
		t.Fatalf("insurance page: %d %s", sec.Status, sec.Body)
	}
	if r := ap.PostForm("/me/application/carried", url.Values{"item": {"employment"}, "back": {"insurance"}}); r.Status != 303 ||
		r.Header.Get("Location") != "/me/application/insurance" {
		t.Fatalf("confirm: %d %v", r.Status, r.Header)
	}
	if sec := ap.Get("/me/application/insurance"); strings.Contains(sec.Body, `name="item" value="employment"`) {
		t.Fatal("the confirmed item is still marked on its page")
	}
	page = ap.Get("/me/application/submit")
	if strings.Contains(page.Body, `name="item" value="employment"`) {
		t.Fatal("the confirmed item is still marked")
	}
	r := ap.PostForm("/me/application/submit", url.Values{"confirmed": {"yes"}, "truthful": {"true"}})
	if r.Status == 303 || !strings.Contains(r.Body, "尚未确认") {
		t.Fatalf("submitted with unconfirmed items: %d %s", r.Status, r.Body)
	}
}
