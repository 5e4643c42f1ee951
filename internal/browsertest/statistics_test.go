package browsertest

import (
	"context"
	"os"
	"testing"

	"jifen/internal/account"
	"jifen/internal/app/apptest"
	"jifen/internal/synth"
)

// TestStatisticsPages opens 申报统计 from the office's navigation over a
// small synthetic round: the default query (district × status) with its
// chart, cross table and cell table; a histogram of the total's bands; a
// drill-down from a count; the saved queries and the download area — each
// passing the page checks at phone and desk widths.
func TestStatisticsPages(t *testing.T) {
	if os.Getenv("JIFEN_TEST_POSTGRES") != "" && os.Getenv("JIFEN_BROWSER_POSTGRES") == "" {
		t.Skip("browser suite runs on SQLite only")
	}
	b := newBrowser(t)
	a := apptest.Start(t)
	ctx := context.Background()
	rd, err := a.EnsureRound(ctx, 2026, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.SynthWith(ctx, rd, synth.Config{People: 200, Employers: 20, Seed: 3, ReadyToRank: true}); err != nil {
		t.Fatal(err)
	}
	a.CreateUser("city-q", account.CityOfficer)
	c := a.Client(a.Office)
	a.LoginStaff(c, "city-q", apptest.Password)
	tb := b.tab(t, "市级经办人员（申报统计）")
	tb.login(t, c)
	tb.load(t, a.Office+"/office/")
	tb.click(t, "nav a", "申报统计", true)
	tb.checkHere(t, "statistics")
	tb.expect(t, "申报统计", "交叉表", "统计表", "数据截至", "导出 Excel", "保存此查询")
	if n := eval[int](t, tb, `document.querySelectorAll("figure svg[role=img] title").length`); n == 0 {
		t.Errorf("no chart with a title on the page")
	}

	tb.load(t, a.Office+"/office/statistics?dims=band:total&measures=count&chart=histogram&f.round=2026")
	tb.checkHere(t, "statistics-histogram")
	tb.expect(t, "总积分分段")

	tb.load(t, a.Office+"/office/statistics?dims=sex&measures=count,mean:total,p90:total")
	tb.click(t, "table.table-stack tbody a", "", true)
	tb.checkHere(t, "statistics-cases")
	tb.expect(t, "统计明细", "记入审计日志")

	tb.load(t, a.Office+"/office/reports/saved")
	tb.checkHere(t, "reports-saved")
	tb.load(t, a.Office+"/office/reports/files")
	tb.checkHere(t, "reports-files")
}
