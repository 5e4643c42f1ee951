package accessstats

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"jifen/internal/actor"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db/dbtest"
	"jifen/internal/platform/web"
)

var monitor = actor.Actor{UserID: 1, Roles: []actor.Role{actor.CityOfficer}}

// serve runs one request through WithRequest and the middleware, as the
// internet listener does.
func serve(s *Stats, pattern, path, ua string, h http.HandlerFunc) {
	mux := web.NewMux()
	mux.HandleFunc(pattern, h)
	hd := web.Chain(mux, web.WithRequest(web.NewClientIPs(nil)), s.Middleware)
	r := httptest.NewRequest("GET", path, nil)
	r.RemoteAddr = "192.0.2.7:4000"
	r.Header.Set("User-Agent", ua)
	hd.ServeHTTP(httptest.NewRecorder(), r)
}

func ok(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }

func TestFlushAddsOnceAndTwoProcessesAddUp(t *testing.T) {
	d := dbtest.Open(t)
	fc := clock.NewFake(time.Date(2026, 3, 2, 1, 30, 0, 0, time.UTC))
	a, b := New(d, fc), New(d, fc)
	ctx := context.Background()
	serve(a, "GET /x", "/x", "ua", ok)
	serve(a, "GET /x", "/x", "ua", ok)
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// A second flush of the same minute with nothing new changes nothing.
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	serve(a, "GET /x", "/x", "ua", ok)
	serve(b, "GET /x", "/x", "ua", ok)
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := a.Read(ctx, monitor, fc.Now().Add(-time.Hour), fc.Now(), ByHour)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Totals.Views != 4 || len(rep.Pages) != 1 || rep.Pages[0].Page != "GET /x" || rep.Pages[0].Views != 4 {
		t.Fatalf("views: %+v pages %+v", rep.Totals, rep.Pages)
	}
	// Each process has its own salt: the same client is one visitor per
	// process (documented).
	if rep.Totals.Visitors != 2 {
		t.Fatalf("visitors = %d, want 2 (one per process)", rep.Totals.Visitors)
	}
}

func TestSearchesObjectionsErrorsAndLatency(t *testing.T) {
	d := dbtest.Open(t)
	fc := clock.NewFake(time.Date(2026, 3, 2, 1, 30, 0, 0, time.UTC))
	s := New(d, fc)
	serve(s, "GET /q", "/q", "ua", func(w http.ResponseWriter, r *http.Request) { Search(r.Context(), true) })
	serve(s, "GET /q", "/q", "ua", func(w http.ResponseWriter, r *http.Request) { Search(r.Context(), false) })
	serve(s, "POST /o", "/o", "ua", ok) // wrong method: 405 from the mux
	serve(s, "GET /o", "/o", "ua", func(w http.ResponseWriter, r *http.Request) {
		Count(r.Context(), Objection)
		Count(r.Context(), "unknown")
	})
	serve(s, "GET /e", "/e", "ua", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	serve(s, "GET /slow", "/slow", "ua", func(w http.ResponseWriter, r *http.Request) { time.Sleep(30 * time.Millisecond) })
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Read(context.Background(), monitor, fc.Now(), fc.Now(), ByDay)
	if err != nil {
		t.Fatal(err)
	}
	tt := rep.Totals
	if tt.Views != 6 || tt.Searches != 2 || tt.SearchesFound != 1 || tt.FoundShare != 0.5 || tt.Objections != 1 ||
		tt.Errors4xx != 1 || tt.Errors5xx != 1 || tt.Visitors != 1 {
		t.Fatalf("totals %+v", tt)
	}
	lat := tt.Latency()
	if lat[3] != 1 { // the 30 ms request is in the ≤50 ms bucket
		t.Fatalf("histogram %v", lat)
	}
	if len(rep.Buckets) != 1 || rep.Buckets[0].Views != 6 {
		t.Fatalf("buckets %+v", rep.Buckets)
	}
}

func TestVisitorsPerHourAndDayAndTheDailySalt(t *testing.T) {
	d := dbtest.Open(t)
	fc := clock.NewFake(time.Date(2026, 3, 2, 1, 30, 0, 0, time.UTC))
	s := New(d, fc)
	serve(s, "GET /x", "/x", "ua1", ok)
	serve(s, "GET /x", "/x", "ua1", ok) // same client: one visitor
	serve(s, "GET /x", "/x", "ua2", ok) // another user agent: a second one
	salt1 := s.salt
	fc.Advance(time.Hour)
	serve(s, "GET /x", "/x", "ua1", ok) // again in the next hour: counted for the hour, not the day
	fc.Advance(24 * time.Hour)
	serve(s, "GET /x", "/x", "ua1", ok) // the next day: a new salt
	if string(salt1) == string(s.salt) {
		t.Fatal("the salt did not change with the day")
	}
	if Hash(salt1, "192.0.2.7", "ua1") == Hash(s.salt, "192.0.2.7", "ua1") {
		t.Fatal("the same client hashes the same under two days' salts")
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	rep, err := s.Read(context.Background(), monitor, start, start.Add(3*time.Hour), ByHour)
	if err != nil {
		t.Fatal(err)
	}
	if v := rep.Buckets[1].Visitors; v != 2 {
		t.Fatalf("01:00 visitors = %d, want 2", v)
	}
	if v := rep.Buckets[2].Visitors; v != 1 {
		t.Fatalf("02:00 visitors = %d, want 1", v)
	}
	rep, err = s.Read(context.Background(), monitor, start, start.Add(48*time.Hour), ByDay)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Buckets) != 3 || rep.Buckets[0].Visitors != 2 || rep.Buckets[1].Visitors != 1 {
		t.Fatalf("days %+v", rep.Buckets)
	}
}

func TestReadNeedsMonitorAndValidRange(t *testing.T) {
	s := New(dbtest.Open(t), clock.NewFake(time.Now()))
	now := time.Now()
	if _, err := s.Read(context.Background(), actor.Actor{UserID: 2, Roles: []actor.Role{actor.DistrictOfficer}}, now, now, ByDay); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("district officer: %v", err)
	}
	for _, c := range []struct {
		from, to time.Time
		by       string
	}{{now, now, "week"}, {now, now.Add(-48 * time.Hour), ByDay}, {now.AddDate(-2, 0, 0), now, ByDay}, {now.AddDate(0, -2, 0), now, ByHour}} {
		if _, err := s.Read(context.Background(), monitor, c.from, c.to, c.by); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("%v: %v", c, err)
		}
	}
}

func TestQuantile(t *testing.T) {
	if Quantile(make([]int64, 8), .5) != 0 {
		t.Fatal("empty")
	}
	lat := []int64{50, 40, 0, 0, 0, 0, 0, 10}
	if q := Quantile(lat, .5); q != 5 {
		t.Fatalf("p50 %d", q)
	}
	if q := Quantile(lat, .95); q != 1000 {
		t.Fatalf("p95 %d", q)
	}
	if q := Quantile(lat, .9); q != 10 {
		t.Fatalf("p90 %d", q)
	}
}
