package app_test

import (
	"context"
	"strings"
	"testing"

	"jifen/internal/accessstats"
	"jifen/internal/account"
	"jifen/internal/app/apptest"
)

// TestAccessStats counts requests made on the real internet listener,
// flushes, and reads the aggregates through the office's API and pages.
func TestAccessStats(t *testing.T) {
	a := apptest.Start(t)
	c := a.Client(a.Internet)
	ua := func(s string) map[string]string { return map[string]string{"User-Agent": s} }
	c.Do("GET", "/", nil, ua("browser-1"))
	c.Do("GET", "/", nil, ua("browser-1")) // the same client: one visitor
	c.Do("GET", "/", nil, ua("browser-2")) // another user agent: a second
	if r := c.Do("GET", "/no/such/page", nil, ua("browser-1")); r.Status != 404 {
		t.Fatalf("404 expected, got %d", r.Status)
	}
	c.Do("GET", "/static/app.css", nil, ua("browser-1")) // not a page view
	// The office is not counted.
	a.Client(a.Office).Get("/office/")
	if err := a.AccessStats.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := a.AccessStats.Flush(context.Background()); err != nil { // nothing new: adds nothing
		t.Fatal(err)
	}
	a.CreateUser("city1", account.CityOfficer)
	o := a.Client(a.Office)
	a.LoginStaff(o, "city1", apptest.Password)
	r := o.Get("/api/v1/office/stats?by=hour")
	if r.Status != 200 {
		t.Fatalf("api: %d %s", r.Status, r.Body)
	}
	var full accessstats.Report
	r.JSON(&full)
	if full.Totals.Views != 4 || full.Totals.Visitors != 2 || full.Totals.Errors4xx != 1 || full.Totals.Errors5xx != 0 {
		t.Fatalf("totals %+v", full.Totals)
	}
	views := map[string]int64{}
	for _, p := range full.Pages {
		views[p.Page] = p.Views
	}
	if views["GET /{$}"] != 3 || views["unmatched"] != 1 || len(views) != 2 {
		t.Fatalf("pages %v", views)
	}
	if full.Totals.P95MS == 0 || full.Totals.P95MS > 1000 {
		t.Fatalf("p95 %d", full.Totals.P95MS)
	}
	page := o.Get("/office/stats")
	if page.Status != 200 || !strings.Contains(page.Body, "公示系统访问统计") || !strings.Contains(page.Body, "<svg") {
		t.Fatalf("page: %d", page.Status)
	}
	if csv := o.Get("/office/stats.csv?by=day"); csv.Status != 200 || !strings.Contains(csv.Body, "GET /{$}") {
		t.Fatalf("csv: %d %s", csv.Status, csv.Body)
	}
	if x := o.Get("/office/stats.xlsx"); x.Status != 200 || !strings.HasPrefix(x.Body, "PK") {
		t.Fatalf("xlsx: %d", x.Status)
	}
	if bad := o.Get("/api/v1/office/stats?by=week"); bad.Status != 400 || !strings.Contains(bad.Body, "by") {
		t.Fatalf("bad by: %d %s", bad.Status, bad.Body)
	}
	if bad := o.Get("/api/v1/office/stats?from=%ff"); bad.Status != 400 {
		t.Fatalf("bad from: %d %s", bad.Status, bad.Body)
	}
}
