package browsertest

import (
	"context"
	"testing"
	"time"

	"jifen/internal/casetest"
	"jifen/internal/synth"
)

// precheckJourney: on a phone, an applicant with a draft ticks the consent
// and asks the agencies; the page watches the pre-check (live.js) and shows
// the result by itself; the education the agency holds differs, and one
// click takes it into the draft.
func precheckJourney(t *testing.T, b *browser, w *world) {
	ctx := context.Background()
	a := w.a
	var login string
	var appID int64
	if err := a.DB.QueryRow(ctx, `SELECT u.login, x.id FROM applications x JOIN persons p ON p.id = x.person_id
		JOIN users u ON u.id = p.user_id WHERE x.status = 'draft' ORDER BY x.id LIMIT 1`).Scan(&login, &appID); err != nil {
		t.Fatalf("a draft: %v", err)
	}
	held, err := casetest.HoldOtherEducation(ctx, a.DB, a.Keys, appID)
	if err != nil {
		t.Fatal(err)
	}
	c := a.Client(a.Internet)
	if r := c.LoginAPI(login, synth.Password); r.Status != 200 {
		t.Fatalf("login: %d", r.Status)
	}
	tb := b.tab(t, "申请人（预核验）")
	tb.login(t, c)
	tb.phone(t)
	tb.load(t, a.Internet+"/me/application/submit")
	tb.expect(t, "部门记录预核验", "查询授权")
	tb.checkHere(t, "precheck-consent")
	tb.phone(t)
	tb.fill(t, map[string]string{"consent": "yes"})
	tb.click(t, "main form button[type=submit]", "查询部门记录", true)
	tb.expect(t, "正在向各部门查询")
	a.WorkJobs(30*time.Second, func() bool {
		var n int
		_ = a.DB.QueryRow(ctx, `SELECT COUNT(*) FROM prechecks WHERE status = 'done'`).Scan(&n)
		return n > 0
	})
	// The page reloads itself once the pre-check is done.
	deadline := time.Now().Add(15 * time.Second)
	// (While it reloads there may be no <main> for a moment.)
	shown := func() bool {
		return eval[bool](t, tb, `((m) => !!m && m.innerText.includes("最近一次预核验"))(document.querySelector("main"))`)
	}
	for !shown() {
		if time.Now().After(deadline) {
			t.Fatalf("the page did not show the result by itself (screenshot %s)\n%s", tb.screenshot(t, "precheck-wait"), clip(tb.text(t)))
		}
		time.Sleep(200 * time.Millisecond)
	}
	tb.expect(t, "不一致", "部门记录："+held.Label, "如采用部门记录，预计积分为")
	tb.checkHere(t, "precheck-result")
	tb.phone(t)
	tb.click(t, "main form button[type=submit]", "采用部门记录", true)
	tb.expect(t, "已采用部门记录", "已与部门记录一致")
}
