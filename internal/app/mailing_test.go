package app_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/url"
	"strings"
	"testing"

	"jifen/internal/account"
	"jifen/internal/actor"
	"jifen/internal/app/apptest"
	"jifen/internal/mailing"
)

// TestUnsubscribeOverHTTP follows a campaign's unsubscribe link: the page
// asks to confirm and changes nothing; the button suppresses the address;
// the RFC 8058 one-click POST (from the mail provider: no cookie, no
// Origin, the token in the URL) does the same; a tampered token is a 404.
func TestUnsubscribeOverHTTP(t *testing.T) {
	a := apptest.Start(t)
	ctx := context.Background()
	c := a.Client(a.Internet)
	tok := mailing.UnsubscribeToken(a.UnsubscribeKey(), 7, "Li.Si@example.cn")

	r := c.Get("/mail/unsubscribe?t=" + url.QueryEscape(tok))
	if r.Status != 200 || !strings.Contains(r.Body, "确认退订") || !strings.Contains(r.Body, "li***@example.cn") ||
		!strings.Contains(r.Body, "强制通知") {
		t.Fatalf("page: %d %s", r.Status, r.Body)
	}
	if got, _ := a.Mailing.Suppressed(ctx, []string{"li.si@example.cn"}); len(got) != 0 {
		t.Fatal("the page alone unsubscribed")
	}
	r = c.PostForm("/mail/unsubscribe", url.Values{"t": {tok}})
	if r.Status != 200 || !strings.Contains(r.Body, "已退订") {
		t.Fatalf("confirm: %d %s", r.Status, r.Body)
	}
	if got, _ := a.Mailing.Suppressed(ctx, []string{"li.si@example.cn"}); got["li.si@example.cn"] == "" {
		t.Fatalf("not suppressed: %v", got)
	}
	rows, err := a.Mailing.Suppressions(ctx, mailOperator(), mailing.SuppressionFilter{Query: "li.si"})
	if err != nil || len(rows) != 1 || rows[0].Source != mailing.SourceUnsubscribe {
		t.Fatalf("suppression %+v, %v", rows, err)
	}

	one := mailing.UnsubscribeToken(a.UnsubscribeKey(), 7, "wang@example.cn")
	r = c.Do("POST", "/mail/unsubscribe?t="+url.QueryEscape(one), strings.NewReader("List-Unsubscribe=One-Click"),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if r.Status != 200 {
		t.Fatalf("one-click: %d %s", r.Status, r.Body)
	}
	if got, _ := a.Mailing.Suppressed(ctx, []string{"wang@example.cn"}); got["wang@example.cn"] == "" {
		t.Fatal("one-click did not suppress")
	}

	bad := tok[:len(tok)-2] + "AA"
	if r := c.Get("/mail/unsubscribe?t=" + url.QueryEscape(bad)); r.Status != 404 || !strings.Contains(r.Body, "退订链接无效") {
		t.Fatalf("tampered page: %d", r.Status)
	}
	if r := c.PostForm("/mail/unsubscribe", url.Values{"t": {bad}}); r.Status != 404 {
		t.Fatalf("tampered post: %d", r.Status)
	}
}

func mailOperator() actor.Actor {
	return actor.Actor{Login: "test-mail", Roles: []actor.Role{actor.MailOperator}}
}

// TestMailOfficePages uploads a GBK list as a mail operator and sees the
// report; saves a template with an error shown beside its field.
func TestMailOfficePages(t *testing.T) {
	a := apptest.Start(t)
	a.CreateUser("staff-mail", account.MailOperator)
	c := a.Client(a.Office)
	a.LoginStaff(c, "staff-mail", apptest.Password)

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("list", "测试名单")
	fw, _ := mw.CreateFormFile("file", "名单.csv")
	_, _ = fw.Write([]byte("email,name\na@example.cn,甲\nbad,乙\nA@example.cn,丙\n"))
	_ = mw.Close()
	r := c.Do("POST", "/office/mail/lists/import", &body, map[string]string{"Content-Type": mw.FormDataContentType(),
		"Origin": a.Office, "Sec-Fetch-Site": "same-origin"})
	if r.Status != 200 || !strings.Contains(r.Body, "新增 <strong>1</strong> 个地址") || !strings.Contains(r.Body, "邮箱地址格式不正确") {
		t.Fatalf("import: %d %s", r.Status, r.Body)
	}

	r = c.PostForm("/office/mail/templates", url.Values{"name": {"提醒"}, "subject": {"{{.Name}}"}, "text": {"{{.IDNumber}}"}})
	if r.Status != 400 || !strings.Contains(r.Body, "个人敏感信息") {
		t.Fatalf("template with a personal variable: %d %s", r.Status, r.Body)
	}
	r = c.PostForm("/office/mail/templates", url.Values{"name": {"提醒"}, "subject": {"{{.Name}}，您好"}, "text": {"正文"},
		"action": {"preview"}})
	if r.Status != 200 || !strings.Contains(r.Body, "张三，您好") {
		t.Fatalf("preview: %d %s", r.Status, r.Body)
	}
	r = c.PostForm("/office/mail/templates", url.Values{"name": {"提醒"}, "subject": {"{{.Name}}，您好"}, "text": {"正文"}})
	if r.Status != 303 {
		t.Fatalf("save: %d %s", r.Status, r.Body)
	}
}
