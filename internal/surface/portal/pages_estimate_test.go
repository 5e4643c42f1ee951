package portal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"jifen/internal/app/apptest"
)

// estimateRe finds the estimate's figure as the applicant's pages print it.
var estimateRe = regexp.MustCompile(`积分估算：?(?:</dt><dd>)?<strong[^>]*>([0-9.]+) 分</strong>|估算合计 ([0-9.]+) 分`)

func estimateIn(t *testing.T, what, body string) string {
	t.Helper()
	m := estimateRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("%s: no estimate in\n%s", what, body)
	}
	if m[1] != "" {
		return m[1]
	}
	return m[2]
}

// Issue 11 item 5: the same draft shows one estimate on /me, on every
// section page and on the submit page, labelled 估算; the live estimate
// answers the unsaved page's figure with the same computation and saves
// nothing; saving the last section goes to 核对并提交.
func TestOneEstimateEverywhere(t *testing.T) {
	a := apptest.Start(t)
	ctx := context.Background()
	rd, err := a.EnsureRound(ctx, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	emp, e := registerEmployer(t, a)
	app, p1 := registerApplicant(t, a, "est1", "赵估算", e.RegCode)
	confirmLink(t, a, emp, e.ID, rd.ID, p1.ID)
	expectRedirect(t, "open", app.PostForm("/me/application", nil), "/me/application/eligibility")

	same := func(stage string) string {
		t.Helper()
		me := estimateIn(t, stage+" /me", app.Get("/me").Body)
		sec := app.Get("/me/application/housing")
		expect(t, stage+" section", sec, 200, `data-estimate="/me/application/housing/estimate"`, `data-unsaved-guard="section-form"`,
			`<script src="/static/live.js"`, "保存并继续")
		if got := estimateIn(t, stage+" section", sec.Body); got != me {
			t.Fatalf("%s: /me shows %s 分, the section page %s 分", stage, me, got)
		}
		if got := estimateIn(t, stage+" submit", app.Get("/me/application/submit").Body); got != me {
			t.Fatalf("%s: /me shows %s 分, the submit page %s 分", stage, me, got)
		}
		return me
	}
	before := same("opened")
	// The API (and the employer's list, from the same stored figure) says
	// the same of the new draft: not 0.
	var api struct {
		Estimate json.Number `json:"estimate"`
	}
	if r := app.Get("/api/v1/application"); r.Status != 200 || json.Unmarshal([]byte(r.Body), &api) != nil {
		t.Fatalf("api: %d %s", r.Status, r.Body)
	}
	if f, _ := api.Estimate.Float64(); fmt.Sprintf("%.2f", f) != before {
		t.Fatalf("the API says %s, the pages %s", api.Estimate, before)
	}

	form := url.Values{"version": {version(t, app, "insurance")}}
	for k, v := range insurance {
		form[k] = v
	}
	// The live estimate of the unsaved insurance page: the figure, not saved.
	r := app.PostForm("/me/application/insurance/estimate", form)
	var live struct {
		Fields map[string]string `json:"fields"`
	}
	if r.Status != 200 || json.Unmarshal([]byte(r.Body), &live) != nil || live.Fields["estimate"] == "" {
		t.Fatalf("live estimate: %d %s", r.Status, r.Body)
	}
	if got := same("after live estimate"); got != before {
		t.Fatalf("the live estimate saved something: %s → %s", before, got)
	}
	bad := app.PostForm("/me/application/insurance/estimate", url.Values{"social_insurance[0].from": {"2010-13"}})
	if bad.Status != 200 || json.Unmarshal([]byte(bad.Body), &live) != nil || live.Fields["estimate"] != "暂时无法估算" {
		t.Fatalf("live estimate of a bad month: %d %s", bad.Status, bad.Body)
	}
	if r := app.PostForm("/me/application/nothing/estimate", form); r.Status != 404 {
		t.Fatalf("unknown section: %d", r.Status)
	}

	expectRedirect(t, "save insurance", app.PostForm("/me/application/insurance", form), "/me/application/housing")
	after := same("saved")
	if after == before {
		t.Fatalf("saving insurance left the estimate at %s", after)
	}
	// The live estimate of the saved page is the saved figure.
	form.Set("version", version(t, app, "insurance"))
	r = app.PostForm("/me/application/insurance/estimate", form)
	if json.Unmarshal([]byte(r.Body), &live) != nil || live.Fields["estimate"] != after+" 分" {
		t.Fatalf("live estimate %q, saved %s", live.Fields["estimate"], after)
	}
	expectRedirect(t, "save the last section", app.PostForm("/me/application/honors",
		url.Values{"version": {version(t, app, "honors")}}), "/me/application/submit")
	// A visitor gets no estimate.
	if r := a.Client(a.Internet).PostForm("/me/application/insurance/estimate", form); r.Status == 200 {
		t.Fatal("a visitor got an estimate")
	}
}

// Issue 11 item 6: removing a file cannot be undone, so the first POST
// asks and removes nothing; someone else's file gets no confirmation page.
func TestRemovingAFileAsksFirst(t *testing.T) {
	a := apptest.Start(t)
	ctx := context.Background()
	rd, err := a.EnsureRound(ctx, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	emp, e := registerEmployer(t, a)
	app, p1 := registerApplicant(t, a, "rm1", "钱删除", e.RegCode)
	confirmLink(t, a, emp, e.ID, rd.ID, p1.ID)
	expectRedirect(t, "open", app.PostForm("/me/application", nil), "/me/application/eligibility")
	expectRedirect(t, "upload", upload(app, "housing", "housing", "房产证.pdf", "%PDF-1.7 real"), "/me/application/housing")
	m := regexp.MustCompile(`/me/application/attachments/(\d+)/remove`).FindStringSubmatch(app.Get("/me/application/housing").Body)
	if m == nil {
		t.Fatal("no remove form")
	}
	remove := m[0]
	expect(t, "remove unconfirmed", app.PostForm(remove, url.Values{"section": {"housing"}}), 200,
		"确认删除材料“房产证.pdf”？", "不能恢复", `name="section" value="housing"`, `name="confirmed" value="yes"`)
	expect(t, "still there", app.Get("/me/application/housing"), 200, "房产证.pdf")

	app2, p2 := registerApplicant(t, a, "rm2", "孙别人", e.RegCode)
	confirmLink(t, a, emp, e.ID, rd.ID, p2.ID)
	expectRedirect(t, "open 2", app2.PostForm("/me/application", nil), "/me/application/eligibility")
	expect(t, "someone else's file", app2.PostForm(remove, url.Values{"section": {"housing"}}), 404)

	expectRedirect(t, "remove", app.PostForm(remove, url.Values{"section": {"housing"}, "confirmed": {"yes"}}), "/me/application/housing")
	if strings.Contains(app.Get("/me/application/housing").Body, "房产证.pdf") {
		t.Fatal("the file is still there")
	}
}
