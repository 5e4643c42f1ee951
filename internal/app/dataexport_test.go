package app_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/app/apptest"
	"jifen/internal/casetest"
	"jifen/internal/platform/mail"
	"jifen/internal/synth"
)

// exportStatus reads the applicant's export status over the API.
func exportStatus(c *apptest.Client) (status string) {
	var e struct{ Status string }
	c.Get("/api/v1/me/data-export").JSON(&e)
	return e.Status
}

// exportSecondApplicant registers 李小红 with an application of her own (linked
// to the flow's employer) and one attachment.
func exportSecondApplicant(t *testing.T, a *apptest.App, emp *apptest.Client) (*apptest.Client, string) {
	t.Helper()
	var me struct {
		RegCode string `json:"reg_code"`
	}
	emp.Get("/api/v1/employer").JSON(&me)
	c := a.Client(a.Internet)
	id := casetest.IDNumber(false)
	if r := c.PostJSON("/api/v1/applicants", map[string]string{"id_number": id, "name": "李小红", "login": "app2",
		"phone": "13900139001", "email": "app2@example.cn", "password": apptest.Password, "privacy_version": account.PrivacyNoticeVersion}); r.Status != 201 {
		t.Fatalf("second applicant: %d %s", r.Status, r.Body)
	}
	c.LoginAPI("app2", apptest.Password)
	if r := c.PostJSON("/api/v1/links", map[string]string{"reg_code": me.RegCode}); r.Status != 201 {
		t.Fatalf("link: %d %s", r.Status, r.Body)
	}
	var links struct{ Links []struct{ ID int64 } }
	emp.Get("/api/v1/employer/links?status=pending").JSON(&links)
	for _, l := range links.Links {
		emp.PostJSON("/api/v1/employer/links/"+strconv.FormatInt(l.ID, 10)+"/confirm", nil)
	}
	if r := c.PostJSON("/api/v1/application", nil); r.Status != 200 {
		t.Fatalf("open: %d %s", r.Status, r.Body)
	}
	if r := uploadAPI(c, "李小红房产证.pdf", append(pdfOf(2000), []byte("LIXIAOHONG-SECRET")...)); r.Status != 201 {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	return c, id
}

// Issue 17, item 4: the whole file, complete for its person, holding
// nothing of another, valid against docs/data-export.schema.json; only for
// a fresh login of the person; gone after 7 days.
func TestWholeFileDownload(t *testing.T) {
	a := apptest.Start(t)
	emp, app, appID := flow(t, a)
	own := pdfOf(3000)
	if r := uploadAPI(app, "房产证.pdf", own); r.Status != 201 {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	other, otherID := exportSecondApplicant(t, a, emp)

	// Mail to each: the archive holds the applicant's own, its one-time
	// secret masked, and not the other's.
	for _, m := range []mail.Message{
		{To: "app1@example.cn", Subject: "重置密码", Text: "您的一次性密码：Xy7-secret 链接 https://x/reset/ABCDEFGHIJKLMNOPQRSTUVWXYZ0123"},
		{To: "app2@example.cn", Subject: "李小红的通知", Text: "给李小红"},
	} {
		if _, err := a.Outbox.Enqueue(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	if r := app.Get("/api/v1/me/data-export"); r.Status != 404 {
		t.Fatalf("status before any request: %d %s", r.Status, r.Body)
	}
	if r := app.Get("/me"); !strings.Contains(r.Body, `href="/me/data"`) {
		t.Error("the applicant's page does not link the download")
	}
	if r := app.Get("/me/data"); r.Status != 200 || !strings.Contains(r.Body, "下载我的全部资料") || !strings.Contains(r.Body, "申请下载全部资料") {
		t.Fatalf("page before a request: %d %s", r.Status, r.Body)
	}
	// The form asks; the JSON API answers the same export.
	if r := app.Do("POST", "/me/data", nil, map[string]string{"Origin": app.Base, "Sec-Fetch-Site": "same-origin"}); r.Status != 303 {
		t.Fatalf("request by the page: %d %s", r.Status, r.Body)
	}
	if r := app.Get("/me/data"); !strings.Contains(r.Body, "准备中") || strings.Contains(r.Body, "申请下载全部资料</button>") {
		t.Fatalf("page while queued: %s", r.Body)
	}
	r := app.PostJSON("/api/v1/me/data-export", nil)
	if r.Status != 202 || !strings.Contains(r.Body, `"status":"queued"`) || !strings.Contains(r.Body, "准备中") {
		t.Fatalf("request: %d %s", r.Status, r.Body)
	}
	// A second request while one is prepared is the same one.
	var first, again struct{ ID int64 }
	r.JSON(&first)
	app.PostJSON("/api/v1/me/data-export", nil).JSON(&again)
	if again.ID != first.ID {
		t.Fatalf("second request made another export: %d, %d", first.ID, again.ID)
	}
	if r := app.Get("/api/v1/me/data-export/download"); r.Status != 409 {
		t.Fatalf("download before ready: %d %s", r.Status, r.Body)
	}
	start := time.Now()
	a.WorkJobs(20*time.Second, func() bool { return exportStatus(app) == "ready" })
	t.Logf("archive ready in %s", time.Since(start))
	if r := app.Get("/me/data"); r.Status != 200 || !strings.Contains(r.Body, "可下载") || !strings.Contains(r.Body, "/me/data/download") {
		t.Fatalf("page: %d %s", r.Status, r.Body)
	}

	// The other applicant has nothing to download; an employer may not ask.
	if r := other.Get("/api/v1/me/data-export/download"); r.Status != 404 {
		t.Fatalf("another applicant: %d %s", r.Status, r.Body)
	}
	if r := emp.Get("/api/v1/me/data-export/download"); r.Status != 403 {
		t.Fatalf("an employer: %d %s", r.Status, r.Body)
	}

	r = app.Get("/api/v1/me/data-export/download")
	if r.Status != 200 || r.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("download: %d %s", r.Status, r.Body)
	}
	files := unzip(t, []byte(r.Body))
	for _, name := range []string{"data.json", "summary.html"} {
		if _, ok := files[name]; !ok {
			t.Fatalf("archive lacks %s: %v", name, keys(files))
		}
	}
	var doc map[string]any
	if err := json.Unmarshal(files["data.json"], &doc); err != nil {
		t.Fatal(err)
	}
	validate(t, doc)
	data := string(files["data.json"])
	for _, want := range []string{`"login": "app1"`, `"name": "王小明"`, `"id": ` + strconv.FormatInt(appID, 10), `"filename": "房产证.pdf"`,
		`"to_status": "draft"`, "app1@example.cn", "13900139000"} {
		if !strings.Contains(data, want) {
			t.Errorf("data.json lacks %s", want)
		}
	}
	if msgs := doc["messages"].([]any); len(msgs) != 1 || !strings.Contains(data, "重置密码") || strings.Contains(data, "Xy7-secret") ||
		strings.Contains(data, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123") {
		t.Errorf("messages: %v", msgs)
	}
	apps := doc["applications"].([]any)
	atts := apps[0].(map[string]any)["attachments"].([]any)
	if len(apps) != 1 || len(atts) != 1 {
		t.Fatalf("applications %d, attachments %d", len(apps), len(atts))
	}
	path := atts[0].(map[string]any)["file"].(string)
	if !bytes.Equal(files[path], own) {
		t.Fatalf("attachment %s: %d bytes, want the uploaded %d", path, len(files[path]), len(own))
	}
	if !strings.Contains(string(files["summary.html"]), "王小明") || strings.Contains(string(files["summary.html"]), "http") {
		t.Fatal("summary.html is not a self-contained summary of the person")
	}
	for name, b := range files {
		for _, theirs := range []string{"李小红", otherID, "app2", "LIXIAOHONG-SECRET", "13900139001"} {
			if bytes.Contains(b, []byte(theirs)) {
				t.Errorf("%s holds the other applicant's %q", name, theirs)
			}
		}
	}
	var n int
	if err := a.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM audit_log WHERE action = 'person.data_export_download' AND outcome = 'success'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("downloads audited: %d %v", n, err)
	}

	// A login older than 15 minutes is refused (the session is still alive).
	a.Clock.Advance(16 * time.Minute)
	if r := app.Get("/api/v1/me/data-export/download"); r.Status != 403 || !strings.Contains(r.Body, "重新登录") {
		t.Fatalf("stale login: %d %s", r.Status, r.Body)
	}
	if r := app.Get("/me/data"); !strings.Contains(r.Body, "退出并重新登录") || strings.Contains(r.Body, `href="/me/data/download"`) {
		t.Fatalf("page with a stale login: %s", r.Body)
	}
	app.LoginAPI("app1", apptest.Password)
	if r := app.Get("/api/v1/me/data-export/download"); r.Status != 200 {
		t.Fatalf("after a new login: %d", r.Status)
	}

	// Eight days on: expired, and the purge removes the row and the file.
	a.Clock.Advance(8 * 24 * time.Hour)
	app.LoginAPI("app1", apptest.Password)
	if s := exportStatus(app); s != "expired" {
		t.Fatalf("after 8 days: %q", s)
	}
	if r := app.Get("/api/v1/me/data-export/download"); r.Status != 404 {
		t.Fatalf("expired download: %d", r.Status)
	}
	// The store's files carry the wall clock's time: age them as the fake
	// clock has (the purge spares files younger than an hour, which a
	// running job may have just stored).
	old := a.Clock.Now().Add(-2 * time.Hour)
	for _, p := range filesUnder(t, filepath.Join(a.Cfg.DataDir, "exports")) {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.RunSchedule(context.Background(), "data_export_purge"); err != nil {
		t.Fatal(err)
	}
	if r := app.Get("/api/v1/me/data-export"); r.Status != 404 {
		t.Fatalf("after the purge: %d %s", r.Status, r.Body)
	}
	if left := filesUnder(t, filepath.Join(a.Cfg.DataDir, "exports")); len(left) != 0 {
		t.Fatalf("archives left after the purge: %v", left)
	}
}

func unzip(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name], err = io.ReadAll(rc)
		_ = rc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// validate checks doc against docs/data-export.schema.json: the keywords
// the schema uses (type, required, properties, items, enum, const).
func validate(t *testing.T, doc any) {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	raw, err := os.ReadFile(filepath.Join(filepath.Dir(here), "..", "..", "docs", "data-export.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	for _, e := range schemaCheck(schema, doc, "$") {
		t.Error("data.json: " + e)
	}
}

func typeOf(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case float64:
		if x == float64(int64(x)) {
			return "integer"
		}
		return "number"
	}
	return "unknown"
}

func schemaCheck(s map[string]any, v any, at string) []string {
	var errs []string
	if ty, ok := s["type"]; ok {
		var allowed []string
		switch x := ty.(type) {
		case string:
			allowed = []string{x}
		case []any:
			for _, a := range x {
				allowed = append(allowed, a.(string))
			}
		}
		got, ok := typeOf(v), false
		for _, a := range allowed {
			ok = ok || a == got || (a == "number" && got == "integer")
		}
		if !ok {
			return []string{fmt.Sprintf("%s is %s, want %v", at, got, allowed)}
		}
	}
	if c, ok := s["const"]; ok && c != v {
		errs = append(errs, fmt.Sprintf("%s is %v, want %v", at, v, c))
	}
	if en, ok := s["enum"].([]any); ok {
		found := false
		for _, e := range en {
			found = found || e == v
		}
		if !found {
			errs = append(errs, fmt.Sprintf("%s = %v is not one of %v", at, v, en))
		}
	}
	if obj, ok := v.(map[string]any); ok {
		for _, r := range asList(s["required"]) {
			if _, ok := obj[r.(string)]; !ok {
				errs = append(errs, at+" lacks "+r.(string))
			}
		}
		props, _ := s["properties"].(map[string]any)
		for k, sub := range props {
			if x, ok := obj[k]; ok {
				errs = append(errs, schemaCheck(sub.(map[string]any), x, at+"."+k)...)
			}
		}
	}
	if arr, ok := v.([]any); ok {
		if items, ok := s["items"].(map[string]any); ok {
			for i, x := range arr {
				errs = append(errs, schemaCheck(items, x, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	}
	return errs
}

func asList(v any) []any { l, _ := v.([]any); return l }

// The whole file of a checked applicant in a synthetic population holds
// the agencies' verified facts, the score statement and the timeline, and
// none of the other applicants' logins or addresses.
func TestWholeFileOfACheckedApplicant(t *testing.T) {
	a := apptest.Start(t)
	ctx := context.Background()
	rd := a.SynthRound(40, 5, 7, 0.2)
	a.CreateUser("city1", account.CityOfficer)
	city := a.Client(a.Office)
	a.LoginStaff(city, "city1", apptest.Password)
	if r := city.PostForm("/office/check/runs", url.Values{"round": {strconv.FormatInt(rd.ID, 10)}}); r.Status != 303 {
		t.Fatalf("start: %d %s", r.Status, r.Body)
	}
	a.WorkJobs(60*time.Second, func() bool {
		runs, err := a.Check.Runs(ctx, rd.ID, 1)
		return err == nil && len(runs) == 1 && runs[0].Status == "applied"
	})
	var login string
	var personID int64
	if err := a.DB.QueryRow(ctx, `SELECT u.login, p.id FROM users u JOIN persons p ON p.user_id = u.id JOIN applications x ON x.person_id = p.id
		WHERE x.score_run <> 0 ORDER BY x.id LIMIT 1`).Scan(&login, &personID); err != nil {
		t.Fatal(err)
	}
	ap := a.Client(a.Internet)
	if r := ap.LoginAPI(login, synth.Password); r.Status != 200 {
		t.Fatalf("applicant login %d %s", r.Status, r.Body)
	}
	if r := ap.PostJSON("/api/v1/me/data-export", nil); r.Status != 202 {
		t.Fatalf("request: %d %s", r.Status, r.Body)
	}
	a.WorkJobs(20*time.Second, func() bool { return exportStatus(ap) == "ready" })
	r := ap.Get("/api/v1/me/data-export/download")
	if r.Status != 200 {
		t.Fatalf("download: %d %s", r.Status, r.Body)
	}
	files := unzip(t, []byte(r.Body))
	var doc map[string]any
	if err := json.Unmarshal(files["data.json"], &doc); err != nil {
		t.Fatal(err)
	}
	validate(t, doc)
	app0 := doc["applications"].([]any)[0].(map[string]any)
	if checks := app0["check_results"].([]any); len(checks) == 0 {
		t.Error("no check results in the archive")
	}
	if app0["statement"] == nil {
		t.Error("no score statement in the archive")
	}
	if tl := app0["timeline"].([]any); len(tl) == 0 {
		t.Error("no timeline in the archive")
	}
	rows, err := a.DB.Query(ctx, `SELECT u.login, u.email FROM users u JOIN persons p ON p.user_id = u.id WHERE p.id <> $1`, personID)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	others := 0
	for rows.Next() {
		var l, e string
		if err := rows.Scan(&l, &e); err != nil {
			t.Fatal(err)
		}
		others++
		for name, b := range files {
			if bytes.Contains(b, []byte(`"`+l+`"`)) || bytes.Contains(b, []byte(">"+l+"<")) || (e != "" && bytes.Contains(b, []byte(e))) {
				t.Errorf("%s holds another applicant's login or address (%s)", name, l)
			}
		}
	}
	if err := rows.Err(); err != nil || others < 10 {
		t.Fatalf("other applicants: %d %v", others, err)
	}
}
