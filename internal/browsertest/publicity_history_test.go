package browsertest

import (
	"context"
	"os"
	"strconv"
	"testing"

	"jifen/internal/actor"
	"jifen/internal/app/apptest"
)

// TestPublicityHistoryAtPhoneWidth opens the past official lists on a
// phone: the trend page with its chart, a year's list whose rows stack as
// cards with their labels, and a row's ten indicator values opened.
func TestPublicityHistoryAtPhoneWidth(t *testing.T) {
	if os.Getenv("JIFEN_TEST_POSTGRES") != "" && os.Getenv("JIFEN_BROWSER_POSTGRES") == "" {
		t.Skip("browser suite runs on SQLite only")
	}
	b := newBrowser(t)
	a := apptest.Start(t)
	for _, y := range []string{"2020", "2021", "2022"} {
		data, err := os.ReadFile("../ranking/testdata/beijing-" + y + ".csv")
		if err != nil {
			t.Fatal(err)
		}
		year, _ := strconv.Atoi(y)
		if _, err := a.PastLists.Import(context.Background(), actor.Actor{Login: "cli:test"}, year, 6000, data); err != nil {
			t.Fatal(err)
		}
	}
	tb := b.tab(t, "访客（历年公示）")
	tb.phone(t)
	tb.load(t, a.Internet+"/")
	tb.click(t, "nav a", "历年公示", true)
	tb.expect(t, "历年积分落户公示", "105.42", "6,006")
	tb.checkHere(t, "publicity-history")
	tb.click(t, "main a", "查看2022年度名单", true)
	tb.expect(t, "2022年度积分落户公示名单", "202200001", "未公布")
	tb.phone(t)
	stacked := eval[bool](t, tb, `(() => {
	  const td = document.querySelector("main tbody td[data-label='积分']");
	  return !!td && getComputedStyle(td).display === "grid" && getComputedStyle(td, "::before").content.includes("积分");
	})()`)
	if !stacked {
		t.Fatalf("the list does not stack at phone width (screenshot %s)", tb.screenshot(t, "stack"))
	}
	tb.checkHere(t, "publicity-year")
	tb.click(t, "main details summary", "202200001", false)
	tb.expect(t, "合法稳定就业", "70.50")
	tb.checkHere(t, "publicity-row")
}
