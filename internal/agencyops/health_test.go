package agencyops_test

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"jifen/internal/agencyops"
	"jifen/internal/platform/db"
)

// seedHealth configures every agency but housing_construction and writes a
// known call history (see the cases of TestHealth).
func seedHealth(t *testing.T, f *fixture) {
	t.Helper()
	ctx := context.Background()
	if err := f.svc.EnsureDefaults(ctx, "http://127.0.0.1:9300", "k"); err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := f.db.Exec(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(`DELETE FROM agency_connectors WHERE agency = 'housing_construction'`)
	exec(`UPDATE agency_connectors SET breaker = 'open', breaker_at = $1 WHERE agency = 'public_security'`, db.Micros(now.Add(-time.Minute)))
	exec(`UPDATE agency_connectors SET probe_ok = FALSE, probe_at = $1, last_error = 'dial tcp: connection refused', last_error_at = $1
		WHERE agency = 'honors'`, db.Micros(now.Add(-30*time.Second)))
	exec(`UPDATE agency_connectors SET enabled = FALSE, breaker = 'open' WHERE agency = 'market_regulation'`)

	var calls []call
	// tax: 100 calls in the last 5 minutes, i ms each; every tenth fails and
	// one is rate limited (11 failures).
	for i := 1; i <= 100; i++ {
		st := "ok"
		if i%10 == 0 {
			st = "error"
		} else if i == 5 {
			st = "rate_limited"
		}
		calls = append(calls, call{agency: "tax", status: st, at: now.Add(-time.Duration(i) * 2 * time.Second),
			latency: time.Duration(i) * time.Millisecond})
	}
	// tax: 100 calls of 1 s between 10 and 59 minutes ago, all ok.
	for i := range 100 {
		calls = append(calls, call{agency: "tax", status: "ok", at: now.Add(-10*time.Minute - time.Duration(i)*29*time.Second),
			latency: time.Second})
	}
	// tax: 50 timeouts of 10 s five hours ago, one error 25 hours ago (outside every window).
	for i := range 50 {
		calls = append(calls, call{agency: "tax", status: "timeout", at: now.Add(-5*time.Hour + time.Duration(i)*time.Second),
			latency: 10 * time.Second})
	}
	calls = append(calls, call{agency: "tax", status: "error", at: now.Add(-25 * time.Hour), latency: time.Millisecond})
	// science: slow but answering.
	for i := range 20 {
		calls = append(calls, call{agency: "science", status: "ok", at: now.Add(-time.Duration(i+1) * 10 * time.Second), latency: 3 * time.Second})
	}
	// public_security: the breaker refused 5 calls; 2 went through at 40 ms.
	for i := range 5 {
		calls = append(calls, call{agency: "public_security", status: "breaker_open", at: now.Add(-time.Duration(i+1) * time.Second)})
	}
	calls = append(calls, call{agency: "public_security", status: "ok", at: now.Add(-2 * time.Minute), latency: 40 * time.Millisecond},
		call{agency: "public_security", status: "ok", at: now.Add(-3 * time.Minute), latency: 40 * time.Millisecond})
	// education: every call of the last 5 minutes failed; it answered 10 minutes ago.
	for i := range 3 {
		calls = append(calls, call{agency: "education", status: "timeout", at: now.Add(-time.Duration(i+1) * time.Minute), latency: 10 * time.Second})
	}
	calls = append(calls, call{agency: "education", status: "ok", at: now.Add(-10 * time.Minute), latency: 30 * time.Millisecond})
	f.insert(t, calls...)
}

func TestHealth(t *testing.T) {
	f := newFixture(t)
	seedHealth(t, f)
	hs, err := f.svc.Health(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]agencyops.Health{}
	for _, h := range hs {
		by[h.Agency] = h
	}
	if len(hs) != 9 {
		t.Fatalf("%d agencies", len(hs))
	}
	ms := time.Millisecond
	type win struct {
		calls, failures int
		rate            float64
		p50, p95, p99   time.Duration
	}
	cases := []struct {
		agency      string
		up, slow    bool
		configured  bool
		w5, w1, w24 win
	}{
		{"tax", true, false, true, win{100, 11, 0.11, 50 * ms, 95 * ms, 99 * ms}, win{200, 11, 0.055, 100 * ms, time.Second, time.Second},
			win{250, 61, 61.0 / 250, 1000 * ms, 10 * time.Second, 10 * time.Second}},
		{"science", true, true, true, win{20, 0, 0, 3 * time.Second, 3 * time.Second, 3 * time.Second},
			win{20, 0, 0, 3 * time.Second, 3 * time.Second, 3 * time.Second}, win{20, 0, 0, 3 * time.Second, 3 * time.Second, 3 * time.Second}},
		{"public_security", false, false, true, win{7, 5, 5.0 / 7, 40 * ms, 40 * ms, 40 * ms}, win{7, 5, 5.0 / 7, 40 * ms, 40 * ms, 40 * ms},
			win{7, 5, 5.0 / 7, 40 * ms, 40 * ms, 40 * ms}},
		{"education", false, true, true, win{3, 3, 1, 10 * time.Second, 10 * time.Second, 10 * time.Second},
			win{4, 3, 0.75, 10 * time.Second, 10 * time.Second, 10 * time.Second}, win{4, 3, 0.75, 10 * time.Second, 10 * time.Second, 10 * time.Second}},
		{"honors", false, false, true, win{}, win{}, win{}},
		{"real_estate", true, false, true, win{}, win{}, win{}},
		{"market_regulation", false, false, true, win{}, win{}, win{}},
		{"housing_construction", false, false, false, win{}, win{}, win{}},
	}
	for _, tc := range cases {
		t.Run(tc.agency, func(t *testing.T) {
			h, ok := by[tc.agency]
			if !ok {
				t.Fatal("missing")
			}
			if h.Up != tc.up || h.Slow != tc.slow || h.Configured != tc.configured {
				t.Fatalf("up %v slow %v configured %v (reasons %v), want %v %v %v", h.Up, h.Slow, h.Configured, h.Reasons,
					tc.up, tc.slow, tc.configured)
			}
			if !h.Up && len(h.Reasons) == 0 {
				t.Fatal("down without a reason")
			}
			for i, want := range []win{tc.w5, tc.w1, tc.w24} {
				got := h.Windows[i]
				if got.Span != agencyops.Windows[i] || got.Calls != want.calls || got.Failures != want.failures ||
					math.Abs(got.ErrorRate-want.rate) > 1e-9 || got.P50 != want.p50 || got.P95 != want.p95 || got.P99 != want.p99 {
					t.Fatalf("window %v: got %+v, want %+v", agencyops.Windows[i], got, want)
				}
			}
		})
	}
	if by["honors"].LastError != "dial tcp: connection refused" {
		t.Fatalf("honors last error %q", by["honors"].LastError)
	}

	banner, err := f.svc.Banner(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, h := range banner {
		names = append(names, h.Agency)
	}
	// Disabled (market_regulation) and unconfigured (housing_construction) agencies are not news.
	if want := []string{"public_security", "education", "science", "honors"}; !slices.Equal(names, want) {
		t.Fatalf("banner %v, want %v", names, want)
	}
}

func TestBannerEmptyWhenHealthy(t *testing.T) {
	f := newFixture(t)
	if err := f.svc.EnsureDefaults(context.Background(), "http://127.0.0.1:9300", ""); err != nil {
		t.Fatal(err)
	}
	f.insert(t, call{agency: "tax", status: "ok", at: now.Add(-time.Minute), latency: time.Millisecond})
	b, err := f.svc.Banner(context.Background())
	if err != nil || len(b) != 0 {
		t.Fatalf("banner %v, %v", b, err)
	}
}

func TestSearchCalls(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var calls []call
	for i := range 30 {
		c := call{agency: "tax", status: "ok", at: now.Add(-time.Duration(30-i) * time.Minute), latency: time.Millisecond,
			run: int64(1 + i/10), appFrom: int64(i/10*100 + 1), appTo: int64(i/10*100 + 100), digest: "d"}
		if i%3 == 0 {
			c.agency, c.status, c.kind = "education", "timeout", "probe"
		}
		calls = append(calls, c)
	}
	f.insert(t, calls...)
	ids := func(cs []agencyops.Call) []int64 {
		var out []int64
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	all, err := f.svc.SearchCalls(ctx, agencyops.CallFilter{})
	if err != nil || len(all) != 30 || all[0].ID != 30 || all[29].ID != 1 {
		t.Fatalf("all: %v %v", ids(all), err)
	}
	cases := []struct {
		name string
		f    agencyops.CallFilter
		want int
	}{
		{"agency", agencyops.CallFilter{Agency: "education"}, 10},
		{"kind", agencyops.CallFilter{Kind: "query"}, 20},
		{"status", agencyops.CallFilter{Status: "timeout"}, 10},
		{"app in second batch", agencyops.CallFilter{AppID: 150}, 10},
		{"app at batch edge", agencyops.CallFilter{AppID: 200}, 10},
		{"app outside", agencyops.CallFilter{AppID: 301}, 0},
		{"run", agencyops.CallFilter{RunID: 3}, 10},
		{"time", agencyops.CallFilter{From: now.Add(-10 * time.Minute), To: now.Add(-5 * time.Minute)}, 5},
		{"combined", agencyops.CallFilter{Agency: "tax", RunID: 1, AppID: 1}, 6},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.svc.SearchCalls(ctx, tc.f)
			if err != nil || len(got) != tc.want {
				t.Fatalf("got %d calls (%v), want %d", len(got), err, tc.want)
			}
		})
	}
	// Keyset paging: pages of 12, 12, 6 cover every call once, newest first.
	var seen []int64
	f0 := agencyops.CallFilter{Limit: 12}
	for {
		page, err := f.svc.SearchCalls(ctx, f0)
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, ids(page)...)
		if len(page) < f0.Limit {
			break
		}
		f0.BeforeAt, f0.BeforeID = page[len(page)-1].At, page[len(page)-1].ID
	}
	if !slices.Equal(seen, ids(all)) {
		t.Fatalf("paged %v", seen)
	}
	for _, bad := range []agencyops.CallFilter{{Agency: "nope"}, {Kind: "x"}, {Status: "fine"}, {From: now, To: now}} {
		if _, err := f.svc.SearchCalls(ctx, bad); err == nil {
			t.Fatalf("filter %+v accepted", bad)
		}
	}
}

// Newest first is by the time of the call, then by id; the cursor pages
// through ties and through calls logged out of time order exactly once.
func TestSearchCallsOrderAndCursor(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	t0 := now.Add(-time.Hour)
	f.insert(t,
		call{agency: "tax", status: "ok", at: t0},                         // 1
		call{agency: "tax", status: "ok", at: t0},                         // 2
		call{agency: "tax", status: "ok", at: t0.Add(time.Minute)},        // 3
		call{agency: "tax", status: "ok", at: t0},                         // 4
		call{agency: "tax", status: "ok", at: t0.Add(-time.Minute)},       // 5: logged late
		call{agency: "tax", status: "error", at: t0.Add(2 * time.Minute)}, // 6
	)
	want := []int64{6, 3, 4, 2, 1, 5}
	for _, flt := range []agencyops.CallFilter{{}, {Agency: "tax"}} {
		var got []int64
		flt.Limit = 2
		for range 10 {
			page, err := f.svc.SearchCalls(ctx, flt)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range page {
				got = append(got, c.ID)
			}
			if len(page) < flt.Limit {
				break
			}
			flt.BeforeAt, flt.BeforeID = page[len(page)-1].At, page[len(page)-1].ID
		}
		if !slices.Equal(got, want) {
			t.Fatalf("filter %+v: order %v, want %v", flt, got, want)
		}
	}
	// A failure-only search (the plain scan and sort) keeps the same order.
	if got, err := f.svc.SearchCalls(ctx, agencyops.CallFilter{Status: "error"}); err != nil || len(got) != 1 || got[0].ID != 6 {
		t.Fatalf("errors: %+v, %v", got, err)
	}
}
