package app_test

import (
	"context"
	"fmt"
	"net/smtp"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/actor"
	"jifen/internal/app/apptest"
	"jifen/internal/config"
	"jifen/internal/mailing"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/mail/smtptest"
)

// campaignWorld is the app with a real SMTP server and two mail operators.
type campaignWorld struct {
	a        *apptest.App
	srv      *smtptest.Server
	op1, op2 *apptest.Client
	by       actor.Actor
}

func newCampaignWorld(t testing.TB, opts ...apptest.Option) *campaignWorld {
	t.Helper()
	srv, err := smtptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	opts = append([]apptest.Option{func(c *config.Config) {
		c.SMTP.Host, c.SMTP.TLS, c.SMTP.From = "127.0.0.1", "none", "noreply@jifen.test"
		fmt.Sscan(srv.Port(), &c.SMTP.Port)
		c.MailApprovalOver = 50
		// The tests move the fake clock ten minutes a poll to bring
		// deferred messages due; under the race detector on two cores the
		// polls are many and a day's lease was passed (a live batch claimed
		// again and sent twice), so the lease here is a year: a live
		// sender's batch stays its own (the crash test in internal/cli uses
		// a short one).
		c.MailClaimLease = 365 * 24 * time.Hour
	}}, opts...)
	a := apptest.Start(t, opts...)
	u1 := a.CreateUser("mail-one", account.MailOperator)
	a.CreateUser("mail-two", account.MailOperator)
	// The operators' addresses, for the alerts and the daily summary.
	for _, l := range []string{"mail-one", "mail-two"} {
		if _, err := a.DB.Exec(context.Background(), `UPDATE users SET email = $1 WHERE login = $2`, l+"@ops.test", l); err != nil {
			t.Fatal(err)
		}
	}
	w := &campaignWorld{a: a, srv: srv, op1: a.Client(a.Office), op2: a.Client(a.Office), by: u1.ActorAt("local", "")}
	a.LoginStaff(w.op1, "mail-one", apptest.Password)
	a.LoginStaff(w.op2, "mail-two", apptest.Password)
	return w
}

// relogin logs the operators in again after the clock moved on.
func (w *campaignWorld) relogin() {
	w.a.LoginStaff(w.op1, "mail-one", apptest.Password)
	w.a.LoginStaff(w.op2, "mail-two", apptest.Password)
}

// list imports a static list of addresses.
func (w *campaignWorld) list(t testing.TB, name string, addrs []string) int64 {
	t.Helper()
	var b strings.Builder
	b.WriteString("email,name\n")
	for i, a := range addrs {
		fmt.Fprintf(&b, "%s,收件人%d\n", a, i)
	}
	if _, err := w.a.Mailing.ImportCSV(context.Background(), w.by, name, strings.NewReader(b.String())); err != nil {
		t.Fatal(err)
	}
	l, err := w.a.Mailing.ByName(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return l.ID
}

func (w *campaignWorld) template(t *testing.T, name string, mandatory bool) int64 {
	t.Helper()
	tp, err := w.a.Mailing.SaveTemplate(context.Background(), w.by, mailing.Template{Name: name, Subject: "{{.Name}}，积分落户通知",
		HTML: "<p>{{.Name}}，您好：</p><p>请留意本年度积分落户申报。</p>{{if .UnsubscribeURL}}<p><a href=\"{{.UnsubscribeURL}}\">退订</a></p>{{end}}",
		Text: "{{.Name}}，您好：请留意本年度积分落户申报。{{.UnsubscribeURL}}", Mandatory: mandatory})
	if err != nil {
		t.Fatal(err)
	}
	return tp.ID
}

func (w *campaignWorld) campaign(t *testing.T, id int64) *mailing.Campaign {
	t.Helper()
	c, err := w.a.Campaigns.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCampaignLifecycle: a campaign over a list with a suppressed address,
// a rejecting mailbox and a provider that defers first, approved by a
// second operator (the first may not approve their own), sent over the real
// SMTP server: every accepted recipient exactly once, the suppressed one
// never, the rejected one failed with its code in the send log; the
// figures, chart and exports; a hard bounce suppresses its address and
// counts; the bounce-rate alert; the office refuses bad input by field.
func TestCampaignLifecycle(t *testing.T) {
	w := newCampaignWorld(t)
	a, ctx := w.a, context.Background()
	var addrs []string
	for i := range 110 {
		addrs = append(addrs, fmt.Sprintf("u%03d@example.com", i))
	}
	addrs = append(addrs, "reject@example.com", "gone@example.com")
	for i := range 10 {
		addrs = append(addrs, fmt.Sprintf("q%02d@qq.com", i))
	}
	listID := w.list(t, "全体测试", addrs)
	if err := a.Mailing.Suppress(ctx, w.by, "gone@example.com", "manual", "已注销"); err != nil {
		t.Fatal(err)
	}
	tplID := w.template(t, "通知", false)
	var mu sync.Mutex
	deferred := map[string]bool{}
	w.srv.Decide(func(rcpt string) smtptest.Behaviour {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case rcpt == "reject@example.com":
			return smtptest.Reject
		case strings.HasSuffix(rcpt, "@qq.com") && !deferred[rcpt]:
			deferred[rcpt] = true
			return smtptest.Defer
		}
		return smtptest.Accept
	})

	// Bad input is refused by field.
	if r := w.op1.PostForm("/office/mail/campaigns", url.Values{"name": {""}, "list": {"x"}, "rate": {"-1"}}); r.Status != 400 ||
		!strings.Contains(r.Body, "收件人列表须是正整数") {
		t.Fatalf("bad campaign form: %d", r.Status)
	}
	var created mailing.Campaign
	r := w.op1.PostJSON("/api/v1/office/mail/campaigns", map[string]any{"name": "测试群发", "list": listID, "template": tplID, "rate": 500})
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	r.JSON(&created)
	// Over the approval threshold (50): the starter may not approve it.
	path := fmt.Sprintf("/api/v1/office/mail/campaigns/%d", created.ID)
	if r := w.op1.PostJSON(path+"/start", map[string]any{"version": created.Version}); r.Status != 200 || !strings.Contains(r.Body, `"approval"`) {
		t.Fatalf("start: %d %s", r.Status, r.Body)
	}
	c := w.campaign(t, created.ID)
	if r := w.op1.PostJSON(path+"/approve", map[string]any{"version": c.Version}); r.Status != 403 {
		t.Fatalf("self-approval: %d %s", r.Status, r.Body)
	}
	if r := w.op2.PostJSON(path+"/approve", map[string]any{"version": c.Version}); r.Status != 200 {
		t.Fatalf("approve: %d %s", r.Status, r.Body)
	}
	a.WorkJobs(60*time.Second, func() bool {
		c := w.campaign(t, created.ID)
		if c.Status == mailing.Running || c.Status == mailing.Queuing {
			a.Clock.Advance(10 * time.Minute) // the deferred messages come due
		}
		return c.Status == mailing.Finished
	})
	w.relogin()
	all, distinct := w.srv.ByRecipient()
	for _, to := range addrs {
		want := 1
		if to == "reject@example.com" || to == "gone@example.com" {
			want = 0
		}
		if all[to] != want || distinct[to] != want {
			t.Errorf("%s received %d (%d distinct), want %d", to, all[to], distinct[to], want)
		}
	}
	var rep struct {
		Stats mailing.Stats `json:"stats"`
	}
	if r := w.op1.Get(path); r.Status != 200 {
		t.Fatalf("campaign API: %d %s", r.Status, r.Body)
	} else {
		r.JSON(&rep)
	}
	st := rep.Stats
	if st.Recipients != len(addrs)-1 || st.Suppressed != 1 || st.Sent != len(addrs)-2 || st.Failed != 1 || st.Deferred != 10 {
		t.Fatalf("stats: %+v", st)
	}
	// One message per recipient in the outbox, the rejected one failed with 550.
	if n := countOf(t, a, `SELECT count(*) FROM mail_outbox WHERE campaign_id = $1`, created.ID); n != len(addrs)-1 {
		t.Fatalf("outbox rows: %d", n)
	}
	if r := w.op1.Get(fmt.Sprintf("/office/mail/log?campaign=%d&code=550", created.ID)); r.Status != 200 ||
		!strings.Contains(r.Body, "reject@example.com") || strings.Contains(r.Body, "u001@example.com") {
		t.Fatalf("send log by code: %d", r.Status)
	}
	if r := w.op1.Get("/office/mail/log?code=abc"); r.Status != 400 {
		t.Fatalf("send log bad code: %d", r.Status)
	}
	// Headers: List-Unsubscribe with RFC 8058, a VERP-less return path, the
	// campaign's Message-ID.
	var m smtptest.Message
	for _, x := range w.srv.Messages() {
		if len(x.To) == 1 && x.To[0] == "u000@example.com" {
			m = x
		}
	}
	if !strings.HasPrefix(m.Header.Get("List-Unsubscribe"), "<http") || m.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" ||
		!strings.Contains(m.MessageID, fmt.Sprintf("campaign.%d.", created.ID)) {
		t.Fatalf("campaign headers: %v", m.Header)
	}
	page := w.op1.Get(fmt.Sprintf("/office/mail/campaigns/%d", created.ID))
	if page.Status != 200 || !strings.Contains(page.Body, "送达率") || !strings.Contains(page.Body, "<svg") || !strings.Contains(page.Body, "550") {
		t.Fatalf("campaign page: %d", page.Status)
	}
	for _, ext := range []string{"csv", "xlsx"} {
		if r := w.op1.Get(fmt.Sprintf("/office/mail/campaigns/%d/stats.%s", created.ID, ext)); r.Status != 200 || len(r.Body) < 20 {
			t.Fatalf("export %s: %d", ext, r.Status)
		}
	}
	// Hard bounces: the address suppressed, counted; past 5% the alert.
	var ids []int64
	rows, err := a.DB.Query(ctx, `SELECT id FROM mail_outbox WHERE campaign_id = $1 AND status = 'sent' ORDER BY id LIMIT 7`, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		_ = rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	for _, id := range ids {
		if err := a.Campaigns.Bounce(ctx, id, "hard", false, "550 5.1.1 user unknown"); err != nil {
			t.Fatal(err)
		}
	}
	var bounced string
	if err := a.DB.QueryRow(ctx, `SELECT to_addr FROM mail_outbox WHERE id = $1`, ids[0]).Scan(&bounced); err != nil {
		t.Fatal(err)
	}
	sup, err := a.Mailing.Suppressed(ctx, []string{bounced})
	if err != nil || sup[bounced] == "" {
		t.Fatalf("a hard bounce did not suppress: %v %v", sup, err)
	}
	c = w.campaign(t, created.ID)
	if !c.BounceAlert {
		t.Fatal("no bounce alert at 7 of 120")
	}
	if n := countOf(t, a, `SELECT count(*) FROM mail_outbox WHERE category = 'mail.operations' AND subject LIKE '%退信率%'`); n != 2 {
		t.Fatalf("alert mails to the two operators: %d", n)
	}
	sum := w.op1.Get("/office/mail/summary")
	if sum.Status != 200 || !strings.Contains(sum.Body, "测试群发") {
		t.Fatalf("daily summary: %d", sum.Status)
	}
}

// TestCampaignPausesAfterErrors: a server that defers everything pauses
// the campaign after its threshold of consecutive errors; an operator
// resumes it once the server is back, and it finishes.
func TestCampaignPausesAfterErrors(t *testing.T) {
	w := newCampaignWorld(t)
	a := w.a
	var addrs []string
	for i := range 30 {
		addrs = append(addrs, fmt.Sprintf("p%02d@example.org", i))
	}
	listID := w.list(t, "暂停测试", addrs)
	tplID := w.template(t, "必要通知", true)
	w.srv.Decide(func(string) smtptest.Behaviour { return smtptest.Defer })
	var c mailing.Campaign
	w.op1.PostJSON("/api/v1/office/mail/campaigns", map[string]any{"name": "暂停", "list": listID, "template": tplID, "pause_after": 5}).JSON(&c)
	path := fmt.Sprintf("/api/v1/office/mail/campaigns/%d", c.ID)
	if r := w.op1.PostJSON(path+"/start", map[string]any{"version": c.Version}); r.Status != 200 {
		t.Fatalf("start: %d %s", r.Status, r.Body)
	}
	a.WorkJobs(30*time.Second, func() bool { return w.campaign(t, c.ID).Status == mailing.Paused })
	w.relogin()
	cur := w.campaign(t, c.ID)
	if !strings.Contains(cur.PausedReason, "连续") || w.srv.Count() != 0 {
		t.Fatalf("paused: %+v, %d sent", cur, w.srv.Count())
	}
	w.srv.Decide(nil)
	if r := w.op2.PostJSON(path+"/resume", map[string]any{"version": cur.Version}); r.Status != 200 {
		t.Fatalf("resume: %d %s", r.Status, r.Body)
	}
	a.WorkJobs(60*time.Second, func() bool {
		a.Clock.Advance(10 * time.Minute)
		return w.campaign(t, c.ID).Status == mailing.Finished
	})
	_, distinct := w.srv.ByRecipient()
	for _, to := range addrs {
		if distinct[to] != 1 {
			t.Errorf("%s: %d", to, distinct[to])
		}
	}
	// A mandatory notice carries no unsubscribe link.
	for _, m := range w.srv.Messages() {
		if len(m.To) == 1 && strings.HasSuffix(m.To[0], "@example.org") && m.Header.Get("List-Unsubscribe") != "" {
			t.Error("a mandatory notice has a List-Unsubscribe header")
		}
	}
}

// TestCampaignOverTwoServers: with a second SMTP server (JIFEN_SMTP_MORE)
// and the first one down, every message goes through the second.
func TestCampaignOverTwoServers(t *testing.T) {
	second, err := smtptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = second.Close() }()
	w := newCampaignWorld(t, func(c *config.Config) { c.SMTP.More = []string{second.Addr} })
	_ = w.srv.Close() // the first server is down
	var addrs []string
	for i := range 20 {
		addrs = append(addrs, fmt.Sprintf("s%02d@example.net", i))
	}
	listID := w.list(t, "双服务器", addrs)
	tplID := w.template(t, "双服务器", false)
	c, err := w.a.Campaigns.Create(context.Background(), w.by, mailing.Input{Name: "双服务器", ListID: listID, TemplateID: tplID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.a.Campaigns.Start(context.Background(), w.by, c.ID, c.Version, true); err != nil {
		t.Fatal(err)
	}
	w.a.WorkJobs(60*time.Second, func() bool { return w.campaign(t, c.ID).Status == mailing.Finished })
	_, distinct := second.ByRecipient()
	for _, to := range addrs {
		if distinct[to] != 1 {
			t.Errorf("%s: %d on the second server", to, distinct[to])
		}
	}
}

// TestBounceThroughTheListener: a campaign's message carries a signed VERP
// return path; a DSN for it delivered to the bounce listener over SMTP
// suppresses the address and counts a hard bounce; a forged VERP address
// is refused. The daily summary is mailed to the operators.
func TestBounceThroughTheListener(t *testing.T) {
	w := newCampaignWorld(t, func(c *config.Config) { c.BounceAddr, c.BounceDomain = "127.0.0.1:0", "bounce.jifen.test" })
	a, ctx := w.a, context.Background()
	listID := w.list(t, "退信", []string{"nobody@example.com", "somebody@example.com"})
	tplID := w.template(t, "退信", false)
	c, err := a.Campaigns.Create(ctx, w.by, mailing.Input{Name: "退信", ListID: listID, TemplateID: tplID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Campaigns.Start(ctx, w.by, c.ID, c.Version, true); err != nil {
		t.Fatal(err)
	}
	a.WorkJobs(30*time.Second, func() bool { return w.campaign(t, c.ID).Status == mailing.Finished })
	var returnPath string
	for _, m := range w.srv.Messages() {
		if len(m.To) == 1 && m.To[0] == "nobody@example.com" {
			returnPath = m.From
		}
	}
	if !strings.HasPrefix(returnPath, "bounce+") || !strings.HasSuffix(returnPath, "@bounce.jifen.test") {
		t.Fatalf("return path %q", returnPath)
	}
	dsn := "From: MAILER-DAEMON@mx.example.com\r\nTo: " + returnPath + "\r\nSubject: Undelivered Mail Returned to Sender\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n" +
		"--B\r\nContent-Type: text/plain\r\n\r\nThe mail system: <nobody@example.com>: user unknown\r\n\r\n" +
		"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n\r\n" +
		"Final-Recipient: rfc822; nobody@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n" +
		"Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown\r\n\r\n--B--\r\n"
	if err := smtp.SendMail(a.BounceAddr(), nil, "", []string{returnPath}, []byte(dsn)); err != nil {
		t.Fatalf("deliver the DSN: %v", err)
	}
	if err := smtp.SendMail(a.BounceAddr(), nil, "", []string{"bounce+1-000000000000@bounce.jifen.test"}, []byte(dsn)); err == nil {
		t.Fatal("a forged VERP address was accepted")
	}
	sup, err := a.Mailing.Suppressed(ctx, []string{"nobody@example.com", "somebody@example.com"})
	if err != nil || sup["nobody@example.com"] == "" || sup["somebody@example.com"] != "" {
		t.Fatalf("suppressed after the DSN: %v %v", sup, err)
	}
	st, err := a.Campaigns.Stats(ctx, w.campaign(t, c.ID))
	if err != nil || st.BouncedHard != 1 {
		t.Fatalf("stats after the DSN: %+v %v", st, err)
	}
	// The daily summary of the day the campaign ran, mailed once.
	day := a.Clock.Now().In(clock.Beijing).Format("2006-01-02")
	a.Clock.Advance(24 * time.Hour)
	for range 2 {
		if err := a.RunSchedule(ctx, "mail_daily_summary"); err != nil {
			t.Fatal(err)
		}
	}
	if n := countOf(t, a, `SELECT count(*) FROM mail_outbox WHERE subject = $1`, "【群发日报】"+day); n != 2 {
		t.Fatalf("daily summary mails to the two operators: %d", n)
	}
}

// TestCampaignScheduledAndCancelled: a campaign scheduled for tomorrow
// waits; the minute schedule starts it when its time comes; another one
// cancelled while paused gives up its queued messages and sends nothing
// more.
func TestCampaignScheduledAndCancelled(t *testing.T) {
	w := newCampaignWorld(t)
	a, ctx := w.a, context.Background()
	listID := w.list(t, "定时", []string{"t1@example.com", "t2@example.com", "t3@example.com"})
	tplID := w.template(t, "定时", false)
	at := a.Clock.Now().Add(24 * time.Hour)
	c, err := a.Campaigns.Create(ctx, w.by, mailing.Input{Name: "定时", ListID: listID, TemplateID: tplID, ScheduledAt: at})
	if err != nil {
		t.Fatal(err)
	}
	if c, err = a.Campaigns.Start(ctx, w.by, c.ID, c.Version, true); err != nil || c.Status != mailing.Scheduled {
		t.Fatalf("start a scheduled campaign: %+v %v", c, err)
	}
	if err := a.RunSchedule(ctx, "mail_campaigns"); err != nil {
		t.Fatal(err)
	}
	if w.campaign(t, c.ID).Status != mailing.Scheduled {
		t.Fatal("a campaign started before its time")
	}
	a.Clock.Set(at.Add(time.Minute))
	if err := a.RunSchedule(ctx, "mail_campaigns"); err != nil {
		t.Fatal(err)
	}
	a.WorkJobs(30*time.Second, func() bool { return w.campaign(t, c.ID).Status == mailing.Finished })
	all, _ := w.srv.ByRecipient()
	for _, to := range []string{"t1@example.com", "t2@example.com", "t3@example.com"} {
		if all[to] != 1 {
			t.Fatalf("scheduled campaign: %s received %d", to, all[to])
		}
	}

	// Cancelled while paused: its queued messages are given up.
	w.srv.Decide(func(string) smtptest.Behaviour { return smtptest.Defer })
	c2, err := a.Campaigns.Create(ctx, w.by, mailing.Input{Name: "取消", ListID: listID, TemplateID: tplID, PauseAfter: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Campaigns.Start(ctx, w.by, c2.ID, c2.Version, true); err != nil {
		t.Fatal(err)
	}
	a.WorkJobs(30*time.Second, func() bool { return w.campaign(t, c2.ID).Status == mailing.Paused })
	cur := w.campaign(t, c2.ID)
	if _, err := a.Campaigns.Cancel(ctx, w.by, c2.ID, cur.Version, ""); err == nil {
		t.Fatal("a cancel without a reason")
	}
	if _, err := a.Campaigns.Cancel(ctx, w.by, c2.ID, cur.Version, "通知内容有误"); err != nil {
		t.Fatal(err)
	}
	counts, err := a.Outbox.CampaignCounts(ctx, c2.ID)
	if err != nil || counts["queued"] != 0 || counts["failed"] != 3 || w.campaign(t, c2.ID).Status != mailing.Cancelled {
		t.Fatalf("after the cancel: %v %v", counts, err)
	}
	if _, err := a.Campaigns.Resume(ctx, w.by, c2.ID, w.campaign(t, c2.ID).Version); err == nil {
		t.Fatal("a cancelled campaign resumed")
	}
}
