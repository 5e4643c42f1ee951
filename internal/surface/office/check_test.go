package office_test

import (
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/app/apptest"
	"jifen/internal/rules"
)

var districtCell = regexp.MustCompile(`data-live-text="district\.([^.]+)\.total"`)

// liveAnswer is the JSON a watching page polls.
type liveAnswer struct {
	Finished bool              `json:"finished"`
	Status   string            `json:"status"`
	Fields   map[string]string `json:"fields"`
}

// TestRunProgressIsLive: the run page and the console carry the live
// marker and its progress URL while the run is under way; the URL answers
// the figures as JSON for the monitor only; once the run is finished the
// answer says so and the page is no longer marked for polling.
func TestRunProgressIsLive(t *testing.T) {
	a := apptest.Start(t)
	rd := a.SynthRound(30, 5, 7, 0.2)
	city := login(a, "city-live", account.CityOfficer)
	a.CreateUserIn("海淀区", "district-live", account.DistrictOfficer)
	district := a.Client(a.Office)
	a.LoginStaff(district, "district-live", apptest.Password)

	r := city.PostForm("/office/check/runs", url.Values{"round": {strconv.FormatInt(rd.ID, 10)}})
	if r.Status != 303 {
		t.Fatalf("start: %d", r.Status)
	}
	runURL := r.Header.Get("Location")
	progress := runURL + "/progress"

	get := func(c *apptest.Client) (int, liveAnswer) {
		t.Helper()
		r := c.Get(progress)
		var v liveAnswer
		if r.Status == 200 {
			if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
				t.Fatalf("content type %q", r.Header.Get("Content-Type"))
			}
			if err := json.Unmarshal([]byte(r.Body), &v); err != nil {
				t.Fatalf("progress: %v\n%s", err, r.Body)
			}
		}
		return r.Status, v
	}

	status, v := get(city)
	total := v.Fields["total"]
	if status != 200 || v.Finished || v.Status != "running" || v.Fields["status"] != "比对中" || v.Fields["total"] == "0" ||
		v.Fields["checked"] != "0" || v.Fields["pending"] != v.Fields["total"] || v.Fields["agency.tax.total"] == "" {
		t.Fatalf("progress while running: %d %+v", status, v)
	}
	page := city.Get(runURL)
	if page.Status != 200 || !strings.Contains(page.Body, `data-live="`+progress+`"`) || strings.Contains(page.Body, "data-live-done") ||
		!strings.Contains(page.Body, `<script src="/static/live.js"`) || !strings.Contains(page.Body, `data-live-text="checked"`) ||
		!strings.Contains(page.Body, ">刷新</a>") {
		t.Fatalf("run page while running: %d\n%s", page.Status, page.Body)
	}
	// Districts in the official order (丰台区 before 海淀区), not by code point.
	var seen []string
	for _, m := range districtCell.FindAllStringSubmatch(page.Body, -1) {
		seen = append(seen, m[1])
	}
	if len(seen) < 2 || !slices.IsSortedFunc(seen, rules.CompareDistricts) {
		t.Fatalf("districts of the run page: %v", seen)
	}
	console := city.Get("/office/check?round=" + strconv.FormatInt(rd.ID, 10))
	if !strings.Contains(console.Body, `data-live="`+progress+`"`) || strings.Contains(console.Body, "data-live-done") {
		t.Fatalf("console while running:\n%s", console.Body)
	}
	if js := city.Get("/static/live.js"); js.Status != 200 || !strings.Contains(js.Body, "data-live-text") {
		t.Fatalf("live.js: %d", js.Status)
	}

	if status, _ := get(district); status != 403 && status != 404 {
		t.Errorf("district officer read a run's progress: %d", status)
	}
	if status, _ := get(a.Client(a.Office)); status == 200 {
		t.Error("a visitor read a run's progress")
	}
	if r := city.Get("/office/check/runs/999999/progress"); r.Status != 404 {
		t.Errorf("unknown run: %d", r.Status)
	}

	a.WorkJobs(60*time.Second, func() bool {
		_, v := get(city)
		return v.Finished
	})
	status, v = get(city)
	if status != 200 || !v.Finished || v.Status != "applied" || v.Fields["checked"] != total || v.Fields["pending"] != "0" {
		t.Fatalf("progress when applied: %d %+v", status, v)
	}
	page = city.Get(runURL)
	if !strings.Contains(page.Body, "data-live-done") || strings.Contains(page.Body, ">刷新</a>") {
		t.Fatalf("finished run page still polls:\n%s", page.Body)
	}

	// A re-run is a preview; applying it cannot be undone, so the first
	// POST shows what would change and applies nothing.
	r = city.PostForm("/office/check/runs", url.Values{"round": {strconv.FormatInt(rd.ID, 10)}, "kind": {"rerun"}, "reason": {"税务局更正数据"}})
	if r.Status != 303 {
		t.Fatalf("re-run: %d %s", r.Status, r.Body)
	}
	rerun := r.Header.Get("Location")
	a.WorkJobs(60*time.Second, func() bool {
		v := liveAnswer{}
		_ = json.Unmarshal([]byte(city.Get(rerun+"/progress").Body), &v)
		return v.Finished
	})
	r = city.PostForm(rerun+"/apply", nil)
	if r.Status != 200 || !strings.Contains(r.Body, "确认应用比对任务") || !strings.Contains(r.Body, "件申请的分数会变化") ||
		!strings.Contains(r.Body, `name="confirmed" value="yes"`) || !strings.Contains(r.Body, `action="`+rerun+`/apply"`) {
		t.Fatalf("apply unconfirmed: %d\n%s", r.Status, r.Body)
	}
	if _, v := getURL(t, city, rerun+"/progress"); v.Status != "ready" {
		t.Fatalf("applied without confirmation: %s", v.Status)
	}
	if r := city.PostForm(rerun+"/apply", url.Values{"confirmed": {"yes"}}); r.Status != 303 {
		t.Fatalf("apply: %d", r.Status)
	}
	if _, v := getURL(t, city, rerun+"/progress"); v.Status != "applying" && v.Status != "applied" {
		t.Fatalf("after apply: %s", v.Status)
	}
}

func getURL(t *testing.T, c *apptest.Client, u string) (int, liveAnswer) {
	t.Helper()
	r := c.Get(u)
	var v liveAnswer
	if r.Status == 200 {
		if err := json.Unmarshal([]byte(r.Body), &v); err != nil {
			t.Fatal(err)
		}
	}
	return r.Status, v
}
