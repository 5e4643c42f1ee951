package app_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/app/apptest"
	"jifen/internal/check"
	"jifen/internal/config"
	"jifen/internal/loadtest"
)

// TestLoadtestAgainstTheApp: jifen loadtest's prepare and a short run of
// the whole mix against the real application (both listeners, on this
// test's database engine): every operation is sent and answered as
// expected — the invalid ones with their 4xx — with no error.
//
// The population is cross-checked first, as in a round. The 复查 and
// discrepancy operations act on what the population has: enough requests are
// received and claimed at setup for the run's decisions, and the rest are
// received in the run, once each.
func TestLoadtestAgainstTheApp(t *testing.T) {
	a := apptest.Start(t)
	ctx := context.Background()
	rd := a.SynthRound(600, 40, 3, 0.1)
	// The round's cross-check against the simulated agencies, as the city
	// bureau starts it: its discrepancies are the run's to resolve.
	checker := a.CreateUser("checker", account.CityOfficer)
	if _, err := a.Check.StartRun(ctx, checker.ActorAt("local", ""), check.RunInput{RoundID: rd.ID}); err != nil {
		t.Fatal(err)
	}
	a.WorkJobs(60*time.Second, func() bool {
		runs, err := a.Check.Runs(ctx, rd.ID, 1)
		return err == nil && len(runs) == 1 && runs[0].Status == "applied"
	})
	st, err := loadtest.Prepare(ctx, a.DB, a.Accounts, rd.Year, 30, 1, "t", func() (string, error) { return apptest.Password, nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Staff) < 3 || len(st.Drafts) == 0 || len(st.Filed) == 0 || len(st.Operators) == 0 {
		t.Fatalf("state: %d staff, %d drafts, %d filed, %d operators", len(st.Staff), len(st.Drafts), len(st.Filed), len(st.Operators))
	}
	// The server's clock is fake: its TOTP codes are of that time, and the
	// time must move on between two codes of one account.
	a.Clock.Advance(time.Minute)
	r, err := loadtest.Run(ctx, loadtest.Config{Internet: a.Internet, Office: a.Office, Scale: 1, Duration: 3 * time.Second, State: st,
		Users: 30, Now: a.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	r.Markdown(&b)
	if r.Errors != 0 {
		t.Fatalf("%d errors:\n%s", r.Errors, b.String())
	}
	if r.Requests < 300 || r.P99MS <= 0 || len(r.Goals) != 3 {
		t.Errorf("report: %d requests, p99 %.1f ms, %d goals", r.Requests, r.P99MS, len(r.Goals))
	}
	seen := map[string]bool{}
	for _, o := range r.Ops {
		seen[o.Name] = true
		if o.Requests == 0 {
			t.Errorf("%s was never sent", o.Name)
		}
		if o.Kind == loadtest.Invalid && o.Codes["200"] > 0 {
			t.Errorf("%s answered 200: %v", o.Name, o.Codes)
		}
	}
	for _, name := range []string{"login", "applicant.save", "employer.file", "office.case", "office.statistics", "invalid.session",
		"office.review_receive", "office.review_decide", "office.discrepancy_accept"} {
		if !seen[name] {
			t.Errorf("%s is not in the mix", name)
		}
	}
	// The decisions and receipts happened, each once: as many 复查
	// decisions recorded as the run's were answered 200, and the requests
	// received are the run's receipts, its decisions and the one to spare
	// the setup receives.
	count := func(q string) int {
		var n int
		if err := a.DB.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	var decided, received, accepted int
	for _, o := range r.Ops {
		switch o.Name {
		case "office.discrepancy_accept":
			accepted = o.Codes["200"]
		case "office.review_decide":
			decided = o.Codes["200"]
		case "office.review_receive":
			received = o.Codes["200"]
		}
	}
	if n := count(`SELECT count(*) FROM review_decisions`); n != decided || n == 0 {
		t.Errorf("%d 复查 decisions recorded, %d answered", n, decided)
	}
	if n := count(`SELECT count(*) FROM review_requests WHERE status = 'received'`); n != received+decided+1 || received == 0 {
		t.Errorf("%d 复查 requests received, %d by the run and %d decided", n, received, decided)
	}
	if n := count(`SELECT count(*) FROM discrepancies WHERE status = 'accepted'`); n != accepted || n == 0 {
		t.Errorf("%d discrepancies accepted, %d answered", n, accepted)
	}
	if r.Left["objection.lodge"] == "" {
		t.Errorf("objection.lodge was not left out without a list in its notice period: %v", r.Left)
	}
	if !strings.Contains(b.String(), "| office.note") {
		t.Errorf("markdown:\n%s", b.String())
	}
}

// TestLoadtestObjections: with a list in its notice period, the mix's
// objection is lodged through the public form, each one stored; a run of
// some operations (--ops) sends only those.
func TestLoadtestObjections(t *testing.T) {
	// The servers believe the generator's X-Forwarded-For, as behind the
	// production proxies: each objection comes from its own client, under
	// the per-client limit.
	p := publishRound(t, func(c *config.Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} })
	p.publish(t, "")
	p.a.Clock.Advance(24 * time.Hour) // the first day of the notice period
	ctx := context.Background()
	st, err := loadtest.Prepare(ctx, p.a.DB, p.a.Accounts, p.rd.Year, 10, 1, "o", func() (string, error) { return apptest.Password, nil })
	if err != nil {
		t.Fatal(err)
	}
	p.a.Clock.Advance(time.Minute)
	r, err := loadtest.Run(ctx, loadtest.Config{Internet: p.a.Internet, Office: p.a.Office, Scale: 3, Duration: 2 * time.Second, State: st,
		Users: 10, Now: p.a.Clock.Now, Ops: []string{"objection.lodge", "office.queue"}})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	r.Markdown(&b)
	if r.Errors != 0 || len(r.Ops) != 2 || len(r.Left) != 0 {
		t.Fatalf("%d errors, %d operations, left out %v:\n%s", r.Errors, len(r.Ops), r.Left, b.String())
	}
	lodged := 0
	for _, o := range r.Ops {
		if o.Name == "objection.lodge" {
			lodged = o.Codes["303"]
		}
	}
	var n int
	if err := p.a.DB.QueryRow(ctx, `SELECT count(*) FROM objections WHERE year = $1`, p.rd.Year).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if lodged == 0 || n != lodged {
		t.Errorf("%d objections stored, %d answered 303", n, lodged)
	}
	if _, err := loadtest.Run(ctx, loadtest.Config{Internet: p.a.Internet, Office: p.a.Office, Scale: 1, Duration: time.Second, State: st,
		Ops: []string{"objection.nonsense"}}); err == nil || !strings.Contains(err.Error(), "objection.nonsense") {
		t.Errorf("an unknown operation: %v", err)
	}
}
