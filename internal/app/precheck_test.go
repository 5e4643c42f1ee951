package app_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"jifen/internal/app/apptest"
	"jifen/internal/casetest"
	"jifen/internal/config"
	"jifen/internal/rules"
	"jifen/internal/synth"
)

// TestPrecheckOnTheSummaryPage: an applicant with a draft asks the
// agencies (agencysim over HTTP) from the summary page, sees the education
// the agency holds next to the declared one and the estimate if accepted,
// takes the agency's value with one click, and is refused past the daily
// limit; the employer sees only the counts.
func TestPrecheckOnTheSummaryPage(t *testing.T) {
	a := apptest.Start(t, func(c *config.Config) { c.PrecheckPerDay = 2 })
	ctx := context.Background()
	a.SynthRound(40, 5, 7, 0)
	var appID, employerID int64
	var login string
	if err := a.DB.QueryRow(ctx, `SELECT x.id, x.employer_id, u.login FROM applications x
		JOIN persons p ON p.id = x.person_id JOIN users u ON u.id = p.user_id
		WHERE x.status = 'draft' ORDER BY x.id LIMIT 1`).Scan(&appID, &employerID, &login); err != nil {
		t.Fatal(err)
	}
	// The education office holds a different level than was declared.
	held, err := casetest.HoldOtherEducation(ctx, a.DB, a.Keys, appID)
	if err != nil {
		t.Fatal(err)
	}

	ap := a.Client(a.Internet)
	if r := ap.LoginAPI(login, synth.Password); r.Status != 200 {
		t.Fatalf("applicant login %d %s", r.Status, r.Body)
	}
	page := ap.Get("/me/application/submit")
	if page.Status != 200 || !strings.Contains(page.Body, "部门记录预核验") || !strings.Contains(page.Body, `name="consent"`) {
		t.Fatalf("summary page: %d", page.Status)
	}
	// Without the consent box ticked nothing is asked.
	if r := ap.PostForm("/me/application/precheck", url.Values{}); r.Status != 400 || !strings.Contains(r.Body, "请先阅读并勾选同意查询用途") {
		t.Fatalf("pre-check without consent: %d", r.Status)
	}
	r := ap.PostForm("/me/application/precheck", url.Values{"consent": {"yes"}})
	if r.Status != 303 || r.Header.Get("Location") != "/me/application/submit#precheck" {
		t.Fatalf("pre-check: %d %s", r.Status, r.Body)
	}
	var progress struct {
		Finished bool              `json:"finished"`
		Fields   map[string]string `json:"fields"`
	}
	ap.Get("/me/application/precheck/progress").JSON(&progress)
	if progress.Finished || !strings.Contains(progress.Fields["precheck-status"], "正在") {
		t.Errorf("progress before the worker: %+v", progress)
	}
	if page := ap.Get("/me/application/submit"); !strings.Contains(page.Body, `data-live="/me/application/precheck/progress"`) {
		t.Errorf("the page does not watch the pre-check")
	}
	a.WorkJobs(30*time.Second, func() bool {
		ap.Get("/me/application/precheck/progress").JSON(&progress)
		return progress.Finished
	})
	page = ap.Get("/me/application/submit")
	for _, want := range []string{"最近一次预核验", "不一致", "部门记录：" + held.Label, "采用部门记录", "如采用部门记录，预计积分为", "保留我的填报并上传证明材料"} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("result page lacks %q", want)
		}
	}
	// The employer sees that it was done and its counts, not the values.
	var empLogin string
	if err := a.DB.QueryRow(ctx, `SELECT u.login FROM users u JOIN employer_operators o ON o.user_id = u.id WHERE o.employer_id = $1
		ORDER BY u.id LIMIT 1`, employerID).Scan(&empLogin); err != nil {
		t.Fatal(err)
	}
	emp := a.Client(a.Internet)
	if r := emp.LoginAPI(empLogin, synth.Password); r.Status != 200 {
		t.Fatalf("employer login %d", r.Status)
	}
	ep := emp.Get("/employer/applications/" + strconv.FormatInt(appID, 10))
	if ep.Status != 200 || !strings.Contains(ep.Body, "进行部门记录预核验") || !strings.Contains(ep.Body, "不一致 1 项") ||
		strings.Contains(ep.Body, "部门记录："+held.Label) {
		t.Errorf("employer's page: %d", ep.Status)
	}

	// Take the agency's education with one click.
	var precheckID, version string
	if err := a.DB.QueryRow(ctx, `SELECT CAST(MAX(id) AS TEXT) FROM prechecks`).Scan(&precheckID); err != nil {
		t.Fatal(err)
	}
	if err := a.DB.QueryRow(ctx, `SELECT CAST(version AS TEXT) FROM applications WHERE id = $1`, appID).Scan(&version); err != nil {
		t.Fatal(err)
	}
	if r := ap.PostForm("/me/application/precheck/take", url.Values{"precheck": {"x"}, "item": {"education"}, "version": {version}}); r.Status != 400 {
		t.Errorf("take with a bad pre-check number: %d", r.Status)
	}
	r = ap.PostForm("/me/application/precheck/take", url.Values{"precheck": {precheckID}, "item": {"education"}, "version": {version}})
	if r.Status != 303 {
		t.Fatalf("take: %d %s", r.Status, r.Body)
	}
	var decl string
	if err := a.DB.QueryRow(ctx, `SELECT declaration FROM applications WHERE id = $1`, appID).Scan(&decl); err != nil {
		t.Fatal(err)
	}
	var d rules.CalculatorRequest
	if err := json.Unmarshal([]byte(decl), &d); err != nil || d.Education.Level != held.Value {
		t.Fatalf("education after taking: %+v %v", d.Education, err)
	}
	if page := ap.Get("/me/application/submit"); !strings.Contains(page.Body, "已与部门记录一致") {
		t.Errorf("the page does not show the item agreeing now")
	}

	// The second of the day, then the limit, with its message.
	if r := ap.PostForm("/me/application/precheck", url.Values{}); r.Status != 303 {
		t.Fatalf("second pre-check: %d %s", r.Status, r.Body)
	}
	a.WorkJobs(30*time.Second, func() bool {
		ap.Get("/me/application/precheck/progress").JSON(&progress)
		return progress.Finished
	})
	if r := ap.PostForm("/me/application/precheck", url.Values{}); r.Status != 429 || !strings.Contains(r.Body, "今天的预核验次数已用完") {
		t.Errorf("third pre-check: %d", r.Status)
	}
	// Withdrawing the consent: the box is asked for again.
	if r := ap.PostForm("/me/application/precheck/withdraw", url.Values{}); r.Status != 303 {
		t.Errorf("withdraw: %d", r.Status)
	}
	if page := ap.Get("/me/application/submit"); !strings.Contains(page.Body, `name="consent"`) {
		t.Errorf("after withdrawal the consent box is not shown")
	}

	// The whole file holds both pre-checks with what the agencies held.
	if r := ap.PostJSON("/api/v1/me/data-export", nil); r.Status != 202 {
		t.Fatalf("export request: %d %s", r.Status, r.Body)
	}
	a.WorkJobs(20*time.Second, func() bool { return exportStatus(ap) == "ready" })
	zr := ap.Get("/api/v1/me/data-export/download")
	if zr.Status != 200 {
		t.Fatalf("download: %d", zr.Status)
	}
	var doc map[string]any
	if err := json.Unmarshal(unzip(t, []byte(zr.Body))["data.json"], &doc); err != nil {
		t.Fatal(err)
	}
	validate(t, doc)
	pcs := asList(asList(doc["applications"])[0].(map[string]any)["prechecks"])
	if len(pcs) != 2 || !strings.Contains(string(must(json.Marshal(pcs[0]))), held.Value) {
		t.Errorf("prechecks in the archive: %v", pcs)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestPrecheckAPI: the same pre-check through the applicant's JSON API.
func TestPrecheckAPI(t *testing.T) {
	a := apptest.Start(t)
	ctx := context.Background()
	a.SynthRound(40, 5, 7, 0)
	var appID int64
	var login string
	if err := a.DB.QueryRow(ctx, `SELECT x.id, u.login FROM applications x JOIN persons p ON p.id = x.person_id
		JOIN users u ON u.id = p.user_id WHERE x.status = 'draft' ORDER BY x.id LIMIT 1`).Scan(&appID, &login); err != nil {
		t.Fatal(err)
	}
	held, err := casetest.HoldOtherEducation(ctx, a.DB, a.Keys, appID)
	if err != nil {
		t.Fatal(err)
	}
	ap := a.Client(a.Internet)
	if r := ap.LoginAPI(login, synth.Password); r.Status != 200 {
		t.Fatalf("login %d", r.Status)
	}
	type state struct {
		Consent *struct{ Purpose string } `json:"consent"`
		Used    int                       `json:"used_today"`
		Latest  *struct {
			ID     int64  `json:"id"`
			Status string `json:"status"`
			Items  []struct {
				Item     string          `json:"item"`
				Outcome  string          `json:"outcome"`
				Held     json.RawMessage `json:"held"`
				Takeable bool            `json:"takeable"`
				Agrees   bool            `json:"agrees"`
			} `json:"items"`
			Estimate *struct{ Now, Accepted string } `json:"estimate"`
		} `json:"latest"`
	}
	var st state
	ap.Get("/api/v1/application/precheck").JSON(&st)
	if st.Consent != nil || st.Latest != nil {
		t.Fatalf("fresh state: %+v", st)
	}
	if r := ap.PostJSON("/api/v1/application/precheck", map[string]bool{}); r.Status != 400 || !strings.Contains(r.Body, `"consent"`) {
		t.Fatalf("without consent: %d %s", r.Status, r.Body)
	}
	if r := ap.PostJSON("/api/v1/application/precheck", map[string]bool{"consent": true}); r.Status != 202 {
		t.Fatalf("request: %d %s", r.Status, r.Body)
	}
	a.WorkJobs(30*time.Second, func() bool {
		st = state{}
		ap.Get("/api/v1/application/precheck").JSON(&st)
		return st.Latest != nil && st.Latest.Status == "done"
	})
	if st.Consent == nil || !strings.Contains(st.Consent.Purpose, "预核验") && !strings.Contains(st.Consent.Purpose, "比对") || st.Used != 1 ||
		st.Latest.Estimate == nil {
		t.Fatalf("after: %+v", st)
	}
	var edu int
	for i, it := range st.Latest.Items {
		if it.Item == "education" {
			edu = i
		}
	}
	it := st.Latest.Items[edu]
	if it.Outcome != "mismatch" || !it.Takeable || it.Agrees || !strings.Contains(string(it.Held), held.Value) {
		t.Fatalf("education item: %+v", it)
	}
	var app struct {
		Version int `json:"version"`
	}
	ap.Get("/api/v1/application").JSON(&app)
	if r := ap.PostJSON("/api/v1/application/precheck/take", map[string]any{"precheck": st.Latest.ID, "item": "housing", "version": app.Version}); r.Status != 400 {
		t.Errorf("take a matching item: %d", r.Status)
	}
	if r := ap.PostJSON("/api/v1/application/precheck/take", map[string]any{"precheck": st.Latest.ID, "item": "education", "version": app.Version}); r.Status != 200 ||
		!strings.Contains(r.Body, held.Value) {
		t.Fatalf("take: %d %s", r.Status, r.Body)
	}
	ap.Get("/api/v1/application/precheck").JSON(&st)
	if !st.Latest.Items[edu].Agrees {
		t.Error("education does not agree after taking it")
	}
	if r := ap.Do("DELETE", "/api/v1/application/precheck/consent", nil, nil); r.Status != 204 {
		t.Errorf("withdraw: %d", r.Status)
	}
	st = state{}
	if ap.Get("/api/v1/application/precheck").JSON(&st); st.Consent != nil {
		t.Error("the consent stands after withdrawal")
	}
}
