package portal_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"jifen/internal/app/apptest"
	"jifen/internal/platform/db"
)

// TestApplicantPagesQueryCount pins down the queries of the case pages:
// each reads the application once (issue 9 found /me reading it three times,
// for the page and again in the access checks of the timeline and of the
// attachments: 11 queries). A change that adds a query fails here and lists
// the statements; lower the number when a change removes one.
//
// Counted on the second request to a page: the session has been touched,
// and the settings and the current round are cached (the fake clock does not
// move). An applicant's page reads the session with its user, the roles, the
// person, the round and the application (5), then what it shows; the links to
// employers only on /me and before the application is opened.
func TestApplicantPagesQueryCount(t *testing.T) {
	a := apptest.Start(t)
	if _, err := a.EnsureRound(context.Background(), 0, true); err != nil {
		t.Fatal(err)
	}
	emp, e := registerEmployer(t, a)
	rd, err := a.Rounds.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	app, p := registerApplicant(t, a, "app1", "王小明", e.RegCode)
	confirmLink(t, a, emp, e.ID, rd.ID, p.ID)
	expectRedirect(t, "open", app.PostForm("/me/application", nil), "/me/application/eligibility")
	expectRedirect(t, "upload", upload(app, "housing", "housing", "房产证.pdf", "%PDF-1.7 real"), "/me/application/housing")

	h := a.InternetHandler()
	base, _ := url.Parse(a.Internet)
	a1, err := a.Cases.Applications.ForPerson(context.Background(), p.ID, rd.ID)
	if err != nil {
		t.Fatal(err)
	}
	serve := func(who *apptest.Client, path string) (int, *db.QueryCounter) {
		ctx, n := db.CountQueries(context.Background())
		req := httptest.NewRequest(http.MethodGet, path, nil).WithContext(ctx)
		for _, c := range who.HTTP.Jar.Cookies(base) {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, n
	}
	for _, tc := range []struct {
		who  *apptest.Client
		path string
		want int
	}{
		{app, "/me", 9},                     // + links, attachments, timeline, first-round statement
		{app, "/me/application/housing", 6}, // + attachments
		{app, "/me/application/submit", 7},  // + attachments, the pre-check
		{app, "/dashboard", 6},              // + open corrections
		// The employer's view: session, roles, employer, application, attachments, timeline, round.
		{emp, "/employer/applications/" + strconv.FormatInt(a1.ID, 10), 8}, // with the pre-check's counts
	} {
		serve(tc.who, tc.path) // warm
		code, n := serve(tc.who, tc.path)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d", tc.path, code)
		}
		if n.N() != tc.want {
			t.Errorf("GET %s ran %d queries, want %d:\n%s", tc.path, n.N(), tc.want, strings.Join(n.Statements(), "\n"))
		}
	}
}
