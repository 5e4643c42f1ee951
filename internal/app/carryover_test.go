package app_test

import (
	"context"
	"net/url"
	"strconv"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/app/apptest"
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
	if page := city.Get("/office/rounds"); page.Status != 200 {
		t.Fatalf("rounds page: %d", page.Status)
	}
}
