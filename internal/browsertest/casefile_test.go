package browsertest

import (
	"context"
	"os"
	"strconv"
	"testing"

	"jifen/internal/synth"
)

// TestBrowserCaseView: on a phone, a district officer opens a checked case
// of 海淀区 (declared beside verified, score both ways, timeline, related
// cases), reveals the identity with a reason and adds a note; the
// applicant then sees on their phone that 海淀区人力社保局 opened the file,
// and why. Every page is held to the suite's checks at 390 and 1366 px.
func TestBrowserCaseView(t *testing.T) {
	if os.Getenv("JIFEN_TEST_POSTGRES") != "" && os.Getenv("JIFEN_BROWSER_POSTGRES") == "" {
		t.Skip("browser suite runs on SQLite only")
	}
	b := newBrowser(t)
	w := newWorld(t)
	ctx := context.Background()
	var appID int64
	var login string
	if err := w.a.DB.QueryRow(ctx, `SELECT x.id, u.login FROM applications x JOIN employers e ON e.id = x.employer_id
		JOIN persons p ON p.id = x.person_id JOIN users u ON u.id = p.user_id
		WHERE e.district = '海淀区' AND x.score_run <> 0 ORDER BY x.id LIMIT 1`).Scan(&appID, &login); err != nil {
		t.Fatalf("a checked application of 海淀区: %v", err)
	}
	path := "/office/cases/" + strconv.FormatInt(appID, 10)

	tb := b.tab(t, "区级经办人员（案件视图）")
	tb.login(t, w.clients["hd01"])
	tb.phone(t)
	tb.load(t, w.a.Office+path+"?purpose=first_check")
	tb.expect(t, "本次查阅目的：初核", "申报信息与部门核查", "积分：申报与核查", "办理记录", "经办备注", "关联案件")
	tb.checkHere(t, "case")
	tb.phone(t)
	tb.click(t, "main form button[type=submit]", "显示完整身份证号和手机号", true)
	tb.expect(t, "请填写查看完整身份信息的理由")
	tb.checkHere(t, "case-reveal-refused")
	tb.phone(t)
	tb.fill(t, map[string]string{"reason": "现场核对身份证原件"})
	tb.click(t, "main form button[type=submit]", "显示完整身份证号和手机号", true)
	tb.expect(t, "仅本次显示，已记入审计日志")
	tb.checkHere(t, "case-revealed")
	tb.phone(t)
	tb.fill(t, map[string]string{"body": "已电话联系申请人，约定现场审核时间"})
	tb.click(t, "main form button[type=submit]", "保存备注", true)
	tb.expect(t, "已电话联系申请人，约定现场审核时间")
	tb.checkHere(t, "case-note")

	if err := w.a.Audit.FlushReads(ctx); err != nil {
		t.Fatal(err)
	}
	c := w.a.Client(w.a.Internet)
	if r := c.LoginAPI(login, synth.Password); r.Status != 200 {
		t.Fatalf("login %s: %d", login, r.Status)
	}
	at := b.tab(t, "申请人（查阅记录）")
	at.login(t, c)
	at.phone(t)
	at.load(t, w.a.Internet+"/me")
	at.click(t, "main a", "查看哪些部门查阅过我的申请", true)
	at.expect(t, "查阅记录", "海淀区人力社保局", "区人力社保局经办人员", "初核", "核实身份")
	at.checkHere(t, "views")
}
