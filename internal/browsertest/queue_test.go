package browsertest

import (
	"context"
	"os"
	"testing"

	"jifen/internal/account"
	"jifen/internal/app/apptest"
)

// TestQueueAtPhoneWidth opens the office's work queue (案件工作台) on a
// phone: the rows stack as cards with their labels, overdue cases carry
// their badge, nothing overflows at either width, and a case is claimed
// from the page.
func TestQueueAtPhoneWidth(t *testing.T) {
	if os.Getenv("JIFEN_TEST_POSTGRES") != "" && os.Getenv("JIFEN_BROWSER_POSTGRES") == "" {
		t.Skip("browser suite runs on SQLite only")
	}
	b := newBrowser(t)
	a := apptest.Start(t)
	ctx := context.Background()
	rd, err := a.EnsureRound(ctx, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	// A small population; synth gives the cases in the queue deadlines
	// from 3 days ago to 11 days ahead.
	if _, err := a.Synth(ctx, rd, 150, 10, 11, 0, nil); err != nil {
		t.Fatal(err)
	}
	var overdue int
	if err := a.DB.QueryRow(ctx, `SELECT count(*) FROM applications WHERE step_due_at > 0 AND step_due_at < $1`,
		a.Clock.Now().UnixMicro()).Scan(&overdue); err != nil || overdue == 0 {
		t.Fatalf("the population has no overdue case (%d, %v)", overdue, err)
	}
	a.CreateUserIn("", "city-q", account.CityOfficer)
	c := a.Client(a.Office)
	a.LoginStaff(c, "city-q", apptest.Password)

	tb := b.tab(t, "市级经办人员（案件工作台）")
	tb.login(t, c)
	tb.phone(t)
	tb.load(t, a.Office+"/office/")
	tb.click(t, "nav a", "案件工作台", true)
	tb.checkHere(t, "queue")
	tb.phone(t)
	tb.expect(t, "案件工作台", "办理截止", "已逾期")
	// At phone width the table is a stack of cards: the header is hidden
	// and every cell shows its label.
	stacked := eval[bool](t, tb, `(() => {
	  const td = document.querySelector("#queue tbody td[data-label='办理截止']");
	  return !!td && getComputedStyle(td).display === "grid" && getComputedStyle(td, "::before").content.includes("办理截止");
	})()`)
	if !stacked {
		t.Fatalf("the queue does not stack at phone width (screenshot %s)", tb.screenshot(t, "stack"))
	}
	// The overdue badge is visible on an overdue case.
	if !eval[bool](t, tb, `[...document.querySelectorAll("#queue tr.overdue .badge-err")].some((e) => e.checkVisibility())`) {
		t.Fatalf("no visible overdue badge (screenshot %s)", tb.screenshot(t, "overdue"))
	}
	tb.click(t, "#queue button[type=submit]", "认领", true)
	tb.expect(t, "已保存", "测试city-q")
	tb.checkHere(t, "queue-claimed")

	// The overdue tab.
	tb.click(t, "main .tabs a", "已逾期", true)
	tb.expect(t, "已逾期")
	tb.checkHere(t, "queue-overdue")
}
