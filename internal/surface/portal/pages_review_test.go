package portal_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"jifen/internal/app/apptest"
)

// reviewThroughThePages takes a filed application through 复查: the
// cross-check (a later issue) is stood in for by setting the first-round
// result in the database; the clock moves into the review window.
func reviewThroughThePages(t *testing.T, a *apptest.App, app, emp *apptest.Client, login string, id string) {
	t.Helper()
	if _, err := a.DB.Exec(context.Background(), `UPDATE applications SET status = 'first_result' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	expect(t, "first result, window not open", app.Get("/me/review"), 200, "复查及现场审核尚未开始")
	expect(t, "too early to ask", app.PostForm("/me/review", url.Values{"indicators": {"housing"}, "reason": {"房产证漏算"}}),
		409, "复查及现场审核尚未开始")

	a.Clock.Advance(135 * 24 * time.Hour) // sessions have expired by then
	loginPage(t, app, login)
	loginPage(t, emp, "op1")
	expect(t, "review offered", app.Get("/me"), 200, `href="/me/review"`, "初核结果已出")
	expect(t, "review form", app.Get("/me/review"), 200, `name="indicators" value="housing"`, "合法稳定住所")
	r := app.PostForm("/me/review", url.Values{"reason": {"房产证漏算"}})
	expect(t, "no indicator", r, 400, `id="e-indicators"`, "房产证漏算")
	// Done once: the first POST asks and changes nothing.
	expect(t, "review unconfirmed", app.PostForm("/me/review", url.Values{"indicators": {"housing", "employment"},
		"reason": {"房产证漏算"}}), 200, "确认申请复查？", "合法稳定住所", "不能撤回", `name="confirmed" value="yes"`)
	expect(t, "not asked yet", app.Get("/me/review"), 200, `name="indicators" value="housing"`)
	expectRedirect(t, "ask for review", app.PostForm("/me/review", url.Values{"indicators": {"housing", "employment"},
		"reason": {"房产证漏算"}, "confirmed": {"yes"}}), "/me")
	expect(t, "review asked", app.Get("/me/review"), 200, "合法稳定住所、合法稳定就业", "等待单位补充证明材料")

	path := "/employer/applications/" + id
	expect(t, "employer sees the request", emp.Get(path), 200, "房产证漏算", "转交区服务窗口")
	expect(t, "forward without note", emp.PostForm(path+"/forward-review", nil), 400, `id="e-note"`)
	expectRedirect(t, "forward", emp.PostForm(path+"/forward-review", url.Values{"note": {"已提交房产证复印件"}}), path)
	expect(t, "forwarded", app.Get("/me/review"), 200, "单位已转交区服务窗口", "已提交房产证复印件")
}
