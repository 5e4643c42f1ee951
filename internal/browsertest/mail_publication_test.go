package browsertest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/app/apptest"
	"jifen/internal/config"
	"jifen/internal/mailing"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/mail/smtptest"
	"jifen/internal/round"
	"jifen/internal/synth"
)

// TestMassMailPages opens a sent campaign's pages — the list, the campaign
// with its figures and chart, the send log and the daily summary — at both
// widths.
func TestMassMailPages(t *testing.T) {
	if os.Getenv("JIFEN_TEST_POSTGRES") != "" && os.Getenv("JIFEN_BROWSER_POSTGRES") == "" {
		t.Skip("browser suite runs on SQLite only")
	}
	srv, err := smtptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Close() }()
	b := newBrowser(t)
	a := apptest.Start(t, func(c *config.Config) {
		c.SMTP.Host, c.SMTP.TLS, c.SMTP.From = "127.0.0.1", "none", "noreply@jifen.test"
		c.SMTP.Port, _ = strconv.Atoi(srv.Port())
	})
	ctx := context.Background()
	u := a.CreateUser("mail-b", account.MailOperator)
	by := u.ActorAt("local", "")
	var csv strings.Builder
	csv.WriteString("email,name\n")
	for i := range 30 {
		fmt.Fprintf(&csv, "b%02d@example.com,收件人%d\n", i, i)
	}
	if _, err := a.Mailing.ImportCSV(ctx, by, "浏览器测试", strings.NewReader(csv.String())); err != nil {
		t.Fatal(err)
	}
	l, _ := a.Mailing.ByName(ctx, "浏览器测试")
	tpl, err := a.Mailing.SaveTemplate(ctx, by, mailing.Template{Name: "通知", Subject: "{{.Name}}，通知", HTML: "<p>{{.Name}}，您好</p>",
		Text: "{{.Name}}，您好"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := a.Campaigns.Create(ctx, by, mailing.Input{Name: "浏览器测试活动", ListID: l.ID, TemplateID: tpl.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Campaigns.Start(ctx, by, c.ID, c.Version, true); err != nil {
		t.Fatal(err)
	}
	a.WorkJobs(30*time.Second, func() bool {
		cur, _ := a.Campaigns.Get(ctx, c.ID)
		return cur.Status == mailing.Finished
	})
	cl := a.Client(a.Office)
	a.LoginStaff(cl, "mail-b", apptest.Password)
	tb := b.tab(t, "邮件群发操作员")
	tb.login(t, cl)
	tb.load(t, a.Office+"/office/")
	tb.click(t, "nav a", "群发活动", true)
	tb.expect(t, "群发活动", "浏览器测试活动", "新建群发活动")
	tb.checkHere(t, "mail-campaigns")
	tb.load(t, fmt.Sprintf("%s/office/mail/campaigns/%d", a.Office, c.ID))
	tb.expect(t, "发送统计", "送达率", "发送速率")
	tb.checkHere(t, "mail-campaign")
	tb.load(t, fmt.Sprintf("%s/office/mail/log?campaign=%d", a.Office, c.ID))
	tb.expect(t, "群发日志", "b00@example.com")
	tb.checkHere(t, "mail-log")
	tb.load(t, a.Office+"/office/mail/summary")
	tb.expect(t, "群发日报", "浏览器测试活动")
	tb.checkHere(t, "mail-summary")
}

// TestPublishedListPages opens a list this system published, during its
// notice period: the list with its banner, chart and versions, the
// objection form and the receipt check, at both widths.
func TestPublishedListPages(t *testing.T) {
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
	if _, err := a.SynthWith(ctx, rd, synth.Config{People: 120, Employers: 12, Seed: 3, ReadyToRank: true}); err != nil {
		t.Fatal(err)
	}
	win, _ := rd.Window(round.Review)
	a.Clock.Set(win.ClosesAt.Add(time.Hour))
	a.CreateUser("city-p", account.CityOfficer)
	c := a.Client(a.Office)
	a.LoginStaff(c, "city-p", apptest.Password)
	api := "/api/v1/office/rounds/" + strconv.FormatInt(rd.ID, 10)
	for _, step := range []string{"/freeze", "/ranking-draft", "/ranking-commit"} {
		body := map[string]any{}
		if step == "/ranking-draft" {
			body["quota"] = 20
		}
		if r := c.PostJSON(api+step, body); r.Status != 200 {
			t.Fatalf("%s: %d %s", step, r.Status, r.Body)
		}
	}
	today := a.Clock.Now().In(clock.Beijing)
	if r := c.PostForm("/office/rounds/"+strconv.FormatInt(rd.ID, 10)+"/ranking/publish", url.Values{
		"notice_start": {today.Format("2006-01-02")}, "notice_end": {today.AddDate(0, 0, 6).Format("2006-01-02")},
		"confirmed": {"yes"}}); r.Status != 303 {
		t.Fatalf("publish: %d %s", r.Status, r.Body)
	}
	tb := b.tab(t, "访客（公示名单）")
	tb.load(t, a.Internet+"/publicity")
	tb.expect(t, "积分落户公示", "本系统公示")
	tb.checkHere(t, "publicity-index")
	tb.load(t, a.Internet+"/publicity/2026")
	tb.expect(t, "2026年度积分落户公示名单", "公示期", "提出异议或举报", "积分分布", "Merkle")
	tb.checkHere(t, "publicity-published")
	tb.load(t, a.Internet+"/publicity/objection?year=2026&number=202600001")
	tb.checkHere(t, "objection-form")
	tb.load(t, a.Internet+"/publicity/verify")
	tb.expect(t, "核验公示回执")
	tb.checkHere(t, "verify")
}
