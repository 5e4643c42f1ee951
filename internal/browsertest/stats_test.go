package browsertest

import (
	"context"
	"os"
	"testing"

	"jifen/internal/account"
	"jifen/internal/app/apptest"
)

// TestStatsPage opens the public site's access statistics (访问指标统计)
// from the office's navigation, with some traffic counted: the charts and
// tables pass the page checks at both widths.
func TestStatsPage(t *testing.T) {
	if os.Getenv("JIFEN_TEST_POSTGRES") != "" && os.Getenv("JIFEN_BROWSER_POSTGRES") == "" {
		t.Skip("browser suite runs on SQLite only")
	}
	b := newBrowser(t)
	a := apptest.Start(t)
	pub := a.Client(a.Internet)
	pub.Get("/")
	pub.Get("/no/such/page")
	if err := a.AccessStats.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	a.CreateUser("city-s", account.CityOfficer)
	c := a.Client(a.Office)
	a.LoginStaff(c, "city-s", apptest.Password)
	tb := b.tab(t, "市级经办人员（访问统计）")
	tb.login(t, c)
	tb.load(t, a.Office+"/office/")
	tb.click(t, "nav a", "访问统计", true)
	tb.checkHere(t, "stats")
	tb.expect(t, "公示系统访问统计", "访问最多的页面", "未匹配任何页面的地址")
}
