package browsertest

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"jifen/internal/app/apptest"
	"jifen/internal/casetest"
	"jifen/internal/synth"
)

// eval runs a script on the page and returns its value.
func eval[T any](t *testing.T, tb *tab, script string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](script))
	if err != nil {
		t.Fatalf("%s: %v (screenshot %s)", script, err, tb.screenshot(t, "eval"))
	}
	return v
}

// fill sets form controls by name as a person would: text is typed in,
// a radio or checkbox with that value is chosen, a select's option picked.
func (tb *tab) fill(t *testing.T, values map[string]string) {
	t.Helper()
	b, _ := json.Marshal(values)
	missing := eval[[]string](t, tb, `((vals) => {
	  const missing = [];
	  for (const [name, v] of Object.entries(vals)) {
	    const els = [...document.getElementsByName(name)];
	    if (!els.length) { missing.push(name); continue; }
	    const el = els[0];
	    if (el.type === "radio" || el.type === "checkbox") {
	      const c = els.find((e) => e.value === v);
	      if (!c) { missing.push(name + "=" + v); continue; }
	      c.checked = true;
	    } else {
	      el.value = v;
	      if (el.tagName === "SELECT" && el.value !== v) { missing.push(name + "=" + v); continue; }
	    }
	    el.dispatchEvent(new Event("input", {bubbles: true}));
	    el.dispatchEvent(new Event("change", {bubbles: true}));
	  }
	  return missing;
	})(`+string(b)+`)`)
	if len(missing) > 0 {
		t.Fatalf("%s: the page has no control %v (screenshot %s)", tb.name, missing, tb.screenshot(t, "fill"))
	}
}

// click presses the button or link whose text contains text (within
// selector) and, when it leads to another page, waits for that page.
func (tb *tab) click(t *testing.T, selector, text string, navigates bool) {
	t.Helper()
	found := eval[bool](t, tb, `((sel, text) => {
	  const el = [...document.querySelectorAll(sel)].find((e) => e.textContent.includes(text) && e.checkVisibility());
	  if (!el) return false;
	  window.__jifenBefore = true;
	  el.click();
	  return true;
	})(`+jsString(selector)+`, `+jsString(text)+`)`)
	if !found {
		t.Fatalf("%s: no %s %q on %s (screenshot %s)", tb.name, selector, text, tb.location(t), tb.screenshot(t, "click"))
	}
	if navigates {
		// The old page's marker is gone once the new page has loaded;
		// errors while the page changes are expected.
		deadline := time.Now().Add(15 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
			done, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__jifenBefore === undefined && document.readyState === "complete"`))
			cancel()
			if err == nil && done {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %q led to no page: %v (screenshot %s)", tb.name, text, err, tb.screenshot(t, "click"))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func jsString(s string) string { b, _ := json.Marshal(s); return string(b) }

func (tb *tab) location(t *testing.T) string { return eval[string](t, tb, `location.href`) }

// text is the visible text of the page's main part.
func (tb *tab) text(t *testing.T) string {
	return eval[string](t, tb, `document.querySelector("main").innerText`)
}

// expect fails unless the page's main text holds every want.
func (tb *tab) expect(t *testing.T, wants ...string) {
	t.Helper()
	txt := tb.text(t)
	for _, w := range wants {
		if !strings.Contains(txt, w) {
			t.Fatalf("%s: %s does not say %q (screenshot %s)\n%s", tb.name, tb.location(t), w, tb.screenshot(t, "expect"), clip(txt))
		}
	}
}

// phone lays the tab out as a 390×844 phone.
func (tb *tab) phone(t *testing.T) { tb.run(t, "phone", viewport(390, 844)) }

// calculatorJourney: on a phone, the empty calculator is short (one blank
// row per list); 增加一行 adds a row in the page; a filled form computes.
func calculatorJourney(t *testing.T, b *browser, w *world) {
	tb := b.tab(t, "积分自测")
	tb.phone(t)
	tb.load(t, w.a.Internet+"/calculator")
	h := eval[float64](t, tb, `document.documentElement.scrollHeight`)
	t.Logf("the empty calculator is %.0f px tall on a phone", h)
	if h > 6000 {
		t.Errorf("the empty calculator is %.0f px tall on a phone (screenshot %s)", h, tb.screenshot(t, "tall"))
	}
	if n := eval[int](t, tb, `document.querySelectorAll("#f-social_insurance > fieldset.calc-row").length`); n != 1 {
		t.Errorf("the calculator starts with %d social insurance rows, want 1", n)
	}
	tb.click(t, "#f-social_insurance button[name=add]", "增加一行", false)
	if n := eval[int](t, tb, `document.getElementsByName("social_insurance[1].from").length`); n != 1 {
		t.Fatalf("增加一行 did not add row 2 in the page (screenshot %s)", tb.screenshot(t, "add"))
	}
	tb.checkHere(t, "calculator-two-rows")
	tb.phone(t)
	tb.fill(t, map[string]string{"birth_date": "1985-05-01", "sex": eval[string](t, tb, `document.querySelector("input[name=sex]").value`),
		"residence_permit": "true", "criminal_record": "false",
		"social_insurance[0].from": "2010-01", "social_insurance[0].to": "2012-06",
		"social_insurance[1].from": "2012-07", "social_insurance[1].to": "2025-12"})
	tb.click(t, ".actions button[type=submit]", "计算积分", true)
	tb.expect(t, "估算")
	tb.checkHere(t, "calculator-result")
}

// employerJourney: an operator on a phone opens the applications waiting
// for the employer, looks at one and files it.
func employerJourney(t *testing.T, b *browser, w *world) {
	var login string
	if err := w.a.DB.QueryRow(context.Background(), `SELECT u.login FROM users u JOIN employer_operators o ON o.user_id = u.id
		JOIN applications x ON x.employer_id = o.employer_id WHERE x.status = 'with_employer'
		GROUP BY u.login ORDER BY count(*) DESC, u.login LIMIT 1`).Scan(&login); err != nil {
		t.Fatalf("an operator with applications to file: %v", err)
	}
	c := w.a.Client(w.a.Internet)
	if r := c.LoginAPI(login, synth.Password); r.Status != 200 {
		t.Fatalf("login %s: %d", login, r.Status)
	}
	tb := b.tab(t, "单位经办人（提交）")
	tb.login(t, c)
	tb.phone(t)
	tb.load(t, w.a.Internet+"/employer")
	tb.click(t, "a", "申请审核", true)
	tb.checkHere(t, "employer-apps")
	tb.phone(t)
	// The first application that can be filed: look at it, then file it.
	name := eval[string](t, tb, `(() => { const c = document.querySelector("input[type=checkbox][name=id]");
	  return c ? c.closest("tr").querySelector("a").textContent.trim() : ""; })()`)
	if name == "" {
		t.Fatalf("no application to file on %s (screenshot %s)", tb.location(t), tb.screenshot(t, "none"))
	}
	list := tb.location(t)
	tb.click(t, "td a", name, true)
	tb.checkHere(t, "employer-app")
	tb.phone(t)
	tb.load(t, list)
	tb.phone(t)
	tb.fill(t, map[string]string{"id": eval[string](t, tb, `document.querySelector("input[type=checkbox][name=id]").value`)})
	tb.click(t, "button[type=submit]", "确认提交所选申请", true)
	// A confirmation step, when the page asks for one.
	if strings.Contains(tb.text(t), "确认") && !strings.Contains(tb.text(t), "已提交") {
		if ok := eval[bool](t, tb, `!![...document.querySelectorAll("main form[method=post] button[type=submit]")].find((e) => e.textContent.includes("确认"))`); ok {
			tb.click(t, "main form[method=post] button[type=submit]", "确认", true)
		}
	}
	tb.expect(t, "成功 1 份", name+"：已确认提交")
	tb.checkHere(t, "employer-filed")
}

// officerJourney: a district officer on a phone opens an open discrepancy
// and resolves it by accepting the agency's record.
func officerJourney(t *testing.T, b *browser, w *world) {
	tb := b.tab(t, "区级经办人员（处理差异）")
	tb.login(t, w.clients["hd01"])
	tb.phone(t)
	tb.load(t, w.a.Office+"/office/")
	tb.click(t, "nav a", "比对差异", true)
	tb.checkHere(t, "discrepancies")
	tb.phone(t)
	id := eval[string](t, tb, `(() => { const a = document.querySelector("main td a[href^='/office/discrepancies/']"); return a ? a.textContent.trim() : ""; })()`)
	if id == "" {
		t.Fatalf("no discrepancy listed for 海淀区 (screenshot %s)", tb.screenshot(t, "none"))
	}
	tb.click(t, "main td a", id, true)
	tb.checkHere(t, "discrepancy")
	tb.phone(t)
	tb.click(t, "main form button[type=submit]", "确认以比对结果为准", true)
	// The confirmation step (ui.Confirm): the same form again with
	// confirmed=yes.
	if ok := eval[bool](t, tb, `!!document.querySelector("main form input[name=confirmed][value=yes]")`); ok {
		tb.click(t, "main form button[type=submit]", "确认", true)
	}
	tb.expect(t, "已确认以比对结果为准")
	tb.checkHere(t, "discrepancy-resolved")
}

// applicantJourney: on a phone, a person registers, signs in, asks to be
// linked to their employer (who confirms), fills in the required sections
// and submits the application to the employer.
func applicantJourney(t *testing.T, b *browser, w *world) {
	tb := b.tab(t, "申请人（注册到提交）")
	tb.phone(t)
	tb.load(t, w.a.Internet+"/register/applicant")
	tb.checkHere(t, "register")
	tb.phone(t)
	tb.fill(t, map[string]string{"id_number": casetest.IDNumber(false), "name": "林晓雨", "login": "linxiaoyu1",
		"phone": "13912345678", "email": "linxiaoyu1@example.cn", "password": apptest.Password})
	// Consent to the privacy notice and any other box the form asks to tick.
	// The password is typed twice.
	eval[bool](t, tb, `(() => { for (const c of document.querySelectorAll("main form input[type=checkbox][required], main form input[type=checkbox][name=privacy]")) c.checked = true;
	  for (const p of document.querySelectorAll("main form input[type=password]")) p.value = `+jsString(apptest.Password)+`; return true; })()`)
	tb.click(t, "main form button[type=submit]", "注册", true)
	if strings.Contains(tb.location(t), "/register/applicant") {
		t.Fatalf("registration refused: %s", clip(tb.text(t)))
	}
	tb.checkHere(t, "registered")
	tb.load(t, w.a.Internet+"/me")
	if strings.Contains(tb.location(t), "/login") {
		tb.phone(t)
		tb.fill(t, map[string]string{"login": "linxiaoyu1", "password": apptest.Password})
		tb.click(t, "main form button[type=submit]", "登录", true)
		if !strings.Contains(tb.location(t), "/me") {
			tb.load(t, w.a.Internet+"/me")
		}
	}
	tb.checkHere(t, "me-new")
	tb.phone(t)

	// Link to the employer by its registration code; the employer confirms.
	op := w.clients["operator"]
	var emp struct {
		RegCode string `json:"reg_code"`
	}
	op.Get("/api/v1/employer").JSON(&emp)
	tb.fill(t, map[string]string{"reg_code": emp.RegCode})
	tb.click(t, "main form button[type=submit]", "提交关联申请", true)
	var links struct{ Links []struct{ ID int64 } }
	op.Get("/api/v1/employer/links?status=pending").JSON(&links)
	var newest int64 // this person's request is the latest
	for _, l := range links.Links {
		newest = max(newest, l.ID)
	}
	if newest == 0 {
		t.Fatalf("the employer has no pending link (screenshot %s)", tb.screenshot(t, "link"))
	}
	if r := op.PostJSON("/api/v1/employer/links/"+strconv.FormatInt(newest, 10)+"/confirm", nil); r.Status != 200 {
		t.Fatalf("confirm link: %d %s", r.Status, r.Body)
	}
	tb.load(t, w.a.Internet+"/me")
	tb.click(t, "main form button[type=submit]", "开始填报", true)
	tb.checkHere(t, "application-opened")

	// The required sections, each saved with its own button.
	tb.load(t, w.a.Internet+"/me/application/eligibility")
	tb.phone(t)
	tb.fill(t, map[string]string{"residence_permit": "true", "criminal_record": "false", "cadre": "false"})
	tb.click(t, "main form button.button[type=submit]", "保存", true)
	tb.checkHere(t, "eligibility-saved")
	tb.load(t, w.a.Internet+"/me/application/insurance")
	tb.checkHere(t, "insurance")
	tb.phone(t)
	// The status panel is folded to one line above the section's form.
	if h := eval[float64](t, tb, `(() => { const d = document.querySelector("main details.status-line");
	  return d ? d.getBoundingClientRect().height : -1; })()`); h < 0 || h > 48 {
		t.Errorf("the status panel above a section is %.0f px tall on a phone, want one line (screenshot %s)", h, tb.screenshot(t, "status"))
	}
	tb.fill(t, map[string]string{"social_insurance[0].from": "2012-07", "social_insurance[0].to": "2025-12"})
	tb.click(t, "main form button.button[type=submit]", "保存", true)
	tb.checkHere(t, "insurance-saved")

	tb.load(t, w.a.Internet+"/me/application/submit")
	tb.checkHere(t, "submit")
	tb.phone(t)
	tb.fill(t, map[string]string{"truthful": "true"})
	tb.click(t, "main form button[type=submit]", "提交单位", true)
	// A confirmation step, when the page asks for one.
	if !strings.Contains(tb.text(t), "已提交单位") {
		if ok := eval[bool](t, tb, `!![...document.querySelectorAll("main form[method=post] button[type=submit]")].find((e) => e.textContent.includes("确认"))`); ok {
			tb.click(t, "main form[method=post] button[type=submit]", "确认", true)
		}
	}
	tb.expect(t, "已提交单位")
	tb.checkHere(t, "submitted")
	// The person's sessions name this browser and system, not the raw
	// User-Agent string.
	tb.load(t, w.a.Internet+"/account")
	tb.expect(t, "Chrome 浏览器")
	tb.checkHere(t, "account")
}
