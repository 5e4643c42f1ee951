package browsertest

import (
	"context"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/app/apptest"
	"jifen/internal/round"
	"jifen/internal/synth"
)

// world is the application with a round, a small synthetic population that
// has been through the cross-check (so there are results, discrepancies and
// a run), and one logged-in HTTP client per role.
type world struct {
	a       *apptest.App
	round   *round.Round
	run     string // the check run's id
	review  int64  // a 复查 case received by 海淀区 (seedReview)
	clients map[string]*apptest.Client
}

func newWorld(t *testing.T) *world {
	t.Helper()
	a := apptest.Start(t)
	ctx := context.Background()
	if err := a.StartAgencySim(ctx); err != nil {
		t.Fatal(err)
	}
	rd, err := a.EnsureRound(ctx, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Synth(ctx, rd, 120, 12, 7, 0.3, nil); err != nil {
		t.Fatal(err)
	}
	w := &world{a: a, round: rd, clients: map[string]*apptest.Client{}}
	for _, s := range []struct {
		login, district string
		role            account.Role
	}{{"hd01", "海淀区", account.DistrictOfficer}, {"city01", "", account.CityOfficer}, {"liaison01", "", account.AgencyLiaison},
		{"sys01", "", account.SystemAdmin}, {"sec01", "", account.SecurityAdmin}, {"aud01", "", account.AuditAdmin}} {
		u := a.CreateUserIn(s.district, s.login, s.role)
		// A long name, as people have: the header must still fit.
		name := "欧阳" + s.login + "明"
		if s.login == "hd01" {
			name = "阿卜杜热合曼·买买提明·艾力"
		}
		if _, err := a.DB.Exec(ctx, `UPDATE users SET display_name = $1 WHERE id = $2`, name, u.ID); err != nil {
			t.Fatal(err)
		}
		c := a.Client(a.Office)
		a.LoginStaff(c, s.login, apptest.Password)
		w.clients[s.login] = c
	}
	// The round's cross-check, started in the office as an officer would.
	r := w.clients["city01"].PostForm("/office/check/runs", url.Values{"round": {strconv.FormatInt(rd.ID, 10)}})
	if r.Status != 303 {
		t.Fatalf("start check run: %d %s", r.Status, r.Body)
	}
	w.run = strings.TrimPrefix(r.Header.Get("Location"), "/office/check/runs/")
	a.WorkJobs(60*time.Second, func() bool {
		runs, err := a.Check.Runs(ctx, rd.ID, 1)
		return err == nil && len(runs) == 1 && runs[0].Status == "applied"
	})
	// An applicant with a result and a discrepancy in 海淀区, and the
	// operator of an employer with applications to file.
	var applicant, operator string
	if err := a.DB.QueryRow(ctx, `SELECT u.login FROM users u JOIN persons p ON p.user_id = u.id
		JOIN applications x ON x.person_id = p.id JOIN discrepancies d ON d.application_id = x.id
		ORDER BY x.id LIMIT 1`).Scan(&applicant); err != nil {
		t.Fatalf("an applicant with a discrepancy: %v", err)
	}
	if err := a.DB.QueryRow(ctx, `SELECT u.login FROM users u JOIN employer_operators o ON o.user_id = u.id
		JOIN applications x ON x.employer_id = o.employer_id
		GROUP BY u.login ORDER BY count(*) DESC, u.login LIMIT 1`).Scan(&operator); err != nil {
		t.Fatalf("an operator with applications: %v", err)
	}
	for _, login := range []string{applicant, operator} {
		c := a.Client(a.Internet)
		if r := c.LoginAPI(login, synth.Password); r.Status != 200 {
			t.Fatalf("login %s: %d %s", login, r.Status, r.Body)
		}
		w.clients[login] = c
	}
	w.clients["applicant"], w.clients["operator"] = w.clients[applicant], w.clients[operator]
	seedReview(t, w)
	return w
}

// TestBrowser starts the application and Chromium once and runs the page
// sweep and the journeys on them.
func TestBrowser(t *testing.T) {
	if os.Getenv("JIFEN_TEST_POSTGRES") != "" && os.Getenv("JIFEN_BROWSER_POSTGRES") == "" {
		// The pages are the same on both databases; the database code
		// under them is tested on both by the other packages. Set
		// JIFEN_BROWSER_POSTGRES=1 to run the suite on PostgreSQL too.
		t.Skip("browser suite runs on SQLite only")
	}
	b := newBrowser(t)
	w := newWorld(t)

	t.Run("EveryPageOfEveryRole", func(t *testing.T) {
		roles := []struct {
			name, start string
			c           *apptest.Client
		}{
			{"游客（互联网）", "/", w.a.Client(w.a.Internet)},
			{"游客（政务外网）", "/office/", w.a.Client(w.a.Office)},
			{"申请人", "/", w.clients["applicant"]},
			{"单位经办人", "/", w.clients["operator"]},
			{"区级经办人员", "/office/", w.clients["hd01"]},
			{"市级经办人员", "/office/", w.clients["city01"]},
			{"委办局联络员", "/office/", w.clients["liaison01"]},
			{"系统管理员", "/office/", w.clients["sys01"]},
			{"安全管理员", "/office/", w.clients["sec01"]},
			{"审计管理员", "/office/", w.clients["aud01"]},
		}
		for _, r := range roles {
			tb := b.tab(t, r.name)
			if _, err := url.Parse(r.c.Base); err == nil && len(r.c.HTTP.Jar.Cookies(mustURL(r.c.Base))) > 0 {
				tb.login(t, r.c)
			}
			visited := tb.walk(t, r.c, r.start, 40)
			t.Logf("%s: %d pages: %s", r.name, len(visited), strings.Join(visited, " "))
			if len(visited) < 2 && r.name != "游客（政务外网）" || len(visited) < 1 {
				t.Errorf("%s: the walk reached only %v", r.name, visited)
			}
		}
	})
	t.Run("ApplicantRegistersAndSubmits", func(t *testing.T) { applicantJourney(t, b, w) })
	t.Run("Calculator", func(t *testing.T) { calculatorJourney(t, b, w) })
	t.Run("EmployerFiles", func(t *testing.T) { employerJourney(t, b, w) })
	t.Run("OfficerResolvesDiscrepancy", func(t *testing.T) { officerJourney(t, b, w) })
	t.Run("ApplicantPrechecks", func(t *testing.T) { precheckJourney(t, b, w) })
	t.Run("ReviewPages", func(t *testing.T) { reviewPages(t, b, w) })
}

func mustURL(s string) *url.URL { u, _ := url.Parse(s); return u }
