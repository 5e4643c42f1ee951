package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"jifen/internal/app/apptest"
	"jifen/internal/loadtest"
)

// TestLoadtestAgainstTheApp: jifen loadtest's prepare and a short run of
// the whole mix against the real application (both listeners, on this
// test's database engine): every operation is sent and answered as
// expected — the invalid ones with their 4xx — with no error.
func TestLoadtestAgainstTheApp(t *testing.T) {
	a := apptest.Start(t)
	ctx := context.Background()
	rd, err := a.EnsureRound(ctx, 2026, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Synth(ctx, rd, 600, 40, 3, 0.1, nil); err != nil {
		t.Fatal(err)
	}
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
	for _, name := range []string{"login", "applicant.save", "employer.file", "office.case", "office.statistics", "invalid.session"} {
		if !seen[name] {
			t.Errorf("%s is not in the mix", name)
		}
	}
	if !strings.Contains(b.String(), "| office.note") {
		t.Errorf("markdown:\n%s", b.String())
	}
}
